// Every op in the table, every sample: float64 gradcheck (first and second order).
#include <gtest/gtest.h>

#include <set>

#include "absl/strings/str_replace.h"
#include "engine/context.h"
#include "engine/dispatch.h"
#include "engine/factory.h"
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

bool Differentiable(const OpDef& def) {
  return def.kind == OpKind::kComposite || !def.grad_fn.empty();
}

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

INSTANTIATE_TEST_SUITE_P(AllOps, OpGradcheck, ::testing::ValuesIn(DifferentiableSamples()),
                         SampleName);
INSTANTIATE_TEST_SUITE_P(AllOps, OpForward, ::testing::ValuesIn(AllSamples()), SampleName);

}  // namespace
}  // namespace tensord::testing

namespace tensord::testing {
namespace {

// Error cases derived from the table: every op whose sample has a dim attribute is called with
// dims that no tensor has, and every op with an int64 index input with indices past the end. Each
// must fail with OUT_OF_RANGE, a message, and its inputs untouched.
class OpErrors : public ::testing::TestWithParam<OpSample> {};

void ExpectUntouched(const std::vector<Tensor>& inputs,
                     const std::vector<std::vector<double>>& before) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    EXPECT_EQ(inputs[i].version(), 0u) << "input " << i;
    EXPECT_EQ(inputs[i].ToVector<double>(), before[i]) << "input " << i;
  }
}

TEST_P(OpErrors, BadDimOrIndex_IsOutOfRangeAndChangesNothing) {
  const OpSample& sample = GetParam();
  const OpDef* def = Must(FindOp(sample.op));
  Context ctx;
  ContextGuard guard(ctx);
  std::vector<Tensor> inputs = Must(MakeInputs(sample, DType::kFloat64, 5));
  std::vector<std::vector<double>> before;
  for (const Tensor& t : inputs) before.push_back(t.ToVector<double>());
  bool tried = false;
  for (const AttrSpec& spec : def->attrs) {
    const bool is_dim = spec.name == "dim" || spec.name == "dim0" || spec.name == "dim1" ||
                        spec.name == "start_dim" || spec.name == "end_dim";
    if (!is_dim) continue;
    for (int64_t bad : {int64_t{17}, int64_t{-18}}) {
      Attrs attrs = sample.attrs;
      if (spec.type == AttrType::kInts) {
        attrs.Set(spec.name, std::vector<int64_t>{bad});
      } else if (spec.type == AttrType::kInt) {
        attrs.Set(spec.name, bad);
      } else {
        continue;
      }
      tried = true;
      auto r = Apply(*def, inputs, attrs);
      ASSERT_FALSE(r.ok()) << sample.op << " accepted " << spec.name << "=" << bad;
      EXPECT_EQ(r.status().code(), absl::StatusCode::kOutOfRange)
          << sample.op << ": " << r.status();
      EXPECT_FALSE(r.status().message().empty());
      ExpectUntouched(inputs, before);
    }
  }
  for (size_t i = 0; i < sample.inputs.size(); ++i) {
    // Index inputs: the op's non-differentiable int64 inputs.
    if (i >= 32 || !((def->nondiff_inputs >> i) & 1u) || inputs[i].dtype() != DType::kInt64)
      continue;
    if (inputs[i].numel() == 0) continue;
    std::vector<Tensor> bad_inputs = inputs;
    std::vector<double> far(static_cast<size_t>(inputs[i].numel()), 1000.0);
    bad_inputs[i] = Must(factory::from_values(far, inputs[i].shape(),
                                              factory::TensorOptions().with_dtype(DType::kInt64)));
    tried = true;
    auto r = Apply(*def, bad_inputs, sample.attrs);
    ASSERT_FALSE(r.ok()) << sample.op << " accepted index 1000";
    // PyTorch raises RuntimeError (not IndexError) for gather's and scatter's index values.
    const bool runtime_error = def->overload_group() == "gather" ||
                               def->overload_group() == "scatter" ||
                               sample.op == "_gather_backward";
    EXPECT_EQ(r.status().code(),
              runtime_error ? absl::StatusCode::kInvalidArgument : absl::StatusCode::kOutOfRange)
        << sample.op << ": " << r.status();
    ExpectUntouched(inputs, before);
  }
  if (!tried) GTEST_SKIP() << sample.op << " has no dim attribute or index input";
}

std::vector<OpSample> SamplesWithDimsOrIndices() {
  std::vector<OpSample> out;
  std::set<std::string> seen;
  for (const OpSample& s : AllSamples()) {
    const OpDef* def = Must(FindOp(s.op));
    bool has = false;
    for (const AttrSpec& a : def->attrs)
      has |= a.name == "dim" || a.name == "dim0" || a.name == "start_dim";
    for (size_t i = 0; i < s.inputs.size() && i < 32; ++i) {
      has |= ((def->nondiff_inputs >> i) & 1u) && !s.inputs[i].floating &&
             s.inputs[i].dtype == DType::kInt64;
    }
    if (has && seen.insert(s.op).second) out.push_back(s);  // one sample per op
  }
  return out;
}

std::string ErrName(const ::testing::TestParamInfo<OpSample>& info) {
  std::string name = info.param.op;
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(AllOps, OpErrors, ::testing::ValuesIn(SamplesWithDimsOrIndices()),
                         ErrName);

}  // namespace
}  // namespace tensord::testing
