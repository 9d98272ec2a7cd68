// Helpers the reduction-like families share (reduce.cc, scan.cc, softmax.cc): reduced dims as a
// mask, reduced shapes, un-reducing a gradient for broadcasting, and loops over the kept or the
// reduced elements. Internal to engine/ops.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/api.h"
#include "engine/checked_math.h"
#include "engine/kernels/loop.h"
#include "engine/ops/op_util.h"
#include "engine/status_macros.h"

namespace tensord::reduce_util {

using DimMask = std::vector<bool>;

// sum/prod/cumsum: integers and bool accumulate to int64.
inline DType AccumulateDType(DType t) { return IsFloating(t) ? t : DType::kInt64; }

// Reduced dims as a mask; an empty list means every dim. PyTorch's duplicate-dim message.
inline absl::StatusOr<DimMask> DimsMask(int64_t ndim, const std::vector<int64_t>& dims) {
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
inline absl::StatusOr<DimMask> OptionalDimsMask(const Attrs& attrs, int64_t ndim) {
  if (!attrs.Has("dim")) return DimMask(static_cast<size_t>(ndim), true);
  return DimsMask(ndim, attrs.Ints("dim"));
}

inline DimMask SingleDimMask(int64_t ndim, int64_t dim) {
  DimMask mask(static_cast<size_t>(ndim), false);
  if (ndim > 0) mask[static_cast<size_t>(dim)] = true;
  return mask;
}

inline Shape ReducedShape(const Shape& in, const DimMask& mask, bool keepdim) {
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

inline int64_t ReducedCount(const Shape& in, const DimMask& mask) {
  Shape reduced;
  for (size_t d = 0; d < in.size(); ++d)
    if (mask[d]) reduced.push_back(in[d]);
  return NumElements(reduced);  // a part of a tensor's shape: exact
}

inline std::vector<int64_t> MaskDims(const DimMask& mask) {
  std::vector<int64_t> dims;
  for (size_t d = 0; d < mask.size(); ++d)
    if (mask[d]) dims.push_back(static_cast<int64_t>(d));
  return dims;
}

// `t` (contiguous) seen with rank `in_shape.size()`: size 1 on every reduced dim. Shares storage.
inline Tensor KeepdimAlias(const Tensor& t, const Shape& in_shape, const DimMask& mask) {
  Shape kd = ReducedShape(in_shape, mask, /*keepdim=*/true);
  return Tensor(std::make_shared<TensorImpl>(t.impl()->storage, kd, ContiguousStrides(kd), 0,
                                             t.dtype(), t.impl()->version));
}

// A reduced gradient (or result) given back its reduced dims as size 1, for broadcasting
// against the input (PyTorch's unsqueeze_multiple).
inline absl::StatusOr<Tensor> Unreduce(Tensor g, const DimMask& mask, bool keepdim) {
  if (keepdim) return g;
  for (size_t d = 0; d < mask.size(); ++d) {
    if (mask[d]) {
      TD_ASSIGN_OR_RETURN(g, ops::unsqueeze(g, static_cast<int64_t>(d)));
    }
  }
  return g;
}

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

inline bool AnyZero(const Tensor& t) {
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

}  // namespace tensord::reduce_util
