#include "engine/dispatch.h"

#include "absl/strings/str_cat.h"
#include "engine/checked_math.h"
#include "engine/context.h"
#include "engine/kernels/loop.h"
#include "engine/node.h"
#include "engine/ops/op_util.h"
#include "engine/status_macros.h"
#include "engine/views.h"

namespace tensord {
namespace {

// The graph node of every table op: runs the op's backward rule on its saved tensors.
class OpNode : public Node {
 public:
  OpNode(const OpDef& def, Attrs attrs) : def_(&def), attrs_(std::move(attrs)) {}

  std::string name() const override { return std::string(def_->grad_fn); }

  absl::StatusOr<std::vector<Tensor>> Apply(std::vector<Tensor> grads) override {
    std::shared_ptr<Node> self = shared_from_this();
    BackwardArgs args{attrs_, {}, {}, forward_input_meta_, {}, {}};
    args.input_strides = forward_input_strides_;
    args.input_offsets = forward_input_offsets_;
    args.inputs.resize(saved_inputs_.size());
    for (size_t i = 0; i < saved_inputs_.size(); ++i) {
      if (!saved_inputs_[i].defined()) continue;
      TD_ASSIGN_OR_RETURN(args.inputs[i], saved_inputs_[i].Unpack(self));
    }
    args.outputs.resize(saved_outputs_.size());
    for (size_t i = 0; i < saved_outputs_.size(); ++i) {
      if (!saved_outputs_[i].defined()) continue;
      TD_ASSIGN_OR_RETURN(args.outputs[i], saved_outputs_[i].Unpack(self));
    }
    for (size_t i = 0; i < grads.size(); ++i) {
      if (!grads[i].defined()) {
        TD_ASSIGN_OR_RETURN(grads[i], op_util::Zeros(input_meta_[i]));
      }
    }
    args.grads = std::move(grads);
    // One entry per forward input; non-differentiable inputs have no edge.
    args.needs_input_grad.assign(forward_input_meta_.size(), false);
    for (size_t e = 0; e < next_edges_.size(); ++e) {
      args.needs_input_grad[static_cast<size_t>(edge_input_[e])] = next_edges_[e].valid();
    }
    TD_ASSIGN_OR_RETURN(std::vector<Tensor> per_input, def_->backward(args));
    if (def_->nondiff_inputs == 0) return per_input;
    std::vector<Tensor> per_edge;
    per_edge.reserve(next_edges_.size());
    for (int i : edge_input_) {
      per_edge.push_back(static_cast<size_t>(i) < per_input.size()
                             ? std::move(per_input[static_cast<size_t>(i)])
                             : Tensor());
    }
    return per_edge;
  }

  void ReleaseSavedTensors() override {
    for (auto& s : saved_inputs_) s.Release();
    for (auto& s : saved_outputs_) s.Release();
  }

  std::vector<SavedTensorInfo> SavedTensors() const override {
    std::vector<SavedTensorInfo> out;
    for (size_t i = 0; i < saved_inputs_.size(); ++i) {
      if (!saved_inputs_[i].defined()) continue;
      std::string name = i == 0 ? "self" : i == 1 ? "other" : absl::StrCat("input", i);
      out.push_back({std::move(name), saved_inputs_[i].meta(), saved_inputs_[i].freed(),
                     saved_inputs_[i].data()});
    }
    for (size_t i = 0; i < saved_outputs_.size(); ++i) {
      if (!saved_outputs_[i].defined()) continue;
      out.push_back({i == 0 ? "result" : absl::StrCat("result", i), saved_outputs_[i].meta(),
                     saved_outputs_[i].freed(), saved_outputs_[i].data()});
    }
    return out;
  }

  const OpDef* def_;
  Attrs attrs_;
  std::vector<SavedVariable> saved_inputs_;
  std::vector<SavedVariable> saved_outputs_;
  std::vector<TensorMeta> forward_input_meta_;
  std::vector<Shape> forward_input_strides_;    // view ops only
  std::vector<int64_t> forward_input_offsets_;  // view ops only
  std::vector<int> edge_input_;                 // the forward input behind each next edge

  using Node::input_meta_;
  using Node::next_edges_;
};

// Whether the node of `def` keeps input `i`, given which inputs require grad (bit j: input j).
bool SavesInput(const OpDef& def, size_t i, uint32_t requires_grad) {
  if (i >= 32 || !((def.save_inputs >> i) & 1u)) return false;
  const uint32_t users = i < def.save_input_for.size() ? def.save_input_for[i] : 0u;
  return users == 0 || (users & requires_grad) != 0;
}

// Bit i: input i requires grad and is differentiable.
uint32_t RequiresGradMask(const OpDef& def, const std::vector<Tensor>& inputs) {
  uint32_t mask = 0;
  for (size_t i = 0; i < inputs.size() && i < 32; ++i) {
    if (!((def.nondiff_inputs >> i) & 1u) && inputs[i].defined() && inputs[i].requires_grad()) {
      mask |= 1u << i;
    }
  }
  return mask;
}

// torch.can_cast for the supported dtypes.
bool CanCast(DType from, DType to) {
  if (IsFloating(from) && !IsFloating(to)) return false;
  if (from != DType::kBool && to == DType::kBool) return false;
  return true;
}

absl::Status CheckAttrType(const OpDef& def, const AttrSpec& spec, AttrValue& v) {
  if (std::holds_alternative<std::monostate>(v)) {
    const bool none_ok =
        spec.nullable ||
        (!spec.required && std::holds_alternative<std::monostate>(spec.default_value));
    if (!none_ok) {
      return absl::InvalidArgumentError(
          absl::StrCat(def.name, "(): attribute '", spec.name, "' must not be None"));
    }
    return absl::OkStatus();
  }
  bool ok = false;
  switch (spec.type) {
    case AttrType::kBool:
      ok = std::holds_alternative<bool>(v);
      break;
    case AttrType::kInt:
      ok = std::holds_alternative<int64_t>(v);
      break;
    case AttrType::kDouble:
      if (const auto* i = std::get_if<int64_t>(&v)) v = static_cast<double>(*i);
      ok = std::holds_alternative<double>(v);
      break;
    case AttrType::kScalar:
      // A bool stays a bool (full(size, True) is a bool tensor); readers see 0 or 1.
      ok = std::holds_alternative<bool>(v) || std::holds_alternative<int64_t>(v) ||
           std::holds_alternative<double>(v);
      break;
    case AttrType::kInts:
      if (const auto* i = std::get_if<int64_t>(&v)) v = std::vector<int64_t>{*i};
      ok = std::holds_alternative<std::vector<int64_t>>(v);
      break;
    case AttrType::kDType:
      if (const auto* s = std::get_if<std::string>(&v)) {
        TD_ASSIGN_OR_RETURN(DType d, ParseDType(*s));
        v = d;
      }
      ok = std::holds_alternative<DType>(v);
      break;
    case AttrType::kString:
      ok = std::holds_alternative<std::string>(v);
      break;
    case AttrType::kMemoryFormat:
    case AttrType::kLayout:
      ok = std::holds_alternative<int64_t>(v);
      break;
    case AttrType::kDevice:
      ok = std::holds_alternative<std::string>(v);
      break;
    case AttrType::kGenerator:
      return absl::UnimplementedError(
          absl::StrCat(def.name,
                       "(): generator= is not supported: random ops draw from the session's "
                       "generator (seeded with the session)"));
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(def.name, "(): attribute '", spec.name,
                                                   "' must be ", AttrTypeName(spec.type)));
  }
  // Schema arguments the engine has no choice for: one layout (strided, 0), one device (cpu),
  // contiguous results (contiguous_format, 0). Accepted at their default or that one value.
  switch (spec.type) {
    case AttrType::kMemoryFormat:
      if (std::get<int64_t>(v) != 0 && v != spec.default_value) {
        return absl::UnimplementedError(absl::StrCat(
            def.name, "(): memory_format=", std::get<int64_t>(v),
            " is not supported: tensord's results are contiguous (torch.contiguous_format)"));
      }
      break;
    case AttrType::kLayout:
      if (std::get<int64_t>(v) != 0) {
        return absl::UnimplementedError(
            absl::StrCat(def.name, "(): only layout=torch.strided is supported"));
      }
      break;
    case AttrType::kDevice:
      if (std::get<std::string>(v) != "cpu") {
        return absl::UnimplementedError(absl::StrCat(
            def.name, "(): only device='cpu' is supported, got '", std::get<std::string>(v), "'"));
      }
      break;
    case AttrType::kDType:
      // `ScalarType? dtype=None` of reductions and softmax: the op computes in its input's type.
      if (spec.nullable && def.parsed_schema != nullptr && !def.factory) {
        return absl::UnimplementedError(
            absl::StrCat(def.name, "(): dtype=", TorchDTypeName(std::get<DType>(v)),
                         " is not supported; convert the input with .to(dtype) first"));
      }
      break;
    case AttrType::kBool:
      if (def.factory && spec.name == "pin_memory" && std::get<bool>(v)) {
        return absl::UnimplementedError(
            absl::StrCat(def.name, "(): pin_memory=True is not supported (no accelerator)"));
      }
      break;
    default:
      break;
  }
  return absl::OkStatus();
}

// Every output a shape rule announces must be a shape a tensor may have: sizes non-negative,
// element count, size product and byte size within int64 (engine/checked_math.h), and not too
// many outputs. Checked here once for every op, before any kernel runs or allocates.
absl::Status CheckOutputMetas(const OpDef& def, const std::vector<TensorMeta>& metas) {
  TD_RETURN_IF_ERROR(CheckOutputCount(def.name, static_cast<int64_t>(metas.size())));
  for (const TensorMeta& m : metas) TD_RETURN_IF_ERROR(CheckTensorShape(m.shape, m.dtype));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Attrs> ResolveAttrs(const OpDef& def, const Attrs& given) {
  for (const auto& [name, value] : given.entries()) {
    bool known = false;
    for (const AttrSpec& spec : def.attrs) known |= spec.name == name;
    if (!known) {
      return absl::InvalidArgumentError(
          absl::StrCat(def.name, "() got an unexpected attribute '", name, "'"));
    }
  }
  Attrs resolved;
  for (const AttrSpec& spec : def.attrs) {
    const AttrValue* v = given.Find(spec.name);
    if (v == nullptr && spec.required && !spec.nullable) {
      return absl::InvalidArgumentError(
          absl::StrCat(def.name, "() missing required attribute '", spec.name, "'"));
    }
    AttrValue value = v ? *v : spec.default_value;
    TD_RETURN_IF_ERROR(CheckAttrType(def, spec, value));
    resolved.Set(spec.name, std::move(value));
  }
  return resolved;
}

namespace {

// `known` (with always_record): output metadata the caller vouches for; the shape rule is skipped.
absl::StatusOr<std::vector<Tensor>> ApplyImpl(const OpDef& def, std::vector<Tensor> inputs,
                                              const Attrs& given, bool always_record,
                                              const std::vector<TensorMeta>* known = nullptr) {
  // Trailing optional inputs (`Tensor? bias`) may be left out: None.
  while (def.num_inputs != kVariadic && static_cast<int>(inputs.size()) < def.num_inputs &&
         ((def.optional_inputs >> inputs.size()) & 1u)) {
    inputs.emplace_back();
  }
  if (def.num_inputs != kVariadic && static_cast<int>(inputs.size()) != def.num_inputs) {
    return absl::InvalidArgumentError(absl::StrCat(def.name, "() takes ", def.num_inputs,
                                                   " tensor input(s) but ", inputs.size(),
                                                   " were given"));
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined() && !(i < 32 && ((def.optional_inputs >> i) & 1u))) {
      return absl::InvalidArgumentError(
          absl::StrCat(def.name, "(): tensor input ", i, " is undefined (None)"));
    }
  }
  // Kernels see only the inputs given: trailing None optionals are dropped (their shape rules
  // refuse the optional inputs they do not implement).
  if (def.kind != OpKind::kComposite) {
    while (!inputs.empty() && !inputs.back().defined()) inputs.pop_back();
  }
  TD_ASSIGN_OR_RETURN(Attrs attrs, ResolveAttrs(def, given));
  const OpArgs args{inputs, attrs};
  const bool meta = Context::Current().meta();
  // Shape rules may read values (index bounds) and poll for cancellation like kernels.
  std::vector<TensorMeta> metas;
  if (known != nullptr) {
    metas = *known;
  } else if (meta && def.value_dependent_checks) {
    return absl::FailedPreconditionError(
        absl::StrCat(def.name,
                     "() checks tensor values: a metadata-only context cannot run it "
                     "without its output metadata"));
  } else {
    TD_ASSIGN_OR_RETURN(metas, CatchCancellation([&] { return def.infer(args); }));
  }
  TD_RETURN_IF_ERROR(CheckOutputMetas(def, metas));
  // A factory's requires_grad=True (PyTorch's Python bindings: the result's set_requires_grad).
  const bool factory_grad = def.factory && attrs.Bool("requires_grad");
  if (factory_grad && !IsFloating(metas[0].dtype)) {
    return absl::InvalidArgumentError(
        "Only Tensors of floating point and complex dtype can require gradients");
  }
  if (def.kind == OpKind::kComposite) {
    return CatchCancellation([&] { return def.forward(args, metas); });
  }

  bool record = always_record && !def.grad_fn.empty();
  if (!def.grad_fn.empty() && GradModeEnabled()) {
    for (const Tensor& t : inputs) record |= t.requires_grad();
  }
  if (record) {
    // Reading a view's history may regenerate it, or fail as PyTorch does for a view that can
    // no longer be used with autograd.
    for (const Tensor& t : inputs) {
      if (t.is_view()) TD_RETURN_IF_ERROR(t.grad_fn_or_error().status());
    }
  }
  std::vector<Tensor> outputs;
  if (meta && def.kind == OpKind::kKernel) {
    // Metadata only: the results the kernel would write, contiguous (as every kernel's are).
    outputs.reserve(metas.size());
    for (const TensorMeta& m : metas) {
      TD_ASSIGN_OR_RETURN(Tensor out, EmptyTensor(m.shape, m.dtype));
      outputs.push_back(std::move(out));
    }
  } else {
    AutoGradMode no_grad(false);
    TD_ASSIGN_OR_RETURN(outputs, CatchCancellation([&] { return def.forward(args, metas); }));
  }
  if (def.kind == OpKind::kView) MarkViewOutputs(def, inputs[0], outputs);
  if (factory_grad) outputs[0].impl()->requires_grad = true;
  const size_t n_diff = def.differentiable_outputs < 0
                            ? outputs.size()
                            : static_cast<size_t>(def.differentiable_outputs);
  // Integer and bool results never require grad (x.to(torch.long) cuts the graph).
  for (size_t i = 0; i < n_diff && record; ++i) record = IsFloating(outputs[i].dtype());
  if (!record) return outputs;

  auto node = std::make_shared<OpNode>(def, std::move(attrs));
  node->next_edges_.reserve(inputs.size());
  node->forward_input_meta_.reserve(inputs.size());
  node->saved_inputs_.resize(inputs.size());
  const uint32_t requires_grad = RequiresGradMask(def, inputs);
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (i >= 32 || !((def.nondiff_inputs >> i) & 1u)) {
      node->next_edges_.push_back(GradientEdge(inputs[i]));
      node->edge_input_.push_back(static_cast<int>(i));
    }
    node->forward_input_meta_.push_back(inputs[i].meta());
    if (def.kind == OpKind::kView) {
      node->forward_input_strides_.push_back(inputs[i].strides());
      node->forward_input_offsets_.push_back(inputs[i].storage_offset());
    }
    if (SavesInput(def, i, requires_grad)) {
      node->saved_inputs_[i] = SavedVariable(inputs[i], /*is_output=*/false);
    }
  }
  for (size_t i = 0; i < n_diff; ++i) {
    TensorImpl* out = outputs[i].impl();
    out->requires_grad = true;
    out->grad_fn = node;
    out->output_nr = static_cast<uint32_t>(i);
    out->attr_version = out->version->value;
    node->input_meta_.push_back(outputs[i].meta());
  }
  if (def.save_outputs) {
    node->saved_outputs_.resize(outputs.size());
    for (size_t i = 0; i < outputs.size(); ++i) {
      if (i < 32 && ((def.save_output_mask >> i) & 1u)) {
        node->saved_outputs_[i] = SavedVariable(outputs[i], /*is_output=*/true);
      }
    }
  }
  return outputs;
}

}  // namespace

absl::StatusOr<std::vector<Tensor>> Apply(const OpDef& def, std::vector<Tensor> inputs,
                                          const Attrs& attrs) {
  return ApplyImpl(def, std::move(inputs), attrs, /*always_record=*/false);
}

absl::StatusOr<std::vector<Tensor>> ApplyRecording(const OpDef& def, std::vector<Tensor> inputs,
                                                   const Attrs& attrs,
                                                   const std::vector<TensorMeta>& metas) {
  return ApplyImpl(def, std::move(inputs), attrs, /*always_record=*/true, &metas);
}

absl::StatusOr<std::vector<Tensor>> ApplyWithMetas(const OpDef& def, std::vector<Tensor> inputs,
                                                   const Attrs& attrs,
                                                   const std::vector<TensorMeta>& metas) {
  return ApplyImpl(def, std::move(inputs), attrs, /*always_record=*/false, &metas);
}

absl::StatusOr<Tensor> Apply1(const OpDef& def, std::vector<Tensor> inputs, const Attrs& attrs) {
  TD_ASSIGN_OR_RETURN(std::vector<Tensor> out, Apply(def, std::move(inputs), attrs));
  return std::move(out[0]);
}

absl::StatusOr<std::vector<Tensor>> Apply(absl::string_view name, std::vector<Tensor> inputs,
                                          const Attrs& attrs) {
  TD_ASSIGN_OR_RETURN(const OpDef* def, FindOp(name));
  if (name == def->inplace_name) {
    if (inputs.empty() || !inputs[0].defined()) {
      return absl::InvalidArgumentError(absl::StrCat(name, "() needs a tensor to modify"));
    }
    Tensor self = inputs[0];
    std::vector<Tensor> others(inputs.begin() + 1, inputs.end());
    TD_RETURN_IF_ERROR(ApplyInplace(*def, self, std::move(others), attrs));
    return std::vector<Tensor>{self};
  }
  return Apply(*def, std::move(inputs), attrs);
}

absl::Status ApplyInplace(const OpDef& def, const Tensor& self, std::vector<Tensor> others,
                          const Attrs& attrs) {
  if (def.inplace_name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(def.name, "() has no in-place variant"));
  }
  if (!self.defined()) {
    return absl::InvalidArgumentError(absl::StrCat(def.inplace_name, "(): self is undefined"));
  }
  bool others_require_grad = false;
  for (const Tensor& o : others) others_require_grad |= o.defined() && o.requires_grad();
  const bool record =
      GradModeEnabled() && !def.grad_fn.empty() && (self.requires_grad() || others_require_grad);
  // PyTorch's check_inplace: leaves that require grad, views of them, views that cannot be
  // rebased (made in no_grad mode, or by unbind/split/chunk).
  // Non-differentiable in-place forms (eq_, logical_and_) are refused on a leaf that requires
  // grad as well, as PyTorch's check_inplace does for every in-place op.
  if (record || (GradModeEnabled() && def.grad_fn.empty() && self.requires_grad())) {
    TD_RETURN_IF_ERROR(CheckInplace(self));
  }
  // PyTorch checks for self-overlap in every in-place op but the fills.
  const bool fills = def.inplace_name == "zero_" || def.inplace_name == "fill_" ||
                     def.inplace_name == "masked_fill_";
  TD_RETURN_IF_ERROR(CheckInplaceOverlap(self, others, /*allow_overlap=*/fills));

  // No graph to record and a kernel that can write into self: validate, then compute in place.
  if (!record && def.inplace != nullptr) {
    std::vector<Tensor> direct;
    direct.reserve(others.size() + 1);
    direct.push_back(self);
    for (const Tensor& o : others) {
      if (!o.defined())
        return absl::InvalidArgumentError(
            absl::StrCat(def.inplace_name, "(): an input is undefined"));
      direct.push_back(o);
    }
    if (def.num_inputs != kVariadic && static_cast<int>(direct.size()) != def.num_inputs) {
      return absl::InvalidArgumentError(absl::StrCat(def.name, "() takes ", def.num_inputs,
                                                     " tensor input(s) but ", direct.size(),
                                                     " were given"));
    }
    TD_ASSIGN_OR_RETURN(Attrs resolved, ResolveAttrs(def, attrs));
    const OpArgs args{direct, resolved};
    TD_ASSIGN_OR_RETURN(std::vector<TensorMeta> metas,
                        CatchCancellation([&] { return def.infer(args); }));
    TD_RETURN_IF_ERROR(CheckOutputMetas(def, metas));
    if (metas[0].shape != self.shape()) {
      return absl::InvalidArgumentError(
          absl::StrCat("output with shape ", ShapeToString(self.shape()),
                       " doesn't match the broadcast shape ", ShapeToString(metas[0].shape)));
    }
    if (!CanCast(metas[0].dtype, self.dtype())) {
      return absl::InvalidArgumentError(absl::StrCat("result type ", ScalarTypeName(metas[0].dtype),
                                                     " can't be cast to the desired output type ",
                                                     ScalarTypeName(self.dtype())));
    }
    if (metas[0].dtype == self.dtype()) {
      UninterruptibleScope all_or_nothing;
      if (!self.is_meta()) def.inplace(args);
      self.bump_version();
      return absl::OkStatus();
    }
  }

  std::vector<Tensor> inputs;
  inputs.reserve(others.size() + 1);
  std::vector<Tensor> all_inputs{self};
  all_inputs.insert(all_inputs.end(), others.begin(), others.end());
  if (record && SavesInput(def, 0, RequiresGradMask(def, all_inputs))) {
    // The backward needs self's value from before the write (PyTorch saves self.clone()):
    // compute from a private copy that carries self's history.
    TD_ASSIGN_OR_RETURN(std::shared_ptr<Node> history, self.grad_fn_or_error());
    TD_ASSIGN_OR_RETURN(Tensor copy, op_util::RawClone(self));
    copy.impl()->requires_grad = self.impl()->requires_grad;
    copy.impl()->grad_fn = std::move(history);
    copy.impl()->output_nr = self.output_nr();
    inputs.push_back(copy);
  } else {
    inputs.push_back(self);
  }
  for (Tensor& o : others) inputs.push_back(std::move(o));

  TD_ASSIGN_OR_RETURN(std::vector<Tensor> outs, Apply(def, std::move(inputs), attrs));
  const Tensor& result = outs[0];
  if (result.shape() != self.shape()) {
    return absl::InvalidArgumentError(
        absl::StrCat("output with shape ", ShapeToString(self.shape()),
                     " doesn't match the broadcast shape ", ShapeToString(result.shape())));
  }
  if (!CanCast(result.dtype(), self.dtype())) {
    return absl::InvalidArgumentError(absl::StrCat("result type ", ScalarTypeName(result.dtype()),
                                                   " can't be cast to the desired output type ",
                                                   ScalarTypeName(self.dtype())));
  }
  bool self_overlaps = false;
  for (size_t d = 0; d < self.shape().size(); ++d) {
    self_overlaps |= self.strides()[d] == 0 && self.shape()[d] > 1;
  }
  if (self.is_meta()) {
    // Metadata only: nothing to write.
  } else if (self_overlaps && def.inplace != nullptr && result.dtype() == self.dtype()) {
    // Writing through an expanded self (fill_, zero_, masked_fill_): elements that share memory
    // see each other's writes, as in PyTorch's kernels, which a plain copy would not reproduce.
    TD_ASSIGN_OR_RETURN(Attrs resolved, ResolveAttrs(def, attrs));
    UninterruptibleScope all_or_nothing;
    def.inplace(OpArgs{all_inputs, resolved});
  } else {
    UninterruptibleScope all_or_nothing;
    kernels::CopyInto(self, result);
  }
  self.bump_version();
  if (std::shared_ptr<Node> fn = result.impl()->grad_fn) {
    // A plain tensor takes the op's node as its history; a view hands it to its base, wrapped
    // in CopySlices (rebase_history).
    RebaseHistory(self, fn);
    // The new history may lead back to self (self.mul_(self), self.mul_(f(self))): a reference
    // cycle, which the context breaks when it goes away.
    Context::Current().RememberRebasedHistory(self.impl_ptr());
    // The node's saved result is self itself, as in PyTorch: a later in-place op on self (or on
    // its base or another view) makes backward through this node fail.
    auto* op_node = static_cast<OpNode*>(fn.get());
    if (!op_node->saved_outputs_.empty() && op_node->saved_outputs_[0].defined()) {
      op_node->saved_outputs_[0] = SavedVariable(self, /*is_output=*/true);
    }
  }
  return absl::OkStatus();
}

}  // namespace tensord
