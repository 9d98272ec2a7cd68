#include "server/service.h"

#include <deque>
#include <optional>

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
#include "server/status.h"
#include "spdlog/spdlog.h"

namespace tensord::server {
namespace {

constexpr char kSessionHeader[] = "x-tensord-session";
constexpr int64_t kDefaultChunk = 1 << 20;

grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* ctx, const absl::Status& s) {
  auto* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(s));
  return reactor;
}

std::string Metadata(grpc::CallbackServerContext* ctx, const char* key) {
  const auto& md = ctx->client_metadata();
  auto it = md.find(key);
  if (it == md.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

// What may run on a gRPC thread: commands bounded by a small amount of work.
constexpr int64_t kInlineElements = int64_t{1} << 14;

int64_t Elements(Session& s, uint64_t id) {
  auto t = s.Get(id);
  return t.ok() ? t->numel() : 0;  // an unknown handle fails fast either way
}

template <typename Req>
bool IsSmall(const Req&, Session&) {
  return false;
}
bool IsSmall(const pb::ApplyOpRequest& r, Session& s) {
  int64_t n = 0;
  for (uint64_t id : r.inputs()) n += Elements(s, id);
  return n <= kInlineElements;
}
bool IsSmall(const pb::CreateTensorRequest& r, Session&) {
  return static_cast<int64_t>(r.data().data().size()) <= kInlineElements * 8;
}
bool IsSmall(const pb::GetTensorRequest& r, Session& s) {
  return Elements(s, r.id()) <= kInlineElements;
}
bool IsSmall(const pb::TensorRequest&, Session&) { return true; }
bool IsSmall(const pb::ReleaseRequest&, Session&) { return true; }
bool IsSmall(const pb::SetRequiresGradRequest&, Session&) { return true; }
bool IsSmall(const pb::AliasRequest&, Session&) { return true; }
bool IsSmall(const pb::SetGradRequest&, Session&) { return true; }
bool IsSmall(const pb::SetGradModeRequest&, Session&) { return true; }

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
  if (options_.tokens.empty()) return std::string();
  const std::string header = Metadata(ctx, "authorization");
  if (header.empty())
    return absl::UnauthenticatedError("missing bearer token (authorization: Bearer <token>)");
  if (!absl::StartsWith(header, "Bearer ")) {
    return absl::UnauthenticatedError("the authorization header must be 'Bearer <token>'");
  }
  const std::string token = header.substr(7);
  for (const std::string& t : options_.tokens)
    if (t == token) return token;
  return absl::UnauthenticatedError("invalid bearer token");
}

absl::StatusOr<std::shared_ptr<Session>> TensordService::ResolveSession(
    grpc::CallbackServerContext* ctx, const std::string& session_id) const {
  TD_ASSIGN_OR_RETURN(std::string owner, Authenticate(ctx));
  const std::string header = Metadata(ctx, kSessionHeader);
  if (!header.empty() && header != session_id) {
    return absl::InvalidArgumentError(absl::StrCat("metadata ", kSessionHeader, " '", header,
                                                   "' does not match the request's session_id '",
                                                   session_id, "'"));
  }
  return sessions_.Get(session_id, owner);
}

template <typename Req, typename Resp, typename Fn>
grpc::ServerUnaryReactor* TensordService::OnSession(grpc::CallbackServerContext* ctx,
                                                    const Req* req, Resp* resp, Fn fn) {
  auto session = ResolveSession(ctx, req->session_id());
  if (!session.ok()) return FinishNow(ctx, session.status());
  auto* reactor = ctx->DefaultReactor();
  std::shared_ptr<Session> s = *std::move(session);
  auto token = std::make_shared<CallToken>(this);
  auto task = [this, ctx, req, resp, reactor, s, fn, token] {
    absl::Status status;
    if (ctx->IsCancelled()) {
      status =
          absl::CancelledError("the call was cancelled (or its deadline passed) before it ran");
    } else if (s->closed()) {
      status = absl::NotFoundError(
          absl::StrCat("unknown session '", s->id(), "' (closed, expired or never created)"));
    } else {
      ContextGuard guard(s->context());
      s->Touch();
      CommandRunner runner(*s, options_, stats_);
      status = fn(runner, *req, resp);
      stats_.commands.fetch_add(1, std::memory_order_relaxed);
      s->commands.fetch_add(1, std::memory_order_relaxed);
    }
    if (!status.ok()) spdlog::debug("session {}: {}", s->id(), status.ToString());
    reactor->Finish(ToGrpcStatus(status));
  };
  // Small commands run right here when the session is idle: the hop to a worker thread would
  // cost more than the command. Anything that may take long goes to the worker pool.
  if (IsSmall(*req, *s) && executor_.TryRunInline(s->strand(), task)) return reactor;
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
  spdlog::info("session {} created (ttl {}s, peer {})", (*session)->id(), resp->ttl_seconds(),
               ctx->peer());
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
  spdlog::info("session {} closed ({} commands)", req->session_id(), resp->commands());
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
  for (const auto& s : sessions_.List(*owner)) server::DescribeSession(*s, resp->add_sessions());
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
  const int64_t max_bytes = options_.max_message_bytes - 1024;
  return OnSession(
      ctx, req, resp,
      [ctx, max_bytes](CommandRunner& runner, const pb::ExecuteRequest& q, pb::ExecuteResponse* p) {
        p->set_failed_index(-1);
        for (int i = 0; i < q.commands_size(); ++i) {
          if (ctx->IsCancelled()) {
            pb::CommandResult* r = p->add_results();
            r->set_tag(q.commands(i).tag());
            r->set_code(grpc::StatusCode::CANCELLED);
            r->set_message(
                "the call was cancelled (or its deadline passed) before this command ran");
            p->set_failed_index(i);
            break;
          }
          if (!runner.Run(q.commands(i), p->add_results()).ok()) {
            p->set_failed_index(i);
            break;
          }
          // A reply gRPC could not send would lose every result: stop at the command that
          // overflows.
          if (p->ByteSizeLong() > static_cast<size_t>(max_bytes)) {
            pb::CommandResult* r = p->mutable_results(i);
            r->clear_result();
            r->set_code(grpc::StatusCode::FAILED_PRECONDITION);
            r->set_message(absl::StrCat(
                "the batch's results exceed the ", max_bytes,
                "-byte message limit at this command; use Download for large tensors"));
            p->set_failed_index(i);
            break;
          }
        }
        return absl::OkStatus();
      });
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

// Reads commands as fast as the client sends them (up to a bound), runs each message's commands
// on the session's strand in arrival order, and writes the results back in the same order.
template <typename Shape>
class PipelineReactor final
    : public grpc::ServerBidiReactor<typename Shape::Request, typename Shape::Response> {
  using Request = typename Shape::Request;
  using Response = typename Shape::Response;

 public:
  PipelineReactor(TensordService* service, grpc::CallbackServerContext* ctx)
      : service_(service), ctx_(ctx), token_(service) {
    this->StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok)
      return Update([](PipelineReactor* r)
                        ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu_) { r->reading_done_ = true; });
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
    if (!error.ok()) {
      return Update([error](PipelineReactor* r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu_) {
        r->finish_status_ = error;
        r->reading_done_ = true;
      });
    }
    if (absl::Status admit = service_->Admit(); !admit.ok()) {
      // Draining: commands already running finish; new ones are refused and the stream ends.
      const grpc::Status unavailable = ToGrpcStatus(admit);
      return Update([unavailable](PipelineReactor* r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu_) {
        r->finish_status_ = unavailable;
        r->reading_done_ = true;
      });
    }
    std::vector<pb::Command> commands = Shape::Take(request_);
    if (!commands.empty()) Submit(std::move(commands));
    request_.Clear();
    Update([](PipelineReactor* r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu_) {
      if (r->in_flight_ < kMaxInFlight) {
        r->read_requested_ = true;
      } else {
        r->read_paused_ = true;
      }
    });
  }

  void OnWriteDone(bool ok) override {
    Update([ok](PipelineReactor* r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu_) {
      r->writes_.pop_front();
      r->writing_ = false;
      if (!ok) r->write_failed_ = true;
    });
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
  }

  void OnDone() override { delete this; }

 private:
  static constexpr int kMaxInFlight = 4096;

  // Changes state under the lock, then starts whatever I/O the new state calls for, outside it
  // (gRPC may run a reaction inline).
  template <typename F>
  void Update(F change) {
    const Response* to_write = nullptr;
    bool read = false, finish = false;
    grpc::Status status;
    {
      absl::MutexLock lock(&mu_);
      change(this);
      if (read_requested_) {
        read_requested_ = false;
        read = true;
      }
      if (read_paused_ && in_flight_ < kMaxInFlight / 2 && !reading_done_) {
        read_paused_ = false;
        read = true;
      }
      if (!writing_ && !writes_.empty() && !write_failed_) {
        writing_ = true;
        to_write = &writes_.front();
      }
      if (!finished_ && reading_done_ && in_flight_ == 0 && !writing_) {
        finished_ = true;
        finish = true;
        status = finish_status_;
      }
    }
    if (to_write != nullptr) this->StartWrite(to_write);
    if (read) this->StartRead(&request_);
    if (finish) this->Finish(status);
  }

  void Submit(std::vector<pb::Command> commands) {
    {
      absl::MutexLock lock(&mu_);
      ++in_flight_;
    }
    std::shared_ptr<Session> s = session_;
    service_->executor().Submit(s->strand(), [this, s, commands = std::move(commands)] {
      Response response;
      bool cancelled;
      {
        absl::MutexLock lock(&mu_);
        cancelled = cancelled_;
      }
      std::optional<ContextGuard> guard;
      std::optional<CommandRunner> runner;
      if (!cancelled && !s->closed()) {
        guard.emplace(s->context());
        s->Touch();
        runner.emplace(*s, service_->options(), service_->stats());
      }
      for (const pb::Command& command : commands) {
        pb::CommandResult result;
        if (cancelled) {
          result.set_tag(command.tag());
          result.set_code(grpc::StatusCode::CANCELLED);
          result.set_message("the stream was cancelled before this command ran");
        } else if (!runner) {
          result.set_tag(command.tag());
          result.set_code(grpc::StatusCode::NOT_FOUND);
          result.set_message(
              absl::StrCat("unknown session '", s->id(), "' (closed, expired or never created)"));
        } else {
          (void)runner->Run(command, &result);
        }
        Shape::Put(response, std::move(result));
      }
      Update([&response](PipelineReactor* r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu_) {
        --r->in_flight_;
        if (!r->write_failed_) r->writes_.push_back(std::move(response));
      });
    });
  }

  TensordService* service_;
  grpc::CallbackServerContext* ctx_;
  TensordService::CallToken token_;
  Request request_;
  std::shared_ptr<Session> session_;

  absl::Mutex mu_;
  std::deque<Response> writes_ ABSL_GUARDED_BY(mu_);
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool reading_done_ ABSL_GUARDED_BY(mu_) = false;
  bool read_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool read_paused_ ABSL_GUARDED_BY(mu_) = false;
  bool write_failed_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status finish_status_ ABSL_GUARDED_BY(mu_);
};

// Upload: the header allocates the tensor (charged to the session), chunks are copied straight
// into it, and the handle is bound only when every byte has arrived.
class UploadReactor final : public grpc::ServerReadReactor<pb::UploadChunk> {
 public:
  UploadReactor(TensordService* service, grpc::CallbackServerContext* ctx,
                pb::TensorsResponse* resp)
      : service_(service), ctx_(ctx), resp_(resp), token_(service) {
    StartRead(&chunk_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Complete();
      return;
    }
    absl::Status s = Consume();
    if (!s.ok()) {
      tensor_ = Tensor();  // give the bytes back before the client hears of the failure
      Finish(ToGrpcStatus(s));
      return;
    }
    StartRead(&chunk_);
  }

  void OnDone() override { delete this; }

 private:
  absl::Status Consume() {
    if (!session_) {
      TD_ASSIGN_OR_RETURN(session_, service_->ResolveSession(ctx_, chunk_.session_id()));
      TD_RETURN_IF_ERROR(session_->CheckFree(chunk_.id()));
      TD_ASSIGN_OR_RETURN(DType dtype, FromProto(chunk_.dtype()));
      TD_RETURN_IF_ERROR(CheckShape(chunk_.shape(), service_->options()));
      ContextGuard guard(session_->context());
      TD_ASSIGN_OR_RETURN(tensor_, factory::empty(ToShape(chunk_.shape()),
                                                  factory::TensorOptions().with_dtype(dtype)));
      if (chunk_.requires_grad()) TD_RETURN_IF_ERROR(tensor_.set_requires_grad(true));
      id_ = chunk_.id();
    }
    const std::string& data = chunk_.data();
    if (received_ + static_cast<int64_t>(data.size()) > tensor_.nbytes()) {
      return absl::InvalidArgumentError(
          absl::StrCat("upload sent more than the tensor's ", tensor_.nbytes(), " bytes"));
    }
    std::memcpy(tensor_.raw_data() + received_, data.data(), data.size());
    received_ += static_cast<int64_t>(data.size());
    return absl::OkStatus();
  }

  void Complete() {
    if (!session_) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "empty upload: the first chunk must carry the header"));
      return;
    }
    if (received_ != tensor_.nbytes()) {
      const int64_t expected = tensor_.nbytes();
      tensor_ = Tensor();
      Finish(
          grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                       absl::StrCat("upload ended after ", received_, " of ", expected, " bytes")));
      return;
    }
    if (tensor_.dtype() == DType::kBool) {
      auto* p = reinterpret_cast<unsigned char*>(tensor_.raw_data());
      for (int64_t i = 0; i < tensor_.numel(); ++i) p[i] = p[i] != 0;
    }
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
  Tensor tensor_;
  uint64_t id_ = 0;
  int64_t received_ = 0;
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
      absl::Status st = Snapshot(*s, id, grad);
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
  int64_t tensors = 0, bytes = 0;
  const auto all = sessions_.List("");
  for (const auto& s : all) {
    tensors += s->num_tensors();
    bytes += s->context().memory().used();
  }
  resp->set_sessions(static_cast<int64_t>(all.size()));
  resp->set_tensors(tensors);
  resp->set_bytes(bytes);
  resp->set_ops_served(stats_.ops.load(std::memory_order_relaxed));
  resp->set_commands_served(stats_.commands.load(std::memory_order_relaxed));
  resp->set_sessions_expired(sessions_.expired_total());
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
