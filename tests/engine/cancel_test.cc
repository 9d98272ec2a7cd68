// Cooperative cancellation (engine/cancel.h): a bound scope stops kernels and the backward pass,
// the engine's entry points return the scope's status, and nothing is recorded or committed.
#include "engine/cancel.h"

#include <atomic>

#include "engine/api.h"
#include "engine/autograd.h"
#include "engine/context.h"
#include "engine/factory.h"
#include "engine/op_def.h"
#include "tests/support/test_util.h"

namespace tensord {
namespace {

using factory::TensorOptions;
using ::testing::HasSubstr;
using testing::Must;
using testing::Values;

absl::Status Stopped(bool deadline_passed) {
  return deadline_passed ? absl::DeadlineExceededError("limit") : absl::OkStatus();
}

TEST(Cancellation, WithoutAScope_PollsAreFreeAndNothingStops) {
  Tensor a = Must(factory::ones({300, 300}));
  EXPECT_TRUE(ops::mm(a, a).ok());
  EXPECT_TRUE(CheckCancellation(int64_t{1} << 40).ok());
}

TEST(Cancellation, PassedDeadline_StopsALargeKernelWithTheScopesStatus) {
  Tensor a = Must(factory::ones({512, 512}));
  Tensor big = Must(factory::ones({1 << 20}));
  CancellationScope scope(absl::InfinitePast(), Stopped);
  auto r = ops::mm(a, a);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  auto e = ops::exp(big);
  EXPECT_EQ(e.status().code(), absl::StatusCode::kDeadlineExceeded);
  // Factories run kernels outside Apply: they throw, and CatchCancellation (which the service's
  // command guard uses) turns that into the status.
  auto f = CatchCancellation([] { return factory::ones({1 << 20}); });
  EXPECT_EQ(f.status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(Cancellation, ProbeReason_StopsWorkMidwayAndIsReturned) {
  // The probe starts refusing after a few checks: the op stops partway through its work.
  std::atomic<int> checks{0};
  auto reason = [&](bool) -> absl::Status {
    return ++checks > 3 ? absl::CancelledError("session closed") : absl::OkStatus();
  };
  Tensor a = Must(factory::ones({1 << 22}));
  CancellationScope scope(absl::InfiniteFuture(), reason);
  auto r = ops::mul(a, a);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("session closed"));
  EXPECT_LT(checks.load(), 64) << "the kernel kept going after the probe said stop";
}

TEST(Cancellation, StoppedBackward_CommitsNoGradient) {
  Tensor x = Must(factory::ones({4}, TensorOptions().with_requires_grad()));
  Tensor y = x;
  for (int i = 0; i < 2000; ++i) y = Must(ops::mul(y, 1.0));
  Tensor loss = Must(ops::sum(y));
  {
    CancellationScope scope(absl::InfinitePast(), Stopped);
    absl::Status s = Backward(loss, Tensor(), {.retain_graph = true});
    EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  }
  EXPECT_FALSE(x.grad().defined());
  // Without the scope the same graph runs.
  ASSERT_TRUE(Backward(loss).ok());
  EXPECT_EQ(Values(x.grad()), (std::vector<double>{1, 1, 1, 1}));
}

TEST(Cancellation, InPlaceWrites_AreAllOrNothing) {
  Tensor a = Must(factory::zeros({1 << 20}));
  absl::Status s;
  {
    CancellationScope scope(absl::InfinitePast(), Stopped);
    s = ops::add_(a, 1.0);
  }
  // Either the write happened whole or not at all: never a partly written tensor.
  const double total = Values(Must(ops::sum(a)))[0];
  if (s.ok()) {
    EXPECT_EQ(total, double{1 << 20});
  } else {
    EXPECT_EQ(total, 0.0);
  }
}

TEST(Cancellation, NestedScopes_TheInnerOneGovernsAndTheOuterOneComesBack) {
  CancellationScope outer(absl::InfiniteFuture(), Stopped);
  {
    CancellationScope inner(absl::InfinitePast(), Stopped);
    EXPECT_EQ(CheckCancellation(int64_t{1} << 40).code(), absl::StatusCode::kDeadlineExceeded);
  }
  EXPECT_TRUE(CheckCancellation(int64_t{1} << 40).ok());
}

TEST(EstimateWork, ZeroSizeDimsCountAsOneAndMatrixProductsCountTheirInnerLoop) {
  const OpDef* mm = Must(FindOp("mm"));
  Tensor a = Must(factory::zeros({64, 32}));
  Tensor b = Must(factory::zeros({32, 16}));
  EXPECT_EQ(EstimateWork(*mm, std::vector<Tensor>{a, b}, {}), 64 * 32 * 16);
  EXPECT_EQ(LoopExtent({0, int64_t{1} << 40}), int64_t{1} << 40);
  EXPECT_EQ(LoopExtent({int64_t{1} << 40, int64_t{1} << 40}), INT64_MAX);
  const OpDef* expand = Must(FindOp("expand"));
  Attrs attrs{{"size", std::vector<int64_t>{int64_t{1} << 62, 4}}};
  EXPECT_EQ(EstimateWork(*expand, std::vector<Tensor>{Must(factory::zeros({1}))}, attrs),
            INT64_MAX);
}

}  // namespace
}  // namespace tensord
