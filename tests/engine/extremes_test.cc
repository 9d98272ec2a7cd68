// Shape arithmetic at the extremes: every op of the table, called with every int / int-list /
// float / number attribute replaced by extreme values (0, ±1, INT64_MIN, INT64_MAX, 2^31, 2^62,
// and NaN, ±inf for floats) and with inputs that have no elements but huge other sizes
// ([0, 2^62] and the like), either refuses the call or returns tensors whose sizes are
// non-negative, whose element count and byte size are exact in int64 and whose elements lie in
// their storage — quickly, without crashing. Then one named test per finding of the review.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/api.h"
#include "engine/autograd.h"
#include "engine/cancel.h"
#include "engine/checked_math.h"
#include "engine/context.h"
#include "engine/dispatch.h"
#include "engine/factory.h"
#include "engine/op_def.h"
#include "engine/status_macros.h"
#include "tests/support/op_samples.h"
#include "tests/support/test_util.h"

namespace tensord::testing {
namespace {

using ::testing::HasSubstr;
using Code = absl::StatusCode;

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t k2p31 = int64_t{1} << 31;
constexpr int64_t k2p62 = int64_t{1} << 62;
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

const std::vector<int64_t>& IntExtremes() {
  static const std::vector<int64_t> v{0, 1, -1, kMin, kMax, k2p31, k2p62, -k2p62};
  return v;
}
const std::vector<double>& DoubleExtremes() {
  static const std::vector<double> v{0.0,   1.0,   -1.0,   -0.0,   kNaN,    kInf,
                                     -kInf, 1e300, -1e300, 9.3e18, -9.3e18, 4.6e18};
  return v;
}

// A call's budget: far more than any of these calls needs, far less than a hang.
constexpr absl::Duration kCallLimit = absl::Seconds(10);

// Every tensor an op returns: sizes >= 0, checked element count and byte size equal to what the
// tensor reports, non-negative strides, and (with elements) its last element inside its storage.
void ExpectSane(const Tensor& t, const std::string& what) {
  ASSERT_TRUE(t.defined()) << what;
  for (int64_t d : t.shape()) ASSERT_GE(d, 0) << what << " shape " << ShapeToString(t.shape());
  absl::StatusOr<int64_t> numel = CheckedNumel(t.shape());
  ASSERT_TRUE(numel.ok()) << what << " shape " << ShapeToString(t.shape()) << ": "
                          << numel.status();
  ASSERT_EQ(*numel, t.numel()) << what;
  ASSERT_TRUE(CheckTensorShape(t.shape(), t.dtype()).ok()) << what;
  ASSERT_EQ(t.strides().size(), t.shape().size()) << what;
  ASSERT_GE(t.storage_offset(), 0) << what;
  const int64_t item = static_cast<int64_t>(ItemSize(t.dtype()));
  if (*numel == 0) {
    ASSERT_LE(t.storage_offset() * item, t.impl()->storage->nbytes()) << what;
    return;
  }
  int64_t last = t.storage_offset();
  for (size_t d = 0; d < t.shape().size(); ++d) {
    ASSERT_GE(t.strides()[d], 0) << what;
    int64_t reach;
    ASSERT_TRUE(CheckedMul(t.shape()[d] - 1, t.strides()[d], &reach)) << what;
    ASSERT_TRUE(CheckedAdd(last, reach, &last)) << what;
  }
  int64_t end_bytes;
  ASSERT_TRUE(CheckedMul(last + 1, item, &end_bytes)) << what;
  ASSERT_LE(end_bytes, t.impl()->storage->nbytes())
      << what << ": the last element lies outside the storage; shape " << ShapeToString(t.shape())
      << " strides " << ShapeToString(t.strides());
  (void)t.ToString();  // printing reads (a summary of) the elements
}

absl::Status Stopped(bool deadline_passed) {
  return deadline_passed ? absl::DeadlineExceededError("the call ran past its limit")
                         : absl::OkStatus();
}

// Runs one call (by wire or in-place name) under a deadline and checks what comes back; with
// `backward`, also differentiates the sum of its first floating output.
void Check(absl::string_view name, const std::vector<Tensor>& inputs, const Attrs& attrs,
           const std::string& what, bool backward = false) {
  SCOPED_TRACE(what);
  const absl::Time start = absl::Now();
  absl::StatusOr<std::vector<Tensor>> out;
  {
    CancellationScope limit(start + kCallLimit, Stopped);
    out = Apply(name, inputs, attrs);
  }
  const absl::Duration took = absl::Now() - start;
  ASSERT_LT(took, kCallLimit) << what << " took " << took;
  if (!out.ok()) {
    // A refusal is fine; being stopped by the deadline is not (the call ran far too long).
    ASSERT_NE(out.status().code(), Code::kDeadlineExceeded) << what << ": " << out.status();
    ASSERT_NE(out.status().code(), Code::kUnknown) << what << ": " << out.status();
    ASSERT_NE(out.status().code(), Code::kInternal) << what << ": " << out.status();
    return;
  }
  for (size_t i = 0; i < out->size(); ++i) ExpectSane((*out)[i], absl::StrCat(what, " output ", i));
  // Differentiating a huge (expanded) result is real work in proportion to its size.
  if (!backward || out->empty() || !(*out)[0].requires_grad() || (*out)[0].numel() > (1 << 20))
    return;
  std::vector<Tensor> wrt;
  for (const Tensor& t : inputs)
    if (t.requires_grad()) wrt.push_back(t);
  if (wrt.empty()) return;
  const absl::Time bstart = absl::Now();
  absl::StatusOr<std::vector<Tensor>> grads;
  {
    CancellationScope limit(bstart + kCallLimit, Stopped);
    absl::StatusOr<Tensor> total = ops::sum((*out)[0]);
    if (!total.ok()) return;
    GradOptions options;
    options.allow_unused = true;
    grads = Grad({*total}, wrt, {}, options);
  }
  ASSERT_LT(absl::Now() - bstart, kCallLimit) << what << " (backward)";
  if (!grads.ok()) {
    ASSERT_NE(grads.status().code(), Code::kDeadlineExceeded) << what << ": " << grads.status();
    return;
  }
  for (size_t i = 0; i < grads->size(); ++i) {
    if (!(*grads)[i].defined()) continue;
    ExpectSane((*grads)[i], absl::StrCat(what, " grad ", i));
    EXPECT_EQ((*grads)[i].shape(), wrt[i].shape()) << what << " grad " << i;
  }
}

// The attribute's values to try: each extreme in place of the value (for a list: in place of
// each entry, and as the whole list).
std::vector<AttrValue> ExtremeValues(const AttrSpec& spec, const Attrs& sample_attrs) {
  std::vector<AttrValue> values;
  switch (spec.type) {
    case AttrType::kInt:
      for (int64_t v : IntExtremes()) values.emplace_back(v);
      break;
    case AttrType::kDouble:
      for (double v : DoubleExtremes()) values.emplace_back(v);
      for (int64_t v : IntExtremes()) values.emplace_back(static_cast<double>(v));
      break;
    case AttrType::kScalar:
      for (int64_t v : IntExtremes()) values.emplace_back(v);
      for (double v : DoubleExtremes()) values.emplace_back(v);
      break;
    case AttrType::kInts: {
      std::vector<int64_t> base;
      const AttrValue* given = sample_attrs.Find(spec.name);
      if (given != nullptr && std::holds_alternative<std::vector<int64_t>>(*given)) {
        base = std::get<std::vector<int64_t>>(*given);
      } else if (std::holds_alternative<std::vector<int64_t>>(spec.default_value)) {
        base = std::get<std::vector<int64_t>>(spec.default_value);
      }
      for (int64_t v : IntExtremes()) {
        for (size_t i = 0; i < base.size(); ++i) {
          std::vector<int64_t> changed = base;
          changed[i] = v;
          values.emplace_back(changed);
        }
        values.emplace_back(std::vector<int64_t>{v});
        values.emplace_back(std::vector<int64_t>{v, v});
        values.emplace_back(std::vector<int64_t>{v, 0});
        values.emplace_back(std::vector<int64_t>{0, v, 4});
      }
      values.emplace_back(std::vector<int64_t>{k2p62, 4});
      values.emplace_back(std::vector<int64_t>{k2p31, k2p31, 4});
      values.emplace_back(std::vector<int64_t>{int64_t{1} << 32, int64_t{1} << 32});
      break;
    }
    default:
      break;
  }
  return values;
}

std::string Describe(const AttrValue& v) {
  Attrs a;
  a.Set("v", v);
  return a.DebugString();
}

// Zero-element stand-ins for an input of rank >= 2: each dim set to 0 in turn, with another dim
// set to a huge size (a [0, 2^62] tensor is allowed: it has no elements).
std::vector<Shape> ZeroSizeHugeShapes(const Shape& shape) {
  std::vector<Shape> out;
  if (shape.empty()) return out;
  if (shape.size() == 1) return {Shape{0}};
  for (size_t zero = 0; zero < shape.size(); ++zero) {
    for (size_t huge = 0; huge < shape.size(); ++huge) {
      if (huge == zero) continue;
      Shape s = shape;
      s[zero] = 0;
      s[huge] = 1;
      const int64_t rest = *CheckedExtent(s);  // the other sizes, 0 counted as 1
      for (int64_t h : {k2p31, k2p62, kMax}) {
        // As large as a tensor may have it: the size product (0 as 1) must fit in int64.
        s[huge] = std::min(h, kMax / rest);
        if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
      }
    }
  }
  return out;
}

// A zero-element tensor of `shape` (requires grad when `like` does).
Tensor ZeroSizeLike(const Tensor& like, const Shape& shape) {
  Tensor t = Must(factory::zeros(shape, factory::TensorOptions().with_dtype(like.dtype())));
  if (like.requires_grad()) Must(t.set_requires_grad(true));
  return t;
}

// Shapes for every input at once: the same zero/huge pattern on the trailing dims of each.
std::vector<std::vector<Shape>> JointZeroSizeShapes(const std::vector<Tensor>& inputs) {
  size_t rank = 0;
  for (const Tensor& t : inputs) rank = std::max(rank, t.shape().size());
  std::vector<std::vector<Shape>> out;
  if (rank == 0) return out;
  Shape ref(rank, 2);
  for (const Shape& pattern : ZeroSizeHugeShapes(ref)) {
    std::vector<Shape> shapes;
    bool empty = true;
    for (const Tensor& t : inputs) {
      const size_t r = t.shape().size();
      shapes.emplace_back(pattern.end() - static_cast<int64_t>(r), pattern.end());
      // 0-dim inputs stay as they are; a lower-rank input must still have no elements.
      if (r > 0 && NumElements(shapes.back()) != 0) empty = false;
    }
    if (empty) out.push_back(std::move(shapes));
  }
  return out;
}

class Extremes : public ::testing::TestWithParam<std::string> {
 protected:
  Extremes() : ctx_(Options()), guard_(ctx_) {}
  static ContextOptions Options() {
    ContextOptions o;
    o.memory_limit_bytes = int64_t{256} << 20;  // a huge result is refused, not allocated
    return o;
  }
  Context ctx_;
  ContextGuard guard_;
};

std::vector<Tensor> SampleInputs(const OpSample& sample, uint64_t seed) {
  std::vector<Tensor> inputs = Must(MakeInputs(sample, DType::kFloat32, seed));
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (sample.inputs[i].differentiable && IsFloating(inputs[i].dtype())) {
      Must(inputs[i].set_requires_grad(true));
    }
  }
  return inputs;
}

std::vector<Tensor> Clones(const std::vector<Tensor>& inputs) {
  std::vector<Tensor> out;
  for (const Tensor& t : inputs) {
    Tensor c = Must(ops::clone(t.detach()));
    out.push_back(c);
  }
  return out;
}

TEST_P(Extremes, ExtremeAttributes_AreRefusedOrGiveSaneTensorsQuickly) {
  const OpDef& def = *Must(FindOp(GetParam()));
  const std::vector<OpSample> samples = SamplesFor(GetParam());
  ASSERT_FALSE(samples.empty());
  for (const OpSample& sample : samples) {
    const std::vector<Tensor> inputs = SampleInputs(sample, 7);
    for (const AttrSpec& spec : def.attrs) {
      for (const AttrValue& v : ExtremeValues(spec, sample.attrs)) {
        Attrs attrs = sample.attrs;
        attrs.Set(spec.name, v);
        const std::string what =
            absl::StrCat(def.name, "/", sample.label, " ", spec.name, "=", Describe(v));
        Check(def.name, inputs, attrs, what, /*backward=*/true);
        if (!def.inplace_name.empty()) {
          Check(def.inplace_name, Clones(inputs), attrs, absl::StrCat(what, " (in place)"));
        }
        if (HasFatalFailure()) return;  // the first failure is enough (a hang costs seconds)
      }
    }
  }
}

TEST_P(Extremes, ZeroSizeInputsWithHugeSizes_AreRefusedOrGiveSaneTensorsQuickly) {
  const OpDef& def = *Must(FindOp(GetParam()));
  for (const OpSample& sample : SamplesFor(GetParam())) {
    const std::vector<Tensor> inputs = SampleInputs(sample, 11);
    // One input at a time.
    for (size_t i = 0; i < inputs.size(); ++i) {
      for (const Shape& shape : ZeroSizeHugeShapes(inputs[i].shape())) {
        std::vector<Tensor> changed = inputs;
        changed[i] = ZeroSizeLike(inputs[i], shape);
        Check(def.name, changed, sample.attrs,
              absl::StrCat(def.name, "/", sample.label, " input ", i, " ", ShapeToString(shape)),
              /*backward=*/true);
        if (HasFatalFailure()) return;
      }
    }
    // All inputs with the same pattern (so that broadcasting ops succeed), under every extreme
    // attribute as well.
    for (const std::vector<Shape>& shapes : JointZeroSizeShapes(inputs)) {
      std::vector<Tensor> changed;
      std::string label = absl::StrCat(def.name, "/", sample.label, " inputs");
      for (size_t i = 0; i < inputs.size(); ++i) {
        changed.push_back(inputs[i].dim() == 0 ? inputs[i] : ZeroSizeLike(inputs[i], shapes[i]));
        absl::StrAppend(&label, " ", ShapeToString(changed.back().shape()));
      }
      Check(def.name, changed, sample.attrs, label, /*backward=*/true);
      if (!def.inplace_name.empty()) {
        Check(def.inplace_name, Clones(changed), sample.attrs, label + " (in place)");
      }
      if (HasFatalFailure()) return;
      for (const AttrSpec& spec : def.attrs) {
        for (const AttrValue& v : ExtremeValues(spec, sample.attrs)) {
          Attrs attrs = sample.attrs;
          attrs.Set(spec.name, v);
          Check(def.name, changed, attrs, absl::StrCat(label, " ", spec.name, "=", Describe(v)));
          if (HasFatalFailure()) return;
        }
      }
    }
  }
}

std::vector<std::string> OpNames() {
  std::vector<std::string> names;
  for (const OpDef& def : OpTable()) names.emplace_back(def.name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(EveryOp, Extremes, ::testing::ValuesIn(OpNames()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (char& c : name)
                             if (c == '_') c = 'X';  // gtest names: no underscores
                           return name;
                         });

// ---- the review's findings, one test each ------------------------------------------------------

absl::StatusOr<Tensor> CallOp(absl::string_view op, std::vector<Tensor> inputs,
                              const Attrs& attrs = {}) {
  TD_ASSIGN_OR_RETURN(std::vector<Tensor> out, Apply(op, std::move(inputs), attrs));
  return out.at(0);
}
absl::StatusOr<Tensor> Call2(absl::string_view op, const Tensor& a, const Tensor& b) {
  return CallOp(op, {a, b});
}

class ExtremeRegressions : public ::testing::Test {
 protected:
  ExtremeRegressions() : guard_(ctx_) {}
  static Tensor Int64(std::vector<double> values, Shape shape) {
    return Must(
        factory::from_values(values, shape, factory::TensorOptions().with_dtype(DType::kInt64)));
  }
  Context ctx_;
  ContextGuard guard_;
};

// 1. PyTorch 1.13 itself dies with SIGFPE here; the answer is 0 (-1 divides every integer).
TEST_F(ExtremeRegressions, RemainderAndFmodOfInt64MinByMinusOne_AreZeroInsteadOfATrap) {
  const Tensor min = Must(factory::full({3}, -9223372036854775808.0,
                                        factory::TensorOptions().with_dtype(DType::kInt64)));
  ASSERT_EQ(min.ToVector<int64_t>()[0], kMin);
  const Tensor minus_one = Int64({-1, -1, -1}, {3});
  for (const char* op : {"remainder", "fmod"}) {
    SCOPED_TRACE(op);
    const Tensor r = Must(Call2(op, min, minus_one));
    EXPECT_EQ(r.dtype(), DType::kInt64);
    EXPECT_EQ(r.ToVector<int64_t>(), (std::vector<int64_t>{0, 0, 0}));
    // Broadcast from a 0-dim divisor, and the other signs, still exact.
    const Tensor q = Must(Call2(op, Int64({-7, 7, -8}, {3}), Int64({-1}, {})));
    EXPECT_EQ(q.ToVector<int64_t>(), (std::vector<int64_t>{0, 0, 0}));
  }
  // Python's signs: remainder takes the divisor's, fmod the dividend's.
  EXPECT_EQ(Must(Call2("remainder", Int64({-7, 7}, {2}), Int64({2, -2}, {2}))).ToVector<int64_t>(),
            (std::vector<int64_t>{1, -1}));
  EXPECT_EQ(Must(Call2("fmod", Int64({-7, 7}, {2}), Int64({2, -2}, {2}))).ToVector<int64_t>(),
            (std::vector<int64_t>{-1, 1}));
}

TEST_F(ExtremeRegressions, IntegerArithmeticAtInt64Limits_WrapsAsPyTorchWithoutUndefinedBehaviour) {
  const Tensor max = Int64({0}, {1});
  Must(ops::fill_(max, Scalar(kMax)));
  ASSERT_EQ(max.ToVector<int64_t>()[0], kMax);
  EXPECT_EQ(Must(ops::add(max, Scalar(int64_t{1}))).ToVector<int64_t>()[0], kMin);  // PyTorch
  EXPECT_EQ(Must(ops::mul(max, Scalar(int64_t{2}))).ToVector<int64_t>()[0], -2);
  const Tensor min = Must(ops::add(max, Scalar(int64_t{1})));
  EXPECT_EQ(Must(ops::neg(min)).ToVector<int64_t>()[0], kMin);  // torch.neg(tensor([-2**63]))
  EXPECT_EQ(Must(ops::abs(min)).ToVector<int64_t>()[0], kMin);
  // torch.pow(tensor([3]), 2**63 - 1) == -6148914691236517205
  EXPECT_EQ(Must(ops::pow(Int64({3}, {1}), Scalar(kMax))).ToVector<int64_t>()[0],
            -6148914691236517205);
  // An int64 clamp bound keeps all its bits (it does not go through a double).
  EXPECT_EQ(Must(CallOp("clamp", {max}, Attrs{{"max", kMax - 1}})).ToVector<int64_t>()[0],
            kMax - 1);
}

// 2. A [0, 2^62] tensor has no elements: scans, softmax and friends return at once.
TEST_F(ExtremeRegressions, ZeroSizeTensorWithHugeDims_ScansSoftmaxAndBatchesReturnAtOnce) {
  const Tensor z = Must(factory::zeros({0, k2p62}));
  for (const char* op : {"softmax", "log_softmax", "cumsum"}) {
    for (int64_t dim : {0, 1, -1}) {
      SCOPED_TRACE(absl::StrCat(op, " dim ", dim));
      const absl::Time start = absl::Now();
      const Tensor r = Must(Apply1(*Must(FindOp(op)), {z}, Attrs{{"dim", dim}}));
      EXPECT_EQ(r.shape(), (Shape{0, k2p62}));
      EXPECT_LT(absl::Now() - start, absl::Seconds(1));
    }
  }
  // bmm over 2^60 empty batches, index_select with a long index into nothing.
  const int64_t batches = int64_t{1} << 60;
  const Tensor a = Must(factory::zeros({batches, 0, 3}));
  const Tensor b = Must(factory::zeros({batches, 3, 0}));
  EXPECT_EQ(Must(ops::bmm(a, b)).shape(), (Shape{batches, 0, 0}));
  const Tensor index =
      Must(factory::zeros({k2p62 >> 40}, factory::TensorOptions().with_dtype(DType::kInt64)));
  const Tensor rows = Must(factory::zeros({3, 0}));
  EXPECT_EQ(Must(CallOp("index_select", {rows, index}, Attrs{{"dim", int64_t{0}}})).shape(),
            (Shape{k2p62 >> 40, 0}));
}

TEST_F(ExtremeRegressions, ZeroSizeShapeWhoseOtherSizesOverflow_IsRefused) {
  EXPECT_THAT(factory::zeros({0, k2p62, k2p62}),
              StatusIs(Code::kInvalidArgument, HasSubstr("overflow")));
  EXPECT_THAT(factory::zeros({2, 0, k2p62}),
              StatusIs(Code::kInvalidArgument, HasSubstr("overflow")));
  const Tensor z = Must(factory::zeros({0, k2p62}));
  // cat along the huge dim: 2^62 + 2^62 does not fit.
  EXPECT_THAT(ops::cat({z, z}, 1), StatusIs(Code::kInvalidArgument, HasSubstr("int64")));
  // stack would give [2, 0, 2^62]: refused like the factory.
  EXPECT_THAT(CallOp("stack", {z, z}, Attrs{{"dim", int64_t{0}}}),
              StatusIs(Code::kInvalidArgument, HasSubstr("overflow")));
}

// 3. slice(x, dim=1, start=0, end=INT64_MAX, step=INT64_MAX) is x[:, 0:1], not a [2, -1] shape.
TEST_F(ExtremeRegressions, SliceWithHugeEndAndStep_TakesTheFirstElement) {
  const Tensor x = Must(factory::from_values({1, 2, 3, 4, 5, 6}, {2, 3}));
  const Tensor s = Must(ops::slice(x, 1, 0, kMax, kMax));
  EXPECT_EQ(s.shape(), (Shape{2, 1}));
  EXPECT_EQ(Values(s), (std::vector<double>{1, 4}));
  EXPECT_EQ(Values(Must(ops::slice(x, 1, kMin, kMax, 1))), Values(x));
  EXPECT_EQ(Must(ops::slice(x, 0, 1, kMax, k2p62)).shape(), (Shape{1, 3}));
}

// 4. Element counts that wrap around are refused with PyTorch's text.
TEST_F(ExtremeRegressions, ExpandWhoseElementCountOverflows_IsRefusedWithPyTorchsText) {
  const Tensor scalar = Must(factory::ones({}));
  for (const Shape& size :
       {Shape{int64_t{1} << 32, int64_t{1} << 32}, Shape{k2p62, 4}, Shape{k2p62, k2p62, 0}}) {
    SCOPED_TRACE(ShapeToString(size));
    EXPECT_THAT(
        ops::expand(scalar, size),
        StatusIs(Code::kInvalidArgument, HasSubstr("numel: integer multiplication overflow")));
  }
  // A view whose element count fits but whose byte size does not: refused too (nbytes is exact).
  EXPECT_THAT(ops::expand(scalar, {k2p62}),
              StatusIs(Code::kInvalidArgument, HasSubstr("Storage size calculation overflowed")));
  EXPECT_EQ(Must(ops::expand(scalar, {k2p31, 4})).shape(), (Shape{k2p31, 4}));
}

TEST_F(ExtremeRegressions, AllocationWhoseByteSizeOverflows_IsRefusedWithPyTorchsText) {
  // torch.empty(2**62, 4): "Storage size calculation overflowed with sizes=[4611686018427387904,
  // 4]"
  EXPECT_THAT(
      factory::empty({k2p62, 4}),
      StatusIs(Code::kInvalidArgument, ::testing::StrEq("Storage size calculation overflowed with "
                                                        "sizes=[4611686018427387904, 4]")));
  EXPECT_THAT(factory::zeros({int64_t{1} << 61}),
              StatusIs(Code::kInvalidArgument, HasSubstr("Storage size calculation overflowed")));
  EXPECT_THAT(
      factory::eye(int64_t{1} << 32, int64_t{1} << 32),
      StatusIs(Code::kInvalidArgument, HasSubstr("numel: integer multiplication overflow")));
  EXPECT_THAT(ops::reshape(Must(factory::ones({8})), {k2p62, 4, 0}),
              StatusIs(Code::kInvalidArgument, HasSubstr("is invalid for input of size 8")));
}

TEST_F(ExtremeRegressions, ChunkWithHugeChunks_ReturnsOneChunkPerElement) {
  const Tensor x = Must(factory::from_values({1, 2, 3, 4, 5, 6}, {2, 3}));
  for (int64_t chunks : {int64_t{3}, k2p62, kMax}) {
    SCOPED_TRACE(chunks);
    const std::vector<Tensor> parts =
        Must(Apply("chunk", {x}, Attrs{{"chunks", chunks}, {"dim", int64_t{1}}}));
    ASSERT_EQ(parts.size(), 3u);
    for (const Tensor& p : parts) EXPECT_EQ(p.shape(), (Shape{2, 1}));
    EXPECT_EQ(Values(parts[2]), (std::vector<double>{3, 6}));
  }
  const std::vector<Tensor> split =
      Must(Apply("split", {x}, Attrs{{"split_size", kMax}, {"dim", int64_t{1}}}));
  ASSERT_EQ(split.size(), 1u);
  EXPECT_EQ(split[0].shape(), (Shape{2, 3}));
}

TEST_F(ExtremeRegressions, OpsWithOneOutputPerSlice_RefuseAbsurdCountsInsteadOfExhaustingMemory) {
  const Tensor z = Must(factory::zeros({int64_t{1} << 40, 0}));
  EXPECT_THAT(Apply("unbind", {z}, Attrs{{"dim", int64_t{0}}}),
              StatusIs(Code::kInvalidArgument, HasSubstr("output tensors")));
  EXPECT_THAT(Apply("split", {z}, Attrs{{"split_size", int64_t{1}}}),
              StatusIs(Code::kInvalidArgument, HasSubstr("output tensors")));
  EXPECT_EQ(Must(Apply("unbind", {z}, Attrs{{"dim", int64_t{1}}})).size(), 0u);
}

TEST_F(ExtremeRegressions, FloatingBoundsThatBecomeIntegers_AreRangeCheckedBeforeTheCast) {
  const auto long_ = std::optional<DType>(DType::kInt64);
  for (double bad : {kNaN, kInf, -kInf, 1e300, 9.3e18, -9.3e18}) {
    SCOPED_TRACE(bad);
    // PyTorch: "value cannot be converted to type int64_t without overflow"
    EXPECT_THAT(factory::arange(0, bad, 1, long_),
                StatusIs(Code::kInvalidArgument, HasSubstr("cannot be converted to type int64_t")));
    EXPECT_THAT(factory::arange(bad, 0, -1, long_),
                StatusIs(Code::kInvalidArgument, HasSubstr("cannot be converted to type int64_t")));
    EXPECT_THAT(factory::linspace(0, bad, 3, factory::TensorOptions().with_dtype(DType::kInt64)),
                StatusIs(Code::kInvalidArgument, HasSubstr("cannot be converted to type int64_t")));
    EXPECT_THAT(factory::full({2}, bad, factory::TensorOptions().with_dtype(DType::kInt64)),
                StatusIs(Code::kInvalidArgument, HasSubstr("cannot be converted to type int64_t")));
    const Tensor ints = Int64({1, 2}, {2});
    EXPECT_THAT(ops::fill_(ints, Scalar(bad)),
                StatusIs(Code::kInvalidArgument, HasSubstr("cannot be converted to type int64_t")));
    EXPECT_EQ(ints.ToVector<int64_t>(), (std::vector<int64_t>{1, 2}));
  }
  // Lengths: PyTorch's "invalid size, possible overflow?", and its NaN-step text.
  const auto float_ = std::optional<DType>(DType::kFloat32);
  EXPECT_THAT(
      factory::arange(0, 1e300, 1, float_),
      StatusIs(Code::kInvalidArgument, ::testing::StrEq("invalid size, possible overflow?")));
  EXPECT_THAT(
      factory::arange(0, 1, 1e-300),
      StatusIs(Code::kInvalidArgument, ::testing::StrEq("invalid size, possible overflow?")));
  EXPECT_THAT(factory::arange(0, 5, kNaN),
              StatusIs(Code::kInvalidArgument, ::testing::StrEq("step must be nonzero")));
  EXPECT_THAT(factory::arange(0, kInf, 1),
              StatusIs(Code::kInvalidArgument, ::testing::StrEq("unsupported range: 0 -> inf")));
  EXPECT_THAT(factory::arange(0, 3, 0.5, long_),  // the step truncates to 0, as in PyTorch
              StatusIs(Code::kInvalidArgument, ::testing::StrEq("step must be nonzero")));
  // int64 values stay exact beyond 2^53, and the extreme bounds give their exact elements.
  // (The largest double below 2^63 is 2^63 - 1024; the span of the bounds exceeds int64.)
  EXPECT_EQ(Must(factory::arange(-9223372036854775808.0, 9223372036854774784.0,
                                 9223372036854774784.0, long_))
                .ToVector<int64_t>(),
            (std::vector<int64_t>{kMin, -1024, 9223372036854774784 - 1024}));
  EXPECT_EQ(Must(factory::arange(1152921504606846976.0, 1152921504606847232.0 + 512, 256, long_))
                .ToVector<int64_t>(),
            (std::vector<int64_t>{1152921504606846976, 1152921504606847232, 1152921504606847488}));
  // randint over all of int64 works (the engine takes integers; the service checks its doubles).
  EXPECT_EQ(Must(factory::randint(kMin, kMax, {4})).numel(), 4);
  EXPECT_THAT(factory::uniform({2}, 0, kInf),
              StatusIs(Code::kInvalidArgument, ::testing::StrEq("to is out of bounds for float")));
  EXPECT_THAT(
      factory::uniform({2}, kNaN, 1),
      StatusIs(Code::kInvalidArgument, ::testing::StrEq("from is out of bounds for float")));
}

TEST_F(ExtremeRegressions, FloatNumbersForIntegerResults_AreRefusedOrTruncatedAsPyTorch) {
  const Tensor ints = Int64({1, 2}, {2});
  // torch.add(ints, ints, alpha=2.5)
  EXPECT_THAT(ops::add(ints, ints, Scalar(2.5)),
              StatusIs(Code::kInvalidArgument,
                       ::testing::StrEq("For integral input tensors, argument alpha must not be a "
                                        "floating point number.")));
  EXPECT_THAT(ops::sub(ints, ints, Scalar(kInf)),
              StatusIs(Code::kInvalidArgument, HasSubstr("argument alpha must not be")));
  // float32 results refuse numbers beyond float's range (torch.add(f, f, alpha=1e300)).
  const Tensor floats = Must(factory::ones({2}));
  EXPECT_THAT(
      ops::add(floats, floats, Scalar(1e300)),
      StatusIs(Code::kInvalidArgument,
               ::testing::StrEq("value cannot be converted to type float without overflow")));
  EXPECT_THAT(ops::clamp(floats, Scalar(1e300), std::nullopt),
              StatusIs(Code::kInvalidArgument, HasSubstr("type float without overflow")));
  // addmm truncates a float alpha for integer matrices (torch gives 4 for alpha=2.5).
  const Tensor m = Int64({1, 1, 1, 1}, {2, 2});
  const Tensor zero = Int64({0, 0, 0, 0}, {2, 2});
  EXPECT_EQ(Must(CallOp("addmm", {zero, m, m}, Attrs{{"alpha", 2.5}})).ToVector<int64_t>(),
            (std::vector<int64_t>{4, 4, 4, 4}));
  EXPECT_THAT(CallOp("addmm", {zero, m, m}, Attrs{{"alpha", kInf}}),
              StatusIs(Code::kInvalidArgument, HasSubstr("type int64_t without overflow")));
}

}  // namespace
}  // namespace tensord::testing
