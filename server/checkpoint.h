// Tensors to and from safetensors files (checkpoint/safetensors.h) on the server's disk: user
// checkpoints under --checkpoint_dir (Save/Load) and session snapshots under --state_dir
// (server/state.h). Names given by clients are confined to their directory.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "checkpoint/safetensors.h"
#include "engine/tensor.h"

namespace tensord::server {

// An open file descriptor, closed on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept;
  ~Fd();
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

// Opens the directory `path` (which must exist and be a directory).
absl::StatusOr<Fd> OpenDirectory(const std::string& path);

// Resolves a client-given relative name ("run1/step100.safetensors") under the directory
// `root`, never leaving it: INVALID_ARGUMENT for an empty or absolute name, a "." or ".."
// component, an empty component, a NUL byte or an over-long name; every component is opened with
// O_NOFOLLOW, so a symlink anywhere (into or out of the directory) is refused too. Returns the
// parent directory and sets *leaf to the last component. `create_dirs`: missing intermediate
// directories are created (for writing); otherwise they are NOT_FOUND.
absl::StatusOr<Fd> ResolveBeneath(int root, absl::string_view name, bool create_dirs,
                                  std::string* leaf);

// Writes a file in `dir` atomically: `write(fd)` fills a fresh temporary file, which is then
// fsync'ed and renamed over `leaf`, and the directory is fsync'ed. A crash at any point leaves the
// previous file (or none) intact; on failure the temporary file is removed.
absl::Status WriteFileAtomically(int dir, const std::string& leaf,
                                 const std::function<absl::Status(int fd)>& write);

// Writes all of `data` to fd (retrying short writes and EINTR).
absl::Status WriteAll(int fd, const void* data, size_t n);

struct NamedTensor {
  std::string name;
  Tensor value;
};

// A fast 64-bit checksum of a byte stream (four multiply-rotate lanes over 8-byte words; not
// cryptographic): what session snapshots use to detect a corrupted data section.
class Checksum {
 public:
  void Update(const char* p, size_t n);
  uint64_t Finish();

 private:
  void Block(const char* p);
  uint64_t lanes_[4] = {0x9E3779B97F4A7C15ull, 0xC2B2AE3D27D4EB4Full, 0x165667B19E3779F9ull,
                        0x27D4EB2F165667C5ull};
  char pending_[32] = {};
  size_t npending_ = 0;
  uint64_t total_ = 0;
};

// The metadata key whose value WriteSafetensors fills with the data section's checksum (16 hex
// digits) when asked to, and ReadSafetensors checks when present.
inline constexpr char kChecksumKey[] = "tensord.checksum";

// Writes `tensors` as a safetensors file to fd (any layout; bytes in the tensors' order). The
// metadata may carry what the format does not (checkpoint metadata keys below). `checksum`: also
// store the data section's Checksum under kChecksumKey (written into the header at the end).
absl::Status WriteSafetensors(int fd, const std::vector<NamedTensor>& tensors,
                              const std::map<std::string, std::string>& metadata,
                              bool checksum = false);

// Reads a whole safetensors file from fd: the header is checked against the file's size before
// anything is allocated, then every tensor is allocated in the current context (its quota) and
// read. INVALID_ARGUMENT for anything malformed (nothing is kept then), DATA_LOSS when the file
// carries a kChecksumKey that its data section does not match.
struct LoadedFile {
  safetensors::Header header;
  std::vector<Tensor> tensors;  // parallel to header.entries
};
absl::StatusOr<LoadedFile> ReadSafetensors(int fd, int64_t max_tensor_elements, int max_rank);

// The metadata keys tensord adds to a checkpoint (strings, as the format requires): the tensor
// named X requires grad ("tensord.requires_grad.X": "true"), its .grad is the entry G
// ("tensord.grad.X": "G"). Other readers see the gradients as ordinary tensors.
inline constexpr char kRequiresGradKey[] = "tensord.requires_grad.";
inline constexpr char kGradKey[] = "tensord.grad.";
inline constexpr char kRetainsGradKey[] = "tensord.retains_grad.";

// A checkpoint's tensors, as a client sees them: values with requires_grad and an optional .grad.
struct CheckpointTensor {
  std::string name;
  Tensor value;
  bool requires_grad = false;
  bool retains_grad = false;
  Tensor grad;  // undefined: none
};

// The entries and metadata of a checkpoint of `tensors` (each .grad saved as "<name>.grad", or
// with more underscores appended while that name is taken).
void ToFile(const std::vector<CheckpointTensor>& tensors,
            const std::map<std::string, std::string>& user_metadata,
            std::vector<NamedTensor>* entries, std::map<std::string, std::string>* metadata);
// The inverse: entries named as some tensor's grad become that tensor's .grad; requires_grad and
// retains_grad are applied (INVALID_ARGUMENT where PyTorch would refuse them, e.g. an integer
// tensor requiring grad, or a .grad of another shape). Metadata keys other than tensord's are
// returned in *user_metadata.
absl::StatusOr<std::vector<CheckpointTensor>> FromFile(
    LoadedFile file, std::map<std::string, std::string>* user_metadata);

}  // namespace tensord::server
