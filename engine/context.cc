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
      meta_(options.meta),
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

namespace {
// Appends `t`; whenever the list has doubled, first forgets the tensors that are gone (amortised
// O(1) per call, however many backward(create_graph=True), SetGrad or in-place calls run).
void RememberWeakly(std::vector<std::weak_ptr<TensorImpl>>& list, size_t& prune_at,
                    const std::shared_ptr<TensorImpl>& t) {
  if (list.size() >= prune_at) {
    std::erase_if(list, [](const std::weak_ptr<TensorImpl>& w) { return w.expired(); });
    prune_at = std::max<size_t>(64, 2 * list.size());
  }
  list.push_back(t);
}
}  // namespace

void Context::RememberGradWithHistory(const std::shared_ptr<TensorImpl>& tensor) {
  std::lock_guard<std::mutex> lock(graph_grads_mu_);
  RememberWeakly(graph_grads_, graph_grads_prune_at_, tensor);
}

void Context::RememberRebasedHistory(const std::shared_ptr<TensorImpl>& tensor) {
  std::lock_guard<std::mutex> lock(graph_grads_mu_);
  RememberWeakly(rebased_, rebased_prune_at_, tensor);
  // A view's in-place write gives its base the new history (CopySlices).
  if (tensor->view_base) RememberWeakly(rebased_, rebased_prune_at_, tensor->view_base);
}

void Context::BreakGradCycles() {
  std::vector<std::weak_ptr<TensorImpl>> grads, rebased;
  {
    std::lock_guard<std::mutex> lock(graph_grads_mu_);
    grads.swap(graph_grads_);
    rebased.swap(rebased_);
  }
  // Every tensor is held while the links are cut: cutting one may free others of the list.
  std::vector<std::shared_ptr<TensorImpl>> alive;
  for (auto* list : {&grads, &rebased}) {
    for (auto& weak : *list) {
      if (auto t = weak.lock()) alive.push_back(std::move(t));
    }
  }
  for (auto& t : alive) {
    t->grad.reset();
    t->grad_fn.reset();
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
