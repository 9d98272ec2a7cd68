// The report: text (for people), json (for scripts) and csv (one row per run, for spreadsheets).
#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/load/load.h"

namespace tensord::load {
namespace {

// "850.3us", "12.345ms", "1.203s".
std::string Latency(double ns) {
  if (ns < 1e6) return absl::StrFormat("%.1fus", ns / 1e3);
  if (ns < 1e9) return absl::StrFormat("%.3fms", ns / 1e6);
  return absl::StrFormat("%.3fs", ns / 1e9);
}

std::string Us(double ns) { return absl::StrFormat("%.3f", ns / 1e3); }

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (const unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string Num(double v) {
  if (!std::isfinite(v)) return "0";
  return absl::StrFormat("%.6g", v);
}

std::string Mode(const Config& c) {
  return c.rps > 0 ? absl::StrFormat("open loop at %g req/s", c.rps) : "closed loop";
}

double CpuPerRequestUs(const Report& r) {
  return r.executed > 0 ? (r.cpu_user_s + r.cpu_system_s) / static_cast<double>(r.executed) * 1e6
                        : 0;
}

// The scenario's name, or "call <method>" for --call.
std::string ScenarioLabel(const Config& c) {
  return c.call.empty() ? c.scenario : absl::StrCat("call ", c.call);
}

bool IsLibraryScenario(const Config& c) {
  return c.scenario == "tutorial" || c.scenario == "train" || c.scenario == "mlp";
}

}  // namespace

std::string StatusCodeName(int code) {
  if (code < 0 || code > 16) return absl::StrCat("CODE_", code);
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

std::string Validate(const Config& c) {
  const auto& names = ScenarioNames();
  if (!c.call.empty() && !c.scenario.empty()) return "give --scenario or --call, not both";
  if (!c.call.empty()) {
    if (absl::Status st = ValidateCall(c); !st.ok()) return std::string(st.message());
  } else if (!c.data.empty() || !c.metadata.empty()) {
    return "-d/--data, -D/--data-file and --metadata go with --call";
  }
  if (c.scenario.empty() && c.call.empty())
    return absl::StrCat("--scenario is required: one of ", absl::StrJoin(names, ", "));
  if (c.call.empty() && std::find(names.begin(), names.end(), c.scenario) == names.end()) {
    return absl::StrCat("unknown scenario '", c.scenario, "': one of ", absl::StrJoin(names, ", "));
  }
  if (c.concurrency < 1 || c.concurrency > 10000)
    return "--concurrency must be between 1 and 10000";
  if (c.sessions < 0 || c.sessions > c.concurrency) {
    return "--sessions must be between 1 and --concurrency (0: one per worker)";
  }
  if (c.connections < 1 || c.connections > c.concurrency)
    return "--connections must be between 1 and --concurrency";
  if (c.connections > 1 && IsLibraryScenario(c)) {
    return "--connections applies to echo, create and op: the client library gives all its "
           "sessions one connection";
  }
  if (c.requests < 0) return "--requests must not be negative";
  if (c.duration < absl::ZeroDuration()) return "--duration must not be negative";
  if (c.requests == 0 && c.duration == absl::ZeroDuration()) return "give --duration or --requests";
  if (c.rps < 0 || !std::isfinite(c.rps))
    return "--rps must be a non-negative number (0: closed loop)";
  if (c.warmup < absl::ZeroDuration() || c.warmup_requests < 0)
    return "--warmup must not be negative";
  if (c.deadline <= absl::ZeroDuration()) return "--deadline must be positive";
  if (c.payload_bytes < 0 || c.payload_bytes > (64 << 20))
    return "--payload_bytes must be between 0 and 64 MiB";
  if (c.size < 1 || c.size > (int64_t{1} << 31))
    return "--size must be between 1 and 2^31 elements";
  if (c.op.empty()) return "--op must name an op";
  if (c.ops_per_request < 1 || c.ops_per_request > 1024)
    return "--ops_per_request must be between 1 and 1024";
  if (c.format != "text" && c.format != "json" && c.format != "csv" && c.format != "html")
    return "--format must be text, json, csv or html";
  for (const auto& [flag, kind] :
       {std::pair<const char*, const std::string*>{"--load-schedule", &c.load_schedule},
        {"--concurrency-schedule", &c.concurrency_schedule}}) {
    if (*kind != "const" && *kind != "step" && *kind != "line")
      return absl::StrCat(flag, " must be const, step or line");
  }
  if (c.load_schedule != "const") {
    if (c.rps > 0) return "--rps is the const schedule: give it or --load-schedule, not both";
    if (!(c.load_start > 0 && c.load_end > 0 && c.load_step != 0 && std::isfinite(c.load_step)))
      return "--load-schedule step/line needs --load-start and --load-end > 0 and a --load-step "
             "other than 0";
    if (c.load_step_duration <= absl::ZeroDuration())
      return "--load-step-duration must be positive";
  }
  if (c.concurrency_schedule != "const") {
    if (c.rps > 0 || c.load_schedule != "const")
      return "--concurrency-schedule is for the closed loop (no --rps or --load-schedule)";
    const int end = c.concurrency_end > 0 ? c.concurrency_end : c.concurrency;
    if (c.concurrency_start < 1 || end > c.concurrency || c.concurrency_start > c.concurrency)
      return "--concurrency-start and --concurrency-end must be between 1 and --concurrency "
             "(the workers started)";
    if (c.concurrency_step == 0) return "--concurrency-step must not be 0";
    if (c.concurrency_step_duration <= absl::ZeroDuration())
      return "--concurrency-step-duration must be positive";
  }
  if (!(c.max_error_rate >= 0 && c.max_error_rate <= 1))
    return "--max-error-rate must be between 0 and 1";
  return "";
}

int ExitCode(const Report& r) {
  if (r.setup_error) return 1;
  return r.error_rate > r.config.max_error_rate ? 1 : 0;
}

std::string RenderText(const Report& r) {
  const Config& c = r.config;
  std::string out = "Summary:\n";
  absl::StrAppendFormat(&out, "  Scenario:      %s%s: %s\n", ScenarioLabel(c),
                        c.scenario == "echo" || c.scenario == "create" || !c.call.empty() ? ""
                        : c.pipelined ? " (pipelined)"
                                      : " (unary)",
                        r.request);
  absl::StrAppendFormat(&out, "  Target:        %s%s\n", c.address, c.tls ? " (TLS)" : "");
  absl::StrAppendFormat(
      &out, "  Load:          %d workers on %d %s over %s, %s\n", c.concurrency, c.sessions,
      c.scenario == "echo" ? "stubs" : "sessions",
      c.connections == 1 ? "1 connection" : absl::StrCat(c.connections, " connections"), Mode(c));
  if (r.setup_error) {
    absl::StrAppendFormat(&out, "  Setup failed:  [%s] %s\n", StatusCodeName(r.setup_error->code),
                          r.setup_error->message);
    return out;
  }
  absl::StrAppendFormat(&out, "  Count:         %d", r.count);
  if (r.warmup_count > 0) {
    absl::StrAppendFormat(
        &out, " (after %d warmup requests%s)", r.warmup_count,
        r.warmup_errors > 0 ? absl::StrCat(", ", r.warmup_errors, " of them failed") : "");
  }
  out += r.interrupted ? " (interrupted)\n" : "\n";
  absl::StrAppendFormat(&out, "  Total:         %.3fs\n", r.elapsed_s);
  absl::StrAppendFormat(&out, "  Slowest:       %s\n", Latency(static_cast<double>(r.max_ns)));
  absl::StrAppendFormat(&out, "  Fastest:       %s\n", Latency(static_cast<double>(r.min_ns)));
  absl::StrAppendFormat(&out, "  Average:       %s\n", Latency(r.mean_ns));
  absl::StrAppendFormat(&out, "  Requests/sec:  %.1f\n", r.throughput);
  absl::StrAppendFormat(&out, "  Errors:        %d (%.2f%%)\n", r.errors, r.error_rate * 100);

  if (!r.bins.empty()) {
    out += "\nResponse time histogram (log-spaced bins: upper bound [count]):\n";
    int64_t top = 1;
    for (const auto& [upper, n] : r.bins) top = std::max(top, n);
    for (const auto& [upper, n] : r.bins) {
      int width =
          static_cast<int>(std::lround(40.0 * static_cast<double>(n) / static_cast<double>(top)));
      if (n > 0) width = std::max(width, 1);  // a tail of a few is still visible
      absl::StrAppendFormat(&out, "  %10s [%d]\t|%s\n", Latency(static_cast<double>(upper)), n,
                            std::string(width, '#'));
    }
    out += "\nLatency distribution:\n";
    for (const auto& [name, ns] : r.percentiles) {
      absl::StrAppendFormat(&out, "  %-6s %s\n", name, Latency(static_cast<double>(ns)));
    }
  }

  out += "\nStatus code distribution:\n";
  for (size_t i = 0; i < r.status_codes.size(); ++i) {
    if (r.status_codes[i] > 0) {
      absl::StrAppendFormat(
          &out, "  [%s]%s%d responses\n", StatusCodeName(static_cast<int>(i)),
          std::string(std::max<size_t>(1, 20 - StatusCodeName(static_cast<int>(i)).size()), ' '),
          r.status_codes[i]);
    }
  }
  if (!r.error_samples.empty()) {
    out += "\nError samples:\n";
    for (const ErrorSample& e : r.error_samples) {
      absl::StrAppendFormat(&out, "  [%s] %d x %s\n", StatusCodeName(e.code), e.count, e.message);
    }
  }

  out += "\nClient:\n";
  const double cpu = r.cpu_user_s + r.cpu_system_s;
  absl::StrAppendFormat(&out, "  CPU:           %.2fs user + %.2fs system in %.2fs (%.2f cores)\n",
                        r.cpu_user_s, r.cpu_system_s, r.run_s, r.run_s > 0 ? cpu / r.run_s : 0);
  absl::StrAppendFormat(&out, "  CPU/request:   %s (%d requests, warmup included)\n",
                        Latency(CpuPerRequestUs(r) * 1e3), r.executed);
  if (IsLibraryScenario(c)) {
    absl::StrAppendFormat(
        &out, "  Per request:   %.2f commands, %.2f blocking round trips (library counters)\n",
        r.commands_per_request, r.round_trips_per_request);
  }
  return out;
}

std::string RenderJson(const Report& r) {
  const Config& c = r.config;
  std::string out = "{\n";
  auto field = [&out](const std::string& name, const std::string& value, bool last = false) {
    absl::StrAppend(&out, "  ", JsonString(name), ": ", value, last ? "\n" : ",\n");
  };
  field("scenario", JsonString(ScenarioLabel(c)));
  field("request", JsonString(r.request));
  field("address", JsonString(c.address));
  field("tls", c.tls ? "true" : "false");
  field("pipelined", c.pipelined ? "true" : "false");
  field("concurrency", absl::StrCat(c.concurrency));
  field("sessions", absl::StrCat(c.sessions));
  field("connections", absl::StrCat(c.connections));
  field("mode", JsonString(c.rps > 0 || c.load_schedule != "const" ? "open" : "closed"));
  field("load_schedule", JsonString(c.load_schedule));
  field("concurrency_schedule", JsonString(c.concurrency_schedule));
  field("rps_target", Num(c.rps));
  field("count", absl::StrCat(r.count));
  field("ok", absl::StrCat(r.ok));
  field("errors", absl::StrCat(r.errors));
  field("error_rate", Num(r.error_rate));
  field("elapsed_s", Num(r.elapsed_s));
  field("throughput_rps", Num(r.throughput));
  std::string lat =
      absl::StrCat("{\"min\": ", Us(static_cast<double>(r.min_ns)), ", \"mean\": ", Us(r.mean_ns));
  for (const auto& [name, ns] : r.percentiles)
    absl::StrAppend(&lat, ", ", JsonString(name), ": ", Us(static_cast<double>(ns)));
  absl::StrAppend(&lat, ", \"max\": ", Us(static_cast<double>(r.max_ns)), "}");
  field("latency_us", lat);
  std::vector<std::string> bins;
  for (const auto& [upper, n] : r.bins)
    bins.push_back(
        absl::StrCat("{\"le_us\": ", Us(static_cast<double>(upper)), ", \"count\": ", n, "}"));
  field("histogram", absl::StrCat("[", absl::StrJoin(bins, ", "), "]"));
  std::vector<std::string> codes;
  for (size_t i = 0; i < r.status_codes.size(); ++i) {
    if (r.status_codes[i] > 0)
      codes.push_back(
          absl::StrCat(JsonString(StatusCodeName(static_cast<int>(i))), ": ", r.status_codes[i]));
  }
  field("status_codes", absl::StrCat("{", absl::StrJoin(codes, ", "), "}"));
  std::vector<std::string> samples;
  for (const ErrorSample& e : r.error_samples) {
    samples.push_back(absl::StrCat("{\"code\": ", JsonString(StatusCodeName(e.code)),
                                   ", \"message\": ", JsonString(e.message),
                                   ", \"count\": ", e.count, "}"));
  }
  field("error_samples", absl::StrCat("[", absl::StrJoin(samples, ", "), "]"));
  field("warmup",
        absl::StrCat("{\"count\": ", r.warmup_count, ", \"errors\": ", r.warmup_errors, "}"));
  field("client",
        absl::StrCat("{\"cpu_user_s\": ", Num(r.cpu_user_s), ", \"cpu_system_s\": ",
                     Num(r.cpu_system_s), ", \"cpu_per_request_us\": ", Num(CpuPerRequestUs(r)),
                     ", \"requests_executed\": ", r.executed, ", \"run_s\": ", Num(r.run_s),
                     ", \"commands_per_request\": ", Num(r.commands_per_request),
                     ", \"round_trips_per_request\": ", Num(r.round_trips_per_request), "}"));
  field("setup_error",
        r.setup_error ? absl::StrCat("{\"code\": ", JsonString(StatusCodeName(r.setup_error->code)),
                                     ", \"message\": ", JsonString(r.setup_error->message), "}")
                      : "null");
  field("interrupted", r.interrupted ? "true" : "false");
  std::vector<std::string> points;
  for (const Report::Point& p : r.timeline) {
    points.push_back(absl::StrCat("{\"t_s\": ", Num(p.t_s), ", \"count\": ", p.count,
                                  ", \"errors\": ", p.errors, ", \"mean_ms\": ", Num(p.mean_ms),
                                  ", \"max_ms\": ", Num(p.max_ms), ", \"target\": ", Num(p.target),
                                  "}"));
  }
  field("interval_s", Num(r.interval_s));
  field("timeline", absl::StrCat("[", absl::StrJoin(points, ",\n    "), "]"), /*last=*/true);
  return out + "}\n";
}

std::string RenderCsv(const Report& r) {
  const Config& c = r.config;
  std::vector<std::string> header = {
      "scenario", "pipelined",  "concurrency", "sessions",       "rps_target", "count",  "ok",
      "errors",   "error_rate", "elapsed_s",   "throughput_rps", "min_us",     "mean_us"};
  std::vector<std::string> row = {ScenarioLabel(c),
                                  c.pipelined ? "true" : "false",
                                  absl::StrCat(c.concurrency),
                                  absl::StrCat(c.sessions),
                                  Num(c.rps),
                                  absl::StrCat(r.count),
                                  absl::StrCat(r.ok),
                                  absl::StrCat(r.errors),
                                  Num(r.error_rate),
                                  Num(r.elapsed_s),
                                  Num(r.throughput),
                                  Us(static_cast<double>(r.min_ns)),
                                  Us(r.mean_ns)};
  for (const auto& [name, ns] : r.percentiles) {
    header.push_back(absl::StrCat(name, "_us"));
    row.push_back(Us(static_cast<double>(ns)));
  }
  header.insert(header.end(), {"max_us", "cpu_s", "cpu_per_request_us", "setup_error"});
  row.insert(row.end(),
             {Us(static_cast<double>(r.max_ns)), Num(r.cpu_user_s + r.cpu_system_s),
              Num(CpuPerRequestUs(r)), r.setup_error ? StatusCodeName(r.setup_error->code) : ""});
  return absl::StrCat(absl::StrJoin(header, ","), "\n", absl::StrJoin(row, ","), "\n");
}

}  // namespace tensord::load
