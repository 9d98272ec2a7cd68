// Bad input returns the most specific status with PyTorch's text, never aborts, and leaves
// every tensor as it was.
#include "engine/api.h"
#include "engine/context.h"
#include "engine/dispatch.h"
#include "engine/factory.h"
#include "tests/support/test_util.h"

namespace tensord {
namespace {

using factory::TensorOptions;
using ::testing::HasSubstr;
using testing::Must;
using testing::StatusIs;
using ::testing::StrEq;
using testing::Values;
using Code = absl::StatusCode;

class Errors : public ::testing::Test {
 protected:
  Errors() : guard_(ctx_) {
    a_ = Must(
        factory::from_values({1, 2, 3, 4, 5, 6}, {2, 3}, TensorOptions().with_requires_grad()));
    b_ = Must(factory::from_values({1, 2, 3, 4}, {4}));
  }
  // Every test ends by checking that its inputs were not touched.
  void TearDown() override {
    EXPECT_EQ(Values(a_), (std::vector<double>{1, 2, 3, 4, 5, 6}));
    EXPECT_EQ(a_.version(), 0u);
    EXPECT_FALSE(a_.grad().defined());
    EXPECT_EQ(Values(b_), (std::vector<double>{1, 2, 3, 4}));
    EXPECT_EQ(b_.version(), 0u);
  }
  Context ctx_;
  ContextGuard guard_;
  Tensor a_, b_;
};

TEST_F(Errors, BroadcastMismatch) {
  EXPECT_THAT(ops::add(a_, b_),
              StatusIs(Code::kInvalidArgument,
                       StrEq("The size of tensor a (3) must match the size of tensor b (4) at "
                             "non-singleton dimension 1")));
}

TEST_F(Errors, MatmulShapes) {
  EXPECT_THAT(ops::mm(a_, a_),
              StatusIs(Code::kInvalidArgument,
                       StrEq("mat1 and mat2 shapes cannot be multiplied (2x3 and 2x3)")));
  EXPECT_THAT(ops::mm(a_, b_), StatusIs(Code::kInvalidArgument, StrEq("mat2 must be a matrix")));
  EXPECT_THAT(ops::matmul(a_, b_),
              StatusIs(Code::kInvalidArgument, StrEq("size mismatch, got 2, 2x3,4")));
  EXPECT_THAT(ops::dot(b_, Must(factory::ones({3}))),
              StatusIs(Code::kInvalidArgument, HasSubstr("inconsistent tensor size")));
  EXPECT_THAT(
      ops::matmul(Must(factory::ones({})), b_),
      StatusIs(Code::kInvalidArgument,
               StrEq("both arguments to matmul need to be at least 1D, but they are 0D and 1D")));
}

TEST_F(Errors, WrongDtype) {
  Tensor d = Must(factory::ones({3, 2}, TensorOptions().with_dtype(DType::kFloat64)));
  EXPECT_THAT(ops::mm(a_, d), StatusIs(Code::kInvalidArgument,
                                       StrEq("expected scalar type Float but found Double")));
  Tensor l = Must(factory::ones({2}, TensorOptions().with_dtype(DType::kInt64)));
  EXPECT_THAT(ops::mean(l), StatusIs(Code::kInvalidArgument,
                                     HasSubstr("Input dtype must be either a floating point")));
  Tensor m = Must(factory::ones({2}, TensorOptions().with_dtype(DType::kBool)));
  EXPECT_THAT(ops::sub(m, m), StatusIs(Code::kInvalidArgument,
                                       HasSubstr("with two bool tensors is not supported")));
  EXPECT_THAT(ops::neg(m),
              StatusIs(Code::kInvalidArgument, HasSubstr("on a bool tensor is not supported")));
  EXPECT_THAT(ops::where(a_, a_, a_),
              StatusIs(Code::kInvalidArgument, HasSubstr("boolean tensor")));
  EXPECT_THAT(ops::pow(l, Scalar(-1)),
              StatusIs(Code::kInvalidArgument,
                       StrEq("Integers to negative integer powers are not allowed.")));
}

TEST_F(Errors, BadDim) {
  EXPECT_THAT(
      ops::sum(a_, {5}),
      StatusIs(Code::kOutOfRange, StrEq("Dimension out of range (expected to be in range of "
                                        "[-2, 1], but got 5)")));
  EXPECT_THAT(ops::transpose(a_, 0, -3), StatusIs(Code::kOutOfRange, HasSubstr("but got -3")));
  EXPECT_THAT(ops::sum(a_, {0, -2}),
              StatusIs(Code::kInvalidArgument, HasSubstr("appears multiple times")));
  EXPECT_THAT(ops::t(Must(factory::ones({2, 2, 2}))),
              StatusIs(Code::kInvalidArgument,
                       StrEq("t() expects a tensor with <= 2 dimensions, but self is 3D")));
  EXPECT_THAT(
      ops::max(Must(factory::ones({0, 3})), 0),
      StatusIs(Code::kOutOfRange, StrEq("max(): Expected reduction dim 0 to have non-zero size.")));
}

TEST_F(Errors, OutOfRangeIndex) {
  EXPECT_THAT(
      ops::select(a_, 1, -4),
      StatusIs(Code::kOutOfRange,
               StrEq("select(): index -4 out of range for tensor of size [2, 3] at dimension 1")));
  EXPECT_THAT(ops::select(Must(factory::ones({})), 0, 0),
              StatusIs(Code::kOutOfRange, StrEq("select() cannot be applied to a 0-dim tensor.")));
  EXPECT_THAT(
      a_.ElementAt({2, 0}),
      StatusIs(Code::kOutOfRange, StrEq("index 2 is out of bounds for dimension 0 with size 2")));
  EXPECT_THAT(ops::slice(a_, 0, 0, 2, 0),
              StatusIs(Code::kInvalidArgument, StrEq("slice step must be positive")));
  EXPECT_THAT(a_.item<double>(),
              StatusIs(Code::kInvalidArgument, HasSubstr("only one element tensors")));
}

TEST_F(Errors, ViewsAndShapes) {
  EXPECT_THAT(ops::view(Must(ops::t(a_)), {6}),
              StatusIs(Code::kInvalidArgument, HasSubstr("view size is not compatible")));
  EXPECT_THAT(ops::view(a_, {5}), StatusIs(Code::kInvalidArgument,
                                           StrEq("shape '[5]' is invalid for input of size 6")));
  EXPECT_THAT(ops::view(a_, {-1, -1}),
              StatusIs(Code::kInvalidArgument, StrEq("only one dimension can be inferred")));
  EXPECT_THAT(
      ops::expand(b_, {2, 5}),
      StatusIs(Code::kInvalidArgument,
               StrEq("The expanded size of the tensor (5) must match the existing size (4) at "
                     "non-singleton dimension 1.  Target sizes: [2, 5].  Tensor sizes: [4]")));
  EXPECT_THAT(ops::expand(a_, {3}),
              StatusIs(Code::kInvalidArgument, HasSubstr("the number of sizes provided (1)")));
  EXPECT_THAT(ops::cat({a_, b_}),
              StatusIs(Code::kInvalidArgument,
                       StrEq("Tensors must have same number of dimensions: got 2 and 1")));
  EXPECT_THAT(
      ops::cat({a_, Must(factory::ones({2, 4}))}),
      StatusIs(Code::kInvalidArgument,
               StrEq("Sizes of tensors must match except in dimension 0. Expected size 3 but got "
                     "size 4 for tensor number 1 in the list.")));
  EXPECT_THAT(ops::cat({}), StatusIs(Code::kInvalidArgument,
                                     StrEq("torch.cat(): expected a non-empty list of Tensors")));
  EXPECT_THAT(factory::zeros({2, -1}),
              StatusIs(Code::kInvalidArgument, HasSubstr("negative dimension")));
  EXPECT_THAT(ops::mse_loss(a_, b_),
              StatusIs(Code::kInvalidArgument, HasSubstr("must match the size")));
}

TEST_F(Errors, UnknownOpAndBadAttributes) {
  EXPECT_THAT(Apply("frobnicate", {a_}),
              StatusIs(Code::kNotFound, HasSubstr("unknown op 'frobnicate'")));
  EXPECT_THAT(
      Apply("add", {a_}),
      StatusIs(Code::kInvalidArgument, StrEq("add() takes 2 tensor input(s) but 1 were given")));
  EXPECT_THAT(
      Apply("transpose", {a_}, Attrs{{"dim1", int64_t{0}}}),
      StatusIs(Code::kInvalidArgument, StrEq("transpose() missing required attribute 'dim0'")));
  EXPECT_THAT(Apply("sum_dim", {a_}, Attrs{{"dim", std::string("x")}}),
              StatusIs(Code::kInvalidArgument, StrEq("sum_dim(): attribute 'dim' must be int[]")));
  EXPECT_THAT(Apply("sum", {a_}, Attrs{{"bogus", int64_t{1}}}),
              StatusIs(Code::kInvalidArgument, StrEq("sum() got an unexpected attribute 'bogus'")));
  EXPECT_THAT(Apply("add", {a_, Tensor()}),
              StatusIs(Code::kInvalidArgument, HasSubstr("undefined")));
  EXPECT_THAT(ops::clamp(a_, std::nullopt, std::nullopt),
              StatusIs(Code::kInvalidArgument,
                       StrEq("torch.clamp: At least one of 'min' or 'max' must not be None")));
  EXPECT_THAT(ops::mse_loss(a_, a_, "avg"),
              StatusIs(Code::kInvalidArgument, StrEq("avg is not a valid value for reduction")));
  EXPECT_THAT(Apply("to", {a_}, Attrs{{"dtype", std::string("complex64")}}),
              StatusIs(Code::kInvalidArgument, HasSubstr("unknown dtype 'complex64'")));
}

TEST_F(Errors, InplaceByName_RunsOnFirstInput) {
  Tensor c = Must(factory::ones({3}));
  ASSERT_OK(Apply("add_", {c, b_}).status().ok()
                ? absl::InternalError("broadcast into [3] should fail")
                : absl::OkStatus());
  std::vector<Tensor> out = Must(Apply("mul_", {c, Must(factory::full({3}, 2))}));
  EXPECT_TRUE(out[0].is_same(c));
  EXPECT_EQ(Values(c), (std::vector<double>{2, 2, 2}));
}

}  // namespace
}  // namespace tensord
