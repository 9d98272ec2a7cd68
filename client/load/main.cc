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
ABSL_FLAG(
    std::string, warmup, "0",
    "Run this long (e.g. 2s) or this many requests (e.g. 100) first, left out of the statistics.");
ABSL_FLAG(absl::Duration, deadline, absl::Seconds(20),
          "Deadline of each request (library scenarios: of each blocking call, "
          "ConnectOptions.deadline_seconds).");
// Report.
ABSL_FLAG(std::string, format, "text", "Report format: text, json or csv (a header and one row).");
ABSL_FLAG(double, max_error_rate, 0,
          "Exit 1 when the fraction of failed requests exceeds this (0..1).");

namespace {

namespace load = tensord::load;

constexpr const char* kFlagOrder[] = {
    "scenario",    "pipelined",     "payload_bytes", "size",    "op",          "ops_per_request",
    "address",     "token",         "tls",           "ca_cert", "concurrency", "sessions",
    "connections", "duration",      "requests",      "rps",     "warmup",      "deadline",
    "format",      "max_error_rate"};

absl::CommandLineFlag* OurFlag(const std::string& name) {
  absl::CommandLineFlag* f = absl::FindCommandLineFlag(name);
  if (f == nullptr || !absl::EndsWith(f->Filename(), "load/main.cc")) return nullptr;
  return f;
}

std::string Spelled(const std::string& name) {
  return name == "max_error_rate" ? "max-error-rate" : name;
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
      "Usage: tensord-load --scenario NAME [--duration 5s | --requests N] [flags]\n\n"
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
    std::string spelled = absl::StrCat("--", Spelled(name));
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
      "  tensord-load --scenario mlp --pipelined=false --requests 500 --format json\n";
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
  c.max_error_rate = absl::GetFlag(FLAGS_max_error_rate);
  c.progress = isatty(STDERR_FILENO) != 0;
  if (const std::string problem = load::Validate(c); !problem.empty()) return Usage(problem);

  auto scenario = load::MakeScenario(c);
  const load::Report report = load::Run(c, *scenario);
  if (c.format == "json") {
    std::cout << load::RenderJson(report);
  } else if (c.format == "csv") {
    std::cout << load::RenderCsv(report);
  } else {
    std::cout << load::RenderText(report);
  }
  std::cout.flush();
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
