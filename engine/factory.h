// Tensor creation, as torch.tensor / zeros / ones / full / empty / eye / arange / linspace /
// rand / randn / randint / randperm / normal / uniform and the *_like forms. Random numbers come
// from the current context's generator, so a seeded context repeats its numbers.
#pragma once

#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tensor.h"

namespace tensord::factory {

struct TensorOptions {
  std::optional<DType>
      dtype;  // default: the context's default dtype (or int64 where PyTorch infers it)
  bool requires_grad = false;
  TensorOptions& with_dtype(DType d) {
    dtype = d;
    return *this;
  }
  TensorOptions& with_requires_grad(bool r = true) {
    requires_grad = r;
    return *this;
  }
};

using TensorOr = absl::StatusOr<Tensor>;

// torch.tensor(values).reshape(shape): values are row-major.
TensorOr from_values(const std::vector<double>& values, const Shape& shape,
                     TensorOptions opts = {});
// From raw little-endian row-major bytes (the wire format); the length must match exactly.
TensorOr from_bytes(const void* data, size_t nbytes, const Shape& shape, DType dtype,
                    bool requires_grad = false);

TensorOr empty(const Shape& shape, TensorOptions opts = {});
TensorOr zeros(const Shape& shape, TensorOptions opts = {});
TensorOr ones(const Shape& shape, TensorOptions opts = {});
TensorOr full(const Shape& shape, double value, TensorOptions opts = {});
TensorOr eye(int64_t n, std::optional<int64_t> m = std::nullopt, TensorOptions opts = {});
// Without a dtype: int64 when start, end and step are integral, else the default dtype.
TensorOr arange(double start, double end, double step = 1,
                std::optional<DType> dtype = std::nullopt, bool requires_grad = false);
// arange's length for `dtype` (int64: the bounds as integers), or PyTorch's errors.
absl::StatusOr<int64_t> arange_size(double start, double end, double step, DType dtype);
TensorOr linspace(double start, double end, int64_t steps, TensorOptions opts = {});
TensorOr rand(const Shape& shape, TensorOptions opts = {});
TensorOr randn(const Shape& shape, TensorOptions opts = {});
TensorOr randint(int64_t low, int64_t high, const Shape& shape, TensorOptions opts = {});
TensorOr randperm(int64_t n, TensorOptions opts = {});
TensorOr normal(double mean, double std, const Shape& shape, TensorOptions opts = {});
TensorOr uniform(const Shape& shape, double low, double high, TensorOptions opts = {});

TensorOr empty_like(const Tensor& t, TensorOptions opts = {});
TensorOr zeros_like(const Tensor& t, TensorOptions opts = {});
TensorOr ones_like(const Tensor& t, TensorOptions opts = {});
TensorOr full_like(const Tensor& t, double value, TensorOptions opts = {});
TensorOr rand_like(const Tensor& t, TensorOptions opts = {});
TensorOr randn_like(const Tensor& t, TensorOptions opts = {});

}  // namespace tensord::factory
