// Views and in-place ops as PyTorch 1.13 records them (CopySlices, regenerated view history,
// version counters shared by a base and its views) and what nodes save. Every expectation here
// was read off PyTorch 1.13; tests/oracle/views_vs_torch.py compares many more cases directly.
#include "engine/autograd.h"
#include "engine/context.h"
#include "engine/dispatch.h"
#include "engine/factory.h"
#include "engine/node.h"
#include "engine/ops.h"
#include "tests/support/test_util.h"

namespace tensord {
namespace {

using factory::TensorOptions;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::Must;
using testing::StatusIs;
using testing::Values;
using Code = absl::StatusCode;

TensorOptions RequiresGrad() { return TensorOptions().with_requires_grad(); }

class Views : public ::testing::Test {
 protected:
  Views() : guard_(ctx_) {}
  Context ctx_;
  ContextGuard guard_;
};

// ---- what nodes save -------------------------------------------------------------------------

TEST_F(Views, MaxDim_SavesOnlyIndices_SoValuesCanBeModifiedInPlace) {
  // v, i = x.max(dim=1); v.add_(1.); v.sum().backward()  works in PyTorch.
  Tensor x = Must(factory::from_values({1, 5, 3, 2, 0, 4}, {2, 3}, RequiresGrad()));
  auto [v, i] = Must(ops::max(x, 1));
  ASSERT_OK(ops::add_(v, Scalar(1.0)));
  ASSERT_OK(Backward(Must(ops::sum(v))));
  EXPECT_THAT(Values(x.grad()), ElementsAre(0, 1, 0, 0, 0, 1));
}

TEST_F(Views, MulByConstant_DoesNotSaveSelf) {
  // y = x * 1.5; with no_grad: x.add_(1.); y.sum().backward()  works in PyTorch.
  Tensor x = Must(factory::from_values({1, 2}, {2}, RequiresGrad()));
  Tensor y = Must(ops::mul(x, Scalar(1.5)));
  {
    NoGradGuard no_grad;
    ASSERT_OK(ops::add_(x, Scalar(1.0)));
  }
  ASSERT_OK(Backward(Must(ops::sum(y))));
  EXPECT_THAT(Values(x.grad()), ElementsAre(1.5, 1.5));
}

TEST_F(Views, Mul_SavesSelfWhenOtherNeedsGrad_AndTheVersionCheckFires) {
  Tensor x = Must(factory::from_values({1, 2}, {2}, RequiresGrad()));
  Tensor w = Must(factory::from_values({3, 4}, {2}, RequiresGrad()));
  Tensor y = Must(ops::mul(x, w));
  {
    NoGradGuard no_grad;
    ASSERT_OK(ops::add_(x, Scalar(1.0)));
  }
  EXPECT_THAT(Backward(Must(ops::sum(y))),
              StatusIs(Code::kFailedPrecondition,
                       HasSubstr("[torch.FloatTensor [2]] is at version 1; expected version 0")));
}

}  // namespace
}  // namespace tensord
