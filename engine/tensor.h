// Tensor = storage + shape + strides + offset + dtype, plus the autograd metadata PyTorch keeps
// on a Variable. `Tensor` is a cheap, copyable handle (like at::Tensor); copies alias.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/dtype.h"
#include "engine/storage.h"

namespace tensord {

using Shape = std::vector<int64_t>;

class Node;
class Tensor;

struct TensorMeta {
  Shape shape;
  DType dtype = DType::kFloat32;
};

// The product of the sizes: exact for every tensor's shape (engine/checked_math.h keeps that
// invariant); INT64_MAX for sizes that overflow (validate user sizes with CheckedNumel).
int64_t NumElements(const Shape& shape);
Shape ContiguousStrides(const Shape& shape);
// "[2, 3]" as PyTorch prints a size list.
std::string ShapeToString(const Shape& shape);

// How a view came to be, as PyTorch's CreationMeta: in-place ops on views made in no_grad mode,
// or on the outputs of ops returning several views (unbind, split, chunk), are refused once
// autograd would have to rebase their history.
enum class CreationMeta : uint8_t { kDefault, kNoGradMode, kMultiOutputNode };

class TensorImpl {
 public:
  TensorImpl(std::shared_ptr<Storage> storage, Shape shape, Shape strides, int64_t offset,
             DType dtype, std::shared_ptr<VersionCounter> version);

  // Layout.
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;  // in elements
  int64_t offset = 0;
  DType dtype;
  std::shared_ptr<VersionCounter> version;
  // A Python number turned into a 0-dim tensor: lowest priority in type promotion.
  bool wrapped_number = false;

  // Autograd. `requires_grad` is the tensor's own flag (a leaf's requires_grad_); a tensor also
  // requires grad when it has a grad_fn or is a view of a base that does
  // (Tensor::requires_grad()).
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;
  std::shared_ptr<Node> grad_fn;  // null on leaves
  uint32_t output_nr = 0;
  std::weak_ptr<Node> grad_accumulator;
  bool retains_grad = false;
  // Differentiable views (PyTorch's DifferentiableViewMeta), set on the outputs of view ops:
  // `view_base` is the root base (never itself a view), with which the view shares storage and
  // version counter. After an in-place op on the base or on any of its views (the version moved
  // past `attr_version`), the view's grad_fn is regenerated from the base when next read
  // (AsStridedBackward0), so that every view sees the base's new history.
  bool is_view = false;
  std::shared_ptr<TensorImpl> view_base;
  CreationMeta creation_meta = CreationMeta::kDefault;
  uint32_t attr_version = 0;  // the version at which grad_fn was last set
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }

  const Shape& shape() const { return impl_->shape; }
  const Shape& strides() const { return impl_->strides; }
  int64_t dim() const { return static_cast<int64_t>(impl_->shape.size()); }
  int64_t size(int64_t d) const { return impl_->shape[static_cast<size_t>(d)]; }
  int64_t numel() const { return NumElements(impl_->shape); }
  DType dtype() const { return impl_->dtype; }
  int64_t storage_offset() const { return impl_->offset; }
  int64_t nbytes() const { return numel() * static_cast<int64_t>(ItemSize(dtype())); }
  TensorMeta meta() const { return {impl_->shape, impl_->dtype}; }
  bool is_contiguous() const;
  uint32_t version() const { return impl_->version->value; }
  void bump_version() const { ++impl_->version->value; }

  // A tensor of a metadata-only context (ContextOptions::meta): it has no bytes to read.
  bool is_meta() const;
  // Pointer to element [0, 0, ...] (storage offset applied); null for a meta tensor.
  char* raw_data() const;
  template <typename T>
  T* data_ptr() const {
    return reinterpret_cast<T*>(raw_data());
  }

  // Autograd metadata.
  // Own flag, or a grad_fn, or a view of a base that requires grad (PyTorch's requires_grad()).
  bool requires_grad() const;
  // x.requires_grad = flag, with PyTorch's checks (floating leaf only).
  absl::Status set_requires_grad(bool flag) const;
  // x.requires_grad_(flag): like set_requires_grad, except that requires_grad_(True) on a
  // non-leaf is a no-op, as in PyTorch.
  absl::Status requires_grad_(bool flag = true) const;
  bool is_leaf() const { return grad_fn() == nullptr; }
  // The node that produced this tensor (null on leaves). A view whose base or another view of
  // its base was modified in place since gets a regenerated one (AsStridedBackward0) first; where
  // PyTorch refuses that (a view made in no_grad mode or by unbind/split/chunk), this returns the
  // stale node and grad_fn_or_error() returns PyTorch's error.
  const std::shared_ptr<Node>& grad_fn() const;
  absl::StatusOr<std::shared_ptr<Node>> grad_fn_or_error() const;
  // Whether this is a differentiable view (PyTorch's _is_view()), and its root base (_base).
  bool is_view() const { return impl_->is_view; }
  Tensor base() const;
  uint32_t output_nr() const { return impl_->output_nr; }
  // .grad: undefined when None.
  Tensor grad() const { return Tensor(impl_->grad); }
  // x.grad = g (undefined g means None); checks shape and dtype as PyTorch does.
  absl::Status set_grad(const Tensor& grad) const;
  absl::Status retain_grad() const;
  bool retains_grad() const { return impl_->retains_grad; }

  // detach(): shares storage and version counter, no history, requires_grad=False, not a view.
  Tensor detach() const;
  // detach_(): drops the history in place; refused on views, as in PyTorch.
  absl::Status detach_() const;
  // x.data = new_data: takes new_data's storage, shape, strides, offset and dtype; keeps its own
  // version counter, history, .grad and flags (PyTorch's set_data).
  absl::Status set_data(const Tensor& new_data) const;
  // .data: shares storage but NOT the version counter, so writes through it go unnoticed by
  // autograd, exactly as in PyTorch.
  Tensor data() const;

  // Value of a one-element tensor, converted to T.
  template <typename T>
  absl::StatusOr<T> item() const;
  // Element at a full index (negative indices count from the end).
  absl::StatusOr<double> ElementAt(const std::vector<int64_t>& index) const;
  // Row-major copy of the values, converted to T (tolist() flattened).
  template <typename T>
  std::vector<T> ToVector() const;

  // PyTorch's repr: "tensor([1., 2.], requires_grad=True)".
  std::string ToString() const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// Allocates an uninitialised contiguous tensor, charged to the current context. Negative sizes
// and sizes whose element count or byte size overflows int64 are INVALID_ARGUMENT.
absl::StatusOr<Tensor> EmptyTensor(const Shape& shape, DType dtype);
// Wraps a scalar as PyTorch wraps a Python number (0-dim, wrapped_number=true).
absl::StatusOr<Tensor> WrapScalar(double value, DType dtype);
// A new tensor sharing `base`'s storage and version counter with another layout. A view without
// elements gets base's offset (its own may be meaningless: engine/checked_math.h).
Tensor MakeView(const Tensor& base, Shape shape, Shape strides, int64_t offset);

// Reads element `i` (flat storage index relative to the data pointer) converted to double.
double ReadAsDouble(const char* p, DType dtype);
void WriteFromDouble(char* p, DType dtype, double v);

}  // namespace tensord
