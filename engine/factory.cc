#include "engine/factory.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"
#include "engine/checked_math.h"
#include "engine/context.h"
#include "engine/kernels/loop.h"
#include "engine/status_macros.h"

namespace tensord::factory {
namespace {

DType Resolve(const TensorOptions& o) {
  return o.dtype.value_or(Context::Current().default_dtype());
}

absl::Status CheckRequiresGrad(DType dtype, bool requires_grad) {
  if (requires_grad && !IsFloating(dtype)) {
    return absl::InvalidArgumentError(
        "Only Tensors of floating point and complex dtype can require gradients");
  }
  return absl::OkStatus();
}

TensorOr Make(const Shape& shape, DType dtype, bool requires_grad) {
  TD_RETURN_IF_ERROR(CheckRequiresGrad(dtype, requires_grad));
  TD_ASSIGN_OR_RETURN(Tensor t, EmptyTensor(shape, dtype));
  t.impl()->requires_grad = requires_grad;
  return t;
}

// Fills t (contiguous) with gen(i) for each element i. gen returns a double, or an int64 for
// values that must not go through double (int64 arange).
template <typename Gen>
void Generate(const Tensor& t, Gen&& gen) {
  DispatchDType(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = t.data_ptr<T>();
    const int64_t n = t.numel();
    for (int64_t i = 0; i < n; ++i) {
      const auto v = gen(i);
      if constexpr (std::is_same_v<decltype(v), const int64_t>) {
        p[i] = std::is_same_v<T, bool> ? static_cast<T>(v != 0) : static_cast<T>(v);
      } else {
        p[i] = SaturatingFromDouble<T>(v);
      }
    }
  });
}

// A fill value that becomes a value of `dtype`: PyTorch's overflow errors (CheckConvertible),
// except that 2^63 (INT64_MAX once it went through a double, as this API's values do) fills an
// int64 tensor with INT64_MAX.
absl::Status CheckFillFor(double v, DType dtype) {
  if (dtype == DType::kInt64 && v == 9223372036854775808.0) return absl::OkStatus();
  return CheckConvertible(v, dtype);
}

absl::Status CheckFloating(absl::string_view op, DType dtype) {
  if (!IsFloating(dtype)) {
    return absl::InvalidArgumentError(
        absl::StrCat(op, "() expects a floating point dtype, got ", TorchDTypeName(dtype)));
  }
  return absl::OkStatus();
}

}  // namespace

TensorOr from_values(const std::vector<double>& values, const Shape& shape, TensorOptions opts) {
  const DType dtype = Resolve(opts);
  TD_ASSIGN_OR_RETURN(Tensor t, Make(shape, dtype, opts.requires_grad));
  if (static_cast<int64_t>(values.size()) != t.numel()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "shape '", ShapeToString(shape), "' is invalid for input of size ", values.size()));
  }
  Generate(t, [&](int64_t i) { return values[static_cast<size_t>(i)]; });
  return t;
}

TensorOr from_bytes(const void* data, size_t nbytes, const Shape& shape, DType dtype,
                    bool requires_grad) {
  TD_ASSIGN_OR_RETURN(const int64_t expected, CheckedNbytes(shape, dtype));
  const int64_t n = expected / static_cast<int64_t>(ItemSize(dtype));
  if (static_cast<int64_t>(nbytes) != expected) {
    return absl::InvalidArgumentError(absl::StrCat("tensor data has ", nbytes, " bytes but shape ",
                                                   ShapeToString(shape), " of ",
                                                   TorchDTypeName(dtype), " needs ", expected));
  }
  TD_ASSIGN_OR_RETURN(Tensor t, Make(shape, dtype, requires_grad));
  if (nbytes > 0) std::memcpy(t.raw_data(), data, nbytes);
  if (dtype == DType::kBool) {
    // Any non-zero byte is True; normalise so kernels can rely on 0/1.
    auto* p = reinterpret_cast<unsigned char*>(t.raw_data());
    for (int64_t i = 0; i < n; ++i) p[i] = p[i] != 0;
  }
  return t;
}

TensorOr empty(const Shape& shape, TensorOptions opts) {
  return Make(shape, Resolve(opts), opts.requires_grad);
}

TensorOr full(const Shape& shape, double value, TensorOptions opts) {
  TD_RETURN_IF_ERROR(CheckFillFor(value, Resolve(opts)));
  TD_ASSIGN_OR_RETURN(Tensor t, Make(shape, Resolve(opts), opts.requires_grad));
  kernels::Fill(t, value);
  return t;
}

TensorOr zeros(const Shape& shape, TensorOptions opts) { return full(shape, 0, opts); }
TensorOr ones(const Shape& shape, TensorOptions opts) { return full(shape, 1, opts); }

TensorOr eye(int64_t n, std::optional<int64_t> m_opt, TensorOptions opts) {
  const int64_t m = m_opt.value_or(n);
  if (n < 0)
    return absl::InvalidArgumentError(absl::StrCat("n must be greater or equal to 0, got ", n));
  if (m < 0)
    return absl::InvalidArgumentError(absl::StrCat("m must be greater or equal to 0, got ", m));
  const Shape shape{n, m};
  TD_RETURN_IF_ERROR(CheckedNumel(shape).status());  // PyTorch's eye: "numel: ... overflow"
  TD_ASSIGN_OR_RETURN(Tensor t, zeros(shape, opts));
  Generate(t, [&](int64_t i) {
    return (i / std::max<int64_t>(m, 1)) == (i % std::max<int64_t>(m, 1)) ? 1.0 : 0.0;
  });
  return t;
}

absl::StatusOr<int64_t> arange_size(double start, double end, double step, DType dtype) {
  if (dtype == DType::kBool) {
    return absl::InvalidArgumentError("\"arange_cpu\" not implemented for 'Bool'");
  }
  double count;  // the length, checked below before it becomes an integer
  if (dtype == DType::kInt64) {
    // As PyTorch: the bounds become int64 first (NaN, infinities and values beyond int64 are
    // refused; fractions truncate, so a step of 0.5 is 0), and the length comes from them.
    TD_RETURN_IF_ERROR(CheckConvertible(start, dtype));
    TD_RETURN_IF_ERROR(CheckConvertible(end, dtype));
    TD_RETURN_IF_ERROR(CheckConvertible(step, dtype));
    const auto istart = static_cast<int64_t>(start);
    const auto istep = static_cast<int64_t>(step);
    const auto iend = static_cast<int64_t>(end);
    if (istep == 0) return absl::InvalidArgumentError("step must be nonzero");
    if ((istep > 0 && iend < istart) || (istep < 0 && iend > istart)) {
      return absl::InvalidArgumentError("upper bound and larger bound inconsistent with step sign");
    }
    // The exact length ceil((end - start) / step), in unsigned arithmetic: the span of two
    // int64 values fits in uint64 (PyTorch's int64 subtraction overflows there).
    const uint64_t span = istep > 0 ? static_cast<uint64_t>(iend) - static_cast<uint64_t>(istart)
                                    : static_cast<uint64_t>(istart) - static_cast<uint64_t>(iend);
    const uint64_t stride =
        istep > 0 ? static_cast<uint64_t>(istep) : 0 - static_cast<uint64_t>(istep);
    count = static_cast<double>(span == 0 ? 0 : 1 + (span - 1) / stride);
  } else {
    if (!(step > 0 || step < 0)) return absl::InvalidArgumentError("step must be nonzero");
    if (!std::isfinite(start) || !std::isfinite(end)) {
      return absl::InvalidArgumentError(absl::StrCat("unsupported range: ", start, " -> ", end));
    }
    if (!std::isfinite(step)) return absl::InvalidArgumentError("arange(): step must be finite");
    if ((step > 0 && end < start) || (step < 0 && end > start)) {
      return absl::InvalidArgumentError("upper bound and larger bound inconsistent with step sign");
    }
    count = std::ceil((end - start) / step);
  }
  if (!(count >= 0 && count < 9223372036854775808.0)) {
    return absl::InvalidArgumentError("invalid size, possible overflow?");
  }
  return static_cast<int64_t>(count);
}

TensorOr arange(double start, double end, double step, std::optional<DType> dtype_opt,
                bool requires_grad) {
  auto whole = [](double v) { return std::isfinite(v) && v == std::floor(v); };
  const bool integral = whole(start) && whole(end) && whole(step);
  const DType dtype =
      dtype_opt.value_or(integral ? DType::kInt64 : Context::Current().default_dtype());
  TD_ASSIGN_OR_RETURN(const int64_t count, arange_size(start, end, step, dtype));
  TD_ASSIGN_OR_RETURN(Tensor t, Make({count}, dtype, requires_grad));
  if (dtype == DType::kInt64) {
    // In int64, exactly (through double, integers beyond 2^53 would be rounded); every value
    // lies between start and end.
    const auto istart = static_cast<int64_t>(start);
    const auto istep = static_cast<int64_t>(step);
    Generate(t, [&](int64_t i) -> int64_t { return WrappingAdd(istart, WrappingMul(i, istep)); });
  } else {
    Generate(t, [&](int64_t i) { return start + static_cast<double>(i) * step; });
  }
  return t;
}

TensorOr linspace(double start, double end, int64_t steps, TensorOptions opts) {
  if (steps < 0) return absl::InvalidArgumentError("number of steps must be non-negative");
  TD_RETURN_IF_ERROR(CheckConvertible(start, Resolve(opts)));
  TD_RETURN_IF_ERROR(CheckConvertible(end, Resolve(opts)));
  TD_ASSIGN_OR_RETURN(Tensor t, Make({steps}, Resolve(opts), opts.requires_grad));
  const double step = steps > 1 ? (end - start) / static_cast<double>(steps - 1) : 0;
  // Like PyTorch, fill the second half from the end so that the last value is exactly `end`.
  const int64_t half = steps / 2;
  Generate(t, [&](int64_t i) {
    if (steps == 1) return start;
    return i < half ? start + step * static_cast<double>(i)
                    : end - step * static_cast<double>(steps - i - 1);
  });
  return t;
}

TensorOr uniform(const Shape& shape, double low, double high, TensorOptions opts) {
  const DType dtype = Resolve(opts);
  TD_RETURN_IF_ERROR(CheckFloating("uniform", dtype));
  // PyTorch's bounds checks: both within the dtype's finite range, and their difference too
  // (std::uniform_real_distribution needs that as well).
  const double limit = dtype == DType::kFloat32 ? 3.4028234663852886e38 : DBL_MAX;
  const char* type_name = dtype == DType::kFloat32 ? "float" : "double";
  if (!(low >= -limit && low <= limit)) {
    return absl::InvalidArgumentError(absl::StrCat("from is out of bounds for ", type_name));
  }
  if (!(high >= -limit && high <= limit)) {
    return absl::InvalidArgumentError(absl::StrCat("to is out of bounds for ", type_name));
  }
  if (low > high) {
    return absl::InvalidArgumentError(absl::StrCat(
        "uniform_ expects to return a [from, to) range, but found from=", low, " > to=", high));
  }
  if (!(high - low <= limit)) {
    return absl::InvalidArgumentError(
        absl::StrCat("uniform_ expects to-from <= std::numeric_limits<",
                     dtype == DType::kFloat32 ? "Float" : "Double", ">::max(), but found to=", high,
                     " and from=", low, " which result in to-from to exceed the limit"));
  }
  TD_ASSIGN_OR_RETURN(Tensor t, Make(shape, dtype, opts.requires_grad));
  std::uniform_real_distribution<double> dist(low, high);
  auto& gen = Context::Current().generator();
  Generate(t, [&](int64_t) { return dist(gen); });
  return t;
}

TensorOr rand(const Shape& shape, TensorOptions opts) { return uniform(shape, 0, 1, opts); }

TensorOr normal(double mean, double std, const Shape& shape, TensorOptions opts) {
  const DType dtype = Resolve(opts);
  TD_RETURN_IF_ERROR(CheckFloating("normal", dtype));
  if (!(std >= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("normal expects std >= 0.0, but found std ", std));
  }
  TD_ASSIGN_OR_RETURN(Tensor t, Make(shape, dtype, opts.requires_grad));
  std::normal_distribution<double> dist(mean, std);
  auto& gen = Context::Current().generator();
  Generate(t, [&](int64_t) { return dist(gen); });
  return t;
}

TensorOr randn(const Shape& shape, TensorOptions opts) { return normal(0, 1, shape, opts); }

TensorOr randint(int64_t low, int64_t high, const Shape& shape, TensorOptions opts) {
  if (low >= high) {
    return absl::InvalidArgumentError(absl::StrCat(
        "random_ expects 'from' to be less than 'to', but got from=", low, " >= to=", high));
  }
  const DType dtype = opts.dtype.value_or(DType::kInt64);
  if (dtype == DType::kBool) {  // PyTorch's bounds for a bool result
    if (low < 0 || low > 1) return absl::InvalidArgumentError("from is out of bounds for bool");
    if (high - 1 > 1) return absl::InvalidArgumentError("to - 1 is out of bounds for bool");
  }
  TD_ASSIGN_OR_RETURN(Tensor t, Make(shape, dtype, opts.requires_grad));
  std::uniform_int_distribution<int64_t> dist(low, high - 1);
  auto& gen = Context::Current().generator();
  Generate(t, [&](int64_t) -> int64_t { return dist(gen); });
  return t;
}

TensorOr randperm(int64_t n, TensorOptions opts) {
  if (n < 0)
    return absl::InvalidArgumentError(
        absl::StrCat("n must be non-negative, got", n));  // PyTorch's text
  const DType dtype = opts.dtype.value_or(DType::kInt64);
  TD_ASSIGN_OR_RETURN(Tensor t, Make({n}, dtype, opts.requires_grad));
  std::vector<int64_t> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), Context::Current().generator());
  Generate(t, [&](int64_t i) -> int64_t { return perm[static_cast<size_t>(i)]; });
  return t;
}

namespace {
TensorOptions LikeOptions(const Tensor& t, TensorOptions opts) {
  if (!opts.dtype) opts.dtype = t.dtype();
  return opts;
}
}  // namespace

TensorOr empty_like(const Tensor& t, TensorOptions o) {
  return empty(t.shape(), LikeOptions(t, o));
}
TensorOr zeros_like(const Tensor& t, TensorOptions o) {
  return zeros(t.shape(), LikeOptions(t, o));
}
TensorOr ones_like(const Tensor& t, TensorOptions o) { return ones(t.shape(), LikeOptions(t, o)); }
TensorOr full_like(const Tensor& t, double v, TensorOptions o) {
  return full(t.shape(), v, LikeOptions(t, o));
}
TensorOr rand_like(const Tensor& t, TensorOptions o) { return rand(t.shape(), LikeOptions(t, o)); }
TensorOr randn_like(const Tensor& t, TensorOptions o) {
  return randn(t.shape(), LikeOptions(t, o));
}

}  // namespace tensord::factory
