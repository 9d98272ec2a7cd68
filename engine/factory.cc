#include "engine/factory.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"
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

// Fills t (contiguous) with gen() for each element.
template <typename Gen>
void Generate(const Tensor& t, Gen&& gen) {
  DispatchDType(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = t.data_ptr<T>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(gen(i));
  });
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
  int64_t n = 1;
  for (int64_t s : shape) {
    if (s < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("negative dimension in shape ", ShapeToString(shape)));
    }
    if (s != 0 && n > (INT64_MAX / 16) / s) {
      return absl::InvalidArgumentError(absl::StrCat("shape ", ShapeToString(shape), " overflows"));
    }
    n *= s;
  }
  const int64_t expected = n * static_cast<int64_t>(ItemSize(dtype));
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
  TD_ASSIGN_OR_RETURN(Tensor t, zeros({n, m}, opts));
  Generate(t, [&](int64_t i) {
    return (i / std::max<int64_t>(m, 1)) == (i % std::max<int64_t>(m, 1)) ? 1.0 : 0.0;
  });
  return t;
}

TensorOr arange(double start, double end, double step, std::optional<DType> dtype_opt,
                bool requires_grad) {
  if (step == 0) return absl::InvalidArgumentError("step must be nonzero");
  if (!std::isfinite(start) || !std::isfinite(end)) {
    return absl::InvalidArgumentError(absl::StrCat("unsupported range: ", start, " -> ", end));
  }
  if ((step > 0 && end < start) || (step < 0 && end > start)) {
    return absl::InvalidArgumentError("upper bound and larger bound inconsistent with step sign");
  }
  const bool integral =
      start == std::floor(start) && end == std::floor(end) && step == std::floor(step);
  const DType dtype =
      dtype_opt.value_or(integral ? DType::kInt64 : Context::Current().default_dtype());
  const double count = std::ceil((end - start) / step);
  if (count > static_cast<double>(INT64_MAX / 16)) {
    return absl::InvalidArgumentError("arange(): too many elements");
  }
  TD_ASSIGN_OR_RETURN(Tensor t, Make({static_cast<int64_t>(count)}, dtype, requires_grad));
  Generate(t, [&](int64_t i) { return start + static_cast<double>(i) * step; });
  return t;
}

TensorOr linspace(double start, double end, int64_t steps, TensorOptions opts) {
  if (steps < 0) return absl::InvalidArgumentError("number of steps must be non-negative");
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
  if (low > high) {
    return absl::InvalidArgumentError(absl::StrCat(
        "uniform_ expects to return a [from, to) range, but found from=", low, " > to=", high));
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
  TD_ASSIGN_OR_RETURN(Tensor t, Make(shape, dtype, opts.requires_grad));
  std::uniform_int_distribution<int64_t> dist(low, high - 1);
  auto& gen = Context::Current().generator();
  Generate(t, [&](int64_t) { return static_cast<double>(dist(gen)); });
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
  Generate(t, [&](int64_t i) { return static_cast<double>(perm[static_cast<size_t>(i)]); });
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
