// An engine context holds the state PyTorch keeps per process or per thread: grad mode,
// the random generator, the default dtype and the memory account. The service gives each
// session its own context, so many sessions can share one worker pool: a worker binds the
// session's context to its thread (ContextGuard) for the duration of one command.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <vector>

#include "absl/status/status.h"
#include "engine/dtype.h"

namespace tensord {

class TensorImpl;

// Bytes held by one context's tensor storages. Every storage is charged once, when it is
// allocated, and credited when its last user (tensor, view or saved graph buffer) drops it.
class MemoryAccount {
 public:
  static constexpr int64_t kUnlimited = INT64_MAX;
  explicit MemoryAccount(int64_t limit = kUnlimited) : limit_(limit) {}

  // Charges `bytes`; RESOURCE_EXHAUSTED (and no charge) if that would exceed the limit.
  absl::Status Charge(int64_t bytes);
  void Credit(int64_t bytes);

  int64_t used() const { return used_.load(std::memory_order_relaxed); }
  int64_t peak() const { return peak_.load(std::memory_order_relaxed); }
  int64_t limit() const { return limit_.load(std::memory_order_relaxed); }
  void set_limit(int64_t limit) { limit_.store(limit, std::memory_order_relaxed); }
  int64_t live_storages() const { return live_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> used_{0};
  std::atomic<int64_t> peak_{0};
  std::atomic<int64_t> live_{0};
  std::atomic<int64_t> limit_;
};

struct ContextOptions {
  uint64_t seed = 0;
  int64_t memory_limit_bytes = MemoryAccount::kUnlimited;
  DType default_dtype = DType::kFloat32;
};

class Context {
 public:
  explicit Context(const ContextOptions& options = {});
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  bool grad_enabled() const { return grad_enabled_.load(std::memory_order_relaxed); }
  void set_grad_enabled(bool enabled) { grad_enabled_.store(enabled, std::memory_order_relaxed); }

  std::mt19937_64& generator() { return generator_; }
  void manual_seed(uint64_t seed) { generator_.seed(seed); }

  DType default_dtype() const { return default_dtype_; }
  // Only floating dtypes can be the default, as in torch.set_default_dtype.
  absl::Status set_default_dtype(DType dtype);

  // backward(create_graph=True) leaves .grad with a history that refers back to the leaf: a
  // reference cycle (PyTorch warns about the same leak); so may an assigned .grad (x.grad = x).
  // The context remembers such tensors and resets their .grad when it is destroyed (a session
  // closing), which breaks the cycles.
  void RememberGradWithHistory(const std::shared_ptr<TensorImpl>& leaf);
  void BreakGradCycles();
  ~Context();

  MemoryAccount& memory() { return *memory_; }
  const std::shared_ptr<MemoryAccount>& memory_ptr() const { return memory_; }

  // The context bound to this thread by the innermost ContextGuard, or the process default.
  static Context& Current();
  static Context& ProcessDefault();

 private:
  std::atomic<bool> grad_enabled_{true};  // read by DescribeSession from other threads
  DType default_dtype_;
  std::mt19937_64 generator_;
  std::shared_ptr<MemoryAccount> memory_;
  std::mutex graph_grads_mu_;
  std::vector<std::weak_ptr<TensorImpl>> graph_grads_;
  size_t graph_grads_prune_at_ = 64;
};

// Binds a context to the calling thread for a scope.
class ContextGuard {
 public:
  explicit ContextGuard(Context& context);
  ~ContextGuard();
  ContextGuard(const ContextGuard&) = delete;
  ContextGuard& operator=(const ContextGuard&) = delete;

 private:
  Context* previous_;
};

// torch.set_grad_enabled(mode) as a scope: restores the previous mode on exit.
class AutoGradMode {
 public:
  explicit AutoGradMode(bool enabled);
  ~AutoGradMode();
  AutoGradMode(const AutoGradMode&) = delete;
  AutoGradMode& operator=(const AutoGradMode&) = delete;

 private:
  Context& context_;
  bool previous_;
};

// torch.no_grad() as a scope.
class NoGradGuard : public AutoGradMode {
 public:
  NoGradGuard() : AutoGradMode(false) {}
};

inline bool GradModeEnabled() { return Context::Current().grad_enabled(); }

}  // namespace tensord
