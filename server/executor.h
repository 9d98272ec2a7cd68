// A bounded pool of engine workers with per-session ordering. Each session owns a Strand: tasks
// of one strand run one at a time, in submission order; different strands run in parallel.
// gRPC's own threads only enqueue, so a slow op never blocks them.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace tensord::server {

class Strand {
 public:
  Strand() = default;
  Strand(const Strand&) = delete;
  Strand& operator=(const Strand&) = delete;

 private:
  friend class Executor;
  absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool scheduled_ ABSL_GUARDED_BY(mu_) = false;
};

class Executor {
 public:
  explicit Executor(int threads);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Runs `task` on a worker after every task submitted earlier to `strand`.
  void Submit(const std::shared_ptr<Strand>& strand, std::function<void()> task);
  // Runs `task` on the calling thread if the strand is idle (nothing queued or running), keeping
  // the strand's order; returns false (and does nothing) otherwise. For small commands this
  // saves the hop to a worker; callers only use it for work that is known to be short.
  bool TryRunInline(const std::shared_ptr<Strand>& strand, const std::function<void()>& task);
  // The same, but decides only once the strand is claimed (so `small` may read the session's
  // tensors without racing its commands): runs `task` inline if `small()` says so.
  bool TryRunInline(const std::shared_ptr<Strand>& strand, const std::function<void()>& task,
                    const std::function<bool()>& small);
  int threads() const { return static_cast<int>(workers_.size()); }
  // Tasks submitted and not yet started.
  int64_t queued() const { return queued_.load(std::memory_order_relaxed); }

 private:
  void WorkerLoop();

  absl::Mutex mu_;
  std::deque<std::shared_ptr<Strand>> ready_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
  std::atomic<int64_t> queued_{0};
};

}  // namespace tensord::server
