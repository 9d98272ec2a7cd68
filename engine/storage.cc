#include "engine/storage.h"

#include <new>

#include "absl/strings/str_cat.h"

namespace tensord {

absl::StatusOr<std::shared_ptr<Storage>> Storage::Allocate(int64_t nbytes,
                                                           std::shared_ptr<MemoryAccount> account) {
  if (nbytes < 0) return absl::InvalidArgumentError("negative allocation size");
  if (absl::Status charged = account->Charge(nbytes); !charged.ok()) return charged;
  const size_t size = static_cast<size_t>(nbytes == 0 ? 64 : (nbytes + 63) / 64 * 64);
  void* data = ::operator new(size, std::align_val_t(64), std::nothrow);
  if (data == nullptr) {
    account->Credit(nbytes);
    return absl::ResourceExhaustedError(absl::StrCat("out of memory allocating ", nbytes, " bytes"));
  }
  return std::shared_ptr<Storage>(new Storage(data, nbytes, std::move(account)));
}

Storage::~Storage() {
  ::operator delete(data_, std::align_val_t(64));
  account_->Credit(nbytes_);
}

}  // namespace tensord
