// engine_view_programs IN.jsonl OUT.jsonl: runs small tensor programs (one JSON object per line,
// written by tests/oracle/views_vs_torch.py) on the engine and writes what happened, statement
// by statement, as JSON Lines. The Python side runs the same programs in PyTorch 1.13 and
// compares values, gradients, grad_fn names, next functions, flags, versions and errors.
//
// A program: {"id": N, "seed": S, "stmts": [STMT, ...]}; registers are integers. Statements:
//   ["tensor", dst, [values...], [shape...], dtype, requires_grad]
//   ["grad_mode", enabled]
//   ["op", [dst...], name, [input...], {attr: value}]  input: a register or {"scalar": number};
//                                                      an in-place name modifies input 0
//   ["setitem", target, [item...], value]             item: ["i", n] or ["s", start, stop, step]
//   ["detach", dst, src]   ["detach_", reg]   ["requires_grad_", reg, flag]   ["set_data", reg,
//   src]
//   ["retain_grad", reg]
//   ["backward", [root...], [grad...], retain_graph]     grads: registers or null
//   ["grad", [dst...], [output...], [input...], [grad_output...], create_graph]   autograd.grad
//   ["observe", [reg...]]
// Results: "ok", {"error": message}, "skip" (a register it needs is undefined after an earlier
// failure), or for observe a list of {"values", "shape", "dtype", "requires_grad", "is_leaf",
// "grad_fn", "next", "version", "is_view", "grad"}.
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/api.h"
#include "engine/autograd.h"
#include "engine/context.h"
#include "engine/dispatch.h"
#include "engine/factory.h"
#include "engine/node.h"
#include "engine/status_macros.h"
#include "engine/tensor.h"
#include "tests/oracle/json.h"

namespace tensord::testing {
namespace {

struct Skip {};  // a register the statement needs is undefined

class Program {
 public:
  absl::StatusOr<std::string> Run(const Json& stmt) {
    const std::string& head = stmt.array.at(0).string;
    std::optional<std::string> observation;
    absl::Status status = Dispatch(head, stmt, observation);
    if (skipped_) {
      skipped_ = false;
      return std::string("\"skip\"");
    }
    if (!status.ok()) return JsonObject({{"error", JsonString(status.message())}});
    if (observation) return *observation;
    return std::string("\"ok\"");
  }

 private:
  // The register `j` names, or undefined (and the statement is skipped).
  Tensor Reg(const Json& j) {
    auto it = regs_.find(j.Int());
    if (it == regs_.end() || !it->second.defined()) {
      skipped_ = true;
      return Tensor();
    }
    return it->second;
  }

  absl::StatusOr<Tensor> Input(const Json& j) {
    if (j.kind == Json::Kind::kObject) {
      const Json& v = *j.Find("scalar");
      return ops::scalar_tensor(v.integral ? Scalar(v.Int()) : Scalar(v.number));
    }
    return Reg(j);
  }

  static AttrValue ToAttr(const Json& j) {
    switch (j.kind) {
      case Json::Kind::kNull:
        return std::monostate{};
      case Json::Kind::kBool:
        return j.boolean;
      case Json::Kind::kNumber:
        if (j.integral) return j.Int();
        return j.number;
      case Json::Kind::kString:
        return j.string;
      case Json::Kind::kArray: {
        std::vector<int64_t> v;
        for (const Json& e : j.array) v.push_back(e.Int());
        return v;
      }
      case Json::Kind::kObject:
        break;
    }
    return std::monostate{};
  }

  absl::Status Dispatch(const std::string& head, const Json& s, std::optional<std::string>& obs) {
    const std::vector<Json>& a = s.array;
    if (head == "tensor") {
      std::vector<double> values;
      for (const Json& v : a[2].array) {
        values.push_back(v.kind == Json::Kind::kBool ? (v.boolean ? 1.0 : 0.0) : v.number);
      }
      Shape shape;
      for (const Json& d : a[3].array) shape.push_back(d.Int());
      TD_ASSIGN_OR_RETURN(DType dtype, ParseDType(a[4].string));
      TD_ASSIGN_OR_RETURN(
          Tensor t,
          factory::from_values(
              values, shape,
              factory::TensorOptions().with_dtype(dtype).with_requires_grad(a[5].boolean)));
      regs_[a[1].Int()] = t;
      return absl::OkStatus();
    }
    if (head == "grad_mode") {
      Context::Current().set_grad_enabled(a[1].boolean);
      return absl::OkStatus();
    }
    if (head == "op") {
      std::vector<Tensor> inputs;
      for (const Json& in : a[3].array) {
        TD_ASSIGN_OR_RETURN(Tensor t, Input(in));
        if (skipped_) return absl::OkStatus();
        inputs.push_back(t);
      }
      Attrs attrs;
      for (const auto& [name, value] : a[4].object) attrs.Set(name, ToAttr(value));
      TD_ASSIGN_OR_RETURN(std::vector<Tensor> outs, Apply(a[2].string, inputs, attrs));
      for (size_t i = 0; i < a[1].array.size() && i < outs.size(); ++i) {
        regs_[a[1].array[i].Int()] = outs[i];
      }
      return absl::OkStatus();
    }
    if (head == "setitem") return SetItem(s);
    if (head == "detach") {
      Tensor t = Reg(a[2]);
      if (skipped_) return absl::OkStatus();
      regs_[a[1].Int()] = t.detach();
      return absl::OkStatus();
    }
    if (head == "detach_" || head == "retain_grad") {
      Tensor t = Reg(a[1]);
      if (skipped_) return absl::OkStatus();
      return head == "detach_" ? t.detach_() : t.retain_grad();
    }
    if (head == "requires_grad_") {
      Tensor t = Reg(a[1]);
      if (skipped_) return absl::OkStatus();
      return t.requires_grad_(a[2].boolean);
    }
    if (head == "set_data") {
      Tensor t = Reg(a[1]), src = Reg(a[2]);
      if (skipped_) return absl::OkStatus();
      return t.set_data(src);
    }
    if (head == "backward") {
      std::vector<Tensor> roots, grads;
      for (const Json& r : a[1].array) roots.push_back(Reg(r));
      for (const Json& g : a[2].array) grads.push_back(g.is_null() ? Tensor() : Reg(g));
      if (skipped_) return absl::OkStatus();
      BackwardOptions options;
      options.retain_graph = a[3].boolean;
      return Backward(roots, grads, options);
    }
    if (head == "grad") {
      std::vector<Tensor> outputs, inputs, grads;
      for (const Json& r : a[2].array) outputs.push_back(Reg(r));
      for (const Json& r : a[3].array) inputs.push_back(Reg(r));
      for (const Json& g : a[4].array) grads.push_back(g.is_null() ? Tensor() : Reg(g));
      if (skipped_) return absl::OkStatus();
      TD_ASSIGN_OR_RETURN(std::vector<Tensor> result,
                          Grad(outputs, inputs, grads,
                               GradOptions{.create_graph = a[5].boolean, .allow_unused = true}));
      for (size_t i = 0; i < a[1].array.size() && i < result.size(); ++i) {
        regs_[a[1].array[i].Int()] = result[i];
      }
      return absl::OkStatus();
    }
    if (head == "observe") {
      std::vector<std::string> items;
      for (const Json& r : a[1].array) {
        auto it = regs_.find(r.Int());
        items.push_back(it == regs_.end() || !it->second.defined() ? "null" : Observe(it->second));
      }
      obs = JsonArray(items);
      return absl::OkStatus();
    }
    return absl::InvalidArgumentError(absl::StrCat("unknown statement ", head));
  }

  // x[items] = value, as PyTorch's indexing layer does it: the indexed view, then copy_ (a
  // tensor value is first broadcast to the view's shape; a 0-dim or number value fills).
  absl::Status SetItem(const Json& s) {
    const std::vector<Json>& a = s.array;
    Tensor dst = Reg(a[1]);
    if (skipped_) return absl::OkStatus();
    const bool in_tuple = a[2].array.size() > 1;
    int64_t dim = 0;
    for (const Json& item : a[2].array) {
      if (item.array[0].string == "i") {
        TD_ASSIGN_OR_RETURN(dst, ops::select(dst, dim, item.array[1].Int()));
        continue;
      }
      const Json &start = item.array[1], &stop = item.array[2];
      const int64_t step = item.array[3].Int();
      const bool full = !start.is_null() && start.Int() == 0 && !stop.is_null() &&
                        stop.Int() == dst.size(dim) && step == 1;
      if (!(in_tuple && full)) {
        TD_ASSIGN_OR_RETURN(
            dst, ops::slice(dst, dim, start.is_null() ? std::nullopt : std::optional(start.Int()),
                            stop.is_null() ? std::nullopt : std::optional(stop.Int()), step));
      }
      ++dim;
    }
    const Json& value = a[3];
    Tensor v;
    if (value.kind == Json::Kind::kObject) {
      TD_ASSIGN_OR_RETURN(v, WrapScalar(value.Find("scalar")->number, dst.dtype()));
      v.impl()->wrapped_number = false;
    } else {
      v = Reg(value);
      if (skipped_) return absl::OkStatus();
      if (v.shape() != dst.shape() && v.dim() > 0) {
        Shape stripped = v.shape();
        while (!stripped.empty() && stripped.front() == 1) stripped.erase(stripped.begin());
        if (stripped.size() != v.shape().size()) {
          TD_ASSIGN_OR_RETURN(v, ops::view(v, stripped));
        }
        if (v.shape() != dst.shape()) {
          TD_ASSIGN_OR_RETURN(v, ops::expand(v, dst.shape()));
        }
      }
    }
    return ops::copy_(dst, v);
  }

  static std::string NodeName(const std::shared_ptr<Node>& n) {
    return n ? JsonString(DisplayName(*n)) : "null";
  }

  static std::string Observe(const Tensor& t) {
    Fields f = {{"values", JsonValues(t)},
                {"shape", JsonInts(t.shape())},
                {"dtype", JsonString(DTypeName(t.dtype()))},
                {"requires_grad", JsonBool(t.requires_grad())},
                {"version", absl::StrCat(t.version())},
                {"is_view", JsonBool(t.is_view())}};
    absl::StatusOr<std::shared_ptr<Node>> fn = t.grad_fn_or_error();
    if (!fn.ok()) {
      f.emplace_back("grad_fn", JsonString(absl::StrCat("error: ", fn.status().message())));
    } else {
      f.emplace_back("grad_fn", NodeName(*fn));
      f.emplace_back("is_leaf", JsonBool(*fn == nullptr));
      std::vector<std::string> next;
      if (*fn) {
        for (const Edge& e : (*fn)->next_edges()) next.push_back(NodeName(e.function));
      }
      f.emplace_back("next", JsonArray(next));
    }
    f.emplace_back("grad", t.grad().defined() ? JsonValues(t.grad()) : "null");
    return JsonObject(f);
  }

  std::map<int64_t, Tensor> regs_;
  bool skipped_ = false;
};

absl::StatusOr<std::string> RunProgram(const Json& program) {
  const Json* seed = program.Find("seed");
  Context ctx(ContextOptions{.seed = seed ? static_cast<uint64_t>(seed->Int()) : 0});
  ContextGuard guard(ctx);
  Program p;
  std::vector<std::string> results;
  for (const Json& stmt : program.Find("stmts")->array) {
    TD_ASSIGN_OR_RETURN(std::string r, p.Run(stmt));
    results.push_back(std::move(r));
  }
  return JsonObject(
      {{"id", absl::StrCat(program.Find("id")->Int())}, {"results", JsonArray(results)}});
}

int Main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: " << argv[0] << " IN.jsonl OUT.jsonl\n";
    return 2;
  }
  std::ifstream in(argv[1]);
  std::ofstream out(argv[2]);
  if (!in || !out) {
    std::cerr << "cannot open " << argv[1] << " or " << argv[2] << "\n";
    return 1;
  }
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    absl::StatusOr<Json> program = JsonReader(line).Parse();
    if (!program.ok()) {
      std::cerr << "line " << n + 1 << ": " << program.status() << "\n";
      return 1;
    }
    absl::StatusOr<std::string> result = RunProgram(*program);
    if (!result.ok()) {
      std::cerr << "program " << n + 1 << ": " << result.status() << "\n";
      return 1;
    }
    out << *result << "\n";
    ++n;
  }
  return out ? 0 : 1;
}

}  // namespace
}  // namespace tensord::testing

int main(int argc, char** argv) { return tensord::testing::Main(argc, argv); }
