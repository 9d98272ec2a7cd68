// Views and in-place ops, as torch/csrc/autograd records them: an in-place op on a view rebases
// the history of the view's base onto a CopySlices node that wraps the op's backward, and every
// view of that base regenerates its grad_fn from the base (AsStridedBackward0) the next time it
// is read. See README.md, "Views and in-place ops".
#pragma once

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "engine/node.h"
#include "engine/op_def.h"
#include "engine/tensor.h"

namespace tensord {

// A view whose base (or another view of it) was modified in place since its grad_fn was set
// gets a new one: AsStridedBackward0 from the base's current history. PyTorch's errors for
// views created in no_grad mode or by unbind/split/chunk.
absl::Status RefreshViewGradFn(const Tensor& view);

// Sets how the outputs of view op `def` were created (grad mode, several views from one op),
// inheriting a non-default origin from `input` when it is a view.
void MarkViewOutputs(const OpDef& def, const Tensor& input, std::vector<Tensor>& outputs);

// PyTorch's check_inplace, for an in-place op that records a node: refuses views that cannot be
// rebased, (views of) leaves that require grad.
absl::Status CheckInplace(const Tensor& self);

// Refuses writes into a tensor whose elements alias each other (expanded dims) unless
// `allow_overlap` (fill_, zero_), and sources that partly overlap the written-to tensor, with
// PyTorch's messages.
absl::Status CheckInplaceOverlap(const Tensor& self, const std::vector<Tensor>& sources,
                                 bool allow_overlap);

// After `self` was modified in place by an op whose node is `fn`: a plain tensor takes `fn` as
// its grad_fn; a view gives its base a CopySlices(fn) and takes AsStridedBackward0.
void RebaseHistory(const Tensor& self, std::shared_ptr<Node> fn);

// The base's node after an in-place op on one of its views: the gradient for the base is
// `grad` with the view's part replaced by what `fn` (the in-place op's backward) gives for the
// view before the write; fn's gradients for its other inputs flow on unchanged.
class CopySlices : public Node {
 public:
  CopySlices(const Tensor& base, const Tensor& view, std::shared_ptr<Node> fn);
  std::string name() const override { return "torch::autograd::CopySlices"; }
  absl::StatusOr<std::vector<Tensor>> Apply(std::vector<Tensor> grads) override;
  void ReleaseSavedTensors() override { fn_->ReleaseSavedTensors(); }
  std::vector<SavedTensorInfo> SavedTensors() const override { return fn_->SavedTensors(); }
  // The wrapped node (the in-place op's backward).
  const std::shared_ptr<Node>& fn() const { return fn_; }

 private:
  Shape base_shape_, base_strides_;
  Shape view_shape_, view_strides_;
  int64_t view_offset_;  // relative to the base's storage offset
  DType dtype_;
  std::shared_ptr<Node> fn_;
};

}  // namespace tensord
