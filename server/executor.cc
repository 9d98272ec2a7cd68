#include "server/executor.h"

#include "spdlog/spdlog.h"

namespace tensord::server {
namespace {
// Tasks a worker runs from one strand before letting other sessions in.
constexpr int kBurst = 32;

// The last line of defence: a task that throws must not take the worker (or the strand, which
// would stay "scheduled" for ever) with it. Commands already turn exceptions into INTERNAL
// (GuardCommand); this catches what escapes elsewhere and logs it.
void RunTask(const std::function<void()>& task) noexcept {
  try {
    task();
  } catch (const std::exception& e) {
    spdlog::error("a server task threw: {}", e.what());
  } catch (...) {
    spdlog::error("a server task threw a non-standard exception");
  }
}
}  // namespace

Executor::Executor(int threads) {
  if (threads < 1) threads = 1;
  for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

Executor::~Executor() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : workers_) t.join();
}

void Executor::Submit(const std::shared_ptr<Strand>& strand, std::function<void()> task) {
  {
    absl::MutexLock lock(&strand->mu_);
    strand->tasks_.push_back(std::move(task));
    queued_.fetch_add(1, std::memory_order_relaxed);
    if (strand->scheduled_) return;
    strand->scheduled_ = true;
  }
  absl::MutexLock lock(&mu_);
  ready_.push_back(strand);
}

bool Executor::TryRunInline(const std::shared_ptr<Strand>& strand,
                            const std::function<void()>& task) {
  return TryRunInline(strand, task, [] { return true; });
}

bool Executor::TryRunInline(const std::shared_ptr<Strand>& strand,
                            const std::function<void()>& task, const std::function<bool()>& small) {
  {
    absl::MutexLock lock(&strand->mu_);
    if (strand->scheduled_ || !strand->tasks_.empty()) return false;
    strand->scheduled_ = true;  // claimed: later submissions queue behind this task
  }
  bool run = false;
  try {
    run = small();
  } catch (...) {
    run = false;
  }
  if (run) RunTask(task);
  bool more;
  {
    absl::MutexLock lock(&strand->mu_);
    more = !strand->tasks_.empty();
    if (!more) strand->scheduled_ = false;
  }
  if (more) {
    absl::MutexLock lock(&mu_);
    ready_.push_back(strand);
  }
  return run;
}

void Executor::WorkerLoop() {
  while (true) {
    std::shared_ptr<Strand> strand;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](Executor* e)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(e->mu_) { return e->stopping_ || !e->ready_.empty(); },
          this));
      if (ready_.empty()) return;  // stopping and drained
      strand = ready_.front();
      ready_.pop_front();
    }
    bool more = false;
    for (int i = 0; i < kBurst; ++i) {
      std::function<void()> task;
      {
        absl::MutexLock lock(&strand->mu_);
        if (strand->tasks_.empty()) {
          strand->scheduled_ = false;
          break;
        }
        task = std::move(strand->tasks_.front());
        strand->tasks_.pop_front();
      }
      queued_.fetch_sub(1, std::memory_order_relaxed);
      RunTask(task);
      task = nullptr;  // release what the task captured before touching the strand again
      if (i == kBurst - 1) {
        absl::MutexLock lock(&strand->mu_);
        more = !strand->tasks_.empty();
        if (!more) strand->scheduled_ = false;
      }
    }
    if (more) {
      absl::MutexLock lock(&mu_);
      ready_.push_back(strand);
    }
  }
}

}  // namespace tensord::server
