// A metadata-only context (ContextOptions::meta) must know every result exactly as the real
// engine does — shapes, dtypes, strides, views, versions, requires_grad, is_leaf, grad_fn and
// next_functions — and refuse exactly what the real engine refuses for metadata reasons, with the
// same status. Checked for every sample of every table op, out of place and in place, against
// the real engine run on the same inputs.
#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/context.h"
#include "engine/dispatch.h"
#include "engine/node.h"
#include "engine/op_def.h"
#include "engine/storage.h"
#include "tests/support/op_samples.h"
#include "tests/support/test_util.h"

namespace tensord::testing {
namespace {

// What a client can read of a tensor without its values.
std::string Describe(const Tensor& t) {
  if (!t.defined()) return "undefined";
  std::ostringstream os;
  os << DTypeName(t.dtype()) << ShapeToString(t.shape()) << " strides "
     << ShapeToString(t.strides()) << " offset " << t.storage_offset() << " version " << t.version()
     << " requires_grad " << t.requires_grad() << " is_leaf " << t.is_leaf() << " is_view "
     << t.is_view();
  absl::StatusOr<std::shared_ptr<Node>> fn = t.grad_fn_or_error();
  if (!fn.ok()) {
    os << " grad_fn error " << fn.status();
  } else if (*fn) {
    os << " grad_fn " << DisplayName(**fn) << " next [";
    std::vector<std::string> next;
    for (const Edge& e : (*fn)->next_edges()) {
      next.push_back(e.function ? absl::StrCat(DisplayName(*e.function), ":", e.input_nr) : "None");
    }
    os << absl::StrJoin(next, ", ") << "]";
  }
  return os.str();
}

std::string Describe(const absl::StatusOr<std::vector<Tensor>>& r) {
  if (!r.ok()) return absl::StrCat("error ", r.status().ToString());
  std::vector<std::string> parts;
  for (const Tensor& t : *r) parts.push_back(Describe(t));
  return absl::StrJoin(parts, "\n");
}

// A meta tensor with `real`'s metadata (made in the current, meta, context).
Tensor MetaLike(const Tensor& real) {
  auto impl = std::make_shared<TensorImpl>(Storage::Meta(real.impl()->storage->nbytes()),
                                           real.shape(), real.strides(), real.storage_offset(),
                                           real.dtype(), std::make_shared<VersionCounter>());
  impl->requires_grad = real.impl()->requires_grad;
  return Tensor(std::move(impl));
}

struct Inputs {
  std::vector<Tensor> real;
  std::vector<Tensor> meta;
};

// The sample's inputs in `real_ctx` (leaves requiring grad where differentiable) and their
// metadata twins in `meta_ctx`.
Inputs MakeBoth(const OpSample& sample, Context& real_ctx, Context& meta_ctx) {
  Inputs in;
  {
    ContextGuard guard(real_ctx);
    in.real = Must(MakeInputs(sample, DType::kFloat64, 11));
    for (size_t i = 0; i < in.real.size(); ++i) {
      if (sample.inputs[i].differentiable && IsFloating(in.real[i].dtype())) {
        Must(in.real[i].set_requires_grad(true));
      }
    }
  }
  ContextGuard guard(meta_ctx);
  for (const Tensor& t : in.real) in.meta.push_back(MetaLike(t));
  return in;
}

class MetaOp : public ::testing::TestWithParam<OpSample> {};

TEST_P(MetaOp, KnowsTheSameResultMetadataAsTheRealEngine) {
  const OpSample& sample = GetParam();
  const OpDef* def = Must(FindOp(sample.op));
  Context real_ctx;
  Context meta_ctx(ContextOptions{.meta = true});
  Inputs in = MakeBoth(sample, real_ctx, meta_ctx);
  absl::StatusOr<std::vector<Tensor>> real, meta;
  {
    ContextGuard guard(real_ctx);
    real = Apply(*def, in.real, sample.attrs);
  }
  ContextGuard guard(meta_ctx);
  if (def->value_dependent_checks) {
    meta = Apply(*def, in.meta, sample.attrs);
    ASSERT_FALSE(meta.ok());
    EXPECT_EQ(meta.status().code(), absl::StatusCode::kFailedPrecondition);
    ASSERT_TRUE(real.ok()) << real.status();
    if (def->kind == OpKind::kComposite) {
      GTEST_SKIP() << sample.op << " is made of ops that check values: its graph is the server's";
    }
    // With the output metadata a server reported, the graph is recorded as for real.
    std::vector<TensorMeta> metas;
    for (const Tensor& t : *real) metas.push_back(t.meta());
    meta = ApplyWithMetas(*def, in.meta, sample.attrs, metas);
  } else {
    meta = Apply(*def, in.meta, sample.attrs);
  }
  EXPECT_EQ(Describe(meta), Describe(real));
  if (meta.ok()) {
    for (const Tensor& t : *meta) EXPECT_TRUE(t.is_meta());
  }
  EXPECT_EQ(meta_ctx.memory().used(), 0);
}

TEST_P(MetaOp, InPlaceForm_SameVersionHistoryAndErrorsAsTheRealEngine) {
  const OpSample& sample = GetParam();
  const OpDef* def = Must(FindOp(sample.op));
  if (def->inplace_name.empty() || def->value_dependent_checks) {
    GTEST_SKIP() << sample.op << " has no in-place form checked on metadata alone";
  }
  Context real_ctx;
  Context meta_ctx(ContextOptions{.meta = true});
  Inputs in = MakeBoth(sample, real_ctx, meta_ctx);
  // On the leaf itself (refused when it requires grad) and on a non-leaf copy of it.
  for (bool leaf : {true, false}) {
    std::string real_desc, meta_desc;
    for (bool is_meta : {false, true}) {
      ContextGuard guard(is_meta ? meta_ctx : real_ctx);
      std::vector<Tensor> inputs = is_meta ? in.meta : in.real;
      if (!leaf) inputs[0] = Must(Apply1(*Must(FindOp("clone")), {inputs[0]}, {}));
      std::vector<Tensor> others(inputs.begin() + 1, inputs.end());
      absl::Status s = ApplyInplace(*def, inputs[0], others, sample.attrs);
      (is_meta ? meta_desc : real_desc) = absl::StrCat(s.ToString(), "\n", Describe(inputs[0]));
    }
    EXPECT_EQ(meta_desc, real_desc) << (leaf ? "on the leaf" : "on a non-leaf");
  }
}

TEST(MetaContext, SecondInPlaceWriteFailsBackwardChecksNothingAllocates) {
  // Views share a version counter and regenerate their history over CopySlices in metadata too.
  Context meta_ctx(ContextOptions{.meta = true});
  ContextGuard guard(meta_ctx);
  Tensor x = Must(EmptyTensor({3, 4}, DType::kFloat32));
  Must(x.set_requires_grad(true));
  Tensor y = Must(Apply1(*Must(FindOp("mul")), {x, Must(WrapScalar(2, DType::kFloat64))}, {}));
  Tensor row =
      Must(Apply1(*Must(FindOp("select")), {y}, {{"dim", int64_t{0}}, {"index", int64_t{1}}}));
  ASSERT_OK(ApplyInplace(*Must(FindOp("exp")), row, {}, {}));
  EXPECT_EQ(y.version(), 1u);
  EXPECT_EQ(row.version(), 1u);
  EXPECT_EQ(DisplayName(*y.grad_fn()), "CopySlices");
  EXPECT_EQ(DisplayName(*Must(row.grad_fn_or_error())), "AsStridedBackward0");
  absl::Status leaf_write = ApplyInplace(*Must(FindOp("exp")), x, {}, {});
  EXPECT_EQ(leaf_write.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(leaf_write.message(),
            "a leaf Variable that requires grad is being used in an in-place operation.");
  EXPECT_EQ(meta_ctx.memory().used(), 0);
  EXPECT_EQ(x.raw_data(), nullptr);
}

std::string SampleName(const ::testing::TestParamInfo<OpSample>& info) {
  std::string name = info.param.op + "_" + info.param.label;
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(AllOps, MetaOp, ::testing::ValuesIn(AllSamples()), SampleName);

}  // namespace
}  // namespace tensord::testing
