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
constexpr int64_t kTimelineNs = 100'000'000;  // 100 ms

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
  // The timeline: measured requests by the interval they ended in (kTimelineNs each).
  struct Bucket {
    int64_t count = 0, errors = 0, sum_ns = 0, max_ns = 0;
  };
  std::mutex timeline_mu;
  std::vector<Bucket> timeline;

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
    {
      const size_t b = static_cast<size_t>(std::max<int64_t>(0, end_ns) / kTimelineNs);
      std::lock_guard<std::mutex> lock(timeline_mu);
      if (timeline.size() <= b) timeline.resize(b + 1);
      Bucket& k = timeline[b];
      ++k.count;
      k.errors += o.code != 0;
      k.sum_ns += latency_ns;
      k.max_ns = std::max(k.max_ns, latency_ns);
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
  // Open loop with a --load-schedule other than const: ticket k's time, from the rate.
  const Config* config = nullptr;
  bool rate_schedule = false;
  std::mutex schedule_mu;
  int64_t schedule_k = 0;
  double schedule_ns = 0;
  // Closed loop with a --concurrency-schedule other than const.
  bool concurrency_schedule = false;

  double Rate(double t_ns) const {
    return ScheduleValue(config->load_schedule, config->load_start, config->load_end,
                         config->load_step, config->load_step_duration, absl::Nanoseconds(t_ns));
  }
  // When ticket `k` is due, in ns since t0.
  int64_t Scheduled(int64_t k) {
    if (!rate_schedule) return static_cast<int64_t>(static_cast<double>(k) * interval_ns);
    std::lock_guard<std::mutex> lock(schedule_mu);
    if (k < schedule_k) {  // tickets are taken in order, but the warmup bound asks ahead
      schedule_k = 0;
      schedule_ns = 0;
    }
    while (schedule_k < k) {
      schedule_ns += 1e9 / std::max(Rate(schedule_ns), 1e-3);
      ++schedule_k;
    }
    return static_cast<int64_t>(schedule_ns);
  }
  // How many workers may be busy `t_ns` into the run.
  int Busy(int64_t t_ns) const {
    return static_cast<int>(ScheduleValue(
        config->concurrency_schedule, config->concurrency_start,
        config->concurrency_end > 0 ? config->concurrency_end : config->concurrency,
        config->concurrency_step, config->concurrency_step_duration, absl::Nanoseconds(t_ns)));
  }
};

bool Stopping(const Plan& p) {
  return p.done.load(std::memory_order_relaxed) || g_interrupted.load();
}

void ClosedLoop(Worker& w, int index, Plan& p, Stats& stats) {
  while (!Stopping(p)) {
    // A worker beyond the schedule's count waits for its turn.
    while (p.concurrency_schedule && index >= p.Busy(Nanos(Clock::now() - p.t0))) {
      if (Stopping(p)) return;
      const int64_t ms = p.measure_start.load(std::memory_order_relaxed);
      if (p.duration_ns > 0 && ms != kUnset && Nanos(Clock::now() - p.t0) >= ms + p.duration_ns)
        return;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
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
  const int64_t measure_start = p.Scheduled(p.warmup_tickets);
  while (!Stopping(p)) {
    const int64_t ticket = p.next.fetch_add(1, std::memory_order_relaxed);
    if (p.max_tickets >= 0 && ticket >= p.max_tickets) break;
    const int64_t scheduled = p.Scheduled(ticket);
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

double ScheduleValue(const std::string& kind, double start, double end, double step,
                     absl::Duration step_duration, absl::Duration t) {
  if (kind == "const") return end;
  const double steps = absl::FDivDuration(t, step_duration);
  const double v = start + step * (kind == "step" ? std::floor(steps) : steps);
  return step >= 0 ? std::min(v, end) : std::max(v, end);
}

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
  plan.config = &config;
  plan.deadline = config.deadline;
  plan.duration_ns = absl::ToInt64Nanoseconds(config.duration);
  plan.rate_schedule = config.load_schedule != "const";
  plan.concurrency_schedule = config.concurrency_schedule != "const";
  if (plan.rate_schedule) {
    plan.open_loop = true;
    plan.warmup_tickets = config.warmup_requests;
    if (config.warmup > absl::ZeroDuration()) {  // the tickets due before the warmup time
      const int64_t warm_ns = absl::ToInt64Nanoseconds(config.warmup);
      while (plan.Scheduled(plan.warmup_tickets) < warm_ns) ++plan.warmup_tickets;
    }
    if (config.requests > 0) plan.max_tickets = plan.warmup_tickets + config.requests;
  } else if (config.rps > 0) {
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
  for (size_t i = 0; i < workers.size(); ++i) {
    Worker* worker = workers[i].get();
    threads.emplace_back([&, worker, i] {
      if (plan.open_loop) {
        OpenLoop(*worker, plan, stats);
      } else {
        ClosedLoop(*worker, static_cast<int>(i), plan, stats);
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
  // The timeline, in intervals of 100 ms (merged up to at most 300 points).
  {
    const size_t merge = std::max<size_t>(1, (stats.timeline.size() + 299) / 300);
    r.interval_s = static_cast<double>(kTimelineNs * static_cast<int64_t>(merge)) / 1e9;
    for (size_t i = 0; i < stats.timeline.size(); i += merge) {
      Stats::Bucket sum;
      for (size_t j = i; j < std::min(stats.timeline.size(), i + merge); ++j) {
        const Stats::Bucket& b = stats.timeline[j];
        sum.count += b.count;
        sum.errors += b.errors;
        sum.sum_ns += b.sum_ns;
        sum.max_ns = std::max(sum.max_ns, b.max_ns);
      }
      Report::Point pt;
      pt.t_s = static_cast<double>(i + merge) * static_cast<double>(kTimelineNs) / 1e9;
      pt.count = sum.count;
      pt.errors = sum.errors;
      pt.mean_ms = sum.count > 0 ? static_cast<double>(sum.sum_ns) / 1e6 / sum.count : 0;
      pt.max_ms = static_cast<double>(sum.max_ns) / 1e6;
      const int64_t mid = static_cast<int64_t>((pt.t_s - r.interval_s / 2) * 1e9);
      if (plan.rate_schedule) {
        pt.target = plan.Rate(static_cast<double>(mid));
      } else if (plan.open_loop) {
        pt.target = config.rps;
      } else {
        pt.target = plan.concurrency_schedule ? plan.Busy(mid) : config.concurrency;
      }
      r.timeline.push_back(pt);
    }
  }
  if (r.executed > 0) {
    const double n = static_cast<double>(r.executed);
    r.commands_per_request = static_cast<double>(counters1.first - counters0.first) / n;
    r.round_trips_per_request = static_cast<double>(counters1.second - counters0.second) / n;
  }
  return r;
}

}  // namespace tensord::load
