// Sessions that outlive their server (--state_dir): every live session -- id, owner (as a
// SHA-256 of its token), TTL, labels, default dtype, grad mode, random generator state, and every
// handle's value, requires_grad, .grad and retains_grad -- is written to one safetensors file per
// session, atomically (temporary file + fsync + rename + fsync of the directory), on drain and
// every --snapshot_interval; a starting server restores them under the same ids.
//
// What is not kept: autograd graphs (restored tensors are leaves, as after torch.load: no
// grad_fn; a non-leaf that required grad comes back as a leaf that requires grad) and storage
// shared between *different* tensors (a view and its base come back as two tensors). One tensor
// bound to several handles, and a .grad bound to a handle of its own, stay one tensor.
//
// A file that fails its checks (truncated, a header that does not add up, a checksum mismatch)
// is reported, renamed to *.corrupt and skipped; the server starts with the sessions that are
// valid.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/executor.h"
#include "server/options.h"
#include "server/session.h"

namespace tensord::server {

struct SnapshotStats {
  int sessions_written = 0;
  int sessions_unchanged = 0;  // skipped: no command since their last snapshot
  int files_removed = 0;       // of sessions that are gone
  int64_t bytes = 0;           // written
  absl::Duration took;
};

struct RestoreStats {
  int sessions = 0;
  int corrupt = 0;   // files refused (renamed to *.corrupt)
  int orphaned = 0;  // valid files whose owner token is no longer configured (left in place)
  int64_t bytes = 0;
  absl::Duration took;
};

class StateStore {
 public:
  // `dir` must exist. The executor runs each session's snapshot on its strand, so that it sees
  // the session between two commands.
  StateStore(std::string dir, const ServerOptions& options, SessionManager& sessions,
             Executor& executor);

  // Writes every live session that changed since its last snapshot and removes the files of
  // sessions that are gone. Errors of single sessions are logged and counted as not written; the
  // status is the first of them.
  absl::StatusOr<SnapshotStats> Snapshot();
  // Restores every session file of the directory (call before serving).
  RestoreStats Restore();

  // One session to/from a file descriptor (also used by the benchmark and tests).
  static absl::Status WriteSession(Session& session, int fd, int64_t* bytes);
  // `owner`: maps the file's owner hash to a configured token (false: none is configured now).
  static absl::StatusOr<std::shared_ptr<Session>> ReadSession(
      int fd, const ServerOptions& options,
      const std::function<bool(const std::string& hash, std::string* owner)>& owner);

 private:
  std::string FileName(const Session& s) const;
  // The token whose hash is `hash` among the configured ones ("" without authentication).
  bool OwnerForHash(const std::string& hash, std::string* owner) const;

  const std::string dir_;
  const ServerOptions& options_;
  SessionManager& sessions_;
  Executor& executor_;
  absl::Mutex mu_;  // one snapshot at a time
  // What each file holds: which session object (and when it was created), after how many of
  // its commands. A file is rewritten when any of them differs.
  struct Written {
    const Session* session = nullptr;
    absl::Time created;
    uint64_t commands = 0;
    uint64_t binds = 0;
    bool operator==(const Written&) const = default;
  };
  absl::flat_hash_map<std::string, Written> written_ ABSL_GUARDED_BY(mu_);
  // Files whose owner token is not configured: kept (the token may come back), never restored.
  absl::flat_hash_set<std::string> orphaned_ ABSL_GUARDED_BY(mu_);
};

// Hex SHA-256 of a bearer token: what a snapshot stores instead of the token.
std::string TokenHash(const std::string& token);

}  // namespace tensord::server
