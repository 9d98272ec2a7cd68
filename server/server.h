// A running tensord: the gRPC server, its sessions, workers and reaper. Used by main.cc and by
// the integration tests (which start it on an ephemeral loopback port).
#pragma once

#include <memory>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "server/commands.h"
#include "server/executor.h"
#include "server/options.h"
#include "server/service.h"
#include "server/session.h"
#include "server/state.h"

namespace grpc {
class Server;
}

namespace tensord::server {

class TensordServer {
 public:
  // Builds and starts the server; `options.listen` may use port 0 (see port()).
  static absl::StatusOr<std::unique_ptr<TensordServer>> Start(ServerOptions options);
  ~TensordServer();

  int port() const { return port_; }
  // Blocks until Shutdown() has completed.
  void Wait();
  // Health goes NOT_SERVING, new calls are refused, in-flight calls get until `deadline` to
  // finish; then sessions are closed.
  void Shutdown(absl::Duration drain);

  SessionManager& sessions() { return sessions_; }
  // The session snapshots (--state_dir), or null.
  StateStore* state() { return state_.get(); }
  const ServerOptions& options() const { return options_; }

 private:
  explicit TensordServer(ServerOptions options);
  void ReapLoop();
  void SnapshotLoop();

  // Destroyed bottom-up: the server first, then the workers (whose queued tasks still use the
  // service and the sessions), then the rest.
  ServerOptions options_;
  ServerStats stats_;
  SessionManager sessions_;
  TensordService service_;
  Executor executor_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  absl::Notification stop_reaper_;
  std::thread reaper_;
  std::unique_ptr<StateStore> state_;
  absl::Notification stop_snapshots_;
  std::thread snapshotter_;
  absl::Mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
};

}  // namespace tensord::server
