#include "server/commands.h"

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "engine/api.h"
#include "engine/autograd.h"
#include "engine/cancel.h"
#include "engine/context.h"
#include "engine/dispatch.h"
#include "engine/node.h"
#include "engine/status_macros.h"
#include "engine/views.h"
#include "server/metrics.h"
#include "server/status.h"
#include "spdlog/spdlog.h"

namespace tensord::server {
namespace {

// The factory overload a FactoryRequest names. FactoryRequest is a thin path into the op table
// (factories are ordinary table ops, also reachable by ApplyOp): `name` is an overload group of
// factory ops (zeros, arange, eye, randint, zeros_like, ...), `shape` its `size`, `dtype` and
// `requires_grad` the attributes of those names, `like` a *_like form's self. Of the group's
// overloads, the first whose arguments take every attribute given and get every one they require
// runs (arange with start and end: arange.start), as PyTorch's parser picks by keywords.
absl::StatusOr<const OpDef*> FactoryOverload(const pb::FactoryRequest& req,
                                             const std::vector<std::string>& given) {
  const OpDef* takes = nullptr;
  const OpDef* first = nullptr;
  for (const OpDef& def : OpTable()) {
    if (!def.factory || (def.overload_group() != req.name() && def.name != req.name())) continue;
    if (def.num_inputs != (req.like() != 0 ? 1 : 0)) continue;
    if (first == nullptr) first = &def;
    bool all_taken = true;
    for (const std::string& g : given) {
      bool found = false;
      for (const AttrSpec& spec : def.attrs) found |= spec.name == g;
      all_taken &= found;
    }
    if (!all_taken) continue;
    if (takes == nullptr) takes = &def;
    bool complete = true;
    for (const AttrSpec& spec : def.attrs) {
      if (!spec.required || spec.nullable) continue;
      bool found = false;
      for (const std::string& g : given) found |= spec.name == g;
      complete &= found || (spec.name == "size" && req.like() == 0);  // `shape`
    }
    if (complete) return &def;
  }
  if (takes != nullptr) return takes;  // its missing argument is reported by name
  if (first != nullptr) return first;  // its unexpected argument is reported by name
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown factory '", Clip(req.name()), "'", req.like() != 0 ? " with `like`" : "",
      " (a factory op of the table: ListOps lists them with their schemas)"));
}

bool HasAttr(const OpDef& def, absl::string_view name) {
  for (const AttrSpec& spec : def.attrs)
    if (spec.name == name) return true;
  return false;
}

// A zero-input op's results against the server's limits, from its shape rule (before anything is
// allocated).
absl::Status CheckResultLimits(const OpDef& def, const Attrs& attrs, const ServerOptions& limits) {
  TD_ASSIGN_OR_RETURN(Attrs resolved, ResolveAttrs(def, attrs));
  TD_ASSIGN_OR_RETURN(std::vector<TensorMeta> metas, def.infer(OpArgs{{}, resolved}));
  for (const TensorMeta& m : metas) TD_RETURN_IF_ERROR(CheckShape(m.shape, limits));
  return absl::OkStatus();
}

}  // namespace

void SetError(const absl::Status& s, pb::CommandResult* r) {
  r->clear_result();
  r->set_code(static_cast<int>(s.code()));
  r->set_message(WireMessage(s.message()));
}

absl::Status CommandRunner::CheckSession(const std::string& id) const {
  if (!id.empty() && id != session_.id()) {
    return absl::InvalidArgumentError(absl::StrCat("command names session '", Clip(id),
                                                   "' inside a call for session '",
                                                   Clip(session_.id()), "'"));
  }
  return absl::OkStatus();
}

absl::Status CommandRunner::CheckIds(const google::protobuf::RepeatedField<uint64_t>& ids,
                                     size_t needed) const {
  if (static_cast<size_t>(ids.size()) > needed) {
    return absl::InvalidArgumentError(
        absl::StrCat(ids.size(), " output ids given for ", needed, " results"));
  }
  absl::flat_hash_set<uint64_t> seen;
  for (uint64_t id : ids) {
    TD_RETURN_IF_ERROR(session_.CheckFree(id));
    if (id != 0 && !seen.insert(id).second) {
      return absl::InvalidArgumentError(absl::StrCat("output id ", id, " given twice"));
    }
  }
  return absl::OkStatus();
}

void CommandRunner::Info(uint64_t id, const Tensor& t, pb::TensorsResponse* resp) const {
  FillInfo(id, t, resp->add_tensors());
}

absl::Status CommandRunner::CreateTensor(const pb::CreateTensorRequest& req,
                                         pb::TensorsResponse* resp) {
  TD_RETURN_IF_ERROR(CheckSession(req.session_id()));
  TD_RETURN_IF_ERROR(session_.CheckFree(req.id()));
  TD_ASSIGN_OR_RETURN(Tensor t, FromProto(req.data(), options_, req.requires_grad()));
  if (req.wrapped_number()) {
    if (t.dim() != 0 || t.requires_grad()) {
      return absl::InvalidArgumentError(
          "a wrapped number must be a 0-dim tensor without requires_grad");
    }
    t.impl()->wrapped_number = true;
  }
  Info(session_.Put(req.id(), t), t, resp);
  return absl::OkStatus();
}

absl::Status CommandRunner::Factory(const pb::FactoryRequest& req, pb::TensorsResponse* resp) {
  TD_RETURN_IF_ERROR(CheckSession(req.session_id()));
  pb::ApplyOpRequest op;
  op.set_session_id(req.session_id());
  *op.mutable_attrs() = req.attrs();
  if (req.dtype() != pb::DTYPE_UNSPECIFIED) {
    TD_ASSIGN_OR_RETURN(DType d, FromProto(req.dtype()));
    (*op.mutable_attrs())["dtype"].set_dtype(ToProto(d));
  }
  if (req.requires_grad()) (*op.mutable_attrs())["requires_grad"].set_b(true);
  std::vector<std::string> given;
  for (const auto& [name, value] : op.attrs()) given.push_back(name);
  TD_ASSIGN_OR_RETURN(const OpDef* def, FactoryOverload(req, given));
  if (HasAttr(*def, "size") && req.like() == 0) {
    TD_RETURN_IF_ERROR(CheckShape(req.shape(), options_));
    *(*op.mutable_attrs())["size"].mutable_ints()->mutable_values() = req.shape();
  } else if (req.shape_size() != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(def->name, "() takes no shape (its size comes from its arguments)"));
  }
  op.set_op(std::string(def->name));
  if (req.like() != 0) op.add_inputs(req.like());
  op.add_outputs(req.id());
  return ApplyOp(op, resp);
}

absl::Status CommandRunner::ApplyOp(const pb::ApplyOpRequest& req, pb::TensorsResponse* resp) {
  TD_RETURN_IF_ERROR(CheckSession(req.session_id()));
  TD_ASSIGN_OR_RETURN(const OpDef* def, FindOp(req.op()));
  std::vector<Tensor> inputs;
  inputs.reserve(static_cast<size_t>(req.inputs_size()));
  for (uint64_t id : req.inputs()) {
    if (id == 0) {  // None, for an optional input (`Tensor? bias`); the op refuses it otherwise
      inputs.emplace_back();
      continue;
    }
    TD_ASSIGN_OR_RETURN(Tensor t, session_.Get(id));
    inputs.push_back(std::move(t));
  }
  TD_ASSIGN_OR_RETURN(Attrs attrs, FromProto(req.attrs()));
  // A factory's result is checked against the server's limits before it is allocated (its
  // shape rule computes it from the attributes); other ops' results after, below.
  if (def->num_inputs == 0) TD_RETURN_IF_ERROR(CheckResultLimits(*def, attrs, options_));
  std::optional<AutoGradMode> mode;
  if (req.has_grad_enabled()) mode.emplace(req.grad_enabled());
  const bool inplace = req.op() == def->inplace_name;
  if (!inplace)
    TD_RETURN_IF_ERROR(CheckIds(req.outputs(), static_cast<size_t>(req.outputs_size())));
  TD_ASSIGN_OR_RETURN(std::vector<Tensor> outs, Apply(req.op(), std::move(inputs), attrs));
  stats_.ops.fetch_add(1, std::memory_order_relaxed);
  session_.ops.fetch_add(1, std::memory_order_relaxed);
  if (stats_.metrics != nullptr) stats_.metrics->RecordOp(def->name);
  // The server's limits hold for results too (a view such as expand allocates nothing, but what
  // comes after it would pay for every element). Nothing is bound when they are exceeded.
  for (const Tensor& o : outs) {
    if (o.dim() > options_.max_rank) {
      return absl::InvalidArgumentError(
          absl::StrCat(req.op(), " would create a tensor of rank ", o.dim(),
                       ", which exceeds the server's limit of ", options_.max_rank));
    }
    if (o.numel() > options_.max_tensor_elements) {
      return absl::InvalidArgumentError(
          absl::StrCat(req.op(), " would create a tensor of ", o.numel(),
                       " elements, which exceeds the server's limit of ",
                       options_.max_tensor_elements, " elements"));
    }
  }
  if (inplace) {
    Info(req.inputs(0), outs[0], resp);
    return absl::OkStatus();
  }
  if (req.outputs_size() > static_cast<int>(outs.size())) {
    return absl::InvalidArgumentError(absl::StrCat(req.outputs_size(), " output ids given but ",
                                                   req.op(), " returned ", outs.size(),
                                                   " tensors"));
  }
  for (size_t i = 0; i < outs.size(); ++i) {
    const uint64_t want =
        i < static_cast<size_t>(req.outputs_size()) ? req.outputs(static_cast<int>(i)) : 0;
    Info(session_.Put(want, outs[i]), outs[i], resp);
  }
  return absl::OkStatus();
}

absl::Status CommandRunner::SetRequiresGrad(const pb::SetRequiresGradRequest& req,
                                            pb::TensorsResponse* resp) {
  TD_RETURN_IF_ERROR(CheckSession(req.session_id()));
  TD_ASSIGN_OR_RETURN(Tensor t, session_.Get(req.id()));
  TD_RETURN_IF_ERROR(req.method() ? t.requires_grad_(req.requires_grad())
                                  : t.set_requires_grad(req.requires_grad()));
  Info(req.id(), t, resp);
  return absl::OkStatus();
}

absl::Status CommandRunner::Detach(const pb::AliasRequest& req, pb::TensorsResponse* resp) {
  TD_RETURN_IF_ERROR(CheckSession(req.session_id()));
  TD_ASSIGN_OR_RETURN(Tensor t, session_.Get(req.id()));
  TD_RETURN_IF_ERROR(session_.CheckFree(req.out()));
  Tensor d = t.detach();
  Info(session_.Put(req.out(), d), d, resp);
  return absl::OkStatus();
}

absl::Status CommandRunner::Data(const pb::AliasRequest& req, pb::TensorsResponse* resp) {
  TD_RETURN_IF_ERROR(CheckSession(req.session_id()));
  TD_ASSIGN_OR_RETURN(Tensor t, session_.Get(req.id()));
  TD_RETURN_IF_ERROR(session_.CheckFree(req.out()));
  Tensor d = t.data();
  Info(session_.Put(req.out(), d), d, resp);
  return absl::OkStatus();
}

absl::Status CommandRunner::SetData(const pb::SetDataRequest& req, pb::TensorsResponse* resp) {
  TD_RETURN_IF_ERROR(CheckSession(req.session_id()));
  TD_ASSIGN_OR_RETURN(Tensor t, session_.Get(req.id()));
  TD_ASSIGN_OR_RETURN(Tensor source, session_.Get(req.source()));
  TD_RETURN_IF_ERROR(t.set_data(source));
  Info(req.id(), t, resp);
  return absl::OkStatus();
}

absl::Status CommandRunner::DetachInplace(const pb::TensorRequest& req, pb::TensorsResponse* resp) {
  TD_RETURN_IF_ERROR(CheckSession(req.session_id()));
  TD_ASSIGN_OR_RETURN(Tensor t, session_.Get(req.id()));
  TD_RETURN_IF_ERROR(t.detach_());
  Info(req.id(), t, resp);
  return absl::OkStatus();
}

absl::Status CommandRunner::RetainGrad(const pb::TensorRequest& req, pb::TensorsResponse* resp) {
  TD_RETURN_IF_ERROR(CheckSession(req.session_id()));
  TD_ASSIGN_OR_RETURN(Tensor t, session_.Get(req.id()));
  TD_RETURN_IF_ERROR(t.retain_grad());
  Info(req.id(), t, resp);
  return absl::OkStatus();
}

absl::Status CommandRunner::Release(const pb::ReleaseRequest& req, pb::ReleaseResponse* resp) {
  TD_RETURN_IF_ERROR(CheckSession(req.session_id()));
  for (uint64_t id : req.ids()) TD_RETURN_IF_ERROR(session_.Get(id).status());
  int64_t n = 0;
  for (uint64_t id : req.ids()) n += session_.Release(id) ? 1 : 0;
  resp->set_released(n);
  return absl::OkStatus();
}

absl::Status CommandRunner::GetTensor(const pb::GetTensorRequest& req,
                                      pb::GetTensorResponse* resp) {
  TD_RETURN_IF_ERROR(CheckSession(req.session_id()));
  TD_ASSIGN_OR_RETURN(Tensor t, session_.Get(req.id()));
  const int64_t bytes =
      t.nbytes() + (req.include_grad() && t.grad().defined() ? t.grad().nbytes() : 0);
  if (bytes > options_.max_message_bytes - 1024) {
    return absl::FailedPreconditionError(absl::StrCat(
        "tensor ", req.id(), req.include_grad() ? " and its grad have " : " has ", bytes,
        " bytes, more than fits in one message (", options_.max_message_bytes, "); use Download"));
  }
  FillInfo(req.id(), t, resp->mutable_info());
  ToProto(t, resp->mutable_value());
  if (req.include_grad() && t.grad().defined()) ToProto(t.grad(), resp->mutable_grad());
  return absl::OkStatus();
}

absl::Status CommandRunner::GetInfo(const pb::TensorRequest& req, pb::TensorsResponse* resp) {
  TD_RETURN_IF_ERROR(CheckSession(req.session_id()));
  TD_ASSIGN_OR_RETURN(Tensor t, session_.Get(req.id()));
  Info(req.id(), t, resp);
  return absl::OkStatus();
}

absl::Status CommandRunner::ZeroGrad(const pb::TensorRequest& req, pb::TensorsResponse* resp) {
  TD_RETURN_IF_ERROR(CheckSession(req.session_id()));
  TD_ASSIGN_OR_RETURN(Tensor t, session_.Get(req.id()));
  if (t.grad().defined()) {
    NoGradGuard no_grad;
    TD_RETURN_IF_ERROR(ops::zero_(t.grad()));
  }
  Info(req.id(), t, resp);
  return absl::OkStatus();
}

absl::Status CommandRunner::SetGrad(const pb::SetGradRequest& req, pb::TensorsResponse* resp) {
  TD_RETURN_IF_ERROR(CheckSession(req.session_id()));
  TD_ASSIGN_OR_RETURN(Tensor t, session_.Get(req.id()));
  Tensor g;
  if (req.grad() != 0) {
    TD_ASSIGN_OR_RETURN(g, session_.Get(req.grad()));
  }
  TD_RETURN_IF_ERROR(t.set_grad(g));
  Info(req.id(), t, resp);
  return absl::OkStatus();
}

absl::Status CommandRunner::BindGrad(const pb::AliasRequest& req, pb::TensorsResponse* resp) {
  TD_RETURN_IF_ERROR(CheckSession(req.session_id()));
  TD_ASSIGN_OR_RETURN(Tensor t, session_.Get(req.id()));
  TD_RETURN_IF_ERROR(session_.CheckFree(req.out()));
  Tensor g = t.grad();
  if (g.defined()) Info(session_.Put(req.out(), g), g, resp);
  return absl::OkStatus();
}

namespace {
absl::StatusOr<std::vector<Tensor>> Resolve(Session& s,
                                            const google::protobuf::RepeatedField<uint64_t>& ids,
                                            bool zero_is_none) {
  std::vector<Tensor> out;
  for (uint64_t id : ids) {
    if (id == 0 && zero_is_none) {
      out.emplace_back();
      continue;
    }
    TD_ASSIGN_OR_RETURN(Tensor t, s.Get(id));
    out.push_back(std::move(t));
  }
  return out;
}
}  // namespace

absl::Status CommandRunner::Backward(const pb::BackwardRequest& req, pb::BackwardResponse*) {
  TD_RETURN_IF_ERROR(CheckSession(req.session_id()));
  TD_ASSIGN_OR_RETURN(std::vector<Tensor> tensors, Resolve(session_, req.tensors(), false));
  TD_ASSIGN_OR_RETURN(std::vector<Tensor> grads, Resolve(session_, req.grad_tensors(), true));
  BackwardOptions opts;
  if (req.has_retain_graph()) opts.retain_graph = req.retain_graph();
  opts.create_graph = req.create_graph();
  TD_ASSIGN_OR_RETURN(opts.inputs, Resolve(session_, req.inputs(), false));
  return tensord::Backward(tensors, grads, opts);
}

absl::Status CommandRunner::Grad(const pb::GradRequest& req, pb::GradResponse* resp) {
  TD_RETURN_IF_ERROR(CheckSession(req.session_id()));
  TD_ASSIGN_OR_RETURN(std::vector<Tensor> outputs, Resolve(session_, req.outputs(), false));
  TD_ASSIGN_OR_RETURN(std::vector<Tensor> inputs, Resolve(session_, req.inputs(), false));
  TD_ASSIGN_OR_RETURN(std::vector<Tensor> grad_outputs,
                      Resolve(session_, req.grad_outputs(), true));
  TD_RETURN_IF_ERROR(CheckIds(req.results(), inputs.size()));
  GradOptions opts;
  if (req.has_retain_graph()) opts.retain_graph = req.retain_graph();
  opts.create_graph = req.create_graph();
  opts.allow_unused = req.allow_unused();
  TD_ASSIGN_OR_RETURN(std::vector<Tensor> grads,
                      tensord::Grad(outputs, inputs, grad_outputs, opts));
  for (size_t i = 0; i < grads.size(); ++i) {
    const bool defined = grads[i].defined();
    resp->add_defined(defined);
    pb::TensorInfo* info = resp->add_grads();
    if (!defined) continue;
    const uint64_t want =
        i < static_cast<size_t>(req.results_size()) ? req.results(static_cast<int>(i)) : 0;
    FillInfo(session_.Put(want, grads[i]), grads[i], info);
  }
  return absl::OkStatus();
}

absl::Status CommandRunner::SetGradMode(const pb::SetGradModeRequest& req,
                                        pb::GradModeResponse* resp) {
  TD_RETURN_IF_ERROR(CheckSession(req.session_id()));
  session_.context().set_grad_enabled(req.enabled());
  resp->set_enabled(req.enabled());
  return absl::OkStatus();
}

absl::Status CommandRunner::GetGraph(const pb::GetGraphRequest& req, pb::GraphResponse* resp) {
  TD_RETURN_IF_ERROR(CheckSession(req.session_id()));
  TD_ASSIGN_OR_RETURN(Tensor t, session_.Get(req.id()));
  TD_RETURN_IF_ERROR(t.grad_fn_or_error().status());  // PyTorch's error for a stale view
  Edge root = GradientEdge(t);
  if (!root.valid()) {
    resp->set_root(-1);
    return absl::OkStatus();
  }
  absl::flat_hash_map<const Node*, int> index;
  std::vector<const Node*> order{root.function.get()};
  index[root.function.get()] = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    for (const Edge& e : order[i]->next_edges()) {
      if (e.valid() && index.emplace(e.function.get(), static_cast<int>(order.size())).second) {
        order.push_back(e.function.get());
      }
    }
  }
  resp->set_root(0);
  resp->set_root_output(root.input_nr);
  for (size_t i = 0; i < order.size(); ++i) {
    const Node* n = order[i];
    pb::GraphNode* out = resp->add_nodes();
    out->set_index(static_cast<int>(i));
    out->set_name(n->name());
    if (const auto* copy = dynamic_cast<const CopySlices*>(n)) out->set_wrapped(copy->fn()->name());
    for (const Edge& e : n->next_edges()) {
      pb::GraphNode::Edge* pe = out->add_next();
      pe->set_node(e.valid() ? index[e.function.get()] : -1);
      pe->set_input_nr(e.input_nr);
    }
    for (const SavedTensorInfo& s : n->SavedTensors()) {
      pb::GraphNode::Saved* ps = out->add_saved();
      ps->set_name(s.name);
      ps->set_dtype(ToProto(s.meta.dtype));
      for (int64_t d : s.meta.shape) ps->add_shape(d);
      ps->set_freed(s.freed);
    }
    if (auto var = n->variable()) {
      out->set_variable(session_.FindHandle(var.get()));
      for (int64_t d : var->shape) out->add_variable_shape(d);
    }
  }
  return absl::OkStatus();
}

absl::Status CommandRunner::Run(const pb::Command& c, pb::CommandResult* r) {
  r->set_tag(c.tag());
  absl::Status s;
  switch (c.command_case()) {
#define TENSORD_RUN_COMMAND_(Name, field, Req, Resp, result) \
  case pb::Command::k##Name:                                 \
    s = Name(c.field(), r->mutable_##result());              \
    break;
    TENSORD_FORALL_SESSION_COMMANDS(TENSORD_RUN_COMMAND_)
#undef TENSORD_RUN_COMMAND_
    case pb::Command::COMMAND_NOT_SET:
      s = absl::InvalidArgumentError("empty command");
      break;
  }
  stats_.commands.fetch_add(1, std::memory_order_relaxed);
  session_.commands.fetch_add(1, std::memory_order_relaxed);
  if (!s.ok()) SetError(s, r);
  return s;
}

absl::Status CommandRunner::RunGuarded(const pb::Command& command, pb::CommandResult* result,
                                       absl::Time call_deadline,
                                       absl::FunctionRef<bool()> call_cancelled) {
  absl::Status s = GuardCommand(session_, options_, call_deadline, call_cancelled,
                                [&] { return Run(command, result); });
  // Stopped or thrown inside Run: the result does not say so yet.
  if (!s.ok() && result->code() == 0) {
    result->set_tag(command.tag());
    SetError(s, result);
  }
  return s;
}

absl::Status GuardCommand(Session& session, const ServerOptions& options, absl::Time call_deadline,
                          absl::FunctionRef<bool()> call_cancelled,
                          absl::FunctionRef<absl::Status()> fn) {
  const absl::Time limit = absl::Now() + options.max_command_time;
  const bool call_first = call_deadline < limit;
  auto reason = [&](bool deadline_passed) -> absl::Status {
    if (deadline_passed) {
      if (call_first) {
        return absl::DeadlineExceededError(
            "the call's deadline passed while this command ran; it was stopped and the session "
            "is as before it");
      }
      return absl::DeadlineExceededError(
          absl::StrCat("the command ran longer than the server's limit of ",
                       absl::FormatDuration(options.max_command_time),
                       " (--max_command_seconds); it was stopped and the session is as before it"));
    }
    if (session.closed()) {
      return absl::CancelledError("the session was closed while this command ran; it was stopped");
    }
    if (call_cancelled()) {
      return absl::CancelledError(
          "the call was cancelled while this command ran; it was stopped and the session is as "
          "before it");
    }
    return absl::OkStatus();
  };
  CancellationScope scope(std::min(limit, call_deadline), reason);
  try {
    return fn();
  } catch (const CancelledException& e) {
    return e.status;
  } catch (const std::exception& e) {
    spdlog::error("session {}: a command threw {}; answered INTERNAL", LogId(session.id()),
                  e.what());
    return absl::InternalError(
        absl::StrCat("internal error while running the command (", Clip(e.what()), ")"));
  } catch (...) {
    spdlog::error("session {}: a command threw a non-standard exception; answered INTERNAL",
                  LogId(session.id()));
    return absl::InternalError("internal error while running the command");
  }
}

void DescribeSession(Session& session, pb::SessionInfo* out) {
  out->set_session_id(session.id());
  for (const auto& [k, v] : session.labels()) (*out->mutable_labels())[k] = v;
  out->set_created_unix_ms(absl::ToUnixMillis(session.created()));
  out->set_last_used_unix_ms(absl::ToUnixMillis(session.last_used()));
  out->set_ttl_seconds(absl::ToInt64Seconds(session.ttl()));
  out->set_tensors(session.num_tensors());
  out->set_bytes(session.context().memory().used());
  out->set_peak_bytes(session.context().memory().peak());
  out->set_max_bytes(session.context().memory().limit());
  out->set_grad_enabled(session.context().grad_enabled());
  out->set_commands(session.commands.load(std::memory_order_relaxed));
}

}  // namespace tensord::server
