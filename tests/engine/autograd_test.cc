// Autograd semantics beyond the tutorial, each checked against what PyTorch 1.13 does.
#include "engine/autograd.h"
#include "engine/api.h"
#include "engine/context.h"
#include "engine/dispatch.h"
#include "engine/factory.h"
#include "engine/node.h"
#include "tests/support/test_util.h"

namespace tensord {
namespace {

using factory::TensorOptions;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::Must;
using testing::StatusIs;
using ::testing::StrEq;
using testing::Values;
using Code = absl::StatusCode;

TensorOptions RequiresGrad() { return TensorOptions().with_requires_grad(); }

class Autograd : public ::testing::Test {
 protected:
  Autograd() : guard_(ctx_) {}
  Context ctx_;
  ContextGuard guard_;
};

TEST_F(Autograd, RequiresGrad_OnIntegerTensor_FailsWithPyTorchMessage) {
  EXPECT_THAT(
      factory::ones({2}, TensorOptions().with_dtype(DType::kInt64).with_requires_grad()),
      StatusIs(Code::kInvalidArgument,
               StrEq("Only Tensors of floating point and complex dtype can require gradients")));
  Tensor t = Must(factory::ones({2}, TensorOptions().with_dtype(DType::kInt64)));
  EXPECT_THAT(t.set_requires_grad(true),
              StatusIs(Code::kInvalidArgument,
                       StrEq("only Tensors of floating point dtype can require gradients")));
  EXPECT_FALSE(t.requires_grad());
}

TEST_F(Autograd, RequiresGrad_OnNonLeaf_FailsWithPyTorchMessage) {
  Tensor x = Must(factory::ones({2}, RequiresGrad()));
  Tensor y = Must(ops::mul(x, Scalar(2)));
  EXPECT_THAT(y.set_requires_grad(false),
              StatusIs(Code::kFailedPrecondition,
                       StrEq("you can only change requires_grad flags of leaf variables. If you "
                             "want to use a computed variable in a subgraph that doesn't require "
                             "differentiation use var_no_grad = var.detach().")));
  EXPECT_TRUE(y.requires_grad());
}

TEST_F(Autograd, Backward_NonScalarWithoutGradient_Fails) {
  Tensor x = Must(factory::ones({3}, RequiresGrad()));
  Tensor y = Must(ops::mul(x, Scalar(2)));
  EXPECT_THAT(Backward(y),
              StatusIs(Code::kInvalidArgument,
                       StrEq("grad can be implicitly created only for scalar outputs")));
  EXPECT_FALSE(x.grad().defined());
}

TEST_F(Autograd, Backward_GradientOfWrongShape_FailsWithPyTorchMessage) {
  Tensor x = Must(factory::ones({3}, RequiresGrad()));
  Tensor y = Must(ops::mul(x, Scalar(2)));
  EXPECT_THAT(Backward(y, Must(factory::ones({2}))),
              StatusIs(Code::kInvalidArgument,
                       StrEq("Mismatch in shape: grad_output[0] has a shape of torch.Size([2]) and "
                             "output[0] has a shape of torch.Size([3]).")));
}

TEST_F(Autograd, Backward_ExplicitGradient_IsAVectorJacobianProduct) {
  Tensor x = Must(factory::from_values({1, 2, 3}, {3}, RequiresGrad()));
  Tensor y = Must(ops::mul(x, x));
  ASSERT_OK(Backward(y, Must(factory::from_values({1, 0.5, 0.25}, {3}))));
  EXPECT_THAT(Values(x.grad()), ElementsAre(2, 2, 1.5));  // 2x * v
}

TEST_F(Autograd, Backward_OnTensorWithoutGrad_Fails) {
  Tensor x = Must(factory::ones({2}));
  EXPECT_THAT(
      Backward(Must(ops::sum(x))),
      StatusIs(Code::kFailedPrecondition,
               StrEq("element 0 of tensors does not require grad and does not have a grad_fn")));
}

TEST_F(Autograd, SecondBackward_WithoutSavedTensors_IsAllowedAsInPyTorch) {
  // AddBackward0 saves nothing, so PyTorch lets a second backward through.
  Tensor a = Must(factory::ones({2}, RequiresGrad()));
  Tensor s = Must(ops::sum(Must(ops::add(a, a))));
  ASSERT_OK(Backward(s));
  ASSERT_OK(Backward(s));
  EXPECT_THAT(Values(a.grad()), ElementsAre(4, 4));
}

TEST_F(Autograd, SavedTensors_AreFreedAfterBackward_AndInspectable) {
  Tensor x = Must(factory::ones({2}, RequiresGrad()));
  Tensor y = Must(ops::mul(x, x));
  auto saved = y.grad_fn()->SavedTensors();
  ASSERT_EQ(saved.size(), 2u);
  EXPECT_EQ(saved[0].name, "self");
  EXPECT_FALSE(saved[0].freed);
  ASSERT_OK(Backward(Must(ops::sum(y))));
  for (const auto& s : y.grad_fn()->SavedTensors()) EXPECT_TRUE(s.freed) << s.name;
}

TEST_F(Autograd, InplaceOnSavedOutput_FailsAtBackwardWithVersions) {
  Tensor a = Must(factory::ones({3}, RequiresGrad()));
  Tensor b = Must(ops::exp(a));
  EXPECT_EQ(b.version(), 0u);
  ASSERT_OK(ops::mul_(b, Scalar(2)));
  EXPECT_EQ(b.version(), 1u);
  EXPECT_THAT(Backward(Must(ops::sum(b))),
              StatusIs(Code::kFailedPrecondition,
                       StrEq("one of the variables needed for gradient computation has been "
                             "modified by an inplace operation: [torch.FloatTensor [3]], which is "
                             "output 0 of ExpBackward0, is at version 1; expected version 0 "
                             "instead. Hint: enable anomaly detection to find the operation that "
                             "failed to compute its gradient, with "
                             "torch.autograd.set_detect_anomaly(True).")));
  EXPECT_FALSE(a.grad().defined());  // the failed backward committed nothing
}

TEST_F(Autograd, InplaceOnSavedLeafInput_MessageHasNoOutputClause) {
  Tensor a = Must(factory::ones({3}, RequiresGrad()));
  Tensor c = Must(factory::ones({3}));
  Tensor d = Must(ops::mul(a, c));
  ASSERT_OK(ops::add_(c, Scalar(1)));
  EXPECT_THAT(Backward(Must(ops::sum(d))),
              StatusIs(Code::kFailedPrecondition,
                       HasSubstr("[torch.FloatTensor [3]] is at version 1; expected version 0")));
}

TEST_F(Autograd, InplaceOnLeafRequiringGrad_IsRefusedOutsideNoGrad) {
  Tensor a = Must(factory::ones({3}, RequiresGrad()));
  EXPECT_THAT(ops::add_(a, Scalar(1)),
              StatusIs(Code::kFailedPrecondition,
                       StrEq("a leaf Variable that requires grad is being used in an in-place "
                             "operation.")));
  EXPECT_THAT(Values(a), ElementsAre(1, 1, 1));
  EXPECT_EQ(a.version(), 0u);
  Tensor row = Must(ops::select(Must(ops::view(a, {3, 1})), 0, 0));
  EXPECT_THAT(ops::mul_(row, Scalar(2)),
              StatusIs(Code::kFailedPrecondition, HasSubstr("a view of a leaf Variable")));
  {
    NoGradGuard no_grad;
    ASSERT_OK(ops::add_(a, Scalar(1)));
  }
  EXPECT_THAT(Values(a), ElementsAre(2, 2, 2));
  EXPECT_EQ(a.version(), 1u);
}

TEST_F(Autograd, InplaceOnNonLeaf_RebasesHistory) {
  Tensor x = Must(factory::from_values({1, 2, 3}, {3}, RequiresGrad()));
  Tensor y = Must(ops::mul(x, Scalar(1)));
  ASSERT_OK(ops::mul_(y, Scalar(2)));
  EXPECT_EQ(y.grad_fn()->name(), "MulBackward0");
  EXPECT_EQ(y.grad_fn()->next_edges()[0].function->name(), "MulBackward0");
  ASSERT_OK(ops::add_(y, x));
  EXPECT_EQ(y.grad_fn()->name(), "AddBackward0");
  ASSERT_OK(Backward(Must(ops::sum(y))));
  EXPECT_THAT(Values(x.grad()), ElementsAre(3, 3, 3));  // d/dx (2x + x)
}

TEST_F(Autograd, InplaceMulByTensorRequiringGrad_UsesOriginalSelf) {
  // a = ones; a.mul_(w): d a / d w = original a (ones), not the new value.
  Tensor w = Must(factory::from_values({2, 3}, {2}, RequiresGrad()));
  Tensor a = Must(factory::from_values({5, 7}, {2}));
  ASSERT_OK(ops::mul_(a, w));
  EXPECT_EQ(a.grad_fn()->name(), "MulBackward0");
  ASSERT_OK(Backward(Must(ops::sum(a))));
  EXPECT_THAT(Values(w.grad()), ElementsAre(5, 7));
}

TEST_F(Autograd, InplaceZeroFillCopyClamp_HavePyTorchNodes) {
  Tensor x = Must(factory::from_values({-1, 0.5, 2}, {3}, RequiresGrad()));
  Tensor y = Must(ops::mul(x, Scalar(1)));
  ASSERT_OK(ops::clamp_(y, Scalar(0.0), Scalar(1.0)));
  EXPECT_EQ(y.grad_fn()->name(), "ClampBackward1");
  EXPECT_THAT(Values(y), ElementsAre(0, 0.5, 1));
  ASSERT_OK(Backward(Must(ops::sum(y)), Tensor(), {.retain_graph = true}));
  EXPECT_THAT(Values(x.grad()), ElementsAre(0, 1, 0));
  Tensor z = Must(ops::mul(x, Scalar(1)));
  ASSERT_OK(ops::zero_(z));
  EXPECT_EQ(z.grad_fn()->name(), "ZeroBackward0");
  ASSERT_OK(ops::fill_(z, Scalar(3)));
  EXPECT_EQ(z.grad_fn()->name(), "FillBackward2");
  ASSERT_OK(ops::copy_(z, x));
  EXPECT_EQ(z.grad_fn()->name(), "torch::autograd::CopyBackwards");
  EXPECT_EQ(Values(z), Values(x));
}

TEST_F(Autograd, InplaceResultThatCannotBeCast_FailsAndChangesNothing) {
  Tensor i = Must(factory::from_values({1, 2}, {2}, TensorOptions().with_dtype(DType::kInt64)));
  EXPECT_THAT(ops::add_(i, Scalar(0.5)),
              StatusIs(Code::kInvalidArgument,
                       StrEq("result type Float can't be cast to the desired output type Long")));
  EXPECT_THAT(Values(i), ElementsAre(1, 2));
  EXPECT_EQ(i.version(), 0u);
  Tensor v = Must(factory::ones({3}));
  EXPECT_THAT(ops::add_(v, Must(factory::ones({2, 3}))),
              StatusIs(Code::kInvalidArgument,
                       StrEq("output with shape [3] doesn't match the broadcast shape [2, 3]")));
}

TEST_F(Autograd, InplaceOnMatmulOrReshapeCopyResult_IsAllowedAsInPyTorch) {
  // _unsafe_view and squeeze_ results share storage with a fresh tensor but are not views.
  Tensor w = Must(factory::from_values({1, 2, 3, 4, 5, 6}, {2, 3}, RequiresGrad()));
  Tensor x = Must(factory::ones({4, 2}));
  Tensor y = Must(ops::matmul(Must(ops::view(x, {2, 2, 2})), w));  // batched: UnsafeViewBackward0
  ASSERT_OK(ops::add_(y, Scalar(1)));
  EXPECT_EQ(y.grad_fn()->name(), "AddBackward0");
  Tensor v = Must(ops::matmul(Must(factory::ones({2})), w));  // 1-D @ 2-D: SqueezeBackward3
  ASSERT_OK(ops::mul_(v, Scalar(2)));
  ASSERT_OK(Backward(Must(ops::sum(v))));
  EXPECT_THAT(Values(w.grad()), ElementsAre(2, 2, 2, 2, 2, 2));
}

TEST_F(Autograd, DetachSharesVersionCounter_DataDoesNot) {
  Tensor x = Must(factory::ones({2}, RequiresGrad()));
  Tensor y = Must(ops::exp(x));
  Tensor d = y.detach();
  ASSERT_OK(ops::add_(d, Scalar(1)));  // bumps y's version too
  EXPECT_EQ(y.version(), 1u);
  EXPECT_FALSE(Backward(Must(ops::sum(y))).ok());
  Tensor y2 = Must(ops::exp(x));
  ASSERT_OK(ops::add_(y2.data(), Scalar(1)));  // invisible to autograd
  EXPECT_EQ(y2.version(), 0u);
  EXPECT_OK(Backward(Must(ops::sum(y2))));
}

TEST_F(Autograd, GradAccumulates_AndCanBeZeroedOrSet) {
  Tensor x = Must(factory::from_values({1, 2}, {2}, RequiresGrad()));
  for (int i = 0; i < 3; ++i) ASSERT_OK(Backward(Must(ops::sum(Must(ops::mul(x, x))))));
  EXPECT_THAT(Values(x.grad()), ElementsAre(6, 12));
  ASSERT_OK(ops::zero_(x.grad()));
  EXPECT_THAT(Values(x.grad()), ElementsAre(0, 0));
  ASSERT_OK(x.set_grad(Tensor()));
  EXPECT_FALSE(x.grad().defined());
  EXPECT_THAT(
      x.set_grad(Must(factory::ones({3}))),
      StatusIs(Code::kInvalidArgument, StrEq("assigned grad has data of a different size")));
  ASSERT_OK(x.set_grad(Must(factory::full({2}, 5))));
  ASSERT_OK(Backward(Must(ops::sum(x))));
  EXPECT_THAT(Values(x.grad()), ElementsAre(6, 6));
}

TEST_F(Autograd, GradOfUnusedInput_FailsUnlessAllowUnused) {
  Tensor a = Must(factory::ones({2}, RequiresGrad()));
  Tensor b = Must(factory::ones({2}, RequiresGrad()));
  Tensor s = Must(ops::sum(Must(ops::mul(a, Scalar(2)))));
  EXPECT_THAT(Grad({s}, {a, b}, {}, {.retain_graph = true}),
              StatusIs(Code::kInvalidArgument,
                       StrEq("One of the differentiated Tensors appears to not have been used in "
                             "the graph. Set allow_unused=True if this is the desired behavior.")));
  std::vector<Tensor> g = Must(Grad({s}, {a, b}, {}, {.allow_unused = true}));
  EXPECT_THAT(Values(g[0]), ElementsAre(2, 2));
  EXPECT_FALSE(g[1].defined());
  EXPECT_THAT(Grad({Must(ops::sum(Must(ops::mul(a, a))))}, {Must(factory::ones({2}))}),
              StatusIs(Code::kInvalidArgument,
                       StrEq("One of the differentiated Tensors does not require grad")));
}

TEST_F(Autograd, GradOfUnusedInput_FailsBeforeFreeingTheGraph) {
  // A failed request leaves the session as it was: the unused-input check fails the pass before
  // it releases the saved tensors (PyTorch frees them first, then raises). Found by fuzz_commands
  // (1,031,413 executions): the failed command changed the session's bytes.
  Tensor a = Must(factory::ones({2}, RequiresGrad()));
  Tensor b = Must(factory::ones({2}, RequiresGrad()));
  Tensor s = Must(ops::sum(Must(ops::mul(a, a))));  // MulBackward0 saves a (twice)
  EXPECT_THAT(Grad({s}, {a, b}, {}, {}),
              StatusIs(Code::kInvalidArgument, HasSubstr("not have been used")));
  std::vector<Tensor> g = Must(Grad({s}, {a}, {}, {}));  // the graph is still there
  EXPECT_THAT(Values(g[0]), ElementsAre(2, 2));
}

TEST_F(Autograd, BackwardWithInputs_AccumulatesOnlyIntoThem) {
  Tensor a = Must(factory::ones({2}, RequiresGrad()));
  Tensor b = Must(factory::ones({2}, RequiresGrad()));
  Tensor h = Must(ops::mul(a, Scalar(3)));
  Tensor s = Must(ops::sum(Must(ops::mul(h, b))));
  BackwardOptions opts;
  opts.inputs = {a};
  opts.retain_graph = true;
  ASSERT_OK(Backward(s, Tensor(), opts));
  EXPECT_THAT(Values(a.grad()), ElementsAre(3, 3));
  EXPECT_FALSE(b.grad().defined());
  opts.inputs = {h};  // a non-leaf input gets its .grad too
  ASSERT_OK(Backward(s, Tensor(), opts));
  EXPECT_THAT(Values(h.grad()), ElementsAre(1, 1));
  EXPECT_THAT(Values(a.grad()), ElementsAre(3, 3));
}

TEST_F(Autograd, DiamondGraph_SumsBothPaths) {
  Tensor x = Must(factory::from_values({2}, {1}, RequiresGrad()));
  Tensor a = Must(ops::mul(x, Scalar(3)));
  Tensor b = Must(ops::exp(x));
  Tensor s = Must(ops::sum(Must(ops::add(a, b))));
  ASSERT_OK(Backward(s));
  EXPECT_NEAR(Values(x.grad())[0], 3 + std::exp(2.0), 1e-5);
}

TEST_F(Autograd, MultiOutputOp_IndicesDoNotRequireGrad) {
  Tensor x = Must(factory::from_values({1, 5, 3, 4, 2, 6}, {2, 3}, RequiresGrad()));
  auto [values, indices] = Must(ops::max(x, 1));
  EXPECT_EQ(values.grad_fn()->name(), "MaxBackward0");
  EXPECT_FALSE(indices.requires_grad());
  EXPECT_THAT(Values(indices), ElementsAre(1, 2));
  ASSERT_OK(Backward(Must(ops::sum(values))));
  EXPECT_THAT(Values(x.grad()), ElementsAre(0, 1, 0, 0, 0, 1));
}

TEST_F(Autograd, BroadcastingGradient_IsReducedToInputShape) {
  Tensor a = Must(factory::ones({2, 3}, RequiresGrad()));
  Tensor b = Must(factory::ones({3}, RequiresGrad()));
  ASSERT_OK(Backward(Must(ops::sum(Must(ops::mul(a, b))))));
  EXPECT_EQ(b.grad().shape(), (Shape{3}));
  EXPECT_THAT(Values(b.grad()), ElementsAre(2, 2, 2));
}

TEST_F(Autograd, ToIntegerDtype_CutsTheGraph) {
  Tensor x = Must(factory::ones({2}, RequiresGrad()));
  Tensor i = Must(ops::to(x, DType::kInt64));
  EXPECT_FALSE(i.requires_grad());
  EXPECT_EQ(i.grad_fn(), nullptr);
  EXPECT_TRUE(Must(ops::to(x, DType::kFloat32)).is_same(x));  // same dtype: self
  EXPECT_EQ(Must(ops::to(x, DType::kFloat64)).grad_fn()->name(), "ToCopyBackward0");
}

TEST_F(Autograd, Printing_ShowsGradFnOrRequiresGrad) {
  Tensor x = Must(factory::from_values({1, 2}, {1, 2}, RequiresGrad()));
  EXPECT_EQ(x.ToString(), "tensor([[1., 2.]], requires_grad=True)");
  EXPECT_EQ(Must(ops::mul(x, x)).ToString(), "tensor([[1., 4.]], grad_fn=<MulBackward0>)");
}

}  // namespace
}  // namespace tensord
