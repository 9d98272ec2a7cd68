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
  std::string replica;              // this replica's name, reported by ServerInfo
  absl::Duration reap_interval = absl::Seconds(1);
  absl::Duration drain_timeout = absl::Seconds(10);
};

}  // namespace tensord::server
