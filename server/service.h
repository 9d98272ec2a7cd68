// The gRPC service: translates requests into session commands. It owns no state of its own
// beyond references to the session manager, the executor and the counters.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/commands.h"
#include "server/executor.h"
#include "server/options.h"
#include "server/session.h"
#include "tensord/v1/tensord.grpc.pb.h"

namespace tensord::server {

class TensordService final : public pb::Tensord::CallbackService {
 public:
  TensordService(const ServerOptions& options, SessionManager& sessions, Executor& executor,
                 ServerStats& stats);

  grpc::ServerUnaryReactor* CreateSession(grpc::CallbackServerContext* ctx,
                                          const pb::CreateSessionRequest* req,
                                          pb::CreateSessionResponse* resp) override;
  grpc::ServerUnaryReactor* CloseSession(grpc::CallbackServerContext* ctx,
                                         const pb::SessionRequest* req,
                                         pb::SessionInfo* resp) override;
  grpc::ServerUnaryReactor* KeepAlive(grpc::CallbackServerContext* ctx,
                                      const pb::SessionRequest* req,
                                      pb::KeepAliveResponse* resp) override;
  grpc::ServerUnaryReactor* ListSessions(grpc::CallbackServerContext* ctx,
                                         const pb::ListSessionsRequest* req,
                                         pb::ListSessionsResponse* resp) override;
  grpc::ServerUnaryReactor* DescribeSession(grpc::CallbackServerContext* ctx,
                                            const pb::SessionRequest* req,
                                            pb::SessionInfo* resp) override;
  // The session commands' unary RPCs (server/command_table.h).
#define TENSORD_SESSION_RPC_DECL_(Name, field, Req, Resp, result)                      \
  grpc::ServerUnaryReactor* Name(grpc::CallbackServerContext* ctx, const pb::Req* req, \
                                 pb::Resp* resp) override;
  TENSORD_FORALL_SESSION_COMMANDS(TENSORD_SESSION_RPC_DECL_)
#undef TENSORD_SESSION_RPC_DECL_
  grpc::ServerUnaryReactor* ListTensors(grpc::CallbackServerContext* ctx,
                                        const pb::ListTensorsRequest* req,
                                        pb::ListTensorsResponse* resp) override;
  grpc::ServerUnaryReactor* ListOps(grpc::CallbackServerContext* ctx, const pb::ListOpsRequest* req,
                                    pb::ListOpsResponse* resp) override;
  grpc::ServerUnaryReactor* Execute(grpc::CallbackServerContext* ctx, const pb::ExecuteRequest* req,
                                    pb::ExecuteResponse* resp) override;
  grpc::ServerBidiReactor<pb::StreamRequest, pb::CommandResult>* Stream(
      grpc::CallbackServerContext* ctx) override;
  grpc::ServerBidiReactor<pb::CommandBatch, pb::ResultBatch>* StreamBatches(
      grpc::CallbackServerContext* ctx) override;
  grpc::ServerReadReactor<pb::UploadChunk>* Upload(grpc::CallbackServerContext* ctx,
                                                   pb::TensorsResponse* resp) override;
  grpc::ServerWriteReactor<pb::DownloadChunk>* Download(grpc::CallbackServerContext* ctx,
                                                        const pb::DownloadRequest* req) override;
  grpc::ServerUnaryReactor* ServerInfo(grpc::CallbackServerContext* ctx,
                                       const pb::ServerInfoRequest* req,
                                       pb::ServerInfoResponse* resp) override;
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* ctx, const pb::EchoRequest* req,
                                 pb::EchoResponse* resp) override;

  // Resolves the caller's session: token, metadata consistency, ownership.
  absl::StatusOr<std::shared_ptr<Session>> ResolveSession(grpc::CallbackServerContext* ctx,
                                                          const std::string& session_id) const;
  // Whether a call resets the session's idle TTL: commands do; reads do unless the caller sends
  // x-tensord-peek (an operator's look); peeks (ListTensors) never do.
  enum class Access { kCommand, kRead, kPeek };
  // Whether the call is a peek (does not reset the idle TTL); INVALID_ARGUMENT for an
  // x-tensord-peek header on a call that changes the session.
  absl::StatusOr<bool> IsPeek(grpc::CallbackServerContext* ctx, Access access) const;
  // The caller's identity (its token), or UNAUTHENTICATED.
  absl::StatusOr<std::string> Authenticate(grpc::CallbackServerContext* ctx) const;
  // Whether `token` may see every session (an operator token, or no authentication at all).
  bool IsOperator(const std::string& token) const;
  // Replaces the bearer tokens (SIGHUP); starts with the options' tokens.
  void SetTokens(std::vector<std::string> tokens, std::vector<std::string> operator_tokens);

  // Drain: new calls get UNAVAILABLE; WaitForCalls returns when none is in flight (or after
  // `timeout`).
  void StartDraining();
  bool draining() const { return draining_.load(std::memory_order_acquire); }
  // Called after a session is created or closed (the server updates its readiness).
  void SetSessionsChanged(std::function<void()> fn) { sessions_changed_ = std::move(fn); }
  void WaitForCalls(absl::Duration timeout);
  // Every call that does work holds one of these for its lifetime.
  class CallToken {
   public:
    explicit CallToken(TensordService* s) : s_(s) { s_->CallStarted(); }
    ~CallToken() { s_->CallEnded(); }
    CallToken(const CallToken&) = delete;
    CallToken& operator=(const CallToken&) = delete;

   private:
    TensordService* s_;
  };
  // UNAVAILABLE while draining.
  absl::Status Admit() const;

  const ServerOptions& options() const { return options_; }
  Executor& executor() { return executor_; }
  ServerStats& stats() { return stats_; }

 private:
  // Runs fn(runner, *req, resp) on the session's strand and finishes the call with its status.
  template <typename Req, typename Resp, typename Fn>
  grpc::ServerUnaryReactor* OnSession(grpc::CallbackServerContext* ctx, const Req* req, Resp* resp,
                                      Fn fn, bool is_batch = false,
                                      Access access = Access::kCommand);

  void CallStarted();
  void CallEnded();

  const ServerOptions& options_;
  SessionManager& sessions_;
  // Atomics, not a mutex: every call passes here.
  std::atomic<int64_t> calls_in_flight_{0};
  std::atomic<bool> draining_{false};
  Executor& executor_;
  ServerStats& stats_;
  std::function<void()> sessions_changed_;
  struct Tokens {
    std::vector<std::string> tokens, operator_tokens;
  };
  std::shared_ptr<const Tokens> CurrentTokens() const;
  mutable absl::Mutex tokens_mu_;
  std::shared_ptr<const Tokens> tokens_ ABSL_GUARDED_BY(tokens_mu_);
};

}  // namespace tensord::server
