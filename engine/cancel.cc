#include "engine/cancel.h"

#include "absl/time/clock.h"

namespace tensord {
namespace cancel_internal {
namespace {
// Without a scope the counter only needs to be reset rarely.
constexpr int64_t kUnboundInterval = int64_t{1} << 40;
thread_local CancellationScope* tls_scope = nullptr;
}  // namespace

thread_local int64_t budget = kUnboundInterval;

void ThrowCancelled(absl::Status status) { throw CancelledException{std::move(status)}; }

absl::Status SlowCheck() {
  CancellationScope* scope = tls_scope;
  if (scope == nullptr) {
    budget = kUnboundInterval;
    return absl::OkStatus();
  }
  budget = kPollInterval;
  return scope->Check();
}

}  // namespace cancel_internal

CancellationScope::CancellationScope(absl::Time deadline,
                                     absl::FunctionRef<absl::Status(bool)> reason)
    : deadline_(deadline),
      reason_(reason),
      previous_(cancel_internal::tls_scope),
      previous_budget_(cancel_internal::budget) {
  cancel_internal::tls_scope = this;
  cancel_internal::budget = cancel_internal::kPollInterval;
}

CancellationScope::~CancellationScope() {
  cancel_internal::tls_scope = previous_;
  cancel_internal::budget =
      previous_ != nullptr ? cancel_internal::kPollInterval : previous_budget_;
}

UninterruptibleScope::UninterruptibleScope() : saved_(cancel_internal::tls_scope) {
  cancel_internal::tls_scope = nullptr;
}

UninterruptibleScope::~UninterruptibleScope() {
  cancel_internal::tls_scope = saved_;
  if (saved_ != nullptr) cancel_internal::budget = cancel_internal::kPollInterval;
}

absl::Status CancellationScope::Check() const {
  return reason_(deadline_ != absl::InfiniteFuture() && absl::Now() >= deadline_);
}

}  // namespace tensord
