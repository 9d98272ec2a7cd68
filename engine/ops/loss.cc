// Loss functions.
#include "absl/strings/str_cat.h"
#include "engine/ops.h"
#include "engine/ops/op_util.h"
#include "engine/ops/registry.h"
#include "engine/status_macros.h"

namespace tensord {
namespace {

using TensorList = std::vector<Tensor>;
using ListOr = absl::StatusOr<TensorList>;
using MetaOr = absl::StatusOr<std::vector<TensorMeta>>;

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

}  // namespace

void RegisterLossOps(std::vector<OpDef>& t) {
  OpDef d;
  d.name = "mse_loss";
  d.grad_fn = "MseLossBackward0";
  d.doc = "mean squared error between input and target";
  d.infer = InferMse;
  d.forward = MseForward;
  d.backward = MseBackward;
  d.save_inputs = 3;
  d.schema = "mse_loss(Tensor self, Tensor target, int reduction=1) -> Tensor";
  t.push_back(d);

  OpDef bce;
  bce.name = "binary_cross_entropy_with_logits";
  bce.grad_fn = "BinaryCrossEntropyWithLogitsBackward0";
  bce.doc = "binary cross entropy of sigmoid(input) against target, computed stably";
  bce.infer = InferBceLogits;
  bce.forward = BceLogitsForward;
  bce.backward = BceLogitsBackward;
  bce.save_inputs = 3;
  bce.schema =
      "binary_cross_entropy_with_logits(Tensor self, Tensor target, Tensor? weight=None, Tensor? "
      "pos_weight=None, int reduction=1) -> Tensor";
  t.push_back(bce);
}

}  // namespace tensord
