// The factory family: ops that make a tensor from numbers (zeros, full, arange, eye, rand, ...)
// or from another tensor's shape (the *_like forms), each declared by PyTorch 1.13's ATen schema.
// Their TensorOptions (`dtype`, `layout`, `device`, `pin_memory`) make them factories by
// torchgen's rule, which also gives them `requires_grad` (DeriveFromSchema). None records a graph.
// The kernels are engine/factory.h's; a shape rule here computes each result's shape and dtype
// from the attributes without allocating, so the service can check its limits first.
#include "engine/factory.h"
#include "absl/strings/str_cat.h"
#include "engine/context.h"
#include "engine/ops/op_util.h"
#include "engine/ops/registry.h"
#include "engine/status_macros.h"

namespace tensord {
namespace {

using MetaOr = absl::StatusOr<std::vector<TensorMeta>>;
using TensorsOr = absl::StatusOr<std::vector<Tensor>>;
using op_util::Def;

// `dtype=` when given, else `fallback`.
DType DTypeOr(const Attrs& attrs, DType fallback) {
  return attrs.Has("dtype") ? attrs.GetDType("dtype") : fallback;
}
DType DefaultDType() { return Context::Current().default_dtype(); }

factory::TensorOptions Options(DType dtype) { return factory::TensorOptions().with_dtype(dtype); }

TensorsOr One(absl::StatusOr<Tensor> t) {
  if (!t.ok()) return t.status();
  return std::vector<Tensor>{*std::move(t)};
}

// The result's shape: `size`, or self's for a *_like form.
Shape ShapeOf(const OpArgs& a) {
  if (!a.inputs.empty()) return a.inputs[0].shape();
  const std::vector<int64_t>& size = a.attrs.Ints("size");
  return Shape(size.begin(), size.end());
}
// The result's dtype when `dtype=` is None: self's for a *_like form, else `fallback`.
DType DTypeFor(const OpArgs& a, DType fallback) {
  return DTypeOr(a.attrs, a.inputs.empty() ? fallback : a.inputs[0].dtype());
}

// ---- zeros ones empty rand randn and their *_like forms -----------------------------------------

MetaOr InferFilled(const OpArgs& a) {
  return std::vector<TensorMeta>{{ShapeOf(a), DTypeFor(a, DefaultDType())}};
}
TensorsOr ZerosForward(const OpArgs&, const std::vector<TensorMeta>& m) {
  return One(factory::zeros(m[0].shape, Options(m[0].dtype)));
}
TensorsOr OnesForward(const OpArgs&, const std::vector<TensorMeta>& m) {
  return One(factory::ones(m[0].shape, Options(m[0].dtype)));
}
TensorsOr RandForward(const OpArgs&, const std::vector<TensorMeta>& m) {
  return One(factory::rand(m[0].shape, Options(m[0].dtype)));
}
TensorsOr RandnForward(const OpArgs&, const std::vector<TensorMeta>& m) {
  return One(factory::randn(m[0].shape, Options(m[0].dtype)));
}

// ---- full full_like ---------------------------------------------------------------------------

// at::full's dtype inference: a bool fill makes a bool tensor, an integer one int64.
MetaOr InferFull(const OpArgs& a) {
  DType fallback = DefaultDType();
  if (const AttrValue* v = a.attrs.Find("fill_value"); v && std::holds_alternative<bool>(*v)) {
    fallback = DType::kBool;
  } else if (a.attrs.IsIntegral("fill_value")) {
    fallback = DType::kInt64;
  }
  return std::vector<TensorMeta>{{ShapeOf(a), DTypeFor(a, fallback)}};
}
TensorsOr FullForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  return One(factory::full(m[0].shape, a.attrs.Double("fill_value"), Options(m[0].dtype)));
}

// ---- randint randint_like ---------------------------------------------------------------------

MetaOr InferRandint(const OpArgs& a) {
  return std::vector<TensorMeta>{{ShapeOf(a), DTypeFor(a, DType::kInt64)}};
}
TensorsOr RandintForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  const int64_t low = a.attrs.Has("low") ? a.attrs.Int("low") : 0;
  return One(factory::randint(low, a.attrs.Int("high"), m[0].shape, Options(m[0].dtype)));
}

// ---- arange -----------------------------------------------------------------------------------

// at::arange: int64 when every bound given is an integer, else the default dtype.
DType ArangeDType(const Attrs& attrs) {
  bool integral = true;
  for (const char* k : {"start", "end", "step"})
    if (attrs.Has(k) && !attrs.IsIntegral(k)) integral = false;
  return DTypeOr(attrs, integral ? DType::kInt64 : DefaultDType());
}
double Start(const Attrs& attrs) { return attrs.Has("start") ? attrs.Double("start") : 0.0; }
double Step(const Attrs& attrs) { return attrs.Has("step") ? attrs.Double("step") : 1.0; }

MetaOr InferArange(const OpArgs& a) {
  const DType dtype = ArangeDType(a.attrs);
  TD_ASSIGN_OR_RETURN(const int64_t n, factory::arange_size(Start(a.attrs), a.attrs.Double("end"),
                                                            Step(a.attrs), dtype));
  return std::vector<TensorMeta>{{{n}, dtype}};
}
TensorsOr ArangeForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  return One(factory::arange(Start(a.attrs), a.attrs.Double("end"), Step(a.attrs), m[0].dtype));
}

// ---- linspace eye randperm normal -------------------------------------------------------------

MetaOr InferLinspace(const OpArgs& a) {
  const int64_t steps = a.attrs.Int("steps");
  if (steps < 0) return absl::InvalidArgumentError("number of steps must be non-negative");
  return std::vector<TensorMeta>{{{steps}, DTypeOr(a.attrs, DefaultDType())}};
}
TensorsOr LinspaceForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  return One(factory::linspace(a.attrs.Double("start"), a.attrs.Double("end"), m[0].shape[0],
                               Options(m[0].dtype)));
}

MetaOr InferEye(const OpArgs& a) {
  const int64_t n = a.attrs.Int("n");
  const int64_t m = a.attrs.Has("m") ? a.attrs.Int("m") : n;
  if (n < 0)
    return absl::InvalidArgumentError(absl::StrCat("n must be greater or equal to 0, got ", n));
  if (m < 0)
    return absl::InvalidArgumentError(absl::StrCat("m must be greater or equal to 0, got ", m));
  return std::vector<TensorMeta>{{{n, m}, DTypeOr(a.attrs, DefaultDType())}};
}
TensorsOr EyeForward(const OpArgs&, const std::vector<TensorMeta>& m) {
  return One(factory::eye(m[0].shape[0], m[0].shape[1], Options(m[0].dtype)));
}

MetaOr InferRandperm(const OpArgs& a) {
  const int64_t n = a.attrs.Int("n");
  if (n < 0) return absl::InvalidArgumentError(absl::StrCat("n must be non-negative, got", n));
  return std::vector<TensorMeta>{{{n}, DTypeOr(a.attrs, DType::kInt64)}};
}
TensorsOr RandpermForward(const OpArgs&, const std::vector<TensorMeta>& m) {
  return One(factory::randperm(m[0].shape[0], Options(m[0].dtype)));
}

TensorsOr NormalForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  return One(factory::normal(a.attrs.Double("mean"), a.attrs.Double("std"), m[0].shape,
                             Options(m[0].dtype)));
}

// ---- uniform (self's shape and dtype; uniform_ derived) ---------------------------------------

MetaOr InferLikeSelf(const OpArgs& a) {
  return std::vector<TensorMeta>{{a.inputs[0].shape(), a.inputs[0].dtype()}};
}
TensorsOr UniformForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  return One(factory::uniform(m[0].shape, a.attrs.Double("from"), a.attrs.Double("to"),
                              Options(m[0].dtype)));
}

}  // namespace

void RegisterFactoryOps(std::vector<OpDef>& t) {
  struct F {
    const char* name;
    const char* schema;
    const char* doc;
    InferFn infer;
    ForwardFn forward;
  };
  // Schemas as torch._C._jit_get_schemas_for_operator prints them (the conformance test checks).
  const F factories[] = {
      {"zeros",
       "zeros(SymInt[] size, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, "
       "bool? pin_memory=None) -> Tensor",
       "a tensor of zeros", InferFilled, ZerosForward},
      {"ones",
       "ones(SymInt[] size, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, "
       "bool? pin_memory=None) -> Tensor",
       "a tensor of ones", InferFilled, OnesForward},
      {"empty",
       "empty.memory_format(SymInt[] size, *, ScalarType? dtype=None, Layout? layout=None, "
       "Device? device=None, bool? pin_memory=None, MemoryFormat? memory_format=None) -> Tensor",
       "an uninitialised tensor (zeros here: never stale bytes)", InferFilled, ZerosForward},
      {"full",
       "full(SymInt[] size, Scalar fill_value, *, ScalarType? dtype=None, Layout? layout=None, "
       "Device? device=None, bool? pin_memory=None) -> Tensor",
       "a tensor filled with fill_value (bool / int64 / default dtype by its type)", InferFull,
       FullForward},
      {"rand",
       "rand(int[] size, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, "
       "bool? pin_memory=None) -> Tensor",
       "uniform in [0, 1) from the session's generator", InferFilled, RandForward},
      {"randn",
       "randn(int[] size, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, "
       "bool? pin_memory=None) -> Tensor",
       "standard normal from the session's generator", InferFilled, RandnForward},
      {"randint",
       "randint(int high, int[] size, *, ScalarType? dtype=4, Layout? layout=None, Device? "
       "device=None, bool? pin_memory=None) -> Tensor",
       "integers uniform in [0, high)", InferRandint, RandintForward},
      {"randint_low",
       "randint.low(int low, int high, int[] size, *, ScalarType? dtype=4, Layout? layout=None, "
       "Device? device=None, bool? pin_memory=None) -> Tensor",
       "integers uniform in [low, high)", InferRandint, RandintForward},
      {"arange",
       "arange(Scalar end, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, "
       "bool? pin_memory=None) -> Tensor",
       "0, 1, ... below end (int64 when end is an integer)", InferArange, ArangeForward},
      {"arange_start",
       "arange.start(Scalar start, Scalar end, *, ScalarType? dtype=None, Layout? layout=None, "
       "Device? device=None, bool? pin_memory=None) -> Tensor",
       "start, start + 1, ... below end", InferArange, ArangeForward},
      {"arange_start_step",
       "arange.start_step(Scalar start, Scalar end, Scalar step=1, *, ScalarType? dtype=None, "
       "Layout? layout=None, Device? device=None, bool? pin_memory=None) -> Tensor",
       "start, start + step, ... short of end", InferArange, ArangeForward},
      {"linspace",
       "linspace(Scalar start, Scalar end, int steps, *, ScalarType? dtype=None, Layout? "
       "layout=None, Device? device=None, bool? pin_memory=None) -> Tensor",
       "steps evenly spaced values from start to end", InferLinspace, LinspaceForward},
      {"eye",
       "eye(int n, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, bool? "
       "pin_memory=None) -> Tensor",
       "the n x n identity", InferEye, EyeForward},
      {"eye_m",
       "eye.m(int n, int m, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, "
       "bool? pin_memory=None) -> Tensor",
       "n x m, ones on the diagonal", InferEye, EyeForward},
      {"randperm",
       "randperm(int n, *, ScalarType? dtype=4, Layout? layout=None, Device? device=None, bool? "
       "pin_memory=None) -> Tensor",
       "a random permutation of 0 .. n-1", InferRandperm, RandpermForward},
      {"normal",
       "normal.float_float(float mean, float std, int[] size, *, Generator? generator=None, "
       "ScalarType? dtype=None, Layout? layout=None, Device? device=None, bool? pin_memory=None) "
       "-> Tensor",
       "normal(mean, std) from the session's generator", InferFilled, NormalForward},
      {"zeros_like",
       "zeros_like(Tensor self, *, ScalarType? dtype=None, Layout? layout=None, Device? "
       "device=None, bool? pin_memory=None, MemoryFormat? memory_format=None) -> Tensor",
       "zeros of self's shape (and dtype unless given)", InferFilled, ZerosForward},
      {"ones_like",
       "ones_like(Tensor self, *, ScalarType? dtype=None, Layout? layout=None, Device? "
       "device=None, bool? pin_memory=None, MemoryFormat? memory_format=None) -> Tensor",
       "ones of self's shape (and dtype unless given)", InferFilled, OnesForward},
      {"empty_like",
       "empty_like(Tensor self, *, ScalarType? dtype=None, Layout? layout=None, Device? "
       "device=None, bool? pin_memory=None, MemoryFormat? memory_format=None) -> Tensor",
       "uninitialised (zeros) of self's shape", InferFilled, ZerosForward},
      {"full_like",
       "full_like(Tensor self, Scalar fill_value, *, ScalarType? dtype=None, Layout? layout=None, "
       "Device? device=None, bool? pin_memory=None, MemoryFormat? memory_format=None) -> Tensor",
       "fill_value in self's shape and dtype", InferFilled, FullForward},
      {"rand_like",
       "rand_like(Tensor self, *, ScalarType? dtype=None, Layout? layout=None, Device? "
       "device=None, bool? pin_memory=None, MemoryFormat? memory_format=None) -> Tensor",
       "uniform in [0, 1) in self's shape", InferFilled, RandForward},
      {"randn_like",
       "randn_like(Tensor self, *, ScalarType? dtype=None, Layout? layout=None, Device? "
       "device=None, bool? pin_memory=None, MemoryFormat? memory_format=None) -> Tensor",
       "standard normal in self's shape", InferFilled, RandnForward},
      {"randint_like",
       "randint_like(Tensor self, int high, *, ScalarType? dtype=None, Layout? layout=None, "
       "Device? device=None, bool? pin_memory=None, MemoryFormat? memory_format=None) -> Tensor",
       "integers in [0, high) in self's shape and dtype", InferFilled, RandintForward},
      {"randint_like_low",
       "randint_like.low_dtype(Tensor self, int low, int high, *, ScalarType? dtype=None, Layout? "
       "layout=None, Device? device=None, bool? pin_memory=None, MemoryFormat? "
       "memory_format=None) -> Tensor",
       "integers in [low, high) in self's shape and dtype", InferFilled, RandintForward},
  };
  for (const F& f : factories) {
    t.push_back(Def(f.name, "", f.doc, OpKind::kKernel, f.infer, f.forward, nullptr));
    t.back().schema = f.schema;
  }
  t.push_back(Def("uniform", "",
                  "uniform in [from, to) in self's shape and dtype (uniform_: in place)",
                  OpKind::kKernel, InferLikeSelf, UniformForward, nullptr));
  t.back().schema =
      "uniform(Tensor self, float from=0., float to=1., *, Generator? generator=None) -> Tensor";
  t.back().result_like_self = true;
}

}  // namespace tensord
