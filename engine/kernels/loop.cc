#include "engine/kernels/loop.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "engine/checked_math.h"

namespace tensord::kernels {

Shape BroadcastStrides(const Tensor& t, const Shape& out_shape) {
  const size_t nd = out_shape.size();
  const size_t td = t.shape().size();
  Shape strides(nd, 0);
  for (size_t i = 0; i < td; ++i) {
    const size_t d = nd - td + i;
    strides[d] = (t.shape()[i] == 1 && out_shape[d] != 1) ? 0 : t.strides()[i];
  }
  return strides;
}

namespace {
template <typename To, typename From>
To Convert(From v) {
  if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (std::is_integral_v<To> && std::is_floating_point_v<From>) {
    // Out-of-range and NaN conversions are undefined in C++; saturate instead.
    if (std::isnan(v)) return To(0);
    if (v >= static_cast<From>(std::numeric_limits<To>::max()))
      return std::numeric_limits<To>::max();
    if (v <= static_cast<From>(std::numeric_limits<To>::min()))
      return std::numeric_limits<To>::min();
    return static_cast<To>(v);
  } else {
    return static_cast<To>(v);
  }
}
}  // namespace

void CopyInto(const Tensor& dst, const Tensor& src) {
  DispatchDType(dst.dtype(), [&](auto dt) {
    using D = typename decltype(dt)::type;
    DispatchDType(src.dtype(), [&](auto st) {
      using S = typename decltype(st)::type;
      Map<D, S>(dst, src, [](S v) { return Convert<D, S>(v); });
    });
  });
}

void Fill(const Tensor& dst, double value) {
  DispatchDType(dst.dtype(), [&](auto dt) {
    using D = typename decltype(dt)::type;
    const D v = Convert<D, double>(value);
    const Shape& shape = dst.shape();
    StridedLoop<1>(shape, {dst.raw_data()}, {dst.strides()}, {static_cast<int64_t>(sizeof(D))},
                   [&](char** p, const int64_t* s, int64_t n) {
                     for (int64_t i = 0; i < n; ++i) *reinterpret_cast<D*>(p[0] + i * s[0]) = v;
                   });
  });
}

void SumToKeepdim(const Tensor& out, const Tensor& in) {
  const int64_t count = out.numel();
  std::vector<double> acc(static_cast<size_t>(count), 0.0);
  // Accumulator strides: contiguous over out's shape, 0 where out has size 1 but in does not.
  Shape acc_strides = ContiguousStrides(out.shape());
  for (size_t d = 0; d < acc_strides.size(); ++d)
    if (out.shape()[d] == 1) acc_strides[d] = 0;
  DispatchDType(in.dtype(), [&](auto it) {
    using I = typename decltype(it)::type;
    StridedLoop<2>(in.shape(), {reinterpret_cast<char*>(acc.data()), in.raw_data()},
                   {acc_strides, in.strides()},
                   {static_cast<int64_t>(sizeof(double)), static_cast<int64_t>(sizeof(I))},
                   [&](char** p, const int64_t* s, int64_t n) {
                     if (s[0] == 0) {
                       double sum = 0;
                       if (s[1] == sizeof(I)) {
                         const I* x = reinterpret_cast<const I*>(p[1]);
                         for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]);
                       } else {
                         for (int64_t i = 0; i < n; ++i)
                           sum += static_cast<double>(*reinterpret_cast<const I*>(p[1] + i * s[1]));
                       }
                       *reinterpret_cast<double*>(p[0]) += sum;
                     } else {
                       for (int64_t i = 0; i < n; ++i)
                         *reinterpret_cast<double*>(p[0] + i * s[0]) +=
                             static_cast<double>(*reinterpret_cast<const I*>(p[1] + i * s[1]));
                     }
                   });
  });
  DispatchDType(out.dtype(), [&](auto ot) {
    using O = typename decltype(ot)::type;
    int64_t i = 0;
    const Shape& shape = out.shape();
    StridedLoop<1>(shape, {out.raw_data()}, {out.strides()}, {static_cast<int64_t>(sizeof(O))},
                   [&](char** p, const int64_t* s, int64_t n) {
                     for (int64_t k = 0; k < n; ++k)
                       *reinterpret_cast<O*>(p[0] + k * s[0]) =
                           Convert<O, double>(acc[static_cast<size_t>(i++)]);
                   });
  });
}

void MaxMinAlongDim(const Tensor& values, const Tensor& indices, const Tensor& in, int64_t dim,
                    bool is_max) {
  const int64_t len = in.shape()[static_cast<size_t>(dim)];
  const int64_t step = in.strides()[static_cast<size_t>(dim)];
  Shape in_strides = in.strides();
  in_strides[static_cast<size_t>(dim)] = 0;
  DispatchDType(in.dtype(), [&](auto it) {
    using T = typename decltype(it)::type;
    StridedLoop<3>(values.shape(), {values.raw_data(), indices.raw_data(), in.raw_data()},
                   {values.strides(), indices.strides(), in_strides},
                   {static_cast<int64_t>(sizeof(T)), 8, static_cast<int64_t>(sizeof(T))},
                   [&](char** p, const int64_t* s, int64_t n) {
                     for (int64_t i = 0; i < n; ++i) {
                       PollCancellation(len);
                       const T* x = reinterpret_cast<const T*>(p[2] + i * s[2]);
                       T best = x[0];
                       int64_t best_j = 0;
                       for (int64_t j = 1; j < len; ++j) {
                         const T v = x[j * step];
                         if constexpr (std::is_floating_point_v<T>) {
                           if (std::isnan(best)) break;
                           if (std::isnan(v)) {
                             best = v;
                             best_j = j;
                             break;
                           }
                         }
                         if (is_max ? (v > best) : (v < best)) {
                           best = v;
                           best_j = j;
                         }
                       }
                       *reinterpret_cast<T*>(p[0] + i * s[0]) = best;
                       *reinterpret_cast<int64_t*>(p[1] + i * s[1]) = best_j;
                     }
                   });
  });
}

namespace {
// Transient working memory of a kernel: not charged to any context, freed on return.
Tensor ScratchTensor(const Shape& shape, DType dtype) {
  auto storage = Storage::Allocate(NumElements(shape) * static_cast<int64_t>(ItemSize(dtype)),
                                   std::make_shared<MemoryAccount>());
  return Tensor(std::make_shared<TensorImpl>(*std::move(storage), shape, ContiguousStrides(shape),
                                             0, dtype, std::make_shared<VersionCounter>()));
}

// How a 2-D operand can be handed to BLAS without a copy.
struct BlasOperand {
  bool ok = false;
  CBLAS_TRANSPOSE trans = CblasNoTrans;
  int64_t ld = 0;
};
BlasOperand AsBlas(const Tensor& t) {
  const int64_t rows = t.shape()[0], cols = t.shape()[1];
  const int64_t s0 = t.strides()[0], s1 = t.strides()[1];
  if ((s1 == 1 || cols == 1) && s0 >= std::max<int64_t>(cols, 1)) return {true, CblasNoTrans, s0};
  if ((s0 == 1 || rows == 1) && s1 >= std::max<int64_t>(rows, 1)) return {true, CblasTrans, s1};
  return {};
}
}  // namespace

void MatMul2D(const Tensor& out, const Tensor& a, const Tensor& b) {
  const int64_t m = a.shape()[0], k = a.shape()[1], n = b.shape()[1];
  if (m == 0 || n == 0) return;
  if (k == 0) {
    Fill(out, 0);
    return;
  }
  const DType dt = out.dtype();
  if (dt == DType::kInt64 || dt == DType::kBool) {
    DispatchDType(dt, [&](auto tt) {
      using T = typename decltype(tt)::type;
      T* o = out.data_ptr<T>();
      const T* x = a.data_ptr<T>();
      const T* y = b.data_ptr<T>();
      const int64_t as0 = a.strides()[0], as1 = a.strides()[1];
      const int64_t bs0 = b.strides()[0], bs1 = b.strides()[1];
      for (int64_t i = 0; i < m; ++i) {
        PollCancellation(n * k);
        for (int64_t j = 0; j < n; ++j) {
          int64_t acc = 0;
          // int64 products and sums wrap around, as PyTorch's do (no undefined behaviour).
          for (int64_t p = 0; p < k; ++p)
            acc = WrappingAdd(acc, WrappingMul(static_cast<int64_t>(x[i * as0 + p * as1]),
                                               static_cast<int64_t>(y[p * bs0 + j * bs1])));
          o[i * n + j] = static_cast<T>(acc);
        }
      }
    });
    return;
  }
  BlasOperand ba = AsBlas(a), bb = AsBlas(b);
  // Operands BLAS cannot read in place are copied to contiguous scratch first.
  Tensor ac = a, bc = b;
  if (!ba.ok) {
    ac = ScratchTensor(a.shape(), dt);
    CopyInto(ac, a);
    ba = {true, CblasNoTrans, k};
  }
  if (!bb.ok) {
    bc = ScratchTensor(b.shape(), dt);
    CopyInto(bc, b);
    bb = {true, CblasNoTrans, n};
  }
  // BLAS cannot be interrupted: large products run as panels of rows (each about 2^29
  // multiply-adds, tens of milliseconds) with a cancellation check between panels.
  const int64_t row_work = std::max<int64_t>(k * n, 1);
  const int64_t panel = std::max<int64_t>(64, (int64_t{1} << 29) / row_work);
  // Row i of a starts at i*lda (no transpose) or at column i, i.e. offset i (transposed).
  const int64_t a_row_step = ba.trans == CblasNoTrans ? ba.ld : 1;
  for (int64_t r0 = 0; r0 < m; r0 += panel) {
    const int64_t rows = std::min(panel, m - r0);
    PollCancellation(rows * row_work);
    if (dt == DType::kFloat32) {
      cblas_sgemm(CblasRowMajor, ba.trans, bb.trans, static_cast<int>(rows), static_cast<int>(n),
                  static_cast<int>(k), 1.0f, ac.data_ptr<float>() + r0 * a_row_step,
                  static_cast<int>(ba.ld), bc.data_ptr<float>(), static_cast<int>(bb.ld), 0.0f,
                  out.data_ptr<float>() + r0 * n, static_cast<int>(n));
    } else {
      cblas_dgemm(CblasRowMajor, ba.trans, bb.trans, static_cast<int>(rows), static_cast<int>(n),
                  static_cast<int>(k), 1.0, ac.data_ptr<double>() + r0 * a_row_step,
                  static_cast<int>(ba.ld), bc.data_ptr<double>(), static_cast<int>(bb.ld), 0.0,
                  out.data_ptr<double>() + r0 * n, static_cast<int>(n));
    }
  }
}

}  // namespace tensord::kernels
