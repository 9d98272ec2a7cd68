// The factory family as table ops (engine/ops/factory.cc): the dtype each infers when dtype is
// None (as at::full, at::arange and randint's schema do), requires_grad as PyTorch's Python
// bindings apply it, the TensorOptions the engine refuses, and uniform_ derived in place.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/context.h"
#include "engine/dispatch.h"
#include "engine/factory.h"
#include "engine/op_def.h"
#include "tests/support/test_util.h"

namespace tensord {
namespace {

using Code = absl::StatusCode;
using ::testing::HasSubstr;
using testing::Must;
using testing::StatusIs;
using Ints = std::vector<int64_t>;

Tensor Make(absl::string_view op, std::vector<Tensor> inputs, const Attrs& attrs) {
  return Must(Apply(op, std::move(inputs), attrs)).at(0);
}

class FactoryOps : public ::testing::Test {
 protected:
  Context ctx_;
  ContextGuard guard_{ctx_};
};

TEST_F(FactoryOps, DtypeNone_IsInferredAsATenDoes) {
  EXPECT_EQ(Make("zeros", {}, {{"size", Ints{2}}}).dtype(), DType::kFloat32);
  EXPECT_EQ(Make("full", {}, {{"size", Ints{2}}, {"fill_value", int64_t{3}}}).dtype(),
            DType::kInt64);
  EXPECT_EQ(Make("full", {}, {{"size", Ints{2}}, {"fill_value", true}}).dtype(), DType::kBool);
  EXPECT_EQ(Make("full", {}, {{"size", Ints{2}}, {"fill_value", 0.5}}).dtype(), DType::kFloat32);
  EXPECT_EQ(Make("arange", {}, {{"end", int64_t{4}}}).dtype(), DType::kInt64);
  EXPECT_EQ(
      Make("arange_start_step", {}, {{"start", int64_t{0}}, {"end", int64_t{4}}, {"step", 0.5}})
          .dtype(),
      DType::kFloat32);
  EXPECT_EQ(Make("randint", {}, {{"high", int64_t{4}}, {"size", Ints{3}}}).dtype(), DType::kInt64);
  const Tensor self =
      Must(factory::zeros({2, 3}, factory::TensorOptions().with_dtype(DType::kFloat64)));
  const Tensor like = Make("full_like", {self}, {{"fill_value", int64_t{1}}});
  EXPECT_EQ(like.dtype(), DType::kFloat64);
  EXPECT_EQ(like.shape(), (Shape{2, 3}));
}

TEST_F(FactoryOps, RequiresGradTrue_GivesALeafThatRequiresGrad) {
  const Tensor t = Make("randn", {}, {{"size", Ints{2}}, {"requires_grad", true}});
  EXPECT_TRUE(t.requires_grad());
  EXPECT_TRUE(t.is_leaf());
  EXPECT_EQ(t.grad_fn(), nullptr);
  EXPECT_FALSE(Make("ones", {}, {{"size", Ints{2}}}).requires_grad());
}

TEST_F(FactoryOps, RequiresGradOnAnIntegerResult_IsRefusedWithTorchsText) {
  EXPECT_THAT(Apply("arange", {}, {{"end", int64_t{3}}, {"requires_grad", true}}),
              StatusIs(Code::kInvalidArgument,
                       "Only Tensors of floating point and complex dtype can require gradients"));
}

TEST_F(FactoryOps, LikeForms_NeitherRecordNorInheritRequiresGrad) {
  Tensor x = Must(factory::ones({3}));
  Must(x.set_requires_grad(true));
  const Tensor z = Make("zeros_like", {x}, {});
  EXPECT_FALSE(z.requires_grad());
  EXPECT_EQ(z.grad_fn(), nullptr);
}

TEST_F(FactoryOps, OptionsTheEngineHasNoChoiceFor_AreUnimplemented) {
  EXPECT_THAT(Apply("zeros", {}, {{"size", Ints{2}}, {"pin_memory", true}}),
              StatusIs(Code::kUnimplemented, HasSubstr("pin_memory=True")));
  EXPECT_THAT(Apply("zeros", {}, {{"size", Ints{2}}, {"device", std::string("cuda")}}),
              StatusIs(Code::kUnimplemented, HasSubstr("device='cpu'")));
  EXPECT_THAT(Apply("normal", {},
                    {{"mean", 0.0}, {"std", 1.0}, {"size", Ints{2}}, {"generator", int64_t{1}}}),
              StatusIs(Code::kUnimplemented, HasSubstr("generator=")));
}

TEST_F(FactoryOps, Uniform_InPlace_FillsWithinTheBounds) {
  Tensor x = Must(factory::zeros({50}));
  const uint32_t before = x.version();
  Must(Apply("uniform_", {x}, {{"from", 2.0}, {"to", 3.0}}).status());
  EXPECT_EQ(x.version(), before + 1);
  for (double v : testing::Values(x)) {
    EXPECT_GE(v, 2.0);
    EXPECT_LT(v, 3.0);
  }
}

TEST_F(FactoryOps, SameSeed_SameNumbers) {
  ContextOptions o;
  o.seed = 7;
  auto draw = [&] {
    Context c(o);
    ContextGuard g(c);
    return testing::Values(Make("rand", {}, {{"size", Ints{4}}}));
  };
  EXPECT_EQ(draw(), draw());
}

}  // namespace
}  // namespace tensord
