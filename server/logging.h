// The server's logs: text (spdlog's default pattern) or JSON (one object per line), on stderr or
// in a file that SIGHUP reopens (for logrotate); and the per-call access line.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tensord::server {

struct LogOptions {
  std::string format = "text";  // "text" or "json"
  std::string file;             // empty: stderr
  std::string level = "info";   // trace, debug, info, warn, error, off
};

// Installs the default logger. INVALID_ARGUMENT for an unknown format or level, NOT_FOUND when
// the file cannot be opened.
absl::Status SetUpLogging(const LogOptions& options);

// Reopens the log file (SIGHUP: a rotated file is let go and a new one started at the path);
// nothing when logging to stderr.
absl::Status ReopenLogs();

// One finished call, at debug level: in JSON its own fields (rpc, code, latency_ms, session: a
// prefix of the id, never the whole id), in text one line with the same facts.
void LogCall(absl::string_view rpc, absl::string_view code, double latency_ms,
             absl::string_view session);

}  // namespace tensord::server
