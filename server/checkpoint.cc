#include "server/checkpoint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "engine/factory.h"
#include "engine/status_macros.h"
#include "proto/wire.h"
#include "server/status.h"

namespace tensord::server {
namespace {

absl::Status Errno(absl::string_view what, int err) {
  const std::string text = absl::StrCat(what, ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(text);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(text);
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(text);
    case ELOOP:
    case ENOTDIR:
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": a symbolic link or a non-directory is in the way"));
    default:
      return absl::InternalError(text);
  }
}

absl::Status ReadAt(int fd, char* out, uint64_t n, uint64_t offset) {
  while (n > 0) {
    const ssize_t got = pread(fd, out, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return Errno("read", errno);
    if (got == 0) return absl::InvalidArgumentError("not a valid safetensors file: truncated");
    out += got;
    n -= static_cast<uint64_t>(got);
    offset += static_cast<uint64_t>(got);
  }
  return absl::OkStatus();
}

}  // namespace

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) close(fd_);
    fd_ = o.release();
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) close(fd_);
}

absl::StatusOr<Fd> OpenDirectory(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno(absl::StrCat("cannot open directory ", path), errno);
  return Fd(fd);
}

absl::StatusOr<Fd> ResolveBeneath(int root, absl::string_view name, bool create_dirs,
                                  std::string* leaf) {
  const auto refuse = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint path '", Clip(name), "' ", why,
                     " (paths are relative to the server's checkpoint directory)"));
  };
  if (name.empty()) return refuse("is empty");
  if (name.size() > 1024) return refuse("is longer than 1024 bytes");
  if (name.front() == '/') return refuse("is absolute");
  if (absl::StrContains(name, '\0')) return refuse("holds a NUL byte");
  std::vector<std::string> parts = absl::StrSplit(name, '/');
  for (const std::string& p : parts) {
    if (p.empty() || p == "." || p == "..") return refuse("has an empty, '.' or '..' component");
  }
  Fd dir(dup(root));
  if (dir.get() < 0) return Errno("dup", errno);
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    int fd = openat(dir.get(), parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create_dirs) {
      if (mkdirat(dir.get(), parts[i].c_str(), 0755) != 0 && errno != EEXIST) {
        return Errno(absl::StrCat("cannot create directory '", Clip(parts[i]), "'"), errno);
      }
      fd = openat(dir.get(), parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
      if (errno == ELOOP || errno == ENOTDIR) return refuse("goes through a symbolic link or file");
      return Errno(absl::StrCat("cannot open directory '", Clip(parts[i]), "'"), errno);
    }
    dir = Fd(fd);
  }
  *leaf = parts.back();
  return dir;
}

absl::Status WriteAll(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return Errno("write", errno);
    p += w;
    n -= static_cast<size_t>(w);
  }
  return absl::OkStatus();
}

absl::Status WriteFileAtomically(int dir, const std::string& leaf,
                                 const std::function<absl::Status(int fd)>& write) {
  std::random_device rd;
  const std::string tmp = absl::StrFormat(".%s.tmp-%08x", leaf.substr(0, 200), rd());
  Fd fd(openat(dir, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (fd.get() < 0) return Errno(absl::StrCat("cannot create '", Clip(tmp), "'"), errno);
  absl::Status s = write(fd.get());
  if (s.ok() && fsync(fd.get()) != 0) s = Errno("fsync", errno);
  if (s.ok()) {
    // The name must not be a symlink or directory: renameat replaces a symlink itself (never
    // its target), and a directory fails with EISDIR.
    if (renameat(dir, tmp.c_str(), dir, leaf.c_str()) != 0) {
      s = Errno(absl::StrCat("cannot rename over '", Clip(leaf), "'"), errno);
    }
  }
  if (!s.ok()) {
    unlinkat(dir, tmp.c_str(), 0);
    return s;
  }
  if (fsync(dir) != 0) return Errno("fsync of the directory", errno);
  return absl::OkStatus();
}

void Checksum::Block(const char* p) {
  for (int i = 0; i < 4; ++i) {
    uint64_t w;
    std::memcpy(&w, p + 8 * i, 8);
    const uint64_t x = lanes_[i] ^ (w * 0x9FB21C651E98DF25ull);
    lanes_[i] = ((x << 31) | (x >> 33)) * 0x87C37B91114253D5ull;
  }
}

void Checksum::Update(const char* p, size_t n) {
  total_ += n;
  if (npending_ > 0) {
    const size_t take = std::min(n, sizeof(pending_) - npending_);
    std::memcpy(pending_ + npending_, p, take);
    npending_ += take;
    p += take;
    n -= take;
    if (npending_ < sizeof(pending_)) return;
    Block(pending_);
    npending_ = 0;
  }
  for (; n >= sizeof(pending_); p += sizeof(pending_), n -= sizeof(pending_)) Block(p);
  std::memcpy(pending_, p, n);
  npending_ = n;
}

uint64_t Checksum::Finish() {
  if (npending_ > 0) {
    std::memset(pending_ + npending_, 0, sizeof(pending_) - npending_);
    Block(pending_);
    npending_ = 0;
  }
  uint64_t h = total_;
  for (uint64_t l : lanes_) {
    h = (h ^ l) * 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
  }
  return h;
}

absl::Status WriteSafetensors(int fd, const std::vector<NamedTensor>& tensors,
                              const std::map<std::string, std::string>& metadata, bool checksum) {
  std::vector<safetensors::Entry> entries;
  entries.reserve(tensors.size());
  for (const NamedTensor& t : tensors) {
    entries.push_back({t.name, t.value.dtype(), t.value.shape()});
  }
  const std::string placeholder(16, '0');
  std::map<std::string, std::string> meta = metadata;
  if (checksum) meta[kChecksumKey] = placeholder;
  TD_ASSIGN_OR_RETURN(std::string header, safetensors::EncodeHeader(entries, meta));
  size_t checksum_at = std::string::npos;
  if (checksum) {
    const std::string key = absl::StrCat("\"", kChecksumKey, "\":\"", placeholder, "\"");
    checksum_at = header.find(key);
    if (checksum_at == std::string::npos) return absl::InternalError("checksum placeholder lost");
    checksum_at += key.size() - 17;
  }
  Checksum sum;
  // Small tensors are gathered into one buffer; large contiguous ones are written in place.
  constexpr size_t kDirectBytes = size_t{1} << 20;
  std::string buffer = std::move(header);
  const auto append = [&](const char* p, size_t n) {
    if (checksum) sum.Update(p, n);
    buffer.append(p, n);
  };
  for (const NamedTensor& t : tensors) {
    const size_t n = static_cast<size_t>(t.value.nbytes());
    if (n == 0) continue;
    if (t.value.is_contiguous() && n >= kDirectBytes) {
      TD_RETURN_IF_ERROR(WriteAll(fd, buffer.data(), buffer.size()));
      buffer.clear();
      if (checksum) sum.Update(t.value.raw_data(), n);
      TD_RETURN_IF_ERROR(WriteAll(fd, t.value.raw_data(), n));
    } else if (t.value.is_contiguous()) {
      append(t.value.raw_data(), n);
    } else {
      wire::pb::TensorData gathered;
      wire::Encode(t.value, &gathered);
      append(gathered.data().data(), gathered.data().size());
    }
    if (buffer.size() >= kDirectBytes) {
      TD_RETURN_IF_ERROR(WriteAll(fd, buffer.data(), buffer.size()));
      buffer.clear();
    }
  }
  TD_RETURN_IF_ERROR(WriteAll(fd, buffer.data(), buffer.size()));
  if (checksum) {
    const std::string hex = absl::StrFormat("%016x", sum.Finish());
    if (pwrite(fd, hex.data(), hex.size(), static_cast<off_t>(checksum_at)) !=
        static_cast<ssize_t>(hex.size())) {
      return Errno("write", errno);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<LoadedFile> ReadSafetensors(int fd, int64_t max_tensor_elements, int max_rank) {
  struct stat st;
  if (fstat(fd, &st) != 0) return Errno("stat", errno);
  if (!S_ISREG(st.st_mode)) return absl::InvalidArgumentError("not a regular file");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  safetensors::Limits limits;
  limits.max_rank = max_rank;
  char first8[8] = {};
  if (size >= 8) TD_RETURN_IF_ERROR(ReadAt(fd, first8, 8, 0));
  TD_ASSIGN_OR_RETURN(uint64_t n,
                      safetensors::ReadHeaderLength(absl::string_view(first8, 8), size, limits));
  std::string json(n, '\0');
  TD_RETURN_IF_ERROR(ReadAt(fd, json.data(), n, 8));
  LoadedFile out;
  TD_ASSIGN_OR_RETURN(out.header, safetensors::ParseHeader(json, size, limits));
  for (const safetensors::Entry& e : out.header.entries) {
    if (NumElements(e.shape) > max_tensor_elements) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor '", Clip(e.name), "' of ", NumElements(e.shape),
          " elements exceeds the server's limit of ", max_tensor_elements, " elements"));
    }
  }
  out.tensors.reserve(out.header.entries.size());
  Checksum sum;
  for (const safetensors::Entry& e : out.header.entries) {
    TD_ASSIGN_OR_RETURN(Tensor t,
                        factory::empty(e.shape, factory::TensorOptions().with_dtype(e.dtype)));
    if (e.nbytes() > 0) {
      TD_RETURN_IF_ERROR(ReadAt(fd, t.raw_data(), e.nbytes(), out.header.data_start + e.begin));
    }
    if (e.nbytes() > 0) sum.Update(t.raw_data(), e.nbytes());
    if (e.dtype == DType::kBool) {
      auto* p = reinterpret_cast<unsigned char*>(t.raw_data());
      for (int64_t i = 0; i < t.numel(); ++i) p[i] = p[i] != 0;
    }
    out.tensors.push_back(std::move(t));
  }
  if (auto it = out.header.metadata.find(kChecksumKey); it != out.header.metadata.end()) {
    if (it->second != absl::StrFormat("%016x", sum.Finish())) {
      return absl::DataLossError("the file's data does not match its checksum (corrupted)");
    }
  }
  return out;
}

void ToFile(const std::vector<CheckpointTensor>& tensors,
            const std::map<std::string, std::string>& user_metadata,
            std::vector<NamedTensor>* entries, std::map<std::string, std::string>* metadata) {
  *metadata = user_metadata;
  (*metadata)["format"] = "pt";  // what the ecosystem's PyTorch loaders look for
  std::set<std::string> taken;
  for (const CheckpointTensor& t : tensors) taken.insert(t.name);
  for (const CheckpointTensor& t : tensors) {
    entries->push_back({t.name, t.value});
    if (t.requires_grad) (*metadata)[kRequiresGradKey + t.name] = "true";
    if (t.retains_grad) (*metadata)[kRetainsGradKey + t.name] = "true";
    if (t.grad.defined()) {
      std::string g = t.name + ".grad";
      while (!taken.insert(g).second) g += "_";
      (*metadata)[kGradKey + t.name] = g;
      entries->push_back({g, t.grad});
    }
  }
}

absl::StatusOr<std::vector<CheckpointTensor>> FromFile(
    LoadedFile file, std::map<std::string, std::string>* user_metadata) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < file.header.entries.size(); ++i) index[file.header.entries[i].name] = i;
  std::set<std::string> requires_grad, retains_grad;
  std::map<std::string, std::string> grads;  // tensor -> grad entry
  std::set<std::string> grad_entries;
  for (const auto& [k, v] : file.header.metadata) {
    if (absl::StartsWith(k, kRequiresGradKey)) {
      requires_grad.insert(k.substr(strlen(kRequiresGradKey)));
    } else if (absl::StartsWith(k, kRetainsGradKey)) {
      retains_grad.insert(k.substr(strlen(kRetainsGradKey)));
    } else if (absl::StartsWith(k, kGradKey)) {
      const std::string owner = k.substr(strlen(kGradKey));
      if (!index.contains(owner) || !index.contains(v) || owner == v ||
          !grad_entries.insert(v).second) {
        return absl::InvalidArgumentError(absl::StrCat("not a valid tensord checkpoint: metadata '",
                                                       Clip(k), "' names no tensor's grad"));
      }
      grads[owner] = v;
    } else if (user_metadata != nullptr && k != "format") {
      (*user_metadata)[k] = v;
    }
  }
  std::vector<CheckpointTensor> out;
  for (size_t i = 0; i < file.header.entries.size(); ++i) {
    const std::string& name = file.header.entries[i].name;
    if (grad_entries.contains(name)) continue;
    CheckpointTensor t;
    t.name = name;
    t.value = file.tensors[i];
    t.requires_grad = requires_grad.contains(name);
    t.retains_grad = retains_grad.contains(name);
    if (t.requires_grad) {
      absl::Status s = t.value.set_requires_grad(true);
      if (!s.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("tensor '", Clip(name), "' of the checkpoint: ", s.message()));
      }
    }
    if (auto g = grads.find(name); g != grads.end()) {
      t.grad = file.tensors[index[g->second]];
      absl::Status s = t.value.set_grad(t.grad);
      if (!s.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("the grad of tensor '", Clip(name), "' in the checkpoint: ", s.message()));
      }
    }
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace tensord::server
