#include "engine/op_def.h"

#include <atomic>

#include "engine/op_extension.h"

#include <cstdio>
#include <cstdlib>
#include <deque>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "engine/checked_math.h"
#include "engine/ops/registry.h"
#include "engine/status_macros.h"

namespace tensord {

absl::string_view AttrTypeName(AttrType type) {
  switch (type) {
    case AttrType::kBool:
      return "bool";
    case AttrType::kInt:
      return "int";
    case AttrType::kDouble:
      return "float";
    case AttrType::kScalar:
      return "Scalar";
    case AttrType::kInts:
      return "int[]";
    case AttrType::kDType:
      return "dtype";
    case AttrType::kString:
      return "str";
    case AttrType::kMemoryFormat:
      return "MemoryFormat";
    case AttrType::kLayout:
      return "Layout";
    case AttrType::kDevice:
      return "Device";
    case AttrType::kGenerator:
      return "Generator";
  }
  return "?";
}

Attrs::Attrs(std::initializer_list<std::pair<std::string, AttrValue>> values) : values_(values) {}

Attrs& Attrs::Set(absl::string_view name, AttrValue value) {
  for (auto& [n, v] : values_) {
    if (n == name) {
      v = std::move(value);
      return *this;
    }
  }
  values_.emplace_back(std::string(name), std::move(value));
  return *this;
}

const AttrValue* Attrs::Find(absl::string_view name) const {
  for (const auto& [n, v] : values_)
    if (n == name) return &v;
  return nullptr;
}

bool Attrs::Has(absl::string_view name) const {
  const AttrValue* v = Find(name);
  return v != nullptr && !std::holds_alternative<std::monostate>(*v);
}

int64_t Attrs::Int(absl::string_view name) const {
  const AttrValue* v = Find(name);
  if (v == nullptr) return 0;
  if (const auto* i = std::get_if<int64_t>(v)) return *i;
  // Truncates; NaN, infinities and values beyond int64 saturate instead of being undefined (shape
  // rules refuse them first where PyTorch does).
  if (const auto* d = std::get_if<double>(v)) return SaturatingDoubleToInt64(*d);
  if (const auto* b = std::get_if<bool>(v)) return *b ? 1 : 0;
  return 0;
}

double Attrs::Double(absl::string_view name) const {
  const AttrValue* v = Find(name);
  if (v == nullptr) return 0;
  if (const auto* d = std::get_if<double>(v)) return *d;
  if (const auto* i = std::get_if<int64_t>(v)) return static_cast<double>(*i);
  if (const auto* b = std::get_if<bool>(v)) return *b ? 1.0 : 0.0;
  return 0;
}

bool Attrs::Bool(absl::string_view name) const {
  const AttrValue* v = Find(name);
  if (v == nullptr) return false;
  if (const auto* b = std::get_if<bool>(v)) return *b;
  return Int(name) != 0;
}

const std::vector<int64_t>& Attrs::Ints(absl::string_view name) const {
  static const std::vector<int64_t> kEmpty;
  const AttrValue* v = Find(name);
  if (v == nullptr) return kEmpty;
  if (const auto* l = std::get_if<std::vector<int64_t>>(v)) return *l;
  return kEmpty;
}

DType Attrs::GetDType(absl::string_view name) const {
  const AttrValue* v = Find(name);
  if (v == nullptr) return DType::kFloat32;
  if (const auto* d = std::get_if<DType>(v)) return *d;
  return DType::kFloat32;
}

const std::string& Attrs::String(absl::string_view name) const {
  static const std::string kEmpty;
  const AttrValue* v = Find(name);
  if (v == nullptr) return kEmpty;
  if (const auto* s = std::get_if<std::string>(v)) return *s;
  return kEmpty;
}

bool Attrs::IsIntegral(absl::string_view name) const {
  const AttrValue* v = Find(name);
  return v != nullptr && (std::holds_alternative<int64_t>(*v) || std::holds_alternative<bool>(*v));
}

std::string Attrs::DebugString() const {
  std::vector<std::string> parts;
  for (const auto& [n, v] : values_) {
    std::string value = std::visit(
        [](const auto& x) -> std::string {
          using X = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<X, std::monostate>) {
            return "None";
          } else if constexpr (std::is_same_v<X, bool>) {
            return x ? "True" : "False";
          } else if constexpr (std::is_same_v<X, std::vector<int64_t>>) {
            return absl::StrCat("[", absl::StrJoin(x, ", "), "]");
          } else if constexpr (std::is_same_v<X, DType>) {
            return std::string(TorchDTypeName(x));
          } else if constexpr (std::is_same_v<X, std::string>) {
            return absl::StrCat("'", x, "'");
          } else {
            return absl::StrCat(x);
          }
        },
        v);
    parts.push_back(absl::StrCat(n, "=", value));
  }
  return absl::StrJoin(parts, ", ");
}

absl::string_view OpDef::overload_group() const {
  return parsed_schema ? absl::string_view(parsed_schema->name) : name;
}

absl::string_view OpDef::overload_name() const {
  return parsed_schema ? absl::string_view(parsed_schema->overload) : absl::string_view();
}

namespace {

absl::StatusOr<AttrType> AttrTypeOf(const SchemaType& t) {
  const std::string& b = t.base;
  if (t.is_list) {
    if (b == "int" || b == "SymInt") return AttrType::kInts;
    return absl::InvalidArgumentError(absl::StrCat("unsupported list type ", t.ToString()));
  }
  if (b == "bool") return AttrType::kBool;
  if (b == "int" || b == "SymInt") return AttrType::kInt;
  if (b == "float") return AttrType::kDouble;
  if (b == "Scalar") return AttrType::kScalar;
  if (b == "ScalarType") return AttrType::kDType;
  if (b == "str") return AttrType::kString;
  if (b == "MemoryFormat") return AttrType::kMemoryFormat;
  if (b == "Layout") return AttrType::kLayout;
  if (b == "Device") return AttrType::kDevice;
  if (b == "Generator") return AttrType::kGenerator;
  return absl::InvalidArgumentError(absl::StrCat("unsupported argument type ", t.ToString()));
}

absl::StatusOr<AttrValue> ParseDefault(absl::string_view text, AttrType type) {
  if (text == "None") return AttrValue{};
  if (text == "True") return AttrValue{true};
  if (text == "False") return AttrValue{false};
  if (text.size() >= 2 && (text.front() == '"' || text.front() == '\'')) {
    return AttrValue{std::string(text.substr(1, text.size() - 2))};
  }
  if (type == AttrType::kInts) {
    std::vector<int64_t> values;
    absl::string_view body = text;
    if (body.size() >= 2 && body.front() == '[') body = body.substr(1, body.size() - 2);
    for (absl::string_view part : absl::StrSplit(body, ',', absl::SkipWhitespace())) {
      int64_t v;
      if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(part), &v)) {
        return absl::InvalidArgumentError(absl::StrCat("bad int[] default ", text));
      }
      values.push_back(v);
    }
    return AttrValue{std::move(values)};
  }
  int64_t i;
  if (type == AttrType::kDType && absl::SimpleAtoi(text, &i)) {
    // ATen's ScalarType enum as a number (randint's `ScalarType? dtype=4`: long).
    switch (i) {
      case 4:
        return AttrValue{DType::kInt64};
      case 6:
        return AttrValue{DType::kFloat32};
      case 7:
        return AttrValue{DType::kFloat64};
      case 11:
        return AttrValue{DType::kBool};
      default:
        return absl::InvalidArgumentError(absl::StrCat("unsupported ScalarType default ", text));
    }
  }
  if (type != AttrType::kDouble && absl::SimpleAtoi(text, &i)) {
    if (type == AttrType::kBool) return AttrValue{i != 0};
    return AttrValue{i};
  }
  double d;
  if (absl::SimpleAtod(text, &d)) return AttrValue{d};
  return absl::InvalidArgumentError(absl::StrCat("bad default ", text));
}

// Stable storage for derived names ("exp_").
std::deque<std::string>& DerivedNames() {
  static auto* names = new std::deque<std::string>();
  return *names;
}

}  // namespace

absl::Status DeriveFromSchema(OpDef& def) {
  if (def.schema.empty()) return absl::OkStatus();
  TD_ASSIGN_OR_RETURN(FunctionSchema parsed, ParseSchema(def.schema));
  if (parsed.ToString() != def.schema) {
    return absl::InternalError(
        absl::StrCat(def.name, ": schema does not round-trip: ", parsed.ToString()));
  }
  auto schema = std::make_shared<const FunctionSchema>(std::move(parsed));
  std::vector<AttrSpec> hand = std::move(def.attrs);
  def.attrs.clear();
  int tensors = 0;
  bool list = false;
  def.optional_inputs = 0;
  for (const SchemaArgument& arg : schema->arguments) {
    if (arg.type.IsTensor()) {
      if (arg.type.is_list) {
        list = true;
      } else if (arg.type.optional) {
        def.optional_inputs |= 1u << tensors;
      }
      ++tensors;
      continue;
    }
    AttrSpec spec;
    spec.name = arg.name;
    TD_ASSIGN_OR_RETURN(spec.type, AttrTypeOf(arg.type));
    spec.nullable = arg.type.optional;
    spec.kwarg_only = arg.kwarg_only;
    spec.required = !arg.default_value.has_value();
    if (arg.default_value) {
      TD_ASSIGN_OR_RETURN(spec.default_value, ParseDefault(*arg.default_value, spec.type));
    }
    for (const AttrSpec& h : hand) {
      if (h.name == spec.name) spec.doc = h.doc;
    }
    def.attrs.push_back(spec);
  }
  // torchgen's rule for a factory: the four TensorOptions arguments, keyword-only.
  int options = 0;
  for (const SchemaArgument& arg : schema->arguments) {
    const std::string& b = arg.type.base;
    if (arg.kwarg_only && arg.type.optional && !arg.type.is_list &&
        ((arg.name == "dtype" && b == "ScalarType") || (arg.name == "layout" && b == "Layout") ||
         (arg.name == "device" && b == "Device") || (arg.name == "pin_memory" && b == "bool"))) {
      ++options;
    }
  }
  def.factory = options == 4;
  if (def.factory) {
    AttrSpec rg;
    rg.name = "requires_grad";
    rg.type = AttrType::kBool;
    rg.default_value = false;
    rg.kwarg_only = true;
    rg.doc = "the result requires grad (PyTorch's Python bindings add it to every factory)";
    def.attrs.push_back(rg);
  }
  if (list && tensors != 1) {
    return absl::InternalError(absl::StrCat(def.name, ": a Tensor[] must be the only tensor"));
  }
  def.num_inputs = list ? kVariadic : tensors;
  const bool self_first = !schema->arguments.empty() && schema->arguments[0].type.IsTensor() &&
                          !schema->arguments[0].type.is_list &&
                          !schema->arguments[0].type.optional &&
                          schema->arguments[0].name == "self";
  const bool returns_one_tensor =
      schema->returns.size() == 1 && schema->returns[0].type.IsTensor() &&
      !schema->returns[0].type.is_list && schema->returns[0].type.alias.empty();
  if (def.result_like_self && self_first && returns_one_tensor && def.kind == OpKind::kKernel) {
    DerivedNames().push_back(absl::StrCat(def.name, "_"));
    def.inplace_name = DerivedNames().back();
  } else if (def.result_like_self) {
    return absl::InternalError(absl::StrCat(
        def.name, ": result_like_self needs a kernel op `NAME(Tensor self, ...) -> Tensor`"));
  }
  def.parsed_schema = std::move(schema);
  // The AttrSpec names and types point into the parsed schema, which the op now owns.
  size_t k = 0;
  for (const SchemaArgument& arg : def.parsed_schema->arguments) {
    if (arg.type.IsTensor()) continue;
    def.attrs[k].name = arg.name;
    ++k;
  }
  return absl::OkStatus();
}

namespace {

std::vector<void (*)(std::vector<OpDef>&)>& Extensions() {
  static auto* added = new std::vector<void (*)(std::vector<OpDef>&)>();
  return *added;
}
std::atomic<bool> table_built{false};

}  // namespace

bool AddTableExtension(void (*add)(std::vector<OpDef>& table)) {
  if (table_built.load()) return false;
  Extensions().push_back(add);
  return true;
}

const std::vector<OpDef>& OpTable() {
  static const std::vector<OpDef>* table = [] {
    auto* ops = new std::vector<OpDef>();
    RegisterPointwiseOps(*ops);
    RegisterReductionOps(*ops);
    RegisterScanOps(*ops);
    RegisterSoftmaxOps(*ops);
    RegisterLinalgOps(*ops);
    RegisterLossOps(*ops);
    RegisterViewOps(*ops);
    RegisterIndexOps(*ops);
    RegisterJoinOps(*ops);
    RegisterCopyOps(*ops);
    RegisterAsStridedOps(*ops);
    RegisterFactoryOps(*ops);
    table_built.store(true);
    for (auto* add : Extensions()) add(*ops);
    for (OpDef& def : *ops) {
      if (absl::Status s = DeriveFromSchema(def); !s.ok()) {
        // A table bug: every table test fails loudly here.
        std::fprintf(stderr, "op table: %s\n", std::string(s.message()).c_str());
        std::abort();
      }
    }
    return ops;
  }();
  return *table;
}

absl::StatusOr<const OpDef*> FindOp(absl::string_view name) {
  static const auto* index = [] {
    auto* map = new absl::flat_hash_map<absl::string_view, const OpDef*>();
    for (const OpDef& def : OpTable()) {
      (*map)[def.name] = &def;
      if (!def.inplace_name.empty()) (*map)[def.inplace_name] = &def;
    }
    return map;
  }();
  auto it = index->find(name);
  if (it == index->end()) {
    // Never echo unbounded input: a prefix of the name is enough to recognise it.
    size_t keep = std::min<size_t>(name.size(), 128);
    while (keep < name.size() && keep > 0 &&
           (static_cast<unsigned char>(name[keep]) & 0xC0) == 0x80)
      --keep;  // whole UTF-8 characters only
    const std::string quoted =
        keep == name.size() ? std::string(name)
                            : absl::StrCat(name.substr(0, keep), "...(", name.size(), " bytes)");
    return absl::NotFoundError(absl::StrCat("unknown op '", quoted, "' (ListOps lists the ops)"));
  }
  return it->second;
}

int64_t LoopExtent(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    const int64_t f = d > 1 ? d : 1;
    if (__builtin_mul_overflow(n, f, &n)) return INT64_MAX;
  }
  return n;
}

int64_t EstimateWork(const OpDef& def, std::span<const Tensor> inputs, const Attrs& attrs) {
  int64_t work = 0;
  auto add = [&work](int64_t w) {
    if (__builtin_add_overflow(work, w, &work)) work = INT64_MAX;
  };
  // A factory whose length comes from numbers (arange, linspace, eye, randperm) has no cheap
  // estimate without its shape rule: never "small".
  if (def.factory && inputs.empty() && attrs.Ints("size").empty()) return INT64_MAX;
  if (def.cost != nullptr) {
    add(def.cost(inputs));
  } else {
    for (const Tensor& t : inputs)
      if (t.defined()) add(LoopExtent(t.shape()));
  }
  for (const auto& [name, value] : attrs.entries()) {
    if (const auto* ints = std::get_if<std::vector<int64_t>>(&value)) {
      int64_t p = 1;
      for (int64_t v : *ints) {
        const int64_t f = v == INT64_MIN ? INT64_MAX : std::max<int64_t>(v < 0 ? -v : v, 1);
        if (__builtin_mul_overflow(p, f, &p)) {
          p = INT64_MAX;
          break;
        }
      }
      add(p);
    }
  }
  return work;
}

}  // namespace tensord
