// Cooperative cancellation of long engine work. A caller (the service, for one command) binds a
// CancellationScope to its thread: a deadline and a probe (e.g. "was the call cancelled, was the
// session closed"). Kernels call PollCancellation(work) as they go and the autograd engine checks
// between nodes; once the scope's deadline has passed or its probe reports a reason, the work
// stops and the engine's op entry points (Apply, Backward, Grad) return that status (factories,
// which run kernels outside Apply, throw CancelledException: callers that bind a scope wrap their
// work in CatchCancellation, as the service's command guard does). Nothing
// is recorded and no gradient is committed by a cancelled call; an in-place kernel that was
// stopped midway may have written part of its output (as an interrupted PyTorch kernel would).
//
// Cost: PollCancellation is a thread-local counter decrement; the clock and the probe are read
// once every kPollInterval units of work (about 64K elements), so a stopped command ends within
// a fraction of a millisecond of compute. Without a bound scope the checks are no-ops.
#pragma once

#include <cstdint>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/time/time.h"

namespace tensord {

// Thrown by PollCancellation inside kernels; the engine's entry points catch it and return its
// status. It never crosses the engine's public API.
struct CancelledException {
  absl::Status status;
};

namespace cancel_internal {
inline constexpr int64_t kPollInterval = int64_t{1} << 16;
extern thread_local int64_t budget;
[[noreturn]] void ThrowCancelled(absl::Status status);
absl::Status SlowCheck();
}  // namespace cancel_internal

class CancellationScope {
 public:
  // `reason(deadline_passed)` returns a non-OK status (DEADLINE_EXCEEDED once the deadline has
  // passed, CANCELLED, ...) to stop the work, OK to go on; it is called from the thread that runs
  // the work, at most once per poll interval, and must outlive the scope.
  CancellationScope(absl::Time deadline, absl::FunctionRef<absl::Status(bool)> reason);
  ~CancellationScope();
  CancellationScope(const CancellationScope&) = delete;
  CancellationScope& operator=(const CancellationScope&) = delete;

  absl::Status Check() const;

 private:
  friend class UninterruptibleScope;
  absl::Time deadline_;
  absl::FunctionRef<absl::Status(bool)> reason_;
  CancellationScope* previous_;
  int64_t previous_budget_;
};

// Work that must not stop halfway, such as writing a result into an existing tensor in place:
// polls inside it are no-ops, so the write is all or nothing. Such work is bounded by one
// tensor's size.
class UninterruptibleScope {
 public:
  UninterruptibleScope();
  ~UninterruptibleScope();
  UninterruptibleScope(const UninterruptibleScope&) = delete;
  UninterruptibleScope& operator=(const UninterruptibleScope&) = delete;

 private:
  CancellationScope* saved_;
};

// After `work` units (elements, rows, nodes scaled to elements): the reason to stop, or OK.
inline absl::Status CheckCancellation(int64_t work = 1) {
  if ((cancel_internal::budget -= work) > 0) return absl::OkStatus();
  return cancel_internal::SlowCheck();
}

// Throwing form for kernels that return void: throws CancelledException.
inline void PollCancellation(int64_t work = 1) {
  if ((cancel_internal::budget -= work) > 0) return;
  absl::Status s = cancel_internal::SlowCheck();
  if (!s.ok()) cancel_internal::ThrowCancelled(std::move(s));
}

// Runs `fn` (returning absl::Status or absl::StatusOr<T>), turning a CancelledException thrown by
// a kernel inside it into its status.
template <typename Fn>
auto CatchCancellation(Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const CancelledException& e) {
    return e.status;
  }
}

}  // namespace tensord
