// The op table's vocabulary. Every op is declared once, as an OpDef: wire name, arity,
// attributes, grad_fn name, shape rule, forward, backward. The engine's dispatch, the service's
// ListOps and dispatch, the clients and the test harnesses all read the same table.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "engine/schema.h"
#include "engine/tensor.h"

namespace tensord {

enum class AttrType {
  kBool,
  kInt,
  kDouble,
  kScalar,  // int64 or double, keeps which (like a Python number)
  kInts,
  kDType,
  kString,
  // Accepted at their default only (the engine has one layout, one device, one memory format).
  kMemoryFormat,
  kLayout,
  kDevice,
  // `Generator? generator=None`: None only (random ops draw from the context's generator).
  kGenerator,
};
absl::string_view AttrTypeName(AttrType type);

// monostate is "None".
using AttrValue =
    std::variant<std::monostate, bool, int64_t, double, std::vector<int64_t>, DType, std::string>;

struct AttrSpec {
  absl::string_view name;
  AttrType type;
  // Value when the caller gives none. monostate with `required` false: optional (None).
  AttrValue default_value;
  // No default in the schema: the caller must give it (an optional type, `int[1]? dim`, may be
  // left out on the wire and is then None).
  bool required = false;
  absl::string_view doc;
  // Derived from the schema: whether None is allowed (`?`), and whether the argument is
  // keyword-only (after `*`).
  bool nullable = false;
  bool kwarg_only = false;
};

// Attribute values by name. Small: a linear scan beats a map here.
class Attrs {
 public:
  Attrs() = default;
  Attrs(std::initializer_list<std::pair<std::string, AttrValue>> values);

  Attrs& Set(absl::string_view name, AttrValue value);
  // True when present and not None.
  bool Has(absl::string_view name) const;
  const AttrValue* Find(absl::string_view name) const;

  // Typed getters; callers rely on the resolved table spec for presence and type.
  int64_t Int(absl::string_view name) const;
  double Double(absl::string_view name) const;  // kDouble or kScalar
  bool Bool(absl::string_view name) const;
  const std::vector<int64_t>& Ints(absl::string_view name) const;
  DType GetDType(absl::string_view name) const;
  const std::string& String(absl::string_view name) const;
  // For kScalar: whether the value is an integer (affects type promotion).
  bool IsIntegral(absl::string_view name) const;

  const std::vector<std::pair<std::string, AttrValue>>& entries() const { return values_; }
  std::string DebugString() const;

 private:
  std::vector<std::pair<std::string, AttrValue>> values_;
};

struct OpArgs {
  std::span<const Tensor> inputs;
  const Attrs& attrs;
};

struct BackwardArgs {
  const Attrs& attrs;
  std::vector<Tensor> inputs;   // saved inputs; undefined unless the op saves them
  std::vector<Tensor> outputs;  // saved outputs; undefined unless the op saves them
  const std::vector<TensorMeta>& input_meta;
  std::vector<Tensor> grads;  // one per differentiable output, zero-filled where none flowed
  std::vector<bool> needs_input_grad;
  // Strides and storage offsets of the forward inputs; recorded for view ops only.
  std::vector<Shape> input_strides;
  std::vector<int64_t> input_offsets;
};

using InferFn = absl::StatusOr<std::vector<TensorMeta>> (*)(const OpArgs&);
using ForwardFn = absl::StatusOr<std::vector<Tensor>> (*)(const OpArgs&,
                                                          const std::vector<TensorMeta>&);
using BackwardFn = absl::StatusOr<std::vector<Tensor>> (*)(const BackwardArgs&);
// Writes op(inputs) straight into inputs[0] (which has the result's shape and dtype), for
// in-place calls that record no graph. Optional: without it the result is computed and copied.
using InplaceFn = void (*)(const OpArgs&);
// Estimated work of one call in element operations, for scheduling (what may run inline on an
// RPC thread) — an upper bound in spirit, cheap to compute from metadata. Optional: without it
// EstimateWork uses the inputs' loop extents.
using CostFn = int64_t (*)(std::span<const Tensor> inputs);

enum class OpKind {
  kKernel,     // computes new outputs
  kView,       // outputs alias input 0's storage
  kComposite,  // forward calls other ops, which record the graph; no node of its own
};

inline constexpr int kVariadic = -1;

struct OpDef {
  absl::string_view name;  // wire name, e.g. "add"
  // PyTorch 1.13's ATen schema without "aten::", exactly as torch prints it: the op's
  // declaration. At table construction its tensor arguments become the inputs (num_inputs,
  // optional_inputs) and the others the attributes (attrs). Empty only for internal ops (a
  // leading `_`, used by backward or composites), which declare num_inputs and attrs by hand.
  absl::string_view schema;
  // The op's checks read tensor values (index ranges, BCE's input range, nll_loss targets), not
  // only shapes, dtypes and attributes.
  bool value_dependent_checks = false;
  // The result has self's shape for inputs broadcastable to self (pointwise ops, fills, scatter,
  // cumsum, addmm): with a schema `NAME(Tensor self, ...) -> Tensor` the op gets the in-place
  // form `NAME_` by rule (DeriveFromSchema). Not set for ops ATen has no in-place form of.
  bool result_like_self = false;
  // Derived from the schema: the op takes ATen's TensorOptions (`ScalarType? dtype, Layout?
  // layout, Device? device, bool? pin_memory`, keyword-only), as torchgen decides which functions
  // are factories. Such an op also gets the attribute `requires_grad` (bool, default False,
  // keyword-only) that PyTorch's Python bindings add to every factory: the result is made to
  // require grad (floating results only, PyTorch's error otherwise).
  bool factory = false;
  int num_inputs = 1;            // or kVariadic (a list, e.g. cat)
  uint32_t optional_inputs = 0;  // bit i: input i is `Tensor?` (undefined means None)
  std::vector<AttrSpec> attrs;   // typed attributes with defaults
  std::shared_ptr<const FunctionSchema> parsed_schema;  // set with `schema`
  absl::string_view overload_group() const;  // "sum" for sum.dim_IntList; wire name without one
  absl::string_view overload_name() const;   // "dim_IntList"; "" for the default overload
  absl::string_view grad_fn;                 // "AddBackward0"; empty: not differentiable
  absl::string_view doc;
  OpKind kind = OpKind::kKernel;
  InferFn infer = nullptr;  // validates, returns output metadata, never allocates
  ForwardFn forward = nullptr;
  BackwardFn backward = nullptr;
  uint32_t save_inputs = 0;  // bit i: input i is saved for backward
  // Like PyTorch, an input is saved only for the gradients that use it, decided when the node is
  // recorded: a nonzero entry i is the set of inputs (bit j: input j) whose gradient formula
  // reads saved input i, which is then kept only if one of them requires grad. Missing or zero
  // entries: kept whenever save_inputs has it.
  std::vector<uint32_t> save_input_for;
  // bit i: input i is not differentiable (an index, a mask, a condition). Like PyTorch, the node
  // gets no next edge for it (next_functions has no entry) and its gradient is never asked for.
  uint32_t nondiff_inputs = 0;
  bool save_outputs = false;
  // With save_outputs: which outputs are kept (bit j: output j); max(dim) keeps only indices.
  uint32_t save_output_mask = ~0u;
  // Number of outputs; -1: decided by the inputs (unbind).
  int num_outputs = 1;
  // How many leading outputs are differentiable (max's indices are not); -1: all.
  int differentiable_outputs = -1;
  // The name of the in-place variant ("add_"), if it has one.
  absl::string_view inplace_name;
  InplaceFn inplace = nullptr;
  // For ops whose work is not proportional to their inputs' sizes (matrix products).
  CostFn cost = nullptr;
};

// Saturating element-operation estimate of Apply(def, inputs, attrs): `def.cost` (or the sum of
// the inputs' loop extents, where a size-0 dimension counts as 1 so that a [0, 2^62] tensor is not
// "small"), plus, for each integer-list attribute (sizes, repeats), the product of its entries.
// Never runs the op or its shape rule.
int64_t EstimateWork(const OpDef& def, std::span<const Tensor> inputs, const Attrs& attrs);
// The loop extent of a shape: the product of its sizes with 0 counted as 1, saturating.
int64_t LoopExtent(const Shape& shape);

// Fills num_inputs, optional_inputs, attrs (keeping the docs of hand-written ones by name),
// parsed_schema and, by rule, inplace_name from def.schema; OpTable() runs it on every op.
absl::Status DeriveFromSchema(OpDef& def);

// All ops, in a stable order.
const std::vector<OpDef>& OpTable();
// Looks an op up by wire name or in-place name; NOT_FOUND for an unknown op.
absl::StatusOr<const OpDef*> FindOp(absl::string_view name);

}  // namespace tensord
