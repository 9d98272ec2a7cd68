#include "server/state.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "engine/context.h"
#include "engine/status_macros.h"
#include "server/checkpoint.h"
#include "server/status.h"
#include "spdlog/spdlog.h"

namespace tensord::server {
namespace {

constexpr char kPrefix[] = "session-";
constexpr char kSuffix[] = ".safetensors";
constexpr char kVersion[] = "tensord.state.version";
constexpr char kId[] = "tensord.session.id";
constexpr char kOwner[] = "tensord.session.owner_sha256";
constexpr char kTtl[] = "tensord.session.ttl_ms";
constexpr char kDefaultDType[] = "tensord.session.default_dtype";
constexpr char kGradEnabled[] = "tensord.session.grad_enabled";
constexpr char kRng[] = "tensord.session.rng";
constexpr char kNextId[] = "tensord.session.next_server_id";
constexpr char kHandles[] = "tensord.session.handles";  // "id:entry,id:entry,..."
constexpr char kLabel[] = "tensord.label.";
constexpr char kWrapped[] = "tensord.wrapped.";
// The replay cache, oldest first: "tensord.reply.<n>" = "<request id>:<base64 of the reply>".
constexpr char kReply[] = "tensord.reply.";

absl::Status Corrupt(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("not a valid session snapshot: ", what));
}

const std::string* Find(const std::map<std::string, std::string>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? nullptr : &it->second;
}

}  // namespace

std::string TokenHash(const std::string& token) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest);
  std::string hex;
  for (unsigned char c : digest) absl::StrAppend(&hex, absl::StrFormat("%02x", c));
  return hex;
}

StateStore::StateStore(std::string dir, const ServerOptions& options, SessionManager& sessions,
                       Executor& executor)
    : dir_(std::move(dir)), options_(options), sessions_(sessions), executor_(executor) {}

std::string StateStore::FileName(const Session& s) const {
  // Session ids are [A-Za-z0-9._-] (16-128 characters) or server-made from the replica name; the
  // owner's hash prefix keeps two tokens' equal ids apart.
  return absl::StrCat(kPrefix, TokenHash(s.owner()).substr(0, 16), "-", s.id(), kSuffix);
}

bool StateStore::OwnerForHash(const std::string& hash, std::string* owner) const {
  if (options_.tokens.empty() && options_.operator_tokens.empty()) {
    *owner = "";
    return hash == TokenHash("");
  }
  for (const auto* list : {&options_.tokens, &options_.operator_tokens}) {
    for (const std::string& t : *list) {
      if (TokenHash(t) == hash) {
        *owner = t;
        return true;
      }
    }
  }
  return false;
}

absl::Status StateStore::WriteSession(Session& session, int fd, int64_t* bytes) {
  Context& ctx = session.context();
  std::map<std::string, std::string> meta;
  meta[kVersion] = "1";
  meta[kId] = session.id();
  meta[kOwner] = TokenHash(session.owner());
  meta[kTtl] = absl::StrCat(absl::ToInt64Milliseconds(session.ttl()));
  meta[kDefaultDType] = std::string(DTypeName(ctx.default_dtype()));
  meta[kGradEnabled] = ctx.grad_enabled() ? "1" : "0";
  std::ostringstream rng;
  rng << ctx.generator();
  meta[kRng] = rng.str();
  meta[kNextId] = absl::StrCat(session.next_server_id());
  for (const auto& [k, v] : session.labels()) meta[kLabel + k] = v;
  {
    int n = 0;
    for (const auto& [rid, reply] : session.Replies()) {
      meta[absl::StrFormat("%s%03d", kReply, n++)] =
          absl::StrCat(rid, ":", absl::Base64Escape(reply));
    }
  }
  // Tensors, each once however many handles (or .grad links) lead to it: entry "t<k>".
  std::vector<NamedTensor> entries;
  absl::flat_hash_map<const TensorImpl*, size_t> index;
  const auto entry = [&](const Tensor& t) {
    auto [it, fresh] = index.emplace(t.impl(), entries.size());
    if (fresh) entries.push_back({absl::StrCat("t", it->second), t});
    return it->second;
  };
  std::vector<std::string> handles;
  auto table = session.Handles();
  std::sort(table.begin(), table.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [id, t] : table) handles.push_back(absl::StrCat(id, ":", entry(t)));
  meta[kHandles] = absl::StrJoin(handles, ",");
  for (size_t i = 0; i < entries.size(); ++i) {  // grads may add entries as we go
    const Tensor t = entries[i].value;
    const std::string& name = entries[i].name;
    if (t.requires_grad()) meta[kRequiresGradKey + name] = "true";
    if (t.retains_grad()) meta[kRetainsGradKey + name] = "true";
    if (t.impl()->wrapped_number) meta[kWrapped + name] = "true";
    if (t.grad().defined()) meta[kGradKey + name] = absl::StrCat("t", entry(t.grad()));
  }
  TD_RETURN_IF_ERROR(WriteSafetensors(fd, entries, meta, /*checksum=*/true));
  struct stat st;
  if (bytes != nullptr && fstat(fd, &st) == 0) *bytes = st.st_size;
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<Session>> StateStore::ReadSession(
    int fd, const ServerOptions& options,
    const std::function<bool(const std::string& hash, std::string* owner)>& owner_of) {
  // The tensors are read into a scratch context first (no quota: the session's own is set when
  // it is built); a failure anywhere leaves nothing behind.
  std::map<std::string, std::string> meta;
  {
    // Read the header alone first: the session's context must exist before its tensors do.
    char first8[8] = {};
    struct stat st;
    if (fstat(fd, &st) != 0) return absl::InternalError("stat failed");
    if (st.st_size < 8 || pread(fd, first8, 8, 0) != 8) return Corrupt("truncated");
    TD_ASSIGN_OR_RETURN(uint64_t n,
                        safetensors::ReadHeaderLength(absl::string_view(first8, 8), st.st_size));
    std::string json(n, '\0');
    if (pread(fd, json.data(), n, 8) != static_cast<ssize_t>(n)) return Corrupt("truncated");
    TD_ASSIGN_OR_RETURN(safetensors::Header h, safetensors::ParseHeader(json, st.st_size));
    meta = std::move(h.metadata);
  }
  const std::string* version = Find(meta, kVersion);
  if (version == nullptr || *version != "1") return Corrupt("unknown state version");
  const std::string *id = Find(meta, kId), *owner_hash = Find(meta, kOwner),
                    *ttl_ms = Find(meta, kTtl), *dtype = Find(meta, kDefaultDType),
                    *grad = Find(meta, kGradEnabled), *rng = Find(meta, kRng),
                    *next_id = Find(meta, kNextId), *handles = Find(meta, kHandles);
  int64_t ttl = 0;
  uint64_t next = 0;
  if (!id || !owner_hash || !ttl_ms || !dtype || !grad || !rng || !next_id || !handles ||
      !absl::SimpleAtoi(*ttl_ms, &ttl) || !absl::SimpleAtoi(*next_id, &next)) {
    return Corrupt("missing session fields");
  }
  std::string owner;
  if (!owner_of(*owner_hash, &owner)) {
    return absl::PermissionDeniedError(
        "the session's owner token is not configured on this server any more");
  }
  TD_ASSIGN_OR_RETURN(DType default_dtype, ParseDType(*dtype));
  std::map<std::string, std::string> labels;
  std::vector<std::pair<uint64_t, std::string>> replies;  // in key order: oldest first
  for (const auto& [k, v] : meta) {
    if (absl::StartsWith(k, kLabel)) labels[k.substr(strlen(kLabel))] = v;
    if (absl::StartsWith(k, kReply)) {
      std::pair<std::string, std::string> kv = absl::StrSplit(v, absl::MaxSplits(':', 1));
      uint64_t rid = 0;
      std::string reply;
      if (!absl::SimpleAtoi(kv.first, &rid) || !absl::Base64Unescape(kv.second, &reply)) {
        return Corrupt("bad replay cache entry");
      }
      replies.emplace_back(rid, std::move(reply));
    }
  }
  ContextOptions copts;
  copts.memory_limit_bytes = options.max_session_bytes;
  copts.default_dtype = default_dtype;
  auto session = std::make_shared<Session>(*id, owner, copts, absl::Milliseconds(ttl), labels);
  Context& ctx = session->context();
  std::istringstream rng_in(*rng);
  rng_in >> ctx.generator();
  if (rng_in.fail()) return Corrupt("bad random generator state");
  ctx.set_grad_enabled(*grad == "1");
  session->set_next_server_id(next);
  for (auto& [rid, reply] : replies) session->RememberReply(rid, std::move(reply));
  ContextGuard guard(ctx);
  absl::StatusOr<LoadedFile> file =
      ReadSafetensors(fd, options.max_tensor_elements, options.max_rank);
  if (!file.ok()) return Corrupt(file.status().message());
  std::map<std::string, Tensor> by_name;
  for (size_t i = 0; i < file->tensors.size(); ++i) {
    by_name[file->header.entries[i].name] = file->tensors[i];
  }
  for (auto& [name, t] : by_name) {
    if (Find(meta, kWrapped + name) != nullptr) t.impl()->wrapped_number = true;
    if (Find(meta, kRequiresGradKey + name) != nullptr) {
      TD_RETURN_IF_ERROR(t.set_requires_grad(true));
    }
    // retains_grad is recorded, but every restored tensor is a leaf, and leaves do not report
    // retains_grad (PyTorch: retain_grad() on a leaf is a no-op).
  }
  for (auto& [name, t] : by_name) {
    const std::string* g = Find(meta, kGradKey + name);
    if (g == nullptr) continue;
    auto it = by_name.find(*g);
    if (it == by_name.end()) return Corrupt("a .grad names no tensor");
    absl::Status s = t.set_grad(it->second);
    if (!s.ok()) return Corrupt(s.message());
  }
  if (!handles->empty()) {
    for (absl::string_view h : absl::StrSplit(*handles, ',')) {
      std::pair<std::string, std::string> kv = absl::StrSplit(h, absl::MaxSplits(':', 1));
      uint64_t hid = 0;
      auto it = by_name.find(absl::StrCat("t", kv.second));
      if (!absl::SimpleAtoi(kv.first, &hid) || hid == 0 || it == by_name.end()) {
        return Corrupt("bad handle table");
      }
      session->Put(hid, it->second);
    }
  }
  return session;
}

absl::StatusOr<SnapshotStats> StateStore::Snapshot() {
  absl::MutexLock lock(&mu_);
  const absl::Time start = absl::Now();
  SnapshotStats stats;
  absl::Status first_error;
  absl::StatusOr<Fd> dir = OpenDirectory(dir_);
  if (!dir.ok()) return dir.status();
  absl::flat_hash_set<std::string> live;
  for (const std::shared_ptr<Session>& s : sessions_.List("", /*all=*/true)) {
    if (s->closed()) continue;
    const std::string name = FileName(*s);
    live.insert(name);
    const Written now{s.get(), s->created(), s->commands.load(std::memory_order_relaxed),
                      s->binds.load(std::memory_order_relaxed)};
    if (auto it = written_.find(name); it != written_.end() && it->second == now) {
      ++stats.sessions_unchanged;
      continue;
    }
    // On the session's strand: between two of its commands.
    absl::Notification done;
    absl::Status status;
    int64_t bytes = 0;
    executor_.Submit(s->strand(), [&] {
      ContextGuard guard(s->context());
      status = WriteFileAtomically(dir->get(), name,
                                   [&](int fd) { return WriteSession(*s, fd, &bytes); });
      done.Notify();
    });
    done.WaitForNotification();
    if (status.ok()) {
      ++stats.sessions_written;
      stats.bytes += bytes;
      written_[name] = now;
    } else {
      spdlog::error("snapshot of session {} failed: {}", LogId(s->id()), status.ToString());
      if (first_error.ok()) first_error = status;
    }
  }
  // Files of sessions that are gone (closed, expired).
  if (DIR* d = fdopendir(dup(dir->get()))) {
    std::vector<std::string> stale;
    while (dirent* e = readdir(d)) {
      const std::string n = e->d_name;
      if (absl::StartsWith(n, kPrefix) && absl::EndsWith(n, kSuffix) && !live.contains(n) &&
          !orphaned_.contains(n)) {
        stale.push_back(n);
      }
    }
    closedir(d);
    for (const std::string& n : stale) {
      if (unlinkat(dir->get(), n.c_str(), 0) == 0) ++stats.files_removed;
      written_.erase(n);
    }
    if (!stale.empty()) fsync(dir->get());
  }
  stats.took = absl::Now() - start;
  if (!first_error.ok()) return first_error;
  return stats;
}

RestoreStats StateStore::Restore() {
  absl::MutexLock lock(&mu_);
  const absl::Time start = absl::Now();
  RestoreStats stats;
  absl::StatusOr<Fd> dir = OpenDirectory(dir_);
  if (!dir.ok()) {
    spdlog::error("cannot restore sessions: {}", dir.status().ToString());
    return stats;
  }
  std::vector<std::string> names;
  if (DIR* d = fdopendir(dup(dir->get()))) {
    while (dirent* e = readdir(d)) {
      const std::string n = e->d_name;
      if (absl::StartsWith(n, kPrefix) && absl::EndsWith(n, kSuffix)) names.push_back(n);
    }
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  const auto owner_of = [this](const std::string& hash, std::string* owner) {
    return OwnerForHash(hash, owner);
  };
  for (const std::string& n : names) {
    Fd fd(openat(dir->get(), n.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    absl::StatusOr<std::shared_ptr<Session>> s =
        fd.get() < 0 ? absl::Status(absl::DataLossError("cannot open"))
                     : ReadSession(fd.get(), options_, owner_of);
    if (s.ok()) {
      absl::Status adopted = sessions_.Adopt(*s);
      if (adopted.ok()) {
        ++stats.sessions;
        struct stat st;
        if (fstat(fd.get(), &st) == 0) stats.bytes += st.st_size;
        written_[n] = Written{s->get(), (*s)->created(), (*s)->commands.load(), (*s)->binds.load()};
        continue;
      }
      s = adopted;
    }
    if (absl::IsPermissionDenied(s.status())) {
      ++stats.orphaned;
      orphaned_.insert(n);
      spdlog::warn("state file {} not restored: {}", n, std::string(s.status().message()));
      continue;
    }
    ++stats.corrupt;
    spdlog::error("state file {} is corrupt and was skipped (renamed to {}.corrupt): {}", n, n,
                  std::string(s.status().message()));
    renameat(dir->get(), n.c_str(), dir->get(), (n + ".corrupt").c_str());
  }
  stats.took = absl::Now() - start;
  return stats;
}

}  // namespace tensord::server
