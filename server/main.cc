// tensord: the server binary. Flags live here and only here.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <iostream>
#include <thread>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "server/logging.h"
#include "server/server.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "Address to listen on (host:port; port 0 picks one).");
ABSL_FLAG(int, workers, 0, "Engine worker threads (0 = one per CPU core).");
ABSL_FLAG(int, max_sessions, 1024, "Maximum number of live sessions.");
ABSL_FLAG(absl::Duration, default_ttl, absl::Minutes(10),
          "Idle time after which a session is reclaimed, unless it asks for another.");
ABSL_FLAG(absl::Duration, max_ttl, absl::Hours(24), "Largest idle TTL a session may ask for.");
ABSL_FLAG(int64_t, readiness_max_bytes, 0,
          "Readiness (grpc.health.v1 service 'tensord.v1.Tensord') turns NOT_SERVING while the "
          "sessions together hold at least this many bytes; 0: never for memory (it also turns "
          "NOT_SERVING at --max_sessions and while draining; the service '' answers liveness).");
ABSL_FLAG(int64_t, max_session_bytes, int64_t{1} << 30,
          "Memory quota per session: tensors and saved graph buffers, in bytes.");
ABSL_FLAG(int64_t, max_tensor_elements, int64_t{1} << 31,
          "Largest tensor (in elements) a request may create.");
ABSL_FLAG(int, max_rank, 8, "Largest tensor rank a request may create.");
ABSL_FLAG(int, max_message_bytes, 16 << 20,
          "Largest gRPC message; larger tensors travel with Upload/Download.");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain; with --tls_key, serve TLS.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key for --tls_cert.");
ABSL_FLAG(std::string, token_file, "",
          "File of bearer tokens, one per line; when set, every call needs 'authorization: Bearer "
          "<token>'. SIGHUP re-reads it (and --operator_token_file).");
ABSL_FLAG(std::string, replica, "",
          "This replica's name: prefixes session ids and is reported by ServerInfo.");
ABSL_FLAG(bool, require_session_header, true,
          "Session calls must carry their session id in the x-tensord-session metadata key "
          "(INVALID_ARGUMENT otherwise); false accepts them without it (one replica, no proxy).");
ABSL_FLAG(absl::Duration, drain_timeout, absl::Seconds(10),
          "On SIGTERM/SIGINT, how long in-flight calls may take to finish.");
ABSL_FLAG(std::string, log_level, "info",
          "Log level: trace, debug, info, warn, error, off (debug adds one line per call: rpc, "
          "code, latency, session prefix).");
ABSL_FLAG(std::string, log_format, "text",
          "Log format: text, or json (one object per line: time, level, msg; per-call lines add "
          "rpc, code, latency_ms and session, a prefix of the id).");
ABSL_FLAG(std::string, log_file, "",
          "Write the log to this file (appending) instead of stderr; SIGHUP reopens it (for "
          "logrotate).");
ABSL_FLAG(std::string, metrics_listen, "",
          "Serve Prometheus metrics over HTTP at http://ADDRESS/metrics (host:port, e.g. "
          "0.0.0.0:9090); empty: off.");
ABSL_FLAG(std::string, operator_token_file, "",
          "File of operator bearer tokens, one per line: valid tokens whose ServerInfo and "
          "ListSessions see every session (other tokens see only their own).");
ABSL_FLAG(double, max_command_seconds, 60,
          "Longest one command may run (an op, a backward, one command of a batch or stream); "
          "past it the command stops with DEADLINE_EXCEEDED and the session is as before it.");
ABSL_FLAG(int, max_batch_commands, 1 << 17, "Most commands one Execute batch may hold.");
ABSL_FLAG(int64_t, max_stream_buffer_bytes, int64_t{32} << 20,
          "Unsent results a pipelined stream may hold (its client is not reading) before the "
          "server stops running its commands.");
ABSL_FLAG(int64_t, max_session_stream_buffer_bytes, int64_t{64} << 20,
          "The same bound for all pipelined streams of one session together.");
ABSL_FLAG(std::string, checkpoint_dir, "",
          "Directory of server-side checkpoints (Save/Load RPCs; safetensors files). Paths are "
          "confined to it. Empty: server-side checkpoints are off.");
ABSL_FLAG(std::string, state_dir, "",
          "Directory where live sessions are saved on SIGTERM/drain (and every "
          "--snapshot_interval) and restored from on start, under the same ids. Empty: sessions "
          "die with the process.");
ABSL_FLAG(absl::Duration, snapshot_interval, absl::ZeroDuration(),
          "With --state_dir: also save changed sessions this often, so that a crash (kill -9) "
          "loses at most this interval. 0: only on drain.");

namespace {

int g_signal_pipe[2] = {-1, -1};

void OnSignal(int sig) {
  // Only async-signal-safe calls here.
  const ssize_t n = write(g_signal_pipe[1], &sig, sizeof(sig));
  (void)n;
}

absl::StatusOr<std::vector<std::string>> ReadTokens(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read token file ", path));
  std::vector<std::string> tokens;
  std::string line;
  while (std::getline(in, line)) {
    std::string t(absl::StripAsciiWhitespace(line));
    if (!t.empty() && t[0] != '#') tokens.push_back(t);
  }
  if (tokens.empty())
    return absl::InvalidArgumentError(absl::StrCat("token file ", path, " has no tokens"));
  return tokens;
}

// --help: the usage line and this binary's flags (absl's own --help exits 1).
void PrintHelp() {
  std::cout << "tensord: " << absl::ProgramUsageMessage() << "\n\nFlags:\n";
  std::vector<absl::CommandLineFlag*> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (absl::EndsWith(flag->Filename(), "server/main.cc")) flags.push_back(flag);
  }
  std::sort(flags.begin(), flags.end(), [](auto* a, auto* b) { return a->Name() < b->Name(); });
  for (const absl::CommandLineFlag* f : flags) {
    std::cout << "  --" << f->Name() << " (default: " << f->DefaultValue() << ")\n      "
              << f->Help() << "\n";
  }
}

// SIGHUP: reopen the log file, re-read the token files. A file that cannot be read (or has no
// tokens) keeps the tokens in force, and says so in the log; the server goes on either way.
void Reload(tensord::server::TensordServer& server) {
  if (absl::Status st = tensord::server::ReopenLogs(); !st.ok()) {
    spdlog::error("SIGHUP: {}", st.ToString());
  }
  const std::string token_file = absl::GetFlag(FLAGS_token_file);
  const std::string operator_file = absl::GetFlag(FLAGS_operator_token_file);
  if (token_file.empty() && operator_file.empty()) {
    spdlog::info("SIGHUP: log reopened (no token file to reload)");
    return;
  }
  std::vector<std::string> tokens, operator_tokens;
  for (const auto& [path, out] :
       {std::pair{token_file, &tokens}, {operator_file, &operator_tokens}}) {
    if (path.empty()) continue;
    auto read = ReadTokens(path);
    if (!read.ok()) {
      spdlog::error("SIGHUP: {}; the tokens in force are kept",
                    std::string(read.status().message()));
      return;
    }
    *out = *std::move(read);
  }
  const size_t n = tokens.size(), ops = operator_tokens.size();
  server.SetTokens(std::move(tokens), std::move(operator_tokens));
  spdlog::info("SIGHUP: log reopened; tokens reloaded ({} tokens, {} operator tokens)", n, ops);
}

}  // namespace

int main(int argc, char** argv) {
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view path) {
    return absl::EndsWith(path, "server/main.cc");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
  absl::SetProgramUsageMessage(
      "a gRPC tensor service with PyTorch's autograd semantics.\n"
      "Usage: tensord [--listen=127.0.0.1:50051] [flags]");
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h" || arg == "-help" || arg == "--helpfull") {
      PrintHelp();
      return 0;
    }
    if (arg == "--version" || arg == "-version") {
      std::cout << "tensord " << TENSORD_VERSION << " ("
                << (*TENSORD_BUILD_TYPE ? TENSORD_BUILD_TYPE : "unspecified") << " build; gRPC "
                << grpc::Version() << ")\n";
      return 0;
    }
  }
  absl::ParseCommandLine(argc, argv);
  tensord::server::LogOptions log;
  log.format = absl::GetFlag(FLAGS_log_format);
  log.file = absl::GetFlag(FLAGS_log_file);
  log.level = absl::GetFlag(FLAGS_log_level);
  if (absl::Status st = tensord::server::SetUpLogging(log); !st.ok()) {
    std::cerr << "tensord: " << st.message() << "\n";
    return 2;
  }

  tensord::server::ServerOptions o;
  o.listen = absl::GetFlag(FLAGS_listen);
  o.workers = absl::GetFlag(FLAGS_workers) > 0
                  ? absl::GetFlag(FLAGS_workers)
                  : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  o.max_sessions = absl::GetFlag(FLAGS_max_sessions);
  o.default_ttl = absl::GetFlag(FLAGS_default_ttl);
  o.max_ttl = absl::GetFlag(FLAGS_max_ttl);
  o.max_session_bytes = absl::GetFlag(FLAGS_max_session_bytes);
  o.readiness_max_bytes = absl::GetFlag(FLAGS_readiness_max_bytes);
  o.max_tensor_elements = absl::GetFlag(FLAGS_max_tensor_elements);
  o.max_rank = absl::GetFlag(FLAGS_max_rank);
  o.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  o.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
  o.tls_key_file = absl::GetFlag(FLAGS_tls_key);
  o.replica = absl::GetFlag(FLAGS_replica);
  o.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  o.drain_timeout = absl::GetFlag(FLAGS_drain_timeout);
  o.require_session_header = absl::GetFlag(FLAGS_require_session_header);
  if (!absl::GetFlag(FLAGS_token_file).empty()) {
    auto tokens = ReadTokens(absl::GetFlag(FLAGS_token_file));
    if (!tokens.ok()) {
      spdlog::error("{}", tokens.status().ToString());
      return 2;
    }
    o.tokens = *std::move(tokens);
  }
  if (!absl::GetFlag(FLAGS_operator_token_file).empty()) {
    auto tokens = ReadTokens(absl::GetFlag(FLAGS_operator_token_file));
    if (!tokens.ok()) {
      spdlog::error("{}", tokens.status().ToString());
      return 2;
    }
    o.operator_tokens = *std::move(tokens);
  }
  if (!(absl::GetFlag(FLAGS_max_command_seconds) > 0)) {
    spdlog::error("--max_command_seconds must be positive");
    return 2;
  }
  o.max_command_time = absl::Seconds(absl::GetFlag(FLAGS_max_command_seconds));
  o.max_batch_commands = absl::GetFlag(FLAGS_max_batch_commands);
  o.max_stream_buffer_bytes = absl::GetFlag(FLAGS_max_stream_buffer_bytes);
  o.max_session_stream_buffer_bytes = absl::GetFlag(FLAGS_max_session_stream_buffer_bytes);
  if (o.max_batch_commands < 1 || o.max_stream_buffer_bytes < 1 ||
      o.max_session_stream_buffer_bytes < 1) {
    spdlog::error("--max_batch_commands and the stream buffer limits must be positive");
    return 2;
  }

  o.checkpoint_dir = absl::GetFlag(FLAGS_checkpoint_dir);
  o.state_dir = absl::GetFlag(FLAGS_state_dir);
  o.snapshot_interval = absl::GetFlag(FLAGS_snapshot_interval);
  for (const std::string* dir : {&o.checkpoint_dir, &o.state_dir}) {
    if (dir->empty()) continue;
    if (mkdir(dir->c_str(), 0750) != 0 && errno != EEXIST) {
      spdlog::error("cannot create directory {}: {}", *dir, std::strerror(errno));
      return 2;
    }
    struct stat st;
    if (stat(dir->c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      spdlog::error("{} is not a directory", *dir);
      return 2;
    }
  }
  if (o.snapshot_interval < absl::ZeroDuration() ||
      (o.snapshot_interval > absl::ZeroDuration() && o.state_dir.empty())) {
    spdlog::error("--snapshot_interval needs --state_dir and must not be negative");
    return 2;
  }

  // SIGTERM/SIGINT/SIGHUP only write the signal number to a pipe; a thread reads it and drains
  // (SIGTERM, SIGINT) or reloads (SIGHUP).
  if (pipe(g_signal_pipe) != 0) {
    spdlog::error("cannot create the signal pipe");
    return 1;
  }
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);

  auto server = tensord::server::TensordServer::Start(o);
  if (!server.ok()) {
    spdlog::error("{}", server.status().ToString());
    return 1;
  }
  spdlog::info(
      "tensord {} listening on {} (port {}): workers={} max_sessions={} default_ttl={} max_ttl={} "
      "max_session_bytes={} max_tensor_elements={} max_rank={} max_message_bytes={} tls={} auth={} "
      "replica='{}'",
      TENSORD_VERSION, o.listen, (*server)->port(), o.workers, o.max_sessions,
      absl::FormatDuration(o.default_ttl), absl::FormatDuration(o.max_ttl), o.max_session_bytes,
      o.max_tensor_elements, o.max_rank, o.max_message_bytes,
      o.tls_cert_file.empty() ? "off" : "on",
      o.tokens.empty() && o.operator_tokens.empty() ? "off" : "bearer", o.replica);
  if ((*server)->metrics_port() != 0) {
    spdlog::info("metrics on http://{}:{}/metrics",
                 o.metrics_listen.substr(0, o.metrics_listen.rfind(':')),
                 (*server)->metrics_port());
  }
  if (!o.require_session_header)
    spdlog::info("session calls without the x-tensord-session header are accepted");

  std::thread waiter([&] {
    int sig = 0;
    while (true) {
      if (read(g_signal_pipe[0], &sig, sizeof(sig)) < 0) {
        if (errno == EINTR) continue;
        sig = SIGTERM;  // the pipe broke: stop as on SIGTERM
      }
      if (sig != SIGHUP) break;
      Reload(**server);
    }
    spdlog::info("received {}: draining (up to {})", sig == SIGINT ? "SIGINT" : "SIGTERM",
                 absl::FormatDuration(o.drain_timeout));
    (*server)->Shutdown(o.drain_timeout);
  });
  (*server)->Wait();
  waiter.join();
  spdlog::info("tensord stopped");
  return 0;
}
