// What each request does to a session. Every function runs on the session's strand with the
// session's context bound to the thread, validates everything before it changes anything, and
// so leaves the session as it was when it fails. Unary RPCs, Execute and Stream all call these.
#pragma once

#include <atomic>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/command_table.h"
#include "server/convert.h"
#include "server/session.h"

namespace tensord::server {

class Metrics;

struct ServerStats {
  std::atomic<uint64_t> ops{0};
  std::atomic<uint64_t> commands{0};
  absl::Time started = absl::Now();
  // Set when memory was let go in bulk (a session closed, a stream that buffered much ended):
  // the server's housekeeping thread then returns free memory to the OS.
  std::atomic<bool> trim_requested{false};
  // The Prometheus counters (server/metrics.h), when the server keeps them.
  Metrics* metrics = nullptr;
};

class CommandRunner {
 public:
  CommandRunner(Session& session, const ServerOptions& options, ServerStats& stats)
      : session_(session), options_(options), stats_(stats) {}

  // One method per session command (server/command_table.h).
#define TENSORD_COMMAND_METHOD_(Name, field, Req, Resp, result) \
  absl::Status Name(const pb::Req& req, pb::Resp* resp);
  TENSORD_FORALL_SESSION_COMMANDS(TENSORD_COMMAND_METHOD_)
#undef TENSORD_COMMAND_METHOD_

  Session& session() { return session_; }

  // One command of a batch or stream; the status is also written into `result`.
  absl::Status Run(const pb::Command& command, pb::CommandResult* result);
  // Run() under GuardCommand (below): the per-command limit, the call's deadline and
  // cancellation, the session closing.
  absl::Status RunGuarded(const pb::Command& command, pb::CommandResult* result,
                          absl::Time call_deadline, absl::FunctionRef<bool()> call_cancelled);

 private:
  absl::Status CheckSession(const std::string& id) const;
  absl::Status CheckIds(const google::protobuf::RepeatedField<uint64_t>& ids, size_t needed) const;
  void Info(uint64_t id, const Tensor& t, pb::TensorsResponse* resp) const;

  Session& session_;
  const ServerOptions& options_;
  ServerStats& stats_;
};

// Writes a failed command's status into its result (code and wire message; no payload).
void SetError(const absl::Status& s, pb::CommandResult* r);

// Runs one command's work (`fn`, returning absl::Status) with what may stop it: the server's
// per-command limit (--max_command_seconds), the call's deadline, the call's cancellation
// (`call_cancelled`) and the session being closed. A stopped command returns DEADLINE_EXCEEDED or
// CANCELLED and leaves the session as it was (engine/cancel.h). No exception escapes: anything
// thrown becomes INTERNAL and is logged, so a strand is never left busy.
absl::Status GuardCommand(Session& session, const ServerOptions& options, absl::Time call_deadline,
                          absl::FunctionRef<bool()> call_cancelled,
                          absl::FunctionRef<absl::Status()> fn);

// Fills SessionInfo from a live session.
void DescribeSession(Session& session, pb::SessionInfo* out);

}  // namespace tensord::server
