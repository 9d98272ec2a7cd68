// tensord-load: a load generator for tensord. The flags live in main.cc; this is the rest: the
// run's configuration, the scenarios (what one request is), the runner (workers, open/closed loop,
// warmup, statistics) and the report (text, json, csv).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/load/histogram.h"

namespace grpc {
class Channel;
}

namespace tensord::load {

struct Config {
  std::string scenario;  // echo create op tutorial train mlp
  std::string address = "127.0.0.1:50051";
  std::string token;
  bool tls = false;
  std::string root_certificates;  // PEM contents (not the path)
  bool pipelined = true;
  int concurrency = 4;
  int sessions = 0;             // 0: one per worker
  int connections = 1;          // echo, create, op: channels (HTTP/2 connections)
  absl::Duration duration;      // measured time (after warmup); zero: not limited by time
  int64_t requests = 0;         // measured requests; 0: not limited by count
  double rps = 0;               // > 0: open loop at this rate
  absl::Duration warmup;        // warmup by time ...
  int64_t warmup_requests = 0;  // ... or by count
  absl::Duration deadline = absl::Seconds(20);
  int64_t payload_bytes = 0;    // echo
  int64_t size = 1024;          // create, op, tutorial: elements
  std::string op = "neg";       // op
  int ops_per_request = 1;      // op
  std::string format = "text";  // text json csv
  double max_error_rate = 0;
  bool progress = false;  // live line on stderr
  // --call: any unary RPC ("tensord.v1.Tensord/ApplyOp") with a JSON request (-d / -D) and JSON
  // metadata, both templated per request (ExpandTemplate); replaces --scenario.
  std::string call;
  std::string data;
  std::string metadata;
  // Open loop with a changing rate (ghz's --load-schedule): "const" (--rps), or "step" / "line"
  // from load_start to load_end requests/s, changing by load_step every load_step_duration (step:
  // at once; line: smoothly). The rate stays at load_end once reached.
  std::string load_schedule = "const";
  double load_start = 0, load_end = 0, load_step = 0;
  absl::Duration load_step_duration = absl::Seconds(1);
  // Closed loop with a changing number of busy workers (ghz's --concurrency-schedule): "const"
  // (--concurrency), or "step" / "line" from concurrency_start to concurrency_end (at most
  // --concurrency; 0: --concurrency) workers, changing by concurrency_step every
  // concurrency_step_duration.
  std::string concurrency_schedule = "const";
  int concurrency_start = 1, concurrency_end = 0, concurrency_step = 1;
  absl::Duration concurrency_step_duration = absl::Seconds(1);
};

// The target rate (open loop) or the busy workers (closed loop) `t` into the run, per the
// schedule: start, changed by step every step_duration ("step": at once, "line": smoothly),
// held at end once reached.
double ScheduleValue(const std::string& kind, double start, double end, double step,
                     absl::Duration step_duration, absl::Duration t);

// What a --call template may name: {{.RequestNumber}} (0, 1, ... over the whole run, warmup
// included), {{.WorkerID}} (0-based), {{.SessionID}} (a fresh session per worker, created before
// the run and sent in x-tensord-session), {{.UUID}} (128 random bits, hex),
// {{.TimestampUnixNano}}.
struct TemplateValues {
  int64_t request_number = 0;
  int worker = 0;
  std::string session_id;
};
std::string ExpandTemplate(const std::string& text, const TemplateValues& values);
// The --call method exists and is unary, the data parses as its request, the metadata as a JSON
// object of strings.
absl::Status ValidateCall(const Config& config);

// The scenario names, and what one request of each is (for --help and the report).
const std::vector<std::string>& ScenarioNames();
std::string DescribeRequest(const Config& config);
// Checks a configuration; the message of a usage error, or "" when it is fine.
std::string Validate(const Config& config);

// The outcome of one request: a grpc::StatusCode value (0 = OK) and the server's message.
struct Outcome {
  int code = 0;
  std::string message;
};

// One worker's view of the scenario: it runs requests, one at a time.
class Worker {
 public:
  virtual ~Worker() = default;
  // One request; `deadline` is the wall-clock time it must finish by.
  virtual Outcome Run(std::chrono::system_clock::time_point deadline) = 0;
  // Bookkeeping between requests, outside the measured time (e.g. releasing results).
  virtual void Housekeeping() {}
};

class Scenario {
 public:
  virtual ~Scenario() = default;
  // Connects the sessions (before the clock starts).
  virtual absl::Status Setup() = 0;
  // The state of worker `index` (0-based), on session index % sessions.
  virtual absl::StatusOr<std::unique_ptr<Worker>> MakeWorker(int index) = 0;
  // Client-library counters summed over the sessions (commands sent, blocking round trips); zero
  // for the scenarios that use the generated stubs.
  virtual std::pair<uint64_t, uint64_t> Counters() const { return {0, 0}; }
  // Closes the sessions (workers must be gone).
  virtual void Teardown() = 0;
};

std::unique_ptr<Scenario> MakeScenario(const Config& config);
std::unique_ptr<Scenario> MakeCallScenario(const Config& config);
// --connections channels to --address (TLS per the config), each its own HTTP/2 connection.
std::vector<std::shared_ptr<grpc::Channel>> MakeChannels(const Config& config);

struct ErrorSample {
  int code = 0;
  std::string message;
  int64_t count = 0;
};

struct Report {
  Config config;
  std::string request;  // what one request is
  int64_t count = 0;    // measured requests
  int64_t ok = 0;
  int64_t errors = 0;
  double error_rate = 0;
  double elapsed_s = 0;  // first measured start to last measured end
  double throughput = 0;
  // Latency in nanoseconds.
  int64_t min_ns = 0, max_ns = 0;
  double mean_ns = 0;
  std::vector<std::pair<std::string, int64_t>> percentiles;  // "p50" -> ns
  std::vector<std::pair<int64_t, int64_t>> bins;             // upper bound ns -> count
  std::array<int64_t, 17> status_codes{};
  std::vector<ErrorSample> error_samples;
  int64_t warmup_count = 0;
  int64_t warmup_errors = 0;
  double cpu_user_s = 0, cpu_system_s = 0;
  int64_t executed = 0;  // every request the run executed, warmup included (CPU per request)
  double run_s = 0;      // the whole run, warmup included
  double commands_per_request = 0, round_trips_per_request = 0;  // library scenarios
  std::optional<ErrorSample> setup_error;
  bool interrupted = false;
  // The run over time (measured requests, by when they ended): one point per interval.
  struct Point {
    double t_s = 0;     // the interval's end, seconds since the run started
    int64_t count = 0;  // requests that ended in it
    int64_t errors = 0;
    double mean_ms = 0;  // their mean latency
    double max_ms = 0;
    double target = 0;  // the schedule's rate (open loop) or workers (closed loop), if any
  };
  double interval_s = 0;
  std::vector<Point> timeline;
};

// Runs the whole thing: setup, warmup, measurement, teardown.
Report Run(const Config& config, Scenario& scenario);

std::string StatusCodeName(int code);
std::string RenderText(const Report& r);
std::string RenderJson(const Report& r);
std::string RenderCsv(const Report& r);
// A self-contained HTML page: the summary, the latency histogram and the time series as inline
// SVG (no script, no external resource).
std::string RenderHtml(const Report& r);
// 0, or 1 when the run failed (setup error, or error rate above --max-error-rate).
int ExitCode(const Report& r);

}  // namespace tensord::load
