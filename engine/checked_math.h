// Integer arithmetic on sizes, element counts, strides, offsets and byte sizes that cannot
// overflow silently, and range-checked conversion of user numbers (doubles) to integers.
//
// Every shape rule, element count and allocation size in the engine goes through these helpers.
// The invariant they keep: every tensor that exists has non-negative sizes whose product, with a
// size of 0 counted as 1, fits in int64 (so its contiguous strides and every partial product of
// its sizes are exact), and whose element count times its item size fits in int64.
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "engine/dtype.h"

namespace tensord {

// ---- checked: true and *out set when the exact result fits in int64, false otherwise ---------

[[nodiscard]] inline bool CheckedMul(int64_t a, int64_t b, int64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}
[[nodiscard]] inline bool CheckedAdd(int64_t a, int64_t b, int64_t* out) {
  return !__builtin_add_overflow(a, b, out);
}
[[nodiscard]] inline bool CheckedSub(int64_t a, int64_t b, int64_t* out) {
  return !__builtin_sub_overflow(a, b, out);
}

// ---- saturating (estimates, limits): the exact result, or INT64_MAX / INT64_MIN ---------------

inline int64_t SaturatingMul(int64_t a, int64_t b) {
  int64_t r;
  if (CheckedMul(a, b, &r)) return r;
  return (a < 0) != (b < 0) ? INT64_MIN : INT64_MAX;
}
inline int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t r;
  if (CheckedAdd(a, b, &r)) return r;
  return b < 0 ? INT64_MIN : INT64_MAX;
}

// ---- wrapping: PyTorch's int64 arithmetic, without undefined behaviour -----------------------
// For int64 tensor values (add, mul, sum wrap around as in PyTorch) and for view strides and
// offsets: those are exact whenever the view has elements (they address a storage whose byte
// size fits in int64) and only wrap where the value is never used (an empty view, a size-1 dim).

inline int64_t WrappingMul(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
}
inline int64_t WrappingAdd(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}
inline int64_t WrappingSub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}
inline int64_t WrappingNeg(int64_t a) { return WrappingSub(0, a); }
// The stride of a view dim that advances `factor` base strides (slice's step, unsqueeze's size):
// exact whenever the dim has two or more elements in a view with elements; where the product does
// not fit (an empty view, a dim of size 1) the stride is never used and stays the base stride, so
// a view's strides are never negative.
inline int64_t ViewStride(int64_t stride, int64_t factor) {
  int64_t r;
  return CheckedMul(stride, factor, &r) ? r : stride;
}
// base + index * stride, for view offsets.
inline int64_t ViewOffset(int64_t base, int64_t index, int64_t stride) {
  return WrappingAdd(base, WrappingMul(index, stride));
}

// Integer division and remainder with C's truncation, defined for every pair with b != 0:
// INT64_MIN / -1 wraps to INT64_MIN (as negation does) and INT64_MIN % -1 is 0, where the
// hardware instruction would trap (SIGFPE).
inline int64_t TruncDiv(int64_t a, int64_t b) { return b == -1 ? WrappingNeg(a) : a / b; }
inline int64_t TruncMod(int64_t a, int64_t b) { return b == -1 ? 0 : a % b; }
// Python's floor division and modulus (the remainder takes the divisor's sign), b != 0.
inline int64_t FloorDiv(int64_t a, int64_t b) {
  if (b == -1) return WrappingNeg(a);
  const int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
inline int64_t FloorMod(int64_t a, int64_t b) {
  if (b == -1) return 0;
  const int64_t r = a % b;
  return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}

// ceil(a / b) for a >= 0 and b > 0, without the overflow of (a + b - 1) / b.
inline int64_t CeilDiv(int64_t a, int64_t b) { return a == 0 ? 0 : 1 + (a - 1) / b; }

// ---- shapes ----------------------------------------------------------------------------------

// PyTorch's texts.
inline constexpr absl::string_view kNumelOverflow = "numel: integer multiplication overflow";

inline std::string SizesString(std::span<const int64_t> sizes) {
  return absl::StrCat("[", absl::StrJoin(sizes, ", "), "]");
}

// The product of `sizes` when it fits in int64, else nullopt. A size of 0 gives 0.
inline std::optional<int64_t> CheckedProduct(std::span<const int64_t> sizes) {
  int64_t n = 1;
  bool overflow = false;
  for (int64_t s : sizes) {
    if (s == 0) return 0;
    overflow |= !CheckedMul(n, s, &n);
  }
  if (overflow) return std::nullopt;
  return n;
}

// The product of `sizes` with 0 counted as 1 (a tensor's loop extent, the largest contiguous
// stride), when it fits in int64.
inline std::optional<int64_t> CheckedExtent(std::span<const int64_t> sizes) {
  int64_t n = 1;
  for (int64_t s : sizes) {
    if (s != 0 && !CheckedMul(n, s, &n)) return std::nullopt;
  }
  return n;
}

inline absl::Status NegativeDimensionError(std::span<const int64_t> sizes) {
  for (int64_t s : sizes) {
    if (s < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Trying to create tensor with negative dimension ", s, ": ", SizesString(sizes)));
    }
  }
  return absl::OkStatus();
}

// The element count of a shape that a tensor may have: sizes non-negative, the element count
// and the product of the sizes with 0 counted as 1 both in int64. PyTorch's messages.
inline absl::StatusOr<int64_t> CheckedNumel(std::span<const int64_t> sizes) {
  if (absl::Status s = NegativeDimensionError(sizes); !s.ok()) return s;
  const std::optional<int64_t> numel = CheckedProduct(sizes);
  if (!numel) return absl::InvalidArgumentError(kNumelOverflow);
  if (!CheckedExtent(sizes)) {
    return absl::InvalidArgumentError(
        absl::StrCat(kNumelOverflow, ": the sizes ", SizesString(sizes),
                     " multiply past int64 even with the size 0 counted as 1"));
  }
  return *numel;
}

// The byte size of a contiguous tensor of `sizes` and `dtype`, for allocation: negative sizes,
// and then any overflow (element count, size product, bytes), refused with PyTorch's messages.
inline absl::StatusOr<int64_t> CheckedNbytes(std::span<const int64_t> sizes, DType dtype) {
  if (absl::Status s = NegativeDimensionError(sizes); !s.ok()) return s;
  const std::optional<int64_t> numel = CheckedProduct(sizes);
  int64_t bytes = 0;
  if (!numel || !CheckedExtent(sizes) ||
      !CheckedMul(*numel, static_cast<int64_t>(ItemSize(dtype)), &bytes)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Storage size calculation overflowed with sizes=", SizesString(sizes)));
  }
  return bytes;
}

// Validates the shape of a tensor an op is about to return (views included): CheckedNumel, and
// the element count times the item size in int64 (so that nbytes() is exact).
inline absl::Status CheckTensorShape(std::span<const int64_t> sizes, DType dtype) {
  absl::StatusOr<int64_t> numel = CheckedNumel(sizes);
  if (!numel.ok()) return numel.status();
  int64_t bytes;
  if (!CheckedMul(*numel, static_cast<int64_t>(ItemSize(dtype)), &bytes)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Storage size calculation overflowed with sizes=", SizesString(sizes)));
  }
  return absl::OkStatus();
}

// At most this many output tensors per op call (unbind, split, chunk): each output is a tensor
// object whose memory no account sees, so the count is bounded like a size.
inline constexpr int64_t kMaxOutputs = int64_t{1} << 16;

inline absl::Status CheckOutputCount(absl::string_view op, int64_t count) {
  if (count > kMaxOutputs) {
    return absl::InvalidArgumentError(absl::StrCat(op, "(): ", count,
                                                   " output tensors exceed tensord's limit of ",
                                                   kMaxOutputs, " tensors per call"));
  }
  return absl::OkStatus();
}

// ---- doubles to integers ----------------------------------------------------------------------

// 2^63 is exactly representable; every double in [-2^63, 2^63) converts to int64 exactly after
// truncation. NaN is outside.
inline bool DoubleFitsInt64(double v) {
  return v >= -9223372036854775808.0 && v < 9223372036854775808.0;
}

// trunc(v) as int64, or nullopt for NaN, infinities and values outside int64.
inline std::optional<int64_t> DoubleToInt64(double v) {
  if (!DoubleFitsInt64(v)) return std::nullopt;
  return static_cast<int64_t>(v);
}

// trunc(v) as int64, saturating (NaN gives 0): for kernels, after the shape rule has refused
// what PyTorch refuses.
inline int64_t SaturatingDoubleToInt64(double v) {
  if (std::isnan(v)) return 0;
  if (v >= 9223372036854775808.0) return INT64_MAX;
  if (v < -9223372036854775808.0) return INT64_MIN;
  return static_cast<int64_t>(v);
}

// v as a T (a tensor element): bool is v != 0, int64 truncates and saturates (NaN gives 0).
// Callers refuse what PyTorch refuses first (CheckConvertible); this only keeps the conversion
// defined.
template <typename T>
T SaturatingFromDouble(double v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v != 0;
  } else if constexpr (std::is_same_v<T, int64_t>) {
    return SaturatingDoubleToInt64(v);
  } else {
    return static_cast<T>(v);
  }
}

// A user number `v` that is to become a value of `dtype`: PyTorch's overflow errors ("value cannot
// be converted to type int64_t without overflow"; float32 refuses finite values beyond its range;
// bool and float64 take anything).
inline absl::Status CheckConvertible(double v, DType dtype) {
  if (dtype == DType::kInt64 && !DoubleFitsInt64(v)) {
    return absl::InvalidArgumentError("value cannot be converted to type int64_t without overflow");
  }
  if (dtype == DType::kFloat32 && std::isfinite(v) && std::fabs(v) > 3.4028234663852886e38) {
    return absl::InvalidArgumentError("value cannot be converted to type float without overflow");
  }
  return absl::OkStatus();
}

}  // namespace tensord
