// Who may call: bearer tokens (--token_file, --operator_token_file), the session a call is for
// (x-tensord-session must agree with the request), and admission while draining.
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
#include "engine/status_macros.h"
#include "engine/storage.h"
#include "proto/wire.h"
#include "server/rpc_util.h"
#include "server/status.h"
#include "server/transfer.h"
#include "spdlog/spdlog.h"

namespace tensord::server {

absl::Status TensordService::Admit() const {
  if (draining_.load(std::memory_order_acquire))
    return absl::UnavailableError("the server is shutting down");
  return absl::OkStatus();
}

std::shared_ptr<const TensordService::Tokens> TensordService::CurrentTokens() const {
  absl::ReaderMutexLock lock(&tokens_mu_);
  return tokens_;
}

void TensordService::SetTokens(std::vector<std::string> tokens,
                               std::vector<std::string> operator_tokens) {
  auto next = std::make_shared<const Tokens>(Tokens{std::move(tokens), std::move(operator_tokens)});
  absl::MutexLock lock(&tokens_mu_);
  tokens_ = std::move(next);
}

absl::StatusOr<std::string> TensordService::Authenticate(grpc::CallbackServerContext* ctx) const {
  TD_RETURN_IF_ERROR(Admit());
  const std::shared_ptr<const Tokens> tokens = CurrentTokens();
  if (tokens->tokens.empty() && tokens->operator_tokens.empty()) return std::string();
  const std::string header = Metadata(ctx, wire::kAuthorizationHeader);
  if (header.empty())
    return absl::UnauthenticatedError("missing bearer token (authorization: Bearer <token>)");
  if (!absl::StartsWith(header, wire::kBearerPrefix)) {
    return absl::UnauthenticatedError("the authorization header must be 'Bearer <token>'");
  }
  const std::string token = header.substr(sizeof(wire::kBearerPrefix) - 1);
  for (const std::string& t : tokens->tokens)
    if (t == token) return token;
  for (const std::string& t : tokens->operator_tokens)
    if (t == token) return token;
  return absl::UnauthenticatedError("invalid bearer token");
}

bool TensordService::IsOperator(const std::string& token) const {
  const std::shared_ptr<const Tokens> tokens = CurrentTokens();
  if (tokens->tokens.empty() && tokens->operator_tokens.empty()) return true;  // no auth
  for (const std::string& t : tokens->operator_tokens)
    if (t == token) return true;
  return false;
}

absl::StatusOr<std::shared_ptr<Session>> TensordService::ResolveSession(
    grpc::CallbackServerContext* ctx, const std::string& session_id) const {
  TD_ASSIGN_OR_RETURN(std::string owner, Authenticate(ctx));
  if (session_id.empty()) return absl::InvalidArgumentError("session_id is required");
  const std::string header = Metadata(ctx, wire::kSessionHeader);
  if (header.empty() && options_.require_session_header) {
    return absl::InvalidArgumentError(absl::StrCat(
        "missing metadata '", wire::kSessionHeader, "': every session call must send its session ",
        "id in the request metadata key '", wire::kSessionHeader,
        "' (the same value as the request's session_id) so that a proxy can route it to the "
        "replica holding the session; a server started with --require_session_header=false "
        "accepts calls without it"));
  }
  if (!header.empty() && header != session_id) {
    return absl::InvalidArgumentError(
        absl::StrCat("metadata ", wire::kSessionHeader, " '", Clip(header),
                     "' does not match the request's session_id '", Clip(session_id), "'"));
  }
  return sessions_.Get(session_id, owner);
}

}  // namespace tensord::server
