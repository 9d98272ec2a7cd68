#include "server/session.h"

#include <algorithm>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/status.h"

namespace tensord::server {

absl::Status UnknownSessionError(absl::string_view id) {
  return absl::NotFoundError(
      absl::StrCat("unknown session '", Clip(id), "' (closed, expired or never created)"));
}

Session::Session(std::string id, std::string owner, const ContextOptions& context_options,
                 absl::Duration ttl, std::map<std::string, std::string> labels)
    : id_(std::move(id)),
      owner_(std::move(owner)),
      context_(context_options),
      ttl_(ttl),
      labels_(std::move(labels)),
      created_(absl::Now()),
      last_used_ns_(absl::ToUnixNanos(created_)) {}

absl::StatusOr<Tensor> Session::Get(uint64_t id) const {
  absl::MutexLock lock(&mu_);
  auto it = handles_.find(id);
  if (it == handles_.end()) {
    return absl::NotFoundError(
        absl::StrCat("unknown tensor handle ", id, " in session ", Clip(id_)));
  }
  return it->second;
}

absl::Status Session::CheckFree(uint64_t id) const {
  if (id == 0) return absl::OkStatus();
  if (id >= kServerIdBit) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor id ", id, " is not a client id (ids must be below 2^62)"));
  }
  absl::MutexLock lock(&mu_);
  if (handles_.contains(id)) {
    return absl::AlreadyExistsError(absl::StrCat("tensor id ", id, " is already in use in session ",
                                                 Clip(id_), "; release it first"));
  }
  return absl::OkStatus();
}

uint64_t Session::Put(uint64_t id, Tensor t) {
  binds.fetch_add(1, std::memory_order_relaxed);
  absl::MutexLock lock(&mu_);
  if (id == 0) id = next_server_id_++;
  handles_[id] = std::move(t);
  return id;
}

bool Session::Release(uint64_t id) {
  Tensor dropped;  // destroyed outside the lock
  absl::MutexLock lock(&mu_);
  auto it = handles_.find(id);
  if (it == handles_.end()) return false;
  dropped = std::move(it->second);
  handles_.erase(it);
  return true;
}

uint64_t Session::FindHandle(const TensorImpl* impl) const {
  absl::MutexLock lock(&mu_);
  for (const auto& [id, t] : handles_)
    if (t.impl() == impl) return id;
  return 0;
}

int64_t Session::num_tensors() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(handles_.size());
}

std::vector<std::pair<uint64_t, Tensor>> Session::Handles() const {
  absl::MutexLock lock(&mu_);
  return std::vector<std::pair<uint64_t, Tensor>>(handles_.begin(), handles_.end());
}

uint64_t Session::next_server_id() const {
  absl::MutexLock lock(&mu_);
  return next_server_id_;
}

void Session::set_next_server_id(uint64_t id) {
  absl::MutexLock lock(&mu_);
  next_server_id_ = std::max(id, kServerIdBit + 1);
}

bool Session::FindReply(uint64_t request_id, std::string* reply) const {
  absl::MutexLock lock(&mu_);
  for (const auto& [id, r] : replies_) {
    if (id == request_id) {
      *reply = r;
      return true;
    }
  }
  return false;
}

void Session::RememberReply(uint64_t request_id, std::string reply) {
  if (reply.size() > kMaxReplyBytes || closed()) return;
  MemoryAccount& memory = context_.memory();
  absl::MutexLock lock(&mu_);
  // Kept replies count against the session's memory quota like its tensors; a reply that does not
  // fit is not kept (that batch is then not protected against a resend).
  while (!replies_.empty() &&
         (replies_.size() >= kMaxReplies || reply_bytes_ + reply.size() > kMaxReplyBytes)) {
    reply_bytes_ -= replies_.front().second.size();
    memory.Credit(static_cast<int64_t>(replies_.front().second.size()));
    replies_.pop_front();
  }
  if (!memory.Charge(static_cast<int64_t>(reply.size())).ok()) return;
  reply_bytes_ += reply.size();
  replies_.emplace_back(request_id, std::move(reply));
}

std::vector<std::pair<uint64_t, std::string>> Session::Replies() const {
  absl::MutexLock lock(&mu_);
  return std::vector<std::pair<uint64_t, std::string>>(replies_.begin(), replies_.end());
}

std::vector<std::pair<uint64_t, Tensor>> Session::Handles(uint64_t after, size_t limit,
                                                          int64_t* total) const {
  std::vector<std::pair<uint64_t, Tensor>> out;
  absl::MutexLock lock(&mu_);
  *total = static_cast<int64_t>(handles_.size());
  std::vector<uint64_t> ids;
  for (const auto& [id, t] : handles_)
    if (id > after) ids.push_back(id);
  const size_t n = std::min(limit, ids.size());
  std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(n), ids.end());
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.emplace_back(ids[i], handles_.at(ids[i]));
  return out;
}

void Session::Touch() {
  last_used_ns_.store(absl::ToUnixNanos(absl::Now()), std::memory_order_relaxed);
}

absl::Time Session::last_used() const {
  return absl::FromUnixNanos(last_used_ns_.load(std::memory_order_relaxed));
}

void Session::Close() {
  closed_.store(true, std::memory_order_release);
  // Graph cycles through .grad (backward with create_graph) are broken by ~Context, when the
  // last command holding the session is done with it.
  absl::flat_hash_map<uint64_t, Tensor> dropped;
  absl::MutexLock lock(&mu_);
  dropped.swap(handles_);
  context_.memory().Credit(static_cast<int64_t>(reply_bytes_));
  replies_.clear();
  reply_bytes_ = 0;
}

std::string NewSessionId(const std::string& replica) {
  std::random_device rd;  // /dev/urandom
  std::string hex;
  for (int i = 0; i < 4; ++i) absl::StrAppend(&hex, absl::StrFormat("%08x", rd()));
  return replica.empty() ? hex : absl::StrCat(replica, ".", hex);
}

absl::StatusOr<std::shared_ptr<Session>> SessionManager::Create(const CreateParams& params,
                                                                const std::string& owner) {
  absl::Duration ttl = params.ttl <= absl::ZeroDuration() ? options_.default_ttl : params.ttl;
  ttl = std::min(ttl, options_.max_ttl);
  ContextOptions copts;
  copts.seed =
      params.seed != 0 ? params.seed : static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
  copts.memory_limit_bytes = options_.max_session_bytes;
  copts.default_dtype = params.default_dtype;
  if (!params.id.empty()) {
    bool ok = params.id.size() >= 16 && params.id.size() <= 128;
    for (char c : params.id)
      ok &= absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
    if (!ok) {
      return absl::InvalidArgumentError(
          "a proposed session_id must be 16-128 characters of [A-Za-z0-9._-] (use >= 128 random "
          "bits)");
    }
  }
  auto session =
      std::make_shared<Session>(params.id.empty() ? NewSessionId(options_.replica) : params.id,
                                owner, copts, ttl, params.labels);
  absl::MutexLock lock(&mu_);
  Key key{owner, session->id()};
  if (auto it = sessions_.find(key); it != sessions_.end()) {
    // Only the owner's own live id collides (another token's ids are another namespace).
    return absl::AlreadyExistsError(
        absl::StrCat("session id '", Clip(session->id()), "' is already in use"));
  }
  if (static_cast<int>(sessions_.size()) >= options_.max_sessions) {
    return absl::ResourceExhaustedError(absl::StrCat("the server already holds its maximum of ",
                                                     options_.max_sessions, " sessions"));
  }
  sessions_.emplace(std::move(key), session);
  return session;
}

absl::StatusOr<std::shared_ptr<Session>> SessionManager::Get(const std::string& id,
                                                             const std::string& owner) const {
  if (id.empty()) return absl::InvalidArgumentError("session_id is required");
  absl::ReaderMutexLock lock(&mu_);  // lookups of different sessions do not serialize
  auto it = sessions_.find(Key{owner, id});
  if (it == sessions_.end() || it->second->closed() || it->second->Expired(absl::Now())) {
    return UnknownSessionError(id);
  }
  return it->second;
}

absl::StatusOr<std::shared_ptr<Session>> SessionManager::Close(const std::string& id,
                                                               const std::string& owner) {
  std::shared_ptr<Session> session;
  {
    absl::MutexLock lock(&mu_);
    auto it = sessions_.find(Key{owner, id});
    if (it == sessions_.end()) return UnknownSessionError(id);
    session = it->second;
    sessions_.erase(it);
  }
  session->Close();
  return session;
}

std::vector<std::shared_ptr<Session>> SessionManager::List(const std::string& owner,
                                                           bool all) const {
  std::vector<std::shared_ptr<Session>> out;
  absl::ReaderMutexLock lock(&mu_);
  for (const auto& [key, s] : sessions_)
    if (all || s->owner() == owner) out.push_back(s);
  return out;
}

std::vector<std::string> SessionManager::Reap(absl::Time now) {
  std::vector<std::shared_ptr<Session>> expired;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      if (it->second->Expired(now)) {
        ++expired_by_owner_[it->second->owner()];
        expired.push_back(it->second);
        sessions_.erase(it++);
      } else {
        ++it;
      }
    }
  }
  std::vector<std::string> ids;
  for (auto& s : expired) {
    s->Close();
    ids.push_back(s->id());
  }
  expired_.fetch_add(static_cast<int64_t>(ids.size()), std::memory_order_relaxed);
  return ids;
}

void SessionManager::CloseAll() {
  absl::flat_hash_map<Key, std::shared_ptr<Session>> all;
  {
    absl::MutexLock lock(&mu_);
    all.swap(sessions_);
  }
  for (auto& [id, s] : all) s->Close();
}

absl::Status SessionManager::Adopt(std::shared_ptr<Session> session) {
  absl::MutexLock lock(&mu_);
  Key key{session->owner(), session->id()};
  if (sessions_.contains(key)) {
    return absl::AlreadyExistsError(
        absl::StrCat("session id '", Clip(session->id()), "' is already in use"));
  }
  sessions_.emplace(std::move(key), std::move(session));
  return absl::OkStatus();
}

int64_t SessionManager::expired_for(const std::string& owner) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = expired_by_owner_.find(owner);
  return it == expired_by_owner_.end() ? 0 : it->second;
}

int64_t SessionManager::size() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(sessions_.size());
}

}  // namespace tensord::server
