// Autograd graph nodes, as in torch/csrc/autograd/function.h: a Node turns the gradients of the
// forward outputs into gradients of the forward inputs and sends them along its next edges.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tensor.h"

namespace tensord {

class Node;

// Where a gradient goes: input `input_nr` of `function`. An edge without a function is None.
struct Edge {
  std::shared_ptr<Node> function;
  uint32_t input_nr = 0;
  bool valid() const { return function != nullptr; }
};

// A tensor saved for backward, remembering the version it was saved at.
class SavedVariable {
 public:
  SavedVariable() = default;
  // `is_output`: the tensor is an output of the node that saves it. Outputs are stored without
  // their grad_fn (which would be a reference cycle) and re-attached when unpacked.
  SavedVariable(const Tensor& tensor, bool is_output);

  bool defined() const { return defined_; }
  bool freed() const { return defined_ && !data_.defined(); }
  void Release() { data_ = Tensor(); }
  // The saved tensor, or FAILED_PRECONDITION if it was freed or modified in place since.
  absl::StatusOr<Tensor> Unpack(const std::shared_ptr<Node>& owner) const;
  const TensorMeta& meta() const { return meta_; }
  bool is_output() const { return is_output_; }
  // The stored tensor (without history), undefined once freed. For inspection.
  const Tensor& data() const { return data_; }

 private:
  Tensor data_;
  TensorMeta meta_;
  bool defined_ = false;
  bool is_output_ = false;
  bool requires_grad_ = false;
  uint32_t saved_version_ = 0;
  uint32_t output_nr_ = 0;
  std::shared_ptr<VersionCounter> version_;
};

// What inspection shows of one saved tensor.
struct SavedTensorInfo {
  std::string name;  // "self", "other", "result", ...
  TensorMeta meta;
  bool freed = false;
  Tensor data;  // the stored tensor without history (undefined once freed), for inspection
};

class Node : public std::enable_shared_from_this<Node> {
 public:
  Node();
  virtual ~Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // "MulBackward0", "AccumulateGrad", ...
  virtual std::string name() const = 0;
  // grads[i] is the gradient of forward output i (undefined: zero). Returns one gradient per
  // next edge (undefined where none flows).
  virtual absl::StatusOr<std::vector<Tensor>> Apply(std::vector<Tensor> grads) = 0;
  // Frees the saved tensors (after a backward without retain_graph).
  virtual void ReleaseSavedTensors() {}
  virtual std::vector<SavedTensorInfo> SavedTensors() const { return {}; }
  // The tensor an AccumulateGrad node accumulates into; null for other nodes.
  virtual std::shared_ptr<TensorImpl> variable() const { return nullptr; }

  const std::vector<Edge>& next_edges() const { return next_edges_; }
  // Metadata of each forward output, i.e. of each gradient this node receives.
  const std::vector<TensorMeta>& input_meta() const { return input_meta_; }
  uint64_t sequence_nr() const { return sequence_nr_; }

  // retain_grad(): when this node receives the gradient of output `output_nr`, it is stored
  // into that tensor's .grad.
  void AddRetainedGrad(uint32_t output_nr, std::weak_ptr<TensorImpl> tensor);
  void RemoveRetainedGrad(const TensorImpl* tensor);
  const std::vector<std::pair<uint32_t, std::weak_ptr<TensorImpl>>>& retained_grads() const {
    return retained_;
  }

 protected:
  std::vector<Edge> next_edges_;
  std::vector<TensorMeta> input_meta_;

 private:
  uint64_t sequence_nr_;
  std::vector<std::pair<uint32_t, std::weak_ptr<TensorImpl>>> retained_;
};

// The sink of a leaf that requires grad: adds incoming gradients into its .grad.
class AccumulateGrad : public Node {
 public:
  explicit AccumulateGrad(std::shared_ptr<TensorImpl> variable);
  std::string name() const override { return "torch::autograd::AccumulateGrad"; }
  absl::StatusOr<std::vector<Tensor>> Apply(std::vector<Tensor> grads) override;
  std::shared_ptr<TensorImpl> variable() const override { return variable_; }

 private:
  std::shared_ptr<TensorImpl> variable_;
};

// Where the gradient of `t` enters the graph: its grad_fn, its AccumulateGrad (created on
// demand for a leaf that requires grad), or an invalid edge.
Edge GradientEdge(const Tensor& t);
// The AccumulateGrad node of a leaf that requires grad (created once, then shared).
std::shared_ptr<Node> GradAccumulator(const Tensor& leaf);

// Short names for printing next_functions: "AccumulateGrad" for the sink.
std::string DisplayName(const Node& node);

}  // namespace tensord
