// A small TensorIterator: walks N strided operands over one shape, coalescing dimensions so
// that contiguous data becomes one flat loop the compiler can vectorize.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "engine/cancel.h"
#include "engine/tensor.h"

namespace tensord::kernels {

// Dims inside kernels live on the stack: no allocation per call for ranks up to 6.
using DimVec = absl::InlinedVector<int64_t, 6>;

// Element strides of `t` broadcast to `out_shape` (0 on broadcast dimensions).
Shape BroadcastStrides(const Tensor& t, const Shape& out_shape);

inline DimVec BroadcastStridesInline(const Tensor& t, const Shape& out_shape) {
  const size_t nd = out_shape.size();
  const size_t td = t.shape().size();
  DimVec strides(nd, 0);
  for (size_t i = 0; i < td; ++i) {
    const size_t d = nd - td + i;
    strides[d] = (t.shape()[i] == 1 && out_shape[d] != 1) ? 0 : t.strides()[i];
  }
  return strides;
}

// Calls inner(char* ptrs[N], const int64_t byte_strides[N], int64_t n) for each innermost run.
// `strides[k]` are element strides of operand k over `shape`; `item[k]` its element size.
template <size_t N, typename StridesT = Shape, typename Inner>
void StridedLoop(const Shape& shape, std::array<char*, N> ptrs,
                 const std::array<StridesT, N>& strides, const std::array<int64_t, N>& item,
                 Inner&& inner) {
  for (int64_t s : shape)
    if (s == 0) return;
  // Drop size-1 dims and coalesce dims that are contiguous for every operand.
  DimVec dims;
  std::array<DimVec, N> st;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (!dims.empty()) {
      bool mergeable = true;
      for (size_t k = 0; k < N; ++k)
        if (st[k].back() != strides[k][d] * shape[d]) mergeable = false;
      if (mergeable) {
        dims.back() *= shape[d];
        for (size_t k = 0; k < N; ++k) st[k].back() = strides[k][d];
        continue;
      }
    }
    dims.push_back(shape[d]);
    for (size_t k = 0; k < N; ++k) st[k].push_back(strides[k][d]);
  }
  std::array<int64_t, N> inner_strides{};
  if (dims.empty()) {
    inner(ptrs.data(), inner_strides.data(), 1);
    return;
  }
  const size_t nd = dims.size();
  for (size_t k = 0; k < N; ++k) {
    inner_strides[k] = st[k][nd - 1] * item[k];
    for (size_t d = 0; d < nd; ++d) st[k][d] *= item[k];
  }
  const int64_t n = dims[nd - 1];
  // One innermost run, cut into pieces of at most kPollInterval elements so that a cancelled or
  // timed-out command stops between pieces (engine/cancel.h).
  constexpr int64_t kPiece = cancel_internal::kPollInterval;
  auto run = [&](std::array<char*, N>& p) {
    if (n <= kPiece) {
      PollCancellation(n);
      inner(p.data(), inner_strides.data(), n);
      return;
    }
    std::array<char*, N> q = p;
    for (int64_t done = 0; done < n; done += kPiece) {
      const int64_t len = std::min(kPiece, n - done);
      PollCancellation(len);
      inner(q.data(), inner_strides.data(), len);
      for (size_t k = 0; k < N; ++k) q[k] += len * inner_strides[k];
    }
  };
  if (nd == 1) {
    run(ptrs);
    return;
  }
  DimVec counter(nd - 1, 0);
  while (true) {
    run(ptrs);
    int64_t d = static_cast<int64_t>(nd) - 2;
    for (; d >= 0; --d) {
      ++counter[d];
      for (size_t k = 0; k < N; ++k) ptrs[k] += st[k][d];
      if (counter[d] < dims[d]) break;
      for (size_t k = 0; k < N; ++k) ptrs[k] -= st[k][d] * dims[d];
      counter[d] = 0;
    }
    if (d < 0) break;
  }
}

// out[i] = f(a[i]) with out of type O and a of type A; `a` broadcasts to out.
template <typename O, typename A, typename F>
void Map(const Tensor& out, const Tensor& a, F f) {
  const Shape& shape = out.shape();
  StridedLoop<2, DimVec>(
      shape, {out.raw_data(), a.raw_data()},
      {DimVec(out.strides().begin(), out.strides().end()), BroadcastStridesInline(a, shape)},
      {static_cast<int64_t>(sizeof(O)), static_cast<int64_t>(sizeof(A))},
      [&](char** p, const int64_t* s, int64_t n) {
        if (s[0] == sizeof(O) && s[1] == sizeof(A)) {
          O* o = reinterpret_cast<O*>(p[0]);
          const A* x = reinterpret_cast<const A*>(p[1]);
          for (int64_t i = 0; i < n; ++i) o[i] = f(x[i]);
        } else {
          for (int64_t i = 0; i < n; ++i)
            *reinterpret_cast<O*>(p[0] + i * s[0]) =
                f(*reinterpret_cast<const A*>(p[1] + i * s[1]));
        }
      });
}

// out[i] = f(a[i], b[i]) with broadcasting of a and b to out.
template <typename O, typename A, typename B, typename F>
void Map2(const Tensor& out, const Tensor& a, const Tensor& b, F f) {
  const Shape& shape = out.shape();
  StridedLoop<3, DimVec>(shape, {out.raw_data(), a.raw_data(), b.raw_data()},
                         {DimVec(out.strides().begin(), out.strides().end()),
                          BroadcastStridesInline(a, shape), BroadcastStridesInline(b, shape)},
                         {static_cast<int64_t>(sizeof(O)), static_cast<int64_t>(sizeof(A)),
                          static_cast<int64_t>(sizeof(B))},
                         [&](char** p, const int64_t* s, int64_t n) {
                           if (s[0] == sizeof(O) && s[1] == sizeof(A) && s[2] == sizeof(B)) {
                             O* o = reinterpret_cast<O*>(p[0]);
                             const A* x = reinterpret_cast<const A*>(p[1]);
                             const B* y = reinterpret_cast<const B*>(p[2]);
                             for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
                           } else if (s[0] == sizeof(O) && s[1] == sizeof(A) && s[2] == 0) {
                             O* o = reinterpret_cast<O*>(p[0]);
                             const A* x = reinterpret_cast<const A*>(p[1]);
                             const B y = *reinterpret_cast<const B*>(p[2]);
                             for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], y);
                           } else {
                             for (int64_t i = 0; i < n; ++i)
                               *reinterpret_cast<O*>(p[0] + i * s[0]) =
                                   f(*reinterpret_cast<const A*>(p[1] + i * s[1]),
                                     *reinterpret_cast<const B*>(p[2] + i * s[2]));
                           }
                         });
}

// out[i] = f(a[i], b[i], c[i]) with broadcasting.
template <typename O, typename A, typename B, typename C, typename F>
void Map3(const Tensor& out, const Tensor& a, const Tensor& b, const Tensor& c, F f) {
  const Shape& shape = out.shape();
  StridedLoop<4, DimVec>(
      shape, {out.raw_data(), a.raw_data(), b.raw_data(), c.raw_data()},
      {DimVec(out.strides().begin(), out.strides().end()), BroadcastStridesInline(a, shape),
       BroadcastStridesInline(b, shape), BroadcastStridesInline(c, shape)},
      {static_cast<int64_t>(sizeof(O)), static_cast<int64_t>(sizeof(A)),
       static_cast<int64_t>(sizeof(B)), static_cast<int64_t>(sizeof(C))},
      [&](char** p, const int64_t* s, int64_t n) {
        for (int64_t i = 0; i < n; ++i)
          *reinterpret_cast<O*>(p[0] + i * s[0]) = f(*reinterpret_cast<const A*>(p[1] + i * s[1]),
                                                     *reinterpret_cast<const B*>(p[2] + i * s[2]),
                                                     *reinterpret_cast<const C*>(p[3] + i * s[3]));
      });
}

// Copies src (broadcast to dst's shape) into dst, converting the dtype.
void CopyInto(const Tensor& dst, const Tensor& src);
// Sets every element of dst to value.
void Fill(const Tensor& dst, double value);

// Sums `in` into `out` where `out` has in's rank with size 1 on the reduced dims
// (keepdim layout). Accumulates in double.
void SumToKeepdim(const Tensor& out_keepdim, const Tensor& in);

// values/indices (keepdim layout) of the max (or min) of `in` along `dim`. NaN wins.
void MaxMinAlongDim(const Tensor& values, const Tensor& indices, const Tensor& in, int64_t dim,
                    bool is_max);

// out = a @ b for 2-D a [m,k], b [k,n] of one floating or int64 dtype; out contiguous [m,n].
void MatMul2D(const Tensor& out, const Tensor& a, const Tensor& b);

}  // namespace tensord::kernels
