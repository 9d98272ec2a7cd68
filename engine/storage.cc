#include "engine/storage.h"

#include <map>
#include <new>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace tensord {

namespace {

// Tiny tensors are created and dropped at a high rate (a loop of scalar ops does little else),
// so small buffers are recycled through per-thread free lists instead of malloc/free.
constexpr size_t kBlock = 64;
constexpr size_t kSmallClasses = 8;  // 64 .. 512 bytes
constexpr size_t kCachePerClass = 64;

struct SmallBlockCache {
  std::vector<void*> free[kSmallClasses];
  ~SmallBlockCache() {
    for (auto& list : free)
      for (void* p : list) ::operator delete(p, std::align_val_t(kBlock));
  }
};

SmallBlockCache& Cache() {
  thread_local SmallBlockCache cache;
  return cache;
}

size_t RoundedSize(int64_t nbytes) {
  return nbytes == 0 ? kBlock : (static_cast<size_t>(nbytes) + kBlock - 1) / kBlock * kBlock;
}

// Large buffers: freed blocks are kept (up to a bound) and handed out again for the same size,
// so that a loop over big tensors does not pay the kernel's page faults on every fresh buffer.
// ReleaseCachedStorage() gives them back (the server calls it when sessions close).
constexpr size_t kLargeMin = size_t{1} << 20;

struct LargeBlockCache {
  absl::Mutex mu;
  std::multimap<size_t, void*> blocks ABSL_GUARDED_BY(mu);
  size_t bytes ABSL_GUARDED_BY(mu) = 0;
  size_t limit ABSL_GUARDED_BY(mu) = size_t{256} << 20;
};

LargeBlockCache& Large() {
  static LargeBlockCache* cache = new LargeBlockCache();
  return *cache;
}

void* AllocateBytes(size_t size) {
  if (size >= kLargeMin) {
    LargeBlockCache& c = Large();
    absl::MutexLock lock(&c.mu);
    auto it = c.blocks.find(size);
    if (it != c.blocks.end()) {
      void* p = it->second;
      c.blocks.erase(it);
      c.bytes -= size;
      return p;
    }
  }
  const size_t cls = size / kBlock - 1;
  if (cls < kSmallClasses) {
    auto& list = Cache().free[cls];
    if (!list.empty()) {
      void* p = list.back();
      list.pop_back();
      return p;
    }
  }
  return ::operator new(size, std::align_val_t(kBlock), std::nothrow);
}

void FreeBytes(void* p, size_t size) {
  if (size >= kLargeMin) {
    LargeBlockCache& c = Large();
    absl::MutexLock lock(&c.mu);
    if (c.bytes + size <= c.limit) {
      c.blocks.emplace(size, p);
      c.bytes += size;
      return;
    }
  }
  const size_t cls = size / kBlock - 1;
  if (cls < kSmallClasses) {
    auto& list = Cache().free[cls];
    if (list.size() < kCachePerClass) {
      list.push_back(p);
      return;
    }
  }
  ::operator delete(p, std::align_val_t(kBlock));
}

}  // namespace

int64_t ReleaseCachedStorage() {
  LargeBlockCache& c = Large();
  std::multimap<size_t, void*> blocks;
  size_t bytes;
  {
    absl::MutexLock lock(&c.mu);
    blocks.swap(c.blocks);
    bytes = c.bytes;
    c.bytes = 0;
  }
  for (auto& [size, p] : blocks) ::operator delete(p, std::align_val_t(kBlock));
  return static_cast<int64_t>(bytes);
}

int64_t CachedStorageBytes() {
  LargeBlockCache& c = Large();
  absl::MutexLock lock(&c.mu);
  return static_cast<int64_t>(c.bytes);
}

void SetStorageCacheLimit(int64_t bytes) {
  LargeBlockCache& c = Large();
  absl::MutexLock lock(&c.mu);
  c.limit = static_cast<size_t>(std::max<int64_t>(bytes, 0));
}

absl::StatusOr<std::shared_ptr<Storage>> Storage::Allocate(int64_t nbytes,
                                                           std::shared_ptr<MemoryAccount> account) {
  if (nbytes < 0) return absl::InvalidArgumentError("negative allocation size");
  if (absl::Status charged = account->Charge(nbytes); !charged.ok()) return charged;
  void* data = AllocateBytes(RoundedSize(nbytes));
  if (data == nullptr) {
    account->Credit(nbytes);
    return absl::ResourceExhaustedError(
        absl::StrCat("out of memory allocating ", nbytes, " bytes"));
  }
  return std::make_shared<Storage>(PrivateTag{}, data, nbytes, std::move(account));
}

std::shared_ptr<Storage> Storage::Meta(int64_t nbytes) {
  return std::make_shared<Storage>(PrivateTag{}, nullptr, nbytes, nullptr);
}

Storage::~Storage() {
  if (data_ == nullptr) return;  // a meta storage
  FreeBytes(data_, RoundedSize(nbytes_));
  account_->Credit(nbytes_);
}

}  // namespace tensord
