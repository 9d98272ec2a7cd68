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
  // Metadata only: tensors get shapes, dtypes, strides, versions and autograd history but no
  // bytes, and ops run their shape rules and record their graph nodes without computing
  // (kernels, copies and fills are skipped). What a client runs next to a remote server to know
  // every result's metadata, and raise metadata errors, without a round trip — as PyTorch's
  // host does for tensors on a GPU. Ops whose checks read values (OpDef::value_dependent_checks)
  // cannot run here unless their output metadata is given (ApplyRecording, ApplyWithMetas).
  bool meta = false;
};

class Context {
 public:
  explicit Context(const ContextOptions& options = {});
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  bool grad_enabled() const { return grad_enabled_.load(std::memory_order_relaxed); }
  // ContextOptions::meta.
  bool meta() const { return meta_; }
  void set_grad_enabled(bool enabled) { grad_enabled_.store(enabled, std::memory_order_relaxed); }

  std::mt19937_64& generator() { return generator_; }
  void manual_seed(uint64_t seed) { generator_.seed(seed); }

  DType default_dtype() const { return default_dtype_; }
  // Only floating dtypes can be the default, as in torch.set_default_dtype.
  absl::Status set_default_dtype(DType dtype);

  // Reference cycles between tensors and graph nodes, which shared_ptr never frees:
  //  * a .grad that refers back to its tensor: backward(create_graph=True) leaves .grad with a
  //    history that reaches the leaf (PyTorch warns about the same leak), and so may an assigned
  //    or retained .grad (x.grad = x, backward(inputs=[y]) with grad_tensors=[y]);
  //  * an in-place op whose new history reaches back to the tensor it modified
  //    (y.mul_(y), y.mul_(f(y)): the node saves or leads to y, and y's grad_fn is the node).
  // The context remembers such tensors (weakly) and, when it is destroyed (a session closing),
  // resets their .grad and grad_fn, which breaks the cycles. Live tensors bound the lists.
  void RememberGradWithHistory(const std::shared_ptr<TensorImpl>& tensor);
  void RememberRebasedHistory(const std::shared_ptr<TensorImpl>& tensor);
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
  bool meta_ = false;
  std::mt19937_64 generator_;
  std::shared_ptr<MemoryAccount> memory_;
  std::mutex graph_grads_mu_;
  std::vector<std::weak_ptr<TensorImpl>> graph_grads_;
  std::vector<std::weak_ptr<TensorImpl>> rebased_;
  size_t graph_grads_prune_at_ = 64;
  size_t rebased_prune_at_ = 64;
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
