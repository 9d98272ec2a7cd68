// Element-wise ops: arithmetic, math functions, comparisons, where, clamp, fill.
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "engine/checked_math.h"
#include "engine/kernels/loop.h"
#include "engine/kernels/vmath.h"
#include "engine/ops.h"
#include "engine/ops/op_util.h"
#include "engine/ops/registry.h"
#include "engine/status_macros.h"

namespace tensord {
namespace {

using TensorList = std::vector<Tensor>;
using ListOr = absl::StatusOr<TensorList>;
using MetaOr = absl::StatusOr<std::vector<TensorMeta>>;

// ---- shape rules ---------------------------------------------------------------------------

MetaOr InferSame(const OpArgs& a) { return std::vector<TensorMeta>{a.inputs[0].meta()}; }

MetaOr InferUnaryFloat(const OpArgs& a) {
  return std::vector<TensorMeta>{{a.inputs[0].shape(), op_util::ToFloating(a.inputs[0].dtype())}};
}

MetaOr InferBinary(const OpArgs& a) {
  TD_ASSIGN_OR_RETURN(Shape shape,
                      op_util::BroadcastShapes(a.inputs[0].shape(), a.inputs[1].shape()));
  return std::vector<TensorMeta>{{std::move(shape), op_util::ResultType(a.inputs)}};
}

// A number attribute that becomes a value of `dtype` (alpha, a fill value, a bound): PyTorch's
// overflow errors before any conversion (engine/checked_math.h).
absl::Status CheckScalarFor(const Attrs& attrs, absl::string_view name, DType dtype) {
  if (!attrs.Has(name) || attrs.IsIntegral(name)) return absl::OkStatus();
  return CheckConvertible(attrs.Double(name), dtype);
}

// add / sub / rsub: alpha must be an integer for integral results, and fit the result's dtype.
absl::Status CheckAlpha(const Attrs& attrs, DType result) {
  if (!IsFloating(result) && attrs.Has("alpha") && !attrs.IsIntegral("alpha")) {
    return absl::InvalidArgumentError(
        "For integral input tensors, argument alpha must not be a floating point number.");
  }
  return CheckScalarFor(attrs, "alpha", result);
}

MetaOr InferAdd(const OpArgs& a) {
  TD_ASSIGN_OR_RETURN(auto metas, InferBinary(a));
  TD_RETURN_IF_ERROR(CheckAlpha(a.attrs, metas[0].dtype));
  return metas;
}

MetaOr InferBinaryFloat(const OpArgs& a) {
  TD_ASSIGN_OR_RETURN(auto metas, InferBinary(a));
  metas[0].dtype = op_util::ToFloating(metas[0].dtype);
  return metas;
}

MetaOr InferCompare(const OpArgs& a) {
  TD_ASSIGN_OR_RETURN(auto metas, InferBinary(a));
  metas[0].dtype = DType::kBool;
  return metas;
}

MetaOr InferSub(const OpArgs& a) {
  const bool ab = a.inputs[0].dtype() == DType::kBool, bb = a.inputs[1].dtype() == DType::kBool;
  if (ab && bb) {
    return absl::InvalidArgumentError(
        "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or "
        "`logical_xor()` operator instead.");
  }
  if (ab || bb) {
    return absl::InvalidArgumentError(
        "Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to "
        "invert a mask, use the `~` or `logical_not()` operator instead.");
  }
  return InferAdd(a);
}

MetaOr InferNeg(const OpArgs& a) {
  if (a.inputs[0].dtype() == DType::kBool) {
    return absl::InvalidArgumentError(
        "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to "
        "invert a mask, use the `~` or `logical_not()` operator instead.");
  }
  return InferSame(a);
}

MetaOr InferRelu(const OpArgs& a) {
  if (a.inputs[0].dtype() == DType::kBool) {
    return absl::InvalidArgumentError("Boolean inputs not supported for relu");
  }
  return InferSame(a);
}

// The dtype of `t op scalar` where the scalar is a Python number.
DType ScalarResultType(const Tensor& t, const Attrs& attrs,
                       std::initializer_list<const char*> names) {
  DType out = t.dtype();
  for (const char* name : names) {
    if (!attrs.Has(name)) continue;
    if (!attrs.IsIntegral(name) && !IsFloating(out)) out = op_util::ToFloating(out);
    if (attrs.IsIntegral(name) && out == DType::kBool) out = DType::kInt64;
  }
  return out;
}

MetaOr InferRsub(const OpArgs& a) {
  if (a.inputs[0].dtype() == DType::kBool) {
    return absl::InvalidArgumentError(
        "Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to "
        "invert a mask, use the `~` or `logical_not()` operator instead.");
  }
  // Like PyTorch, alpha does not promote: a float alpha with an integral result is an error.
  const DType out = ScalarResultType(a.inputs[0], a.attrs, {"other"});
  TD_RETURN_IF_ERROR(CheckAlpha(a.attrs, out));
  return std::vector<TensorMeta>{{a.inputs[0].shape(), out}};
}

MetaOr InferPowScalar(const OpArgs& a) {
  const DType out = ScalarResultType(a.inputs[0], a.attrs, {"exponent"});
  if (!IsFloating(out) && a.attrs.Int("exponent") < 0) {
    return absl::InvalidArgumentError("Integers to negative integer powers are not allowed.");
  }
  return std::vector<TensorMeta>{{a.inputs[0].shape(), out}};
}

MetaOr InferClamp(const OpArgs& a) {
  if (!a.attrs.Has("min") && !a.attrs.Has("max")) {
    return absl::InvalidArgumentError(
        "torch.clamp: At least one of 'min' or 'max' must not be None");
  }
  if (a.inputs[0].dtype() == DType::kBool) {
    return absl::InvalidArgumentError("clamp is not supported for bool tensors");
  }
  const DType out = ScalarResultType(a.inputs[0], a.attrs, {"min", "max"});
  TD_RETURN_IF_ERROR(CheckScalarFor(a.attrs, "min", out));
  TD_RETURN_IF_ERROR(CheckScalarFor(a.attrs, "max", out));
  return std::vector<TensorMeta>{{a.inputs[0].shape(), out}};
}

// fill / fill_: the value must fit self's dtype (PyTorch's overflow errors).
MetaOr InferFill(const OpArgs& a) {
  TD_RETURN_IF_ERROR(CheckScalarFor(a.attrs, "value", a.inputs[0].dtype()));
  return InferSame(a);
}

MetaOr InferWhere(const OpArgs& a) {
  if (a.inputs[0].dtype() != DType::kBool) {
    return absl::InvalidArgumentError(absl::StrCat(
        "where expected condition to be a boolean tensor, but got a tensor with dtype ",
        a.inputs[0].dtype() == DType::kFloat32   ? "Float"
        : a.inputs[0].dtype() == DType::kFloat64 ? "Double"
                                                 : "Long"));
  }
  TD_ASSIGN_OR_RETURN(Shape s, op_util::BroadcastShapes(a.inputs[0].shape(), a.inputs[1].shape()));
  TD_ASSIGN_OR_RETURN(s, op_util::BroadcastShapes(s, a.inputs[2].shape()));
  return std::vector<TensorMeta>{{std::move(s), op_util::ResultType(a.inputs.subspan(1))}};
}

MetaOr InferCopy(const OpArgs& a) {
  if (!op_util::IsExpandableTo(a.inputs[1].shape(), a.inputs[0].shape())) {
    TD_RETURN_IF_ERROR(op_util::BroadcastShapes(a.inputs[0].shape(), a.inputs[1].shape()).status());
    return absl::InvalidArgumentError(absl::StrCat(
        "copy_(): source of shape ", ShapeToString(a.inputs[1].shape()),
        " cannot be broadcast to destination of shape ", ShapeToString(a.inputs[0].shape())));
  }
  return InferSame(a);
}

// ---- forward kernels -----------------------------------------------------------------------

// Functors give each op's element rule for every dtype it accepts.
// Functors with a `Vector(const T*, T*, n)` have a vectorized path for contiguous floats.
template <typename Fn, typename T>
concept HasVector = requires(const T* in, T* out, int64_t n) {
  Fn::Vector(in, out, n);
};
// Called through a function template rather than directly: clang 14 checks `Fn::Vector` inside
// the discarded `if constexpr` branch of a generic lambda (the fuzz preset builds with clang).
template <typename Fn, typename T>
void CallVector(const T* in, T* out, int64_t n) {
  Fn::Vector(in, out, n);
}

template <typename Fn>
ListOr UnaryForward(const OpArgs& a, const std::vector<TensorMeta>& metas) {
  TD_ASSIGN_OR_RETURN(Tensor in, op_util::RawTo(a.inputs[0], metas[0].dtype));
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(metas[0]));
  DispatchDType(metas[0].dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (HasVector<Fn, T>) {
      if (in.is_contiguous() && out.numel() >= 64) {
        // In pieces, with a cancellation check between them (engine/cancel.h).
        constexpr int64_t kPiece = cancel_internal::kPollInterval;
        const T* x = in.data_ptr<T>();
        T* y = out.data_ptr<T>();
        for (int64_t done = 0, n = out.numel(); done < n; done += kPiece) {
          const int64_t len = std::min(kPiece, n - done);
          PollCancellation(len);
          CallVector<Fn>(x + done, y + done, len);
        }
        return;
      }
    }
    kernels::Map<T, T>(out, in, [&](T x) { return Fn::template Apply<T>(x, a.attrs); });
  });
  return TensorList{out};
}

template <typename Fn>
ListOr BinaryForward(const OpArgs& a, const std::vector<TensorMeta>& metas) {
  const DType compute = Fn::kCompare ? op_util::ResultType(a.inputs) : metas[0].dtype;
  TD_ASSIGN_OR_RETURN(Tensor x, op_util::RawTo(a.inputs[0], compute));
  TD_ASSIGN_OR_RETURN(Tensor y, op_util::RawTo(a.inputs[1], compute));
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(metas[0]));
  DispatchDType(compute, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (Fn::kCompare) {
      kernels::Map2<bool, T, T>(out, x, y, [](T p, T q) { return Fn::template Apply<T>(p, q); });
    } else {
      const auto f = Fn::template Make<T>(a.attrs);
      kernels::Map2<T, T, T>(out, x, y, f);
    }
  });
  return TensorList{out};
}

// A number attribute as T: integers exactly (an int64 does not go through double), floats
// truncated for integral T (the shape rule has refused what does not fit).
template <typename T>
T ScalarAs(const Attrs& attrs, absl::string_view name) {
  if (attrs.IsIntegral(name)) {
    if constexpr (std::is_same_v<T, bool>) {
      return attrs.Int(name) != 0;
    } else {
      return static_cast<T>(attrs.Int(name));
    }
  }
  return SaturatingFromDouble<T>(attrs.Double(name));
}

// int64 arithmetic wraps around as in PyTorch (never undefined behaviour); other types as is.
template <typename T>
T Plus(T p, T q) {
  if constexpr (std::is_same_v<T, int64_t>) {
    return WrappingAdd(p, q);
  } else {
    return static_cast<T>(p + q);
  }
}
template <typename T>
T Minus(T p, T q) {
  if constexpr (std::is_same_v<T, int64_t>) {
    return WrappingSub(p, q);
  } else {
    return static_cast<T>(p - q);
  }
}
template <typename T>
T Negate(T x) {
  if constexpr (std::is_same_v<T, int64_t>) {
    return WrappingNeg(x);
  } else {
    return static_cast<T>(-x);
  }
}
template <typename T>
T Times(T p, T q) {
  if constexpr (std::is_same_v<T, int64_t>) {
    return WrappingMul(p, q);
  } else if constexpr (std::is_same_v<T, bool>) {
    return p && q;
  } else {
    return p * q;
  }
}

struct AddFn {
  static constexpr bool kCompare = false;
  template <typename T>
  static auto Make(const Attrs& attrs) {
    const T alpha = ScalarAs<T>(attrs, "alpha");
    return [alpha](T p, T q) -> T {
      if constexpr (std::is_same_v<T, bool>) {
        return p || (alpha && q);
      } else {
        return Plus<T>(p, Times<T>(alpha, q));
      }
    };
  }
};
struct SubFn {
  static constexpr bool kCompare = false;
  template <typename T>
  static auto Make(const Attrs& attrs) {
    const T alpha = ScalarAs<T>(attrs, "alpha");
    return [alpha](T p, T q) -> T { return Minus<T>(p, Times<T>(alpha, q)); };
  }
};
struct MulFn {
  static constexpr bool kCompare = false;
  template <typename T>
  static auto Make(const Attrs&) {
    return [](T p, T q) -> T { return Times<T>(p, q); };
  }
};
struct DivFn {
  static constexpr bool kCompare = false;
  template <typename T>
  static auto Make(const Attrs&) {
    return [](T p, T q) -> T { return static_cast<T>(p / q); };
  }
};
template <typename T>
T IntPow(T base, T exp) {
  if constexpr (std::is_same_v<T, bool>) {
    return base || !exp;
  } else {
    T result = 1;
    while (exp > 0) {
      if (exp & 1) result = Times<T>(result, base);
      base = Times<T>(base, base);
      exp >>= 1;
    }
    return result;
  }
}
struct PowFn {
  static constexpr bool kCompare = false;
  template <typename T>
  static auto Make(const Attrs&) {
    return [](T p, T q) -> T {
      if constexpr (std::is_floating_point_v<T>) {
        return std::pow(p, q);
      } else {
        return IntPow<T>(p, q);
      }
    };
  }
};
#define TENSORD_COMPARE_FN(Name, op)       \
  struct Name {                            \
    static constexpr bool kCompare = true; \
    template <typename T>                  \
    static bool Apply(T p, T q) {          \
      return p op q;                       \
    }                                      \
    template <typename T>                  \
    static auto Make(const Attrs&) {       \
      return [](T, T) { return T(); };     \
    }                                      \
  };
TENSORD_COMPARE_FN(EqFn, ==)
TENSORD_COMPARE_FN(NeFn, !=)
TENSORD_COMPARE_FN(LtFn, <)
TENSORD_COMPARE_FN(LeFn, <=)
TENSORD_COMPARE_FN(GtFn, >)
TENSORD_COMPARE_FN(GeFn, >=)
#undef TENSORD_COMPARE_FN

// Unary functors. Float-only ones are instantiated for float/double only.
#define TENSORD_UNARY_FN(Name, expr)           \
  struct Name {                                \
    template <typename T>                      \
    static T Apply(T x, const Attrs& attrs) {  \
      (void)attrs;                             \
      if constexpr (std::is_same_v<T, bool>) { \
        return x;                              \
      } else {                                 \
        return static_cast<T>(expr);           \
      }                                        \
    }                                          \
  };
TENSORD_UNARY_FN(NegFn, Negate<T>(x))
TENSORD_UNARY_FN(AbsFn, x < 0 ? Negate<T>(x) : x)
TENSORD_UNARY_FN(SignFn, (T(0) < x) - (x < T(0)))
#define TENSORD_UNARY_VEC_FN(Name, expr, vec)                                         \
  struct Name {                                                                       \
    template <typename T>                                                             \
    static T Apply(T x, const Attrs&) {                                               \
      if constexpr (std::is_same_v<T, bool>) {                                        \
        return x;                                                                     \
      } else {                                                                        \
        return static_cast<T>(expr);                                                  \
      }                                                                               \
    }                                                                                 \
    static void Vector(const float* in, float* out, int64_t n) { vec(in, out, n); }   \
    static void Vector(const double* in, double* out, int64_t n) { vec(in, out, n); } \
  };
TENSORD_UNARY_VEC_FN(ExpFn, std::exp(x), kernels::VecExp)
TENSORD_UNARY_VEC_FN(LogFn, std::log(x), kernels::VecLog)
#undef TENSORD_UNARY_VEC_FN
TENSORD_UNARY_FN(SqrtFn, std::sqrt(x))
TENSORD_UNARY_FN(SinFn, std::sin(x))
TENSORD_UNARY_FN(CosFn, std::cos(x))
TENSORD_UNARY_FN(TanhFn, std::tanh(x))
TENSORD_UNARY_FN(SigmoidFn, T(1) / (T(1) + std::exp(-x)))
TENSORD_UNARY_FN(ReluFn, x > T(0) ? x : T(0))
#undef TENSORD_UNARY_FN

struct RsubFn {
  template <typename T>
  static T Apply(T x, const Attrs& attrs) {
    if constexpr (std::is_same_v<T, bool>) {
      return x;
    } else {
      return Minus<T>(ScalarAs<T>(attrs, "other"), Times<T>(ScalarAs<T>(attrs, "alpha"), x));
    }
  }
};

struct ZeroFn {
  template <typename T>
  static T Apply(T, const Attrs&) {
    return T(0);
  }
};
struct FillFn {
  template <typename T>
  static T Apply(T, const Attrs& attrs) {
    return ScalarAs<T>(attrs, "value");
  }
};

// x ** e with the common exponents computed without std::pow (which costs ~10 ns an element).
ListOr PowScalarForward(const OpArgs& a, const std::vector<TensorMeta>& metas) {
  TD_ASSIGN_OR_RETURN(Tensor in, op_util::RawTo(a.inputs[0], metas[0].dtype));
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(metas[0]));
  const double e = a.attrs.Double("exponent");
  DispatchDType(metas[0].dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_floating_point_v<T>) {
      if (e == 2) {
        kernels::Map<T, T>(out, in, [](T x) { return x * x; });
      } else if (e == 3) {
        kernels::Map<T, T>(out, in, [](T x) { return x * x * x; });
      } else if (e == 1) {
        kernels::Map<T, T>(out, in, [](T x) { return x; });
      } else if (e == 0) {
        kernels::Map<T, T>(out, in, [](T) { return T(1); });
      } else if (e == -1) {
        kernels::Map<T, T>(out, in, [](T x) { return T(1) / x; });
      } else if (e == 0.5) {
        kernels::Map<T, T>(out, in, [](T x) { return std::sqrt(x); });
      } else if (e == -2) {
        kernels::Map<T, T>(out, in, [](T x) { return T(1) / (x * x); });
      } else {
        const T et = static_cast<T>(e);
        kernels::Map<T, T>(out, in, [et](T x) { return std::pow(x, et); });
      }
    } else {
      const T et = ScalarAs<T>(a.attrs, "exponent");
      kernels::Map<T, T>(out, in, [et](T x) { return IntPow<T>(x, et); });
    }
  });
  return TensorList{out};
}

// pow.Scalar: self ** exponent for a number self and a tensor exponent (Python's 2 ** x).
MetaOr InferPowScalarBase(const OpArgs& a) {
  const Tensor& exponent = a.inputs[0];
  const DType out = ScalarResultType(exponent, a.attrs, {"self"});
  if (out == DType::kBool) {
    return absl::InvalidArgumentError("\"pow\" not implemented for 'Bool'");
  }
  return std::vector<TensorMeta>{{exponent.shape(), out}};
}

ListOr PowScalarBaseForward(const OpArgs& a, const std::vector<TensorMeta>& metas) {
  TD_ASSIGN_OR_RETURN(Tensor in, op_util::RawTo(a.inputs[0], metas[0].dtype));
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(metas[0]));
  DispatchDType(metas[0].dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_floating_point_v<T>) {
      const T base = static_cast<T>(a.attrs.Double("self"));
      kernels::Map<T, T>(out, in, [base](T e) { return std::pow(base, e); });
    } else if constexpr (!std::is_same_v<T, bool>) {
      const T base = ScalarAs<T>(a.attrs, "self");
      kernels::Map<T, T>(out, in, [base](T e) { return IntPow<T>(base, e); });
    }
  });
  return TensorList{out};
}

struct ClampFn {
  template <typename T>
  static T Apply(T x, const Attrs& attrs) {
    if constexpr (std::is_same_v<T, bool>) {
      return x;
    } else {
      if constexpr (std::is_floating_point_v<T>) {
        if (std::isnan(x)) return x;
      }
      if (attrs.Has("min")) x = std::max(x, ScalarAs<T>(attrs, "min"));
      if (attrs.Has("max")) x = std::min(x, ScalarAs<T>(attrs, "max"));
      return x;
    }
  }
};

// In place (no graph): self = op(self, other) with other converted to self's dtype. The
// element-wise loop reads each element before writing it, so self may alias other too.
template <typename Fn>
void BinaryInplace(const OpArgs& a) {
  const Tensor& self = a.inputs[0];
  auto other = op_util::RawTo(a.inputs[1], self.dtype());  // a 0-dim or small copy at most
  if (!other.ok()) return;  // allocation of the converted operand failed: nothing written
  DispatchDType(self.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const auto f = Fn::template Make<T>(a.attrs);
    kernels::Map2<T, T, T>(self, self, *other, f);
  });
}

template <typename Fn>
void UnaryInplace(const OpArgs& a) {
  const Tensor& self = a.inputs[0];
  DispatchDType(self.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::Map<T, T>(self, self, [&](T x) { return Fn::template Apply<T>(x, a.attrs); });
  });
}

ListOr WhereForward(const OpArgs& a, const std::vector<TensorMeta>& metas) {
  TD_ASSIGN_OR_RETURN(Tensor x, op_util::RawTo(a.inputs[1], metas[0].dtype));
  TD_ASSIGN_OR_RETURN(Tensor y, op_util::RawTo(a.inputs[2], metas[0].dtype));
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(metas[0]));
  DispatchDType(metas[0].dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::Map3<T, bool, T, T>(out, a.inputs[0], x, y,
                                 [](bool c, T p, T q) { return c ? p : q; });
  });
  return TensorList{out};
}

ListOr CopyForward(const OpArgs& a, const std::vector<TensorMeta>& metas) {
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(metas[0]));
  kernels::CopyInto(out, a.inputs[1]);
  return TensorList{out};
}

// ---- backward rules ------------------------------------------------------------------------
// Written with differentiable ops, so create_graph=True gives gradients of gradients.

ListOr AddBackward(const BackwardArgs& b) {
  TensorList g(2);
  if (b.needs_input_grad[0]) g[0] = b.grads[0];
  if (b.needs_input_grad[1]) {
    if (b.attrs.Double("alpha") == 1.0) {
      g[1] = b.grads[0];
    } else {
      TD_ASSIGN_OR_RETURN(g[1], ops::mul(b.grads[0], Scalar(b.attrs.Double("alpha"))));
    }
  }
  return g;
}

ListOr SubBackward(const BackwardArgs& b) {
  TensorList g(2);
  if (b.needs_input_grad[0]) g[0] = b.grads[0];
  if (b.needs_input_grad[1]) {
    TD_ASSIGN_OR_RETURN(g[1], ops::mul(b.grads[0], Scalar(-b.attrs.Double("alpha"))));
  }
  return g;
}

ListOr MulBackward(const BackwardArgs& b) {
  TensorList g(2);
  if (b.needs_input_grad[0]) {
    TD_ASSIGN_OR_RETURN(g[0], ops::mul(b.grads[0], b.inputs[1]));
  }
  if (b.needs_input_grad[1]) {
    TD_ASSIGN_OR_RETURN(g[1], ops::mul(b.grads[0], b.inputs[0]));
  }
  return g;
}

ListOr DivBackward(const BackwardArgs& b) {
  TensorList g(2);
  if (b.needs_input_grad[0]) {
    TD_ASSIGN_OR_RETURN(g[0], ops::div(b.grads[0], b.inputs[1]));
  }
  if (b.needs_input_grad[1]) {
    // -grad * self / (other * other)
    TD_ASSIGN_OR_RETURN(Tensor num, ops::mul(b.grads[0], b.inputs[0]));
    TD_ASSIGN_OR_RETURN(Tensor den, ops::mul(b.inputs[1], b.inputs[1]));
    TD_ASSIGN_OR_RETURN(Tensor q, ops::div(num, den));
    TD_ASSIGN_OR_RETURN(g[1], ops::neg(q));
  }
  return g;
}

// grad * exponent * self^(exponent - 1), and 0 where exponent == 0.
absl::StatusOr<Tensor> PowSelfGrad(const Tensor& grad, const Tensor& self, const Tensor& exponent) {
  TD_ASSIGN_OR_RETURN(Tensor em1, ops::sub(exponent, Scalar(1.0)));
  TD_ASSIGN_OR_RETURN(Tensor p, ops::pow(self, em1));
  TD_ASSIGN_OR_RETURN(Tensor t, ops::mul(p, exponent));
  TD_ASSIGN_OR_RETURN(Tensor r, ops::mul(grad, t));
  TD_ASSIGN_OR_RETURN(Tensor zero_exp, ops::eq(exponent, Scalar(0.0)));
  TD_ASSIGN_OR_RETURN(Tensor zero, ops::scalar_tensor(Scalar(0.0)));
  return ops::where(zero_exp, zero, r);
}

ListOr PowBackward(const BackwardArgs& b) {
  TensorList g(2);
  const Tensor& self = b.inputs[0];
  const Tensor& exponent = b.inputs[1];
  if (b.needs_input_grad[0]) {
    TD_ASSIGN_OR_RETURN(g[0], PowSelfGrad(b.grads[0], self, exponent));
  }
  if (b.needs_input_grad[1]) {
    // grad * result * log(self), and 0 where self == 0 and exponent >= 0.
    TD_ASSIGN_OR_RETURN(Tensor logs, ops::log(self));
    TD_ASSIGN_OR_RETURN(Tensor t, ops::mul(b.outputs[0], logs));
    TD_ASSIGN_OR_RETURN(Tensor r, ops::mul(b.grads[0], t));
    TD_ASSIGN_OR_RETURN(Tensor self_zero, ops::eq(self, Scalar(0.0)));
    TD_ASSIGN_OR_RETURN(Tensor exp_nonneg, ops::ge(exponent, Scalar(0.0)));
    TD_ASSIGN_OR_RETURN(Tensor mask, ops::mul(self_zero, exp_nonneg));
    TD_ASSIGN_OR_RETURN(Tensor zero, ops::scalar_tensor(Scalar(0.0)));
    TD_ASSIGN_OR_RETURN(g[1], ops::where(mask, zero, r));
  }
  return g;
}

// exponent: grad * result * log(self), and 0 where self == 0 and exponent >= 0 (PowBackward2).
ListOr PowScalarBaseBackward(const BackwardArgs& b) {
  const double base = b.attrs.Double("self");
  TD_ASSIGN_OR_RETURN(Tensor t, ops::mul(b.outputs[0], Scalar(std::log(base))));
  TD_ASSIGN_OR_RETURN(Tensor r, ops::mul(b.grads[0], t));
  if (base == 0.0) {
    TD_ASSIGN_OR_RETURN(Tensor exp_nonneg, ops::ge(b.inputs[0], Scalar(0.0)));
    TD_ASSIGN_OR_RETURN(Tensor zero, ops::scalar_tensor(Scalar(0.0)));
    TD_ASSIGN_OR_RETURN(r, ops::where(exp_nonneg, zero, r));
  }
  return TensorList{r};
}

ListOr PowScalarBackward(const BackwardArgs& b) {
  const double e = b.attrs.Double("exponent");
  if (e == 0.0) {
    TD_ASSIGN_OR_RETURN(Tensor z, ops::mul(b.grads[0], Scalar(0.0)));
    return TensorList{z};
  }
  if (e == 2.0) {  // grad * 2x: two passes instead of three
    TD_ASSIGN_OR_RETURN(Tensor t, ops::mul(b.inputs[0], Scalar(2.0)));
    TD_ASSIGN_OR_RETURN(Tensor r, ops::mul(b.grads[0], t));
    return TensorList{r};
  }
  TD_ASSIGN_OR_RETURN(Tensor p, ops::pow(b.inputs[0], Scalar(e - 1.0)));
  TD_ASSIGN_OR_RETURN(Tensor t, ops::mul(p, Scalar(e)));
  TD_ASSIGN_OR_RETURN(Tensor r, ops::mul(b.grads[0], t));
  return TensorList{r};
}

ListOr RsubBackward(const BackwardArgs& b) {
  TD_ASSIGN_OR_RETURN(Tensor r, ops::mul(b.grads[0], Scalar(-b.attrs.Double("alpha"))));
  return TensorList{r};
}

ListOr NegBackward(const BackwardArgs& b) {
  TD_ASSIGN_OR_RETURN(Tensor r, ops::neg(b.grads[0]));
  return TensorList{r};
}

ListOr AbsBackward(const BackwardArgs& b) {
  TD_ASSIGN_OR_RETURN(Tensor s, ops::sign(b.inputs[0]));
  TD_ASSIGN_OR_RETURN(Tensor r, ops::mul(b.grads[0], s));
  return TensorList{r};
}

ListOr ZeroGradBackward(const BackwardArgs& b) {
  TensorList g(b.input_meta.size());
  for (size_t i = 0; i < g.size(); ++i) {
    if (!b.needs_input_grad[i]) continue;
    TD_ASSIGN_OR_RETURN(g[i], op_util::Zeros(b.input_meta[i]));
  }
  return g;
}

ListOr ExpBackward(const BackwardArgs& b) {
  TD_ASSIGN_OR_RETURN(Tensor r, ops::mul(b.grads[0], b.outputs[0]));
  return TensorList{r};
}

ListOr LogBackward(const BackwardArgs& b) {
  TD_ASSIGN_OR_RETURN(Tensor r, ops::div(b.grads[0], b.inputs[0]));
  return TensorList{r};
}

ListOr SqrtBackward(const BackwardArgs& b) {
  TD_ASSIGN_OR_RETURN(Tensor d, ops::mul(b.outputs[0], Scalar(2.0)));
  TD_ASSIGN_OR_RETURN(Tensor r, ops::div(b.grads[0], d));
  return TensorList{r};
}

ListOr SinBackward(const BackwardArgs& b) {
  TD_ASSIGN_OR_RETURN(Tensor c, ops::cos(b.inputs[0]));
  TD_ASSIGN_OR_RETURN(Tensor r, ops::mul(b.grads[0], c));
  return TensorList{r};
}

ListOr CosBackward(const BackwardArgs& b) {
  TD_ASSIGN_OR_RETURN(Tensor s, ops::sin(b.inputs[0]));
  TD_ASSIGN_OR_RETURN(Tensor n, ops::neg(s));
  TD_ASSIGN_OR_RETURN(Tensor r, ops::mul(b.grads[0], n));
  return TensorList{r};
}

ListOr TanhBackward(const BackwardArgs& b) {
  // grad * (1 - y^2)
  TD_ASSIGN_OR_RETURN(Tensor y2, ops::mul(b.outputs[0], b.outputs[0]));
  TD_ASSIGN_OR_RETURN(Tensor one, ops::scalar_tensor(Scalar(1.0)));
  TD_ASSIGN_OR_RETURN(Tensor one_minus, ops::sub(one, y2));
  TD_ASSIGN_OR_RETURN(Tensor r, ops::mul(b.grads[0], one_minus));
  return TensorList{r};
}

ListOr SigmoidBackward(const BackwardArgs& b) {
  // grad * y * (1 - y)
  TD_ASSIGN_OR_RETURN(Tensor one, ops::scalar_tensor(Scalar(1.0)));
  TD_ASSIGN_OR_RETURN(Tensor one_minus, ops::sub(one, b.outputs[0]));
  TD_ASSIGN_OR_RETURN(Tensor d, ops::mul(b.outputs[0], one_minus));
  TD_ASSIGN_OR_RETURN(Tensor r, ops::mul(b.grads[0], d));
  return TensorList{r};
}

ListOr ReluBackward(const BackwardArgs& b) {
  TD_ASSIGN_OR_RETURN(Tensor mask, ops::gt(b.outputs[0], Scalar(0)));
  TD_ASSIGN_OR_RETURN(Tensor zero, ops::scalar_tensor(Scalar(0.0)));
  TD_ASSIGN_OR_RETURN(Tensor r, ops::where(mask, b.grads[0], zero));
  return TensorList{r};
}

ListOr ClampBackward(const BackwardArgs& b) {
  const Tensor& x = b.inputs[0];
  TD_ASSIGN_OR_RETURN(Tensor mask, ops::scalar_tensor(Scalar(1)));
  TD_ASSIGN_OR_RETURN(mask, op_util::RawTo(mask, DType::kBool));
  if (b.attrs.Has("min")) {
    TD_ASSIGN_OR_RETURN(Tensor ge, ops::ge(x, Scalar(b.attrs.Double("min"))));
    TD_ASSIGN_OR_RETURN(mask, ops::mul(mask, ge));
  }
  if (b.attrs.Has("max")) {
    TD_ASSIGN_OR_RETURN(Tensor le, ops::le(x, Scalar(b.attrs.Double("max"))));
    TD_ASSIGN_OR_RETURN(mask, ops::mul(mask, le));
  }
  TD_ASSIGN_OR_RETURN(Tensor zero, ops::scalar_tensor(Scalar(0.0)));
  TD_ASSIGN_OR_RETURN(Tensor r, ops::where(mask, b.grads[0], zero));
  return TensorList{r};
}

ListOr WhereBackward(const BackwardArgs& b) {
  TensorList g(3);
  TD_ASSIGN_OR_RETURN(Tensor zero, ops::scalar_tensor(Scalar(0.0)));
  if (b.needs_input_grad[1]) {
    TD_ASSIGN_OR_RETURN(g[1], ops::where(b.inputs[0], b.grads[0], zero));
  }
  if (b.needs_input_grad[2]) {
    TD_ASSIGN_OR_RETURN(g[2], ops::where(b.inputs[0], zero, b.grads[0]));
  }
  return g;
}

ListOr CopyBackward(const BackwardArgs& b) {
  TensorList g(2);
  if (b.needs_input_grad[0]) {
    TD_ASSIGN_OR_RETURN(g[0], op_util::Zeros(b.input_meta[0]));
  }
  if (b.needs_input_grad[1]) g[1] = b.grads[0];  // the engine sums and casts it to src
  return g;
}

// ---- the table -----------------------------------------------------------------------------

[[maybe_unused]] constexpr uint32_t kSelf = 1u, kOther = 2u, kBoth = 3u;

OpDef Unary(absl::string_view name, absl::string_view grad_fn, absl::string_view doc, InferFn infer,
            ForwardFn forward, BackwardFn backward, uint32_t save_inputs, bool save_outputs) {
  OpDef d;
  d.name = name;
  d.num_inputs = 1;
  d.grad_fn = grad_fn;
  d.doc = doc;
  d.infer = infer;
  d.forward = forward;
  d.backward = backward;
  d.save_inputs = save_inputs;
  d.save_outputs = save_outputs;
  return d;
}

OpDef Binary(absl::string_view name, absl::string_view grad_fn, absl::string_view doc,
             InferFn infer, ForwardFn forward, BackwardFn backward, uint32_t save_inputs,
             bool save_outputs = false) {
  OpDef d = Unary(name, grad_fn, doc, infer, forward, backward, save_inputs, save_outputs);
  d.num_inputs = 2;
  return d;
}

}  // namespace

void RegisterElementwiseOps(std::vector<OpDef>& t) {
  {
    OpDef d = Binary("add", "AddBackward0", "self + alpha * other (broadcasting)", InferAdd,
                     BinaryForward<AddFn>, AddBackward, 0);
    d.inplace = BinaryInplace<AddFn>;
    d.schema = "add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor";
    d.result_like_self = true;
    t.push_back(d);
  }
  {
    OpDef d = Binary("sub", "SubBackward0", "self - alpha * other (broadcasting)", InferSub,
                     BinaryForward<SubFn>, SubBackward, 0);
    d.inplace = BinaryInplace<SubFn>;
    d.schema = "sub.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor";
    d.result_like_self = true;
    t.push_back(d);
  }
  {
    OpDef d = Binary("mul", "MulBackward0", "self * other (broadcasting)", InferBinary,
                     BinaryForward<MulFn>, MulBackward, kBoth);
    d.save_input_for = {kOther, kSelf};  // self for other's gradient, other for self's
    d.inplace = BinaryInplace<MulFn>;
    d.schema = "mul.Tensor(Tensor self, Tensor other) -> Tensor";
    d.result_like_self = true;
    t.push_back(d);
  }
  {
    OpDef d = Binary("div", "DivBackward0", "self / other, true division (broadcasting)",
                     InferBinaryFloat, BinaryForward<DivFn>, DivBackward, kBoth);
    d.save_input_for = {kOther};  // self only for other's gradient
    d.inplace = BinaryInplace<DivFn>;
    d.schema = "div.Tensor(Tensor self, Tensor other) -> Tensor";
    d.result_like_self = true;
    t.push_back(d);
  }
  {
    OpDef d =
        Unary("rsub", "RsubBackward1", "other - alpha * self for a number other (Python's 2 - x)",
              InferRsub, UnaryForward<RsubFn>, RsubBackward, 0, false);
    d.schema = "rsub.Scalar(Tensor self, Scalar other, Scalar alpha=1) -> Tensor";
    t.push_back(d);
  }
  t.push_back(Binary("pow", "PowBackward1", "self ** exponent, both tensors (broadcasting)",
                     InferBinary, BinaryForward<PowFn>, PowBackward, kBoth, true));
  t.back().schema = "pow.Tensor_Tensor(Tensor self, Tensor exponent) -> Tensor";
  t.back().result_like_self = true;
  {
    OpDef d = Unary("pow_scalar", "PowBackward0", "self ** exponent for a number exponent",
                    InferPowScalar, PowScalarForward, PowScalarBackward, kSelf, false);
    d.schema = "pow.Tensor_Scalar(Tensor self, Scalar exponent) -> Tensor";
    d.result_like_self = true;
    t.push_back(d);
  }
  {
    OpDef d = Unary("pow_scalar_base", "PowBackward2",
                    "self ** exponent for a number self and a tensor exponent (2 ** x)",
                    InferPowScalarBase, PowScalarBaseForward, PowScalarBaseBackward, kSelf, true);
    d.schema = "pow.Scalar(Scalar self, Tensor exponent) -> Tensor";
    t.push_back(d);
  }
  t.push_back(
      Unary("neg", "NegBackward0", "-self", InferNeg, UnaryForward<NegFn>, NegBackward, 0, false));
  t.back().schema = "neg(Tensor self) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(Unary("abs", "AbsBackward0", "|self|", InferSame, UnaryForward<AbsFn>, AbsBackward,
                    kSelf, false));
  t.back().schema = "abs(Tensor self) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(Unary("sign", "SignBackward0", "-1, 0 or 1 by the sign of self", InferSame,
                    UnaryForward<SignFn>, ZeroGradBackward, 0, false));
  t.back().schema = "sign(Tensor self) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(Unary("exp", "ExpBackward0", "e ** self", InferUnaryFloat, UnaryForward<ExpFn>,
                    ExpBackward, 0, true));
  t.back().schema = "exp(Tensor self) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(Unary("log", "LogBackward0", "natural logarithm", InferUnaryFloat,
                    UnaryForward<LogFn>, LogBackward, kSelf, false));
  t.back().schema = "log(Tensor self) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(Unary("sqrt", "SqrtBackward0", "square root", InferUnaryFloat, UnaryForward<SqrtFn>,
                    SqrtBackward, 0, true));
  t.back().schema = "sqrt(Tensor self) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(Unary("sin", "SinBackward0", "sine", InferUnaryFloat, UnaryForward<SinFn>,
                    SinBackward, kSelf, false));
  t.back().schema = "sin(Tensor self) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(Unary("cos", "CosBackward0", "cosine", InferUnaryFloat, UnaryForward<CosFn>,
                    CosBackward, kSelf, false));
  t.back().schema = "cos(Tensor self) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(Unary("tanh", "TanhBackward0", "hyperbolic tangent", InferUnaryFloat,
                    UnaryForward<TanhFn>, TanhBackward, 0, true));
  t.back().schema = "tanh(Tensor self) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(Unary("sigmoid", "SigmoidBackward0", "1 / (1 + e ** -self)", InferUnaryFloat,
                    UnaryForward<SigmoidFn>, SigmoidBackward, 0, true));
  t.back().schema = "sigmoid(Tensor self) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(Unary("relu", "ReluBackward0", "max(self, 0)", InferRelu, UnaryForward<ReluFn>,
                    ReluBackward, 0, true));
  t.back().schema = "relu(Tensor self) -> Tensor";
  t.back().result_like_self = true;
  {
    OpDef d = Unary("clamp", "ClampBackward1", "self limited to [min, max]", InferClamp,
                    UnaryForward<ClampFn>, ClampBackward, kSelf, false);
    d.inplace = UnaryInplace<ClampFn>;
    d.schema = "clamp(Tensor self, Scalar? min=None, Scalar? max=None) -> Tensor";
    d.result_like_self = true;
    t.push_back(d);
  }
  {
    OpDef d = Unary("where", "WhereBackward0",
                    "self where condition else other: where(condition, self, other)", InferWhere,
                    WhereForward, WhereBackward, kSelf, false);
    d.num_inputs = 3;
    d.nondiff_inputs = 1u;  // the condition
    d.schema = "where.self(Tensor condition, Tensor self, Tensor other) -> Tensor";
    t.push_back(d);
  }
  {
    OpDef d = Unary("zero", "ZeroBackward0", "zeros shaped like self (in place: zero_)", InferSame,
                    UnaryForward<ZeroFn>, ZeroGradBackward, 0, false);
    d.inplace = UnaryInplace<ZeroFn>;
    d.schema = "zero(Tensor self) -> Tensor";
    d.result_like_self = true;
    t.push_back(d);
  }
  {
    OpDef d = Unary("fill", "FillBackward2", "value everywhere, shaped like self (in place: fill_)",
                    InferFill, UnaryForward<FillFn>, ZeroGradBackward, 0, false);
    d.inplace = UnaryInplace<FillFn>;
    d.schema = "fill.Scalar(Tensor self, Scalar value) -> Tensor";
    d.result_like_self = true;
    t.push_back(d);
  }
  {
    OpDef d = Binary("copy", "torch::autograd::CopyBackwards",
                     "src broadcast to self's shape and dtype (in place: copy_)", InferCopy,
                     CopyForward, CopyBackward, 0);
    d.schema = "copy(Tensor self, Tensor src, bool non_blocking=False) -> Tensor";
    d.result_like_self = true;
    t.push_back(d);
  }
  t.push_back(
      Binary("eq", "", "self == other (bool)", InferCompare, BinaryForward<EqFn>, nullptr, 0));
  t.back().schema = "eq.Tensor(Tensor self, Tensor other) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(
      Binary("ne", "", "self != other (bool)", InferCompare, BinaryForward<NeFn>, nullptr, 0));
  t.back().schema = "ne.Tensor(Tensor self, Tensor other) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(
      Binary("lt", "", "self < other (bool)", InferCompare, BinaryForward<LtFn>, nullptr, 0));
  t.back().schema = "lt.Tensor(Tensor self, Tensor other) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(
      Binary("le", "", "self <= other (bool)", InferCompare, BinaryForward<LeFn>, nullptr, 0));
  t.back().schema = "le.Tensor(Tensor self, Tensor other) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(
      Binary("gt", "", "self > other (bool)", InferCompare, BinaryForward<GtFn>, nullptr, 0));
  t.back().schema = "gt.Tensor(Tensor self, Tensor other) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(
      Binary("ge", "", "self >= other (bool)", InferCompare, BinaryForward<GeFn>, nullptr, 0));
  t.back().schema = "ge.Tensor(Tensor self, Tensor other) -> Tensor";
  t.back().result_like_self = true;
}

}  // namespace tensord
