// tensorctl's subcommands: each talks to one tensord, writes its result to `out` and its
// diagnostics to `err`, and returns the process exit code. Flags are parsed in main.cc only.
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tensord/v1/tensord.grpc.pb.h"

namespace tensorctl {

// Exit codes.
enum ExitCode : int {
  kOk = 0,
  kRpcError = 1,    // the server answered with an error, or could not be reached
  kUsageError = 2,  // bad command line
  kLocalError = 3,  // a local failure: graphviz missing or failing, an unwritable output file
};

struct ConnectionOptions {
  std::string address = "127.0.0.1:50051";
  std::string token;  // sent as "authorization: Bearer <token>" when set
  bool tls = false;
  std::string root_certificates;  // PEM; empty with tls: the system's roots
  absl::Duration timeout = absl::Seconds(10);
};

class Connection {
 public:
  explicit Connection(const ConnectionOptions& options);

  // A context with the deadline, the bearer token and (for session calls) x-tensord-session.
  // `peek`: an operator's read (x-tensord-peek), which does not reset the session's idle TTL.
  std::unique_ptr<grpc::ClientContext> Context(const std::string& session = "",
                                               bool peek = false) const;
  ::tensord::v1::Tensord::Stub& tensord() { return *tensord_; }
  ::grpc::health::v1::Health::Stub& health() { return *health_; }

 private:
  ConnectionOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<::tensord::v1::Tensord::Stub> tensord_;
  std::unique_ptr<::grpc::health::v1::Health::Stub> health_;
};

struct Io {
  std::ostream& out;
  std::ostream& err;
};

// Prints "tensorctl: CODE: message" on err and returns kRpcError.
int RpcFailed(const grpc::Status& status, Io io);

int Sessions(Connection& c, bool json, Io io);
int Close(Connection& c, const std::string& session, Io io);
// Every tensor of the session (ListTensors, all pages).
int Tensors(Connection& c, const std::string& session, bool json, Io io);
int Show(Connection& c, const std::string& session, uint64_t handle, bool grad, Io io);
// format: "dot", "svg" or "png"; output: a file, or "" for stdout.
int Graph(Connection& c, const std::string& session, uint64_t handle, const std::string& format,
          const std::string& output, Io io);
int Ops(Connection& c, bool json, Io io);
int Stats(Connection& c, bool json, Io io);
int Health(Connection& c, const std::string& service, Io io);

// Runs graphviz's `dot -T<format>` on `dot_source`, writing to `output` (a file, or stdout when
// empty). kLocalError with a message on err when `dot` is missing or fails.
int RenderWithGraphviz(const std::string& dot_source, const std::string& format,
                       const std::string& output, Io io);

}  // namespace tensorctl
