// Every op in the table, every sample: float64 gradcheck (first and second order).
#include <gtest/gtest.h>

#include <set>

#include "absl/strings/str_replace.h"
#include "engine/context.h"
#include "engine/dispatch.h"
#include "engine/op_def.h"
#include "tests/support/gradcheck.h"
#include "tests/support/op_samples.h"
#include "tests/support/test_util.h"

namespace tensord::testing {
namespace {

TEST(OpTable, EveryOpHasSamples) {
  for (const OpDef& def : OpTable()) {
    EXPECT_FALSE(SamplesFor(std::string(def.name)).empty())
        << "op '" << def.name << "' has no samples in tests/support/op_samples.cc";
  }
}

TEST(OpTable, EverySampleNamesATableOp) {
  for (const OpSample& s : AllSamples()) EXPECT_TRUE(FindOp(s.op).ok()) << s.op;
}

TEST(OpTable, NamesAreUniqueAndDifferentiableOpsHaveBackward) {
  std::set<std::string> names;
  for (const OpDef& def : OpTable()) {
    EXPECT_TRUE(names.insert(std::string(def.name)).second) << "duplicate op " << def.name;
    if (!def.inplace_name.empty()) {
      EXPECT_TRUE(names.insert(std::string(def.inplace_name)).second) << def.inplace_name;
    }
    EXPECT_NE(def.infer, nullptr) << def.name;
    EXPECT_NE(def.forward, nullptr) << def.name;
    if (!def.grad_fn.empty()) {
      EXPECT_NE(def.backward, nullptr) << def.name;
    }
  }
}

bool Differentiable(const OpDef& def) { return def.kind == OpKind::kComposite || !def.grad_fn.empty(); }

class OpGradcheck : public ::testing::TestWithParam<OpSample> {};

struct Prepared {
  std::vector<Tensor> inputs;
  std::vector<bool> wrt;
  DiffFn fn;
};

Prepared Prepare(const OpSample& sample, uint64_t seed) {
  Prepared p;
  p.inputs = Must(MakeInputs(sample, DType::kFloat64, seed));
  for (size_t i = 0; i < p.inputs.size(); ++i) {
    const bool d = sample.inputs[i].differentiable && IsFloating(p.inputs[i].dtype());
    if (d) Must(p.inputs[i].set_requires_grad(true));
    p.wrt.push_back(d);
  }
  const OpDef* def = Must(FindOp(sample.op));
  const Attrs attrs = sample.attrs;
  p.fn = [def, attrs](const std::vector<Tensor>& in) { return Apply(*def, in, attrs); };
  return p;
}

TEST_P(OpGradcheck, FirstOrder) {
  const OpSample& sample = GetParam();
  Context ctx;
  ContextGuard guard(ctx);
  Prepared p = Prepare(sample, 1234);
  EXPECT_OK(Gradcheck(p.fn, p.inputs, p.wrt));
}

TEST_P(OpGradcheck, SecondOrder) {
  const OpSample& sample = GetParam();
  Context ctx;
  ContextGuard guard(ctx);
  Prepared p = Prepare(sample, 4321);
  EXPECT_OK(GradGradcheck(p.fn, p.inputs, p.wrt, 99));
}

class OpForward : public ::testing::TestWithParam<OpSample> {};

TEST_P(OpForward, LeavesInputsUntouched_AndMarksRequiresGradByDifferentiability) {
  const OpSample& sample = GetParam();
  Context ctx;
  ContextGuard guard(ctx);
  Prepared p = Prepare(sample, 7);
  std::vector<uint32_t> versions;
  for (const Tensor& t : p.inputs) versions.push_back(t.version());
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> outs, p.fn(p.inputs));
  const OpDef* def = Must(FindOp(sample.op));
  if (def->num_outputs >= 0) {
    EXPECT_EQ(outs.size(), static_cast<size_t>(def->num_outputs)) << sample.op;
  }
  for (size_t i = 0; i < p.inputs.size(); ++i) EXPECT_EQ(p.inputs[i].version(), versions[i]);
  for (const Tensor& o : outs) {
    if (Differentiable(*Must(FindOp(sample.op))) && IsFloating(o.dtype())) {
      EXPECT_TRUE(o.requires_grad()) << sample.op;
    } else {
      EXPECT_FALSE(o.requires_grad()) << sample.op;
    }
  }
}

std::string SampleName(const ::testing::TestParamInfo<OpSample>& info) {
  std::string name = info.param.op + "_" + info.param.label;
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

std::vector<OpSample> DifferentiableSamples() {
  std::vector<OpSample> out;
  for (const OpSample& s : AllSamples())
    if (Differentiable(*Must(FindOp(s.op)))) out.push_back(s);
  return out;
}

INSTANTIATE_TEST_SUITE_P(AllOps, OpGradcheck, ::testing::ValuesIn(DifferentiableSamples()), SampleName);
INSTANTIATE_TEST_SUITE_P(AllOps, OpForward, ::testing::ValuesIn(AllSamples()), SampleName);

}  // namespace
}  // namespace tensord::testing
