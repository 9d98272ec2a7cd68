// PyTorch's autograd tutorial, cell by cell, in-process. Expected values are derived by hand
// (or by independent arithmetic in the test), never read back from the engine.
#include <cmath>

#include "engine/api.h"
#include "engine/autograd.h"
#include "engine/context.h"
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
using testing::Values;

TensorOptions RequiresGrad() { return TensorOptions().with_requires_grad(); }

class Tutorial : public ::testing::Test {
 protected:
  Tutorial() : ctx_(ContextOptions{.seed = 0}), guard_(ctx_) {}
  Context ctx_;
  ContextGuard guard_;
};

TEST_F(Tutorial, RequiresGrad_CanBeSetThreeWays) {
  Tensor a = Must(factory::ones({2}, RequiresGrad()));  // at creation
  Tensor b = Must(factory::ones({2}));
  ASSERT_OK(b.set_requires_grad(true));  // requires_grad_()
  Tensor c = Must(factory::ones({2}));
  EXPECT_FALSE(c.requires_grad());
  ASSERT_OK(c.set_requires_grad(true));  // c.requires_grad = True
  EXPECT_TRUE(a.requires_grad());
  EXPECT_TRUE(b.requires_grad());
  EXPECT_TRUE(c.requires_grad());
}

TEST_F(Tutorial, SumOfSum_BackwardGivesOnes) {
  Tensor a = Must(factory::from_values({1, 2, 3}, {3}, RequiresGrad()));
  Tensor b = Must(factory::from_values({4, 5, 6}, {3}, RequiresGrad()));
  Tensor s = Must(ops::sum(Must(ops::add(a, b))));
  EXPECT_EQ(Must(s.item<double>()), 21.0);
  ASSERT_OK(Backward(s));
  EXPECT_THAT(Values(a.grad()), ElementsAre(1, 1, 1));
  EXPECT_THAT(Values(b.grad()), ElementsAre(1, 1, 1));
}

TEST_F(Tutorial, RequiresGradPropagates_AndOnlyCreatedTensorsAreLeaves) {
  Tensor a = Must(factory::randn({3}, RequiresGrad()));
  Tensor b = Must(factory::randn({3}));
  Tensor c = Must(ops::add(a, b));
  EXPECT_TRUE(c.requires_grad());
  EXPECT_TRUE(a.is_leaf());
  EXPECT_TRUE(b.is_leaf());
  EXPECT_FALSE(c.is_leaf());
  EXPECT_EQ(a.grad_fn(), nullptr);
  ASSERT_NE(c.grad_fn(), nullptr);
  EXPECT_EQ(c.grad_fn()->name(), "AddBackward0");
  Tensor d = Must(ops::mul(b, b));
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(d.is_leaf());
}

TEST_F(Tutorial, XSquaredTimesExpX_GradientMatchesHandDerivative) {
  const std::vector<double> xs = {-2.0, -0.5, 0.0, 0.7, 1.5};
  Tensor x = Must(factory::from_values(xs, {5}, RequiresGrad().with_dtype(DType::kFloat64)));
  Tensor f = Must(ops::mul(Must(ops::pow(x, Scalar(2))), Must(ops::exp(x))));
  ASSERT_OK(Backward(f, Must(factory::ones_like(f))));
  std::vector<double> grad = Values(x.grad());
  for (size_t i = 0; i < xs.size(); ++i) {
    const double v = xs[i];
    EXPECT_NEAR(grad[i], 2 * v * std::exp(v) + v * v * std::exp(v), 1e-12) << "x=" << v;
  }
}

TEST_F(Tutorial, LinearLayer_GradFnAndNextFunctionsAsPyTorchPrintsThem) {
  Tensor x = Must(factory::ones({5}));
  Tensor y = Must(factory::zeros({3}));
  Tensor w = Must(factory::randn({5, 3}, RequiresGrad()));
  Tensor b = Must(factory::randn({3}, RequiresGrad()));
  Tensor z = Must(ops::add(Must(ops::matmul(x, w)), b));
  Tensor loss = Must(ops::binary_cross_entropy_with_logits(z, y));

  ASSERT_NE(z.grad_fn(), nullptr);
  EXPECT_EQ(z.grad_fn()->name(), "AddBackward0");
  EXPECT_EQ(loss.grad_fn()->name(), "BinaryCrossEntropyWithLogitsBackward0");
  // z.grad_fn.next_functions == ((SqueezeBackward3, 0), (AccumulateGrad, 0))
  const auto& next = z.grad_fn()->next_edges();
  ASSERT_EQ(next.size(), 2u);
  EXPECT_EQ(next[0].function->name(), "SqueezeBackward3");
  EXPECT_EQ(next[0].input_nr, 0u);
  EXPECT_EQ(DisplayName(*next[1].function), "AccumulateGrad");
  EXPECT_EQ(next[1].function->variable(), b.impl_ptr());
  // loss.grad_fn.next_functions == ((AddBackward0, 0), (None, 0))
  const auto& loss_next = loss.grad_fn()->next_edges();
  ASSERT_EQ(loss_next.size(), 2u);
  EXPECT_EQ(loss_next[0].function, z.grad_fn());
  EXPECT_FALSE(loss_next[1].valid());
  // MmBackward0.next_functions == ((None, 0), (AccumulateGrad, 0)): x does not require grad.
  const auto& mm = next[0].function->next_edges()[0].function;
  EXPECT_EQ(mm->name(), "MmBackward0");
  EXPECT_FALSE(mm->next_edges()[0].valid());
  EXPECT_EQ(mm->next_edges()[1].function->variable(), w.impl_ptr());

  ASSERT_OK(Backward(loss));
  // d loss / d w[i][j] = x[i] * (sigmoid(z[j]) - y[j]) / 3, with x = 1 and y = 0.
  std::vector<double> zv = Values(z);
  std::vector<double> wg = Values(w.grad()), bg = Values(b.grad());
  for (int j = 0; j < 3; ++j) {
    const double expected = 1.0 / (1.0 + std::exp(-zv[j])) / 3.0;
    EXPECT_NEAR(bg[j], expected, 1e-6);
    for (int i = 0; i < 5; ++i) EXPECT_NEAR(wg[i * 3 + j], expected, 1e-6);
  }
}

TEST_F(Tutorial, RetainGraph_SecondBackwardAccumulatesAndThirdFails) {
  Tensor inp = Must(factory::eye(4, 5, RequiresGrad()));
  Tensor out = Must(ops::t(Must(ops::pow(Must(ops::add(inp, Scalar(1))), Scalar(2)))));
  Tensor ones = Must(factory::ones_like(out));
  BackwardOptions retain;
  retain.retain_graph = true;
  ASSERT_OK(Backward(out, ones, retain));
  std::vector<double> first = Values(inp.grad());
  // d/dinp (inp+1)^2 = 2 (inp + 1): 4 on the diagonal, 2 elsewhere.
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 5; ++j) EXPECT_EQ(first[i * 5 + j], i == j ? 4.0 : 2.0);
  ASSERT_OK(Backward(out, ones, retain));
  std::vector<double> second = Values(inp.grad());
  for (size_t k = 0; k < first.size(); ++k) EXPECT_EQ(second[k], 2 * first[k]);
  ASSERT_OK(inp.grad().impl() ? ops::zero_(inp.grad()) : absl::OkStatus());
  ASSERT_OK(Backward(out, ones));  // frees the graph
  EXPECT_EQ(Values(inp.grad()), first);
  EXPECT_THAT(Backward(out, ones),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("Trying to backward through the graph a second time")));
  // The failed call changed nothing.
  EXPECT_EQ(Values(inp.grad()), first);
}

TEST_F(Tutorial, DynamicGraph_AbsAndProductLoop) {
  // def f(x): if x.data[0] > 0: return x.abs() ... ; product loop over arange(-2, 4)
  Tensor x = Must(factory::from_values({-2, -1, 0, 1, 2, 3}, {6}, RequiresGrad()));
  // y = x.prod() built with a Python-style loop: y = x[0] * x[1] * ...
  Tensor abs_or_x = Must(x.data().ElementAt({0})) > 0 ? Must(ops::abs(x)) : x;
  EXPECT_TRUE(abs_or_x.is_same(x));  // x[0] = -2, so the branch was not taken
  Tensor y = Must(factory::ones({}, TensorOptions()));
  std::vector<Tensor> items = Must(ops::unbind(x, 0));
  for (const Tensor& xi : items) {
    if (Must(xi.item<double>()) > 0) y = Must(ops::mul(y, xi));
  }
  ASSERT_OK(Backward(y));
  // y = 1 * 2 * 3 over the positive elements: d/dx = [0, 0, 0, 6, 3, 2].
  EXPECT_THAT(Values(x.grad()), ElementsAre(0, 0, 0, 6, 3, 2));
  EXPECT_EQ(items[0].grad_fn()->name(), "UnbindBackward0");
}

TEST_F(Tutorial, NoGradAndSetGradEnabled_StopRecording) {
  Tensor x = Must(factory::randn({3}, RequiresGrad()));
  {
    NoGradGuard no_grad;
    Tensor y = Must(ops::mul(x, Scalar(2)));
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
  }
  {
    AutoGradMode off(false);
    Tensor y = Must(ops::mul(x, Scalar(2)));
    EXPECT_FALSE(y.requires_grad());
    {
      AutoGradMode on(true);
      EXPECT_TRUE(Must(ops::mul(x, Scalar(2))).requires_grad());
    }
    EXPECT_FALSE(GradModeEnabled());
  }
  EXPECT_TRUE(GradModeEnabled());
  EXPECT_TRUE(Must(ops::mul(x, Scalar(2))).requires_grad());
  // detach() also gives a tensor without history.
  Tensor z = Must(ops::mul(x, Scalar(2))).detach();
  EXPECT_FALSE(z.requires_grad());
}

TEST_F(Tutorial, DataWrites_AreNotRecordedOrDetected) {
  Tensor x = Must(factory::from_values({1, 2, 3}, {3}, RequiresGrad()));
  Tensor y = Must(ops::exp(x));  // saves its output
  ASSERT_OK(ops::mul_(y.data(), Scalar(10)));
  EXPECT_EQ(x.data().requires_grad(), false);
  EXPECT_TRUE(x.data().is_leaf());
  // .data shares storage: the write is visible, and backward uses the modified values.
  ASSERT_OK(Backward(Must(ops::sum(y))));
  std::vector<double> g = Values(x.grad());
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(g[i], 10 * std::exp(i + 1.0), 1e-3);
}

TEST_F(Tutorial, LinearRegression_LearnsSlopeAndIntercept) {
  // y = 2x + 3 + noise, trained with backward, w.data.sub_(lr * w.grad), grad.zero_().
  Tensor xs = Must(factory::linspace(-1, 1, 100));
  xs = Must(ops::unsqueeze(xs, 1));
  Tensor noise = Must(factory::normal(0, 0.1, {100, 1}));
  Tensor ys = Must(ops::add(Must(ops::add(Must(ops::mul(xs, Scalar(2.0))), Scalar(3.0))), noise));
  Tensor w = Must(factory::zeros({1}, RequiresGrad()));
  Tensor b = Must(factory::zeros({1}, RequiresGrad()));
  const double lr = 0.1;
  double first_loss = 0, last_loss = 0;
  for (int step = 0; step < 500; ++step) {
    Tensor pred = Must(ops::add(Must(ops::mul(xs, w)), b));
    Tensor loss = Must(ops::mse_loss(pred, ys));
    if (step == 0) first_loss = Must(loss.item<double>());
    last_loss = Must(loss.item<double>());
    ASSERT_OK(Backward(loss));
    {
      NoGradGuard no_grad;
      ASSERT_OK(ops::sub_(w.data(), Must(ops::mul(w.grad(), Scalar(lr)))));
      ASSERT_OK(ops::sub_(b.data(), Must(ops::mul(b.grad(), Scalar(lr)))));
    }
    ASSERT_OK(ops::zero_(w.grad()));
    ASSERT_OK(ops::zero_(b.grad()));
  }
  EXPECT_NEAR(Must(w.item<double>()), 2.0, 0.1);
  EXPECT_NEAR(Must(b.item<double>()), 3.0, 0.1);
  EXPECT_LT(last_loss, first_loss / 100);
}

TEST_F(Tutorial, AutogradGradAndRetainGrad_ShowNonLeafGradient) {
  Tensor x = Must(factory::from_values({1, 2, 3}, {3}, RequiresGrad()));
  Tensor y = Must(ops::mul(x, x));
  ASSERT_OK(y.retain_grad());
  Tensor z = Must(ops::sum(Must(ops::mul(y, Scalar(3)))));
  std::vector<Tensor> g = Must(Grad({z}, {y}, {}, GradOptions{.retain_graph = true}));
  EXPECT_THAT(Values(g[0]), ElementsAre(3, 3, 3));
  EXPECT_FALSE(x.grad().defined());  // autograd.grad does not touch .grad of leaves
  EXPECT_FALSE(y.grad().defined());  // y's node did not run, so its retain hook did not either
  ASSERT_OK(Backward(z));
  EXPECT_THAT(Values(y.grad()), ElementsAre(3, 3, 3));
  EXPECT_THAT(Values(x.grad()), ElementsAre(6, 12, 18));
  // Non-leaf without retain_grad: .grad stays None.
  Tensor w = Must(ops::mul(x, Scalar(2)));
  ASSERT_OK(Backward(Must(ops::sum(w))));
  EXPECT_FALSE(w.grad().defined());
}

TEST_F(Tutorial, GradientsOfGradients_CreateGraph) {
  // f = x^3: f' = 3x^2, f'' = 6x.
  Tensor x = Must(factory::from_values({2.0}, {1}, RequiresGrad().with_dtype(DType::kFloat64)));
  Tensor f = Must(ops::sum(Must(ops::pow(x, Scalar(3)))));
  std::vector<Tensor> d1 = Must(Grad({f}, {x}, {}, GradOptions{.create_graph = true}));
  EXPECT_EQ(Must(d1[0].item<double>()), 12.0);
  EXPECT_TRUE(d1[0].requires_grad());
  std::vector<Tensor> d2 = Must(Grad({Must(ops::sum(d1[0]))}, {x}));
  EXPECT_EQ(Must(d2[0].item<double>()), 12.0);
  // backward(create_graph=True) leaves a differentiable .grad.
  BackwardOptions opts;
  opts.create_graph = true;
  ASSERT_OK(Backward(f, Tensor(), opts));
  EXPECT_NE(x.grad().grad_fn(), nullptr);
}

}  // namespace
}  // namespace tensord
