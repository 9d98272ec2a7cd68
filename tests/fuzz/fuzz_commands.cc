// libFuzzer harness: batches of commands run against the command layer in process (no network),
// exactly as Execute and the streams run them: a fresh session per input, its context bound,
// every command through CommandRunner::RunGuarded.
//
// The first byte picks the mode:
//  * < 48: the rest is a serialized tensord.v1.ExecuteRequest (the wire decoder's view), run
//    like Execute: in order, stopping at the first failure;
//  * otherwise structure-aware: the bytes are decisions (fuzz_input.h) that build commands over
//    the real op table (every op and in-place name, its attribute specs filled with edge values,
//    sometimes of the wrong type), factories, autograd and handle commands, with handles drawn
//    from those created so far; run like a stream (a failure does not stop the rest).
//
// Invariants checked besides the sanitizers: nothing throws (no INTERNAL); a failed command binds
// no handle and leaves the session's bytes as they were; a command's result carries its status
// and tag; the session stays within its quota; when the session closes, every byte is given back.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/context.h"
#include "engine/op_def.h"
#include "server/commands.h"
#include "server/convert.h"
#include "server/session.h"
#include "tests/fuzz/fuzz_common.h"
#include "tests/fuzz/fuzz_input.h"

namespace tensord::fuzz {
namespace {

constexpr int kMaxCommands = 48;

// TENSORD_FUZZ_VERBOSE=1: print every command and its result (to see what an input does).
bool Verbose() {
  static const bool verbose = std::getenv("TENSORD_FUZZ_VERBOSE") != nullptr;
  return verbose;
}

class Program {
 public:
  Program(server::Session& session, server::ServerStats& stats)
      : session_(session), runner_(session, FuzzOptions(), stats) {}

  // Runs one command with the checks of the file comment; returns its status.
  absl::Status Run(const pb::Command& c) {
    // What the service does before running a unary ApplyOp (IsSmall): the work estimate, which
    // reads the inputs and attributes without running anything.
    if (c.has_apply_op()) EstimateApplyOp(c.apply_op());
    const int64_t handles_before = session_.num_tensors();
    const int64_t bytes_before = session_.context().memory().used();
    if (Verbose()) std::fprintf(stderr, "command: %s\n", c.ShortDebugString().c_str());
    pb::CommandResult r;
    const absl::Status s = runner_.RunGuarded(c, &r, absl::InfiniteFuture(), [] { return false; });
    if (Verbose()) {
      std::fprintf(stderr, "-> %s\n", s.ok() ? r.ShortDebugString().c_str() : s.ToString().c_str());
    }
    (void)r.ByteSizeLong();  // the reply is sized and serialized as the service does
    TENSORD_FUZZ_CHECK(r.code() == static_cast<int>(s.code()), "result code %d, status %s",
                       r.code(), s.ToString().c_str());
    TENSORD_FUZZ_CHECK(r.tag() == c.tag(), "tag not echoed");
    // INTERNAL is what the command guard makes of an exception: nothing may throw.
    TENSORD_FUZZ_CHECK(s.code() != absl::StatusCode::kInternal, "%s", s.ToString().c_str());
    const int64_t used = session_.context().memory().used();
    TENSORD_FUZZ_CHECK(used <= session_.context().memory().limit(), "%lld bytes over the quota",
                       static_cast<long long>(used));
    if (!s.ok()) {
      TENSORD_FUZZ_CHECK(session_.num_tensors() == handles_before,
                         "a failed command changed the handles (%lld -> %lld): %s",
                         static_cast<long long>(handles_before),
                         static_cast<long long>(session_.num_tensors()), s.ToString().c_str());
      TENSORD_FUZZ_CHECK(
          used == bytes_before, "a failed command changed the session's bytes (%lld -> %lld): %s",
          static_cast<long long>(bytes_before), static_cast<long long>(used), s.ToString().c_str());
      return s;
    }
    Learn(r);
    return s;
  }

  // Structure-aware: one command built from the input.
  pb::Command Build(FuzzInput& in) {
    pb::Command c;
    c.set_tag(in.Byte());
    const uint8_t kind = in.Byte();
    if (kind < 20) {
      CreateTensor(in, c.mutable_create_tensor());
    } else if (kind < 38) {
      Factory(in, c.mutable_factory());
    } else if (kind < 150) {
      ApplyOp(in, c.mutable_apply_op());
    } else if (kind < 162) {
      auto* b = c.mutable_backward();
      b->set_session_id(SessionField(in));
      const int n = in.Chance(230) ? 1 : static_cast<int>(in.Below(3));
      for (int i = 0; i < n; ++i) b->add_tensors(Handle(in));
      if (in.Chance(70)) {
        for (int i = 0; i < n; ++i) b->add_grad_tensors(in.Chance(40) ? 0 : Handle(in));
      }
      if (in.Chance(100)) b->set_retain_graph(in.Bool());
      b->set_create_graph(in.Chance(90));
      if (in.Chance(60)) {
        const int k = 1 + static_cast<int>(in.Below(2));
        for (int i = 0; i < k; ++i) b->add_inputs(Handle(in));
      }
    } else if (kind < 172) {
      auto* g = c.mutable_grad();
      g->set_session_id(SessionField(in));
      const int n = 1 + static_cast<int>(in.Below(2));
      for (int i = 0; i < n; ++i) g->add_outputs(Handle(in));
      const int k = 1 + static_cast<int>(in.Below(2));
      for (int i = 0; i < k; ++i) g->add_inputs(Handle(in));
      if (in.Chance(60)) {
        for (int i = 0; i < n; ++i) g->add_grad_outputs(in.Chance(40) ? 0 : Handle(in));
      }
      if (in.Chance(100)) g->set_retain_graph(in.Bool());
      g->set_create_graph(in.Chance(90));
      g->set_allow_unused(in.Bool());
      if (in.Chance(60)) {
        for (int i = 0; i < k; ++i) g->add_results(OutputId(in));
      }
    } else if (kind < 180) {
      auto* q = c.mutable_set_requires_grad();
      q->set_session_id(SessionField(in));
      q->set_id(Handle(in));
      q->set_requires_grad(in.Chance(200));
    } else if (kind < 188) {
      pb::AliasRequest* a = nullptr;
      switch (in.Below(3)) {
        case 0:
          a = c.mutable_detach();
          break;
        case 1:
          a = c.mutable_data();
          break;
        default:
          a = c.mutable_bind_grad();
          break;
      }
      a->set_session_id(SessionField(in));
      a->set_id(Handle(in));
      a->set_out(OutputId(in));
    } else if (kind < 196) {
      pb::TensorRequest* t = nullptr;
      switch (in.Below(3)) {
        case 0:
          t = c.mutable_retain_grad();
          break;
        case 1:
          t = c.mutable_get_info();
          break;
        default:
          t = c.mutable_zero_grad();
          break;
      }
      t->set_session_id(SessionField(in));
      t->set_id(Handle(in));
    } else if (kind < 204) {
      auto* g = c.mutable_get_tensor();
      g->set_session_id(SessionField(in));
      g->set_id(Handle(in));
      g->set_include_grad(in.Bool());
    } else if (kind < 212) {
      auto* g = c.mutable_set_grad();
      g->set_session_id(SessionField(in));
      g->set_id(Handle(in));
      g->set_grad(in.Chance(40) ? 0 : Handle(in));
    } else if (kind < 222) {
      auto* g = c.mutable_get_graph();
      g->set_session_id(SessionField(in));
      g->set_id(Handle(in));
    } else if (kind < 232) {
      auto* r = c.mutable_release();
      r->set_session_id(SessionField(in));
      const int n = static_cast<int>(in.Below(3));
      for (int i = 0; i < n; ++i) r->add_ids(Handle(in));
    } else if (kind < 250) {
      auto* m = c.mutable_set_grad_mode();
      m->set_session_id(SessionField(in));
      m->set_enabled(in.Chance(160));
    }
    // else: an empty command
    return c;
  }

 private:
  void EstimateApplyOp(const pb::ApplyOpRequest& r) {
    auto def = FindOp(r.op());
    if (!def.ok()) return;
    std::vector<Tensor> inputs;
    for (uint64_t id : r.inputs()) {
      auto t = session_.Get(id);
      if (!t.ok()) return;
      inputs.push_back(*std::move(t));
    }
    auto attrs = server::FromProto(r.attrs());
    if (!attrs.ok()) return;
    const int64_t work = EstimateWork(**def, inputs, *attrs);
    TENSORD_FUZZ_CHECK(work >= 0, "negative work estimate %lld for %s",
                       static_cast<long long>(work), r.op().c_str());
  }

  void Remember(uint64_t id) {
    if (id == 0) return;
    for (uint64_t h : handles_)
      if (h == id) return;
    if (handles_.size() < 64) handles_.push_back(id);
  }

  void Learn(const pb::CommandResult& r) {
    if (r.has_tensors()) {
      for (const pb::TensorInfo& t : r.tensors().tensors()) Remember(t.id());
    }
    if (r.has_grad()) {
      for (const pb::TensorInfo& t : r.grad().grads()) Remember(t.id());
    }
  }

  // A handle: one created so far mostly, sometimes an unknown or edge id.
  uint64_t Handle(FuzzInput& in) {
    const uint8_t k = in.Byte();
    if (!handles_.empty() && k < 235) return handles_[k % handles_.size()];
    if (k < 245) return static_cast<uint64_t>(in.Range(0, 70));
    return static_cast<uint64_t>(in.EdgeInt());
  }

  // An output id: server-assigned (0) or a fresh client id mostly; sometimes a taken one, a
  // server id (bit 62) or an edge.
  uint64_t OutputId(FuzzInput& in) {
    const uint8_t k = in.Byte();
    if (k < 100) return 0;
    if (k < 230) return next_id_++;
    if (k < 240 && !handles_.empty()) return handles_[k % handles_.size()];
    if (k < 248) return server::kServerIdBit + in.Below(4);
    return static_cast<uint64_t>(in.EdgeInt());
  }

  // Commands name their session optionally; a wrong name must fail cleanly.
  std::string SessionField(FuzzInput& in) {
    const uint8_t k = in.Byte();
    if (k < 235) return "";
    if (k < 248) return kSessionId;
    return in.String(8);
  }

  void CreateTensor(FuzzInput& in, pb::CreateTensorRequest* req) {
    req->set_session_id(SessionField(in));
    req->set_id(OutputId(in));
    pb::TensorData* data = req->mutable_data();
    const pb::DType dtype = EdgeDType(in);
    data->set_dtype(dtype);
    EdgeShape(in, [&](int64_t d) { data->add_shape(d); });
    const int64_t numel = WireNumel(data->shape());
    if (numel <= kMaxElements && in.Chance(245)) {
      *data->mutable_data() = EdgeValues(in, dtype, numel);
    } else {
      *data->mutable_data() = in.String(64);
    }
    req->set_requires_grad(in.Chance(90));
    req->set_wrapped_number(in.Chance(30));
  }

  void Factory(FuzzInput& in, pb::FactoryRequest* req) {
    static const std::vector<std::string> kNames = {
        "zeros",      "ones",       "full",      "empty",     "eye",        "arange",
        "linspace",   "rand",       "randn",     "randint",   "randperm",   "normal",
        "uniform",    "zeros_like", "ones_like", "full_like", "empty_like", "rand_like",
        "randn_like", "bogus",      "eye_like",  ""};
    static const std::vector<std::string> kAttrs = {
        "value", "n", "m", "start", "end", "step", "steps", "low", "high", "mean", "std", "bogus"};
    req->set_session_id(SessionField(in));
    req->set_id(OutputId(in));
    req->set_name(in.Pick(kNames));
    EdgeShape(in, [&](int64_t d) { req->add_shape(d); });
    const int n = static_cast<int>(in.Below(4));
    for (int i = 0; i < n; ++i) {
      pb::AttrValue v;
      if (in.Chance(128)) {
        v.set_i(in.EdgeInt());
      } else if (in.Chance(240)) {
        v.set_f(in.EdgeDouble());
      } else {
        v.set_s("x");
      }
      (*req->mutable_attrs())[in.Pick(kAttrs)] = v;
    }
    if (in.Chance(100)) req->set_dtype(EdgeDType(in));
    req->set_requires_grad(in.Chance(90));
    req->set_like(Handle(in));
  }

  // An attribute value of the spec's type (sometimes another type, sometimes None).
  void AttrOfType(FuzzInput& in, AttrType type, pb::AttrValue* v) {
    if (in.Chance(10)) type = static_cast<AttrType>(in.Below(7));
    if (in.Chance(6)) {
      v->set_none(true);
      return;
    }
    switch (type) {
      case AttrType::kBool:
        v->set_b(in.Bool());
        return;
      case AttrType::kInt:
        v->set_i(in.EdgeInt());
        return;
      case AttrType::kDouble:
        v->set_f(in.EdgeDouble());
        return;
      case AttrType::kScalar:
        if (in.Bool()) {
          v->set_i(in.EdgeInt());
        } else {
          v->set_f(in.EdgeDouble());
        }
        return;
      case AttrType::kInts: {
        auto* ints = v->mutable_ints();
        const int n = static_cast<int>(in.Below(5));
        for (int i = 0; i < n; ++i) ints->add_values(in.EdgeInt());
        return;
      }
      case AttrType::kDType:
        v->set_dtype(EdgeDType(in));
        return;
      case AttrType::kString: {
        static const std::vector<std::string> kStrings = {"mean", "sum",   "none", "tanh",
                                                          "",     "bogus", "fro",  "nuc"};
        v->set_s(in.Chance(240) ? in.Pick(kStrings) : in.String(8));
        return;
      }
      case AttrType::kMemoryFormat:
      case AttrType::kLayout:
        v->set_i(in.Bool() ? 0 : in.EdgeInt());
        return;
      case AttrType::kDevice:
        v->set_s(in.Bool() ? "cpu" : in.String(8));
        return;
      case AttrType::kGenerator:  // only None is valid: anything else must be refused cleanly
        v->set_i(in.EdgeInt());
        return;
    }
  }

  void ApplyOp(FuzzInput& in, pb::ApplyOpRequest* req) {
    const std::vector<OpDef>& table = OpTable();
    const OpDef& def = table[static_cast<size_t>(in.Below(table.size()))];
    req->set_session_id(SessionField(in));
    const uint8_t name = in.Byte();
    if (!def.inplace_name.empty() && name < 80) {
      req->set_op(std::string(def.inplace_name));
    } else if (name < 252) {
      req->set_op(std::string(def.name));
    } else {
      req->set_op(in.String(12));
    }
    int inputs = def.num_inputs;
    if (inputs == kVariadic || in.Chance(12)) inputs = static_cast<int>(in.Below(5));
    for (int i = 0; i < inputs; ++i) req->add_inputs(Handle(in));
    auto& attrs = *req->mutable_attrs();
    for (const AttrSpec& spec : def.attrs) {
      if (in.Chance(50)) continue;  // the default (or a missing required attribute)
      AttrOfType(in, spec.type, &attrs[std::string(spec.name)]);
    }
    if (in.Chance(6)) AttrOfType(in, AttrType::kInt, &attrs["bogus"]);
    if (in.Chance(60)) req->set_grad_enabled(in.Chance(128));
    if (in.Chance(50)) {
      const int n = 1 + static_cast<int>(in.Below(2));
      for (int i = 0; i < n; ++i) req->add_outputs(OutputId(in));
    }
  }

  server::Session& session_;
  server::CommandRunner runner_;
  std::vector<uint64_t> handles_;
  uint64_t next_id_ = 1;
};

}  // namespace
}  // namespace tensord::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tensord;
  using namespace tensord::fuzz;
  if (size == 0) return 0;
  static server::ServerStats stats;
  const server::ServerOptions& options = FuzzOptions();
  std::unique_ptr<server::Session> session = NewSession(options.max_session_bytes);
  {
    ContextGuard guard(session->context());
    Program program(*session, stats);
    if (data[0] < 48) {
      pb::ExecuteRequest req;
      if (!req.ParseFromArray(data + 1, static_cast<int>(size - 1))) return 0;
      const int n = std::min(req.commands_size(), kMaxCommands);
      for (int i = 0; i < n; ++i) {
        if (!program.Run(req.commands(i)).ok()) break;
      }
    } else {
      FuzzInput in(data + 1, size - 1);
      for (int i = 0; i < kMaxCommands && !in.empty(); ++i) (void)program.Run(program.Build(in));
    }
    // Closing the session drops every handle; with the create_graph cycles broken (what the
    // context's destructor does), nothing of the session may stay allocated.
    session->Close();
    session->context().BreakGradCycles();
    const int64_t left = session->context().memory().used();
    TENSORD_FUZZ_CHECK(left == 0, "%lld bytes still held after the session closed",
                       static_cast<long long>(left));
  }
  return 0;
}
