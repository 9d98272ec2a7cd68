// engine_oracle_dump OUT.jsonl: runs every op sample of the table (float64 and float32, a few
// seeds) forward and backward, and a varied set of tensor reprs, and writes what the engine
// computed as JSON Lines. tests/oracle/test_engine_vs_torch.py replays each case in PyTorch and
// compares.
//
// Non-finite numbers are written as the strings "nan", "inf" and "-inf"; floating values always
// carry a '.' or an exponent so that Python reads them back as floats.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/api.h"
#include "engine/autograd.h"
#include "engine/context.h"
#include "engine/dispatch.h"
#include "engine/factory.h"
#include "engine/node.h"
#include "engine/op_def.h"
#include "engine/status_macros.h"
#include "engine/tensor.h"
#include "tests/oracle/json.h"
#include "tests/support/op_samples.h"

namespace tensord::testing {
namespace {

constexpr uint64_t kSeeds[] = {1, 2};
constexpr DType kDTypes[] = {DType::kFloat64, DType::kFloat32};

// {"type": ..., "value": ...} so that Python can tell an int from a float and a dtype from a
// string.
std::string JsonAttr(const AttrValue& value) {
  struct Visitor {
    Fields operator()(std::monostate) const { return {{"type", "\"none\""}, {"value", "null"}}; }
    Fields operator()(bool b) const { return {{"type", "\"bool\""}, {"value", JsonBool(b)}}; }
    Fields operator()(int64_t i) const { return {{"type", "\"int\""}, {"value", absl::StrCat(i)}}; }
    Fields operator()(double d) const { return {{"type", "\"float\""}, {"value", JsonDouble(d)}}; }
    Fields operator()(const std::vector<int64_t>& v) const {
      return {{"type", "\"ints\""}, {"value", JsonInts(v)}};
    }
    Fields operator()(DType d) const {
      return {{"type", "\"dtype\""}, {"value", JsonString(DTypeName(d))}};
    }
    Fields operator()(const std::string& s) const {
      return {{"type", "\"string\""}, {"value", JsonString(s)}};
    }
  };
  return JsonObject(std::visit(Visitor{}, value));
}

std::string JsonTensor(const Tensor& t) {
  if (!t.defined()) return "null";
  Fields f = {{"dtype", JsonString(DTypeName(t.dtype()))},
              {"shape", JsonInts(t.shape())},
              {"strides", JsonInts(t.strides())},
              {"contiguous", JsonBool(t.is_contiguous())},
              {"values", JsonValues(t)},
              {"requires_grad", JsonBool(t.requires_grad())},
              {"is_view", JsonBool(t.impl()->is_view)},
              {"storage_offset", absl::StrCat(t.storage_offset())},
              {"grad_fn", t.grad_fn() ? JsonString(DisplayName(*t.grad_fn())) : "null"}};
  return JsonObject(f);
}

// ---- op cases ------------------------------------------------------------------------------

// Uniform [-1, 1] values shaped and typed like `t`.
absl::StatusOr<Tensor> RandomLike(const Tensor& t, std::mt19937_64& gen) {
  std::uniform_real_distribution<double> dist(-1, 1);
  std::vector<double> values(static_cast<size_t>(t.numel()));
  for (double& v : values) v = dist(gen);
  return factory::from_values(values, t.shape(), factory::TensorOptions().with_dtype(t.dtype()));
}

absl::StatusOr<std::string> OpCase(const OpSample& sample, DType dtype, uint64_t seed) {
  Context ctx(ContextOptions{.seed = seed});
  ContextGuard guard(ctx);
  TD_ASSIGN_OR_RETURN(const OpDef* def, FindOp(sample.op));
  TD_ASSIGN_OR_RETURN(const Attrs attrs, ResolveAttrs(*def, sample.attrs));
  TD_ASSIGN_OR_RETURN(std::vector<Tensor> inputs, MakeInputs(sample, dtype, seed));

  Fields fields = {{"kind", "\"op\""},
                   {"op", JsonString(sample.op)},
                   {"label", JsonString(sample.label)},
                   {"dtype", JsonString(DTypeName(dtype))},
                   {"seed", absl::StrCat(seed)}};
  Fields attr_fields;
  for (const auto& [name, value] : attrs.entries()) attr_fields.emplace_back(name, JsonAttr(value));
  fields.emplace_back("attrs", JsonObject(attr_fields));

  std::vector<Tensor> diff_inputs;
  std::vector<std::string> input_json;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (sample.inputs[i].differentiable && IsFloating(inputs[i].dtype())) {
      TD_RETURN_IF_ERROR(inputs[i].set_requires_grad(true));
      diff_inputs.push_back(inputs[i]);
    }
    input_json.push_back(JsonTensor(inputs[i]));
  }
  fields.emplace_back("inputs", JsonArray(input_json));

  absl::StatusOr<std::vector<Tensor>> outputs = Apply(*def, inputs, attrs);
  if (!outputs.ok()) {
    // The Python side reports this as a failure (PyTorch accepts every sample).
    fields.emplace_back("error", JsonString(outputs.status().ToString()));
    return JsonObject(fields);
  }
  std::vector<std::string> output_json;
  for (const Tensor& o : *outputs) output_json.push_back(JsonTensor(o));
  fields.emplace_back("outputs", JsonArray(output_json));

  // Random grad_outputs for the floating outputs that require grad.
  std::mt19937_64 gen(seed * 7919 + 17);
  std::vector<Tensor> grad_targets, grad_outputs;
  std::vector<std::string> grad_output_json;
  for (const Tensor& o : *outputs) {
    if (IsFloating(o.dtype()) && o.requires_grad()) {
      TD_ASSIGN_OR_RETURN(Tensor g, RandomLike(o, gen));
      grad_targets.push_back(o);
      grad_outputs.push_back(g);
      grad_output_json.push_back(JsonTensor(g));
    } else {
      grad_output_json.push_back("null");
    }
  }
  fields.emplace_back("grad_outputs", JsonArray(grad_output_json));

  if (grad_targets.empty() || diff_inputs.empty()) {
    fields.emplace_back("input_grads", "null");
    return JsonObject(fields);
  }
  absl::StatusOr<std::vector<Tensor>> grads =
      Grad(grad_targets, diff_inputs, grad_outputs, GradOptions{.allow_unused = true});
  if (!grads.ok()) {
    fields.emplace_back("error", JsonString(absl::StrCat("backward: ", grads.status().ToString())));
    return JsonObject(fields);
  }
  // One entry per input: null for inputs that are not differentiated (or got no gradient).
  std::vector<std::string> grad_json;
  size_t k = 0;
  for (const Tensor& in : inputs) {
    grad_json.push_back(in.requires_grad() ? JsonTensor((*grads)[k++]) : "null");
  }
  fields.emplace_back("input_grads", JsonArray(grad_json));
  return JsonObject(fields);
}

// ---- saved tensors -------------------------------------------------------------------------

// What a saved tensor is, by storage and layout: "input:i" / "output:j" (the tensor itself),
// "view:input:i" / "view:output:j" (another layout of its storage), or "other" (a temporary).
std::string ClassifySaved(const Tensor& s, const std::vector<Tensor>& inputs,
                          const std::vector<Tensor>& outputs) {
  const auto same_storage = [&](const Tensor& t) {
    return t.defined() && t.impl()->storage == s.impl()->storage;
  };
  const auto same_layout = [&](const Tensor& t) {
    return t.shape() == s.shape() && t.strides() == s.strides() &&
           t.storage_offset() == s.storage_offset();
  };
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (same_storage(inputs[i]) && same_layout(inputs[i])) return absl::StrCat("input:", i);
  }
  for (size_t j = 0; j < outputs.size(); ++j) {
    if (same_storage(outputs[j]) && same_layout(outputs[j])) return absl::StrCat("output:", j);
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (same_storage(inputs[i])) return absl::StrCat("view:input:", i);
  }
  for (size_t j = 0; j < outputs.size(); ++j) {
    if (same_storage(outputs[j])) return absl::StrCat("view:output:", j);
  }
  return "other";
}

// For one sample and one choice of which differentiable inputs require grad (bit i of `mask`:
// the i-th differentiable input), which tensors the node of the first output keeps.
absl::StatusOr<std::string> SavedCase(const OpSample& sample, uint32_t mask) {
  constexpr uint64_t kSeed = 1;
  Context ctx(ContextOptions{.seed = kSeed});
  ContextGuard guard(ctx);
  TD_ASSIGN_OR_RETURN(const OpDef* def, FindOp(sample.op));
  TD_ASSIGN_OR_RETURN(const Attrs attrs, ResolveAttrs(*def, sample.attrs));
  TD_ASSIGN_OR_RETURN(std::vector<Tensor> inputs, MakeInputs(sample, DType::kFloat64, kSeed));
  Fields fields = {{"kind", "\"saved\""},
                   {"op", JsonString(sample.op)},
                   {"label", JsonString(sample.label)},
                   {"dtype", JsonString("float64")},
                   {"seed", absl::StrCat(kSeed)}};
  Fields attr_fields;
  for (const auto& [name, value] : attrs.entries()) attr_fields.emplace_back(name, JsonAttr(value));
  fields.emplace_back("attrs", JsonObject(attr_fields));
  std::vector<std::string> input_json;
  uint32_t k = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (sample.inputs[i].differentiable && IsFloating(inputs[i].dtype())) {
      if ((mask >> k++) & 1u) TD_RETURN_IF_ERROR(inputs[i].set_requires_grad(true));
    }
    input_json.push_back(JsonTensor(inputs[i]));
  }
  fields.emplace_back("inputs", JsonArray(input_json));
  absl::StatusOr<std::vector<Tensor>> outputs = Apply(*def, inputs, attrs);
  if (!outputs.ok()) {
    fields.emplace_back("error", JsonString(outputs.status().ToString()));
    return JsonObject(fields);
  }
  std::shared_ptr<Node> node;
  for (const Tensor& o : *outputs) {
    if (!node && o.grad_fn()) node = o.grad_fn();
  }
  fields.emplace_back("grad_fn", node ? JsonString(DisplayName(*node)) : "null");
  std::vector<std::string> saved;
  if (node) {
    for (const SavedTensorInfo& s : node->SavedTensors()) {
      saved.push_back(JsonString(ClassifySaved(s.data, inputs, *outputs)));
    }
  }
  std::sort(saved.begin(), saved.end());
  fields.emplace_back("saved", JsonArray(saved));
  return JsonObject(fields);
}

// Number of differentiable (floating) inputs of a sample.
int DifferentiableInputs(const OpSample& sample) {
  int n = 0;
  for (const InputSpec& in : sample.inputs) n += in.differentiable && in.floating;
  return n;
}

// ---- repr cases ----------------------------------------------------------------------------

struct ReprSpec {
  std::string name;
  std::vector<double> values;  // row-major
  Shape shape;
  DType dtype = DType::kFloat32;
  bool requires_grad = false;
  // Built as the transpose of a contiguous tensor (2-D only).
  bool noncontiguous = false;
  // Applied to the rebuilt leaf: "" (none), "mul2" (x * 2) or "sum" (x.sum()).
  std::string expr;
};

std::vector<double> Iota(int64_t n, double start = 0, double step = 1) {
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = start + step * static_cast<double>(i);
  return v;
}

std::vector<double> Uniform(int64_t n, double low, double high, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> dist(low, high);
  std::vector<double> v(static_cast<size_t>(n));
  for (double& x : v) x = dist(gen);
  return v;
}

ReprSpec R(std::string name, std::vector<double> values, Shape shape, DType dtype) {
  ReprSpec s;
  s.name = std::move(name);
  s.values = std::move(values);
  s.shape = std::move(shape);
  s.dtype = dtype;
  return s;
}
ReprSpec RequiresGrad(ReprSpec s, std::string expr = "") {
  s.requires_grad = true;
  s.expr = std::move(expr);
  return s;
}
ReprSpec NonContiguous(ReprSpec s) {
  s.noncontiguous = true;
  return s;
}

std::vector<ReprSpec> ReprSpecs() {
  const double nan = std::nan("");
  const double inf = INFINITY;
  const DType f32 = DType::kFloat32, f64 = DType::kFloat64, i64 = DType::kInt64, b = DType::kBool;
  return {
      // 0-d.
      R("scalar_f32", {3.5}, {}, f32),
      R("scalar_f64", {-2.25}, {}, f64),
      R("scalar_i64", {-7}, {}, i64),
      R("scalar_bool", {1}, {}, b),
      R("scalar_small", {1e-5}, {}, f32),
      R("scalar_nan", {nan}, {}, f32),
      R("scalar_int_valued", {3}, {}, f32),
      R("scalar_inf", {-inf}, {}, f64),
      R("scalar_large", {1e10}, {}, f32),
      R("scalar_negative_zero", {-0.0}, {}, f64),
      // Fixed-point formats, signs, zeros.
      R("vector_int_valued", {1, 2, 3}, {3}, f32),
      R("vector_int_valued_f64", {1, -2, 30}, {3}, f64),
      R("vector_fraction", {0.1, 0.25, -1.5}, {3}, f32),
      R("vector_negative", {-1.5, 2.25, -3.125, 100.5}, {4}, f64),
      R("vector_zeros", {0, 0, 0}, {3}, f32),
      R("vector_negative_zero", {-0.0, 1.0}, {2}, f32),
      R("matrix_f32", Uniform(6, -2, 2, 1), {2, 3}, f32),
      R("matrix_f64", Uniform(12, -5, 5, 2), {3, 4}, f64),
      R("cube_f32", Uniform(24, -1, 1, 3), {2, 3, 4}, f32),
      NonContiguous(R("noncontiguous", Uniform(12, -3, 3, 6), {3, 4}, f32)),
      R("vector_negative_int_valued", {-1, -2}, {2}, f32),
      R("vector_thirds_f64", {1.0 / 3, 2.0 / 3, -1.0 / 3}, {3}, f64),
      R("ratio_below_1000", {0.01, 5.0}, {2}, f32),
      R("four_dims", Uniform(8, -1, 1, 7), {2, 1, 2, 2}, f32),
      R("size_one_dims", {1.5, -2.5}, {1, 2, 1}, f64),
      // Scientific notation (ratio > 1000, values >= 1e8 or < 1e-4).
      R("sci_small", {1e-5, 2e-5, 3e-5}, {3}, f32),
      R("sci_mixed", {1e-5, 1.0, 1e9}, {3}, f32),
      R("sci_large", {1e9, 2e9}, {2}, f64),
      R("sci_large_int_valued", {1e8, 1}, {2}, f32),
      R("sci_tiny_f64", {1.5e-12, -3e-10}, {2}, f64),
      R("ratio_above_1000", {0.001, 10.0}, {2}, f32),
      R("large_fixed_ratio", {12345.678, 1.5}, {2}, f32),
      R("int_valued_above_1e8", {123456789, 1}, {2}, f64),
      R("negative_sci", {-1e-6, 3e-8, -2e-7}, {3}, f64),
      R("sci_with_zero", {0, 1e-5, 1e3}, {3}, f32),
      // nan and inf.
      R("nan_inf", {nan, inf, -inf, 1.5}, {4}, f32),
      R("nan_int_valued", {nan, 1, 2}, {3}, f64),
      R("inf_only", {inf, -inf}, {2}, f32),
      R("nan_inf_sci", {nan, inf, 1e-7, 2e6}, {4}, f32),
      R("int_valued_with_inf", {inf, 1, -2}, {3}, f32),
      R("nan_only", {nan, nan}, {2}, f32),
      // int64 and bool.
      R("matrix_i64", {-3, 10, 250, 0, -1, 7}, {2, 3}, i64),
      R("matrix_bool", {1, 0, 0, 1}, {2, 2}, b),
      R("vector_bool", {0, 1, 1}, {3}, b),
      // Empty.
      R("empty_1d", {}, {0}, f32),
      R("empty_1d_f64", {}, {0}, f64),
      R("empty_1d_i64", {}, {0}, i64),
      R("empty_2d", {}, {2, 0}, f32),
      R("empty_3d_i64", {}, {0, 2, 3}, i64),
      // Summarized (> 1000 elements) and wrapped at 80 columns.
      R("summarized_1d", Iota(1200), {1200}, f32),
      R("summarized_2d", Iota(1200, -600, 0.5), {40, 30}, f64),
      R("summarized_3d_i64", Iota(1320), {10, 11, 12}, i64),
      R("summarized_sci", Iota(1001, 1e-3, 1e5), {1001}, f32),
      R("long_row_1d", Uniform(30, -100, 100, 4), {30}, f32),
      R("long_row_2d", Uniform(75, -1, 1, 5), {3, 25}, f64),
      R("long_row_i64", Iota(40, -20000, 997), {40}, i64),
      R("long_row_bool", {1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 0, 1}, {20}, b),
      R("summarized_bool", Iota(1100, 0, 0), {1100}, b),
      R("summarized_edge_dims", Iota(1008), {7, 144}, i64),
      R("summarized_small_dim", Uniform(1206, -1, 1, 8), {2, 603}, f32),
      // Autograd suffixes.
      RequiresGrad(R("requires_grad", {1, 2}, {2}, f32)),
      RequiresGrad(R("requires_grad_f64", {0.5, -1.25, 3}, {3}, f64)),
      RequiresGrad(R("requires_grad_scalar", {2.5}, {}, f32)),
      RequiresGrad(R("empty_requires_grad", {}, {0}, f32)),
      RequiresGrad(R("long_row_suffix_wrap", Uniform(13, -1000, 1000, 9), {13}, f64)),
      RequiresGrad(R("summarized_requires_grad", Iota(1500, 0, 0.25), {1500}, f64)),
      RequiresGrad(R("grad_fn_mul", {1, 2.5, -3}, {3}, f32), "mul2"),
      RequiresGrad(R("grad_fn_sum", {1, 2.5, -3}, {3}, f64), "sum"),
  };
}

absl::StatusOr<Tensor> BuildRepr(const ReprSpec& spec) {
  const factory::TensorOptions opts = factory::TensorOptions().with_dtype(spec.dtype);
  Tensor t;
  if (spec.noncontiguous) {
    // The contiguous transpose, transposed back.
    const int64_t rows = spec.shape[0], cols = spec.shape[1];
    std::vector<double> transposed(spec.values.size());
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) {
        transposed[static_cast<size_t>(c * rows + r)] =
            spec.values[static_cast<size_t>(r * cols + c)];
      }
    }
    TD_ASSIGN_OR_RETURN(Tensor base, factory::from_values(transposed, {cols, rows}, opts));
    TD_ASSIGN_OR_RETURN(t, ops::t(base));
  } else {
    TD_ASSIGN_OR_RETURN(t, factory::from_values(spec.values, spec.shape, opts));
  }
  if (spec.requires_grad) TD_RETURN_IF_ERROR(t.set_requires_grad(true));
  if (spec.expr == "mul2") return ops::mul(t, Scalar(2));
  if (spec.expr == "sum") return ops::sum(t);
  if (!spec.expr.empty()) return absl::InvalidArgumentError("unknown expr " + spec.expr);
  return t;
}

absl::StatusOr<std::string> ReprCase(const ReprSpec& spec) {
  Context ctx;
  ContextGuard guard(ctx);
  TD_ASSIGN_OR_RETURN(Tensor t, BuildRepr(spec));
  std::vector<std::string> values;
  for (const double v : spec.values) values.push_back(JsonDouble(v));
  return JsonObject({{"kind", "\"repr\""},
                     {"label", JsonString(spec.name)},
                     {"dtype", JsonString(DTypeName(spec.dtype))},
                     {"shape", JsonInts(spec.shape)},
                     {"values", JsonArray(values)},
                     {"requires_grad", JsonBool(spec.requires_grad)},
                     {"noncontiguous", JsonBool(spec.noncontiguous)},
                     {"expr", spec.expr.empty() ? "null" : JsonString(spec.expr)},
                     {"repr", JsonString(t.ToString())}});
}

int Main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " OUT.jsonl\n";
    return 2;
  }
  std::ofstream out(argv[1]);
  if (!out) {
    std::cerr << "cannot open " << argv[1] << "\n";
    return 1;
  }
  int op_cases = 0, repr_cases = 0;
  for (const OpSample& sample : AllSamples()) {
    for (const DType dtype : kDTypes) {
      for (const uint64_t seed : kSeeds) {
        absl::StatusOr<std::string> line = OpCase(sample, dtype, seed);
        if (!line.ok()) {
          // Setup failures (bad sample, unknown op) are the harness's fault: stop loudly.
          std::cerr << sample.op << "/" << sample.label << ": " << line.status() << "\n";
          return 1;
        }
        out << *line << "\n";
        ++op_cases;
      }
    }
  }
  int saved_cases = 0;
  for (const OpSample& sample : AllSamples()) {
    const int n = std::min(DifferentiableInputs(sample), 4);
    for (uint32_t mask = 1; mask < (1u << n); ++mask) {
      absl::StatusOr<std::string> line = SavedCase(sample, mask);
      if (!line.ok()) {
        std::cerr << "saved " << sample.op << "/" << sample.label << ": " << line.status() << "\n";
        return 1;
      }
      out << *line << "\n";
      ++saved_cases;
    }
  }
  for (const ReprSpec& spec : ReprSpecs()) {
    absl::StatusOr<std::string> line = ReprCase(spec);
    if (!line.ok()) {
      std::cerr << "repr " << spec.name << ": " << line.status() << "\n";
      return 1;
    }
    out << *line << "\n";
    ++repr_cases;
  }
  out.close();
  if (!out) {
    std::cerr << "error writing " << argv[1] << "\n";
    return 1;
  }
  std::cout << "wrote " << op_cases << " op cases, " << saved_cases << " saved-tensor cases and "
            << repr_cases << " repr cases to " << argv[1] << "\n";
  return 0;
}

}  // namespace
}  // namespace tensord::testing

int main(int argc, char** argv) { return tensord::testing::Main(argc, argv); }
