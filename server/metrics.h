// Prometheus metrics: what the server counts as it runs (calls by method and status code with
// their latency, ops by name, sessions created and closed), and the text exposition (format
// 0.0.4) that adds the state read at scrape time (live sessions, bytes held per session as a
// histogram, worker queue depth, drain and readiness state, build info).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace grpc::experimental {
class ServerInterceptorFactoryInterface;
}

namespace tensord::server {

class Metrics {
 public:
  // The latency histogram's upper bounds, in seconds (and +Inf).
  static constexpr double kLatencyBounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                              0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                              1,      2.5,     5,      10};
  static constexpr int kNumLatencyBuckets = sizeof(kLatencyBounds) / sizeof(double) + 1;
  static constexpr int kNumCodes = 17;  // grpc::StatusCode OK .. UNAUTHENTICATED

  Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // One finished call: its full method ("/tensord.v1.Tensord/ApplyOp"), code and latency.
  void RecordCall(absl::string_view method, int code, double seconds);
  // One op applied (ApplyOp, in any form: unary, batch, stream), by its table entry's name.
  void RecordOp(absl::string_view op);
  void SessionCreated() { sessions_created_.fetch_add(1, std::memory_order_relaxed); }
  void SessionClosed() { sessions_closed_.fetch_add(1, std::memory_order_relaxed); }

  // What the exposition reads from the server at scrape time.
  struct State {
    std::vector<int64_t> session_bytes;  // one entry per live session
    int64_t tensors = 0;
    int64_t sessions_expired = 0;
    int64_t max_sessions = 0;
    uint64_t commands = 0;
    int64_t queue_depth = 0;
    int workers = 0;
    bool draining = false;
    bool ready = false;
    double start_time_seconds = 0;
    std::string version, build_type, replica;
  };
  std::string Exposition(const State& state) const;

  // A gRPC server interceptor factory that records every call (RecordCall) and logs its access
  // line (server/logging.h).
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> InterceptorFactory();

 private:
  struct PerCode {
    std::atomic<uint64_t> count{0};
    std::atomic<uint64_t> nanos{0};
    std::atomic<uint64_t> buckets[kNumLatencyBuckets] = {};
  };
  struct PerMethod {
    std::string service, method;
    PerCode codes[kNumCodes];
  };
  std::vector<std::unique_ptr<PerMethod>> methods_;
  absl::flat_hash_map<std::string, int> method_index_;  // "/svc/Method" -> index; last: other
  std::vector<std::string> op_names_;
  std::unique_ptr<std::atomic<uint64_t>[]> op_counts_;
  absl::flat_hash_map<std::string, int> op_index_;
  std::atomic<uint64_t> sessions_created_{0};
  std::atomic<uint64_t> sessions_closed_{0};
};

// The gRPC status code's name: "OK", "NOT_FOUND", ...
absl::string_view CodeName(int code);

}  // namespace tensord::server
