#include "server/service.h"

#include <deque>
#include <optional>

#include <google/protobuf/io/coded_stream.h>
#include <malloc.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "engine/context.h"
#include "engine/factory.h"
#include "engine/kernels/loop.h"
#include "engine/op_def.h"
#include "engine/ops/op_util.h"
#include "engine/status_macros.h"
#include "engine/storage.h"
#include "proto/wire.h"
#include "server/status.h"
#include "server/transfer.h"
#include "spdlog/spdlog.h"

namespace tensord::server {
namespace {

using wire::kSessionHeader;
constexpr int64_t kDefaultChunk = 1 << 20;

grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* ctx, const absl::Status& s) {
  auto* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(s));
  return reactor;
}

// Bytes a result adds to a repeated `results` field: tag, length prefix, message.
size_t ResultWireBytes(const pb::CommandResult& r) {
  const size_t n = r.ByteSizeLong();
  return 1 + google::protobuf::io::CodedOutputStream::VarintSize64(n) + n;
}

std::string Metadata(grpc::CallbackServerContext* ctx, const char* key) {
  const auto& md = ctx->client_metadata();
  auto it = md.find(key);
  if (it == md.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

// The call's deadline as absl::Time (InfiniteFuture when the client set none).
absl::Time CallDeadline(const grpc::CallbackServerContext* ctx) {
  const auto deadline = ctx->deadline();
  if (deadline >= std::chrono::system_clock::time_point::max() - std::chrono::hours(24 * 365))
    return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

// What may run on a gRPC thread: commands whose estimated work (loop trip counts, not only
// element counts: a [0, 2^62] tensor is not small) is bounded. Everything else goes to the
// worker pool, and every command runs under the per-command limit either way.
int64_t Elements(Session& s, uint64_t id) {
  auto t = s.Get(id);
  return t.ok() ? LoopExtent(t->shape()) : 0;  // an unknown handle fails fast either way
}

template <typename Req>
bool IsSmall(const Req&, Session&, int64_t) {
  return false;
}
bool IsSmall(const pb::ApplyOpRequest& r, Session& s, int64_t max_work) {
  auto def = FindOp(r.op());
  if (!def.ok()) return true;  // fails at once
  std::vector<Tensor> inputs;
  inputs.reserve(static_cast<size_t>(r.inputs_size()));
  for (uint64_t id : r.inputs()) {
    auto t = s.Get(id);
    if (!t.ok()) return true;  // fails at once
    inputs.push_back(*std::move(t));
  }
  Attrs attrs;
  if (!r.attrs().empty()) {
    auto converted = FromProto(r.attrs());
    if (!converted.ok()) return true;  // fails at once
    attrs = *std::move(converted);
  }
  return EstimateWork(**def, inputs, attrs) <= max_work;
}
bool IsSmall(const pb::CreateTensorRequest& r, Session&, int64_t max_work) {
  return static_cast<int64_t>(r.data().data().size()) <= max_work * 8;
}
bool IsSmall(const pb::GetTensorRequest& r, Session& s, int64_t max_work) {
  return Elements(s, r.id()) <= max_work;
}
bool IsSmall(const pb::TensorRequest&, Session&, int64_t) { return true; }
bool IsSmall(const pb::ReleaseRequest&, Session&, int64_t) { return true; }
bool IsSmall(const pb::SetRequiresGradRequest&, Session&, int64_t) { return true; }
bool IsSmall(const pb::AliasRequest&, Session&, int64_t) { return true; }
bool IsSmall(const pb::SetGradRequest&, Session&, int64_t) { return true; }
bool IsSmall(const pb::SetDataRequest&, Session&, int64_t) { return true; }
bool IsSmall(const pb::SetGradModeRequest&, Session&, int64_t) { return true; }

}  // namespace

TensordService::TensordService(const ServerOptions& options, SessionManager& sessions,
                               Executor& executor, ServerStats& stats)
    : options_(options), sessions_(sessions), executor_(executor), stats_(stats) {}

void TensordService::CallStarted() { calls_in_flight_.fetch_add(1, std::memory_order_relaxed); }

void TensordService::CallEnded() { calls_in_flight_.fetch_sub(1, std::memory_order_release); }

void TensordService::StartDraining() { draining_.store(true, std::memory_order_release); }

void TensordService::WaitForCalls(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (calls_in_flight_.load(std::memory_order_acquire) > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(2));
  }
}

absl::Status TensordService::Admit() const {
  if (draining_.load(std::memory_order_acquire))
    return absl::UnavailableError("the server is shutting down");
  return absl::OkStatus();
}

absl::StatusOr<std::string> TensordService::Authenticate(grpc::CallbackServerContext* ctx) const {
  TD_RETURN_IF_ERROR(Admit());
  if (options_.tokens.empty() && options_.operator_tokens.empty()) return std::string();
  const std::string header = Metadata(ctx, wire::kAuthorizationHeader);
  if (header.empty())
    return absl::UnauthenticatedError("missing bearer token (authorization: Bearer <token>)");
  if (!absl::StartsWith(header, wire::kBearerPrefix)) {
    return absl::UnauthenticatedError("the authorization header must be 'Bearer <token>'");
  }
  const std::string token = header.substr(7);
  for (const std::string& t : options_.tokens)
    if (t == token) return token;
  for (const std::string& t : options_.operator_tokens)
    if (t == token) return token;
  return absl::UnauthenticatedError("invalid bearer token");
}

bool TensordService::IsOperator(const std::string& token) const {
  if (options_.tokens.empty() && options_.operator_tokens.empty()) return true;  // no auth
  for (const std::string& t : options_.operator_tokens)
    if (t == token) return true;
  return false;
}

absl::StatusOr<std::shared_ptr<Session>> TensordService::ResolveSession(
    grpc::CallbackServerContext* ctx, const std::string& session_id) const {
  TD_ASSIGN_OR_RETURN(std::string owner, Authenticate(ctx));
  const std::string header = Metadata(ctx, kSessionHeader);
  if (!header.empty() && header != session_id) {
    return absl::InvalidArgumentError(absl::StrCat("metadata ", kSessionHeader, " '", Clip(header),
                                                   "' does not match the request's session_id '",
                                                   Clip(session_id), "'"));
  }
  return sessions_.Get(session_id, owner);
}

template <typename Req, typename Resp, typename Fn>
grpc::ServerUnaryReactor* TensordService::OnSession(grpc::CallbackServerContext* ctx,
                                                    const Req* req, Resp* resp, Fn fn,
                                                    bool is_batch) {
  auto session = ResolveSession(ctx, req->session_id());
  if (!session.ok()) return FinishNow(ctx, session.status());
  auto* reactor = ctx->DefaultReactor();
  std::shared_ptr<Session> s = *std::move(session);
  auto token = std::make_shared<CallToken>(this);
  auto task = [this, ctx, req, resp, reactor, s, fn, token, is_batch] {
    absl::Status status;
    if (ctx->IsCancelled()) {
      status =
          absl::CancelledError("the call was cancelled (or its deadline passed) before it ran");
    } else if (s->closed()) {
      status = UnknownSessionError(s->id());
    } else {
      ContextGuard guard(s->context());
      s->Touch();
      CommandRunner runner(*s, options_, stats_);
      if (is_batch) {
        // A batch guards (and counts) each of its commands.
        status = GuardCommand(
            *s, options_, absl::InfiniteFuture(), [] { return false; },
            [&] { return fn(runner, *req, resp); });
      } else {
        status = GuardCommand(
            *s, options_, CallDeadline(ctx), [ctx] { return ctx->IsCancelled(); },
            [&] { return fn(runner, *req, resp); });
        stats_.commands.fetch_add(1, std::memory_order_relaxed);
        s->commands.fetch_add(1, std::memory_order_relaxed);
      }
    }
    if (!status.ok()) spdlog::debug("session {}: {}", LogId(s->id()), status.ToString());
    reactor->Finish(ToGrpcStatus(status));
  };
  // Small commands run right here when the session is idle: the hop to a worker thread would
  // cost more than the command. Anything that may take long goes to the worker pool.
  // The estimate reads the session's tensors, so it is taken with the strand claimed.
  if (executor_.TryRunInline(s->strand(), task,
                             [&] { return IsSmall(*req, *s, options_.max_inline_work); }))
    return reactor;
  executor_.Submit(s->strand(), std::move(task));
  return reactor;
}

// ---- sessions --------------------------------------------------------------------------------

grpc::ServerUnaryReactor* TensordService::CreateSession(grpc::CallbackServerContext* ctx,
                                                        const pb::CreateSessionRequest* req,
                                                        pb::CreateSessionResponse* resp) {
  auto owner = Authenticate(ctx);
  if (!owner.ok()) return FinishNow(ctx, owner.status());
  if (req->ttl_seconds() < 0)
    return FinishNow(ctx, absl::InvalidArgumentError("ttl_seconds must not be negative"));
  SessionManager::CreateParams params;
  params.ttl = absl::Seconds(req->ttl_seconds());
  params.seed = req->seed();
  if (req->default_dtype() != pb::DTYPE_UNSPECIFIED) {
    auto d = FromProto(req->default_dtype());
    if (!d.ok()) return FinishNow(ctx, d.status());
    if (!IsFloating(*d)) {
      return FinishNow(ctx, absl::InvalidArgumentError(
                                "only floating-point types are supported as the default type"));
    }
    params.default_dtype = *d;
  }
  params.labels.insert(req->labels().begin(), req->labels().end());
  params.id = req->session_id();
  const std::string header = Metadata(ctx, kSessionHeader);
  if (!header.empty() && !params.id.empty() && header != params.id) {
    return FinishNow(ctx, absl::InvalidArgumentError(absl::StrCat(
                              "CreateSession's ", kSessionHeader,
                              " header must equal the proposed session_id (it routes the call)")));
  }
  auto session = sessions_.Create(params, *owner);
  if (!session.ok()) return FinishNow(ctx, session.status());
  resp->set_session_id((*session)->id());
  resp->set_ttl_seconds(absl::ToInt64Seconds((*session)->ttl()));
  resp->set_max_bytes(options_.max_session_bytes);
  spdlog::info("session {} created (ttl {}s, peer {})", LogId((*session)->id()),
               resp->ttl_seconds(), ctx->peer());
  return FinishNow(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* TensordService::CloseSession(grpc::CallbackServerContext* ctx,
                                                       const pb::SessionRequest* req,
                                                       pb::SessionInfo* resp) {
  auto session = ResolveSession(ctx, req->session_id());
  if (!session.ok()) return FinishNow(ctx, session.status());
  server::DescribeSession(**session, resp);
  auto closed = sessions_.Close(req->session_id(), (*session)->owner());
  if (!closed.ok()) return FinishNow(ctx, closed.status());
  spdlog::info("session {} closed ({} commands)", LogId(req->session_id()), resp->commands());
  stats_.trim_requested.store(true, std::memory_order_relaxed);
  return FinishNow(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* TensordService::KeepAlive(grpc::CallbackServerContext* ctx,
                                                    const pb::SessionRequest* req,
                                                    pb::KeepAliveResponse* resp) {
  auto session = ResolveSession(ctx, req->session_id());
  if (!session.ok()) return FinishNow(ctx, session.status());
  (*session)->Touch();
  resp->set_expires_in_seconds(absl::ToInt64Seconds((*session)->ttl()));
  return FinishNow(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* TensordService::ListSessions(grpc::CallbackServerContext* ctx,
                                                       const pb::ListSessionsRequest*,
                                                       pb::ListSessionsResponse* resp) {
  auto owner = Authenticate(ctx);
  if (!owner.ok()) return FinishNow(ctx, owner.status());
  for (const auto& s : sessions_.List(*owner, IsOperator(*owner)))
    server::DescribeSession(*s, resp->add_sessions());
  return FinishNow(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* TensordService::DescribeSession(grpc::CallbackServerContext* ctx,
                                                          const pb::SessionRequest* req,
                                                          pb::SessionInfo* resp) {
  auto session = ResolveSession(ctx, req->session_id());
  if (!session.ok()) return FinishNow(ctx, session.status());
  server::DescribeSession(**session, resp);
  return FinishNow(ctx, absl::OkStatus());
}

// ---- tensors and autograd: each a command on the session's strand -----------------------------

#define TENSORD_SESSION_RPC(Method, Req, Resp)                                                \
  grpc::ServerUnaryReactor* TensordService::Method(grpc::CallbackServerContext* ctx,          \
                                                   const Req* req, Resp* resp) {              \
    return OnSession(ctx, req, resp,                                                          \
                     [](CommandRunner& r, const Req& q, Resp* p) { return r.Method(q, p); }); \
  }
TENSORD_SESSION_RPC(CreateTensor, pb::CreateTensorRequest, pb::TensorsResponse)
TENSORD_SESSION_RPC(Factory, pb::FactoryRequest, pb::TensorsResponse)
TENSORD_SESSION_RPC(ApplyOp, pb::ApplyOpRequest, pb::TensorsResponse)
TENSORD_SESSION_RPC(SetRequiresGrad, pb::SetRequiresGradRequest, pb::TensorsResponse)
TENSORD_SESSION_RPC(Detach, pb::AliasRequest, pb::TensorsResponse)
TENSORD_SESSION_RPC(Data, pb::AliasRequest, pb::TensorsResponse)
TENSORD_SESSION_RPC(SetData, pb::SetDataRequest, pb::TensorsResponse)
TENSORD_SESSION_RPC(DetachInplace, pb::TensorRequest, pb::TensorsResponse)
TENSORD_SESSION_RPC(RetainGrad, pb::TensorRequest, pb::TensorsResponse)
TENSORD_SESSION_RPC(Release, pb::ReleaseRequest, pb::ReleaseResponse)
TENSORD_SESSION_RPC(GetTensor, pb::GetTensorRequest, pb::GetTensorResponse)
TENSORD_SESSION_RPC(GetInfo, pb::TensorRequest, pb::TensorsResponse)
TENSORD_SESSION_RPC(ZeroGrad, pb::TensorRequest, pb::TensorsResponse)
TENSORD_SESSION_RPC(SetGrad, pb::SetGradRequest, pb::TensorsResponse)
TENSORD_SESSION_RPC(BindGrad, pb::AliasRequest, pb::TensorsResponse)
TENSORD_SESSION_RPC(Backward, pb::BackwardRequest, pb::BackwardResponse)
TENSORD_SESSION_RPC(Grad, pb::GradRequest, pb::GradResponse)
TENSORD_SESSION_RPC(SetGradMode, pb::SetGradModeRequest, pb::GradModeResponse)
TENSORD_SESSION_RPC(GetGraph, pb::GetGraphRequest, pb::GraphResponse)
#undef TENSORD_SESSION_RPC

grpc::ServerUnaryReactor* TensordService::ListOps(grpc::CallbackServerContext* ctx,
                                                  const pb::ListOpsRequest*,
                                                  pb::ListOpsResponse* resp) {
  auto owner = Authenticate(ctx);
  if (!owner.ok()) return FinishNow(ctx, owner.status());
  for (const OpDef& def : OpTable()) ToProto(def, resp->add_ops());
  return FinishNow(ctx, absl::OkStatus());
}

// ---- batches ----------------------------------------------------------------------------------

grpc::ServerUnaryReactor* TensordService::Execute(grpc::CallbackServerContext* ctx,
                                                  const pb::ExecuteRequest* req,
                                                  pb::ExecuteResponse* resp) {
  if (req->commands_size() > options_.max_batch_commands) {
    return FinishNow(ctx, absl::InvalidArgumentError(absl::StrCat(
                              "the batch holds ", req->commands_size(),
                              " commands, over the server's limit of ", options_.max_batch_commands,
                              " (--max_batch_commands); split it or use StreamBatches")));
  }
  const size_t max_bytes = static_cast<size_t>(options_.max_message_bytes) - 1024;
  return OnSession(
      ctx, req, resp,
      [ctx, max_bytes](CommandRunner& runner, const pb::ExecuteRequest& q, pb::ExecuteResponse* p) {
        p->set_failed_index(-1);
        p->mutable_results()->Reserve(q.commands_size());
        const absl::Time deadline = CallDeadline(ctx);
        // The reply's serialized size so far, kept as results are added (linear in the batch).
        size_t bytes = 0;
        for (int i = 0; i < q.commands_size(); ++i) {
          pb::CommandResult* r = p->add_results();
          if (ctx->IsCancelled()) {
            r->set_tag(q.commands(i).tag());
            SetError(absl::CancelledError(
                         "the call was cancelled (or its deadline passed) before this command ran"),
                     r);
            p->set_failed_index(i);
            break;
          }
          const absl::Status st =
              runner.RunGuarded(q.commands(i), r, deadline, [ctx] { return ctx->IsCancelled(); });
          bytes += ResultWireBytes(*r);
          if (!st.ok()) {
            p->set_failed_index(i);
            break;
          }
          // A reply gRPC could not send would lose every result: stop at the command that
          // overflows.
          if (bytes > max_bytes) {
            SetError(absl::FailedPreconditionError(absl::StrCat(
                         "the batch's results exceed the ", max_bytes,
                         "-byte message limit at this command; use Download for large tensors")),
                     r);
            p->set_failed_index(i);
            break;
          }
        }
        return absl::OkStatus();
      },
      /*is_batch=*/true);
}

// ---- the pipelined stream ----------------------------------------------------------------------

namespace {

// How a pipelined stream's messages carry commands and results: one per message (Stream) or
// many (StreamBatches).
struct OneCommandPerMessage {
  using Request = pb::StreamRequest;
  using Response = pb::CommandResult;
  static std::vector<pb::Command> Take(Request& r) {
    std::vector<pb::Command> out;
    if (r.has_command()) out.push_back(std::move(*r.mutable_command()));
    return out;
  }
  static void Put(Response& out, pb::CommandResult&& r) { out = std::move(r); }
};

struct CommandsInBatches {
  using Request = pb::CommandBatch;
  using Response = pb::ResultBatch;
  static std::vector<pb::Command> Take(Request& r) {
    std::vector<pb::Command> out;
    out.reserve(static_cast<size_t>(r.commands_size()));
    for (pb::Command& c : *r.mutable_commands()) out.push_back(std::move(c));
    return out;
  }
  static void Put(Response& out, pb::CommandResult&& r) { *out.add_results() = std::move(r); }
};

// Reads commands as the client sends them, runs each message's commands on the session's strand
// in arrival order, and writes the results back in the same order. Memory is bounded: the stream
// stops reading while it holds too many commands it has not run, and stops running them while
// its unsent results exceed its budget (--max_stream_buffer_bytes) or its session's
// (--max_session_stream_buffer_bytes). A client that does not read its results slows only itself.
template <typename Shape>
class PipelineReactor final
    : public grpc::ServerBidiReactor<typename Shape::Request, typename Shape::Response> {
  using Request = typename Shape::Request;
  using Response = typename Shape::Response;

 public:
  PipelineReactor(TensordService* service, grpc::CallbackServerContext* ctx)
      : service_(service), ctx_(ctx), token_(service), deadline_(CallDeadline(ctx)) {
    {
      absl::MutexLock lock(&mu_);
      read_outstanding_ = true;
    }
    this->StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      return Update([](PipelineReactor* r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu_) {
        r->read_outstanding_ = false;
        r->reading_done_ = true;
      });
    }
    grpc::Status error;
    if (!session_) {
      auto session = service_->ResolveSession(ctx_, request_.session_id());
      if (session.ok()) {
        session_ = *std::move(session);
      } else {
        error = ToGrpcStatus(session.status());
      }
    } else if (!request_.session_id().empty() && request_.session_id() != session_->id()) {
      error = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "a stream serves one session");
    }
    if (error.ok()) {
      if (absl::Status admit = service_->Admit(); !admit.ok()) {
        // Draining: commands already queued finish; new ones are refused and the stream ends.
        error = ToGrpcStatus(admit);
      }
    }
    if (!error.ok()) {
      return Update([error](PipelineReactor* r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu_) {
        r->finish_status_ = error;
        r->read_outstanding_ = false;
        r->reading_done_ = true;
      });
    }
    Batch batch{{}, static_cast<int64_t>(request_.ByteSizeLong())};
    batch.commands = Shape::Take(request_);
    request_.Clear();
    Update([&batch](PipelineReactor* r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu_) {
      r->read_outstanding_ = false;
      if (!batch.commands.empty()) {
        r->queued_bytes_ += batch.bytes;
        r->queue_.push_back(std::move(batch));
      }
    });
  }

  void OnWriteDone(bool ok) override {
    Update([ok](PipelineReactor* r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu_) {
      r->Release(r->writes_.front().bytes);
      r->writes_.pop_front();
      r->writing_ = false;
      if (!ok) r->write_failed_ = true;
    });
  }

  void OnCancel() override {
    cancelled_.store(true, std::memory_order_relaxed);
    Update([](PipelineReactor*) {});
  }

  void OnDone() override {
    int64_t peak;
    {
      absl::MutexLock lock(&mu_);
      while (!writes_.empty()) {  // never sent: give the session's budget back
        Release(writes_.front().bytes);
        writes_.pop_front();
      }
      peak = peak_pending_;
    }
    if (peak >= kTrimAfterBytes)
      service_->stats().trim_requested.store(true, std::memory_order_relaxed);
    delete this;
  }

 private:
  // Messages read but not yet run, at most; their bytes are bounded by the stream's budget.
  static constexpr size_t kMaxQueued = 4096;
  // Messages one strand task runs before yielding the worker to other sessions.
  static constexpr int kPumpBurst = 64;
  // A stream that held this much unsent asks for free memory to go back to the OS when it ends.
  static constexpr int64_t kTrimAfterBytes = int64_t{8} << 20;

  struct Batch {
    std::vector<pb::Command> commands;
    int64_t bytes = 0;  // the request's size
  };
  struct Pending {
    Response message;
    int64_t bytes = 0;
  };

  void Release(int64_t bytes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    pending_bytes_ -= bytes;
    session_->stream_buffered_bytes.fetch_sub(bytes, std::memory_order_relaxed);
  }

  // Whether the next message's commands may run: while this stream's unsent results are under
  // its budget and the session's under the session's; a stream with nothing unsent may always
  // run one more (so it never waits on another stream's client).
  bool MayRun() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (pending_bytes_ == 0) return true;
    const ServerOptions& o = service_->options();
    if (pending_bytes_ >= o.max_stream_buffer_bytes) return false;
    return session_->stream_buffered_bytes.load(std::memory_order_relaxed) <
           o.max_session_stream_buffer_bytes;
  }

  // Changes state under the lock, then starts whatever I/O and work the new state calls for,
  // outside it (gRPC may run a reaction inline).
  template <typename F>
  void Update(F change) {
    const Response* to_write = nullptr;
    bool read = false, finish = false, pump = false;
    grpc::Status status;
    {
      absl::MutexLock lock(&mu_);
      change(this);
      const bool cancelled = cancelled_.load(std::memory_order_relaxed);
      if (cancelled || write_failed_) {
        // Nobody will read the results: drop what has not run.
        queue_.clear();
        queued_bytes_ = 0;
        if (!read_outstanding_) reading_done_ = true;
      }
      if (!reading_done_ && !read_outstanding_ && queue_.size() < kMaxQueued &&
          queued_bytes_ < service_->options().max_stream_buffer_bytes) {
        read_outstanding_ = true;
        read = true;
      }
      if (!pump_scheduled_ && !queue_.empty() && MayRun()) {
        pump_scheduled_ = true;
        pump = true;
      }
      if (!writing_ && !writes_.empty() && !write_failed_) {
        writing_ = true;
        to_write = &writes_.front().message;
      }
      if (!finished_ && reading_done_ && queue_.empty() && !pump_scheduled_ && !writing_ &&
          (writes_.empty() || write_failed_)) {
        finished_ = true;
        finish = true;
        status = finish_status_;
      }
    }
    if (to_write != nullptr) this->StartWrite(to_write);
    if (read) this->StartRead(&request_);
    if (pump) SchedulePump();
    if (finish) this->Finish(status);
  }

  void SchedulePump() {
    std::shared_ptr<Session> s = session_;
    service_->executor().Submit(s->strand(), [this, s] { Pump(*s); });
  }

  // Runs queued messages on the session's strand while the budgets allow.
  void Pump(Session& s) {
    for (int n = 0;; ++n) {
      Batch batch;
      bool stop = false, yield = false;
      {
        absl::MutexLock lock(&mu_);
        stop = queue_.empty() || cancelled_.load(std::memory_order_relaxed) || write_failed_ ||
               !MayRun();
        yield = !stop && n == kPumpBurst;
        if (stop) {
          pump_scheduled_ = false;
        } else if (!yield) {
          batch = std::move(queue_.front());
          queue_.pop_front();
          queued_bytes_ -= batch.bytes;
        }
      }
      if (yield) {
        SchedulePump();  // still scheduled: let other sessions have the worker, continue later
        return;
      }
      if (stop) {
        Update([](PipelineReactor*) {});  // reading may resume, or the stream may finish
        return;
      }
      Response response = RunBatch(s, batch.commands);
      const int64_t bytes = static_cast<int64_t>(response.ByteSizeLong());
      Update([&response, bytes](PipelineReactor* r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu_) {
        r->pending_bytes_ += bytes;
        r->peak_pending_ = std::max(r->peak_pending_, r->pending_bytes_);
        r->session_->stream_buffered_bytes.fetch_add(bytes, std::memory_order_relaxed);
        r->writes_.push_back({std::move(response), bytes});
      });
    }
  }

  Response RunBatch(Session& s, const std::vector<pb::Command>& commands) {
    Response response;
    const bool cancelled = cancelled_.load(std::memory_order_relaxed);
    std::optional<ContextGuard> guard;
    std::optional<CommandRunner> runner;
    if (!cancelled && !s.closed()) {
      guard.emplace(s.context());
      s.Touch();
      runner.emplace(s, service_->options(), service_->stats());
    }
    const size_t max_bytes = static_cast<size_t>(service_->options().max_message_bytes) - 1024;
    size_t bytes = 0;
    for (const pb::Command& command : commands) {
      pb::CommandResult result;
      if (cancelled) {
        result.set_tag(command.tag());
        SetError(absl::CancelledError("the stream was cancelled before this command ran"), &result);
      } else if (!runner) {
        result.set_tag(command.tag());
        SetError(UnknownSessionError(s.id()), &result);
      } else {
        (void)runner->RunGuarded(command, &result, deadline_,
                                 [this] { return cancelled_.load(std::memory_order_relaxed); });
      }
      // A reply gRPC could not send would end the stream: this result fails instead.
      if (bytes + ResultWireBytes(result) > max_bytes) {
        SetError(absl::FailedPreconditionError(absl::StrCat(
                     "this command's result would make the reply exceed the ", max_bytes,
                     "-byte message limit; use Download for large tensors")),
                 &result);
      }
      bytes += ResultWireBytes(result);
      Shape::Put(response, std::move(result));
    }
    return response;
  }

  TensordService* service_;
  grpc::CallbackServerContext* ctx_;
  TensordService::CallToken token_;
  const absl::Time deadline_;
  Request request_;
  std::shared_ptr<Session> session_;
  std::atomic<bool> cancelled_{false};

  absl::Mutex mu_;
  std::deque<Batch> queue_ ABSL_GUARDED_BY(mu_);
  int64_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<Pending> writes_ ABSL_GUARDED_BY(mu_);
  int64_t pending_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t peak_pending_ ABSL_GUARDED_BY(mu_) = 0;
  bool pump_scheduled_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool read_outstanding_ ABSL_GUARDED_BY(mu_) = false;
  bool reading_done_ ABSL_GUARDED_BY(mu_) = false;
  bool write_failed_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status finish_status_ ABSL_GUARDED_BY(mu_);
};

// Upload: the header allocates the tensor (charged to the session), chunks are copied straight
// into it, and the handle is bound only when every byte has arrived.
class UploadReactor final : public grpc::ServerReadReactor<pb::UploadChunk> {
 public:
  UploadReactor(TensordService* service, grpc::CallbackServerContext* ctx,
                pb::TensorsResponse* resp)
      : service_(service), ctx_(ctx), resp_(resp), token_(service), upload_(service->options()) {
    StartRead(&chunk_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Complete();
      return;
    }
    absl::Status s = Consume();
    if (!s.ok()) {
      upload_.Reset();  // give the bytes back before the client hears of the failure
      Finish(ToGrpcStatus(s));
      return;
    }
    StartRead(&chunk_);
  }

  void OnDone() override { delete this; }

 private:
  // The chunk assembly itself is UploadAssembler's (server/transfer.h).
  absl::Status Consume() {
    if (!session_) {
      TD_ASSIGN_OR_RETURN(session_, service_->ResolveSession(ctx_, chunk_.session_id()));
      return upload_.Start(*session_, chunk_);
    }
    return upload_.Append(chunk_.data());
  }

  void Complete() {
    absl::StatusOr<Tensor> assembled = upload_.Finish();
    if (!assembled.ok()) {
      Finish(ToGrpcStatus(assembled.status()));
      return;
    }
    tensor_ = *std::move(assembled);
    id_ = upload_.id();
    std::shared_ptr<Session> s = session_;
    service_->executor().Submit(s->strand(), [this, s] {
      absl::Status st = s->closed()
                            ? absl::NotFoundError("the session was closed during the upload")
                            : s->CheckFree(id_);
      if (st.ok()) {
        s->Touch();
        FillInfo(s->Put(id_, tensor_), tensor_, resp_->add_tensors());
      }
      tensor_ = Tensor();
      Finish(ToGrpcStatus(st));
    });
  }

  TensordService* service_;
  grpc::CallbackServerContext* ctx_;
  pb::TensorsResponse* resp_;
  TensordService::CallToken token_;
  pb::UploadChunk chunk_;
  std::shared_ptr<Session> session_;
  UploadAssembler upload_;
  Tensor tensor_;  // the assembled tensor, until the strand binds it
  uint64_t id_ = 0;
};

// Download: a consistent snapshot is taken on the session's strand, then streamed in chunks.
class DownloadReactor final : public grpc::ServerWriteReactor<pb::DownloadChunk> {
 public:
  DownloadReactor(TensordService* service, grpc::CallbackServerContext* ctx,
                  const pb::DownloadRequest* req)
      : service_(service), token_(service) {
    auto session = service->ResolveSession(ctx, req->session_id());
    if (!session.ok()) {
      Finish(ToGrpcStatus(session.status()));
      return;
    }
    chunk_bytes_ = req->chunk_bytes() > 0 ? req->chunk_bytes() : kDefaultChunk;
    chunk_bytes_ = std::min<int64_t>(chunk_bytes_, service->options().max_message_bytes / 2);
    std::shared_ptr<Session> s = *session;
    const uint64_t id = req->id();
    const bool grad = req->grad();
    service->executor().Submit(s->strand(), [this, s, id, grad] {
      absl::Status st = GuardCommand(
          *s, service_->options(), absl::InfiniteFuture(), [] { return false; },
          [&] { return Snapshot(*s, id, grad); });
      if (!st.ok()) {
        Finish(ToGrpcStatus(st));
        return;
      }
      WriteNext();
    });
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "download interrupted"));
      return;
    }
    WriteNext();
  }

  void OnDone() override { delete this; }

 private:
  absl::Status Snapshot(Session& s, uint64_t id, bool grad) {
    if (s.closed()) return absl::NotFoundError("the session was closed");
    ContextGuard guard(s.context());
    s.Touch();
    TD_ASSIGN_OR_RETURN(Tensor t, s.Get(id));
    FillInfo(id, t, &info_);
    Tensor src = t;
    if (grad) {
      if (!t.grad().defined())
        return absl::FailedPreconditionError(absl::StrCat("tensor ", id, " has no .grad"));
      src = t.grad();
    }
    // A private contiguous copy, so later in-place ops cannot tear the transfer. It is transport
    // memory, not the session's: it is not charged to the session's quota.
    TD_ASSIGN_OR_RETURN(auto storage,
                        Storage::Allocate(src.nbytes(), std::make_shared<MemoryAccount>()));
    snapshot_ = Tensor(std::make_shared<TensorImpl>(std::move(storage), src.shape(),
                                                    ContiguousStrides(src.shape()), 0, src.dtype(),
                                                    std::make_shared<VersionCounter>()));
    kernels::CopyInto(snapshot_, src);
    return absl::OkStatus();
  }

  void WriteNext() {
    const int64_t total = snapshot_.nbytes();
    if (offset_ >= total && offset_ > 0) {
      snapshot_ = Tensor();
      Finish(grpc::Status::OK);
      return;
    }
    chunk_.Clear();
    if (offset_ == 0) *chunk_.mutable_info() = info_;
    const int64_t n = std::min(chunk_bytes_, total - offset_);
    chunk_.set_offset(offset_);
    chunk_.set_data(snapshot_.raw_data() + offset_, static_cast<size_t>(n));
    offset_ += n;
    if (total == 0) offset_ = 1;  // an empty tensor: one chunk with the info, then done
    StartWrite(&chunk_);
  }

  TensordService* service_;
  TensordService::CallToken token_;
  pb::TensorInfo info_;
  Tensor snapshot_;
  pb::DownloadChunk chunk_;
  int64_t chunk_bytes_ = kDefaultChunk;
  int64_t offset_ = 0;
};

}  // namespace

grpc::ServerBidiReactor<pb::StreamRequest, pb::CommandResult>* TensordService::Stream(
    grpc::CallbackServerContext* ctx) {
  return new PipelineReactor<OneCommandPerMessage>(this, ctx);
}

grpc::ServerBidiReactor<pb::CommandBatch, pb::ResultBatch>* TensordService::StreamBatches(
    grpc::CallbackServerContext* ctx) {
  return new PipelineReactor<CommandsInBatches>(this, ctx);
}

grpc::ServerReadReactor<pb::UploadChunk>* TensordService::Upload(grpc::CallbackServerContext* ctx,
                                                                 pb::TensorsResponse* resp) {
  return new UploadReactor(this, ctx, resp);
}

grpc::ServerWriteReactor<pb::DownloadChunk>* TensordService::Download(
    grpc::CallbackServerContext* ctx, const pb::DownloadRequest* req) {
  return new DownloadReactor(this, ctx, req);
}

// ---- server ----------------------------------------------------------------------------------

grpc::ServerUnaryReactor* TensordService::ServerInfo(grpc::CallbackServerContext* ctx,
                                                     const pb::ServerInfoRequest*,
                                                     pb::ServerInfoResponse* resp) {
  auto owner = Authenticate(ctx);
  if (!owner.ok()) return FinishNow(ctx, owner.status());
  resp->set_version(TENSORD_VERSION);
  resp->set_uptime_seconds(absl::ToInt64Seconds(absl::Now() - stats_.started));
  // A token sees the totals of its own sessions; an operator token (or a server without
  // authentication) sees the whole server's.
  int64_t tensors = 0, bytes = 0;
  const auto all = sessions_.List(*owner, IsOperator(*owner));
  for (const auto& s : all) {
    tensors += s->num_tensors();
    bytes += s->context().memory().used();
  }
  resp->set_sessions(static_cast<int64_t>(all.size()));
  resp->set_tensors(tensors);
  resp->set_bytes(bytes);
  if (IsOperator(*owner)) {
    resp->set_ops_served(stats_.ops.load(std::memory_order_relaxed));
    resp->set_commands_served(stats_.commands.load(std::memory_order_relaxed));
    resp->set_sessions_expired(sessions_.expired_total());
  } else {
    uint64_t ops = 0, commands = 0;
    for (const auto& s : all) {
      ops += s->ops.load(std::memory_order_relaxed);
      commands += s->commands.load(std::memory_order_relaxed);
    }
    resp->set_ops_served(static_cast<int64_t>(ops));
    resp->set_commands_served(static_cast<int64_t>(commands));
    resp->set_sessions_expired(sessions_.expired_for(*owner));
  }
  resp->set_workers(executor_.threads());
  resp->set_replica(options_.replica);
  return FinishNow(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* TensordService::Echo(grpc::CallbackServerContext* ctx,
                                               const pb::EchoRequest* req, pb::EchoResponse* resp) {
  auto owner = Authenticate(ctx);
  if (!owner.ok()) return FinishNow(ctx, owner.status());
  resp->set_payload(req->payload());
  return FinishNow(ctx, absl::OkStatus());
}

}  // namespace tensord::server
