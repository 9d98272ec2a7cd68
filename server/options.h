// Server configuration: limits and transport settings. Filled from flags in main.cc only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace tensord::server {

struct ServerOptions {
  std::string listen = "127.0.0.1:50051";
  int workers = 2;  // engine worker threads
  int max_sessions = 1024;
  absl::Duration default_ttl = absl::Minutes(10);
  absl::Duration max_ttl = absl::Hours(24);
  int64_t max_session_bytes = int64_t{1} << 30;  // 1 GiB
  int64_t max_tensor_elements = int64_t{1} << 31;
  int max_rank = 8;
  int max_message_bytes = 16 << 20;  // larger tensors must use Upload/Download
  std::string tls_cert_file;         // both set: serve TLS
  std::string tls_key_file;
  std::vector<std::string> tokens;  // non-empty: bearer tokens required
  // Operator tokens: valid bearer tokens whose ServerInfo and ListSessions see every session
  // (other tokens see only their own).
  std::vector<std::string> operator_tokens;
  std::string replica;  // this replica's name, reported by ServerInfo
  // Prometheus metrics over HTTP on this address (host:port; port 0 picks one); empty: off.
  std::string metrics_listen;
  // Readiness (grpc.health.v1 for "tensord.v1.Tensord") turns NOT_SERVING while the sessions
  // together hold at least this many bytes; 0: memory never makes the server unready.
  int64_t readiness_max_bytes = 0;
  // Session calls must carry their session id in the x-tensord-session metadata key (a proxy
  // routes on it); false accepts calls without it (one replica, no proxy).
  bool require_session_header = true;
  absl::Duration reap_interval = absl::Seconds(1);
  absl::Duration drain_timeout = absl::Seconds(10);
  // Longest one command may run (an op, a backward, one command of a batch or stream); past it
  // the command stops with DEADLINE_EXCEEDED and the session is as before it.
  absl::Duration max_command_time = absl::Seconds(60);
  // Commands an Execute batch may hold.
  int max_batch_commands = 1 << 17;
  // Results a pipelined stream may hold unsent (its client is not reading) before the server
  // stops reading that stream's commands; and the same for all streams of one session.
  int64_t max_stream_buffer_bytes = int64_t{32} << 20;
  int64_t max_session_stream_buffer_bytes = int64_t{64} << 20;
  // Estimated element operations (EstimateWork) up to which a command runs on the RPC thread
  // when its session is idle, instead of hopping to a worker.
  int64_t max_inline_work = int64_t{1} << 16;
  // Server-side checkpoints (Save/Load): the directory their paths are relative to; empty: off.
  std::string checkpoint_dir;
  // Sessions that outlive the process (server/state.h): the directory of their snapshots (empty:
  // off), written on drain and, when positive, every snapshot_interval.
  std::string state_dir;
  absl::Duration snapshot_interval = absl::ZeroDuration();
};

}  // namespace tensord::server
