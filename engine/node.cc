#include "engine/node.h"

#include <atomic>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/api.h"
#include "engine/context.h"
#include "engine/status_macros.h"

namespace tensord {
namespace {
std::atomic<uint64_t> next_sequence_nr{0};

constexpr char kSecondBackwardMessage[] =
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you "
    "call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward "
    "through the graph a second time or if you need to access saved tensors after calling "
    "backward.";
}  // namespace

SavedVariable::SavedVariable(const Tensor& tensor, bool is_output)
    : meta_(tensor.meta()),
      defined_(true),
      is_output_(is_output),
      requires_grad_(tensor.requires_grad()),
      saved_version_(tensor.version()),
      output_nr_(tensor.output_nr()),
      version_(tensor.impl()->version) {
  if (is_output) {
    // Keep the data without the grad_fn: the node owning this saved output is that grad_fn.
    data_ = Tensor(std::make_shared<TensorImpl>(tensor.impl()->storage, tensor.shape(),
                                                tensor.strides(), tensor.storage_offset(),
                                                tensor.dtype(), tensor.impl()->version));
  } else {
    data_ = tensor;
  }
}

absl::StatusOr<Tensor> SavedVariable::Unpack(const std::shared_ptr<Node>& owner) const {
  if (!data_.defined()) return absl::FailedPreconditionError(kSecondBackwardMessage);
  // PyTorch reads a saved input's current history first, which fails for a view that can no
  // longer be used with autograd.
  if (!is_output_) TD_RETURN_IF_ERROR(data_.grad_fn_or_error().status());
  if (version_->value != saved_version_) {
    std::string which;
    if (is_output_ && owner) {
      which = absl::StrCat(", which is output ", output_nr_, " of ", owner->name(), ",");
    } else if (const std::shared_ptr<Node>& current = data_.grad_fn()) {
      // PyTorch names the saved tensor's history as it is now (the in-place op that changed it).
      which = absl::StrCat(", which is output ", output_nr_, " of ", current->name(), ",");
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "one of the variables needed for gradient computation has been modified by an inplace "
        "operation: [",
        LegacyTypeName(data_.dtype()), " ", ShapeToString(data_.shape()), "]", which,
        " is at version ", version_->value, "; expected version ", saved_version_,
        " instead. Hint: enable anomaly detection to find the operation that failed to compute "
        "its gradient, with torch.autograd.set_detect_anomaly(True)."));
  }
  if (is_output_ && requires_grad_ && owner) {
    // Re-attach the history so that double backward through a saved output works.
    auto impl = std::make_shared<TensorImpl>(*data_.impl());
    impl->grad_fn = owner;
    impl->output_nr = output_nr_;
    impl->requires_grad = true;
    return Tensor(std::move(impl));
  }
  return data_;
}

Node::Node() : sequence_nr_(next_sequence_nr.fetch_add(1, std::memory_order_relaxed)) {}

void Node::AddRetainedGrad(uint32_t output_nr, std::weak_ptr<TensorImpl> tensor) {
  retained_.emplace_back(output_nr, std::move(tensor));
}

void Node::RemoveRetainedGrad(const TensorImpl* tensor) {
  std::erase_if(retained_, [&](const auto& entry) {
    const std::shared_ptr<TensorImpl> t = entry.second.lock();
    return t == nullptr || t.get() == tensor;
  });
}

AccumulateGrad::AccumulateGrad(std::shared_ptr<TensorImpl> variable)
    : variable_(std::move(variable)) {
  input_meta_.push_back({variable_->shape, variable_->dtype});
}

absl::StatusOr<std::vector<Tensor>> AccumulateGrad::Apply(std::vector<Tensor> grads) {
  Tensor grad = std::move(grads[0]);
  if (!grad.defined()) return std::vector<Tensor>{};
  Tensor variable(variable_);
  // A leaf that stopped requiring grad (detach_(), requires_grad_(False)) takes none, as in
  // PyTorch.
  if (!variable.requires_grad()) return std::vector<Tensor>{};
  Tensor old = variable.grad();
  if (GradModeEnabled()) {
    // create_graph: keep the gradient's own history so it can be differentiated again.
    Context::Current().RememberGradWithHistory(variable_);
    if (!old.defined()) {
      variable_->grad = grad.impl_ptr();
    } else {
      TD_ASSIGN_OR_RETURN(Tensor sum, ops::add(old, grad));
      variable_->grad = sum.impl_ptr();
    }
    return std::vector<Tensor>{};
  }
  if (!old.defined()) {
    // Steal the buffer when nothing else can see it; otherwise store a private copy.
    const bool unique = grad.impl_ptr().use_count() == 1 && grad.impl()->storage.use_count() == 1 &&
                        grad.is_contiguous() && grad.storage_offset() == 0 && !grad.requires_grad();
    if (unique) {
      variable_->grad = grad.impl_ptr();
    } else {
      TD_ASSIGN_OR_RETURN(Tensor copy, ops::clone(grad.detach()));
      variable_->grad = copy.impl_ptr();
    }
    return std::vector<Tensor>{};
  }
  if (old.requires_grad()) {
    TD_ASSIGN_OR_RETURN(Tensor sum, ops::add(old, grad));
    variable_->grad = sum.impl_ptr();
  } else {
    TD_RETURN_IF_ERROR(ops::add_(old, grad));
  }
  return std::vector<Tensor>{};
}

std::shared_ptr<Node> GradAccumulator(const Tensor& leaf) {
  std::shared_ptr<Node> node = leaf.impl()->grad_accumulator.lock();
  if (!node) {
    node = std::make_shared<AccumulateGrad>(leaf.impl_ptr());
    leaf.impl()->grad_accumulator = node;
  }
  return node;
}

Edge GradientEdge(const Tensor& t) {
  if (!t.defined()) return {};
  if (t.grad_fn()) return {t.grad_fn(), t.output_nr()};
  // Only a tensor's own flag makes an accumulator: a view made in no_grad mode of a tensor that
  // requires grad requires grad too, but gradients stop there (as in PyTorch).
  if (t.impl()->requires_grad) return {GradAccumulator(t), 0};
  return {};
}

std::string DisplayName(const Node& node) {
  std::string name = node.name();
  constexpr absl::string_view kPrefix = "torch::autograd::";
  if (absl::StartsWith(name, kPrefix)) name.erase(0, kPrefix.size());
  return name;
}

}  // namespace tensord
