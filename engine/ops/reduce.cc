// Reductions: sum, mean, prod (whole tensor or over dims), max/min (whole tensor, or along a dim
// with indices), argmax/argmin, norm, var, std, logsumexp. Scans are in scan.cc, softmax and
// log_softmax in softmax.cc; the dims and loop helpers they share in reduce_util.h.
#include <cmath>
#include <limits>
#include <type_traits>

#include <algorithm>
#include "absl/strings/str_join.h"
#include "engine/checked_math.h"
#include "engine/dispatch.h"

#include "absl/strings/str_cat.h"
#include "engine/api.h"
#include "engine/factory.h"
#include "engine/kernels/loop.h"
#include "engine/ops/op_util.h"
#include "engine/ops/reduce_util.h"
#include "engine/ops/registry.h"
#include "engine/status_macros.h"

namespace tensord {
namespace {

using TensorList = std::vector<Tensor>;
using ListOr = absl::StatusOr<TensorList>;
using MetaOr = absl::StatusOr<std::vector<TensorMeta>>;
using op_util::Call;
using op_util::NotImplementedFor;
using namespace reduce_util;  // NOLINT: the family's shared helpers

absl::Status CheckMeanDType(DType t) {
  if (!IsFloating(t)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "mean(): could not infer output dtype. Input dtype must be either a floating point or "
        "complex dtype. Got: ",
        t == DType::kInt64 ? "Long" : "Bool"));
  }
  return absl::OkStatus();
}

MetaOr InferSum(const OpArgs& a) {
  return std::vector<TensorMeta>{{{}, AccumulateDType(a.inputs[0].dtype())}};
}

MetaOr InferMean(const OpArgs& a) {
  TD_RETURN_IF_ERROR(CheckMeanDType(a.inputs[0].dtype()));
  return std::vector<TensorMeta>{{{}, a.inputs[0].dtype()}};
}

MetaOr InferSumDim(const OpArgs& a) {
  TD_ASSIGN_OR_RETURN(auto mask, DimsMask(a.inputs[0].dim(), a.attrs.Ints("dim")));
  return std::vector<TensorMeta>{{ReducedShape(a.inputs[0].shape(), mask, a.attrs.Bool("keepdim")),
                                  AccumulateDType(a.inputs[0].dtype())}};
}

MetaOr InferMeanDim(const OpArgs& a) {
  TD_RETURN_IF_ERROR(CheckMeanDType(a.inputs[0].dtype()));
  TD_ASSIGN_OR_RETURN(auto mask, DimsMask(a.inputs[0].dim(), a.attrs.Ints("dim")));
  return std::vector<TensorMeta>{
      {ReducedShape(a.inputs[0].shape(), mask, a.attrs.Bool("keepdim")), a.inputs[0].dtype()}};
}

ListOr SumLike(const OpArgs& a, const std::vector<TensorMeta>& metas, bool all, bool mean) {
  const Tensor& x = a.inputs[0];
  std::vector<bool> mask(static_cast<size_t>(x.dim()), true);
  if (!all) {
    TD_ASSIGN_OR_RETURN(mask, DimsMask(x.dim(), a.attrs.Ints("dim")));
  }
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(metas[0]));
  kernels::SumToKeepdim(KeepdimAlias(out, x.shape(), mask), x);
  if (mean) {
    Shape reduced;
    for (size_t d = 0; d < mask.size(); ++d)
      if (mask[d]) reduced.push_back(x.shape()[d]);
    const int64_t count = NumElements(reduced);  // a part of x's shape: exact
    DispatchFloating(out.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* p = out.data_ptr<T>();
      const T n = static_cast<T>(count);
      for (int64_t i = 0; i < out.numel(); ++i) p[i] = p[i] / n;
    });
  }
  return TensorList{out};
}

ListOr SumForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  return SumLike(a, m, true, false);
}
ListOr SumDimForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  return SumLike(a, m, false, false);
}
ListOr MeanForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  return SumLike(a, m, true, true);
}
ListOr MeanDimForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  return SumLike(a, m, false, true);
}

// Broadcasts a reduced gradient back to the input's shape.
absl::StatusOr<Tensor> ExpandReducedGrad(const BackwardArgs& b, bool all) {
  const Shape& in_shape = b.input_meta[0].shape;
  Tensor g = b.grads[0];
  if (!all && !b.attrs.Bool("keepdim")) {
    TD_ASSIGN_OR_RETURN(auto mask,
                        DimsMask(static_cast<int64_t>(in_shape.size()), b.attrs.Ints("dim")));
    for (size_t d = 0; d < mask.size(); ++d) {
      if (mask[d]) {
        TD_ASSIGN_OR_RETURN(g, ops::unsqueeze(g, static_cast<int64_t>(d)));
      }
    }
  }
  return ops::expand(g, in_shape);
}

ListOr SumBackward(const BackwardArgs& b) {
  TD_ASSIGN_OR_RETURN(Tensor g, ExpandReducedGrad(b, true));
  return TensorList{g};
}
ListOr SumDimBackward(const BackwardArgs& b) {
  TD_ASSIGN_OR_RETURN(Tensor g, ExpandReducedGrad(b, false));
  return TensorList{g};
}
ListOr MeanBackwardImpl(const BackwardArgs& b, bool all) {
  TD_ASSIGN_OR_RETURN(Tensor g, ExpandReducedGrad(b, all));
  const int64_t in_numel = NumElements(b.input_meta[0].shape);
  const int64_t out_numel = NumElements(b.grads[0].shape());
  const int64_t count = out_numel == 0 ? 0 : in_numel / out_numel;
  TD_ASSIGN_OR_RETURN(g, ops::div(g, Scalar(static_cast<double>(count))));
  return TensorList{g};
}
ListOr MeanBackward(const BackwardArgs& b) { return MeanBackwardImpl(b, true); }
ListOr MeanDimBackward(const BackwardArgs& b) { return MeanBackwardImpl(b, false); }

MetaOr InferMaxMinDim(const OpArgs& a, absl::string_view op) {
  const Tensor& x = a.inputs[0];
  TD_ASSIGN_OR_RETURN(int64_t dim, op_util::WrapDim(a.attrs.Int("dim"), x.dim()));
  if (x.dim() > 0 && x.shape()[static_cast<size_t>(dim)] == 0) {
    return absl::OutOfRangeError(
        absl::StrCat(op, "(): Expected reduction dim ", dim, " to have non-zero size."));
  }
  std::vector<bool> mask(static_cast<size_t>(x.dim()), false);
  if (x.dim() > 0) mask[static_cast<size_t>(dim)] = true;
  Shape s = ReducedShape(x.shape(), mask, a.attrs.Bool("keepdim"));
  return std::vector<TensorMeta>{{s, x.dtype()}, {s, DType::kInt64}};
}
MetaOr InferMaxDim(const OpArgs& a) { return InferMaxMinDim(a, "max"); }
MetaOr InferMinDim(const OpArgs& a) { return InferMaxMinDim(a, "min"); }

ListOr MaxMinDimForward(const OpArgs& a, const std::vector<TensorMeta>& metas, bool is_max) {
  const Tensor& x = a.inputs[0];
  TD_ASSIGN_OR_RETURN(Tensor values, op_util::Alloc(metas[0]));
  TD_ASSIGN_OR_RETURN(Tensor indices, op_util::Alloc(metas[1]));
  if (x.dim() == 0) {
    kernels::CopyInto(values, x);
    indices.data_ptr<int64_t>()[0] = 0;
    return TensorList{values, indices};
  }
  const int64_t dim = *op_util::WrapDim(a.attrs.Int("dim"), x.dim());
  std::vector<bool> mask(static_cast<size_t>(x.dim()), false);
  mask[static_cast<size_t>(dim)] = true;
  kernels::MaxMinAlongDim(KeepdimAlias(values, x.shape(), mask),
                          KeepdimAlias(indices, x.shape(), mask), x, dim, is_max);
  return TensorList{values, indices};
}
ListOr MaxDimForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  return MaxMinDimForward(a, m, true);
}
ListOr MinDimForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  return MaxMinDimForward(a, m, false);
}

// The gradient goes to the selected element of each slice: where(arange == index, grad, 0).
ListOr MaxMinDimBackward(const BackwardArgs& b) {
  const Shape& in_shape = b.input_meta[0].shape;
  Tensor g = b.grads[0];
  if (in_shape.empty()) return TensorList{g};
  // No elements, no gradient to place (and no arange over a reduced dim of 2^62 to build).
  if (NumElements(in_shape) == 0) {
    TD_ASSIGN_OR_RETURN(Tensor z, op_util::Zeros({in_shape, g.dtype()}));
    return TensorList{z};
  }
  const int64_t dim = *op_util::WrapDim(b.attrs.Int("dim"), static_cast<int64_t>(in_shape.size()));
  Tensor idx = b.outputs[1];
  if (!b.attrs.Bool("keepdim")) {
    TD_ASSIGN_OR_RETURN(g, ops::unsqueeze(g, dim));
    TD_ASSIGN_OR_RETURN(idx, ops::unsqueeze(idx, dim));
  }
  TD_ASSIGN_OR_RETURN(Tensor positions,
                      factory::arange(0, static_cast<double>(in_shape[static_cast<size_t>(dim)]), 1,
                                      DType::kInt64));
  Shape pos_shape(in_shape.size(), 1);
  pos_shape[static_cast<size_t>(dim)] = in_shape[static_cast<size_t>(dim)];
  TD_ASSIGN_OR_RETURN(positions, ops::view(positions, pos_shape));
  TD_ASSIGN_OR_RETURN(Tensor mask, ops::eq(positions, idx));
  TD_ASSIGN_OR_RETURN(Tensor zero, ops::scalar_tensor(Scalar(0.0)));
  TD_ASSIGN_OR_RETURN(Tensor r, ops::where(mask, g, zero));
  return TensorList{r};
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

constexpr uint32_t kSelf = 1u;

}  // namespace

void RegisterReductionOps(std::vector<OpDef>& t) {
  t.push_back(op_util::Def("sum", "SumBackward0", "sum of all elements", OpKind::kKernel, InferSum,
                           SumForward, SumBackward));
  t.back().schema = "sum(Tensor self, *, ScalarType? dtype=None) -> Tensor";
  {
    OpDef d = op_util::Def("sum_dim", "SumBackward1", "sum over dims", OpKind::kKernel, InferSumDim,
                           SumDimForward, SumDimBackward);
    d.schema =
        "sum.dim_IntList(Tensor self, int[1]? dim, bool keepdim=False, *, ScalarType? dtype=None) "
        "-> Tensor";
    t.push_back(d);
  }
  t.push_back(op_util::Def("mean", "MeanBackward0", "mean of all elements (floating only)",
                           OpKind::kKernel, InferMean, MeanForward, MeanBackward));
  t.back().schema = "mean(Tensor self, *, ScalarType? dtype=None) -> Tensor";
  {
    OpDef d = op_util::Def("mean_dim", "MeanBackward1", "mean over dims (floating only)",
                           OpKind::kKernel, InferMeanDim, MeanDimForward, MeanDimBackward);
    d.save_inputs = 1u;  // PyTorch 1.13 keeps self (for its sizes)
    d.schema =
        "mean.dim(Tensor self, int[1]? dim, bool keepdim=False, *, ScalarType? dtype=None) -> "
        "Tensor";
    t.push_back(d);
  }
  for (bool is_max : {true, false}) {
    OpDef d = op_util::Def(is_max ? "max_dim" : "min_dim", is_max ? "MaxBackward0" : "MinBackward0",
                           is_max ? "(values, indices) of the maximum along dim"
                                  : "(values, indices) of the minimum along dim",
                           OpKind::kKernel, is_max ? InferMaxDim : InferMinDim,
                           is_max ? MaxDimForward : MinDimForward, MaxMinDimBackward);
    d.save_outputs = true;
    d.save_output_mask = 2u;  // the indices only
    d.num_outputs = 2;
    d.differentiable_outputs = 1;
    d.schema = is_max ? "max.dim(Tensor self, int dim, bool keepdim=False) -> (Tensor values, "
                        "Tensor indices)"
                      : "min.dim(Tensor self, int dim, bool keepdim=False) -> (Tensor values, "
                        "Tensor indices)";
    t.push_back(d);
  }
  t.push_back(op_util::Def("prod", "ProdBackward0", "product of all elements (integers give int64)",
                           OpKind::kKernel, InferProd, ProdForward, ProdBackward, {}, 1, kSelf,
                           true));
  t.back().schema = "prod(Tensor self, *, ScalarType? dtype=None) -> Tensor";
  {
    OpDef d = op_util::Def("prod_dim", "ProdBackward1", "product over dim (integers give int64)",
                           OpKind::kKernel, InferProdDim, ProdDimForward, ProdDimBackward, {}, 1,
                           kSelf, true);
    d.schema =
        "prod.dim_int(Tensor self, int dim, bool keepdim=False, *, ScalarType? dtype=None) -> "
        "Tensor";
    t.push_back(d);
  }
  t.push_back(op_util::Def("max", "MaxBackward1", "maximum of all elements (NaN wins)",
                           OpKind::kKernel, InferMaxAll, MaxMinAllForward<true>, MaxMinAllBackward,
                           {}, 1, kSelf, true));
  t.back().schema = "max(Tensor self) -> Tensor";
  t.push_back(op_util::Def("min", "MinBackward1", "minimum of all elements (NaN wins)",
                           OpKind::kKernel, InferMinAll, MaxMinAllForward<false>, MaxMinAllBackward,
                           {}, 1, kSelf, true));
  t.back().schema = "min(Tensor self) -> Tensor";
  for (bool is_max : {true, false}) {
    OpDef d = op_util::Def(is_max ? "argmax" : "argmin", "",
                           is_max ? "int64 index of the first maximum (flattened when dim is None)"
                                  : "int64 index of the first minimum (flattened when dim is None)",
                           OpKind::kKernel, is_max ? InferArgMax : InferArgMin,
                           is_max ? ArgMaxMinForward<true> : ArgMaxMinForward<false>, nullptr);
    d.schema = is_max ? "argmax(Tensor self, int? dim=None, bool keepdim=False) -> Tensor"
                      : "argmin(Tensor self, int? dim=None, bool keepdim=False) -> Tensor";
    t.push_back(d);
  }
  {
    OpDef d =
        op_util::Def("norm", "NormBackward1", "p-norm of all elements (torch.norm with a number p)",
                     OpKind::kKernel, InferNorm, NormForward, NormBackward, {}, 1, kSelf, true);
    d.schema = "norm.Scalar(Tensor self, Scalar p=2) -> Tensor";
    t.push_back(d);
    d.name = "norm_dim";
    d.doc = "p-norm over dims (p None: 2)";
    d.schema =
        "norm.ScalarOpt_dim(Tensor self, Scalar? p, int[1] dim, bool keepdim=False) -> Tensor";
    t.push_back(d);
  }
  {
    OpDef d =
        op_util::Def("var", "VarBackward0", "variance over dims (floating only)", OpKind::kKernel,
                     InferVarStd, VarStdForward<false>, VarBackward, {}, 1, kSelf);
    d.schema =
        "var.dim(Tensor self, int[1]? dim, bool unbiased=True, bool keepdim=False) -> Tensor";
    t.push_back(d);
  }
  {
    OpDef d = op_util::Def("std", "StdBackward0", "standard deviation over dims (floating only)",
                           OpKind::kKernel, InferVarStd, VarStdForward<true>, StdBackward, {}, 1,
                           kSelf, true);
    d.schema =
        "std.dim(Tensor self, int[1]? dim, bool unbiased=True, bool keepdim=False) -> Tensor";
    t.push_back(d);
  }
  {
    OpDef d = op_util::Def("logsumexp", "LogsumexpBackward0",
                           "log(sum(exp(self))) over dims, stably", OpKind::kKernel, InferLogsumexp,
                           LogsumexpForward, LogsumexpBackward, {}, 1, kSelf, true);
    d.schema = "logsumexp(Tensor self, int[1] dim, bool keepdim=False) -> Tensor";
    t.push_back(d);
  }
}

}  // namespace tensord
