#include "engine/context.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/checked_math.h"
#include "engine/tensor.h"

namespace tensord {
namespace {
thread_local Context* tls_context = nullptr;
}  // namespace

absl::Status MemoryAccount::Charge(int64_t bytes) {
  int64_t current = used_.load(std::memory_order_relaxed);
  const int64_t limit = limit_.load(std::memory_order_relaxed);
  do {
    if (bytes > limit - current) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "memory limit exceeded: allocating ", bytes, " bytes would bring the ", "context to ",
          SaturatingAdd(current, bytes), " bytes, over its limit of ", limit, " bytes"));
    }
  } while (!used_.compare_exchange_weak(current, current + bytes, std::memory_order_relaxed));
  int64_t peak = peak_.load(std::memory_order_relaxed);
  while (current + bytes > peak &&
         !peak_.compare_exchange_weak(peak, current + bytes, std::memory_order_relaxed)) {
  }
  live_.fetch_add(1, std::memory_order_relaxed);
  return absl::OkStatus();
}

void MemoryAccount::Credit(int64_t bytes) {
  used_.fetch_sub(bytes, std::memory_order_relaxed);
  live_.fetch_sub(1, std::memory_order_relaxed);
}

Context::Context(const ContextOptions& options)
    : default_dtype_(options.default_dtype),
      generator_(options.seed),
      memory_(std::make_shared<MemoryAccount>(options.memory_limit_bytes)) {}

absl::Status Context::set_default_dtype(DType dtype) {
  if (!IsFloating(dtype)) {
    return absl::InvalidArgumentError(
        "only floating-point types are supported as the default type");
  }
  default_dtype_ = dtype;
  return absl::OkStatus();
}

void Context::RememberGradWithHistory(const std::shared_ptr<TensorImpl>& leaf) {
  std::lock_guard<std::mutex> lock(graph_grads_mu_);
  // Bounded by the live tensors: whenever the list doubles, forget the tensors that are gone
  // (amortised O(1) per call, however many backward(create_graph=True) or SetGrad calls run).
  if (graph_grads_.size() >= graph_grads_prune_at_) {
    std::erase_if(graph_grads_, [](const std::weak_ptr<TensorImpl>& w) { return w.expired(); });
    graph_grads_prune_at_ = std::max<size_t>(64, 2 * graph_grads_.size());
  }
  graph_grads_.push_back(leaf);
}

void Context::BreakGradCycles() {
  std::vector<std::weak_ptr<TensorImpl>> leaves;
  {
    std::lock_guard<std::mutex> lock(graph_grads_mu_);
    leaves.swap(graph_grads_);
  }
  for (auto& weak : leaves) {
    if (auto leaf = weak.lock()) leaf->grad.reset();
  }
}

Context::~Context() { BreakGradCycles(); }

Context& Context::ProcessDefault() {
  static Context* context = new Context();
  return *context;
}

Context& Context::Current() { return tls_context ? *tls_context : ProcessDefault(); }

ContextGuard::ContextGuard(Context& context) : previous_(tls_context) { tls_context = &context; }
ContextGuard::~ContextGuard() { tls_context = previous_; }

AutoGradMode::AutoGradMode(bool enabled)
    : context_(Context::Current()), previous_(context_.grad_enabled()) {
  context_.set_grad_enabled(enabled);
}
AutoGradMode::~AutoGradMode() { context_.set_grad_enabled(previous_); }

}  // namespace tensord
