// The backward engine, after torch/csrc/autograd/engine.cpp: count dependencies, buffer and sum
// incoming gradients per node, run a node once all its gradients have arrived. Unlike
// PyTorch, nothing is committed until the whole pass has succeeded: gradients are accumulated
// into .grad and saved tensors are freed only at the end, so a failed backward leaves every
// tensor as it was.
#include "engine/autograd.h"

#include "engine/cancel.h"

#include <queue>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/api.h"
#include "engine/context.h"
#include "engine/factory.h"
#include "engine/node.h"
#include "engine/ops/op_util.h"
#include "engine/status_macros.h"

namespace tensord {
namespace {

std::string TorchSize(const Shape& s) {
  return absl::StrCat("torch.Size([", absl::StrJoin(s, ", "), "])");
}

struct Capture {
  Node* node;
  uint32_t input_nr;
};

struct RunSpec {
  std::vector<Edge> roots;
  std::vector<Tensor> root_grads;
  bool keep_graph = false;
  bool create_graph = false;
  // backward(): accumulate into leaves. grad(): capture only.
  bool accumulate = true;
  // Where to capture gradients (grad() inputs, or non-leaf inputs of backward(inputs=)).
  std::vector<Capture> captures;
  // backward(inputs=...): only these AccumulateGrad nodes run. Empty with `restrict_leaves`
  // false: every leaf accumulates.
  absl::flat_hash_set<Node*> leaf_targets;
  bool restrict_leaves = false;
  // grad(allow_unused=False): a capture that received no gradient fails the pass before it
  // commits anything (the graph's buffers stay, as for any failed request).
  bool require_captures = false;
};

class GraphRun {
 public:
  explicit GraphRun(RunSpec spec) : spec_(std::move(spec)) {}

  absl::StatusOr<std::vector<Tensor>> Run() {
    CollectGraph();
    ComputeNeeded();
    captured_.resize(spec_.captures.size());
    for (size_t i = 0; i < spec_.roots.size(); ++i) {
      TD_RETURN_IF_ERROR(AddToBuffer(spec_.roots[i], spec_.root_grads[i]));
    }
    auto cmp = [](Node* a, Node* b) { return a->sequence_nr() < b->sequence_nr(); };
    std::priority_queue<Node*, std::vector<Node*>, decltype(cmp)> ready(cmp);
    for (Node* n : nodes_order_)
      if (deps_[n] == 0) ready.push(n);

    AutoGradMode grad_mode(spec_.create_graph);
    while (!ready.empty()) {
      // Between nodes: a cancelled or timed-out pass stops here and commits nothing. A node
      // counts as 1024 units of work, so even a graph of tiny nodes checks every 64 nodes.
      TD_RETURN_IF_ERROR(CheckCancellation(1024));
      Node* node = ready.top();
      ready.pop();
      std::vector<Tensor> grads = std::move(buffers_[node]);
      grads.resize(node->input_meta().size());
      if (needed_.contains(node)) {
        for (size_t c = 0; c < spec_.captures.size(); ++c) {
          if (spec_.captures[c].node == node) captured_[c] = grads[spec_.captures[c].input_nr];
        }
      }
      std::vector<Tensor> out;
      if (ShouldExecute(node)) {
        // retain_grad() hooks run as the node's pre-hooks: only for nodes that execute.
        for (const auto& [output_nr, weak] : node->retained_grads()) {
          if (auto impl = weak.lock();
              impl && output_nr < grads.size() && grads[output_nr].defined()) {
            pending_retained_.emplace_back(std::move(impl), grads[output_nr]);
          }
        }
        bool any = false;
        for (const Tensor& g : grads) any |= g.defined();
        if (node->variable() != nullptr) {
          if (any && Tensor(node->variable()).grad_fn() != nullptr) {
            // An in-place op gave the leaf a history after this graph was recorded.
            return absl::FailedPreconditionError(
                "leaf variable has been moved into the graph interior");
          }
          if (any) pending_accumulate_.emplace_back(node, std::move(grads[0]));
        } else if (any) {
          TD_ASSIGN_OR_RETURN(out, node->Apply(std::move(grads)));
          TD_RETURN_IF_ERROR(Validate(*node, out));
          executed_.push_back(node);
        } else {
          executed_.push_back(node);
        }
      }
      const auto& edges = node->next_edges();
      for (size_t i = 0; i < edges.size(); ++i) {
        if (!edges[i].valid()) continue;
        if (i < out.size() && out[i].defined()) TD_RETURN_IF_ERROR(AddToBuffer(edges[i], out[i]));
        Node* next = edges[i].function.get();
        if (--deps_[next] == 0) ready.push(next);
      }
    }
    if (spec_.require_captures) {
      for (const Tensor& g : captured_) {
        if (!g.defined()) {
          return absl::InvalidArgumentError(
              "One of the differentiated Tensors appears to not have been used in the graph. "
              "Set allow_unused=True if this is the desired behavior.");
        }
      }
    }
    // The whole pass succeeded: commit.
    for (auto& [node, grad] : pending_accumulate_) {
      TD_RETURN_IF_ERROR(node->Apply({std::move(grad)}).status());
    }
    for (auto& [impl, grad] : pending_retained_) TD_RETURN_IF_ERROR(Retain(impl, grad));
    if (!spec_.keep_graph) {
      for (Node* n : executed_) n->ReleaseSavedTensors();
    }
    return std::move(captured_);
  }

 private:
  void CollectGraph() {
    std::vector<Node*> stack;
    for (const Edge& r : spec_.roots) {
      if (seen_.insert(r.function.get()).second) {
        stack.push_back(r.function.get());
        nodes_order_.push_back(r.function.get());
      }
    }
    while (!stack.empty()) {
      Node* n = stack.back();
      stack.pop_back();
      for (const Edge& e : n->next_edges()) {
        if (!e.valid()) continue;
        Node* next = e.function.get();
        ++deps_[next];
        if (seen_.insert(next).second) {
          stack.push_back(next);
          nodes_order_.push_back(next);
        }
      }
    }
  }

  bool IsTarget(Node* n) const {
    for (const Capture& c : spec_.captures)
      if (c.node == n) return true;
    if (!spec_.accumulate || n->variable() == nullptr) return false;
    return !spec_.restrict_leaves || spec_.leaf_targets.contains(n);
  }

  // needed(n): something happens at n or below it. Computed children-first.
  void ComputeNeeded() {
    absl::flat_hash_set<Node*> done;
    for (Node* root : nodes_order_) {
      if (done.contains(root)) continue;
      std::vector<std::pair<Node*, size_t>> stack{{root, 0}};
      done.insert(root);
      while (!stack.empty()) {
        auto& [n, i] = stack.back();
        const auto& edges = n->next_edges();
        if (i < edges.size()) {
          Node* next = edges[i++].function.get();
          if (next != nullptr && done.insert(next).second) stack.push_back({next, 0});
          continue;
        }
        bool needed = IsTarget(n);
        for (const Edge& e : edges) needed |= e.valid() && needed_.contains(e.function.get());
        if (needed) needed_.insert(n);
        stack.pop_back();
      }
    }
  }

  bool ShouldExecute(Node* n) const {
    if (n->variable() != nullptr) return IsTarget(n) && spec_.accumulate;
    // backward() without inputs runs every node it reaches, as PyTorch does, even one whose
    // gradients lead nowhere (its saved tensors are still checked).
    if (spec_.accumulate && !spec_.restrict_leaves && spec_.captures.empty()) return true;
    for (const Edge& e : n->next_edges())
      if (e.valid() && needed_.contains(e.function.get())) return true;
    return false;
  }

  absl::Status AddToBuffer(const Edge& edge, const Tensor& grad) {
    auto& buf = buffers_[edge.function.get()];
    if (buf.size() <= edge.input_nr) buf.resize(edge.input_nr + 1);
    Tensor& slot = buf[edge.input_nr];
    if (!slot.defined()) {
      slot = grad;
    } else {
      TD_ASSIGN_OR_RETURN(slot, ops::add(slot, grad));
    }
    return absl::OkStatus();
  }

  // PyTorch's validate_outputs: one gradient per edge, reduced to the input's shape and cast
  // to its dtype.
  absl::Status Validate(const Node& node, std::vector<Tensor>& grads) {
    const auto& edges = node.next_edges();
    if (grads.size() != edges.size()) {
      return absl::InternalError(absl::StrCat("function ", node.name(), " returned ", grads.size(),
                                              " gradients, expected ", edges.size()));
    }
    for (size_t i = 0; i < grads.size(); ++i) {
      if (!edges[i].valid() || !grads[i].defined()) continue;
      const TensorMeta& meta = edges[i].function->input_meta()[edges[i].input_nr];
      if (grads[i].shape() != meta.shape) {
        if (!op_util::IsExpandableTo(meta.shape, grads[i].shape())) {
          return absl::InternalError(
              absl::StrCat("Function ", node.name(), " returned an invalid gradient at index ", i,
                           " - got ", ShapeToString(grads[i].shape()),
                           " but expected shape compatible with ", ShapeToString(meta.shape)));
        }
        TD_ASSIGN_OR_RETURN(grads[i], ops::sum_to(grads[i], meta.shape));
      }
      if (grads[i].dtype() != meta.dtype) {
        TD_ASSIGN_OR_RETURN(grads[i], ops::to(grads[i], meta.dtype));
      }
    }
    return absl::OkStatus();
  }

  absl::Status Retain(const std::shared_ptr<TensorImpl>& impl, const Tensor& grad) {
    Tensor old(impl->grad);
    Tensor value;
    if (!old.defined()) {
      if (spec_.create_graph) {
        value = grad;
      } else {
        TD_ASSIGN_OR_RETURN(value, op_util::RawClone(grad));
      }
    } else {
      TD_ASSIGN_OR_RETURN(value, ops::add(old, grad));
    }
    // The value may refer back to the tensor (its history, or the tensor itself): the context
    // breaks such cycles when it goes away (Context::RememberGradWithHistory).
    Context::Current().RememberGradWithHistory(impl);
    impl->grad = value.impl_ptr();
    return absl::OkStatus();
  }

  RunSpec spec_;
  absl::flat_hash_set<Node*> seen_;
  std::vector<Node*> nodes_order_;
  absl::flat_hash_map<Node*, int> deps_;
  absl::flat_hash_map<Node*, std::vector<Tensor>> buffers_;
  absl::flat_hash_set<Node*> needed_;
  std::vector<Tensor> captured_;
  std::vector<Node*> executed_;
  std::vector<std::pair<Node*, Tensor>> pending_accumulate_;
  std::vector<std::pair<std::shared_ptr<TensorImpl>, Tensor>> pending_retained_;
};

// Roots and their seed gradients, with PyTorch's checks.
absl::Status PrepareRoots(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grads,
                          RunSpec& spec) {
  if (!grads.empty() && grads.size() != outputs.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("got ", grads.size(), " gradients for ", outputs.size(), " tensors"));
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& out = outputs[i];
    if (!out.defined())
      return absl::InvalidArgumentError(absl::StrCat("tensor ", i, " is undefined"));
    if (!out.requires_grad()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "element ", i, " of tensors does not require grad and does not have a grad_fn"));
    }
    TD_RETURN_IF_ERROR(out.grad_fn_or_error().status());
    if (!GradientEdge(out).valid()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "element ", i, " of tensors does not require grad and does not have a grad_fn"));
    }
    Tensor g = grads.empty() ? Tensor() : grads[i];
    if (!g.defined()) {
      if (out.numel() != 1) {
        return absl::InvalidArgumentError("grad can be implicitly created only for scalar outputs");
      }
      TD_ASSIGN_OR_RETURN(g, factory::ones_like(out));
    } else if (g.shape() != out.shape()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Mismatch in shape: grad_output[", i, "] has a shape of ", TorchSize(g.shape()),
          " and output[", i, "] has a shape of ", TorchSize(out.shape()), "."));
    } else if (g.dtype() != out.dtype()) {
      TD_ASSIGN_OR_RETURN(g, op_util::RawTo(g, out.dtype()));
    }
    const Edge edge = GradientEdge(out);
    // PyTorch checks the gradients against what the root's node expects, which differs from the
    // tensor's shape after x.data = y changed it.
    const Shape& expected = edge.function->input_meta()[edge.input_nr].shape;
    if (g.shape() != expected) {
      if (!op_util::IsExpandableTo(expected, g.shape())) {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid gradient at index ", i, " - got ", ShapeToString(g.shape()),
                         " but expected shape compatible with ", ShapeToString(expected)));
      }
      TD_ASSIGN_OR_RETURN(g, ops::sum_to(g, expected));
    }
    spec.roots.push_back(edge);
    spec.root_grads.push_back(g);
  }
  return absl::OkStatus();
}

absl::Status CheckInputs(const std::vector<Tensor>& inputs) {
  for (const Tensor& t : inputs) {
    if (!t.defined() || !t.requires_grad()) {
      return absl::InvalidArgumentError("One of the differentiated Tensors does not require grad");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Backward(const std::vector<Tensor>& tensors, const std::vector<Tensor>& grad_tensors,
                      const BackwardOptions& options) {
  RunSpec spec;
  spec.create_graph = options.create_graph;
  spec.keep_graph = options.retain_graph.value_or(options.create_graph);
  spec.accumulate = true;
  TD_RETURN_IF_ERROR(PrepareRoots(tensors, grad_tensors, spec));
  TD_RETURN_IF_ERROR(CheckInputs(options.inputs));
  std::vector<Tensor> non_leaf_inputs;
  std::vector<std::shared_ptr<Node>> keep;  // accumulators stay alive (and unique) for the run
  if (!options.inputs.empty()) {
    spec.restrict_leaves = true;
    for (const Tensor& t : options.inputs) {
      if (t.is_leaf()) {
        keep.push_back(GradAccumulator(t));
        spec.leaf_targets.insert(keep.back().get());
      } else {
        spec.captures.push_back({t.grad_fn().get(), t.output_nr()});
        non_leaf_inputs.push_back(t);
      }
    }
  }
  GraphRun run(std::move(spec));
  TD_ASSIGN_OR_RETURN(std::vector<Tensor> captured, CatchCancellation([&] { return run.Run(); }));
  // backward(inputs=[non_leaf]) accumulates into that tensor's .grad, as PyTorch does.
  for (size_t i = 0; i < non_leaf_inputs.size(); ++i) {
    if (!captured[i].defined()) continue;
    TensorImpl* impl = non_leaf_inputs[i].impl();
    // As in Retain: the gradient may be the tensor itself (grad_tensors=[y], inputs=[y]).
    Context::Current().RememberGradWithHistory(non_leaf_inputs[i].impl_ptr());
    if (impl->grad == nullptr) {
      impl->grad = captured[i].impl_ptr();
    } else {
      TD_ASSIGN_OR_RETURN(Tensor sum, ops::add(Tensor(impl->grad), captured[i]));
      impl->grad = sum.impl_ptr();
    }
  }
  return absl::OkStatus();
}

absl::Status Backward(const Tensor& t, const Tensor& gradient, const BackwardOptions& options) {
  return Backward(std::vector<Tensor>{t}, std::vector<Tensor>{gradient}, options);
}

absl::StatusOr<std::vector<Tensor>> Grad(const std::vector<Tensor>& outputs,
                                         const std::vector<Tensor>& inputs,
                                         const std::vector<Tensor>& grad_outputs,
                                         const GradOptions& options) {
  RunSpec spec;
  spec.create_graph = options.create_graph;
  spec.keep_graph = options.retain_graph.value_or(options.create_graph);
  spec.accumulate = false;
  TD_RETURN_IF_ERROR(PrepareRoots(outputs, grad_outputs, spec));
  TD_RETURN_IF_ERROR(CheckInputs(inputs));
  // The edges keep leaf accumulators alive (and unique) for the run.
  std::vector<Edge> keep;
  for (const Tensor& t : inputs) {
    keep.push_back(GradientEdge(t));
    spec.captures.push_back({keep.back().function.get(), keep.back().input_nr});
  }
  spec.require_captures = !options.allow_unused;
  GraphRun run(std::move(spec));
  return CatchCancellation([&] { return run.Run(); });
}

}  // namespace tensord
