#include "engine/tensor.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/checked_math.h"
#include "engine/context.h"
#include "engine/node.h"
#include "engine/status_macros.h"
#include "engine/views.h"

namespace tensord {

int64_t NumElements(const Shape& shape) {
  // Exact for every tensor's shape (engine/checked_math.h); saturates for sizes no tensor has.
  return CheckedProduct(shape).value_or(INT64_MAX);
}

Shape ContiguousStrides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t s = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = s;
    // Exact for a tensor's shape (its size product with 0 counted as 1 fits in int64).
    s = WrappingMul(s, std::max<int64_t>(shape[i], 1));
  }
  return strides;
}

std::string ShapeToString(const Shape& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

TensorImpl::TensorImpl(std::shared_ptr<Storage> storage_in, Shape shape_in, Shape strides_in,
                       int64_t offset_in, DType dtype_in,
                       std::shared_ptr<VersionCounter> version_in)
    : storage(std::move(storage_in)),
      shape(std::move(shape_in)),
      strides(std::move(strides_in)),
      offset(offset_in),
      dtype(dtype_in),
      version(std::move(version_in)) {}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (size_t i = impl_->shape.size(); i-- > 0;) {
    if (impl_->shape[i] == 1) continue;
    if (impl_->strides[i] != expected) return false;
    expected = WrappingMul(expected, impl_->shape[i]);
  }
  return true;
}

bool Tensor::is_meta() const { return impl_->storage->is_meta(); }

char* Tensor::raw_data() const {
  if (impl_->storage->is_meta()) return nullptr;
  return static_cast<char*>(impl_->storage->data()) +
         impl_->offset * static_cast<int64_t>(ItemSize(impl_->dtype));
}

absl::Status Tensor::set_requires_grad(bool flag) const {
  if (!is_leaf()) {
    return absl::FailedPreconditionError(
        flag ? "you can only change requires_grad flags of leaf variables."
             : "you can only change requires_grad flags of leaf variables. If you want to use a "
               "computed variable in a subgraph that doesn't require differentiation use "
               "var_no_grad = var.detach().");
  }
  if (flag && !IsFloating(dtype())) {
    return absl::InvalidArgumentError("only Tensors of floating point dtype can require gradients");
  }
  impl_->requires_grad = flag;
  return absl::OkStatus();
}

bool Tensor::requires_grad() const {
  if (impl_->requires_grad || impl_->grad_fn != nullptr) return true;
  return impl_->is_view && impl_->view_base != nullptr &&
         (impl_->view_base->requires_grad || impl_->view_base->grad_fn != nullptr);
}

absl::Status Tensor::requires_grad_(bool flag) const {
  if (flag && !is_leaf()) return absl::OkStatus();  // PyTorch: a no-op on a non-leaf
  return set_requires_grad(flag);
}

const std::shared_ptr<Node>& Tensor::grad_fn() const {
  if (impl_->is_view) RefreshViewGradFn(*this).IgnoreError();
  return impl_->grad_fn;
}

absl::StatusOr<std::shared_ptr<Node>> Tensor::grad_fn_or_error() const {
  if (impl_->is_view) TD_RETURN_IF_ERROR(RefreshViewGradFn(*this));
  return impl_->grad_fn;
}

Tensor Tensor::base() const { return impl_->is_view ? Tensor(impl_->view_base) : Tensor(); }

absl::Status Tensor::set_grad(const Tensor& grad) const {
  if (!grad.defined()) {
    impl_->grad.reset();
    return absl::OkStatus();
  }
  if (grad.dtype() != dtype()) {
    return absl::InvalidArgumentError("assigned grad has data of a different type");
  }
  if (grad.shape() != shape()) {
    return absl::InvalidArgumentError("assigned grad has data of a different size");
  }
  // The grad may refer back to this tensor: x.grad = x, x.grad = x.detach() (its view base),
  // x.grad = f(x) (through its graph), a.grad = b with b.grad = a. Such reference cycles would
  // outlive the session, so the context remembers the tensor and resets its .grad when it goes
  // away (as for the grads of backward(create_graph=True)).
  Context::Current().RememberGradWithHistory(impl_);
  impl_->grad = grad.impl_ptr();
  return absl::OkStatus();
}

absl::Status Tensor::retain_grad() const {
  if (!requires_grad()) {
    return absl::FailedPreconditionError(
        "can't retain_grad on Tensor that has requires_grad=False");
  }
  if (is_leaf() || impl_->retains_grad) return absl::OkStatus();  // leaves always keep .grad
  impl_->grad_fn->AddRetainedGrad(impl_->output_nr, impl_);
  impl_->retains_grad = true;
  return absl::OkStatus();
}

Tensor Tensor::detach() const {
  // As in PyTorch, a detached tensor shares storage and version counter but is not a
  // (differentiable) view: in-place ops on it never touch the original's history.
  return Tensor(std::make_shared<TensorImpl>(impl_->storage, impl_->shape, impl_->strides,
                                             impl_->offset, impl_->dtype, impl_->version));
}

absl::Status Tensor::detach_() const {
  if (impl_->is_view) {
    return absl::FailedPreconditionError(
        "Can't detach views in-place. Use detach() instead. If you are using "
        "DistributedDataParallel (DDP) for training, and gradient_as_bucket_view is set as True, "
        "gradients are views of DDP buckets, and hence detach_() cannot be called on these "
        "gradients. To fix this error, please refer to the Optimizer.zero_grad() function in "
        "torch/optim/optimizer.py as the solution.");
  }
  impl_->grad_fn.reset();
  impl_->output_nr = 0;
  impl_->requires_grad = false;
  return absl::OkStatus();
}

absl::Status Tensor::set_data(const Tensor& new_data) const {
  if (!new_data.defined()) {
    return absl::InvalidArgumentError("set_data(): new data is undefined (None)");
  }
  if (requires_grad() && !IsFloating(new_data.dtype())) {
    return absl::InvalidArgumentError(
        "data set to a tensor that requires gradients must be floating point or complex dtype");
  }
  TensorImpl& dst = *impl_;
  const TensorImpl& src = *new_data.impl();
  // PyTorch drops an accumulator made for another dtype (not for another shape: gradients are
  // then checked against the old one).
  if (dst.dtype != src.dtype) dst.grad_accumulator.reset();
  dst.storage = src.storage;
  dst.shape = src.shape;
  dst.strides = src.strides;
  dst.offset = src.offset;
  dst.dtype = src.dtype;
  return absl::OkStatus();
}

Tensor Tensor::data() const {
  return Tensor(std::make_shared<TensorImpl>(impl_->storage, impl_->shape, impl_->strides,
                                             impl_->offset, impl_->dtype,
                                             std::make_shared<VersionCounter>()));
}

double ReadAsDouble(const char* p, DType dtype) {
  return DispatchDType(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    return static_cast<double>(*reinterpret_cast<const T*>(p));
  });
}

void WriteFromDouble(char* p, DType dtype, double v) {
  DispatchDType(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, bool>) {
      *reinterpret_cast<T*>(p) = v != 0;
    } else if constexpr (std::is_same_v<T, int64_t>) {
      *reinterpret_cast<T*>(p) = SaturatingDoubleToInt64(v);  // NaN, inf, 2^63: no UB
    } else {
      *reinterpret_cast<T*>(p) = static_cast<T>(v);
    }
  });
}

namespace {
// S -> T without undefined behaviour: a floating value saturates into int64 (NaN gives 0).
template <typename T, typename S>
T ConvertValue(S v) {
  if constexpr (std::is_same_v<T, int64_t> && std::is_floating_point_v<S>) {
    return SaturatingDoubleToInt64(static_cast<double>(v));
  } else {
    return static_cast<T>(v);
  }
}
}  // namespace

template <typename T>
absl::StatusOr<T> Tensor::item() const {
  if (numel() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("only one element tensors can be converted to Python scalars (a Tensor with ",
                     numel(), " elements cannot be converted to Scalar)"));
  }
  return DispatchDType(dtype(), [&](auto tag) -> T {
    using S = typename decltype(tag)::type;
    return ConvertValue<T, S>(*reinterpret_cast<const S*>(raw_data()));
  });
}

absl::StatusOr<double> Tensor::ElementAt(const std::vector<int64_t>& index) const {
  if (static_cast<int64_t>(index.size()) != dim()) {
    return absl::InvalidArgumentError(absl::StrCat("expected ", dim(),
                                                   " indices for a tensor of size ",
                                                   ShapeToString(shape()), ", got ", index.size()));
  }
  int64_t offset = 0;
  for (size_t d = 0; d < index.size(); ++d) {
    int64_t i = index[d];
    const int64_t n = impl_->shape[d];
    if (i < -n || i >= n) {
      return absl::OutOfRangeError(
          absl::StrCat("index ", i, " is out of bounds for dimension ", d, " with size ", n));
    }
    if (i < 0) i += n;
    offset += i * impl_->strides[d];
  }
  return ReadAsDouble(raw_data() + offset * static_cast<int64_t>(ItemSize(dtype())), dtype());
}

template <typename T>
std::vector<T> Tensor::ToVector() const {
  std::vector<T> out;
  out.reserve(static_cast<size_t>(numel()));
  const int64_t n = numel();
  if (n == 0) return out;
  DispatchDType(dtype(), [&](auto tag) {
    using S = typename decltype(tag)::type;
    const S* base = data_ptr<S>();
    std::vector<int64_t> idx(shape().size(), 0);
    for (int64_t k = 0; k < n; ++k) {
      int64_t off = 0;
      for (size_t d = 0; d < idx.size(); ++d) off += idx[d] * impl_->strides[d];
      out.push_back(ConvertValue<T, S>(base[off]));
      for (size_t d = idx.size(); d-- > 0;) {
        if (++idx[d] < impl_->shape[d]) break;
        idx[d] = 0;
      }
    }
  });
  return out;
}

template absl::StatusOr<float> Tensor::item<float>() const;
template absl::StatusOr<double> Tensor::item<double>() const;
template absl::StatusOr<int64_t> Tensor::item<int64_t>() const;
template absl::StatusOr<bool> Tensor::item<bool>() const;
template std::vector<float> Tensor::ToVector<float>() const;
template std::vector<double> Tensor::ToVector<double>() const;
template std::vector<int64_t> Tensor::ToVector<int64_t>() const;
template std::vector<bool> Tensor::ToVector<bool>() const;

absl::StatusOr<Tensor> EmptyTensor(const Shape& shape, DType dtype) {
  absl::StatusOr<int64_t> nbytes = CheckedNbytes(shape, dtype);
  if (!nbytes.ok()) return nbytes.status();
  Context& context = Context::Current();
  std::shared_ptr<Storage> storage;
  if (context.meta()) {
    storage = Storage::Meta(*nbytes);
  } else {
    TD_ASSIGN_OR_RETURN(storage, Storage::Allocate(*nbytes, context.memory_ptr()));
  }
  return Tensor(std::make_shared<TensorImpl>(std::move(storage), shape, ContiguousStrides(shape), 0,
                                             dtype, std::make_shared<VersionCounter>()));
}

absl::StatusOr<Tensor> WrapScalar(double value, DType dtype) {
  auto t = EmptyTensor({}, dtype);
  if (!t.ok()) return t.status();
  if (!t->impl()->storage->is_meta()) WriteFromDouble(t->raw_data(), dtype, value);
  t->impl()->wrapped_number = true;
  return t;
}

Tensor MakeView(const Tensor& base, Shape shape, Shape strides, int64_t offset) {
  // A view without elements keeps its base's offset: whatever offset its (never used) strides
  // led to, raw_data() then still points into the storage.
  if (NumElements(shape) == 0) offset = base.storage_offset();
  auto impl =
      std::make_shared<TensorImpl>(base.impl()->storage, std::move(shape), std::move(strides),
                                   offset, base.dtype(), base.impl()->version);
  impl->is_view = true;
  impl->view_base = base.impl()->view_base ? base.impl()->view_base : base.impl_ptr();
  impl->attr_version = impl->version->value;
  return Tensor(std::move(impl));
}

}  // namespace tensord
