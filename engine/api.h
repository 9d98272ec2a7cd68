// The engine's typed in-process API (tensord::ops), with PyTorch's names: for backward rules,
// composites and tests. Each function is a thin call into the op table through
// Apply(), so it records the graph exactly as the service's generic dispatch does.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/status_macros.h"
#include "engine/tensor.h"

namespace tensord {

// A Python number: keeps whether it was an integer, which matters for type promotion.
struct Scalar {
  Scalar(double v) : value(v), integral(false) {}  // NOLINT: implicit like a Python number
  Scalar(int v) : value(v), integral(true) {}      // NOLINT
  Scalar(int64_t v) : value(static_cast<double>(v)), integral(true) {}  // NOLINT
  double value;
  bool integral;
};

namespace ops {

using TensorOr = absl::StatusOr<Tensor>;

// Wraps a number as PyTorch does when it meets `x + 2`.
TensorOr scalar_tensor(Scalar s);

// Arithmetic (broadcasting; tensor-scalar forms wrap the scalar).
TensorOr add(const Tensor& a, const Tensor& b, Scalar alpha = 1);
TensorOr add(const Tensor& a, Scalar b);
TensorOr sub(const Tensor& a, const Tensor& b, Scalar alpha = 1);
TensorOr sub(const Tensor& a, Scalar b);
TensorOr mul(const Tensor& a, const Tensor& b);
TensorOr mul(const Tensor& a, Scalar b);
TensorOr div(const Tensor& a, const Tensor& b);
TensorOr div(const Tensor& a, Scalar b);
TensorOr pow(const Tensor& a, const Tensor& exponent);
TensorOr pow(const Tensor& a, Scalar exponent);
TensorOr neg(const Tensor& a);
TensorOr abs(const Tensor& a);
TensorOr sign(const Tensor& a);
TensorOr exp(const Tensor& a);
TensorOr log(const Tensor& a);
TensorOr sqrt(const Tensor& a);
TensorOr sin(const Tensor& a);
TensorOr cos(const Tensor& a);
TensorOr tanh(const Tensor& a);
TensorOr sigmoid(const Tensor& a);
TensorOr relu(const Tensor& a);
TensorOr clamp(const Tensor& a, std::optional<Scalar> min, std::optional<Scalar> max);
TensorOr where(const Tensor& condition, const Tensor& a, const Tensor& b);

// Comparison (bool results, not differentiable).
TensorOr eq(const Tensor& a, const Tensor& b);
TensorOr ne(const Tensor& a, const Tensor& b);
TensorOr lt(const Tensor& a, const Tensor& b);
TensorOr le(const Tensor& a, const Tensor& b);
TensorOr gt(const Tensor& a, const Tensor& b);
TensorOr ge(const Tensor& a, const Tensor& b);
TensorOr eq(const Tensor& a, Scalar b);
TensorOr ne(const Tensor& a, Scalar b);
TensorOr lt(const Tensor& a, Scalar b);
TensorOr le(const Tensor& a, Scalar b);
TensorOr gt(const Tensor& a, Scalar b);
TensorOr ge(const Tensor& a, Scalar b);

// Reductions.
TensorOr sum(const Tensor& a);
TensorOr sum(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim = false);
TensorOr mean(const Tensor& a);
TensorOr mean(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim = false);
// (values, indices) along `dim`.
absl::StatusOr<std::pair<Tensor, Tensor>> max(const Tensor& a, int64_t dim, bool keepdim = false);
absl::StatusOr<std::pair<Tensor, Tensor>> min(const Tensor& a, int64_t dim, bool keepdim = false);
// Sums `a` down to `shape` (the reverse of broadcasting).
TensorOr sum_to(const Tensor& a, const Shape& shape);

// Linear algebra.
TensorOr mm(const Tensor& a, const Tensor& b);
TensorOr bmm(const Tensor& a, const Tensor& b);
TensorOr mv(const Tensor& a, const Tensor& v);
TensorOr dot(const Tensor& a, const Tensor& b);
TensorOr matmul(const Tensor& a, const Tensor& b);

// Shapes, views and indexing.
TensorOr t(const Tensor& a);
TensorOr transpose(const Tensor& a, int64_t dim0, int64_t dim1);
TensorOr view(const Tensor& a, const Shape& shape);
TensorOr reshape(const Tensor& a, const Shape& shape);
// A view of a freshly computed tensor (reshape's copy case; grad_fn UnsafeViewBackward0).
TensorOr unsafe_view(const Tensor& a, const Shape& shape);
TensorOr unsqueeze(const Tensor& a, int64_t dim);
TensorOr squeeze(const Tensor& a);
TensorOr squeeze(const Tensor& a, int64_t dim);
TensorOr expand(const Tensor& a, const Shape& shape);
TensorOr expand_as(const Tensor& a, const Tensor& other);
TensorOr select(const Tensor& a, int64_t dim, int64_t index);
// a[..., start:end:step, ...] on `dim`; start/end clamp like Python slices.
TensorOr slice(const Tensor& a, int64_t dim, std::optional<int64_t> start,
               std::optional<int64_t> end, int64_t step = 1);
// list(a) along `dim` (iteration over dim 0 is unbind(a, 0)).
absl::StatusOr<std::vector<Tensor>> unbind(const Tensor& a, int64_t dim = 0);
TensorOr cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
TensorOr clone(const Tensor& a);
TensorOr contiguous(const Tensor& a);
TensorOr to(const Tensor& a, DType dtype);

// Losses. reduction: "mean" | "sum" | "none".
TensorOr mse_loss(const Tensor& input, const Tensor& target, const std::string& reduction = "mean");
TensorOr binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                          const std::string& reduction = "mean");

// In-place (the trailing underscore ops).
absl::Status add_(const Tensor& self, const Tensor& other, Scalar alpha = 1);
absl::Status add_(const Tensor& self, Scalar other);
absl::Status sub_(const Tensor& self, const Tensor& other, Scalar alpha = 1);
absl::Status sub_(const Tensor& self, Scalar other);
absl::Status mul_(const Tensor& self, const Tensor& other);
absl::Status mul_(const Tensor& self, Scalar other);
absl::Status div_(const Tensor& self, const Tensor& other);
absl::Status div_(const Tensor& self, Scalar other);
absl::Status zero_(const Tensor& self);
absl::Status fill_(const Tensor& self, Scalar value);
absl::Status copy_(const Tensor& self, const Tensor& src);
absl::Status clamp_(const Tensor& self, std::optional<Scalar> min, std::optional<Scalar> max);

}  // namespace ops
}  // namespace tensord
