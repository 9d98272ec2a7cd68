// The schema parser (engine/schema.h): what it reads, that it prints back exactly what it read,
// and its errors for malformed schemas.
#include "engine/schema.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tensord {
namespace {

using ::testing::HasSubstr;

FunctionSchema MustParse(const std::string& text) {
  absl::StatusOr<FunctionSchema> s = ParseSchema(text);
  EXPECT_TRUE(s.ok()) << text << ": " << s.status();
  return s.ok() ? *s : FunctionSchema{};
}

TEST(SchemaParser, ReadsNameOverloadArgumentsDefaultsAndKeywordOnlyMarker) {
  const FunctionSchema s = MustParse(
      "sum.dim_IntList(Tensor self, int[1]? dim, bool keepdim=False, *, "
      "ScalarType? dtype=None) -> Tensor");
  EXPECT_EQ(s.name, "sum");
  EXPECT_EQ(s.overload, "dim_IntList");
  ASSERT_EQ(s.arguments.size(), 4u);
  EXPECT_TRUE(s.arguments[0].type.IsTensor());
  EXPECT_EQ(s.arguments[0].name, "self");
  EXPECT_FALSE(s.arguments[0].default_value.has_value());
  EXPECT_EQ(s.arguments[1].type.base, "int");
  EXPECT_TRUE(s.arguments[1].type.is_list);
  EXPECT_EQ(s.arguments[1].type.list_size, 1);
  EXPECT_TRUE(s.arguments[1].type.optional);
  EXPECT_FALSE(s.arguments[1].default_value.has_value());
  EXPECT_EQ(s.arguments[2].default_value, "False");
  EXPECT_FALSE(s.arguments[2].kwarg_only);
  EXPECT_TRUE(s.arguments[3].kwarg_only);
  EXPECT_EQ(s.arguments[3].type.base, "ScalarType");
  EXPECT_EQ(s.arguments[3].default_value, "None");
  ASSERT_EQ(s.returns.size(), 1u);
  EXPECT_TRUE(s.returns[0].type.IsTensor());
  EXPECT_FALSE(s.returns_parenthesized);
  EXPECT_EQ(s.QualifiedName(), "sum.dim_IntList");
}

TEST(SchemaParser, ReadsAliasAnnotationsOptionalTensorsAndTensorLists) {
  const FunctionSchema split =
      MustParse("split.sizes(Tensor(a -> *) self, int[] split_size, int dim=0) -> Tensor(a)[]");
  EXPECT_EQ(split.arguments[0].type.alias, "a -> *");
  EXPECT_FALSE(split.arguments[1].type.list_size.has_value());
  EXPECT_EQ(split.returns[0].type.alias, "a");
  EXPECT_TRUE(split.returns[0].type.is_list);

  const FunctionSchema add_ =
      MustParse("add_.Tensor(Tensor(a!) self, Tensor other, *, Scalar alpha=1) -> Tensor(a!)");
  EXPECT_TRUE(add_.arguments[0].type.IsWrite());
  EXPECT_FALSE(add_.arguments[1].type.IsWrite());

  const FunctionSchema linear =
      MustParse("linear(Tensor input, Tensor weight, Tensor? bias=None) -> Tensor");
  EXPECT_TRUE(linear.arguments[2].type.IsTensor());
  EXPECT_TRUE(linear.arguments[2].type.optional);

  const FunctionSchema cat = MustParse("cat(Tensor[] tensors, int dim=0) -> Tensor");
  EXPECT_TRUE(cat.arguments[0].type.IsTensor());
  EXPECT_TRUE(cat.arguments[0].type.is_list);

  const FunctionSchema list_write = MustParse("add_.t(t[](a!) self, t[] b) -> t[]");
  EXPECT_EQ(list_write.arguments[0].type.list_alias, "a!");
  EXPECT_TRUE(list_write.arguments[0].type.IsWrite());
}

TEST(SchemaParser, ReadsTupleReturnsWithNamesAndEmptyReturns) {
  const FunctionSchema s = MustParse(
      "max.dim(Tensor self, int dim, bool keepdim=False) -> (Tensor values, Tensor indices)");
  EXPECT_TRUE(s.returns_parenthesized);
  ASSERT_EQ(s.returns.size(), 2u);
  EXPECT_EQ(s.returns[0].name, "values");
  EXPECT_EQ(s.returns[1].name, "indices");
  const FunctionSchema none = MustParse("_foo(Tensor(a!) self) -> ()");
  EXPECT_TRUE(none.returns.empty());
  EXPECT_TRUE(none.returns_parenthesized);
}

TEST(SchemaParser, DropsTheAtenPrefix) {
  EXPECT_EQ(MustParse("aten::exp(Tensor self) -> Tensor").ToString(), "exp(Tensor self) -> Tensor");
}

TEST(SchemaParser, PrintsBackExactlyWhatItRead) {
  for (const char* text : {
           "add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor",
           "sum.dim_IntList(Tensor self, int[1]? dim, bool keepdim=False, *, ScalarType? "
           "dtype=None) -> Tensor",
           "linear(Tensor input, Tensor weight, Tensor? bias=None) -> Tensor",
           "split.sizes(Tensor(a -> *) self, int[] split_size, int dim=0) -> Tensor(a)[]",
           "view(Tensor(a) self, SymInt[] size) -> Tensor(a)",
           "mse_loss(Tensor self, Tensor target, int reduction=1) -> Tensor",
           "gelu(Tensor self, *, str approximate=\"none\") -> Tensor",
           "cross_entropy_loss(Tensor self, Tensor target, Tensor? weight=None, int reduction=1, "
           "int ignore_index=-100, float label_smoothing=0.) -> Tensor",
           "leaky_relu(Tensor self, Scalar negative_slope=0.01) -> Tensor",
           "slice.Tensor(Tensor(a) self, int dim=0, SymInt? start=None, SymInt? end=None, SymInt "
           "step=1) -> Tensor(a)",
           "_to_copy(Tensor self, *, ScalarType? dtype=None, Layout? layout=None, Device? "
           "device=None, bool? pin_memory=None, bool non_blocking=False, MemoryFormat? "
           "memory_format=None) -> Tensor",
           "contiguous(Tensor(a) self, *, MemoryFormat memory_format=0) -> Tensor(a)",
           "to.prim_Device(Tensor(a) self, Device? device, int? dtype=None, bool "
           "non_blocking=False, bool copy=False) -> Tensor(b|a)",
           "max.dim_max(Tensor self, int dim, bool keepdim=False, *, Tensor(a!) max, Tensor(b!) "
           "max_values) -> (Tensor(a!) values, Tensor(b!) indices)",
           "str.split(str self, str? separator=None, int max=-1) -> str[]",
           "permute(Tensor(a) self, int[] dims) -> Tensor(a)",
           "foo(int[] a=[0, 1], float? b=1e-05, str c='x') -> ()",
       }) {
    EXPECT_EQ(MustParse(text).ToString(), text);
  }
}

TEST(SchemaParser, RefusesMalformedSchemasWithThePlaceAndWhatWasExpected) {
  struct Case {
    const char* text;
    const char* error;
  };
  for (const Case& c : std::vector<Case>{
           {"", "column 1: expected the operator name"},
           {"exp", "expected '('"},
           {"exp.(Tensor self) -> Tensor", "expected an overload name after '.'"},
           {"exp(Tensor self -> Tensor", "expected ',' or ')'"},
           {"exp(Tensor self)", "expected '->'"},
           {"exp(Tensor self) ->", "expected a type"},
           {"exp(Tensor self) -> Tensor junk", "unexpected text after the returns"},
           {"exp(Tensor) -> Tensor", "expected an argument name"},
           {"exp(Tensor(a self) -> Tensor", "malformed alias annotation 'a self'"},
           {"exp(Tensor(a)) -> Tensor", "expected an argument name"},
           {"exp(Tensor() self) -> Tensor", "empty or badly spaced alias annotation"},
           {"exp(int[1 x) -> Tensor", "expected ']'"},
           {"exp(int x=) -> Tensor", "expected a default value after '='"},
           {"exp(str x=\"abc) -> Tensor", "unterminated string default"},
           {"exp(*, *, int x) -> Tensor", "a second '*'"},
           {"exp(int x, *) -> Tensor", "expected ',' after '*'"},
           {"exp(int x, int x) -> Tensor", "duplicate argument name 'x'"},
           {"exp(Tensor self) -> (Tensor a=1)", "a return cannot have a default"},
           {"exp(Tensor$ self) -> Tensor", "expected an argument name"},
       }) {
    absl::StatusOr<FunctionSchema> s = ParseSchema(c.text);
    ASSERT_FALSE(s.ok()) << c.text;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(std::string(s.status().message()), HasSubstr(c.error)) << c.text;
    EXPECT_THAT(std::string(s.status().message()), HasSubstr("malformed schema")) << c.text;
  }
}

TEST(SchemaParser, QuotesAtMost200CharactersOfAHugeMalformedSchema) {
  const std::string huge = "exp(" + std::string(100000, 'x');
  absl::StatusOr<FunctionSchema> s = ParseSchema(huge);
  ASSERT_FALSE(s.ok());
  EXPECT_LT(s.status().message().size(), 400u);
}

}  // namespace
}  // namespace tensord
