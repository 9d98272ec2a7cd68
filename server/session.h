// Sessions: an engine context, a table of tensor handles, a strand, and a time to live.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/context.h"
#include "engine/tensor.h"
#include "server/executor.h"
#include "server/options.h"

namespace tensord::server {

// NOT_FOUND for a session id, the same text whatever the reason (unknown, closed, expired, or
// another owner's), quoting at most a prefix of the id.
absl::Status UnknownSessionError(absl::string_view id);

// Ids the server assigns have this bit set; clients choose ids below it.
inline constexpr uint64_t kServerIdBit = uint64_t{1} << 62;

class Session {
 public:
  Session(std::string id, std::string owner, const ContextOptions& context_options,
          absl::Duration ttl, std::map<std::string, std::string> labels);

  const std::string& id() const { return id_; }
  const std::string& owner() const { return owner_; }
  Context& context() { return context_; }
  const std::shared_ptr<Strand>& strand() const { return strand_; }
  const std::map<std::string, std::string>& labels() const { return labels_; }
  absl::Duration ttl() const { return ttl_; }
  absl::Time created() const { return created_; }

  // Handles. NOT_FOUND for an unknown id.
  absl::StatusOr<Tensor> Get(uint64_t id) const;
  // ALREADY_EXISTS if `id` is taken, INVALID_ARGUMENT if it is not a client id (0 is fine: the
  // server will pick one).
  absl::Status CheckFree(uint64_t id) const;
  // Binds `t` to `id` (0: a fresh server id) and returns the id.
  uint64_t Put(uint64_t id, Tensor t);
  bool Release(uint64_t id);
  // The handle bound to this tensor object, or 0.
  uint64_t FindHandle(const TensorImpl* impl) const;
  int64_t num_tensors() const;
  // Every handle and its tensor (a copy of the table; for snapshots, taken on the strand).
  std::vector<std::pair<uint64_t, Tensor>> Handles() const;
  // The next server-picked handle id, saved and restored with the session (server/state.h).
  uint64_t next_server_id() const;
  void set_next_server_id(uint64_t id);

  // The replay cache: the serialized replies of the session's last few Execute batches, by their
  // client-chosen request ids (ExecuteRequest.request_id), so that a batch resent after a lost
  // reply is answered from its first execution instead of running twice. Bounded: kMaxReplies
  // entries and kMaxReplyBytes together (oldest dropped first; a larger reply is not kept).
  static constexpr size_t kMaxReplies = 8;
  static constexpr size_t kMaxReplyBytes = size_t{16} << 20;
  bool FindReply(uint64_t request_id, std::string* reply) const;
  void RememberReply(uint64_t request_id, std::string reply);
  // Oldest first (snapshots keep them, server/state.h).
  std::vector<std::pair<uint64_t, std::string>> Replies() const;

  // Up to `limit` handles above `after`, in ascending order; `total` gets the number of handles.
  std::vector<std::pair<uint64_t, Tensor>> Handles(uint64_t after, size_t limit,
                                                   int64_t* total) const;

  void Touch();
  absl::Time last_used() const;
  bool Expired(absl::Time now) const { return now - last_used() > ttl_; }
  // Marks the session closed and drops every handle (memory is freed as soon as running
  // commands let go of their tensors).
  void Close();
  bool closed() const { return closed_.load(std::memory_order_acquire); }

  std::atomic<uint64_t> commands{0};
  // Handles bound (by commands, uploads, loads): with `commands`, tells a snapshot whether the
  // session changed since the last one.
  std::atomic<uint64_t> binds{0};
  std::atomic<uint64_t> ops{0};
  // Bytes of results that this session's pipelined streams hold unsent (and what they reserved).
  std::atomic<int64_t> stream_buffered_bytes{0};

 private:
  const std::string id_;
  const std::string owner_;
  Context context_;
  const absl::Duration ttl_;
  const std::map<std::string, std::string> labels_;
  const absl::Time created_;
  std::shared_ptr<Strand> strand_ = std::make_shared<Strand>();
  std::atomic<bool> closed_{false};
  std::atomic<int64_t> last_used_ns_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, Tensor> handles_ ABSL_GUARDED_BY(mu_);
  uint64_t next_server_id_ ABSL_GUARDED_BY(mu_) = kServerIdBit + 1;
  std::deque<std::pair<uint64_t, std::string>> replies_ ABSL_GUARDED_BY(mu_);
  size_t reply_bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

class SessionManager {
 public:
  explicit SessionManager(const ServerOptions& options) : options_(options) {}

  struct CreateParams {
    absl::Duration ttl = absl::ZeroDuration();  // zero: the default
    uint64_t seed = 0;
    DType default_dtype = DType::kFloat32;
    std::map<std::string, std::string> labels;
    std::string id;  // client-proposed id; empty: the server picks one
  };
  absl::StatusOr<std::shared_ptr<Session>> Create(const CreateParams& params,
                                                  const std::string& owner);
  // NOT_FOUND for unknown, closed or expired sessions and for sessions of another owner (so a
  // token cannot probe which sessions exist: the message is the same).
  absl::StatusOr<std::shared_ptr<Session>> Get(const std::string& id,
                                               const std::string& owner) const;
  absl::StatusOr<std::shared_ptr<Session>> Close(const std::string& id, const std::string& owner);
  // The owner's sessions; every session when `all` (an operator's view).
  std::vector<std::shared_ptr<Session>> List(const std::string& owner, bool all = false) const;
  // Closes sessions idle past their TTL; returns their ids.
  std::vector<std::string> Reap(absl::Time now);
  // Closes everything (shutdown).
  void CloseAll();
  // Adds a session restored from a snapshot (server/state.h). ALREADY_EXISTS if its id is live.
  absl::Status Adopt(std::shared_ptr<Session> session);

  int64_t size() const;
  int64_t expired_total() const { return expired_.load(std::memory_order_relaxed); }
  // Sessions of this owner that expired.
  int64_t expired_for(const std::string& owner) const;

 private:
  // Sessions live in their owner's namespace: (owner token, id). A token can neither see nor
  // collide with another token's ids, so proposing an id another token uses behaves exactly
  // like proposing an unknown one.
  using Key = std::pair<std::string, std::string>;
  const ServerOptions& options_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<Key, std::shared_ptr<Session>> sessions_ ABSL_GUARDED_BY(mu_);
  std::atomic<int64_t> expired_{0};
  absl::flat_hash_map<std::string, int64_t> expired_by_owner_ ABSL_GUARDED_BY(mu_);
};

// 128 random bits from the OS, hex-encoded, prefixed with the replica name when there is one
// ("<replica>.<hex>") so that a proxy or operator can tell which replica owns a session.
std::string NewSessionId(const std::string& replica);

}  // namespace tensord::server
