// Engine contexts: per-session grad mode, random generator and memory accounting.
#include <thread>

#include "engine/api.h"
#include "engine/autograd.h"
#include "engine/context.h"
#include "engine/factory.h"
#include "engine/node.h"
#include "engine/ops/op_util.h"
#include "tests/support/test_util.h"

namespace tensord {
namespace {

using factory::TensorOptions;
using ::testing::HasSubstr;
using testing::Must;
using testing::StatusIs;
using testing::Values;

TEST(Context, SameSeedGivesSameNumbers_DifferentSeedsDiffer) {
  auto draw = [](uint64_t seed) {
    Context ctx(ContextOptions{.seed = seed});
    ContextGuard guard(ctx);
    return Values(Must(factory::randn({8})));
  };
  EXPECT_EQ(draw(7), draw(7));
  EXPECT_NE(draw(7), draw(8));
}

TEST(Context, TwoContextsOnTwoThreads_KeepTheirOwnGradModeAndGenerator) {
  Context a(ContextOptions{.seed = 1});
  Context b(ContextOptions{.seed = 2});
  {
    ContextGuard g(b);
    b.set_grad_enabled(false);
  }
  std::vector<double> rand_a, rand_b, expect_a, expect_b;
  bool a_records = false, b_records = true;
  auto work = [](Context& ctx, std::vector<double>& out, bool& records) {
    ContextGuard guard(ctx);
    for (int i = 0; i < 200; ++i) {
      Tensor x = Must(factory::rand({4}, TensorOptions().with_requires_grad()));
      records = Must(ops::mul(x, x)).requires_grad();
      std::vector<double> v = Values(x);
      out.insert(out.end(), v.begin(), v.end());
    }
  };
  std::thread ta([&] { work(a, rand_a, a_records); });
  std::thread tb([&] { work(b, rand_b, b_records); });
  ta.join();
  tb.join();
  EXPECT_TRUE(a_records);
  EXPECT_FALSE(b_records);
  EXPECT_FALSE(b.grad_enabled());
  EXPECT_TRUE(Context::ProcessDefault().grad_enabled());
  // Replaying each seed alone gives the same streams: the threads did not share a generator.
  Context a2(ContextOptions{.seed = 1}), b2(ContextOptions{.seed = 2});
  b2.set_grad_enabled(false);
  bool ignored = false;
  work(a2, expect_a, ignored);
  work(b2, expect_b, ignored);
  EXPECT_EQ(rand_a, expect_a);
  EXPECT_EQ(rand_b, expect_b);
}

TEST(Context, CountsBytesOnce_IncludingSavedGraphBuffers) {
  Context ctx;
  ContextGuard guard(ctx);
  EXPECT_EQ(ctx.memory().used(), 0);
  {
    Tensor x = Must(factory::ones({256}, TensorOptions().with_requires_grad()));  // 1 KiB
    EXPECT_EQ(ctx.memory().used(), 1024);
    Tensor v = Must(ops::view(x, {16, 16}));  // a view: no new bytes
    EXPECT_EQ(ctx.memory().used(), 1024);
    Tensor y = Must(ops::exp(x));  // result, saved by ExpBackward0 too: counted once
    EXPECT_EQ(ctx.memory().used(), 2048);
    Tensor s = Must(ops::sum(y));
    const int64_t with_graph = ctx.memory().used();
    y = Tensor();  // the graph still holds exp's output
    EXPECT_EQ(ctx.memory().used(), with_graph);
    ASSERT_OK(Backward(s));  // frees saved buffers; x.grad is new
    EXPECT_EQ(ctx.memory().used(), with_graph - 1024 + 1024);
  }
  EXPECT_EQ(ctx.memory().used(), 0);
  EXPECT_EQ(ctx.memory().live_storages(), 0);
}

TEST(Context, MemoryLimit_RefusesAllocationAndChangesNothing) {
  Context ctx(ContextOptions{.memory_limit_bytes = 5000});
  ContextGuard guard(ctx);
  Tensor x = Must(factory::ones({512}));  // 2 KiB
  EXPECT_THAT(factory::ones({1024}), StatusIs(absl::StatusCode::kResourceExhausted,
                                              HasSubstr("over its limit of 5000 bytes")));
  EXPECT_EQ(ctx.memory().used(), 2048);
  Tensor y = Must(ops::add(x, Scalar(1)));  // fits (its temporaries are freed again)
  EXPECT_EQ(ctx.memory().used(), 4096);
  EXPECT_THAT(ops::mul(x, y), StatusIs(absl::StatusCode::kResourceExhausted, ::testing::_));
  EXPECT_EQ(Values(x)[0], 1.0);
  EXPECT_EQ(ctx.memory().used(), 4096);
  // In place needs no new memory (as in PyTorch), so it works at the limit.
  ASSERT_OK(ops::add_(x, y));
  EXPECT_EQ(Values(x)[0], 3.0);
  EXPECT_EQ(x.version(), 1u);
  EXPECT_EQ(ctx.memory().used(), 4096);
}

TEST(Context, ClosingFreesInplaceHistoriesThatReferToTheirTensor) {
  // y.mul_(y) saves y in the node that becomes y's history, and a view's in-place write gives
  // its base a CopySlices history; backward(create_graph=True) gives x a .grad whose history
  // reaches x: cycles that only the context's close can break.
  auto ctx = std::make_unique<Context>();
  std::vector<std::weak_ptr<TensorImpl>> tensors;
  {
    ContextGuard guard(*ctx);
    Tensor x = Must(factory::ones({64}, TensorOptions().with_requires_grad()));
    Tensor y = Must(ops::mul(x, Scalar(2)));
    ASSERT_OK(ops::mul_(y, y));
    Tensor z = Must(ops::exp(x));
    Tensor v = Must(ops::view(z, {8, 8}));
    ASSERT_OK(ops::mul_(v, v));
    ASSERT_OK(Backward(Must(ops::sum(Must(ops::mul(x, x)))), Tensor(),
                       BackwardOptions{.create_graph = true}));
    tensors = {x.impl_ptr(), y.impl_ptr(), z.impl_ptr(), v.impl_ptr()};
  }
  int alive = 0;
  for (const auto& t : tensors) alive += t.expired() ? 0 : 1;
  EXPECT_GT(alive, 0);  // held by the cycles while the session lives
  ctx.reset();
  for (const auto& t : tensors) EXPECT_TRUE(t.expired());
}

TEST(Context, ClosingFreesARegeneratedViewHistoryThatLeadsToANodeSavingTheView) {
  // a.pow_(b) with a and b two rows of y saves b in the node behind y's new history
  // (CopySlices); reading b's grad_fn regenerates it over that history (AsStridedBackward0 ->
  // CopySlices -> PowBackward1 -> b): a cycle through the view that was read, not through the
  // tensor written (found by fuzz_commands).
  auto ctx = std::make_unique<Context>();
  std::weak_ptr<TensorImpl> y_alive, b_alive;
  {
    ContextGuard guard(*ctx);
    Tensor x = Must(factory::ones({2, 3}, TensorOptions().with_requires_grad()));
    Tensor y = Must(ops::mul(x, Scalar(2)));
    Tensor a = Must(ops::select(y, 0, 0));
    Tensor b = Must(ops::select(y, 0, 1));
    ASSERT_OK(op_util::Call("pow_", {a, b}).status());
    ASSERT_EQ(Must(b.grad_fn_or_error())->name(), "AsStridedBackward0");
    y_alive = y.impl_ptr();
    b_alive = b.impl_ptr();
  }
  EXPECT_FALSE(b_alive.expired());  // held by the cycle while the session lives
  ctx.reset();
  EXPECT_TRUE(y_alive.expired());
  EXPECT_TRUE(b_alive.expired());
}

}  // namespace
}  // namespace tensord
