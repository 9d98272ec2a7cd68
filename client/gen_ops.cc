// Generates the client's op methods, free functions and Session functions from the engine's op
// table, each from the op's parsed ATen schema (engine/schema.h): PyTorch's names by overload
// group (x.sum(), x.sum({0}, true), x.max(1), x.pow(2), t.linear(x, w, b)), the wire names too
// (x.sum_dim(...)), argument names, types and defaults as in the schema, and the in-place forms
// (x.exp_()). So every op reaches the C++ client with no per-op code.
// Usage: gen_ops DECL.inc FREE.inc IMPL.inc SESSION.inc
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/op_def.h"

namespace {

using tensord::AttrSpec;
using tensord::AttrType;
using tensord::AttrValue;
using tensord::OpDef;
using tensord::SchemaArgument;

struct Param {
  std::string type;  // C++ parameter type
  std::string name;
  std::string deflt;  // default argument, or empty
};

std::string BaseType(AttrType t) {
  switch (t) {
    case AttrType::kBool:
      return "bool";
    case AttrType::kInt:
      return "int64_t";
    case AttrType::kDouble:
      return "double";
    case AttrType::kScalar:
      return "Scalar";
    case AttrType::kInts:
      return "std::vector<int64_t>";
    case AttrType::kDType:
      return "DType";
    case AttrType::kString:
      return "std::string";
    case AttrType::kMemoryFormat:  // torch.contiguous_format = 0
    case AttrType::kLayout:        // torch.strided = 0
      return "int64_t";
    case AttrType::kDevice:
      return "std::string";
    case AttrType::kGenerator:  // None only: never a parameter
      return "?";
  }
  return "?";
}

std::string Literal(const AttrValue& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using X = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<X, std::monostate>) {
          return "std::nullopt";
        } else if constexpr (std::is_same_v<X, bool>) {
          return x ? "true" : "false";
        } else if constexpr (std::is_same_v<X, int64_t>) {
          return absl::StrCat(x);
        } else if constexpr (std::is_same_v<X, double>) {
          std::string s = absl::StrCat(x);
          if (s.find_first_of(".e") == std::string::npos) s += ".0";
          return s;
        } else if constexpr (std::is_same_v<X, std::vector<int64_t>>) {
          return absl::StrCat("std::vector<int64_t>{", absl::StrJoin(x, ", "), "}");
        } else if constexpr (std::is_same_v<X, tensord::DType>) {
          switch (x) {
            case tensord::DType::kFloat32:
              return "DType::kFloat32";
            case tensord::DType::kFloat64:
              return "DType::kFloat64";
            case tensord::DType::kInt64:
              return "DType::kInt64";
            case tensord::DType::kBool:
              return "DType::kBool";
          }
          return "?";
        } else {
          return absl::StrCat("\"", x, "\"");
        }
      },
      v);
}

// The parameters of an op after its method object, from its parsed ATen schema: tensor
// arguments (`Tensor?`: an undefined Tensor is None), then every non-tensor argument with its
// type and default. A default is dropped where a later parameter has none (C++ needs defaults
// at the end). `object` is the index of the tensor that becomes `*this` (-1: none, a free function
// only: Tensor[] ops).
struct Signature {
  std::vector<Param> params;        // after the method object
  std::vector<std::string> inputs;  // the Apply input expressions, in order
  std::vector<Param> attrs;
  bool method = true;
  std::string object = "self";  // the schema's name of the method object (where: condition)
};

// A factory's TensorOptions arguments (and memory_format): one `TensorOptions options` parameter
// in C++, as libtorch's at::zeros(size, options) has.
bool IsTensorOption(absl::string_view name) {
  return name == "dtype" || name == "layout" || name == "device" || name == "pin_memory" ||
         name == "memory_format";
}

Signature SignatureOf(const OpDef& def) {
  Signature sig;
  size_t attr = 0;
  bool first_tensor = true;
  const auto& args = def.parsed_schema->arguments;
  // No method where the first argument is not a tensor (pow.Scalar(Scalar self, Tensor
  // exponent)) or the tensors are a list (cat): free and Session functions only.
  // Nor for factories: torch.zeros_like(x), not x.zeros_like().
  sig.method = !args.empty() && args[0].type.IsTensor() && !args[0].type.is_list && !def.factory;
  for (const tensord::SchemaArgument& arg : args) {
    if (arg.type.IsTensor()) {
      if (arg.type.is_list) {
        sig.params.push_back({"const std::vector<Tensor>&", arg.name, ""});
        sig.inputs.push_back(arg.name);
      } else if (!sig.method) {
        sig.params.push_back({"const Tensor&", arg.name, arg.type.optional ? "Tensor()" : ""});
        sig.inputs.push_back(arg.name);
      } else if (first_tensor) {
        sig.inputs.push_back("*this");
        sig.object = arg.name;
      } else {
        sig.params.push_back({"const Tensor&", arg.name, arg.type.optional ? "Tensor()" : ""});
        sig.inputs.push_back(arg.name);
      }
      first_tensor = false;
      continue;
    }
    const AttrSpec& a = def.attrs[attr++];
    if (a.type == AttrType::kGenerator) continue;  // None: the session's generator
    if (def.factory && IsTensorOption(a.name)) continue;
    const bool none_default =
        !a.required && std::holds_alternative<std::monostate>(a.default_value);
    std::string type = BaseType(a.type);
    if (none_default) type = absl::StrCat("std::optional<", type, ">");
    if (type.rfind("std::", 0) == 0 && !none_default) type = absl::StrCat("const ", type, "&");
    // A factory's positional defaults are dropped, as libtorch's C++ API does where they would
    // make overloads ambiguous (arange(start, end) against arange(start, end, step=1)).
    const bool keep_default = !a.required && !(def.factory && !a.kwarg_only);
    Param p{type, std::string(a.name), keep_default ? Literal(a.default_value) : ""};
    sig.params.push_back(p);
    sig.attrs.push_back(p);
  }
  if (def.factory) {
    sig.params.push_back({"TensorOptions", "options", "{}"});
  }
  bool tail = true;
  for (size_t i = sig.params.size(); i-- > 0;) {
    if (sig.params[i].deflt.empty()) tail = false;
    if (!tail) sig.params[i].deflt.clear();
  }
  for (Param& a : sig.attrs) {
    for (const Param& p : sig.params)
      if (p.name == a.name) a.deflt = p.deflt;
  }
  return sig;
}

std::string Join(const std::vector<Param>& ps, bool with_defaults) {
  std::vector<std::string> parts;
  for (const Param& p : ps) {
    std::string s = absl::StrCat(p.type, " ", p.name);
    if (with_defaults && !p.deflt.empty()) absl::StrAppend(&s, " = ", p.deflt);
    parts.push_back(s);
  }
  return absl::StrJoin(parts, ", ");
}

std::string Names(const std::vector<Param>& ps) {
  std::vector<std::string> parts;
  for (const Param& p : ps) parts.push_back(p.name);
  return absl::StrJoin(parts, ", ");
}

std::string ReturnType(const OpDef& def) {
  if (def.num_outputs < 0) return "std::vector<Tensor>";
  if (def.num_outputs == 1) return "Tensor";
  return absl::StrCat(
      "std::tuple<", absl::StrJoin(std::vector<std::string>(def.num_outputs, "Tensor"), ", "), ">");
}

std::string AttrsExpr(const std::vector<Param>& ps) {
  std::vector<std::string> parts;
  for (const Param& p : ps)
    parts.push_back(absl::StrCat("{\"", p.name, "\", ToAttr(", p.name, ")}"));
  return absl::StrCat("Attrs{", absl::StrJoin(parts, ", "), "}");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: gen_ops DECL.inc FREE.inc IMPL.inc SESSION.inc\n";
    return 2;
  }
  std::ofstream decl(argv[1]), free_fns(argv[2]), impl(argv[3]), session(argv[4]);
  const char* banner =
      "// Generated by client/gen_ops.cc from the engine's op table (each op's ATen schema). Do "
      "not edit.\n";
  decl << banner;
  free_fns << banner;
  impl << banner;
  session << banner;
  for (const OpDef& def : tensord::OpTable()) {
    const std::string wire(def.name);
    if (wire[0] == '_' || def.parsed_schema == nullptr) continue;  // internal ops
    const Signature sig = SignatureOf(def);
    const std::string ret = ReturnType(def);
    const std::string group(def.overload_group());
    const std::string doc = absl::StrCat(
        "  // ", def.schema, def.grad_fn.empty() ? "" : absl::StrCat(" [", def.grad_fn, "]"), "\n");
    // The wire name (x.sum_dim(...)) and PyTorch's name (x.sum(...)), an overload by C++ types.
    std::vector<std::string> names = {wire};
    if (group != wire) names.push_back(group);
    const std::string apply_inputs = absl::StrCat("{", absl::StrJoin(sig.inputs, ", "), "}");
    for (const std::string& name : names) {
      if (def.factory) {
        // Session methods (t.zeros({2, 3}, td::dtype(td::kInt64))); the *_like forms also as free
        // functions (td::zeros_like(x)). Sent as ApplyOp, like every op.
        session << doc << "  " << ret << " " << name << "(" << Join(sig.params, true) << ");\n";
        impl << ret << " Session::" << name << "(" << Join(sig.params, false) << ") {\n"
             << "  return Factory(\"" << wire << "\", " << apply_inputs << ", "
             << AttrsExpr(sig.attrs) << ", options);\n}\n";
        if (!sig.inputs.empty()) {
          free_fns << doc << ret << " " << name << "(" << Join(sig.params, true) << ");\n";
          impl << ret << " " << name << "(" << Join(sig.params, false) << ") {\n"
               << "  return detail::SessionOf(std::vector<Tensor>" << apply_inputs << ")." << name
               << "(" << Names(sig.params) << ");\n}\n";
        }
        continue;
      }
      if (!sig.method) {
        // Free functions (td::cat({a, b}), td::pow(2, x)) and Session ones (t.cat(...)).
        const bool list = def.num_inputs == tensord::kVariadic;
        const std::string tensors =
            list ? sig.inputs[0] : absl::StrCat("std::vector<Tensor>", apply_inputs);
        free_fns << doc << ret << " " << name << "(" << Join(sig.params, true) << ");\n";
        impl << ret << " " << name << "(" << Join(sig.params, false) << ") {\n"
             << "  return detail::Unpack<" << ret << ">(detail::SessionOf(" << tensors
             << ").Apply(\"" << wire << "\", " << tensors << ", " << AttrsExpr(sig.attrs) << ", "
             << def.num_outputs << "));\n}\n";
        session << "  " << ret << " " << name << "(" << Join(sig.params, true) << ") {\n"
                << "    return ::tensord::client::" << name << "(" << Names(sig.params)
                << ");\n  }\n";
        continue;
      }
      std::vector<Param> free_ps = {{"const Tensor&", sig.object, ""}};
      free_ps.insert(free_ps.end(), sig.params.begin(), sig.params.end());
      decl << doc << "  " << ret << " " << name << "(" << Join(sig.params, true) << ") const;\n";
      impl << ret << " Tensor::" << name << "(" << Join(sig.params, false) << ") const {\n"
           << "  return detail::Unpack<" << ret << ">(session().Apply(\"" << wire << "\", "
           << apply_inputs << ", " << AttrsExpr(sig.attrs) << ", " << def.num_outputs << "));\n}\n";
      free_fns << ret << " " << name << "(" << Join(free_ps, true) << ");\n";
      impl << ret << " " << name << "(" << Join(free_ps, false) << ") {\n  return " << sig.object
           << "." << name << "(" << Names(sig.params) << ");\n}\n";
      session << "  " << ret << " " << name << "(" << Join(free_ps, true) << ") {\n"
              << "    return " << sig.object << "." << name << "(" << Names(sig.params)
              << ");\n  }\n";
      if (!def.inplace_name.empty()) {
        // The in-place form: x.exp_(), x.add_(y), x.pow_(2) (wire pow_scalar_).
        const std::string ip = name + "_";
        decl << "  Tensor& " << ip << "(" << Join(sig.params, true) << ");\n";
        impl << "Tensor& Tensor::" << ip << "(" << Join(sig.params, false) << ") {\n"
             << "  session().Apply(\"" << def.inplace_name << "\", " << apply_inputs << ", "
             << AttrsExpr(sig.attrs) << ", 0);\n  return *this;\n}\n";
      }
    }
  }
  return decl && free_fns && impl && session ? 0 : 1;
}
