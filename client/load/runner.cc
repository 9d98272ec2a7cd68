// The runner: --concurrency worker threads, each with its scenario state, issuing requests
// closed loop (as fast as answers come back) or open loop (--rps: request i is scheduled at
// t0 + i/rps, and its latency is measured from that scheduled time, so a slow server cannot hide
// its queueing by slowing the generator down: no coordinated omission).
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/load/load.h"

namespace tensord::load {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kUnset = INT64_MIN;

std::atomic<bool> g_interrupted{false};
void OnInterrupt(int) { g_interrupted.store(true); }

int64_t Nanos(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

double CpuSeconds(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

int ClampCode(int code) { return code >= 0 && code <= 16 ? code : 2; /* UNKNOWN */ }

struct Stats {
  Histogram latency;
  std::array<std::atomic<int64_t>, 17> codes{};
  std::atomic<int64_t> executed{0};
  std::atomic<int64_t> warmup{0};
  std::atomic<int64_t> warmup_errors{0};
  std::atomic<int64_t> errors{0};
  std::atomic<int64_t> first_start{INT64_MAX};  // ns since t0, measured requests
  std::atomic<int64_t> last_end{INT64_MIN};
  std::mutex mu;
  std::vector<ErrorSample> samples;  // distinct (code, message), at most 5

  void Record(bool warm, int64_t start_ns, int64_t end_ns, int64_t latency_ns, const Outcome& o) {
    executed.fetch_add(1, std::memory_order_relaxed);
    if (warm) {
      warmup.fetch_add(1, std::memory_order_relaxed);
      if (o.code != 0) warmup_errors.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    latency.Record(latency_ns);
    codes[static_cast<size_t>(ClampCode(o.code))].fetch_add(1, std::memory_order_relaxed);
    int64_t cur = first_start.load(std::memory_order_relaxed);
    while (start_ns < cur &&
           !first_start.compare_exchange_weak(cur, start_ns, std::memory_order_relaxed)) {
    }
    cur = last_end.load(std::memory_order_relaxed);
    while (end_ns > cur &&
           !last_end.compare_exchange_weak(cur, end_ns, std::memory_order_relaxed)) {
    }
    if (o.code == 0) return;
    errors.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard<std::mutex> lock(mu);
    for (ErrorSample& s : samples) {
      if (s.code == o.code && s.message == o.message) {
        ++s.count;
        return;
      }
    }
    if (samples.size() < 5) samples.push_back({o.code, o.message, 1});
  }
};

// What the workers share: the ticket counter and the limits.
struct Plan {
  Clock::time_point t0;
  bool open_loop = false;
  double interval_ns = 0;      // open loop
  int64_t warmup_tickets = 0;  // tickets [0, warmup_tickets) are warmup
  int64_t warm_until_ns = 0;   // closed loop, warmup by time: requests started before are warmup
  int64_t max_tickets = -1;    // open loop with --requests
  int64_t requests = 0;        // closed loop: measured requests to issue (0: unlimited)
  int64_t duration_ns = 0;     // 0: not limited by time
  absl::Duration deadline;
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> measured{0};
  std::atomic<int64_t> measure_start{kUnset};  // ns since t0: when the measured part began
  std::atomic<bool> done{false};
};

bool Stopping(const Plan& p) {
  return p.done.load(std::memory_order_relaxed) || g_interrupted.load();
}

void ClosedLoop(Worker& w, Plan& p, Stats& stats) {
  while (!Stopping(p)) {
    const int64_t now = Nanos(Clock::now() - p.t0);
    const int64_t ms = p.measure_start.load(std::memory_order_relaxed);
    if (p.duration_ns > 0 && ms != kUnset && now >= ms + p.duration_ns) break;
    const int64_t ticket = p.next.fetch_add(1, std::memory_order_relaxed);
    const bool warm = ticket < p.warmup_tickets || now < p.warm_until_ns;
    if (!warm) {
      if (p.requests > 0 && p.measured.fetch_add(1, std::memory_order_relaxed) >= p.requests) break;
      int64_t unset = kUnset;
      p.measure_start.compare_exchange_strong(unset, now);
    }
    const auto start = Clock::now();
    const Outcome o =
        w.Run(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(p.deadline));
    const auto end = Clock::now();
    stats.Record(warm, Nanos(start - p.t0), Nanos(end - p.t0), Nanos(end - start), o);
    w.Housekeeping();
  }
}

void OpenLoop(Worker& w, Plan& p, Stats& stats) {
  const int64_t measure_start =
      static_cast<int64_t>(static_cast<double>(p.warmup_tickets) * p.interval_ns);
  while (!Stopping(p)) {
    const int64_t ticket = p.next.fetch_add(1, std::memory_order_relaxed);
    if (p.max_tickets >= 0 && ticket >= p.max_tickets) break;
    const int64_t scheduled = static_cast<int64_t>(static_cast<double>(ticket) * p.interval_ns);
    if (p.duration_ns > 0 && scheduled >= measure_start + p.duration_ns) break;
    const Clock::time_point at = p.t0 + std::chrono::nanoseconds(scheduled);
    while (Clock::now() < at) {  // in slices, so that Ctrl-C is noticed
      if (Stopping(p)) return;
      std::this_thread::sleep_until(std::min(at, Clock::now() + std::chrono::milliseconds(100)));
    }
    const Outcome o =
        w.Run(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(p.deadline));
    const auto end = Clock::now();
    stats.Record(ticket < p.warmup_tickets, scheduled, Nanos(end - p.t0), Nanos(end - at), o);
    w.Housekeeping();
  }
}

// The live line on stderr: elapsed time, requests, rate over the last interval, errors.
void Progress(const Config& c, const Plan& p, const Stats& stats) {
  int64_t last_count = 0;
  auto last = Clock::now();
  while (!p.done.load()) {
    for (int i = 0; i < 5 && !p.done.load(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (p.done.load()) break;
    const auto now = Clock::now();
    const int64_t n = stats.executed.load(std::memory_order_relaxed);
    const double dt = std::chrono::duration<double>(now - last).count();
    const double rate = dt > 0 ? static_cast<double>(n - last_count) / dt : 0;
    last_count = n;
    last = now;
    const std::string line = absl::StrFormat(
        "\r\033[K[%6.1fs] %s: %d requests (%d warmup), %.0f req/s, %d errors",
        std::chrono::duration<double>(now - p.t0).count(), c.scenario, n, stats.warmup.load(), rate,
        stats.errors.load() + stats.warmup_errors.load());
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
  }
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
}

void FillPercentiles(const Histogram& h, Report* r) {
  r->percentiles.clear();
  for (const auto& [name, q] : std::vector<std::pair<std::string, double>>{
           {"p50", 0.5}, {"p90", 0.9}, {"p95", 0.95}, {"p99", 0.99}, {"p99.9", 0.999}}) {
    r->percentiles.emplace_back(name, h.ValueAtQuantile(q));
  }
}

}  // namespace

Report Run(const Config& config, Scenario& scenario) {
  Report r;
  r.config = config;
  r.request = DescribeRequest(config);
  const int sessions = config.sessions > 0 ? config.sessions : config.concurrency;
  r.config.sessions = sessions;

  std::vector<std::unique_ptr<Worker>> workers;
  absl::Status setup = scenario.Setup();
  for (int i = 0; setup.ok() && i < config.concurrency; ++i) {
    auto w = scenario.MakeWorker(i);
    if (!w.ok()) {
      setup = w.status();
    } else {
      workers.push_back(*std::move(w));
    }
  }
  if (!setup.ok()) {
    r.setup_error = ErrorSample{static_cast<int>(setup.code()), std::string(setup.message()), 1};
    FillPercentiles(Histogram(), &r);  // all zero, so every format has its usual fields
    workers.clear();
    scenario.Teardown();
    return r;
  }

  Plan plan;
  plan.deadline = config.deadline;
  plan.duration_ns = absl::ToInt64Nanoseconds(config.duration);
  if (config.rps > 0) {
    plan.open_loop = true;
    plan.interval_ns = 1e9 / config.rps;
    plan.warmup_tickets =
        config.warmup_requests > 0
            ? config.warmup_requests
            : static_cast<int64_t>(std::ceil(absl::ToDoubleSeconds(config.warmup) * config.rps));
    if (config.requests > 0) plan.max_tickets = plan.warmup_tickets + config.requests;
  } else {
    plan.warmup_tickets = config.warmup_requests;
    plan.warm_until_ns = absl::ToInt64Nanoseconds(config.warmup);
    plan.requests = config.requests;
    if (plan.warm_until_ns > 0) plan.measure_start.store(plan.warm_until_ns);
    if (plan.warm_until_ns == 0 && plan.warmup_tickets == 0) plan.measure_start.store(0);
  }

  Stats stats;
  const auto counters0 = scenario.Counters();
  struct sigaction sa = {}, old_sa = {};
  sa.sa_handler = OnInterrupt;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_sa);
  rusage ru0 = {}, ru1 = {};
  getrusage(RUSAGE_SELF, &ru0);
  plan.t0 = Clock::now();

  std::thread progress;
  if (config.progress) progress = std::thread([&] { Progress(config, plan, stats); });
  std::vector<std::thread> threads;
  for (auto& w : workers) {
    Worker* worker = w.get();
    threads.emplace_back([&, worker] {
      if (plan.open_loop) {
        OpenLoop(*worker, plan, stats);
      } else {
        ClosedLoop(*worker, plan, stats);
      }
    });
  }
  for (auto& t : threads) t.join();
  const auto t1 = Clock::now();
  getrusage(RUSAGE_SELF, &ru1);
  plan.done.store(true);
  if (progress.joinable()) progress.join();
  sigaction(SIGINT, &old_sa, nullptr);
  r.interrupted = g_interrupted.load();
  const auto counters1 = scenario.Counters();
  workers.clear();
  scenario.Teardown();

  // The numbers.
  const Histogram& h = stats.latency;
  r.count = h.count();
  r.errors = stats.errors.load();
  r.ok = r.count - r.errors;
  r.error_rate = r.count > 0 ? static_cast<double>(r.errors) / static_cast<double>(r.count) : 0;
  if (r.count > 0) {
    r.elapsed_s = static_cast<double>(stats.last_end.load() - stats.first_start.load()) / 1e9;
    r.throughput = r.elapsed_s > 0 ? static_cast<double>(r.count) / r.elapsed_s : 0;
  }
  r.min_ns = h.min();
  r.max_ns = h.max();
  r.mean_ns = h.mean();
  FillPercentiles(h, &r);
  if (r.count > 0) r.bins = h.Bins(10, /*log=*/true);
  for (size_t i = 0; i < r.status_codes.size(); ++i) r.status_codes[i] = stats.codes[i].load();
  r.error_samples = stats.samples;
  r.warmup_count = stats.warmup.load();
  r.warmup_errors = stats.warmup_errors.load();
  r.executed = stats.executed.load();
  r.run_s = std::chrono::duration<double>(t1 - plan.t0).count();
  r.cpu_user_s = CpuSeconds(ru1.ru_utime) - CpuSeconds(ru0.ru_utime);
  r.cpu_system_s = CpuSeconds(ru1.ru_stime) - CpuSeconds(ru0.ru_stime);
  if (r.executed > 0) {
    const double n = static_cast<double>(r.executed);
    r.commands_per_request = static_cast<double>(counters1.first - counters0.first) / n;
    r.round_trips_per_request = static_cast<double>(counters1.second - counters0.second) / n;
  }
  return r;
}

}  // namespace tensord::load
