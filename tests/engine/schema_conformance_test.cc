// The op table against PyTorch 1.13: every public op is declared by one of torch's ATen schemas,
// character for character, and the in-place forms derived by rule are exactly torch's for our
// overload groups (less the documented exclusions). The expected strings come from torch at test
// time (tests/oracle/aten_schemas.py), never from the table.
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "engine/dispatch.h"
#include "engine/factory.h"
#include "engine/op_def.h"
#include "engine/schema.h"
#include "tests/support/test_util.h"

#ifndef TENSORD_ATEN_SCHEMAS_SCRIPT
#error "TENSORD_ATEN_SCHEMAS_SCRIPT must name tests/oracle/aten_schemas.py"
#endif

namespace tensord {
namespace {

// Torch's in-place forms in our groups that the table does not offer, and why. All but one
// change self's *metadata* (shape, strides), not its values: the in-place rule writes
// op(self, ...) into self's existing storage and shape, which cannot express them.
const std::map<std::string, std::string>& Exclusions() {
  static const auto* m = new std::map<std::string, std::string>{
      {"transpose_", "changes self's strides in place (a metadata op)"},
      {"t_", "changes self's strides in place (a metadata op)"},
      {"unsqueeze_", "changes self's shape in place (a metadata op)"},
      {"squeeze_", "changes self's shape in place (a metadata op)"},
      {"as_strided_", "changes self's geometry in place (a metadata op)"},
      {"normal_",
       "the table's normal is normal.float_float (mean, std, size: no self); torch's normal_ "
       "fills a self, which the in-place rule derives only from a `normal(Tensor self, ...)`"},
  };
  return *m;
}

struct TorchSchemas {
  std::map<std::string, std::set<std::string>> by_group;  // group -> schema strings
  std::set<std::string> inplace;                          // "exp_"
};

bool IsPublic(const OpDef& def) { return !def.name.empty() && def.name[0] != '_'; }

const TorchSchemas& Torch() {
  static const TorchSchemas* torch = [] {
    auto* t = new TorchSchemas();
    std::set<std::string> groups;
    for (const OpDef& def : OpTable()) {
      if (def.parsed_schema) groups.insert(def.parsed_schema->name);
    }
    std::string cmd = std::string("/usr/bin/python3 ") + TENSORD_ATEN_SCHEMAS_SCRIPT;
    for (const std::string& g : groups) cmd += " " + g;
    FILE* pipe = popen(cmd.c_str(), "r");
    if (pipe == nullptr) return t;
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
    const int rc = pclose(pipe);
    EXPECT_EQ(rc, 0) << "aten_schemas.py failed";
    for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
      std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits('\t', 1));
      if (kv.first == "schema") {
        absl::StatusOr<FunctionSchema> parsed = ParseSchema(kv.second);
        const std::string group =
            parsed.ok() ? parsed->name : kv.second.substr(0, kv.second.find_first_of(".("));
        t->by_group[group].insert(kv.second);
      } else if (kv.first == "inplace") {
        t->inplace.insert(kv.second);
      }
    }
    return t;
  }();
  return *torch;
}

TEST(SchemaConformance, EveryPublicOpIsDeclaredByOneOfTorchsSchemasCharacterForCharacter) {
  int public_ops = 0, matched = 0;
  for (const OpDef& def : OpTable()) {
    if (!IsPublic(def)) continue;
    ++public_ops;
    ASSERT_FALSE(def.schema.empty()) << def.name << " has no schema";
    ASSERT_NE(def.parsed_schema, nullptr) << def.name;
    const std::string group(def.overload_group());
    const auto it = Torch().by_group.find(group);
    ASSERT_NE(it, Torch().by_group.end()) << def.name << ": torch has no aten::" << group;
    EXPECT_TRUE(it->second.count(std::string(def.schema)))
        << def.name << ": '" << def.schema << "' is not one of torch's:\n  "
        << absl::StrJoin(it->second, "\n  ");
    matched += static_cast<int>(it->second.count(std::string(def.schema)));
  }
  std::printf("public ops: %d, schemas matching torch: %d\n", public_ops, matched);
  EXPECT_EQ(public_ops, matched);
}

TEST(SchemaConformance, NoTwoOpsDeclareTheSameOverload) {
  std::set<std::string> seen;
  for (const OpDef& def : OpTable()) {
    if (def.schema.empty()) continue;
    EXPECT_TRUE(seen.insert(def.parsed_schema->QualifiedName()).second)
        << def.name << ": " << def.parsed_schema->QualifiedName() << " declared twice";
  }
}

TEST(SchemaConformance, InplaceFormsAreExactlyTorchsForOurGroupsLessTheExclusions) {
  std::set<std::string> ours, expected;
  int forms = 0;
  for (const OpDef& def : OpTable()) {
    if (def.inplace_name.empty()) continue;
    ++forms;
    EXPECT_EQ(def.inplace_name, std::string(def.name) + "_") << "derived by rule";
    ASSERT_NE(def.parsed_schema, nullptr) << def.name;
    ours.insert(std::string(def.overload_group()) + "_");
  }
  for (const std::string& name : Torch().inplace) {
    if (!Exclusions().count(name)) expected.insert(name);
  }
  EXPECT_EQ(ours, expected) << "ours: " << absl::StrJoin(ours, " ")
                            << "\ntorch's less exclusions: " << absl::StrJoin(expected, " ");
  for (const auto& [name, why] : Exclusions()) {
    EXPECT_TRUE(Torch().inplace.count(name)) << name << " is excluded but torch has none";
    EXPECT_FALSE(ours.count(name)) << name << " is excluded but offered";
  }
  std::printf("in-place groups: %zu (%d table forms), torch's: %zu, excluded: %zu\n", ours.size(),
              forms, Torch().inplace.size(), Exclusions().size());
}

TEST(SchemaConformance, TorchsSchemasForOurGroupsParseAndPrintBackOrFailCleanly) {
  int parsed = 0, refused = 0;
  for (const auto& [group, schemas] : Torch().by_group) {
    for (const std::string& text : schemas) {
      absl::StatusOr<FunctionSchema> s = ParseSchema(text);
      if (s.ok()) {
        EXPECT_EQ(s->ToString(), text);
        ++parsed;
      } else {
        // Only the TorchScript container types (Dict(...), t(*)) are outside the grammar.
        EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << text;
        ++refused;
      }
    }
  }
  std::printf("torch schemas in our groups: %d parsed and printed back, %d refused\n", parsed,
              refused);
  EXPECT_GT(parsed, 300);
}

TEST(SchemaConformance, AttributesAndInputsComeFromTheSchema) {
  for (const OpDef& def : OpTable()) {
    if (!def.parsed_schema) continue;
    size_t attr = 0;
    int tensors = 0;
    for (const SchemaArgument& arg : def.parsed_schema->arguments) {
      if (arg.type.IsTensor()) {
        ++tensors;
        continue;
      }
      ASSERT_LT(attr, def.attrs.size()) << def.name;
      const AttrSpec& spec = def.attrs[attr++];
      EXPECT_EQ(spec.name, arg.name) << def.name;
      EXPECT_EQ(spec.kwarg_only, arg.kwarg_only) << def.name << "." << arg.name;
      EXPECT_EQ(spec.nullable, arg.type.optional) << def.name << "." << arg.name;
      EXPECT_EQ(spec.required, !arg.default_value.has_value()) << def.name << "." << arg.name;
    }
    if (def.factory) {
      // One attribute more than the schema has: requires_grad, as PyTorch's Python bindings add
      // to every factory (torchgen's python signature).
      ASSERT_EQ(attr + 1, def.attrs.size()) << def.name;
      const AttrSpec& rg = def.attrs.back();
      EXPECT_EQ(rg.name, "requires_grad") << def.name;
      EXPECT_EQ(rg.type, AttrType::kBool) << def.name;
      EXPECT_TRUE(rg.kwarg_only) << def.name;
      EXPECT_EQ(rg.default_value, AttrValue(false)) << def.name;
    } else {
      EXPECT_EQ(attr, def.attrs.size()) << def.name;
    }
    if (def.num_inputs != kVariadic) {
      EXPECT_EQ(def.num_inputs, tensors) << def.name;
    }
  }
  const OpDef* linear = *FindOp("linear");
  EXPECT_EQ(linear->num_inputs, 3);
  EXPECT_EQ(linear->optional_inputs, 4u);
  EXPECT_EQ((*FindOp("cat"))->num_inputs, kVariadic);
}

TEST(SchemaArguments, ThoseTheEngineCannotHonourAreRefusedAndLeaveTheInputUnchanged) {
  Tensor x = *factory::ones({2, 3});
  Tensor w = *factory::ones({4, 3});
  struct Case {
    const char* op;
    std::vector<Tensor> inputs;
    Attrs attrs;
    absl::StatusCode code;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"sum",
       {x},
       Attrs{{"dtype", DType::kFloat64}},
       absl::StatusCode::kUnimplemented,
       "sum(): dtype=torch.float64 is not supported"},
      {"clone",
       {x},
       Attrs{{"memory_format", int64_t{2}}},
       absl::StatusCode::kUnimplemented,
       "memory_format=2 is not supported"},
      {"gather",
       {x, *factory::zeros({2, 3}, {.dtype = DType::kInt64})},
       Attrs{{"dim", int64_t{0}}, {"sparse_grad", true}},
       absl::StatusCode::kUnimplemented,
       "sparse_grad=True is not supported"},
      {"mse_loss",
       {x, x},
       Attrs{{"reduction", int64_t{3}}},
       absl::StatusCode::kInvalidArgument,
       "3 is not a valid value for reduction"},
      {"mse_loss",
       {x, x},
       Attrs{{"reduction", std::string("mean")}},
       absl::StatusCode::kInvalidArgument,
       "attribute 'reduction' must be int"},
      {"binary_cross_entropy",
       {x, x, x},
       {},
       absl::StatusCode::kUnimplemented,
       "weight is not supported"},
      {"sum_dim",
       {x},
       Attrs{{"dim", int64_t{0}}, {"bogus", true}},
       absl::StatusCode::kInvalidArgument,
       "unexpected attribute 'bogus'"},
      {"add", {x}, {}, absl::StatusCode::kInvalidArgument, "takes 2 tensor input(s)"},
      {"add", {x, Tensor()}, {}, absl::StatusCode::kInvalidArgument, "is undefined (None)"},
  };
  for (const Case& c : cases) {
    const uint32_t version = x.version();
    absl::StatusOr<std::vector<Tensor>> r = Apply(c.op, c.inputs, c.attrs);
    ASSERT_FALSE(r.ok()) << c.op;
    EXPECT_EQ(r.status().code(), c.code) << c.op << ": " << r.status();
    EXPECT_THAT(std::string(r.status().message()), ::testing::HasSubstr(c.message)) << c.op;
    EXPECT_EQ(x.version(), version);
    EXPECT_EQ(x.ToVector<float>(), std::vector<float>(6, 1.0f));
  }
}

TEST(SchemaArguments, OptionalTensorInputsMayBeLeftOutOrGivenAsNone) {
  Tensor x = *factory::ones({2, 3});
  Tensor w = *factory::ones({4, 3});
  Tensor b = *factory::full({4}, 0.5);
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> two, Apply("linear", {x, w}));
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> none, Apply("linear", {x, w, Tensor()}));
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> bias, Apply("linear", {x, w, b}));
  EXPECT_EQ(two[0].ToVector<float>(), std::vector<float>(8, 3.0f));
  EXPECT_EQ(none[0].ToVector<float>(), std::vector<float>(8, 3.0f));
  EXPECT_EQ(bias[0].ToVector<float>(), std::vector<float>(8, 3.5f));
}

TEST(SchemaArguments, AnOptionalArgumentWithoutDefaultMayBeLeftOutAndIsNone) {
  Tensor x = *factory::ones({2, 3});
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> all, Apply("sum_dim", {x}));
  EXPECT_EQ(*all[0].item<float>(), 6.0f);
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> norm,
                       Apply("norm_dim", {x}, Attrs{{"dim", int64_t{1}}}));
  EXPECT_NEAR(norm[0].ToVector<float>()[0], std::sqrt(3.0f), 1e-6);
}

TEST(ValueDependentChecks, MarkExactlyTheOpsWhoseChecksReadTensorValues) {
  for (const char* op : {"index_select", "gather", "scatter", "scatter_value", "masked_select",
                         "nll_loss", "cross_entropy", "binary_cross_entropy", "_gather_backward",
                         "_index_select_backward", "_nll_loss_backward"}) {
    EXPECT_TRUE((*FindOp(op))->value_dependent_checks) << op;
  }
  for (const char* op : {"add", "sum_dim", "view", "mse_loss", "binary_cross_entropy_with_logits",
                         "linear", "masked_fill", "where", "split_sizes"}) {
    EXPECT_FALSE((*FindOp(op))->value_dependent_checks) << op;
  }
}

TEST(DerivedInplaceForms, WriteTheResultIntoSelfAndBumpItsVersion) {
  Tensor x = *factory::from_values({1, 2}, {2});
  ASSERT_OK(Apply("pow_scalar_", {x}, Attrs{{"exponent", int64_t{2}}}).status());
  EXPECT_EQ(x.ToVector<float>(), (std::vector<float>{1, 4}));
  EXPECT_EQ(x.version(), 1u);
  Tensor y = *factory::ones({3});
  ASSERT_OK(Apply("sigmoid_", {y}).status());
  EXPECT_NEAR(y.ToVector<float>()[0], 0.7310586f, 1e-6);
  Tensor e = *factory::ones({2});
  ASSERT_OK(Apply("eq_", {e, *factory::from_values({1, 0}, {2})}).status());
  EXPECT_EQ(e.ToVector<float>(), (std::vector<float>{1, 0}));
  Tensor c = *factory::from_values({0.5, -1}, {2});
  ASSERT_OK(Apply("cumsum_", {c}, Attrs{{"dim", int64_t{0}}}).status());
  EXPECT_EQ(c.ToVector<float>(), (std::vector<float>{0.5, -0.5}));
}

TEST(DerivedInplaceForms, NonDifferentiableOnesAreRefusedOnALeafThatRequiresGrad) {
  Tensor leaf = *factory::ones({3}, {.requires_grad = true});
  absl::StatusOr<std::vector<Tensor>> r = Apply("eq_", {leaf, *factory::ones({3})});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "a leaf Variable that requires grad is being used in an in-place operation.");
  EXPECT_EQ(leaf.version(), 0u);
}

TEST(DerivedInplaceForms, RefuseResultsThatCannotBeWrittenIntoSelfWithPyTorchsErrors) {
  Tensor i = *factory::from_values({1, 2, 3}, {3}, {.dtype = DType::kInt64});
  absl::StatusOr<std::vector<Tensor>> r = Apply("exp_", {i});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "result type Float can't be cast to the desired output type Long");
  EXPECT_EQ(i.version(), 0u);
  EXPECT_EQ(i.ToVector<int64_t>(), (std::vector<int64_t>{1, 2, 3}));
  Tensor x = *factory::ones({3});
  r = Apply("add_", {x, *factory::ones({2, 3})});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "output with shape [3] doesn't match the broadcast shape [2, 3]");
  EXPECT_EQ(x.version(), 0u);
}

}  // namespace
}  // namespace tensord

namespace tensord {
namespace {

// torchgen's rule: a factory takes dtype, layout, device and pin_memory. The table's factories
// are the ops whose schemas say so, and no others (the list is PyTorch's torch.* creation
// functions the service offers, written out here, not read from the table).
TEST(SchemaConformance, FactoriesAreExactlyTheOpsWithTensorOptions) {
  const std::set<std::string> expected = {"zeros",      "ones",       "empty",       "full",
                                          "rand",       "randn",      "randint",     "arange",
                                          "linspace",   "eye",        "randperm",    "normal",
                                          "zeros_like", "ones_like",  "empty_like",  "full_like",
                                          "rand_like",  "randn_like", "randint_like"};
  std::set<std::string> groups;
  int ops = 0;
  for (const OpDef& def : OpTable()) {
    if (!def.factory) continue;
    ++ops;
    groups.insert(std::string(def.overload_group()));
    EXPECT_EQ(def.grad_fn, "") << def.name << ": a factory records no graph";
    EXPECT_LE(def.num_inputs, 1) << def.name << ": only *_like forms take a tensor";
  }
  EXPECT_EQ(groups, expected) << absl::StrJoin(groups, " ");
  std::printf("factories: %d table ops in %zu overload groups\n", ops, groups.size());
}

}  // namespace
}  // namespace tensord
