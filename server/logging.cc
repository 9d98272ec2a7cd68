#include "server/logging.h"

#include <memory>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/status.h"
#include "spdlog/details/file_helper.h"
#include "spdlog/formatter.h"
#include "spdlog/sinks/base_sink.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace tensord::server {
namespace {

// The fields of the access line being logged on this thread (the formatter runs synchronously
// on the logging thread).
struct CallFields {
  absl::string_view rpc, code, session;
  double latency_ms = 0;
};
thread_local const CallFields* t_call = nullptr;

void AppendJsonString(absl::string_view s, spdlog::memory_buf_t& out) {
  out.push_back('"');
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20) {
      const std::string esc = absl::StrCat("\\u00", absl::Hex(u, absl::kZeroPad2));
      out.append(esc.data(), esc.data() + esc.size());
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

void Append(absl::string_view s, spdlog::memory_buf_t& out) {
  out.append(s.data(), s.data() + s.size());
}

// {"time": RFC 3339 UTC with microseconds, "level", "msg"[, "rpc", "code", "latency_ms",
// "session"]}
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    Append("{\"time\":\"", dest);
    Append(
        absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::FromChrono(msg.time), absl::UTCTimeZone()),
        dest);
    Append("\",\"level\":", dest);
    const auto level = spdlog::level::to_string_view(msg.level);
    AppendJsonString(absl::string_view(level.data(), level.size()), dest);
    Append(",\"msg\":", dest);
    AppendJsonString(absl::string_view(msg.payload.data(), msg.payload.size()), dest);
    if (t_call != nullptr) {
      Append(",\"rpc\":", dest);
      AppendJsonString(t_call->rpc, dest);
      Append(",\"code\":", dest);
      AppendJsonString(t_call->code, dest);
      Append(absl::StrCat(",\"latency_ms\":", t_call->latency_ms), dest);
      if (!t_call->session.empty()) {
        Append(",\"session\":", dest);
        AppendJsonString(t_call->session, dest);
      }
    }
    Append("}\n", dest);
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

// A file sink that can be reopened at its path (after logrotate renamed the file).
class ReopenableFileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit ReopenableFileSink(const std::string& path) { file_.open(path, /*truncate=*/false); }
  void Reopen() {
    std::lock_guard<std::mutex> lock(mutex_);
    file_.reopen(/*truncate=*/false);
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    file_.write(formatted);
    file_.flush();  // one line at a time: the logs are quiet at info, and tail -f works
  }
  void flush_() override { file_.flush(); }

 private:
  spdlog::details::file_helper file_;
};

std::shared_ptr<ReopenableFileSink>& FileSink() {
  static auto* sink = new std::shared_ptr<ReopenableFileSink>();
  return *sink;
}

}  // namespace

absl::Status SetUpLogging(const LogOptions& options) {
  if (options.format != "text" && options.format != "json") {
    return absl::InvalidArgumentError(
        absl::StrCat("--log_format must be text or json, not '", options.format, "'"));
  }
  const spdlog::level::level_enum level = spdlog::level::from_str(options.level);
  if (level == spdlog::level::off && options.level != "off") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--log_level must be trace, debug, info, warn, error or off, not '", options.level, "'"));
  }
  spdlog::sink_ptr sink;
  if (!options.file.empty()) {
    try {
      FileSink() = std::make_shared<ReopenableFileSink>(options.file);
    } catch (const spdlog::spdlog_ex& e) {
      return absl::NotFoundError(absl::StrCat("cannot open --log_file: ", e.what()));
    }
    sink = FileSink();
  } else if (options.format == "json") {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  }
  if (sink != nullptr) {
    auto logger = std::make_shared<spdlog::logger>("tensord", sink);
    spdlog::set_default_logger(std::move(logger));  // before any other thread logs
  }
  if (options.format == "json") spdlog::set_formatter(std::make_unique<JsonFormatter>());
  spdlog::set_level(level);
  if (!options.file.empty()) spdlog::flush_on(spdlog::level::trace);
  return absl::OkStatus();
}

absl::Status ReopenLogs() {
  if (FileSink() == nullptr) return absl::OkStatus();
  try {
    FileSink()->Reopen();
  } catch (const spdlog::spdlog_ex& e) {
    return absl::NotFoundError(absl::StrCat("cannot reopen the log file: ", e.what()));
  }
  return absl::OkStatus();
}

void LogCall(absl::string_view rpc, absl::string_view code, double latency_ms,
             absl::string_view session) {
  if (!spdlog::should_log(spdlog::level::debug)) return;
  const std::string prefix = session.empty() ? std::string() : LogId(session);
  const CallFields fields{rpc, code, prefix, latency_ms};
  t_call = &fields;
  spdlog::debug("{} {} {:.3f} ms{}{}", fmt::string_view(rpc.data(), rpc.size()),
                fmt::string_view(code.data(), code.size()), latency_ms,
                prefix.empty() ? "" : " session ", prefix);
  t_call = nullptr;
}

}  // namespace tensord::server
