// tensord-load: a load generator for tensord. Flags live here and only here.
//
// The flags are absl flags, but the command line is scanned here rather than by
// absl::ParseCommandLine, so that every usage error exits 2 (absl exits 1), --help lists exactly
// this tool's flags, and a flag may be spelled with '-' or '_' (--max-error-rate,
// --max_error_rate).
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "client/load/load.h"

// What to run.
ABSL_FLAG(std::string, scenario, "",
          "What one request is: echo, create, op, tutorial, train or mlp (see above).");
ABSL_FLAG(bool, pipelined, true,
          "tutorial/train/mlp: the client library's pipelined stream (true) or one RPC per command "
          "(false). op: "
          "ApplyOp commands on the session's Stream (true) or ApplyOp RPCs (false). echo/create: "
          "ignored.");
ABSL_FLAG(int64_t, payload_bytes, 0, "echo: bytes of the Echo payload.");
ABSL_FLAG(int64_t, size, 1024,
          "create, op, tutorial: float32 elements of the tensor (create: over 1 MiB = 262144 "
          "elements it goes "
          "through Upload).");
ABSL_FLAG(std::string, op, "neg",
          "op: the unary op to apply (any op of the server's table taking one tensor).");
ABSL_FLAG(int, ops_per_request, 1,
          "op: ApplyOp commands per request (pipelined: written back to back, one round trip; "
          "unary: one RPC after "
          "the other).");
// Any RPC (ghz's --call/-d/-D/-m).
ABSL_FLAG(std::string, call, "",
          "Instead of --scenario: call this unary RPC, tensord.v1.Tensord/METHOD (or just METHOD), "
          "with the request of --data. Templates in --data and --metadata: {{.RequestNumber}}, "
          "{{.WorkerID}}, {{.SessionID}} (a fresh session per worker, created before the run and "
          "sent in x-tensord-session), {{.UUID}}, {{.TimestampUnixNano}}.");
ABSL_FLAG(std::string, data, "",
          "--call: the request as JSON (protobuf's JSON mapping: .proto or lowerCamelCase field "
          "names, 64-bit numbers as strings, enums by name, bytes as base64). Also -d.");
ABSL_FLAG(std::string, data_file, "", "--call: read the JSON request from this file. Also -D.");
ABSL_FLAG(std::string, metadata, "",
          "--call: request metadata as a JSON object of strings, e.g. '{\"x-trace\": "
          "\"{{.RequestNumber}}\"}'. Also -m.");
// The server.
ABSL_FLAG(std::string, address, "127.0.0.1:50051", "tensord's address, host:port.");
ABSL_FLAG(std::string, token, "",
          "Bearer token, sent as 'authorization: Bearer <token>' (default: $TENSORD_TOKEN, which "
          "keeps it out of the "
          "process list).");
ABSL_FLAG(bool, tls, false, "Connect with TLS (system roots unless --ca_cert).");
ABSL_FLAG(std::string, ca_cert, "",
          "PEM file of the CA (or self-signed certificate) to trust; implies --tls.");
// Load.
ABSL_FLAG(int, concurrency, 4, "Workers: each runs one request at a time.");
ABSL_FLAG(int, sessions, 0,
          "Sessions (echo: channels), shared round-robin by the workers (worker i uses session i % "
          "sessions); 0: one "
          "per worker.");
ABSL_FLAG(int, connections, 1,
          "echo, create, op: HTTP/2 connections, shared round-robin by the sessions (the client "
          "library of "
          "tutorial/train/mlp puts all its sessions on one).");
ABSL_FLAG(absl::Duration, duration, absl::ZeroDuration(),
          "How long to measure, after the warmup (e.g. 5s, 2m); default 10s unless --requests is "
          "given. With both, "
          "the run stops at whichever comes first.");
ABSL_FLAG(int64_t, requests, 0, "How many requests to measure, after the warmup (0: no limit).");
ABSL_FLAG(double, rps, 0,
          "Open loop: start requests at this total rate, at fixed intervals, and measure each from "
          "its scheduled "
          "start (queueing included: no coordinated omission). 0: closed loop, each worker back to "
          "back.");
ABSL_FLAG(std::string, load_schedule, "const",
          "Open loop with a changing rate (ghz): const (--rps), step (the rate jumps by "
          "--load-step every --load-step-duration) or line (it changes smoothly), from "
          "--load-start to --load-end req/s, then stays there.");
ABSL_FLAG(double, load_start, 0, "--load-schedule: the first rate, req/s.");
ABSL_FLAG(double, load_end, 0, "--load-schedule: the last rate, req/s.");
ABSL_FLAG(double, load_step, 0, "--load-schedule: the change per --load-step-duration, req/s.");
ABSL_FLAG(absl::Duration, load_step_duration, absl::Seconds(1), "--load-schedule: see above.");
ABSL_FLAG(std::string, concurrency_schedule, "const",
          "Closed loop with a changing number of busy workers (ghz): const (--concurrency), step "
          "or line from --concurrency-start to --concurrency-end (at most --concurrency, the "
          "workers started), changing by --concurrency-step every --concurrency-step-duration.");
ABSL_FLAG(int, concurrency_start, 1, "--concurrency-schedule: the first number of workers.");
ABSL_FLAG(int, concurrency_end, 0, "--concurrency-schedule: the last (0: --concurrency).");
ABSL_FLAG(int, concurrency_step, 1, "--concurrency-schedule: the change per step.");
ABSL_FLAG(absl::Duration, concurrency_step_duration, absl::Seconds(1),
          "--concurrency-schedule: see above.");
ABSL_FLAG(
    std::string, warmup, "0",
    "Run this long (e.g. 2s) or this many requests (e.g. 100) first, left out of the statistics.");
ABSL_FLAG(absl::Duration, deadline, absl::Seconds(20),
          "Deadline of each request (library scenarios: of each blocking call, "
          "ConnectOptions.deadline_seconds).");
// Report.
ABSL_FLAG(std::string, format, "text",
          "Report format: text, json, csv (a header and one row) or html (a self-contained page: "
          "the summary, the latency histogram and the run over time as inline SVG).");
ABSL_FLAG(std::string, output, "", "Write the report to this file instead of stdout. Also -o.");
ABSL_FLAG(double, max_error_rate, 0,
          "Exit 1 when the fraction of failed requests exceeds this (0..1).");

namespace {

namespace load = tensord::load;

constexpr const char* kFlagOrder[] = {"scenario",
                                      "pipelined",
                                      "payload_bytes",
                                      "size",
                                      "op",
                                      "ops_per_request",
                                      "call",
                                      "data",
                                      "data_file",
                                      "metadata",
                                      "address",
                                      "token",
                                      "tls",
                                      "ca_cert",
                                      "concurrency",
                                      "sessions",
                                      "connections",
                                      "duration",
                                      "requests",
                                      "rps",
                                      "load_schedule",
                                      "load_start",
                                      "load_end",
                                      "load_step",
                                      "load_step_duration",
                                      "concurrency_schedule",
                                      "concurrency_start",
                                      "concurrency_end",
                                      "concurrency_step",
                                      "concurrency_step_duration",
                                      "warmup",
                                      "deadline",
                                      "format",
                                      "output",
                                      "max_error_rate"};

// ghz's short flags.
constexpr std::pair<const char*, const char*> kShortFlags[] = {
    {"c", "concurrency"}, {"n", "requests"}, {"z", "duration"}, {"d", "data"}, {"D", "data_file"},
    {"m", "metadata"},    {"o", "output"},   {"O", "format"},   {"q", "rps"},  {"t", "deadline"}};

absl::CommandLineFlag* OurFlag(const std::string& name) {
  absl::CommandLineFlag* f = absl::FindCommandLineFlag(name);
  if (f == nullptr || !absl::EndsWith(f->Filename(), "load/main.cc")) return nullptr;
  return f;
}

std::string Spelled(const std::string& name) {
  if (name == "max_error_rate" || name == "data_file" || absl::StartsWith(name, "load_") ||
      absl::StartsWith(name, "concurrency_"))
    return absl::StrReplaceAll(name, {{"_", "-"}});
  return name;
}

// "-c, " for a flag that has a short form.
std::string ShortOf(const std::string& name) {
  for (const auto& [short_name, long_name] : kShortFlags)
    if (name == long_name) return absl::StrCat("-", short_name, ", ");
  return "";
}

// `text` in lines of at most `width` characters, each after `indent` spaces.
std::string Wrap(const std::string& text, size_t indent, size_t width) {
  std::string out, line;
  for (const absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (!line.empty() && indent + line.size() + 1 + word.size() > width) {
      absl::StrAppend(&out, std::string(indent, ' '), line, "\n");
      line.clear();
    }
    absl::StrAppend(&line, line.empty() ? "" : " ", word);
  }
  if (!line.empty()) absl::StrAppend(&out, std::string(indent, ' '), line, "\n");
  return out;
}

std::string Help() {
  std::string out =
      "tensord-load: a load generator for tensord (ghz-style): runs a scenario from --concurrency "
      "workers,\n"
      "closed loop or open loop (--rps), and reports throughput, latency percentiles, a histogram, "
      "status\n"
      "codes, error samples and the client's CPU time.\n\n"
      "Usage: tensord-load --scenario NAME [--duration 5s | --requests N] [flags]\n"
      "       tensord-load --call tensord.v1.Tensord/METHOD -d JSON [-c N] [-n N | -z 5s] "
      "[flags]\n\n"
      "Scenarios (what one request is):\n";
  const std::vector<std::pair<std::string, std::string>> scenarios = {
      {"echo", "one Echo RPC with --payload_bytes (no session, no engine): the RPC floor."},
      {"create", "CreateTensor of float32[--size] (Upload when over 1 MiB), then Release: 2 RPCs."},
      {"op",
       "--ops_per_request x '--op'(x) on float32[--size]: ApplyOp commands on the session's Stream "
       "(--pipelined, one round trip) or ApplyOp RPCs (--pipelined=false). Every 64 results are "
       "released between requests, outside the measured time."},
      {"tutorial",
       "the autograd tutorial with the client library: x = tensor(--size values, requires_grad), "
       "(x.pow(2) * x.exp()).sum().backward(), x.grad() fetched."},
      {"train",
       "one step of examples/linear_regression.cc (100 points): mse_loss, backward, "
       "w/b.data().sub_(grad * lr), grad().zero_(), loss.item()."},
      {"mlp",
       "one SGD step of a 784-256-10 MLP, batch 64: relu, cross_entropy, backward, 4 parameter "
       "updates, loss.item()."},
  };
  for (const auto& [name, what] : scenarios) {
    std::string text = Wrap(what, 16, 100);
    text.replace(0, 16, absl::StrFormat("  %-14s", name));
    out += text;
  }
  out += "\nFlags:\n";
  for (const char* name : kFlagOrder) {
    absl::CommandLineFlag* f = OurFlag(name);
    std::string spelled = absl::StrCat(ShortOf(name), "--", Spelled(name));
    if (!f->IsOfType<bool>())
      absl::StrAppend(&spelled, "=", f->DefaultValue().empty() ? "''" : f->DefaultValue());
    else
      absl::StrAppend(&spelled, " (default ", f->DefaultValue(), ")");
    absl::StrAppend(&out, "  ", spelled, "\n", Wrap(f->Help(), 6, 100));
  }
  out +=
      "  --help\n      This help.\n\n"
      "A live progress line goes to stderr when it is a terminal; the report goes to stdout.\n"
      "Exit codes: 0 ok; 1 the error rate exceeded --max-error-rate, or the sessions could not be "
      "set up\n"
      "(the status code is in the report); 2 usage error.\n\n"
      "Examples:\n"
      "  tensord-load --scenario echo --concurrency 16 --duration 10s\n"
      "  tensord-load --scenario op --concurrency 4 --duration 3s\n"
      "  tensord-load --scenario tutorial --concurrency 8 --rps 2000 --duration 30s --warmup 2s\n"
      "  tensord-load --scenario mlp --pipelined=false --requests 500 --format json\n"
      "  tensord-load --call tensord.v1.Tensord/Echo -d '{\"payload\": \"aGk=\"}' -c 8 -n 1000\n"
      "  tensord-load --call tensord.v1.Tensord/Factory -c 4 -z 5s -d '{\"session_id\": "
      "\"{{.SessionID}}\",\n"
      "      \"id\": \"{{.RequestNumber}}\", \"name\": \"zeros\", \"shape\": [\"16\"]}' -o "
      "report.json "
      "-O json\n";
  return out;
}

int Usage(const std::string& message) {
  std::cerr << "tensord-load: " << message << "\nRun 'tensord-load --help' for the flags.\n";
  return 2;
}

int Main(int argc, char** argv) {
  std::string error;
  std::vector<std::string> seen;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-')
      return Usage(absl::StrCat("unexpected argument '", arg, "'"));
    if (arg == "--") return Usage("unexpected '--'");
    std::string body = arg.substr(arg[1] == '-' ? 2 : 1);
    std::string name = body, value;
    bool has_value = false;
    if (const size_t eq = body.find('='); eq != std::string::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
      has_value = true;
    }
    if (arg[1] != '-') {
      for (const auto& [short_name, long_name] : kShortFlags)
        if (name == short_name) name = long_name;
    }
    absl::StrReplaceAll({{"-", "_"}}, &name);
    if (name == "h" || name == "help" || name == "helpfull" || name == "helpshort") {
      std::cout << Help();
      return 0;
    }
    absl::CommandLineFlag* flag = OurFlag(name);
    bool negated = false;
    if (flag == nullptr && absl::StartsWith(name, "no")) {
      flag = OurFlag(name.substr(2));
      if (flag != nullptr && !flag->IsOfType<bool>()) flag = nullptr;
      if (flag != nullptr) {
        negated = true;
        name = name.substr(2);
      }
    }
    if (flag == nullptr) return Usage(absl::StrCat("unknown flag ", arg));
    if (flag->IsOfType<bool>()) {
      if (negated && has_value) return Usage(absl::StrCat("--no", name, " takes no value"));
      if (!has_value) value = negated ? "false" : "true";
    } else if (!has_value) {
      if (i + 1 >= argc) return Usage(absl::StrCat("flag ", arg, " needs a value"));
      value = argv[++i];
    }
    if (!flag->ParseFrom(value, &error)) {
      const char* hint = flag->IsOfType<absl::Duration>() ? " (a duration: 500ms, 5s, 2m)" : "";
      return Usage(absl::StrCat("bad value '", value, "' for --", Spelled(name), hint));
    }
  }

  load::Config c;
  c.scenario = absl::GetFlag(FLAGS_scenario);
  c.pipelined = absl::GetFlag(FLAGS_pipelined);
  c.payload_bytes = absl::GetFlag(FLAGS_payload_bytes);
  c.size = absl::GetFlag(FLAGS_size);
  c.op = absl::GetFlag(FLAGS_op);
  c.ops_per_request = absl::GetFlag(FLAGS_ops_per_request);
  c.address = absl::GetFlag(FLAGS_address);
  c.token = absl::GetFlag(FLAGS_token);
  if (c.token.empty()) {
    if (const char* env = std::getenv("TENSORD_TOKEN")) c.token = env;
  }
  c.tls = absl::GetFlag(FLAGS_tls);
  if (const std::string ca = absl::GetFlag(FLAGS_ca_cert); !ca.empty()) {
    std::ifstream in(ca, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    if (!in) return Usage(absl::StrCat("cannot read --ca_cert ", ca));
    c.root_certificates = ss.str();
    c.tls = true;
  }
  c.concurrency = absl::GetFlag(FLAGS_concurrency);
  c.sessions = absl::GetFlag(FLAGS_sessions);
  c.connections = absl::GetFlag(FLAGS_connections);
  c.duration = absl::GetFlag(FLAGS_duration);
  c.requests = absl::GetFlag(FLAGS_requests);
  if (c.duration == absl::ZeroDuration() && c.requests == 0) c.duration = absl::Seconds(10);
  c.rps = absl::GetFlag(FLAGS_rps);
  const std::string warmup(absl::StripAsciiWhitespace(absl::GetFlag(FLAGS_warmup)));
  if (int64_t n = 0; absl::SimpleAtoi(warmup, &n)) {
    c.warmup_requests = n;
  } else if (absl::Duration d; absl::ParseDuration(warmup, &d)) {
    c.warmup = d;
  } else {
    return Usage(absl::StrCat("bad value '", warmup,
                              "' for --warmup: a duration (2s) or a request count (100)"));
  }
  c.deadline = absl::GetFlag(FLAGS_deadline);
  c.format = absl::GetFlag(FLAGS_format);
  c.load_schedule = absl::GetFlag(FLAGS_load_schedule);
  c.load_start = absl::GetFlag(FLAGS_load_start);
  c.load_end = absl::GetFlag(FLAGS_load_end);
  c.load_step = absl::GetFlag(FLAGS_load_step);
  c.load_step_duration = absl::GetFlag(FLAGS_load_step_duration);
  c.concurrency_schedule = absl::GetFlag(FLAGS_concurrency_schedule);
  c.concurrency_start = absl::GetFlag(FLAGS_concurrency_start);
  c.concurrency_end = absl::GetFlag(FLAGS_concurrency_end);
  c.concurrency_step = absl::GetFlag(FLAGS_concurrency_step);
  c.concurrency_step_duration = absl::GetFlag(FLAGS_concurrency_step_duration);
  c.call = absl::GetFlag(FLAGS_call);
  c.data = absl::GetFlag(FLAGS_data);
  c.metadata = absl::GetFlag(FLAGS_metadata);
  if (const std::string path = absl::GetFlag(FLAGS_data_file); !path.empty()) {
    if (!c.data.empty()) return Usage("give -d/--data or -D/--data-file, not both");
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    if (!in) return Usage(absl::StrCat("cannot read --data-file ", path));
    c.data = ss.str();
  }
  c.max_error_rate = absl::GetFlag(FLAGS_max_error_rate);
  c.progress = isatty(STDERR_FILENO) != 0;
  if (const std::string problem = load::Validate(c); !problem.empty()) return Usage(problem);

  const std::string output = absl::GetFlag(FLAGS_output);
  std::ofstream file;
  if (!output.empty()) {
    file.open(output, std::ios::binary | std::ios::trunc);
    if (!file) return Usage(absl::StrCat("cannot write --output ", output));
  }
  std::ostream& out = output.empty() ? std::cout : file;

  auto scenario = load::MakeScenario(c);
  const load::Report report = load::Run(c, *scenario);
  if (c.format == "json") {
    out << load::RenderJson(report);
  } else if (c.format == "csv") {
    out << load::RenderCsv(report);
  } else if (c.format == "html") {
    out << load::RenderHtml(report);
  } else {
    out << load::RenderText(report);
  }
  out.flush();
  if (!out) {
    std::cerr << "tensord-load: cannot write the report" << (output.empty() ? "" : " to ") << output
              << "\n";
    return 1;
  }
  const int rc = load::ExitCode(report);
  if (report.setup_error) {
    std::cerr << "tensord-load: setup failed: " << load::StatusCodeName(report.setup_error->code)
              << ": " << report.setup_error->message << "\n";
  } else if (rc != 0) {
    std::cerr << absl::StrFormat(
        "tensord-load: %d of %d requests failed (error rate %.4g > --max-error-rate %g)\n",
        report.errors, report.count, report.error_rate, c.max_error_rate);
  }
  return rc;
}

}  // namespace

int main(int argc, char** argv) { return Main(argc, argv); }
