// PyTorch's function schema language (ATen's native_functions.yaml / TorchScript), as
// torch._C._jit_get_schemas_for_operator prints it without the "aten::" prefix:
//
//   sum.dim_IntList(Tensor self, int[1]? dim, bool keepdim=False, *, ScalarType? dtype=None)
//     -> Tensor
//   split.sizes(Tensor(a -> *) self, int[] split_size, int dim=0) -> Tensor(a)[]
//   max.dim(Tensor self, int dim, bool keepdim=False) -> (Tensor values, Tensor indices)
//
// ParseSchema reads one; ToString prints it back character for character. The op table declares
// every public op by its schema (engine/op_def.h) and derives inputs and attributes from it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tensord {

struct SchemaType {
  // "Tensor", "Scalar", "int", "SymInt", "float", "bool", "str", "ScalarType", "Layout", "Device",
  // "MemoryFormat", "t" (a type variable); any identifier is kept as written.
  std::string base;
  // Alias annotation of the element (or of the type when it is not a list), without the
  // parentheses: "a", "a!", "a -> *", "b|a". Empty: none.
  std::string alias;
  bool is_list = false;
  std::optional<int64_t> list_size;  // int[1]
  std::string list_alias;            // t[](a!): the annotation after the brackets
  bool optional = false;             // a trailing `?`

  bool IsTensor() const { return base == "Tensor"; }
  // The alias annotation ends in `!`: the argument is written to.
  bool IsWrite() const;
  std::string ToString() const;
};

struct SchemaArgument {
  SchemaType type;
  std::string name;  // may be empty for returns
  // The default exactly as written ("1", "False", "None", "0.01", "\"none\"", "[0, 1]"); absent:
  // the argument has none.
  std::optional<std::string> default_value;
  bool kwarg_only = false;  // after `*`

  std::string ToString() const;
};

struct FunctionSchema {
  std::string name;      // "sum"
  std::string overload;  // "dim_IntList"; empty for the default overload
  std::vector<SchemaArgument> arguments;
  std::vector<SchemaArgument> returns;
  // Returns printed in parentheses: a tuple, `()`, or a single named return.
  bool returns_parenthesized = false;

  std::string ToString() const;
  // The name with its overload: "sum.dim_IntList".
  std::string QualifiedName() const;
};

// Parses one schema. An "aten::" prefix is accepted and dropped. Errors are InvalidArgument and
// say what was expected where ("... at column 17: expected ')'").
absl::StatusOr<FunctionSchema> ParseSchema(absl::string_view text);

}  // namespace tensord
