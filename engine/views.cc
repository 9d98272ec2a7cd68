#include "engine/views.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "engine/api.h"
#include "engine/context.h"
#include "engine/dispatch.h"
#include "engine/ops/op_util.h"
#include "engine/status_macros.h"

namespace tensord {
namespace {

// handle_view_on_rebase: why a view made in no_grad mode or by a multi-output op cannot take
// part in an in-place op ("is being" modified: direct; its base or a sibling was: indirect).
absl::Status ViewRebaseError(const TensorImpl& view, bool indirect) {
  const std::string modified =
      indirect ? "its base or another view of its base has been" : "is being";
  std::string msg;
  if (view.grad_fn) {
    if (view.creation_meta == CreationMeta::kNoGradMode) {
      // PyTorch 1.13 trips an internal assert here (a view of a no_grad view, made in grad mode):
      // its text, as the RuntimeError PyTorch raises, but not INTERNAL — tensord is not broken.
      return absl::FailedPreconditionError(
          "!grad_fn INTERNAL ASSERT FAILED at \"./torch/csrc/autograd/variable.cpp\":792, please "
          "report a bug to PyTorch. ");
    }
    msg = absl::StrCat("Output ", view.output_nr, " of ", DisplayName(*view.grad_fn),
                       " is a view and ", modified, " modified inplace.");
  } else {
    msg = absl::StrCat("A view was created in no_grad mode and ", modified,
                       " modified inplace with grad mode enabled.");
  }
  if (view.creation_meta == CreationMeta::kMultiOutputNode) {
    absl::StrAppend(&msg,
                    " This view is the output of a function that returns multiple views. Such "
                    "functions do not allow the output views to be modified inplace. You should "
                    "replace the inplace operation by an out-of-place one.");
  } else {
    absl::StrAppend(&msg,
                    " Given that this use case is ambiguous and error-prone, it is forbidden. You "
                    "can clarify your code by moving both the view and the inplace either both "
                    "inside the no_grad block (if you don't want the inplace to be tracked) or "
                    "both outside (if you want the inplace to be tracked).");
  }
  return absl::FailedPreconditionError(msg);
}

// new_empty_strided: uninitialised, with `strides`, storage offset 0.
absl::StatusOr<Tensor> EmptyStrided(const Shape& shape, const Shape& strides, DType dtype) {
  int64_t extent = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 0) {
      extent = 0;
      break;
    }
    extent += (shape[d] - 1) * strides[d];
  }
  TD_ASSIGN_OR_RETURN(std::shared_ptr<Storage> storage,
                      Storage::Allocate(extent * static_cast<int64_t>(ItemSize(dtype)),
                                        Context::Current().memory_ptr()));
  return Tensor(std::make_shared<TensorImpl>(std::move(storage), shape, strides, 0, dtype,
                                             std::make_shared<VersionCounter>()));
}

// Dense without overlap: the strides are a permutation of contiguous strides (size-1 dims
// aside).
bool NonOverlappingAndDense(const Tensor& t) {
  std::vector<size_t> dims;
  for (size_t d = 0; d < t.shape().size(); ++d) {
    if (t.shape()[d] != 1) dims.push_back(d);
  }
  std::sort(dims.begin(), dims.end(),
            [&](size_t a, size_t b) { return t.strides()[a] < t.strides()[b]; });
  int64_t expected = 1;
  for (size_t d : dims) {
    if (t.strides()[d] != expected) return false;
    expected *= t.shape()[d];
  }
  return true;
}

// retain_grad() follows the tensor to its new history (PyTorch 1.13 moves the hook when an
// in-place op rebases a tensor or a view's grad_fn is regenerated).
void MoveRetainedGrad(const Tensor& t, const std::shared_ptr<Node>& old_fn) {
  TensorImpl* impl = t.impl();
  if (!impl->retains_grad || impl->grad_fn == old_fn) return;
  if (old_fn) old_fn->RemoveRetainedGrad(impl);
  if (impl->grad_fn) impl->grad_fn->AddRetainedGrad(impl->output_nr, t.impl_ptr());
}

}  // namespace

absl::Status RefreshViewGradFn(const Tensor& view) {
  TensorImpl* impl = view.impl();
  if (!impl->is_view || impl->view_base == nullptr) return absl::OkStatus();
  const Tensor base(impl->view_base);
  if (impl->grad_fn == nullptr && !base.requires_grad()) return absl::OkStatus();
  if (impl->attr_version == impl->version->value) return absl::OkStatus();
  if (impl->creation_meta != CreationMeta::kDefault) return ViewRebaseError(*impl, true);
  // The view's elements, read from the base by storage position: one AsStridedBackward0 for the
  // whole chain of view ops, as PyTorch does on CPU.
  AutoGradMode grad_mode(true);
  Attrs attrs;
  attrs.Set("size", impl->shape);
  attrs.Set("stride", impl->strides);
  attrs.Set("storage_offset", impl->offset);
  TD_ASSIGN_OR_RETURN(const OpDef* as_strided, FindOp("as_strided"));
  TD_ASSIGN_OR_RETURN(std::vector<Tensor> regenerated,
                      ApplyRecording(*as_strided, {base}, attrs, {{impl->shape, impl->dtype}}));
  const std::shared_ptr<Node> old_fn = impl->grad_fn;
  impl->grad_fn = regenerated[0].impl()->grad_fn;
  impl->output_nr = 0;
  impl->attr_version = impl->version->value;
  MoveRetainedGrad(view, old_fn);
  // The new history leads to the base's, which may be a node that saved this view (x.pow_(v)
  // with v a view of x): a cycle the context breaks when the session closes.
  Context::Current().RememberRebasedHistory(view.impl_ptr());
  return absl::OkStatus();
}

void MarkViewOutputs(const OpDef& def, const Tensor& input, std::vector<Tensor>& outputs) {
  CreationMeta meta = !GradModeEnabled()     ? CreationMeta::kNoGradMode
                      : def.num_outputs != 1 ? CreationMeta::kMultiOutputNode
                                             : CreationMeta::kDefault;
  if (meta == CreationMeta::kDefault && input.defined() && input.impl()->is_view) {
    meta = input.impl()->creation_meta;  // a view of a view keeps the first one's origin
  }
  for (Tensor& out : outputs) {
    if (out.impl()->is_view) out.impl()->creation_meta = meta;
  }
}

absl::Status CheckInplace(const Tensor& self) {
  const TensorImpl* impl = self.impl();
  if (impl->is_view && impl->view_base != nullptr) {
    if (impl->creation_meta != CreationMeta::kDefault) return ViewRebaseError(*impl, false);
    if (self.requires_grad() && Tensor(impl->view_base).is_leaf()) {
      return absl::FailedPreconditionError(
          "a view of a leaf Variable that requires grad is being used in an in-place operation.");
    }
  }
  // PyTorch's C++ is_leaf() here reads the view's stored grad_fn, not a regenerated one: a view
  // without history whose base gained one since counts as a leaf.
  if (self.requires_grad() && impl->grad_fn == nullptr) {
    return absl::FailedPreconditionError(
        "a leaf Variable that requires grad is being used in an in-place operation.");
  }
  return absl::OkStatus();
}

absl::Status CheckInplaceOverlap(const Tensor& self, const std::vector<Tensor>& sources,
                                 bool allow_overlap) {
  if (!allow_overlap) {
    for (size_t d = 0; d < self.shape().size(); ++d) {
      if (self.strides()[d] == 0 && self.shape()[d] > 1) {
        return absl::InvalidArgumentError(
            "unsupported operation: more than one element of the written-to tensor refers to a "
            "single memory location. Please clone() the tensor before performing the operation.");
      }
    }
  }
  for (const Tensor& src : sources) {
    if (!src.defined() || src.impl() == self.impl() || src.numel() == 0 || self.numel() == 0) {
      continue;
    }
    if (src.impl()->storage != self.impl()->storage) continue;
    if (!NonOverlappingAndDense(self) || !NonOverlappingAndDense(src)) continue;
    const int64_t item = static_cast<int64_t>(ItemSize(self.dtype()));
    const int64_t a0 = self.storage_offset() * item, a1 = a0 + self.nbytes();
    const int64_t b0 = src.storage_offset() * static_cast<int64_t>(ItemSize(src.dtype()));
    const int64_t b1 = b0 + src.nbytes();
    const bool full = a0 == b0 && a1 == b1 && self.strides() == src.strides();
    if (!full && a0 < b1 && b0 < a1) {
      return absl::InvalidArgumentError(
          "unsupported operation: some elements of the input tensor and the written-to tensor "
          "refer to a single memory location. Please clone() the tensor before performing the "
          "operation.");
    }
  }
  return absl::OkStatus();
}

void RebaseHistory(const Tensor& self, std::shared_ptr<Node> fn) {
  TensorImpl* impl = self.impl();
  if (impl->is_view && impl->view_base != nullptr) {
    const Tensor base(impl->view_base);
    base.impl()->grad_fn = std::make_shared<CopySlices>(base, self, std::move(fn));
    base.impl()->output_nr = 0;
    // The write bumped the version: the view's grad_fn now regenerates over CopySlices.
    impl->output_nr = 0;
    RefreshViewGradFn(self).IgnoreError();  // CheckInplace ruled the errors out
    return;
  }
  const std::shared_ptr<Node> old_fn = impl->grad_fn;
  impl->grad_fn = std::move(fn);
  impl->output_nr = 0;
  MoveRetainedGrad(self, old_fn);
}

CopySlices::CopySlices(const Tensor& base, const Tensor& view, std::shared_ptr<Node> fn)
    : base_shape_(base.shape()),
      base_strides_(base.strides()),
      view_shape_(view.shape()),
      view_strides_(view.strides()),
      view_offset_(view.storage_offset() - base.storage_offset()),
      dtype_(base.dtype()),
      fn_(std::move(fn)) {
  next_edges_.push_back(GradientEdge(base));
  const std::vector<Edge>& fn_edges = fn_->next_edges();
  for (size_t i = 1; i < fn_edges.size(); ++i) next_edges_.push_back(fn_edges[i]);
  input_meta_.push_back(base.meta());
}

absl::StatusOr<std::vector<Tensor>> CopySlices::Apply(std::vector<Tensor> grads) {
  Tensor grad = std::move(grads[0]);
  if (!grad.defined()) {
    TD_ASSIGN_OR_RETURN(grad, op_util::Zeros(input_meta_[0]));
  }
  // Laid out like the base, so that the view's strides and offset address its part. With
  // create_graph these are recorded like any other ops (copy_ into a fresh tensor, a view of it,
  // and an in-place copy_ into that view: CopySlices again).
  TD_ASSIGN_OR_RETURN(Tensor result, EmptyStrided(base_shape_, base_strides_, dtype_));
  TD_RETURN_IF_ERROR(ops::copy_(result, grad));
  Attrs attrs;
  attrs.Set("size", view_shape_);
  attrs.Set("stride", view_strides_);
  attrs.Set("storage_offset", view_offset_);
  TD_ASSIGN_OR_RETURN(std::vector<Tensor> slice, tensord::Apply("as_strided", {result}, attrs));
  Tensor grad_slice = slice[0];
  TD_ASSIGN_OR_RETURN(Tensor slice_copy, ops::clone(grad_slice));
  TD_ASSIGN_OR_RETURN(std::vector<Tensor> res, fn_->Apply({slice_copy}));
  res.resize(fn_->next_edges().size());
  std::vector<Tensor> out(next_edges_.size());
  if (next_edges_[0].valid()) {
    if (res[0].defined()) {
      Tensor g = res[0];
      if (g.shape() != view_shape_) {
        TD_ASSIGN_OR_RETURN(g, ops::sum_to(g, view_shape_));
      }
      TD_RETURN_IF_ERROR(ops::copy_(grad_slice, g));
    } else {
      TD_RETURN_IF_ERROR(ops::zero_(grad_slice));
    }
    out[0] = result;
  }
  for (size_t i = 1; i < out.size(); ++i) out[i] = std::move(res[i]);
  return out;
}

}  // namespace tensord
