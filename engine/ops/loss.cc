// Losses: mse_loss, binary_cross_entropy_with_logits, nll_loss (and the internal
// _nll_loss_backward that makes it twice differentiable), cross_entropy (a composite, as in
// PyTorch 1.13: its result carries NllLossBackward0) and binary_cross_entropy.
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "engine/api.h"
#include "engine/checked_math.h"
#include "engine/dispatch.h"
#include "engine/kernels/loop.h"
#include "engine/ops/op_util.h"
#include "engine/ops/registry.h"
#include "engine/status_macros.h"

namespace tensord {
namespace {

using TensorList = std::vector<Tensor>;
using ListOr = absl::StatusOr<TensorList>;
using MetaOr = absl::StatusOr<std::vector<TensorMeta>>;
using op_util::InferOf;
using op_util::NotImplementedFor;
using op_util::One;

absl::Status CheckReduction(const std::string& r) {
  if (r == "mean" || r == "sum" || r == "none") return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(r, " is not a valid value for reduction"));
}

// Applies the reduction to per-element losses.
absl::StatusOr<Tensor> Reduce(const Tensor& loss, const std::string& reduction) {
  if (reduction == "none") return loss;
  return reduction == "sum" ? ops::sum(loss) : ops::mean(loss);
}

MetaOr InferMse(const OpArgs& a) {
  TD_RETURN_IF_ERROR(CheckReduction(op_util::ReductionName(a.attrs)));
  TD_ASSIGN_OR_RETURN(Shape s, op_util::BroadcastShapes(a.inputs[0].shape(), a.inputs[1].shape()));
  const DType dtype = op_util::ResultType(a.inputs);
  if (!IsFloating(dtype)) {
    return absl::InvalidArgumentError("\"mse_cpu\" not implemented for 'Long'");
  }
  if (op_util::ReductionName(a.attrs) != "none") s.clear();
  return std::vector<TensorMeta>{{s, dtype}};
}

// Forward without history: (input - target)^2, reduced.
ListOr MseForward(const OpArgs& a, const std::vector<TensorMeta>&) {
  TD_ASSIGN_OR_RETURN(Tensor d, ops::sub(a.inputs[0], a.inputs[1]));
  TD_ASSIGN_OR_RETURN(Tensor sq, ops::mul(d, d));
  const std::string& r = op_util::ReductionName(a.attrs);
  TD_ASSIGN_OR_RETURN(Tensor out, Reduce(sq, r));
  return TensorList{out};
}

// d/dinput = grad * 2 (input - target) [/ N]; d/dtarget is its negation.
ListOr MseBackward(const BackwardArgs& b) {
  TD_ASSIGN_OR_RETURN(Tensor d, ops::sub(b.inputs[0], b.inputs[1]));
  TD_ASSIGN_OR_RETURN(Tensor g, ops::mul(d, Scalar(2.0)));
  TD_ASSIGN_OR_RETURN(g, ops::mul(g, b.grads[0]));
  if (op_util::ReductionName(b.attrs) == "mean") {
    TD_ASSIGN_OR_RETURN(g, ops::div(g, Scalar(static_cast<double>(d.numel()))));
  }
  TensorList out(2);
  if (b.needs_input_grad[0]) out[0] = g;
  if (b.needs_input_grad[1]) {
    TD_ASSIGN_OR_RETURN(out[1], ops::neg(g));
  }
  return out;
}

MetaOr InferBceLogits(const OpArgs& a) {
  TD_RETURN_IF_ERROR(op_util::RefuseOptionalInputs("binary_cross_entropy_with_logits", a.inputs, 2,
                                                   "weight or pos_weight"));
  TD_RETURN_IF_ERROR(CheckReduction(op_util::ReductionName(a.attrs)));
  if (a.inputs[0].shape() != a.inputs[1].shape()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Target size (", ShapeToString(a.inputs[1].shape()), ") must be the same as input size (",
        ShapeToString(a.inputs[0].shape()), ")"));
  }
  const DType dtype = op_util::ResultType(a.inputs);
  if (!IsFloating(dtype)) {
    return absl::InvalidArgumentError("binary_cross_entropy_with_logits expects floating inputs");
  }
  Shape s = op_util::ReductionName(a.attrs) == "none" ? a.inputs[0].shape() : Shape{};
  return std::vector<TensorMeta>{{s, dtype}};
}

// max(x, 0) - x * y + log(1 + exp(-|x|)): stable for large |x|.
ListOr BceLogitsForward(const OpArgs& a, const std::vector<TensorMeta>&) {
  const Tensor &x = a.inputs[0], &y = a.inputs[1];
  TD_ASSIGN_OR_RETURN(Tensor relu, ops::relu(x));
  TD_ASSIGN_OR_RETURN(Tensor xy, ops::mul(x, y));
  TD_ASSIGN_OR_RETURN(Tensor ax, ops::abs(x));
  TD_ASSIGN_OR_RETURN(Tensor nax, ops::neg(ax));
  TD_ASSIGN_OR_RETURN(Tensor e, ops::exp(nax));
  TD_ASSIGN_OR_RETURN(Tensor e1, ops::add(e, Scalar(1.0)));
  TD_ASSIGN_OR_RETURN(Tensor sp, ops::log(e1));
  TD_ASSIGN_OR_RETURN(Tensor l, ops::sub(relu, xy));
  TD_ASSIGN_OR_RETURN(l, ops::add(l, sp));
  TD_ASSIGN_OR_RETURN(Tensor r, Reduce(l, op_util::ReductionName(a.attrs)));
  return TensorList{r};
}

// d/dx = (sigmoid(x) - y) * grad, d/dy = -x * grad (each / N for 'mean').
ListOr BceLogitsBackward(const BackwardArgs& b) {
  const Tensor &x = b.inputs[0], &y = b.inputs[1];
  Tensor g = b.grads[0];
  if (op_util::ReductionName(b.attrs) == "mean") {
    TD_ASSIGN_OR_RETURN(g, ops::div(g, Scalar(static_cast<double>(x.numel()))));
  }
  TensorList out(2);
  if (b.needs_input_grad[0]) {
    TD_ASSIGN_OR_RETURN(Tensor s, ops::sigmoid(x));
    TD_ASSIGN_OR_RETURN(Tensor d, ops::sub(s, y));
    TD_ASSIGN_OR_RETURN(out[0], ops::mul(d, g));
  }
  if (b.needs_input_grad[1]) {
    TD_ASSIGN_OR_RETURN(Tensor nx, ops::neg(x));
    TD_ASSIGN_OR_RETURN(out[1], ops::mul(nx, g));
  }
  return out;
}

std::string TorchSize(const Shape& s) { return absl::StrCat("torch.Size(", ShapeToString(s), ")"); }

// ---- nll_loss ------------------------------------------------------------------------------

// Shape checks of F.nll_loss (nll_loss_nd, then the 1-D/2-D kernel's), up to the dtypes.
absl::Status CheckNllShapes(const Shape& input, const Shape& target) {
  if (input.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("Expected 1 or more dimensions (got 0)"));
  }
  if (input.size() != 1) {
    // PyTorch reads target.sizes()[0] even for a 0-d target (and finds 0 there).
    const int64_t target_batch = target.empty() ? 0 : target[0];
    if (input[0] != target_batch) {
      return absl::InvalidArgumentError(absl::StrCat("Expected input batch_size (", input[0],
                                                     ") to match target batch_size (", target_batch,
                                                     ")."));
    }
  }
  if (input.size() > 2) {
    return absl::UnimplementedError(
        absl::StrCat("nll_loss: tensord supports 1-D (C) and 2-D (N, C) input, got ", input.size(),
                     "-D (PyTorch runs nll_loss2d for K-dimensional input)"));
  }
  if (target.size() > 1) {
    return absl::InvalidArgumentError(
        "0D or 1D target tensor expected, multi-target not supported");
  }
  const bool no_batch_dim = input.size() == 1 && target.empty();
  if (!no_batch_dim && (target.empty() || input[0] != target[0])) {
    return absl::InvalidArgumentError(
        absl::StrCat("size mismatch (got input: ", ShapeToString(input),
                     ", target: ", ShapeToString(target), ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckNllTargets(const Tensor& target, int64_t n_classes, int64_t ignore_index) {
  if (target.dtype() != DType::kInt64) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected scalar type Long but found ", ScalarTypeName(target.dtype())));
  }
  std::optional<int64_t> bad;
  op_util::ForEachStoredElement<int64_t>(target, [&](int64_t t) {
    if (!bad && t != ignore_index && (t < 0 || t >= n_classes)) bad = t;
  });
  if (bad) return absl::OutOfRangeError(absl::StrCat("Target ", *bad, " is out of bounds."));
  return absl::OkStatus();
}

MetaOr InferNll(const OpArgs& a) {
  const Tensor &x = a.inputs[0], &target = a.inputs[1];
  TD_RETURN_IF_ERROR(op_util::RefuseOptionalInputs("nll_loss", a.inputs, 2, "weight"));
  const std::string& reduction = op_util::ReductionName(a.attrs);
  TD_RETURN_IF_ERROR(CheckReduction(reduction));
  TD_RETURN_IF_ERROR(CheckNllShapes(x.shape(), target.shape()));
  if (!IsFloating(x.dtype())) return NotImplementedFor("nll_loss_out_frame", x.dtype());
  TD_RETURN_IF_ERROR(CheckNllTargets(target, x.shape().back(), a.attrs.Int("ignore_index")));
  Shape s = reduction == "none" && x.dim() == 2 ? Shape{x.size(0)} : Shape{};
  return One(s, x.dtype());
}

// Rows of a 1-D (C) or 2-D (N, C) input: n rows of C classes, with their element strides.
struct NllLayout {
  int64_t rows, row_stride, class_stride, target_stride;
};

NllLayout LayoutOf(const Shape& input, const Shape& input_strides, const Tensor& target) {
  if (input.size() == 1) return {1, 0, input_strides[0], 0};
  return {input[0], input_strides[0], input_strides[1], target.strides()[0]};
}

ListOr NllForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  const Tensor &x = a.inputs[0], &target = a.inputs[1];
  const std::string& reduction = op_util::ReductionName(a.attrs);
  const int64_t ignore = a.attrs.Int("ignore_index");
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(m[0]));
  const NllLayout l = LayoutOf(x.shape(), x.strides(), target);
  const int64_t* tp = target.data_ptr<int64_t>();
  DispatchDType(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_floating_point_v<T>) {
      const T* xp = x.data_ptr<T>();
      double total = 0, weight = 0;
      for (int64_t i = 0; i < l.rows; ++i) {
        PollCancellation();  // rows of an expanded target are not bounded by real elements
        const int64_t t = tp[i * l.target_stride];
        const T v = t == ignore ? T(0) : static_cast<T>(-xp[i * l.row_stride + t * l.class_stride]);
        if (reduction == "none") {
          out.data_ptr<T>()[i] = v;
        } else if (t != ignore) {
          total += static_cast<double>(v);
          weight += 1;
        }
      }
      if (reduction == "sum") *out.data_ptr<T>() = static_cast<T>(total);
      if (reduction == "mean") *out.data_ptr<T>() = static_cast<T>(total / weight);
    }
  });
  return TensorList{out};
}

Attrs NllAttrs(const Attrs& attrs, const Shape& input_size) {
  return Attrs{{"input_size", input_size},
               {"reduction", attrs.Int("reduction")},
               {"ignore_index", attrs.Int("ignore_index")}};
}

ListOr NllBackward(const BackwardArgs& b) {
  TD_ASSIGN_OR_RETURN(Tensor g, op_util::Call("_nll_loss_backward", {b.grads[0], b.inputs[1]},
                                              NllAttrs(b.attrs, b.input_meta[0].shape)));
  return TensorList{g, Tensor()};
}

// _nll_loss_backward(grad_output, target): the gradient of nll_loss with respect to its input
// (-grad at each row's target class, / the number of counted targets for 'mean').
MetaOr InferNllBack(const OpArgs& a) {
  const Tensor &g = a.inputs[0], &target = a.inputs[1];
  const Shape& size = a.attrs.Ints("input_size");
  const std::string& reduction = op_util::ReductionName(a.attrs);
  TD_RETURN_IF_ERROR(CheckReduction(reduction));
  for (const int64_t d : size) {
    if (d < 0) return absl::InvalidArgumentError("_nll_loss_backward(): negative input_size");
  }
  TD_RETURN_IF_ERROR(CheckNllShapes(size, target.shape()));
  if (!IsFloating(g.dtype())) return NotImplementedFor("nll_loss_backward_out_frame", g.dtype());
  TD_RETURN_IF_ERROR(CheckNllTargets(target, size.back(), a.attrs.Int("ignore_index")));
  const Shape expect = reduction == "none" && size.size() == 2 ? Shape{size[0]} : Shape{};
  if (g.shape() != expect) {
    return absl::InvalidArgumentError(absl::StrCat("_nll_loss_backward(): grad_output of shape ",
                                                   ShapeToString(g.shape()), " does not match ",
                                                   ShapeToString(expect)));
  }
  return One(size, g.dtype());
}

ListOr NllBackForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  const Tensor &g = a.inputs[0], &target = a.inputs[1];
  const std::string& reduction = op_util::ReductionName(a.attrs);
  const int64_t ignore = a.attrs.Int("ignore_index");
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Zeros(m[0]));
  // Nothing to write (a zero-size class or batch dim): never walk the other dim, which may be
  // huge (found by UBSan in engine_extremes_test: [2^62, 0] walked 2^62 target rows).
  if (out.numel() == 0) return TensorList{out};
  const NllLayout l = LayoutOf(m[0].shape, out.strides(), target);
  const int64_t* tp = target.data_ptr<int64_t>();
  int64_t counted = 0;
  for (int64_t i = 0; i < l.rows; ++i) {
    PollCancellation();
    counted += tp[i * l.target_stride] != ignore;
  }
  DispatchDType(g.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_floating_point_v<T>) {
      T* op = out.data_ptr<T>();
      const T* gp = g.data_ptr<T>();
      const int64_t gs = reduction == "none" && g.dim() == 1 ? g.strides()[0] : 0;
      for (int64_t i = 0; i < l.rows; ++i) {
        const int64_t t = tp[i * l.target_stride];
        if (t == ignore) continue;
        T v = gp[i * gs];
        if (reduction == "mean") v = static_cast<T>(v / static_cast<T>(counted));
        op[i * l.row_stride + t * l.class_stride] = -v;
      }
    }
  });
  return TensorList{out};
}

ListOr NllBackBackward(const BackwardArgs& b) {
  TD_ASSIGN_OR_RETURN(Tensor g,
                      op_util::Call("nll_loss", {b.grads[0], b.inputs[1]},
                                    Attrs{{"reduction", b.attrs.Int("reduction")},
                                          {"ignore_index", b.attrs.Int("ignore_index")}}));
  return TensorList{g, Tensor()};
}

// ---- cross_entropy -------------------------------------------------------------------------

MetaOr InferCrossEntropy(const OpArgs& a) {
  const Tensor &x = a.inputs[0], &target = a.inputs[1];
  TD_RETURN_IF_ERROR(op_util::RefuseOptionalInputs("cross_entropy", a.inputs, 2, "weight"));
  if (a.attrs.Double("label_smoothing") != 0.0) {
    return absl::UnimplementedError(
        "cross_entropy(): label_smoothing is not supported by tensord (only 0.0)");
  }
  TD_RETURN_IF_ERROR(CheckReduction(op_util::ReductionName(a.attrs)));
  if (x.shape() == target.shape()) {
    if (!IsFloating(target.dtype())) {
      return absl::InvalidArgumentError(
          absl::StrCat("Expected floating point type for target with class probabilities, got ",
                       ScalarTypeName(target.dtype())));
    }
    return absl::UnimplementedError(
        "cross_entropy with class-probability targets (target shaped like input) is not "
        "supported by tensord; pass class indices");
  }
  const int64_t class_dim = x.dim() == 1 ? 0 : 1;
  TD_RETURN_IF_ERROR(op_util::WrapDim(class_dim, x.dim()).status());
  if (!IsFloating(x.dtype())) {
    return NotImplementedFor(
        class_dim == x.dim() - 1 ? "log_softmax_lastdim_kernel_impl" : "log_softmax_kernel_impl",
        x.dtype());
  }
  return InferOf("nll_loss", {x, target},
                 Attrs{{"reduction", a.attrs.Int("reduction")},
                       {"ignore_index", a.attrs.Int("ignore_index")}});
}

// log_softmax along dim: the table's log_softmax when it has one, else the same function from
// elementary ops (x - m - log(sum(exp(x - m))), m the detached max; exact gradients).
absl::StatusOr<Tensor> LogSoftmax(const Tensor& x, int64_t dim) {
  if (absl::StatusOr<const OpDef*> def = FindOp("log_softmax"); def.ok()) {
    return Apply1(**def, {x}, Attrs{{"dim", dim}});
  }
  TD_ASSIGN_OR_RETURN(auto max, ops::max(x, dim, /*keepdim=*/true));
  TD_ASSIGN_OR_RETURN(Tensor shifted, ops::sub(x, max.first.detach()));
  TD_ASSIGN_OR_RETURN(Tensor e, ops::exp(shifted));
  TD_ASSIGN_OR_RETURN(Tensor s, ops::sum(e, {dim}, /*keepdim=*/true));
  TD_ASSIGN_OR_RETURN(Tensor lse, ops::log(s));
  return ops::sub(shifted, lse);
}

// PyTorch 1.13 (class indices, no label smoothing): nll_loss(log_softmax(input, class_dim)).
ListOr CrossEntropyForward(const OpArgs& a, const std::vector<TensorMeta>&) {
  const Tensor &x = a.inputs[0], &target = a.inputs[1];
  TD_ASSIGN_OR_RETURN(Tensor ls, LogSoftmax(x, x.dim() == 1 ? 0 : 1));
  TD_ASSIGN_OR_RETURN(Tensor r,
                      op_util::Call("nll_loss", {ls, target},
                                    Attrs{{"reduction", a.attrs.Int("reduction")},
                                          {"ignore_index", a.attrs.Int("ignore_index")}}));
  return TensorList{r};
}

// ---- binary_cross_entropy ------------------------------------------------------------------

MetaOr InferBce(const OpArgs& a) {
  TD_RETURN_IF_ERROR(op_util::RefuseOptionalInputs("binary_cross_entropy", a.inputs, 2, "weight"));
  const Tensor &x = a.inputs[0], &target = a.inputs[1];
  const std::string& reduction = op_util::ReductionName(a.attrs);
  TD_RETURN_IF_ERROR(CheckReduction(reduction));
  if (x.shape() != target.shape()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Using a target size (", TorchSize(target.shape()),
                     ") that is different to the input size (", TorchSize(x.shape()),
                     ") is deprecated. Please ensure they have the same size."));
  }
  if (x.dtype() != target.dtype()) {
    return absl::InvalidArgumentError(absl::StrCat("Found dtype ", ScalarTypeName(target.dtype()),
                                                   " but expected ", ScalarTypeName(x.dtype())));
  }
  if (!IsFloating(x.dtype())) return NotImplementedFor("binary_cross_entropy", x.dtype());
  bool outside = false;
  DispatchFloating(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    op_util::ForEachStoredElement<T>(x, [&](T v) { outside |= !(v >= 0 && v <= 1); });
  });
  if (outside) {
    return absl::InvalidArgumentError("all elements of input should be between 0 and 1");
  }
  return One(reduction == "none" ? x.shape() : Shape{}, x.dtype());
}

// (target - 1) * max(log(1 - input), -100) - target * max(log(input), -100), reduced.
ListOr BceForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  const Tensor &x = a.inputs[0], &target = a.inputs[1];
  const std::string& reduction = op_util::ReductionName(a.attrs);
  TD_ASSIGN_OR_RETURN(Tensor loss, op_util::Alloc({x.shape(), x.dtype()}));
  DispatchDType(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_floating_point_v<T>) {
      kernels::Map2<T, T, T>(loss, x, target, [](T in, T t) {
        const T log1m = std::max(static_cast<T>(std::log1p(-in)), T(-100));
        const T log_in = std::max(static_cast<T>(std::log(in)), T(-100));
        return static_cast<T>((t - T(1)) * log1m - t * log_in);
      });
    }
  });
  if (reduction == "none") return TensorList{loss};
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(m[0]));
  const std::vector<double> values = loss.ToVector<double>();
  double total = 0;
  for (const double v : values) total += v;
  if (reduction == "mean") total /= static_cast<double>(values.size());
  WriteFromDouble(out.raw_data(), out.dtype(), total);
  return TensorList{out};
}

// input: grad * (input - target) / max((1 - input) * input, 1e-12); target: -grad * logit(input);
// both / numel for 'mean'. Written with table ops, so they are differentiable again.
ListOr BceBackward(const BackwardArgs& b) {
  const Tensor &x = b.inputs[0], &t = b.inputs[1];
  Tensor g = b.grads[0];
  if (op_util::ReductionName(b.attrs) == "mean") {
    TD_ASSIGN_OR_RETURN(g, ops::div(g, Scalar(static_cast<double>(x.numel()))));
  }
  TD_ASSIGN_OR_RETURN(Tensor neg_x, ops::neg(x));
  TD_ASSIGN_OR_RETURN(Tensor one_minus_x, ops::add(neg_x, Scalar(1.0)));
  TensorList out(2);
  if (b.needs_input_grad[0]) {
    TD_ASSIGN_OR_RETURN(Tensor d, ops::sub(x, t));
    TD_ASSIGN_OR_RETURN(Tensor num, ops::mul(g, d));
    TD_ASSIGN_OR_RETURN(Tensor den, ops::mul(one_minus_x, x));
    TD_ASSIGN_OR_RETURN(den, ops::clamp(den, Scalar(1e-12), std::nullopt));
    TD_ASSIGN_OR_RETURN(out[0], ops::div(num, den));
  }
  if (b.needs_input_grad[1]) {
    TD_ASSIGN_OR_RETURN(Tensor ratio, ops::div(x, one_minus_x));
    TD_ASSIGN_OR_RETURN(Tensor logit, ops::log(ratio));
    TD_ASSIGN_OR_RETURN(Tensor neg_logit, ops::neg(logit));
    TD_ASSIGN_OR_RETURN(out[1], ops::mul(neg_logit, g));
  }
  return out;
}

}  // namespace

void RegisterLossOps(std::vector<OpDef>& t) {
  t.push_back(op_util::Def("mse_loss", "MseLossBackward0",
                           "mean squared error between input and target", OpKind::kKernel, InferMse,
                           MseForward, MseBackward, {}, 2, 3));
  t.back().schema = "mse_loss(Tensor self, Tensor target, int reduction=1) -> Tensor";
  t.push_back(
      op_util::Def("binary_cross_entropy_with_logits", "BinaryCrossEntropyWithLogitsBackward0",
                   "binary cross entropy of sigmoid(input) against target, computed stably",
                   OpKind::kKernel, InferBceLogits, BceLogitsForward, BceLogitsBackward, {}, 2, 3));
  t.back().schema =
      "binary_cross_entropy_with_logits(Tensor self, Tensor target, Tensor? weight=None, Tensor? "
      "pos_weight=None, int reduction=1) -> Tensor";
  // _nll_loss_backward's own (internal ops have no schema); nll_loss's comes from its schema.
  const AttrSpec reduction{"reduction", AttrType::kInt, int64_t{1}, false,
                           "0 none, 1 mean, 2 sum (ATen's enum)"};
  const AttrSpec ignore_index{"ignore_index", AttrType::kInt, int64_t{-100}, false,
                              "target value that is skipped (no loss, no gradient)"};
  t.push_back(op_util::Def(
      "nll_loss", "NllLossBackward0",
      "negative log likelihood of log-probabilities input (C or N x C) at class "
      "indices target (int64)",
      OpKind::kKernel, InferNll, NllForward, NllBackward, {}, 2, 3u));  // PyTorch keeps self too
  t.back().schema =
      "nll_loss(Tensor self, Tensor target, Tensor? weight=None, int reduction=1, int "
      "ignore_index=-100) -> Tensor";
  t.back().value_dependent_checks = true;
  t.back().nondiff_inputs = 2u;  // the target
  t.push_back(
      op_util::Def("_nll_loss_backward", "NllLossBackwardBackward0",
                   "gradient of nll_loss with respect to its input, from (grad_output, target)",
                   OpKind::kKernel, InferNllBack, NllBackForward, NllBackBackward,
                   {{"input_size", AttrType::kInts, {}, true, "shape of nll_loss's input"},
                    reduction,
                    ignore_index},
                   2, 2u));
  t.back().value_dependent_checks = true;  // index / target values
  t.back().nondiff_inputs = 2u;            // the target
  t.push_back(
      op_util::Def("cross_entropy", "",
                   "nll_loss(log_softmax(input, class dim), target) for class-index targets",
                   OpKind::kComposite, InferCrossEntropy, CrossEntropyForward, nullptr, {}, 2));
  t.back().schema =
      "cross_entropy_loss(Tensor self, Tensor target, Tensor? weight=None, int reduction=1, int "
      "ignore_index=-100, float label_smoothing=0.) -> Tensor";
  t.back().value_dependent_checks = true;
  t.push_back(
      op_util::Def("binary_cross_entropy", "BinaryCrossEntropyBackward0",
                   "-(target * log(input) + (1 - target) * log(1 - input)), input in [0, 1] (logs "
                   "clamped at -100)",
                   OpKind::kKernel, InferBce, BceForward, BceBackward, {}, 2, 3u));
  t.back().schema =
      "binary_cross_entropy(Tensor self, Tensor target, Tensor? weight=None, int reduction=1) -> "
      "Tensor";
  t.back().value_dependent_checks = true;
}

}  // namespace tensord
