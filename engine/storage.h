// A storage is one buffer of bytes shared by a tensor and all its views.
#pragma once

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "engine/context.h"

namespace tensord {

class Storage {
 public:
  // Allocates `nbytes` (uninitialised, 64-byte aligned) charged to `account`.
  static absl::StatusOr<std::shared_ptr<Storage>> Allocate(int64_t nbytes,
                                                           std::shared_ptr<MemoryAccount> account);
  // A storage of `nbytes` that holds no bytes (data() is null) and is charged to nobody: what
  // tensors of a metadata-only context (ContextOptions::meta) live on.
  static std::shared_ptr<Storage> Meta(int64_t nbytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  bool is_meta() const { return data_ == nullptr; }
  int64_t nbytes() const { return nbytes_; }

  // Only Allocate() constructs (through make_shared, hence public with a private tag).
  struct PrivateTag {
   private:
    friend class Storage;
    PrivateTag() = default;
  };
  Storage(PrivateTag, void* data, int64_t nbytes, std::shared_ptr<MemoryAccount> account)
      : data_(data), nbytes_(nbytes), account_(std::move(account)) {}

 private:
  void* data_;
  int64_t nbytes_;
  std::shared_ptr<MemoryAccount> account_;
};

// Freed buffers of 1 MiB and more are cached for reuse (bounded: 256 MiB by default). These give
// the cached memory back to the system, report it, or change the bound (0 disables caching).
int64_t ReleaseCachedStorage();
int64_t CachedStorageBytes();
void SetStorageCacheLimit(int64_t bytes);

// PyTorch's version counter: shared by a tensor, its views and detach(), but not by .data.
// Every in-place write bumps it; saved tensors remember the value they were saved at.
struct VersionCounter {
  uint32_t value = 0;
};

}  // namespace tensord
