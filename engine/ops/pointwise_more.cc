// The op table's more element-wise, comparison and logical ops: reciprocal, rsqrt, log1p,
// leaky_relu, gelu (and its backward, for double backward), floor/ceil/round/trunc, fmod,
// remainder, maximum, minimum, logical_and/or/not.
#include <cmath>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "engine/checked_math.h"
#include "engine/dispatch.h"
#include "engine/kernels/loop.h"
#include "engine/ops.h"
#include "engine/ops/op_util.h"
#include "engine/ops/registry.h"
#include "engine/status_macros.h"

namespace tensord {
namespace {

using op_util::Call;

using TensorList = std::vector<Tensor>;
using ListOr = absl::StatusOr<TensorList>;
using MetaOr = absl::StatusOr<std::vector<TensorMeta>>;

absl::Status NotImplementedFor(absl::string_view kernel, DType t) {
  return absl::InvalidArgumentError(
      absl::StrCat("\"", kernel, "\" not implemented for '", ScalarTypeName(t), "'"));
}

absl::StatusOr<Tensor> Zero() { return ops::scalar_tensor(Scalar(0.0)); }

// ---- shape rules ---------------------------------------------------------------------------

MetaOr InferUnaryFloat(const OpArgs& a) {
  return std::vector<TensorMeta>{{a.inputs[0].shape(), op_util::ToFloating(a.inputs[0].dtype())}};
}

MetaOr InferFloatOnly(const OpArgs& a, absl::string_view kernel) {
  if (!IsFloating(a.inputs[0].dtype())) return NotImplementedFor(kernel, a.inputs[0].dtype());
  return std::vector<TensorMeta>{a.inputs[0].meta()};
}
MetaOr InferLeakyRelu(const OpArgs& a) {
  TD_ASSIGN_OR_RETURN(auto metas, InferFloatOnly(a, "leaky_relu_cpu"));
  TD_RETURN_IF_ERROR(CheckConvertible(a.attrs.Double("negative_slope"), metas[0].dtype));
  return metas;
}

absl::Status CheckApproximate(const Attrs& attrs) {
  const std::string& s = attrs.String("approximate");
  if (s != "none" && s != "tanh") {
    return absl::InvalidArgumentError("approximate argument must be either none or tanh.");
  }
  return absl::OkStatus();
}

MetaOr InferGelu(const OpArgs& a) {
  TD_RETURN_IF_ERROR(CheckApproximate(a.attrs));
  return InferFloatOnly(a, "GeluKernelImpl");
}

// gelu_backward(grad_output, self): broadcasts like a binary op; floating only.
MetaOr InferGeluBackward(const OpArgs& a) {
  TD_RETURN_IF_ERROR(CheckApproximate(a.attrs));
  TD_ASSIGN_OR_RETURN(Shape s, op_util::BroadcastShapes(a.inputs[0].shape(), a.inputs[1].shape()));
  const DType t = op_util::ResultType(a.inputs);
  if (!IsFloating(t)) return NotImplementedFor("GeluBackwardKernelImpl", t);
  return std::vector<TensorMeta>{{std::move(s), t}};
}

template <const char* kKernel>
MetaOr InferRounding(const OpArgs& a) {
  if (a.inputs[0].dtype() == DType::kBool) return NotImplementedFor(kKernel, DType::kBool);
  return std::vector<TensorMeta>{a.inputs[0].meta()};
}
constexpr char kFloorKernel[] = "floor_vml_cpu";
constexpr char kCeilKernel[] = "ceil_vml_cpu";
constexpr char kRoundKernel[] = "round_vml_cpu";
constexpr char kTruncKernel[] = "trunc_vml_cpu";

MetaOr InferBinary(const OpArgs& a) {
  TD_ASSIGN_OR_RETURN(Shape s, op_util::BroadcastShapes(a.inputs[0].shape(), a.inputs[1].shape()));
  return std::vector<TensorMeta>{{std::move(s), op_util::ResultType(a.inputs)}};
}

template <const char* kKernel>
MetaOr InferBinaryNoBool(const OpArgs& a) {
  TD_ASSIGN_OR_RETURN(auto metas, InferBinary(a));
  if (metas[0].dtype == DType::kBool) return NotImplementedFor(kKernel, DType::kBool);
  return metas;
}
constexpr char kFmodKernel[] = "fmod_cpu";
constexpr char kRemainderKernel[] = "remainder_cpu";

MetaOr InferLogicalBinary(const OpArgs& a) {
  TD_ASSIGN_OR_RETURN(Shape s, op_util::BroadcastShapes(a.inputs[0].shape(), a.inputs[1].shape()));
  return std::vector<TensorMeta>{{std::move(s), DType::kBool}};
}

MetaOr InferLogicalNot(const OpArgs& a) {
  return std::vector<TensorMeta>{{a.inputs[0].shape(), DType::kBool}};
}

// ---- forward kernels -----------------------------------------------------------------------

// out = Fn(x) element-wise, computed in the output dtype.
template <typename Fn>
ListOr UnaryForward(const OpArgs& a, const std::vector<TensorMeta>& metas) {
  TD_ASSIGN_OR_RETURN(Tensor in, op_util::RawTo(a.inputs[0], metas[0].dtype));
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(metas[0]));
  DispatchDType(metas[0].dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_floating_point_v<T> || !Fn::kFloatOnly) {
      const auto f = Fn::template Make<T>(a.attrs);
      kernels::Map<T, T>(out, in, f);
    }
  });
  return TensorList{out};
}

// out = Fn(x, y) element-wise with broadcasting, computed in the output dtype.
template <typename Fn>
ListOr BinaryForward(const OpArgs& a, const std::vector<TensorMeta>& metas) {
  const DType dt = metas[0].dtype;
  TD_ASSIGN_OR_RETURN(Tensor x, op_util::RawTo(a.inputs[0], dt));
  TD_ASSIGN_OR_RETURN(Tensor y, op_util::RawTo(a.inputs[1], dt));
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(metas[0]));
  absl::Status status;
  DispatchDType(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (Fn::kIntegerDivision && std::is_same_v<T, int64_t>) {
      // Integer fmod / remainder by zero is an error in PyTorch, not a value.
      if (out.numel() > 0) {
        bool zero = false;
        kernels::StridedLoop<1>(y.shape(), {y.raw_data()}, {y.strides()},
                                {static_cast<int64_t>(sizeof(T))},
                                [&](char** p, const int64_t* s, int64_t n) {
                                  for (int64_t i = 0; i < n; ++i)
                                    zero |= *reinterpret_cast<const T*>(p[0] + i * s[0]) == 0;
                                });
        if (zero) {
          status = absl::InvalidArgumentError("ZeroDivisionError");
          return;
        }
      }
    }
    kernels::Map2<T, T, T>(out, x, y, [](T p, T q) { return Fn::template Apply<T>(p, q); });
  });
  TD_RETURN_IF_ERROR(status);
  return TensorList{out};
}

#define TENSORD_FLOAT_UNARY(Name, expr)      \
  struct Name {                              \
    static constexpr bool kFloatOnly = true; \
    template <typename T>                    \
    static auto Make(const Attrs&) {         \
      return [](T x) -> T { return expr; };  \
    }                                        \
  };
TENSORD_FLOAT_UNARY(ReciprocalFn, T(1) / x)
TENSORD_FLOAT_UNARY(RsqrtFn, T(1) / std::sqrt(x))
TENSORD_FLOAT_UNARY(Log1pFn, std::log1p(x))
#undef TENSORD_FLOAT_UNARY

// Rounding: the identity on int64 (PyTorch returns a copy), the C function on floats.
#define TENSORD_ROUNDING(Name, fn)                   \
  struct Name {                                      \
    static constexpr bool kFloatOnly = false;        \
    template <typename T>                            \
    static auto Make(const Attrs&) {                 \
      return [](T x) -> T {                          \
        if constexpr (std::is_floating_point_v<T>) { \
          return fn(x);                              \
        } else {                                     \
          return x;                                  \
        }                                            \
      };                                             \
    }                                                \
  };
TENSORD_ROUNDING(FloorFn, std::floor)
TENSORD_ROUNDING(CeilFn, std::ceil)
TENSORD_ROUNDING(RoundFn, std::nearbyint)  // half to even, as torch.round
TENSORD_ROUNDING(TruncFn, std::trunc)
#undef TENSORD_ROUNDING

struct LeakyReluFn {
  static constexpr bool kFloatOnly = true;
  template <typename T>
  static auto Make(const Attrs& attrs) {
    const T slope = static_cast<T>(attrs.Double("negative_slope"));
    return [slope](T x) -> T { return x > T(0) ? x : x * slope; };
  }
};

// Gaussian CDF and PDF pieces of gelu, in the input's precision like PyTorch's kernels.
template <typename T>
T GeluTanhInner(T x) {
  const T beta = static_cast<T>(M_SQRT2 * M_2_SQRTPI * 0.5);
  const T kappa = static_cast<T>(0.044715);
  return beta * (x + kappa * x * x * x);
}

ListOr GeluForward(const OpArgs& a, const std::vector<TensorMeta>& metas) {
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(metas[0]));
  const bool tanh_approx = a.attrs.String("approximate") == "tanh";
  DispatchFloating(metas[0].dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (tanh_approx) {
      kernels::Map<T, T>(out, a.inputs[0], [](T x) {
        return static_cast<T>(0.5) * x * (T(1) + std::tanh(GeluTanhInner(x)));
      });
    } else {
      kernels::Map<T, T>(out, a.inputs[0], [](T x) {
        return x * static_cast<T>(0.5) * (T(1) + std::erf(x * static_cast<T>(M_SQRT1_2)));
      });
    }
  });
  return TensorList{out};
}

// grad_output * d gelu(self) / d self.
ListOr GeluBackwardForward(const OpArgs& a, const std::vector<TensorMeta>& metas) {
  const DType dt = metas[0].dtype;
  TD_ASSIGN_OR_RETURN(Tensor g, op_util::RawTo(a.inputs[0], dt));
  TD_ASSIGN_OR_RETURN(Tensor x, op_util::RawTo(a.inputs[1], dt));
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(metas[0]));
  const bool tanh_approx = a.attrs.String("approximate") == "tanh";
  DispatchFloating(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (tanh_approx) {
      kernels::Map2<T, T, T>(out, g, x, [](T dy, T v) {
        const T beta = static_cast<T>(M_SQRT2 * M_2_SQRTPI * 0.5);
        const T kappa = static_cast<T>(0.044715);
        const T t = std::tanh(GeluTanhInner(v));
        const T left_derivative = static_cast<T>(0.5) * (T(1) + t);
        const T right_derivative =
            static_cast<T>(0.5) * v * (T(1) - t * t) * beta * (T(1) + T(3) * kappa * v * v);
        return dy * (left_derivative + right_derivative);
      });
    } else {
      kernels::Map2<T, T, T>(out, g, x, [](T dy, T v) {
        const T alpha = static_cast<T>(M_SQRT1_2);
        const T beta = static_cast<T>(M_2_SQRTPI * M_SQRT1_2 * 0.5);
        const T cdf = static_cast<T>(0.5) * (T(1) + std::erf(v * alpha));
        const T pdf = beta * std::exp(v * v * static_cast<T>(-0.5));
        return dy * (cdf + v * pdf);
      });
    }
  });
  return TensorList{out};
}

struct FmodFn {
  static constexpr bool kIntegerDivision = true;
  template <typename T>
  static T Apply(T a, T b) {
    if constexpr (std::is_floating_point_v<T>) {
      return std::fmod(a, b);
    } else if constexpr (std::is_same_v<T, bool>) {
      return a;  // unreachable: bool is refused by the shape rule
    } else {
      return TruncMod(a, b);  // INT64_MIN % -1 is 0, not a trap (SIGFPE)
    }
  }
};

// Python's modulus: the result takes the sign of the divisor.
struct RemainderFn {
  static constexpr bool kIntegerDivision = true;
  template <typename T>
  static T Apply(T a, T b) {
    if constexpr (std::is_floating_point_v<T>) {
      T mod = std::fmod(a, b);
      if (mod != 0 && ((b < 0) != (mod < 0))) mod += b;
      return mod;
    } else if constexpr (std::is_same_v<T, bool>) {
      return a;  // unreachable
    } else {
      return FloorMod(a, b);  // INT64_MIN % -1 is 0, not a trap (SIGFPE)
    }
  }
};

// NaN propagates, as in torch.maximum / torch.minimum.
template <bool kMax>
struct MaxMinFn {
  static constexpr bool kIntegerDivision = false;
  template <typename T>
  static T Apply(T a, T b) {
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(a)) return a;
      if (std::isnan(b)) return b;
    }
    if constexpr (kMax) {
      return a < b ? b : a;
    } else {
      return b < a ? b : a;
    }
  }
};

template <bool kAnd>
ListOr LogicalBinaryForward(const OpArgs& a, const std::vector<TensorMeta>& metas) {
  TD_ASSIGN_OR_RETURN(Tensor x, op_util::RawTo(a.inputs[0], DType::kBool));
  TD_ASSIGN_OR_RETURN(Tensor y, op_util::RawTo(a.inputs[1], DType::kBool));
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(metas[0]));
  kernels::Map2<bool, bool, bool>(out, x, y,
                                  [](bool p, bool q) { return kAnd ? (p && q) : (p || q); });
  return TensorList{out};
}

ListOr LogicalNotForward(const OpArgs& a, const std::vector<TensorMeta>& metas) {
  TD_ASSIGN_OR_RETURN(Tensor x, op_util::RawTo(a.inputs[0], DType::kBool));
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(metas[0]));
  kernels::Map<bool, bool>(out, x, [](bool p) { return !p; });
  return TensorList{out};
}

// ---- backward rules ------------------------------------------------------------------------
// Written with differentiable ops, so create_graph=True gives gradients of gradients.

ListOr ReciprocalBackward(const BackwardArgs& b) {
  // -grad * result^2
  const Tensor& y = b.outputs[0];
  TD_ASSIGN_OR_RETURN(Tensor y2, ops::mul(y, y));
  TD_ASSIGN_OR_RETURN(Tensor r, ops::mul(b.grads[0], y2));
  TD_ASSIGN_OR_RETURN(r, ops::neg(r));
  return TensorList{r};
}

ListOr RsqrtBackward(const BackwardArgs& b) {
  // -0.5 * grad * result^3
  TD_ASSIGN_OR_RETURN(Tensor y3, ops::pow(b.outputs[0], Scalar(3)));
  TD_ASSIGN_OR_RETURN(Tensor r, ops::mul(b.grads[0], y3));
  TD_ASSIGN_OR_RETURN(r, ops::mul(r, Scalar(-0.5)));
  return TensorList{r};
}

ListOr Log1pBackward(const BackwardArgs& b) {
  TD_ASSIGN_OR_RETURN(Tensor d, ops::add(b.inputs[0], Scalar(1)));
  TD_ASSIGN_OR_RETURN(Tensor r, ops::div(b.grads[0], d));
  return TensorList{r};
}

ListOr LeakyReluBackward(const BackwardArgs& b) {
  // where(self > 0, grad, grad * negative_slope)
  TD_ASSIGN_OR_RETURN(Tensor pos, ops::gt(b.inputs[0], Scalar(0)));
  TD_ASSIGN_OR_RETURN(Tensor scaled,
                      ops::mul(b.grads[0], Scalar(b.attrs.Double("negative_slope"))));
  TD_ASSIGN_OR_RETURN(Tensor r, ops::where(pos, b.grads[0], scaled));
  return TensorList{r};
}

Attrs ApproximateAttrs(const Attrs& attrs) {
  return Attrs{{"approximate", attrs.String("approximate")}};
}

ListOr GeluBackward(const BackwardArgs& b) {
  TD_ASSIGN_OR_RETURN(Tensor r,
                      Call("_gelu_backward", {b.grads[0], b.inputs[0]}, ApproximateAttrs(b.attrs)));
  return TensorList{r};
}

// d^2 gelu(x) / dx^2, built from differentiable ops.
absl::StatusOr<Tensor> GeluSecondDerivative(const Tensor& x, bool tanh_approx) {
  TD_ASSIGN_OR_RETURN(Tensor x2, ops::mul(x, x));
  if (!tanh_approx) {
    // pdf * (2 - x^2), pdf = exp(-x^2 / 2) / sqrt(2 pi)
    TD_ASSIGN_OR_RETURN(Tensor e, ops::mul(x2, Scalar(-0.5)));
    TD_ASSIGN_OR_RETURN(e, ops::exp(e));
    TD_ASSIGN_OR_RETURN(Tensor pdf, ops::mul(e, Scalar(M_2_SQRTPI * M_SQRT1_2 * 0.5)));
    TD_ASSIGN_OR_RETURN(Tensor two, ops::scalar_tensor(Scalar(2.0)));
    TD_ASSIGN_OR_RETURN(Tensor f, ops::sub(two, x2));
    return ops::mul(pdf, f);
  }
  // y = f * (1 + t), f = x / 2, t = tanh(u), u = beta * (x + kappa x^3);
  // y'' = g h + f h (-2 t g h) + f g h', with g = 1 - t^2, h = u', h' = 6 kappa beta x.
  const double beta = M_SQRT2 * M_2_SQRTPI * 0.5, kappa = 0.044715;
  TD_ASSIGN_OR_RETURN(Tensor x3, ops::mul(x2, x));
  TD_ASSIGN_OR_RETURN(Tensor u, ops::mul(x3, Scalar(kappa)));
  TD_ASSIGN_OR_RETURN(u, ops::add(u, x));
  TD_ASSIGN_OR_RETURN(u, ops::mul(u, Scalar(beta)));
  TD_ASSIGN_OR_RETURN(Tensor t, ops::tanh(u));
  TD_ASSIGN_OR_RETURN(Tensor t2, ops::mul(t, t));
  TD_ASSIGN_OR_RETURN(Tensor one, ops::scalar_tensor(Scalar(1.0)));
  TD_ASSIGN_OR_RETURN(Tensor g, ops::sub(one, t2));
  TD_ASSIGN_OR_RETURN(Tensor h, ops::mul(x2, Scalar(3 * kappa * beta)));
  TD_ASSIGN_OR_RETURN(h, ops::add(h, Scalar(beta)));
  TD_ASSIGN_OR_RETURN(Tensor hp, ops::mul(x, Scalar(6 * kappa * beta)));
  TD_ASSIGN_OR_RETURN(Tensor f, ops::mul(x, Scalar(0.5)));
  TD_ASSIGN_OR_RETURN(Tensor gh, ops::mul(g, h));  // g h
  TD_ASSIGN_OR_RETURN(Tensor fh, ops::mul(f, h));
  TD_ASSIGN_OR_RETURN(Tensor tgh, ops::mul(t, gh));
  TD_ASSIGN_OR_RETURN(Tensor mid, ops::mul(fh, tgh));
  TD_ASSIGN_OR_RETURN(mid, ops::mul(mid, Scalar(-2.0)));  // -2 f h t g h
  TD_ASSIGN_OR_RETURN(Tensor fg, ops::mul(f, g));
  TD_ASSIGN_OR_RETURN(Tensor last, ops::mul(fg, hp));  // f g h'
  TD_ASSIGN_OR_RETURN(Tensor r, ops::add(gh, mid));
  return ops::add(r, last);
}

ListOr GeluBackwardBackward(const BackwardArgs& b) {
  TensorList g(2);
  const Tensor& gg = b.grads[0];
  if (b.needs_input_grad[0]) {
    TD_ASSIGN_OR_RETURN(g[0], Call("_gelu_backward", {gg, b.inputs[1]}, ApproximateAttrs(b.attrs)));
  }
  if (b.needs_input_grad[1]) {
    TD_ASSIGN_OR_RETURN(Tensor d2,
                        GeluSecondDerivative(b.inputs[1], b.attrs.String("approximate") == "tanh"));
    TD_ASSIGN_OR_RETURN(Tensor r, ops::mul(gg, b.inputs[0]));
    TD_ASSIGN_OR_RETURN(g[1], ops::mul(r, d2));
  }
  return g;
}

ListOr ZeroGradBackward(const BackwardArgs& b) {
  TensorList g(b.input_meta.size());
  for (size_t i = 0; i < g.size(); ++i) {
    if (!b.needs_input_grad[i]) continue;
    TD_ASSIGN_OR_RETURN(g[i], op_util::Zeros(b.input_meta[i]));
  }
  return g;
}

// fmod / remainder: self gets grad, other gets -grad * rounded(self / other), where the
// rounding (trunc or floor) has a zero derivative.
template <bool kFloor>
ListOr ModBackward(const BackwardArgs& b) {
  TensorList g(2);
  if (b.needs_input_grad[0]) g[0] = b.grads[0];
  if (b.needs_input_grad[1]) {
    TD_ASSIGN_OR_RETURN(Tensor q, ops::div(b.inputs[0], b.inputs[1]));
    TD_ASSIGN_OR_RETURN(q, Call(kFloor ? "floor" : "trunc", {q}));
    TD_ASSIGN_OR_RETURN(Tensor r, ops::mul(b.grads[0], q));
    TD_ASSIGN_OR_RETURN(g[1], ops::neg(r));
  }
  return g;
}

// PyTorch 1.13: ties split the gradient in half between self and other.
//   self:  where(self == other, grad / 2, grad).masked_fill_(self < other, 0)   (maximum)
//   other: where(self == other, grad / 2, grad).masked_fill_(self > other, 0)
template <bool kMax>
ListOr MaxMinimumBackward(const BackwardArgs& b) {
  TensorList g(2);
  const Tensor& self = b.inputs[0];
  const Tensor& other = b.inputs[1];
  TD_ASSIGN_OR_RETURN(Tensor tie, ops::eq(self, other));
  TD_ASSIGN_OR_RETURN(Tensor half, ops::div(b.grads[0], Scalar(2.0)));
  TD_ASSIGN_OR_RETURN(Tensor shared, ops::where(tie, half, b.grads[0]));
  TD_ASSIGN_OR_RETURN(Tensor zero, Zero());
  if (b.needs_input_grad[0]) {
    TD_ASSIGN_OR_RETURN(Tensor lose, kMax ? ops::lt(self, other) : ops::gt(self, other));
    TD_ASSIGN_OR_RETURN(g[0], ops::where(lose, zero, shared));
  }
  if (b.needs_input_grad[1]) {
    TD_ASSIGN_OR_RETURN(Tensor lose, kMax ? ops::gt(self, other) : ops::lt(self, other));
    TD_ASSIGN_OR_RETURN(g[1], ops::where(lose, zero, shared));
  }
  return g;
}

// ---- the table -----------------------------------------------------------------------------

constexpr uint32_t kSelf = 1u, kBoth = 3u;

OpDef Def(absl::string_view name, int num_inputs, absl::string_view grad_fn, absl::string_view doc,
          InferFn infer, ForwardFn forward, BackwardFn backward, uint32_t save_inputs = 0,
          bool save_outputs = false) {
  OpDef d = op_util::Def(name, grad_fn, doc, OpKind::kKernel, infer, forward, backward, {},
                         num_inputs, save_inputs);
  d.save_outputs = save_outputs;
  return d;
}

}  // namespace

void RegisterMorePointwiseOps(std::vector<OpDef>& t) {
  t.push_back(Def("reciprocal", 1, "ReciprocalBackward0", "1 / self", InferUnaryFloat,
                  UnaryForward<ReciprocalFn>, ReciprocalBackward, 0, true));
  t.back().schema = "reciprocal(Tensor self) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(Def("rsqrt", 1, "RsqrtBackward0", "1 / sqrt(self)", InferUnaryFloat,
                  UnaryForward<RsqrtFn>, RsqrtBackward, 0, true));
  t.back().schema = "rsqrt(Tensor self) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(Def("log1p", 1, "Log1PBackward0", "log(1 + self), accurate near 0", InferUnaryFloat,
                  UnaryForward<Log1pFn>, Log1pBackward, kSelf));
  t.back().schema = "log1p(Tensor self) -> Tensor";
  t.back().result_like_self = true;
  {
    OpDef d =
        Def("leaky_relu", 1, "LeakyReluBackward0", "self if self > 0 else negative_slope * self",
            InferLeakyRelu, UnaryForward<LeakyReluFn>, LeakyReluBackward, kSelf);
    d.schema = "leaky_relu(Tensor self, Scalar negative_slope=0.01) -> Tensor";
    d.result_like_self = true;
    t.push_back(d);
  }
  const AttrSpec approximate{"approximate", AttrType::kString, std::string("none"), false,
                             "'none' (exact, with erf) or 'tanh'"};
  {
    OpDef d = Def("gelu", 1, "GeluBackward0", "self * Phi(self), Phi the standard normal CDF",
                  InferGelu, GeluForward, GeluBackward, kSelf);
    d.schema = "gelu(Tensor self, *, str approximate=\"none\") -> Tensor";
    d.result_like_self = true;
    t.push_back(d);
  }
  {
    OpDef d = Def("_gelu_backward", 2, "GeluBackwardBackward0",
                  "gelu's backward: grad_output * gelu'(self), as aten::gelu_backward",
                  InferGeluBackward, GeluBackwardForward, GeluBackwardBackward, kBoth);
    d.attrs = {approximate};
    t.push_back(d);
  }
  t.push_back(Def("floor", 1, "FloorBackward0", "largest integer <= self",
                  InferRounding<kFloorKernel>, UnaryForward<FloorFn>, ZeroGradBackward));
  t.back().schema = "floor(Tensor self) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(Def("ceil", 1, "CeilBackward0", "smallest integer >= self",
                  InferRounding<kCeilKernel>, UnaryForward<CeilFn>, ZeroGradBackward));
  t.back().schema = "ceil(Tensor self) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(Def("round", 1, "RoundBackward0", "nearest integer, halves to even",
                  InferRounding<kRoundKernel>, UnaryForward<RoundFn>, ZeroGradBackward));
  t.back().schema = "round(Tensor self) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(Def("trunc", 1, "TruncBackward0", "self rounded toward zero",
                  InferRounding<kTruncKernel>, UnaryForward<TruncFn>, ZeroGradBackward));
  t.back().schema = "trunc(Tensor self) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(Def("fmod", 2, "FmodBackward1",
                  "C fmod: remainder of self / other with the sign of self (broadcasting)",
                  InferBinaryNoBool<kFmodKernel>, BinaryForward<FmodFn>, ModBackward<false>,
                  kBoth));
  t.back().schema = "fmod.Tensor(Tensor self, Tensor other) -> Tensor";
  t.back().result_like_self = true;
  t.back().save_input_for = {2u, 2u};  // both only for other's gradient
  t.push_back(Def("remainder", 2, "RemainderBackward1",
                  "Python modulus: remainder of self / other with the sign of other (broadcasting)",
                  InferBinaryNoBool<kRemainderKernel>, BinaryForward<RemainderFn>,
                  ModBackward<true>, kBoth));
  t.back().schema = "remainder.Tensor(Tensor self, Tensor other) -> Tensor";
  t.back().result_like_self = true;
  t.back().save_input_for = {2u, 2u};  // both only for other's gradient
  t.push_back(Def("maximum", 2, "MaximumBackward0",
                  "element-wise max, NaN propagates (broadcasting)", InferBinary,
                  BinaryForward<MaxMinFn<true>>, MaxMinimumBackward<true>, kBoth));
  t.back().schema = "maximum(Tensor self, Tensor other) -> Tensor";
  t.push_back(Def("minimum", 2, "MinimumBackward0",
                  "element-wise min, NaN propagates (broadcasting)", InferBinary,
                  BinaryForward<MaxMinFn<false>>, MaxMinimumBackward<false>, kBoth));
  t.back().schema = "minimum(Tensor self, Tensor other) -> Tensor";
  // torch.max(a, b) / torch.min(a, b): the same function as maximum / minimum, under the max and
  // min groups (PyTorch records the same nodes).
  t.push_back(Def("max_other", 2, "MaximumBackward0",
                  "element-wise max, NaN propagates (broadcasting): torch.max(self, other)",
                  InferBinary, BinaryForward<MaxMinFn<true>>, MaxMinimumBackward<true>, kBoth));
  t.back().schema = "max.other(Tensor self, Tensor other) -> Tensor";
  t.push_back(Def("min_other", 2, "MinimumBackward0",
                  "element-wise min, NaN propagates (broadcasting): torch.min(self, other)",
                  InferBinary, BinaryForward<MaxMinFn<false>>, MaxMinimumBackward<false>, kBoth));
  t.back().schema = "min.other(Tensor self, Tensor other) -> Tensor";
  t.push_back(Def("logical_and", 2, "", "self != 0 and other != 0 (bool, broadcasting)",
                  InferLogicalBinary, LogicalBinaryForward<true>, nullptr));
  t.back().schema = "logical_and(Tensor self, Tensor other) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(Def("logical_or", 2, "", "self != 0 or other != 0 (bool, broadcasting)",
                  InferLogicalBinary, LogicalBinaryForward<false>, nullptr));
  t.back().schema = "logical_or(Tensor self, Tensor other) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(
      Def("logical_not", 1, "", "self == 0 (bool)", InferLogicalNot, LogicalNotForward, nullptr));
  t.back().schema = "logical_not(Tensor self) -> Tensor";
  t.back().result_like_self = true;
}

}  // namespace tensord
