// torch.autograd.backward and torch.autograd.grad.
#pragma once

#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tensor.h"

namespace tensord {

struct BackwardOptions {
  // retain_graph=None means "same as create_graph", as in PyTorch.
  std::optional<bool> retain_graph;
  bool create_graph = false;
  // backward(inputs=...): accumulate only into these.
  std::vector<Tensor> inputs;
};

// tensors[i].backward(grad_tensors[i]) together. An undefined gradient is implicit (ones), which
// is only allowed for one-element outputs.
absl::Status Backward(const std::vector<Tensor>& tensors, const std::vector<Tensor>& grad_tensors,
                      const BackwardOptions& options = {});
// t.backward(gradient, retain_graph, create_graph).
absl::Status Backward(const Tensor& t, const Tensor& gradient = Tensor(),
                      const BackwardOptions& options = {});

struct GradOptions {
  std::optional<bool> retain_graph;
  bool create_graph = false;
  bool allow_unused = false;
};

// torch.autograd.grad: returns d(outputs)/d(inputs) without touching any .grad. An unused
// input's gradient is undefined (None) when allow_unused.
absl::StatusOr<std::vector<Tensor>> Grad(const std::vector<Tensor>& outputs,
                                         const std::vector<Tensor>& inputs,
                                         const std::vector<Tensor>& grad_outputs = {},
                                         const GradOptions& options = {});

}  // namespace tensord
