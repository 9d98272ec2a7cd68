// The op table's more reductions and scans: prod, max/min of the whole tensor, argmax/argmin,
// norm, var, std, cumsum, logsumexp, softmax, log_softmax.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/checked_math.h"
#include "engine/dispatch.h"
#include "engine/kernels/loop.h"
#include "engine/ops.h"
#include "engine/ops/op_util.h"
#include "engine/ops/registry.h"
#include "engine/status_macros.h"

namespace tensord {
namespace {

using op_util::Call;

using TensorList = std::vector<Tensor>;
using ListOr = absl::StatusOr<TensorList>;
using MetaOr = absl::StatusOr<std::vector<TensorMeta>>;
using DimMask = std::vector<bool>;

absl::Status NotImplementedFor(absl::string_view kernel, DType t) {
  return absl::InvalidArgumentError(
      absl::StrCat("\"", kernel, "\" not implemented for '", ScalarTypeName(t), "'"));
}

// sum/prod/cumsum: integers and bool accumulate to int64.
DType AccumulateDType(DType t) { return IsFloating(t) ? t : DType::kInt64; }

// ---- dims ----------------------------------------------------------------------------------

// Reduced dims as a mask; an empty list means every dim. PyTorch's duplicate-dim message.
absl::StatusOr<DimMask> DimsMask(int64_t ndim, const std::vector<int64_t>& dims) {
  DimMask mask(static_cast<size_t>(ndim), dims.empty());
  for (int64_t d : dims) {
    TD_ASSIGN_OR_RETURN(int64_t w, op_util::WrapDim(d, ndim));
    if (ndim == 0) continue;
    if (mask[static_cast<size_t>(w)]) {
      return absl::InvalidArgumentError(
          absl::StrCat("dim ", w, " appears multiple times in the list of dims"));
    }
    mask[static_cast<size_t>(w)] = true;
  }
  return mask;
}

// The mask of an optional "dim" attribute of kInts (None: every dim).
absl::StatusOr<DimMask> OptionalDimsMask(const Attrs& attrs, int64_t ndim) {
  if (!attrs.Has("dim")) return DimMask(static_cast<size_t>(ndim), true);
  return DimsMask(ndim, attrs.Ints("dim"));
}

DimMask SingleDimMask(int64_t ndim, int64_t dim) {
  DimMask mask(static_cast<size_t>(ndim), false);
  if (ndim > 0) mask[static_cast<size_t>(dim)] = true;
  return mask;
}

Shape ReducedShape(const Shape& in, const DimMask& mask, bool keepdim) {
  Shape out;
  for (size_t d = 0; d < in.size(); ++d) {
    if (!mask[d]) {
      out.push_back(in[d]);
    } else if (keepdim) {
      out.push_back(1);
    }
  }
  return out;
}

int64_t ReducedCount(const Shape& in, const DimMask& mask) {
  Shape reduced;
  for (size_t d = 0; d < in.size(); ++d)
    if (mask[d]) reduced.push_back(in[d]);
  return NumElements(reduced);  // a part of a tensor's shape: exact
}

std::vector<int64_t> MaskDims(const DimMask& mask) {
  std::vector<int64_t> dims;
  for (size_t d = 0; d < mask.size(); ++d)
    if (mask[d]) dims.push_back(static_cast<int64_t>(d));
  return dims;
}

// `t` (contiguous) seen with rank `in_shape.size()`: size 1 on every reduced dim. Shares storage.
Tensor KeepdimAlias(const Tensor& t, const Shape& in_shape, const DimMask& mask) {
  Shape kd = ReducedShape(in_shape, mask, /*keepdim=*/true);
  return Tensor(std::make_shared<TensorImpl>(t.impl()->storage, kd, ContiguousStrides(kd), 0,
                                             t.dtype(), t.impl()->version));
}

// A reduced gradient (or result) given back its reduced dims as size 1, for broadcasting
// against the input (PyTorch's unsqueeze_multiple).
absl::StatusOr<Tensor> Unreduce(Tensor g, const DimMask& mask, bool keepdim) {
  if (keepdim) return g;
  for (size_t d = 0; d < mask.size(); ++d) {
    if (mask[d]) {
      TD_ASSIGN_OR_RETURN(g, ops::unsqueeze(g, static_cast<int64_t>(d)));
    }
  }
  return g;
}

// ---- kernels -------------------------------------------------------------------------------

// Folds every element x of `in` into acc[k], k the row-major index of x's place in the
// keepdim-reduced output: f(Acc& acc, I x, size_t k).
template <typename Acc, typename I, typename F>
std::vector<Acc> ReduceKeepdim(const Tensor& in, const DimMask& mask, Acc init, F f) {
  const Shape kd = ReducedShape(in.shape(), mask, /*keepdim=*/true);
  std::vector<Acc> acc(static_cast<size_t>(NumElements(kd)), init);
  Shape acc_strides = ContiguousStrides(kd);
  for (size_t d = 0; d < acc_strides.size(); ++d)
    if (mask[d]) acc_strides[d] = 0;
  Acc* base = acc.data();
  kernels::StridedLoop<2>(
      in.shape(), {reinterpret_cast<char*>(base), in.raw_data()}, {acc_strides, in.strides()},
      {static_cast<int64_t>(sizeof(Acc)), static_cast<int64_t>(sizeof(I))},
      [&](char** p, const int64_t* s, int64_t n) {
        for (int64_t i = 0; i < n; ++i) {
          Acc* a = reinterpret_cast<Acc*>(p[0] + i * s[0]);
          f(*a, *reinterpret_cast<const I*>(p[1] + i * s[1]), static_cast<size_t>(a - base));
        }
      });
  return acc;
}

// Writes values (row-major) into the contiguous tensor `out`.
template <typename Acc>
void Store(const Tensor& out, const std::vector<Acc>& values) {
  DispatchDType(out.dtype(), [&](auto tag) {
    using O = typename decltype(tag)::type;
    O* o = out.data_ptr<O>();
    for (size_t i = 0; i < values.size(); ++i) o[i] = static_cast<O>(values[i]);
  });
}

// Calls f(const I* in, int64_t in_step, O* out, int64_t out_step, int64_t len) for every 1-D line
// of `in` along `dim`; `out` has in's rank (in's shape for scans, size 1 on dim for reductions).
// A tensor without elements has no lines: a [0, 2^62] tensor along dim 0 would otherwise give
// 2^62 empty ones.
template <typename I, typename O, typename F>
void ForEachLine(const Tensor& out, const Tensor& in, int64_t dim, F f) {
  if (in.numel() == 0) return;
  Shape shape = in.shape(), in_st = in.strides(), out_st = out.strides();
  if (shape.empty()) {
    shape = {1};
    in_st = {1};
    out_st = {1};
    dim = 0;
  }
  const size_t d = static_cast<size_t>(dim);
  const int64_t len = shape[d], in_step = in_st[d], out_step = out_st[d];
  shape[d] = 1;
  kernels::StridedLoop<2>(shape, {out.raw_data(), in.raw_data()}, {out_st, in_st},
                          {static_cast<int64_t>(sizeof(O)), static_cast<int64_t>(sizeof(I))},
                          [&](char** p, const int64_t* s, int64_t n) {
                            for (int64_t i = 0; i < n; ++i) {
                              f(reinterpret_cast<const I*>(p[1] + i * s[1]), in_step,
                                reinterpret_cast<O*>(p[0] + i * s[0]), out_step, len);
                            }
                          });
}

// Calls f(x) for every element of `t` in row-major order.
template <typename T, typename F>
void ForEachElement(const Tensor& t, F f) {
  kernels::StridedLoop<1>(t.shape(), {t.raw_data()}, {t.strides()},
                          {static_cast<int64_t>(sizeof(T))},
                          [&](char** p, const int64_t* s, int64_t n) {
                            for (int64_t i = 0; i < n; ++i)
                              f(*reinterpret_cast<const T*>(p[0] + i * s[0]));
                          });
}

bool AnyZero(const Tensor& t) {
  bool any = false;
  DispatchDType(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    ForEachElement<T>(t, [&](T v) { any |= v == T(0); });
  });
  return any;
}

template <typename T>
bool IsNan(T v) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::isnan(v);
  } else {
    return false;
  }
}

// int64 products wrap around like PyTorch's (no UB on overflow).
template <typename Acc>
Acc Multiply(Acc a, Acc b) {
  if constexpr (std::is_same_v<Acc, int64_t>) {
    return static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
  } else {
    return a * b;
  }
}

// ---- prod ----------------------------------------------------------------------------------

MetaOr InferProd(const OpArgs& a) {
  return std::vector<TensorMeta>{{{}, AccumulateDType(a.inputs[0].dtype())}};
}

MetaOr InferProdDim(const OpArgs& a) {
  const Tensor& x = a.inputs[0];
  TD_ASSIGN_OR_RETURN(int64_t dim, op_util::WrapDim(a.attrs.Int("dim"), x.dim()));
  return std::vector<TensorMeta>{
      {ReducedShape(x.shape(), SingleDimMask(x.dim(), dim), a.attrs.Bool("keepdim")),
       AccumulateDType(x.dtype())}};
}

ListOr ProdLike(const OpArgs& a, const std::vector<TensorMeta>& metas, const DimMask& mask) {
  const Tensor& x = a.inputs[0];
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(metas[0]));
  DispatchDType(x.dtype(), [&](auto tag) {
    using I = typename decltype(tag)::type;
    using Acc = std::conditional_t<std::is_floating_point_v<I>, double, int64_t>;
    Store(out, ReduceKeepdim<Acc, I>(x, mask, Acc(1), [](Acc& acc, I v, size_t) {
            acc = Multiply<Acc>(acc, static_cast<Acc>(v));
          }));
  });
  return TensorList{out};
}

ListOr ProdForward(const OpArgs& a, const std::vector<TensorMeta>& metas) {
  return ProdLike(a, metas, DimMask(static_cast<size_t>(a.inputs[0].dim()), true));
}

ListOr ProdDimForward(const OpArgs& a, const std::vector<TensorMeta>& metas) {
  const int64_t ndim = a.inputs[0].dim();
  return ProdLike(a, metas, SingleDimMask(ndim, *op_util::WrapDim(a.attrs.Int("dim"), ndim)));
}

// d prod / d x_j = prod_{i != j} x_i. Without zeros that is result / x (PyTorch's formula). With
// zeros, per reduced slice with s zeros, P the product of its non-zero elements and Z the sum of
// its zero elements (0, but carrying their gradient):
//   s == 0: P / x;  s == 1: P at the zero, Z * P / x elsewhere;  s == 2: (Z - x) * P at the zeros,
//   0 elsewhere;  s > 2: 0.
// These values are exact, and so are their derivatives (what double backward needs).
ListOr ProdBackwardImpl(const BackwardArgs& b, bool all) {
  const Tensor& x = b.inputs[0];
  const int64_t ndim = x.dim();
  if (ndim == 0) return TensorList{b.grads[0]};
  const bool keepdim = !all && b.attrs.Bool("keepdim");
  const DimMask mask = all ? DimMask(static_cast<size_t>(ndim), true)
                           : SingleDimMask(ndim, *op_util::WrapDim(b.attrs.Int("dim"), ndim));
  TD_ASSIGN_OR_RETURN(Tensor g, Unreduce(b.grads[0], mask, all || keepdim));
  TD_ASSIGN_OR_RETURN(Tensor y, Unreduce(b.outputs[0], mask, all || keepdim));
  if (!AnyZero(x)) {
    TD_ASSIGN_OR_RETURN(Tensor q, ops::div(y, x));
    TD_ASSIGN_OR_RETURN(Tensor r, ops::mul(g, q));
    return TensorList{r};
  }
  const std::vector<int64_t> dims = MaskDims(mask);
  auto slice_prod = [&](const Tensor& t) -> absl::StatusOr<Tensor> {
    if (all) return Call("prod", {t});
    return Call("prod_dim", {t}, Attrs{{"dim", dims[0]}, {"keepdim", true}});
  };
  auto slice_sum = [&](const Tensor& t) -> absl::StatusOr<Tensor> {
    if (all) return ops::sum(t);
    return ops::sum(t, dims, /*keepdim=*/true);
  };
  TD_ASSIGN_OR_RETURN(Tensor zero, ops::scalar_tensor(Scalar(0.0)));
  TD_ASSIGN_OR_RETURN(Tensor one, ops::scalar_tensor(Scalar(1.0)));
  TD_ASSIGN_OR_RETURN(Tensor m, ops::eq(x, Scalar(0)));
  TD_ASSIGN_OR_RETURN(Tensor x1, ops::where(m, one, x));
  TD_ASSIGN_OR_RETURN(Tensor p, slice_prod(x1));
  TD_ASSIGN_OR_RETURN(Tensor xz, ops::where(m, x, zero));
  TD_ASSIGN_OR_RETURN(Tensor z, slice_sum(xz));
  TD_ASSIGN_OR_RETURN(Tensor s, slice_sum(m));
  TD_ASSIGN_OR_RETURN(Tensor a0, ops::div(p, x1));  // s == 0
  TD_ASSIGN_OR_RETURN(Tensor za, ops::mul(z, a0));
  TD_ASSIGN_OR_RETURN(Tensor a1, ops::where(m, p, za));  // s == 1
  TD_ASSIGN_OR_RETURN(Tensor zx, ops::sub(z, x));
  TD_ASSIGN_OR_RETURN(Tensor zxp, ops::mul(zx, p));
  TD_ASSIGN_OR_RETURN(Tensor a2, ops::where(m, zxp, zero));  // s == 2
  TD_ASSIGN_OR_RETURN(Tensor s0, ops::eq(s, Scalar(0)));
  TD_ASSIGN_OR_RETURN(Tensor s1, ops::eq(s, Scalar(1)));
  TD_ASSIGN_OR_RETURN(Tensor s2, ops::eq(s, Scalar(2)));
  TD_ASSIGN_OR_RETURN(Tensor d, ops::where(s2, a2, zero));
  TD_ASSIGN_OR_RETURN(d, ops::where(s1, a1, d));
  TD_ASSIGN_OR_RETURN(d, ops::where(s0, a0, d));
  TD_ASSIGN_OR_RETURN(Tensor r, ops::mul(g, d));
  return TensorList{r};
}
ListOr ProdBackward(const BackwardArgs& b) { return ProdBackwardImpl(b, true); }
ListOr ProdDimBackward(const BackwardArgs& b) { return ProdBackwardImpl(b, false); }

// ---- max / min of the whole tensor -----------------------------------------------------------

MetaOr InferMaxMinAll(const OpArgs& a, absl::string_view op) {
  if (a.inputs[0].numel() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        op,
        "(): Expected reduction dim to be specified for input.numel() == 0. Specify the "
        "reduction dim with the 'dim' argument."));
  }
  return std::vector<TensorMeta>{{{}, a.inputs[0].dtype()}};
}
MetaOr InferMaxAll(const OpArgs& a) { return InferMaxMinAll(a, "max"); }
MetaOr InferMinAll(const OpArgs& a) { return InferMaxMinAll(a, "min"); }

// The first NaN wins; otherwise the largest (smallest) value.
template <bool kMax>
ListOr MaxMinAllForward(const OpArgs& a, const std::vector<TensorMeta>& metas) {
  const Tensor& x = a.inputs[0];
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(metas[0]));
  DispatchDType(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    bool first = true, nan = false;
    T best{};
    ForEachElement<T>(x, [&](T v) {
      if (nan) return;
      if (first || IsNan(v) || (kMax ? best < v : v < best)) {
        best = v;
        nan = IsNan(v);
        first = false;
      }
    });
    *out.data_ptr<T>() = best;
  });
  return TensorList{out};
}

// PyTorch's evenly_distribute_backward: the gradient is split evenly among the elements equal
// to the result (the NaNs when the result is NaN).
ListOr MaxMinAllBackward(const BackwardArgs& b) {
  const Tensor& x = b.inputs[0];
  const Tensor& y = b.outputs[0];
  TD_ASSIGN_OR_RETURN(double value, y.item<double>());
  Tensor mask;
  if (std::isnan(value)) {
    TD_ASSIGN_OR_RETURN(mask, ops::ne(x, x));
  } else {
    TD_ASSIGN_OR_RETURN(mask, ops::eq(x, y));
  }
  TD_ASSIGN_OR_RETURN(Tensor count, ops::sum(mask));
  TD_ASSIGN_OR_RETURN(Tensor share, ops::div(b.grads[0], count));
  TD_ASSIGN_OR_RETURN(Tensor zero, ops::scalar_tensor(Scalar(0.0)));
  TD_ASSIGN_OR_RETURN(Tensor r, ops::where(mask, share, zero));
  return TensorList{r};
}

// ---- argmax / argmin -----------------------------------------------------------------------

MetaOr InferArgMaxMin(const OpArgs& a, absl::string_view op) {
  const Tensor& x = a.inputs[0];
  const bool keepdim = a.attrs.Bool("keepdim");
  Shape shape;
  if (a.attrs.Has("dim")) {
    TD_ASSIGN_OR_RETURN(int64_t dim, op_util::WrapDim(a.attrs.Int("dim"), x.dim()));
    if (x.dim() > 0 && x.shape()[static_cast<size_t>(dim)] == 0) {
      return absl::OutOfRangeError(
          absl::StrCat(op, "(): Expected reduction dim ", dim, " to have non-zero size."));
    }
    shape = ReducedShape(x.shape(), SingleDimMask(x.dim(), dim), keepdim);
  } else {
    if (x.numel() == 0) {
      return absl::OutOfRangeError(
          absl::StrCat(op, "(): Expected reduction dim to be specified for input.numel() == 0."));
    }
    if (keepdim) shape = Shape(static_cast<size_t>(x.dim()), 1);
  }
  if (x.dtype() == DType::kBool) {
    return NotImplementedFor(absl::StrCat(op, "_cpu"), x.dtype());
  }
  return std::vector<TensorMeta>{{std::move(shape), DType::kInt64}};
}
MetaOr InferArgMax(const OpArgs& a) { return InferArgMaxMin(a, "argmax"); }
MetaOr InferArgMin(const OpArgs& a) { return InferArgMaxMin(a, "argmin"); }

// Index of the first maximum (minimum); the first NaN wins.
template <bool kMax>
ListOr ArgMaxMinForward(const OpArgs& a, const std::vector<TensorMeta>& metas) {
  const Tensor& x = a.inputs[0];
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(metas[0]));
  if (!a.attrs.Has("dim") || x.dim() == 0) {
    DispatchDType(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      bool nan = false;
      T best{};
      int64_t i = 0, best_i = -1;
      ForEachElement<T>(x, [&](T v) {
        if (!nan && (best_i < 0 || IsNan(v) || (kMax ? best < v : v < best))) {
          best = v;
          best_i = i;
          nan = IsNan(v);
        }
        ++i;
      });
      *out.data_ptr<int64_t>() = std::max<int64_t>(best_i, 0);
    });
    return TensorList{out};
  }
  const int64_t dim = *op_util::WrapDim(a.attrs.Int("dim"), x.dim());
  const DimMask mask = SingleDimMask(x.dim(), dim);
  TD_ASSIGN_OR_RETURN(Tensor values,
                      op_util::Alloc({ReducedShape(x.shape(), mask, true), x.dtype()}));
  kernels::MaxMinAlongDim(values, KeepdimAlias(out, x.shape(), mask), x, dim, kMax);
  return TensorList{out};
}

// ---- norm ----------------------------------------------------------------------------------

// `Scalar? p`: None is the 2-norm.
double NormOrder(const Attrs& attrs) { return attrs.Has("p") ? attrs.Double("p") : 2.0; }

MetaOr InferNorm(const OpArgs& a) {
  const Tensor& x = a.inputs[0];
  if (!IsFloating(x.dtype())) {
    return absl::InvalidArgumentError(
        absl::StrCat("norm(): input dtype should be either floating point or complex. Got ",
                     ScalarTypeName(x.dtype()), " instead."));
  }
  TD_ASSIGN_OR_RETURN(DimMask mask, OptionalDimsMask(a.attrs, x.dim()));
  return std::vector<TensorMeta>{
      {ReducedShape(x.shape(), mask, a.attrs.Bool("keepdim")), x.dtype()}};
}

ListOr NormForward(const OpArgs& a, const std::vector<TensorMeta>& metas) {
  const Tensor& x = a.inputs[0];
  const double p = NormOrder(a.attrs);
  TD_ASSIGN_OR_RETURN(DimMask mask, OptionalDimsMask(a.attrs, x.dim()));
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(metas[0]));
  DispatchFloating(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    std::vector<double> acc;
    if (p == 2.0) {
      acc = ReduceKeepdim<double, T>(x, mask, 0.0,
                                     [](double& s, T v, size_t) { s += double(v) * double(v); });
      for (double& v : acc) v = std::sqrt(v);
    } else if (p == 1.0) {
      acc = ReduceKeepdim<double, T>(x, mask, 0.0,
                                     [](double& s, T v, size_t) { s += std::fabs(double(v)); });
    } else if (p == 0.0) {
      acc = ReduceKeepdim<double, T>(x, mask, 0.0,
                                     [](double& s, T v, size_t) { s += v != T(0) ? 1.0 : 0.0; });
    } else if (std::isinf(p)) {
      const bool is_max = p > 0;
      acc =
          ReduceKeepdim<double, T>(x, mask, is_max ? 0.0 : std::numeric_limits<double>::infinity(),
                                   [is_max](double& s, T v, size_t) {
                                     const double m = std::fabs(double(v));
                                     if (std::isnan(s)) return;
                                     if (std::isnan(m) || (is_max ? m > s : m < s)) s = m;
                                   });
    } else {
      acc = ReduceKeepdim<double, T>(
          x, mask, 0.0, [p](double& s, T v, size_t) { s += std::pow(std::fabs(double(v)), p); });
      for (double& v : acc) v = std::pow(v, 1.0 / p);
    }
    Store(out, acc);
  });
  return TensorList{out};
}

// PyTorch's norm_backward.
ListOr NormBackward(const BackwardArgs& b) {
  const Tensor& x = b.inputs[0];
  const double p = NormOrder(b.attrs);
  TD_ASSIGN_OR_RETURN(DimMask mask, OptionalDimsMask(b.attrs, x.dim()));
  const bool keepdim = b.attrs.Bool("keepdim");
  TD_ASSIGN_OR_RETURN(Tensor g, Unreduce(b.grads[0], mask, keepdim));
  TD_ASSIGN_OR_RETURN(Tensor y, Unreduce(b.outputs[0], mask, keepdim));
  TD_ASSIGN_OR_RETURN(Tensor zero, ops::scalar_tensor(Scalar(0.0)));
  Tensor r;
  if (p == 0.0) {
    TD_ASSIGN_OR_RETURN(r, op_util::Zeros(b.input_meta[0]));
  } else if (p == 1.0) {
    TD_ASSIGN_OR_RETURN(Tensor s, ops::sign(x));
    TD_ASSIGN_OR_RETURN(r, ops::mul(s, g));
  } else if (p == 2.0) {
    // grad * (self / norm), 0 where norm == 0
    TD_ASSIGN_OR_RETURN(Tensor q, ops::div(x, y));
    TD_ASSIGN_OR_RETURN(Tensor y0, ops::eq(y, Scalar(0)));
    TD_ASSIGN_OR_RETURN(q, ops::where(y0, zero, q));
    TD_ASSIGN_OR_RETURN(r, ops::mul(g, q));
  } else if (std::isinf(p)) {
    // sign(self) * grad / count, on the elements whose |self| is the norm (or NaN)
    TD_ASSIGN_OR_RETURN(Tensor ax, ops::abs(x));
    TD_ASSIGN_OR_RETURN(Tensor hit, ops::eq(ax, y));
    TD_ASSIGN_OR_RETURN(Tensor nan, ops::ne(ax, ax));
    TD_ASSIGN_OR_RETURN(hit, Call("logical_or", {hit, nan}));
    TD_ASSIGN_OR_RETURN(Tensor count, ops::sum(hit, MaskDims(mask), /*keepdim=*/true));
    TD_ASSIGN_OR_RETURN(Tensor share, ops::div(g, count));
    TD_ASSIGN_OR_RETURN(share, ops::where(hit, share, zero));
    TD_ASSIGN_OR_RETURN(Tensor s, ops::sign(x));
    TD_ASSIGN_OR_RETURN(r, ops::mul(s, share));
  } else {
    TD_ASSIGN_OR_RETURN(Tensor ax, ops::abs(x));
    TD_ASSIGN_OR_RETURN(Tensor s, ops::sign(x));
    TD_ASSIGN_OR_RETURN(Tensor y0, ops::eq(y, Scalar(0)));
    if (p < 1.0) {
      // sign(self) * |self|^(p-1) (0 where self == 0) * grad * norm^(1-p)
      TD_ASSIGN_OR_RETURN(Tensor pw, ops::pow(ax, Scalar(p - 1)));
      TD_ASSIGN_OR_RETURN(Tensor x0, ops::eq(x, Scalar(0)));
      TD_ASSIGN_OR_RETURN(pw, ops::where(x0, zero, pw));
      TD_ASSIGN_OR_RETURN(Tensor scaled, ops::mul(s, pw));
      TD_ASSIGN_OR_RETURN(Tensor yp, ops::pow(y, Scalar(1 - p)));
      TD_ASSIGN_OR_RETURN(r, ops::mul(scaled, g));
      TD_ASSIGN_OR_RETURN(r, ops::mul(r, yp));
    } else {
      // p in (1, 2): sign(self) * |self|^(p-1); p > 2: self * |self|^(p-2); times
      // grad / norm^(p-1), 0 where norm == 0
      Tensor scaled;
      if (p < 2.0) {
        TD_ASSIGN_OR_RETURN(Tensor pw, ops::pow(ax, Scalar(p - 1)));
        TD_ASSIGN_OR_RETURN(scaled, ops::mul(s, pw));
      } else {
        TD_ASSIGN_OR_RETURN(Tensor pw, ops::pow(ax, Scalar(p - 2)));
        TD_ASSIGN_OR_RETURN(scaled, ops::mul(x, pw));
      }
      TD_ASSIGN_OR_RETURN(Tensor yp, ops::pow(y, Scalar(p - 1)));
      TD_ASSIGN_OR_RETURN(Tensor scale, ops::div(g, yp));
      TD_ASSIGN_OR_RETURN(scale, ops::where(y0, zero, scale));
      TD_ASSIGN_OR_RETURN(r, ops::mul(scaled, scale));
    }
  }
  return TensorList{r};
}

// ---- var / std -----------------------------------------------------------------------------

MetaOr InferVarStd(const OpArgs& a) {
  const Tensor& x = a.inputs[0];
  if (!IsFloating(x.dtype())) {
    return absl::InvalidArgumentError("std and var only support floating point and complex dtypes");
  }
  TD_ASSIGN_OR_RETURN(DimMask mask, OptionalDimsMask(a.attrs, x.dim()));
  return std::vector<TensorMeta>{
      {ReducedShape(x.shape(), mask, a.attrs.Bool("keepdim")), x.dtype()}};
}

int64_t Correction(const Attrs& attrs) { return attrs.Bool("unbiased") ? 1 : 0; }

template <bool kStd>
ListOr VarStdForward(const OpArgs& a, const std::vector<TensorMeta>& metas) {
  const Tensor& x = a.inputs[0];
  TD_ASSIGN_OR_RETURN(DimMask mask, OptionalDimsMask(a.attrs, x.dim()));
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(metas[0]));
  const int64_t n = ReducedCount(x.shape(), mask);
  const double dof = static_cast<double>(std::max<int64_t>(0, n - Correction(a.attrs)));
  DispatchFloating(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    // Two passes: the mean, then the sum of squared deviations from it.
    std::vector<double> mean =
        ReduceKeepdim<double, T>(x, mask, 0.0, [](double& s, T v, size_t) { s += double(v); });
    for (double& m : mean) m /= static_cast<double>(n);
    std::vector<double> acc = ReduceKeepdim<double, T>(x, mask, 0.0, [&](double& s, T v, size_t k) {
      const double d = double(v) - mean[k];
      s += d * d;
    });
    for (double& v : acc) {
      v /= dof;
      if (kStd) v = std::sqrt(v);
    }
    Store(out, acc);
  });
  return TensorList{out};
}

// PyTorch's var_backward: (2 / (n - correction)) * grad * (self - mean(self, dims, keepdim)).
absl::StatusOr<Tensor> VarBackwardImpl(const Tensor& grad, const Tensor& x, const DimMask& mask,
                                       const Attrs& attrs) {
  const int64_t n = ReducedCount(x.shape(), mask);
  const double dof = static_cast<double>(n - Correction(attrs));
  TD_ASSIGN_OR_RETURN(Tensor mean, ops::mean(x, MaskDims(mask), /*keepdim=*/true));
  TD_ASSIGN_OR_RETURN(Tensor dev, ops::sub(x, mean));
  TD_ASSIGN_OR_RETURN(Tensor r, ops::mul(grad, dev));
  return ops::mul(r, Scalar(2.0 / dof));
}

ListOr VarBackward(const BackwardArgs& b) {
  const Tensor& x = b.inputs[0];
  TD_ASSIGN_OR_RETURN(DimMask mask, OptionalDimsMask(b.attrs, x.dim()));
  TD_ASSIGN_OR_RETURN(Tensor g, Unreduce(b.grads[0], mask, b.attrs.Bool("keepdim")));
  TD_ASSIGN_OR_RETURN(Tensor r, VarBackwardImpl(g, x, mask, b.attrs));
  return TensorList{r};
}

// std_backward: var_backward of grad / (2 * result), 0 where result == 0.
ListOr StdBackward(const BackwardArgs& b) {
  const Tensor& x = b.inputs[0];
  TD_ASSIGN_OR_RETURN(DimMask mask, OptionalDimsMask(b.attrs, x.dim()));
  const bool keepdim = b.attrs.Bool("keepdim");
  TD_ASSIGN_OR_RETURN(Tensor g, Unreduce(b.grads[0], mask, keepdim));
  TD_ASSIGN_OR_RETURN(Tensor y, Unreduce(b.outputs[0], mask, keepdim));
  TD_ASSIGN_OR_RETURN(Tensor y2, ops::mul(y, Scalar(2.0)));
  TD_ASSIGN_OR_RETURN(Tensor gv, ops::div(g, y2));
  TD_ASSIGN_OR_RETURN(Tensor y0, ops::eq(y, Scalar(0)));
  TD_ASSIGN_OR_RETURN(Tensor zero, ops::scalar_tensor(Scalar(0.0)));
  TD_ASSIGN_OR_RETURN(gv, ops::where(y0, zero, gv));
  TD_ASSIGN_OR_RETURN(Tensor r, VarBackwardImpl(gv, x, mask, b.attrs));
  return TensorList{r};
}

// ---- cumsum --------------------------------------------------------------------------------

MetaOr InferCumsum(const OpArgs& a) {
  const Tensor& x = a.inputs[0];
  TD_RETURN_IF_ERROR(op_util::WrapDim(a.attrs.Int("dim"), x.dim()).status());
  return std::vector<TensorMeta>{{x.shape(), AccumulateDType(x.dtype())}};
}

ListOr CumsumForward(const OpArgs& a, const std::vector<TensorMeta>& metas) {
  const Tensor& x = a.inputs[0];
  const int64_t dim = *op_util::WrapDim(a.attrs.Int("dim"), x.dim());
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(metas[0]));
  DispatchDType(x.dtype(), [&](auto itag) {
    using I = typename decltype(itag)::type;
    DispatchDType(out.dtype(), [&](auto otag) {
      using O = typename decltype(otag)::type;
      if constexpr (std::is_same_v<O, bool> ||
                    (std::is_floating_point_v<I> && !std::is_same_v<I, O>)) {
        return;  // not a combination the shape rule produces
      } else {
        // Accumulates in double for floats (as PyTorch's CPU kernel), in int64 otherwise.
        using Acc = std::conditional_t<std::is_floating_point_v<O>, double, int64_t>;
        ForEachLine<I, O>(out, x, dim, [](const I* in, int64_t is, O* o, int64_t os, int64_t len) {
          Acc acc = 0;
          for (int64_t j = 0; j < len; ++j) {
            if constexpr (std::is_same_v<Acc, int64_t>) {
              acc = WrappingAdd(acc, static_cast<Acc>(in[j * is]));  // wraps, as PyTorch's
            } else {
              acc += static_cast<Acc>(in[j * is]);
            }
            o[j * os] = static_cast<O>(acc);
          }
        });
      }
    });
  });
  return TensorList{out};
}

// The reversed cumulative sum of grad along dim: sum(grad) - cumsum(grad) + grad.
ListOr CumsumBackward(const BackwardArgs& b) {
  const Tensor& g = b.grads[0];
  const Shape& shape = b.input_meta[0].shape;
  if (shape.empty()) return TensorList{g};
  const int64_t dim = *op_util::WrapDim(b.attrs.Int("dim"), static_cast<int64_t>(shape.size()));
  if (NumElements(shape) <= 1 || shape[static_cast<size_t>(dim)] == 1) return TensorList{g};
  TD_ASSIGN_OR_RETURN(Tensor total, ops::sum(g, {dim}, /*keepdim=*/true));
  TD_ASSIGN_OR_RETURN(Tensor cs, Call("cumsum", {g}, Attrs{{"dim", dim}}));
  TD_ASSIGN_OR_RETURN(Tensor r, ops::sub(total, cs));
  TD_ASSIGN_OR_RETURN(r, ops::add(r, g));
  return TensorList{r};
}

// ---- logsumexp -----------------------------------------------------------------------------

MetaOr InferLogsumexp(const OpArgs& a) {
  const Tensor& x = a.inputs[0];
  const std::vector<int64_t>& dims = a.attrs.Ints("dim");
  TD_ASSIGN_OR_RETURN(DimMask mask, DimsMask(x.dim(), dims));
  const bool keepdim = a.attrs.Bool("keepdim");
  if (dims.empty() && !keepdim && x.dim() > 0) {
    // PyTorch 1.13 reduces every dim for dim=[] but then fails to write the result into its
    // 0-d output; the engine reports the same error.
    return absl::InvalidArgumentError(
        absl::StrCat("output with shape [] doesn't match the broadcast shape ",
                     ShapeToString(Shape(static_cast<size_t>(x.dim()), 1))));
  }
  return std::vector<TensorMeta>{
      {ReducedShape(x.shape(), mask, keepdim), op_util::ToFloating(x.dtype())}};
}

ListOr LogsumexpForward(const OpArgs& a, const std::vector<TensorMeta>& metas) {
  const Tensor& x = a.inputs[0];
  TD_ASSIGN_OR_RETURN(DimMask mask, DimsMask(x.dim(), a.attrs.Ints("dim")));
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(metas[0]));
  DispatchDType(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    // The max of each slice (NaN wins), then log(sum(exp(x - max))) + max, with an infinite max
    // replaced by 0 so that all -inf gives -inf and +inf gives +inf.
    std::vector<double> mx = ReduceKeepdim<double, T>(
        x, mask, -std::numeric_limits<double>::infinity(), [](double& m, T v, size_t) {
          const double d = static_cast<double>(v);
          if (std::isnan(m)) return;
          if (std::isnan(d) || d > m) m = d;
        });
    for (double& m : mx)
      if (std::isinf(m)) m = 0;
    std::vector<double> acc = ReduceKeepdim<double, T>(x, mask, 0.0, [&](double& s, T v, size_t k) {
      s += std::exp(static_cast<double>(v) - mx[k]);
    });
    for (size_t k = 0; k < acc.size(); ++k) acc[k] = std::log(acc[k]) + mx[k];
    Store(out, acc);
  });
  return TensorList{out};
}

// grad * exp(self - result)
ListOr LogsumexpBackward(const BackwardArgs& b) {
  const Tensor& x = b.inputs[0];
  TD_ASSIGN_OR_RETURN(DimMask mask, DimsMask(x.dim(), b.attrs.Ints("dim")));
  const bool keepdim = b.attrs.Bool("keepdim");
  TD_ASSIGN_OR_RETURN(Tensor g, Unreduce(b.grads[0], mask, keepdim));
  TD_ASSIGN_OR_RETURN(Tensor y, Unreduce(b.outputs[0], mask, keepdim));
  TD_ASSIGN_OR_RETURN(Tensor d, ops::sub(x, y));
  TD_ASSIGN_OR_RETURN(d, ops::exp(d));
  TD_ASSIGN_OR_RETURN(Tensor r, ops::mul(g, d));
  return TensorList{r};
}

// ---- softmax / log_softmax -----------------------------------------------------------------

template <bool kLog>
MetaOr InferSoftmax(const OpArgs& a) {
  const Tensor& x = a.inputs[0];
  TD_ASSIGN_OR_RETURN(int64_t dim, op_util::WrapDim(a.attrs.Int("dim"), x.dim()));
  if (!IsFloating(x.dtype())) {
    const bool last = x.dim() == 0 || dim == x.dim() - 1;
    return NotImplementedFor(
        last ? (kLog ? "log_softmax_lastdim_kernel_impl" : "softmax_lastdim_kernel_impl")
             : "softmax_kernel_impl",
        x.dtype());
  }
  return std::vector<TensorMeta>{x.meta()};
}

template <bool kLog>
ListOr SoftmaxForward(const OpArgs& a, const std::vector<TensorMeta>& metas) {
  const Tensor& x = a.inputs[0];
  const int64_t dim = *op_util::WrapDim(a.attrs.Int("dim"), x.dim());
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(metas[0]));
  DispatchFloating(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    ForEachLine<T, T>(out, x, dim, [](const T* in, int64_t is, T* o, int64_t os, int64_t len) {
      if (len == 0) return;
      double m = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < len; ++j) m = std::max(m, static_cast<double>(in[j * is]));
      double sum = 0;
      for (int64_t j = 0; j < len; ++j) sum += std::exp(static_cast<double>(in[j * is]) - m);
      if (kLog) {
        const double shift = m + std::log(sum);
        for (int64_t j = 0; j < len; ++j)
          o[j * os] = static_cast<T>(static_cast<double>(in[j * is]) - shift);
      } else {
        for (int64_t j = 0; j < len; ++j)
          o[j * os] = static_cast<T>(std::exp(static_cast<double>(in[j * is]) - m) / sum);
      }
    });
  });
  return TensorList{out};
}

// softmax: result * (grad - sum(grad * result, dim));  log_softmax: grad - exp(result) * sum(grad,
// dim).
template <bool kLog>
ListOr SoftmaxBackward(const BackwardArgs& b) {
  const Tensor& y = b.outputs[0];
  const Tensor& g = b.grads[0];
  const int64_t ndim = static_cast<int64_t>(b.input_meta[0].shape.size());
  if (ndim == 0) {
    // A single element: the result is constant (1, or 0 for log_softmax).
    TD_ASSIGN_OR_RETURN(Tensor r, ops::mul(g, Scalar(0.0)));
    return TensorList{r};
  }
  if (NumElements(b.input_meta[0].shape) == 0) {
    // No elements: an empty gradient (the sum along dim of a [0, 2^62] tensor would not be).
    TD_ASSIGN_OR_RETURN(Tensor r, op_util::Zeros({b.input_meta[0].shape, g.dtype()}));
    return TensorList{r};
  }
  const int64_t dim = *op_util::WrapDim(b.attrs.Int("dim"), ndim);
  Tensor r;
  if (kLog) {
    TD_ASSIGN_OR_RETURN(Tensor s, ops::sum(g, {dim}, /*keepdim=*/true));
    TD_ASSIGN_OR_RETURN(Tensor e, ops::exp(y));
    TD_ASSIGN_OR_RETURN(Tensor es, ops::mul(e, s));
    TD_ASSIGN_OR_RETURN(r, ops::sub(g, es));
  } else {
    TD_ASSIGN_OR_RETURN(Tensor gy, ops::mul(g, y));
    TD_ASSIGN_OR_RETURN(Tensor s, ops::sum(gy, {dim}, /*keepdim=*/true));
    TD_ASSIGN_OR_RETURN(Tensor d, ops::sub(g, s));
    TD_ASSIGN_OR_RETURN(r, ops::mul(y, d));
  }
  return TensorList{r};
}

// ---- the table -----------------------------------------------------------------------------

OpDef Reduction(absl::string_view name, absl::string_view grad_fn, absl::string_view doc,
                InferFn infer, ForwardFn forward, BackwardFn backward, uint32_t save_inputs,
                bool save_outputs) {
  OpDef d;
  d.name = name;
  d.num_inputs = 1;
  d.grad_fn = grad_fn;
  d.doc = doc;
  d.infer = infer;
  d.forward = forward;
  d.backward = backward;
  d.save_inputs = save_inputs;
  d.save_outputs = save_outputs;
  return d;
}

constexpr uint32_t kSelf = 1u;

}  // namespace

void RegisterMoreReductionOps(std::vector<OpDef>& t) {
  t.push_back(Reduction("prod", "ProdBackward0", "product of all elements (integers give int64)",
                        InferProd, ProdForward, ProdBackward, kSelf, true));
  t.back().schema = "prod(Tensor self, *, ScalarType? dtype=None) -> Tensor";
  {
    OpDef d = Reduction("prod_dim", "ProdBackward1", "product over dim (integers give int64)",
                        InferProdDim, ProdDimForward, ProdDimBackward, kSelf, true);
    d.schema =
        "prod.dim_int(Tensor self, int dim, bool keepdim=False, *, ScalarType? dtype=None) -> "
        "Tensor";
    t.push_back(d);
  }
  t.push_back(Reduction("max", "MaxBackward1", "maximum of all elements (NaN wins)", InferMaxAll,
                        MaxMinAllForward<true>, MaxMinAllBackward, kSelf, true));
  t.back().schema = "max(Tensor self) -> Tensor";
  t.push_back(Reduction("min", "MinBackward1", "minimum of all elements (NaN wins)", InferMinAll,
                        MaxMinAllForward<false>, MaxMinAllBackward, kSelf, true));
  t.back().schema = "min(Tensor self) -> Tensor";
  for (bool is_max : {true, false}) {
    OpDef d =
        Reduction(is_max ? "argmax" : "argmin", "",
                  is_max ? "int64 index of the first maximum (flattened when dim is None)"
                         : "int64 index of the first minimum (flattened when dim is None)",
                  is_max ? InferArgMax : InferArgMin,
                  is_max ? ArgMaxMinForward<true> : ArgMaxMinForward<false>, nullptr, 0, false);
    d.schema = is_max ? "argmax(Tensor self, int? dim=None, bool keepdim=False) -> Tensor"
                      : "argmin(Tensor self, int? dim=None, bool keepdim=False) -> Tensor";
    t.push_back(d);
  }
  {
    OpDef d =
        Reduction("norm", "NormBackward1", "p-norm of all elements (torch.norm with a number p)",
                  InferNorm, NormForward, NormBackward, kSelf, true);
    d.schema = "norm.Scalar(Tensor self, Scalar p=2) -> Tensor";
    t.push_back(d);
    d.name = "norm_dim";
    d.doc = "p-norm over dims (p None: 2)";
    d.schema =
        "norm.ScalarOpt_dim(Tensor self, Scalar? p, int[1] dim, bool keepdim=False) -> Tensor";
    t.push_back(d);
  }
  {
    OpDef d = Reduction("var", "VarBackward0", "variance over dims (floating only)", InferVarStd,
                        VarStdForward<false>, VarBackward, kSelf, false);
    d.schema =
        "var.dim(Tensor self, int[1]? dim, bool unbiased=True, bool keepdim=False) -> Tensor";
    t.push_back(d);
  }
  {
    OpDef d = Reduction("std", "StdBackward0", "standard deviation over dims (floating only)",
                        InferVarStd, VarStdForward<true>, StdBackward, kSelf, true);
    d.schema =
        "std.dim(Tensor self, int[1]? dim, bool unbiased=True, bool keepdim=False) -> Tensor";
    t.push_back(d);
  }
  {
    OpDef d =
        Reduction("cumsum", "CumsumBackward0", "cumulative sum along dim (integers give int64)",
                  InferCumsum, CumsumForward, CumsumBackward, 0, false);
    d.schema = "cumsum(Tensor self, int dim, *, ScalarType? dtype=None) -> Tensor";
    d.result_like_self = true;
    t.push_back(d);
  }
  {
    OpDef d = Reduction("logsumexp", "LogsumexpBackward0", "log(sum(exp(self))) over dims, stably",
                        InferLogsumexp, LogsumexpForward, LogsumexpBackward, kSelf, true);
    d.schema = "logsumexp(Tensor self, int[1] dim, bool keepdim=False) -> Tensor";
    t.push_back(d);
  }
  {
    OpDef d =
        Reduction("softmax", "SoftmaxBackward0", "exp(self) / sum(exp(self)) along dim",
                  InferSoftmax<false>, SoftmaxForward<false>, SoftmaxBackward<false>, 0, true);
    d.schema = "softmax.int(Tensor self, int dim, ScalarType? dtype=None) -> Tensor";
    t.push_back(d);
  }
  {
    OpDef d = Reduction("log_softmax", "LogSoftmaxBackward0", "self - logsumexp(self) along dim",
                        InferSoftmax<true>, SoftmaxForward<true>, SoftmaxBackward<true>, 0, true);
    d.schema = "log_softmax.int(Tensor self, int dim, ScalarType? dtype=None) -> Tensor";
    t.push_back(d);
  }
}

}  // namespace tensord
