#include "server/service.h"

#include <deque>
#include <optional>
#include <string_view>

#include <google/protobuf/io/coded_stream.h>
#include <malloc.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
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
#include "server/metrics.h"
#include "server/rpc_util.h"
#include "server/status.h"
#include "server/transfer.h"
#include "spdlog/spdlog.h"

namespace tensord::server {
namespace {

using wire::kSessionHeader;

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
bool IsSmall(const pb::ListTensorsRequest&, Session&, int64_t) { return true; }  // <= 1000 rows

// The reads that an x-tensord-peek header may turn into peeks.
constexpr bool IsRead(std::string_view rpc) {
  return rpc == "GetInfo" || rpc == "GetTensor" || rpc == "GetGraph";
}

}  // namespace

absl::StatusOr<bool> TensordService::IsPeek(grpc::CallbackServerContext* ctx, Access access) const {
  const std::string value = Metadata(ctx, wire::kPeekHeader);
  if (value.empty() || value == "0" || value == "false") return access == Access::kPeek;
  if (value != "1" && value != "true") {
    return absl::InvalidArgumentError(absl::StrCat("metadata ", wire::kPeekHeader, " must be 1 (",
                                                   "or true), not '", Clip(value), "'"));
  }
  if (access == Access::kCommand) {
    return absl::InvalidArgumentError(absl::StrCat(
        "metadata ", wire::kPeekHeader,
        " is for reads only (GetInfo, GetTensor, GetGraph); this call changes the session"));
  }
  return true;
}

TensordService::TensordService(const ServerOptions& options, SessionManager& sessions,
                               Executor& executor, ServerStats& stats)
    : options_(options),
      sessions_(sessions),
      executor_(executor),
      stats_(stats),
      tokens_(std::make_shared<Tokens>(Tokens{options.tokens, options.operator_tokens})) {}

void TensordService::CallStarted() { calls_in_flight_.fetch_add(1, std::memory_order_relaxed); }

void TensordService::CallEnded() { calls_in_flight_.fetch_sub(1, std::memory_order_release); }

void TensordService::StartDraining() { draining_.store(true, std::memory_order_release); }

void TensordService::WaitForCalls(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (calls_in_flight_.load(std::memory_order_acquire) > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(2));
  }
}

template <typename Req, typename Resp, typename Fn>
grpc::ServerUnaryReactor* TensordService::OnSession(grpc::CallbackServerContext* ctx,
                                                    const Req* req, Resp* resp, Fn fn,
                                                    bool is_batch, Access access) {
  auto session = ResolveSession(ctx, req->session_id());
  if (!session.ok()) return FinishNow(ctx, session.status());
  auto peek = IsPeek(ctx, access);
  if (!peek.ok()) return FinishNow(ctx, peek.status());
  auto* reactor = ctx->DefaultReactor();
  std::shared_ptr<Session> s = *std::move(session);
  auto token = std::make_shared<CallToken>(this);
  auto task = [this, ctx, req, resp, reactor, s, fn, token, is_batch, peek = *peek] {
    absl::Status status;
    if (ctx->IsCancelled()) {
      status =
          absl::CancelledError("the call was cancelled (or its deadline passed) before it ran");
    } else if (s->closed()) {
      status = UnknownSessionError(s->id());
    } else {
      ContextGuard guard(s->context());
      if (!peek) s->Touch();
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
    // The message may quote the session id (unknown handle ... in session ...): logs print
    // only its prefix (ids are secrets).
    if (!status.ok()) {
      spdlog::debug("session {}: {}", LogId(s->id()),
                    absl::StrReplaceAll(status.ToString(), {{s->id(), LogId(s->id())}}));
    }
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
  if (stats_.metrics != nullptr) stats_.metrics->SessionCreated();
  if (sessions_changed_) sessions_changed_();
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
  if (stats_.metrics != nullptr) stats_.metrics->SessionClosed();
  if (sessions_changed_) sessions_changed_();
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

#define TENSORD_SESSION_RPC_(Name, field, Req, Resp, result)                           \
  grpc::ServerUnaryReactor* TensordService::Name(grpc::CallbackServerContext* ctx,     \
                                                 const pb::Req* req, pb::Resp* resp) { \
    return OnSession(                                                                  \
        ctx, req, resp,                                                                \
        [](CommandRunner& r, const pb::Req& q, pb::Resp* p) { return r.Name(q, p); },  \
        /*is_batch=*/false, IsRead(#Name) ? Access::kRead : Access::kCommand);         \
  }
TENSORD_FORALL_SESSION_COMMANDS(TENSORD_SESSION_RPC_)
#undef TENSORD_SESSION_RPC_

grpc::ServerUnaryReactor* TensordService::ListTensors(grpc::CallbackServerContext* ctx,
                                                      const pb::ListTensorsRequest* req,
                                                      pb::ListTensorsResponse* resp) {
  constexpr int kDefaultPage = 100, kMaxPage = 1000;
  if (req->page_size() < 0 || req->page_size() > kMaxPage) {
    return FinishNow(ctx, absl::InvalidArgumentError(absl::StrCat(
                              "page_size must be between 0 (the default, ", kDefaultPage, ") and ",
                              kMaxPage, ", not ", req->page_size())));
  }
  uint64_t after = 0;
  if (!req->page_token().empty() && !absl::SimpleAtoi(req->page_token(), &after)) {
    return FinishNow(ctx, absl::InvalidArgumentError(
                              absl::StrCat("page_token '", Clip(req->page_token()),
                                           "' is not a next_page_token this server gave")));
  }
  const size_t page = static_cast<size_t>(req->page_size() > 0 ? req->page_size() : kDefaultPage);
  return OnSession(
      ctx, req, resp,
      [after, page](CommandRunner& r, const pb::ListTensorsRequest&, pb::ListTensorsResponse* p) {
        int64_t total = 0;
        // One more than the page: whether there is a next page.
        auto handles = r.session().Handles(after, page + 1, &total);
        p->set_total(total);
        for (size_t i = 0; i < std::min(page, handles.size()); ++i) {
          pb::ListedTensor* t = p->add_tensors();
          FillInfo(handles[i].first, handles[i].second, t->mutable_info());
          t->set_bytes(handles[i].second.nbytes());
        }
        if (handles.size() > page) p->set_next_page_token(absl::StrCat(handles[page - 1].first));
        return absl::OkStatus();
      },
      /*is_batch=*/false, Access::kPeek);
}

grpc::ServerUnaryReactor* TensordService::ListOps(grpc::CallbackServerContext* ctx,
                                                  const pb::ListOpsRequest*,
                                                  pb::ListOpsResponse* resp) {
  auto owner = Authenticate(ctx);
  if (!owner.ok()) return FinishNow(ctx, owner.status());
  for (const OpDef& def : OpTable()) ToProto(def, resp->add_ops());
  return FinishNow(ctx, absl::OkStatus());
}

// ---- batches ----------------------------------------------------------------------------------

namespace {

// Runs a batch's commands in order up to the first failure (ExecuteResponse's contract).
void ExecuteBatch(grpc::CallbackServerContext* ctx, size_t max_bytes, CommandRunner& runner,
                  const pb::ExecuteRequest& q, pb::ExecuteResponse* p) {
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
}

}  // namespace

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
        // A batch already run (its reply was lost on the way): answered from the first run.
        std::string first_reply;
        if (q.request_id() != 0 && runner.session().FindReply(q.request_id(), &first_reply) &&
            p->ParseFromString(first_reply)) {
          return absl::OkStatus();
        }
        ExecuteBatch(ctx, max_bytes, runner, q, p);
        if (q.request_id() != 0)
          runner.session().RememberReply(q.request_id(), p->SerializeAsString());
        return absl::OkStatus();
      },
      /*is_batch=*/true);
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
