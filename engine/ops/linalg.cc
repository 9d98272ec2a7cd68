// Linear algebra: mm, bmm, mv, dot (through OpenBLAS), addmm, and the composites matmul, outer
// and linear (as in PyTorch 1.13, their results carry the node of the op they end in).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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

absl::Status CheckMatmulDTypes(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype()) {
    return absl::InvalidArgumentError(absl::StrCat("expected scalar type ",
                                                   ScalarTypeName(a.dtype()), " but found ",
                                                   ScalarTypeName(b.dtype())));
  }
  if (a.dtype() == DType::kBool) {
    return absl::InvalidArgumentError("\"addmm_impl_cpu_\" not implemented for 'Bool'");
  }
  return absl::OkStatus();
}

// A 2-D view of `t` with the given layout.
Tensor View2D(const Tensor& t, int64_t rows, int64_t cols, int64_t rs, int64_t cs, int64_t offset) {
  return MakeView(t, {rows, cols}, {rs, cs}, offset);
}

MetaOr InferMm(const OpArgs& a) {
  const Tensor &x = a.inputs[0], &y = a.inputs[1];
  if (x.dim() != 2) return absl::InvalidArgumentError("self must be a matrix");
  if (y.dim() != 2) return absl::InvalidArgumentError("mat2 must be a matrix");
  if (x.size(1) != y.size(0)) {
    return absl::InvalidArgumentError(absl::StrCat("mat1 and mat2 shapes cannot be multiplied (",
                                                   x.size(0), "x", x.size(1), " and ", y.size(0),
                                                   "x", y.size(1), ")"));
  }
  TD_RETURN_IF_ERROR(CheckMatmulDTypes(x, y));
  return std::vector<TensorMeta>{{{x.size(0), y.size(1)}, x.dtype()}};
}

ListOr MmForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(m[0]));
  kernels::MatMul2D(out, a.inputs[0], a.inputs[1]);
  return TensorList{out};
}

ListOr MmBackward(const BackwardArgs& b) {
  TensorList g(2);
  if (b.needs_input_grad[0]) {
    TD_ASSIGN_OR_RETURN(Tensor bt, ops::t(b.inputs[1]));
    TD_ASSIGN_OR_RETURN(g[0], ops::mm(b.grads[0], bt));
  }
  if (b.needs_input_grad[1]) {
    TD_ASSIGN_OR_RETURN(Tensor at, ops::t(b.inputs[0]));
    TD_ASSIGN_OR_RETURN(g[1], ops::mm(at, b.grads[0]));
  }
  return g;
}

MetaOr InferBmm(const OpArgs& a) {
  const Tensor &x = a.inputs[0], &y = a.inputs[1];
  if (x.dim() != 3) return absl::InvalidArgumentError("batch1 must be a 3D tensor");
  if (y.dim() != 3) return absl::InvalidArgumentError("batch2 must be a 3D tensor");
  if (y.size(0) != x.size(0) || y.size(1) != x.size(2)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Expected size for first two dimensions of batch2 tensor to be: [", x.size(0),
                     ", ", x.size(2), "] but got: [", y.size(0), ", ", y.size(1), "]."));
  }
  TD_RETURN_IF_ERROR(CheckMatmulDTypes(x, y));
  return std::vector<TensorMeta>{{{x.size(0), x.size(1), y.size(2)}, x.dtype()}};
}

ListOr BmmForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  const Tensor &x = a.inputs[0], &y = a.inputs[1];
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(m[0]));
  // Nothing to write: [2^62, 0, k] @ [2^62, k, n] must not loop over 2^62 empty batches.
  if (out.numel() == 0) return TensorList{out};
  const int64_t rows = x.size(1), inner = x.size(2), cols = y.size(2);
  for (int64_t i = 0; i < x.size(0); ++i) {
    kernels::MatMul2D(View2D(out, rows, cols, cols, 1, i * rows * cols),
                      View2D(x, rows, inner, x.strides()[1], x.strides()[2],
                             ViewOffset(x.storage_offset(), i, x.strides()[0])),
                      View2D(y, inner, cols, y.strides()[1], y.strides()[2],
                             ViewOffset(y.storage_offset(), i, y.strides()[0])));
  }
  return TensorList{out};
}

ListOr BmmBackward(const BackwardArgs& b) {
  TensorList g(2);
  if (b.needs_input_grad[0]) {
    TD_ASSIGN_OR_RETURN(Tensor bt, ops::transpose(b.inputs[1], 1, 2));
    TD_ASSIGN_OR_RETURN(g[0], ops::bmm(b.grads[0], bt));
  }
  if (b.needs_input_grad[1]) {
    TD_ASSIGN_OR_RETURN(Tensor at, ops::transpose(b.inputs[0], 1, 2));
    TD_ASSIGN_OR_RETURN(g[1], ops::bmm(at, b.grads[0]));
  }
  return g;
}

MetaOr InferMv(const OpArgs& a) {
  const Tensor &x = a.inputs[0], &v = a.inputs[1];
  if (x.dim() != 2 || v.dim() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("vector + matrix @ vector expected, got 1, ", x.dim(), ", ", v.dim()));
  }
  if (x.size(1) != v.size(0)) {
    return absl::InvalidArgumentError(absl::StrCat("size mismatch, got ", x.size(0), ", ",
                                                   x.size(0), "x", x.size(1), ",", v.size(0)));
  }
  TD_RETURN_IF_ERROR(CheckMatmulDTypes(x, v));
  return std::vector<TensorMeta>{{{x.size(0)}, x.dtype()}};
}

ListOr MvForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  const Tensor &x = a.inputs[0], &v = a.inputs[1];
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(m[0]));
  kernels::MatMul2D(View2D(out, x.size(0), 1, 1, 1, 0), x,
                    View2D(v, v.size(0), 1, v.strides()[0], 1, v.storage_offset()));
  return TensorList{out};
}

ListOr MvBackward(const BackwardArgs& b) {
  TensorList g(2);
  if (b.needs_input_grad[0]) {
    TD_ASSIGN_OR_RETURN(Tensor gc, ops::unsqueeze(b.grads[0], 1));
    TD_ASSIGN_OR_RETURN(Tensor vr, ops::unsqueeze(b.inputs[1], 0));
    TD_ASSIGN_OR_RETURN(g[0], ops::mm(gc, vr));
  }
  if (b.needs_input_grad[1]) {
    TD_ASSIGN_OR_RETURN(Tensor at, ops::t(b.inputs[0]));
    TD_ASSIGN_OR_RETURN(g[1], ops::mv(at, b.grads[0]));
  }
  return g;
}

MetaOr InferDot(const OpArgs& a) {
  const Tensor &x = a.inputs[0], &y = a.inputs[1];
  if (x.dim() != 1 || y.dim() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("1D tensors expected, but got ", x.dim(), "D and ", y.dim(), "D tensors"));
  }
  if (x.size(0) != y.size(0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("inconsistent tensor size, expected tensor [", x.size(0), "] and src [",
                     y.size(0), "] to have the same number of elements, but got ", x.size(0),
                     " and ", y.size(0), " elements respectively"));
  }
  if (x.dtype() != y.dtype()) {
    return absl::InvalidArgumentError(
        absl::StrCat("dot : expected both vectors to have same dtype, but found ",
                     ScalarTypeName(x.dtype()), " and ", ScalarTypeName(y.dtype())));
  }
  TD_RETURN_IF_ERROR(CheckMatmulDTypes(x, y));
  return std::vector<TensorMeta>{{{}, x.dtype()}};
}

ListOr DotForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  const Tensor &x = a.inputs[0], &y = a.inputs[1];
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(m[0]));
  kernels::MatMul2D(View2D(out, 1, 1, 1, 1, 0),
                    View2D(x, 1, x.size(0), WrappingMul(x.size(0), x.strides()[0]), x.strides()[0],
                           x.storage_offset()),
                    View2D(y, y.size(0), 1, y.strides()[0], 1, y.storage_offset()));
  return TensorList{out};
}

ListOr DotBackward(const BackwardArgs& b) {
  TensorList g(2);
  if (b.needs_input_grad[0]) {
    TD_ASSIGN_OR_RETURN(g[0], ops::mul(b.grads[0], b.inputs[1]));
  }
  if (b.needs_input_grad[1]) {
    TD_ASSIGN_OR_RETURN(g[1], ops::mul(b.grads[0], b.inputs[0]));
  }
  return g;
}

// matmul's output shape with PyTorch's rules (and error texts).
MetaOr InferMatmul(const OpArgs& a) {
  const Tensor &x = a.inputs[0], &y = a.inputs[1];
  const int64_t dx = x.dim(), dy = y.dim();
  if (dx == 0 || dy == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "both arguments to matmul need to be at least 1D, but they are ", dx, "D and ", dy, "D"));
  }
  TD_RETURN_IF_ERROR(CheckMatmulDTypes(x, y));
  const int64_t k_x = x.shape().back();
  const int64_t k_y = dy == 1 ? y.size(0) : y.size(dy - 2);
  if (k_x != k_y) {
    if (dx == 2 && dy == 1) return InferMv(a);
    if (dx == 1 && dy == 1) return InferDot(a);
    const int64_t rows_x = dx == 1 ? 1 : NumElements(x.shape()) / std::max<int64_t>(k_x, 1);
    const int64_t cols_y = dy == 1 ? 1 : y.shape().back();
    return absl::InvalidArgumentError(absl::StrCat("mat1 and mat2 shapes cannot be multiplied (",
                                                   rows_x, "x", k_x, " and ", k_y, "x", cols_y,
                                                   ")"));
  }
  Shape batch_x(x.shape().begin(), x.shape().end() - std::min<int64_t>(dx, 2));
  Shape batch_y(y.shape().begin(), y.shape().end() - std::min<int64_t>(dy, 2));
  TD_ASSIGN_OR_RETURN(Shape out, op_util::BroadcastShapes(batch_x, batch_y));
  if (dx >= 2) out.push_back(x.size(dx - 2));
  if (dy >= 2) out.push_back(y.shape().back());
  return std::vector<TensorMeta>{{out, x.dtype()}};
}

ListOr MatmulForward(const OpArgs& a, const std::vector<TensorMeta>& metas) {
  const Tensor &x = a.inputs[0], &y = a.inputs[1];
  const int64_t dx = x.dim(), dy = y.dim();
  const Shape& out_shape = metas[0].shape;
  Tensor r;
  if (dx == 1 && dy == 1) {
    TD_ASSIGN_OR_RETURN(r, ops::dot(x, y));
  } else if (dx == 2 && dy == 1) {
    TD_ASSIGN_OR_RETURN(r, ops::mv(x, y));
  } else if (dx == 1 && dy == 2) {
    TD_ASSIGN_OR_RETURN(Tensor x2, ops::unsqueeze(x, 0));
    TD_ASSIGN_OR_RETURN(Tensor p, ops::mm(x2, y));
    TD_ASSIGN_OR_RETURN(const OpDef* squeeze, FindOp("_matmul_squeeze"));
    TD_ASSIGN_OR_RETURN(r, Apply1(*squeeze, {p}, Attrs{{"dim", int64_t{0}}}));
  } else if (dx == 2 && dy == 2) {
    TD_ASSIGN_OR_RETURN(r, ops::mm(x, y));
  } else if (dx >= 3 && dy <= 2) {
    // Fold the batch into rows: one mm (or mv) instead of a batched product.
    TD_ASSIGN_OR_RETURN(Tensor x2, ops::reshape(x, {-1, x.shape().back()}));
    TD_ASSIGN_OR_RETURN(Tensor p, dy == 1 ? ops::mv(x2, y) : ops::mm(x2, y));
    TD_ASSIGN_OR_RETURN(r, ops::unsafe_view(p, out_shape));
  } else {
    // Broadcast the batch dims, flatten them and use bmm.
    Tensor xe = x, ye = y;
    if (dx == 1) {
      TD_ASSIGN_OR_RETURN(xe, ops::unsqueeze(x, 0));
    }
    if (dy == 1) {
      TD_ASSIGN_OR_RETURN(ye, ops::unsqueeze(y, 1));
    }
    const int64_t n = xe.size(xe.dim() - 2), k = xe.size(xe.dim() - 1), m = ye.size(ye.dim() - 1);
    Shape batch_x(xe.shape().begin(), xe.shape().end() - 2);
    Shape batch_y(ye.shape().begin(), ye.shape().end() - 2);
    TD_ASSIGN_OR_RETURN(Shape batch, op_util::BroadcastShapes(batch_x, batch_y));
    const int64_t nb = NumElements(batch);
    Shape sx = batch, sy = batch;
    sx.insert(sx.end(), {n, k});
    sy.insert(sy.end(), {k, m});
    TD_ASSIGN_OR_RETURN(xe, ops::expand(xe, sx));
    TD_ASSIGN_OR_RETURN(ye, ops::expand(ye, sy));
    TD_ASSIGN_OR_RETURN(xe, ops::reshape(xe, {nb, n, k}));
    TD_ASSIGN_OR_RETURN(ye, ops::reshape(ye, {nb, k, m}));
    TD_ASSIGN_OR_RETURN(Tensor p, ops::bmm(xe, ye));
    TD_ASSIGN_OR_RETURN(r, ops::unsafe_view(p, out_shape));
  }
  return TensorList{r};
}

// A matrix product's work: every element of the left operand meets a row of the right one
// (m*k*n for mm, b*m*k*n for bmm, k*n for mv, k for dot).
int64_t ContractionCost(std::span<const Tensor> in) {
  if (in.size() < 2 || !in[0].defined() || !in[1].defined()) return 0;
  const int64_t left = LoopExtent(in[0].shape());
  const int64_t cols = in[1].dim() >= 2 ? std::max<int64_t>(in[1].shape().back(), 1) : 1;
  int64_t work;
  if (__builtin_mul_overflow(left, cols, &work)) return INT64_MAX;
  return work;
}

// A contraction's table entry: both operands saved, each only for the other's gradient; work by
// ContractionCost.
OpDef Contraction(OpDef d) {
  d.save_input_for = {2u, 1u};
  d.cost = ContractionCost;
  return d;
}

// A <= 2-D tensor's t() as metadata only (for shape rules).
absl::StatusOr<Tensor> TransposedView(const Tensor& w) {
  if (w.dim() > 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("t() expects a tensor with <= 2 dimensions, but self is ", w.dim(), "D"));
  }
  Shape s = w.shape(), st = w.strides();
  std::reverse(s.begin(), s.end());
  std::reverse(st.begin(), st.end());
  return MakeView(w, s, st, w.storage_offset());
}

// A scalar attribute as a Scalar (keeps int vs float).
Scalar ScalarAttr(const Attrs& attrs, absl::string_view name) {
  if (attrs.IsIntegral(name)) return Scalar(attrs.Int(name));
  return Scalar(attrs.Double(name));
}

// ---- outer ---------------------------------------------------------------------------------

MetaOr InferOuter(const OpArgs& a) {
  const Tensor &x = a.inputs[0], &y = a.inputs[1];
  if (x.dim() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("outer: Expected 1-D argument self, but got ", x.dim(), "-D"));
  }
  if (y.dim() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("outer: Expected 1-D argument vec2, but got ", y.dim(), "-D"));
  }
  return One({x.size(0), y.size(0)}, op_util::ResultType(a.inputs));
}

// PyTorch 1.13: self.reshape({n, 1}) * vec2.
ListOr OuterForward(const OpArgs& a, const std::vector<TensorMeta>&) {
  const Tensor &x = a.inputs[0], &y = a.inputs[1];
  TD_ASSIGN_OR_RETURN(Tensor col, ops::reshape(x, {x.size(0), 1}));
  TD_ASSIGN_OR_RETURN(Tensor r, ops::mul(col, y));
  return TensorList{r};
}

// ---- addmm ---------------------------------------------------------------------------------

MetaOr InferAddmm(const OpArgs& a) {
  const Tensor &self = a.inputs[0], &m1 = a.inputs[1], &m2 = a.inputs[2];
  if (m1.dim() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("mat1 must be a matrix, got ", m1.dim(), "-D tensor"));
  }
  if (m2.dim() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("mat2 must be a matrix, got ", m2.dim(), "-D tensor"));
  }
  if (self.dtype() != m2.dtype()) {
    return absl::InvalidArgumentError("self and mat2 must have the same dtype");
  }
  if (m1.dtype() != m2.dtype()) {
    return absl::InvalidArgumentError("mat1 and mat2 must have the same dtype");
  }
  if (m1.size(1) != m2.size(0)) {
    return absl::InvalidArgumentError(absl::StrCat("mat1 and mat2 shapes cannot be multiplied (",
                                                   m1.size(0), "x", m1.size(1), " and ", m2.size(0),
                                                   "x", m2.size(1), ")"));
  }
  const Shape out{m1.size(0), m2.size(1)};
  // self broadcasts to the result (expand's errors).
  TD_RETURN_IF_ERROR(InferOf("expand", {self}, Attrs{{"size", out}}).status());
  if (m1.dtype() == DType::kBool) return NotImplementedFor("addmm_impl_cpu_", DType::kBool);
  // alpha and beta become values of the result's dtype (PyTorch's overflow errors).
  for (const char* name : {"alpha", "beta"}) {
    if (!a.attrs.IsIntegral(name)) {
      TD_RETURN_IF_ERROR(CheckConvertible(a.attrs.Double(name), m1.dtype()));
    }
  }
  return One(out, m1.dtype());
}

// beta * self + alpha * (mat1 @ mat2); self is not read when beta is 0.
ListOr AddmmForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  const Tensor &self = a.inputs[0], &m1 = a.inputs[1], &m2 = a.inputs[2];
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(m[0]));
  kernels::MatMul2D(out, m1, m2);
  const double alpha = a.attrs.Double("alpha"), beta = a.attrs.Double("beta");
  DispatchDType(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, int64_t>) {
      // Integer results: alpha and beta as int64 (a float truncated, as PyTorch), wrapping.
      const int64_t ia = a.attrs.Int("alpha"), ib = a.attrs.Int("beta");
      if (ib == 0) {
        kernels::Map<T, T>(out, out, [ia](T p) { return WrappingMul(ia, p); });
      } else {
        kernels::Map2<T, T, T>(out, out, self, [ia, ib](T p, T s) {
          return WrappingAdd(WrappingMul(ia, p), WrappingMul(ib, s));
        });
      }
    } else if constexpr (!std::is_same_v<T, bool>) {
      if (beta == 0) {
        if (alpha != 1) {
          kernels::Map<T, T>(out, out, [alpha](T p) { return static_cast<T>(alpha * p); });
        }
      } else if (alpha == 1 && beta == 1) {
        kernels::Map2<T, T, T>(out, out, self, [](T p, T s) { return static_cast<T>(p + s); });
      } else {
        kernels::Map2<T, T, T>(out, out, self, [alpha, beta](T p, T s) {
          return static_cast<T>(alpha * p + beta * s);
        });
      }
    }
  });
  return TensorList{out};
}

absl::StatusOr<Tensor> MaybeMultiply(const Tensor& t, Scalar s) {
  if (s.value == 1) return t;
  return ops::mul(t, s);
}

ListOr AddmmBackward(const BackwardArgs& b) {
  const Tensor& g = b.grads[0];
  const Scalar alpha = ScalarAttr(b.attrs, "alpha"), beta = ScalarAttr(b.attrs, "beta");
  TensorList out(3);
  if (b.needs_input_grad[0]) {
    TD_ASSIGN_OR_RETURN(Tensor gs, MaybeMultiply(g, beta));
    TD_ASSIGN_OR_RETURN(out[0], ops::sum_to(gs, b.input_meta[0].shape));
  }
  if (b.needs_input_grad[1]) {
    TD_ASSIGN_OR_RETURN(Tensor m2t, ops::t(b.inputs[2]));
    TD_ASSIGN_OR_RETURN(Tensor p, ops::mm(g, m2t));
    TD_ASSIGN_OR_RETURN(out[1], MaybeMultiply(p, alpha));
  }
  if (b.needs_input_grad[2]) {
    TD_ASSIGN_OR_RETURN(Tensor m1t, ops::t(b.inputs[1]));
    TD_ASSIGN_OR_RETURN(Tensor p, ops::mm(m1t, g));
    TD_ASSIGN_OR_RETURN(out[2], MaybeMultiply(p, alpha));
  }
  return out;
}

// ---- linear --------------------------------------------------------------------------------

MetaOr InferLinear(const OpArgs& a) {
  const Tensor &x = a.inputs[0], &w = a.inputs[1];
  TD_ASSIGN_OR_RETURN(Tensor wt, TransposedView(w));
  // `Tensor? bias`: undefined is None.
  const bool has_bias = a.inputs.size() == 3 && a.inputs[2].defined();
  if (has_bias && x.dim() == 2) return InferOf("addmm", {a.inputs[2], x, wt});
  TD_ASSIGN_OR_RETURN(std::vector<TensorMeta> metas, InferOf("matmul", {x, wt}));
  if (has_bias) {
    const Tensor& bias = a.inputs[2];
    if (x.dim() == 3 && x.is_contiguous()) {
      int64_t rows;
      if (!CheckedMul(x.size(0), x.size(1), &rows))
        return absl::InvalidArgumentError(kNumelOverflow);
      const Tensor x2 = MakeView(x, {rows, x.size(2)}, {x.size(2), 1}, x.storage_offset());
      TD_RETURN_IF_ERROR(InferOf("addmm", {bias, x2, wt}).status());
    } else {
      TD_ASSIGN_OR_RETURN(Shape s, op_util::BroadcastShapes(metas[0].shape, bias.shape()));
      if (s != metas[0].shape) {
        return absl::InvalidArgumentError(
            absl::StrCat("output with shape ", ShapeToString(metas[0].shape),
                         " doesn't match the broadcast shape ", ShapeToString(s)));
      }
    }
  }
  return metas;
}

// at::linear in PyTorch 1.13: addmm for 2-D input with bias, addmm on the flattened input then
// view for contiguous 3-D input with bias, else matmul(input, weight.t()) then add_(bias).
ListOr LinearForward(const OpArgs& a, const std::vector<TensorMeta>&) {
  const Tensor &x = a.inputs[0], &w = a.inputs[1];
  const bool has_bias = a.inputs.size() == 3 && a.inputs[2].defined();
  TD_ASSIGN_OR_RETURN(Tensor wt, ops::t(w));
  if (has_bias && x.dim() == 2) {
    TD_ASSIGN_OR_RETURN(Tensor r, op_util::Call("addmm", {a.inputs[2], x, wt}));
    return TensorList{r};
  }
  if (has_bias && x.dim() == 3 && x.is_contiguous()) {
    // The product fits: the shape rule checked it.
    TD_ASSIGN_OR_RETURN(Tensor x2, ops::view(x, {WrappingMul(x.size(0), x.size(1)), x.size(2)}));
    TD_ASSIGN_OR_RETURN(Tensor p, op_util::Call("addmm", {a.inputs[2], x2, wt}));
    TD_ASSIGN_OR_RETURN(Tensor r, ops::view(p, {x.size(0), x.size(1), p.size(1)}));
    return TensorList{r};
  }
  TD_ASSIGN_OR_RETURN(Tensor r, ops::matmul(x, wt));
  if (has_bias) TD_RETURN_IF_ERROR(ops::add_(r, a.inputs[2]));
  return TensorList{r};
}

// Work of addmm(self, mat1, mat2): mat1's elements times mat2's columns, plus self.
int64_t AddmmCost(std::span<const Tensor> in) {
  if (in.size() != 3) return 0;
  int64_t work = 0;
  const int64_t cols =
      in[2].defined() && in[2].dim() >= 1 ? std::max<int64_t>(in[2].shape().back(), 1) : 1;
  if (in[1].defined() && __builtin_mul_overflow(LoopExtent(in[1].shape()), cols, &work))
    return INT64_MAX;
  if (in[0].defined() && __builtin_add_overflow(work, LoopExtent(in[0].shape()), &work))
    return INT64_MAX;
  return work;
}

// Work of linear(input, weight[, bias]): input's elements times weight's rows, plus weight.
int64_t LinearCost(std::span<const Tensor> in) {
  if (in.size() < 2 || !in[0].defined() || !in[1].defined()) return 0;
  const int64_t rows = in[1].dim() >= 1 ? std::max<int64_t>(in[1].shape()[0], 1) : 1;
  int64_t work;
  if (__builtin_mul_overflow(LoopExtent(in[0].shape()), rows, &work)) return INT64_MAX;
  if (__builtin_add_overflow(work, LoopExtent(in[1].shape()), &work)) return INT64_MAX;
  return work;
}

}  // namespace

void RegisterLinalgOps(std::vector<OpDef>& t) {
  t.push_back(Contraction(op_util::Def("mm", "MmBackward0", "matrix product of two 2-D tensors",
                                       OpKind::kKernel, InferMm, MmForward, MmBackward, {}, 2, 3)));
  t.back().schema = "mm(Tensor self, Tensor mat2) -> Tensor";
  t.push_back(
      Contraction(op_util::Def("bmm", "BmmBackward0", "batched matrix product of two 3-D tensors",
                               OpKind::kKernel, InferBmm, BmmForward, BmmBackward, {}, 2, 3)));
  t.back().schema = "bmm(Tensor self, Tensor mat2) -> Tensor";
  t.push_back(Contraction(op_util::Def("mv", "MvBackward0", "matrix-vector product",
                                       OpKind::kKernel, InferMv, MvForward, MvBackward, {}, 2, 3)));
  t.back().schema = "mv(Tensor self, Tensor vec) -> Tensor";
  t.push_back(
      Contraction(op_util::Def("dot", "DotBackward0", "dot product of two 1-D tensors",
                               OpKind::kKernel, InferDot, DotForward, DotBackward, {}, 2, 3)));
  t.back().schema = "dot(Tensor self, Tensor tensor) -> Tensor";
  t.push_back(op_util::Def("matmul", "", "matrix product with PyTorch's 1-D, 2-D and batched rules",
                           OpKind::kComposite, InferMatmul, MatmulForward, nullptr, {}, 2));
  t.back().cost = ContractionCost;
  t.back().schema = "matmul(Tensor self, Tensor other) -> Tensor";
  t.push_back(op_util::Def("outer", "",
                           "outer product of two 1-D tensors (self.reshape(n, 1) * vec2)",
                           OpKind::kComposite, InferOuter, OuterForward, nullptr, {}, 2));
  t.back().schema = "outer(Tensor self, Tensor vec2) -> Tensor";
  t.push_back(op_util::Def("addmm", "AddmmBackward0", "beta * self + alpha * (mat1 @ mat2)",
                           OpKind::kKernel, InferAddmm, AddmmForward, AddmmBackward, {}, 3, 6u));
  t.back().schema =
      "addmm(Tensor self, Tensor mat1, Tensor mat2, *, Scalar beta=1, Scalar alpha=1) -> Tensor";
  t.back().result_like_self = true;
  t.back().save_input_for = {0u, 4u, 2u};  // mat1 for mat2's gradient, mat2 for mat1's
  t.back().cost = AddmmCost;
  t.push_back(op_util::Def("linear", "", "input @ weight.t() + bias (bias may be None)",
                           OpKind::kComposite, InferLinear, LinearForward, nullptr, {}, 3));
  t.back().schema = "linear(Tensor input, Tensor weight, Tensor? bias=None) -> Tensor";
  t.back().cost = LinearCost;
}

}  // namespace tensord
