// Pointwise ops, element by element with broadcasting: arithmetic (add sub mul div rsub pow fmod
// remainder maximum minimum), math functions and activations (neg abs sign exp log sqrt sin cos
// tanh sigmoid relu reciprocal rsqrt log1p leaky_relu gelu floor ceil round trunc clamp),
// comparisons and logical ops (eq ne lt le gt ge logical_and logical_or logical_not), where, and
// the fills and copy (zero fill copy). Their in-place forms are derived from the schemas.
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "engine/api.h"
#include "engine/checked_math.h"
#include "engine/dispatch.h"
#include "engine/kernels/loop.h"
#include "engine/kernels/vmath.h"
#include "engine/ops/op_util.h"
#include "engine/ops/registry.h"
#include "engine/status_macros.h"

namespace tensord {
namespace {

using op_util::Call;
using op_util::NotImplementedFor;

using TensorList = std::vector<Tensor>;

using ListOr = absl::StatusOr<TensorList>;

using MetaOr = absl::StatusOr<std::vector<TensorMeta>>;

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

// ---- ops whose kernels take a functor made from the attributes (Fn::Make<T>(attrs)) ----------

absl::StatusOr<Tensor> Zero() { return ops::scalar_tensor(Scalar(0.0)); }

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

// out = Fn(x) element-wise, computed in the output dtype.
template <typename Fn>
ListOr MapUnaryForward(const OpArgs& a, const std::vector<TensorMeta>& metas) {
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
ListOr MapBinaryForward(const OpArgs& a, const std::vector<TensorMeta>& metas) {
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

[[maybe_unused]] constexpr uint32_t kSelf = 1u, kOther = 2u, kBoth = 3u;

}  // namespace

void RegisterPointwiseOps(std::vector<OpDef>& t) {
  {
    OpDef d = op_util::Def("add", "AddBackward0", "self + alpha * other (broadcasting)",
                           OpKind::kKernel, InferAdd, BinaryForward<AddFn>, AddBackward, {}, 2);
    d.inplace = BinaryInplace<AddFn>;
    d.schema = "add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor";
    d.result_like_self = true;
    t.push_back(d);
  }
  {
    OpDef d = op_util::Def("sub", "SubBackward0", "self - alpha * other (broadcasting)",
                           OpKind::kKernel, InferSub, BinaryForward<SubFn>, SubBackward, {}, 2);
    d.inplace = BinaryInplace<SubFn>;
    d.schema = "sub.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor";
    d.result_like_self = true;
    t.push_back(d);
  }
  {
    OpDef d = op_util::Def("mul", "MulBackward0", "self * other (broadcasting)", OpKind::kKernel,
                           InferBinary, BinaryForward<MulFn>, MulBackward, {}, 2, kBoth);
    d.save_input_for = {kOther, kSelf};  // self for other's gradient, other for self's
    d.inplace = BinaryInplace<MulFn>;
    d.schema = "mul.Tensor(Tensor self, Tensor other) -> Tensor";
    d.result_like_self = true;
    t.push_back(d);
  }
  {
    OpDef d = op_util::Def("div", "DivBackward0", "self / other, true division (broadcasting)",
                           OpKind::kKernel, InferBinaryFloat, BinaryForward<DivFn>, DivBackward, {},
                           2, kBoth);
    d.save_input_for = {kOther};  // self only for other's gradient
    d.inplace = BinaryInplace<DivFn>;
    d.schema = "div.Tensor(Tensor self, Tensor other) -> Tensor";
    d.result_like_self = true;
    t.push_back(d);
  }
  {
    OpDef d = op_util::Def("rsub", "RsubBackward1",
                           "other - alpha * self for a number other (Python's 2 - x)",
                           OpKind::kKernel, InferRsub, UnaryForward<RsubFn>, RsubBackward);
    d.schema = "rsub.Scalar(Tensor self, Scalar other, Scalar alpha=1) -> Tensor";
    t.push_back(d);
  }
  t.push_back(op_util::Def("pow", "PowBackward1", "self ** exponent, both tensors (broadcasting)",
                           OpKind::kKernel, InferBinary, BinaryForward<PowFn>, PowBackward, {}, 2,
                           kBoth, true));
  t.back().schema = "pow.Tensor_Tensor(Tensor self, Tensor exponent) -> Tensor";
  t.back().result_like_self = true;
  {
    OpDef d = op_util::Def("pow_scalar", "PowBackward0", "self ** exponent for a number exponent",
                           OpKind::kKernel, InferPowScalar, PowScalarForward, PowScalarBackward, {},
                           1, kSelf);
    d.schema = "pow.Tensor_Scalar(Tensor self, Scalar exponent) -> Tensor";
    d.result_like_self = true;
    t.push_back(d);
  }
  {
    OpDef d = op_util::Def("pow_scalar_base", "PowBackward2",
                           "self ** exponent for a number self and a tensor exponent (2 ** x)",
                           OpKind::kKernel, InferPowScalarBase, PowScalarBaseForward,
                           PowScalarBaseBackward, {}, 1, kSelf, true);
    d.schema = "pow.Scalar(Scalar self, Tensor exponent) -> Tensor";
    t.push_back(d);
  }
  t.push_back(op_util::Def("neg", "NegBackward0", "-self", OpKind::kKernel, InferNeg,
                           UnaryForward<NegFn>, NegBackward));
  t.back().schema = "neg(Tensor self) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(op_util::Def("abs", "AbsBackward0", "|self|", OpKind::kKernel, InferSame,
                           UnaryForward<AbsFn>, AbsBackward, {}, 1, kSelf));
  t.back().schema = "abs(Tensor self) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(op_util::Def("sign", "SignBackward0", "-1, 0 or 1 by the sign of self",
                           OpKind::kKernel, InferSame, UnaryForward<SignFn>, ZeroGradBackward));
  t.back().schema = "sign(Tensor self) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(op_util::Def("exp", "ExpBackward0", "e ** self", OpKind::kKernel, InferUnaryFloat,
                           UnaryForward<ExpFn>, ExpBackward, {}, 1, 0, true));
  t.back().schema = "exp(Tensor self) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(op_util::Def("log", "LogBackward0", "natural logarithm", OpKind::kKernel,
                           InferUnaryFloat, UnaryForward<LogFn>, LogBackward, {}, 1, kSelf));
  t.back().schema = "log(Tensor self) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(op_util::Def("sqrt", "SqrtBackward0", "square root", OpKind::kKernel, InferUnaryFloat,
                           UnaryForward<SqrtFn>, SqrtBackward, {}, 1, 0, true));
  t.back().schema = "sqrt(Tensor self) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(op_util::Def("sin", "SinBackward0", "sine", OpKind::kKernel, InferUnaryFloat,
                           UnaryForward<SinFn>, SinBackward, {}, 1, kSelf));
  t.back().schema = "sin(Tensor self) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(op_util::Def("cos", "CosBackward0", "cosine", OpKind::kKernel, InferUnaryFloat,
                           UnaryForward<CosFn>, CosBackward, {}, 1, kSelf));
  t.back().schema = "cos(Tensor self) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(op_util::Def("tanh", "TanhBackward0", "hyperbolic tangent", OpKind::kKernel,
                           InferUnaryFloat, UnaryForward<TanhFn>, TanhBackward, {}, 1, 0, true));
  t.back().schema = "tanh(Tensor self) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(op_util::Def("sigmoid", "SigmoidBackward0", "1 / (1 + e ** -self)", OpKind::kKernel,
                           InferUnaryFloat, UnaryForward<SigmoidFn>, SigmoidBackward, {}, 1, 0,
                           true));
  t.back().schema = "sigmoid(Tensor self) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(op_util::Def("relu", "ReluBackward0", "max(self, 0)", OpKind::kKernel, InferRelu,
                           UnaryForward<ReluFn>, ReluBackward, {}, 1, 0, true));
  t.back().schema = "relu(Tensor self) -> Tensor";
  t.back().result_like_self = true;
  {
    OpDef d = op_util::Def("clamp", "ClampBackward1", "self limited to [min, max]", OpKind::kKernel,
                           InferClamp, UnaryForward<ClampFn>, ClampBackward, {}, 1, kSelf);
    d.inplace = UnaryInplace<ClampFn>;
    d.schema = "clamp(Tensor self, Scalar? min=None, Scalar? max=None) -> Tensor";
    d.result_like_self = true;
    t.push_back(d);
  }
  {
    OpDef d = op_util::Def("where", "WhereBackward0",
                           "self where condition else other: where(condition, self, other)",
                           OpKind::kKernel, InferWhere, WhereForward, WhereBackward, {}, 1, kSelf);
    d.num_inputs = 3;
    d.nondiff_inputs = 1u;  // the condition
    d.schema = "where.self(Tensor condition, Tensor self, Tensor other) -> Tensor";
    t.push_back(d);
  }
  {
    OpDef d = op_util::Def("zero", "ZeroBackward0", "zeros shaped like self (in place: zero_)",
                           OpKind::kKernel, InferSame, UnaryForward<ZeroFn>, ZeroGradBackward);
    d.inplace = UnaryInplace<ZeroFn>;
    d.schema = "zero(Tensor self) -> Tensor";
    d.result_like_self = true;
    t.push_back(d);
  }
  {
    OpDef d = op_util::Def("fill", "FillBackward2",
                           "value everywhere, shaped like self (in place: fill_)", OpKind::kKernel,
                           InferFill, UnaryForward<FillFn>, ZeroGradBackward);
    d.inplace = UnaryInplace<FillFn>;
    d.schema = "fill.Scalar(Tensor self, Scalar value) -> Tensor";
    d.result_like_self = true;
    t.push_back(d);
  }
  {
    OpDef d = op_util::Def("copy", "torch::autograd::CopyBackwards",
                           "src broadcast to self's shape and dtype (in place: copy_)",
                           OpKind::kKernel, InferCopy, CopyForward, CopyBackward, {}, 2);
    d.schema = "copy(Tensor self, Tensor src, bool non_blocking=False) -> Tensor";
    d.result_like_self = true;
    t.push_back(d);
  }
  t.push_back(op_util::Def("eq", "", "self == other (bool)", OpKind::kKernel, InferCompare,
                           BinaryForward<EqFn>, nullptr, {}, 2));
  t.back().schema = "eq.Tensor(Tensor self, Tensor other) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(op_util::Def("ne", "", "self != other (bool)", OpKind::kKernel, InferCompare,
                           BinaryForward<NeFn>, nullptr, {}, 2));
  t.back().schema = "ne.Tensor(Tensor self, Tensor other) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(op_util::Def("lt", "", "self < other (bool)", OpKind::kKernel, InferCompare,
                           BinaryForward<LtFn>, nullptr, {}, 2));
  t.back().schema = "lt.Tensor(Tensor self, Tensor other) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(op_util::Def("le", "", "self <= other (bool)", OpKind::kKernel, InferCompare,
                           BinaryForward<LeFn>, nullptr, {}, 2));
  t.back().schema = "le.Tensor(Tensor self, Tensor other) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(op_util::Def("gt", "", "self > other (bool)", OpKind::kKernel, InferCompare,
                           BinaryForward<GtFn>, nullptr, {}, 2));
  t.back().schema = "gt.Tensor(Tensor self, Tensor other) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(op_util::Def("ge", "", "self >= other (bool)", OpKind::kKernel, InferCompare,
                           BinaryForward<GeFn>, nullptr, {}, 2));
  t.back().schema = "ge.Tensor(Tensor self, Tensor other) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(op_util::Def("reciprocal", "ReciprocalBackward0", "1 / self", OpKind::kKernel,
                           InferUnaryFloat, MapUnaryForward<ReciprocalFn>, ReciprocalBackward, {},
                           1, 0, true));
  t.back().schema = "reciprocal(Tensor self) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(op_util::Def("rsqrt", "RsqrtBackward0", "1 / sqrt(self)", OpKind::kKernel,
                           InferUnaryFloat, MapUnaryForward<RsqrtFn>, RsqrtBackward, {}, 1, 0,
                           true));
  t.back().schema = "rsqrt(Tensor self) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(op_util::Def("log1p", "Log1PBackward0", "log(1 + self), accurate near 0",
                           OpKind::kKernel, InferUnaryFloat, MapUnaryForward<Log1pFn>,
                           Log1pBackward, {}, 1, kSelf));
  t.back().schema = "log1p(Tensor self) -> Tensor";
  t.back().result_like_self = true;
  {
    OpDef d =
        op_util::Def("leaky_relu", "LeakyReluBackward0",
                     "self if self > 0 else negative_slope * self", OpKind::kKernel, InferLeakyRelu,
                     MapUnaryForward<LeakyReluFn>, LeakyReluBackward, {}, 1, kSelf);
    d.schema = "leaky_relu(Tensor self, Scalar negative_slope=0.01) -> Tensor";
    d.result_like_self = true;
    t.push_back(d);
  }
  const AttrSpec approximate{"approximate", AttrType::kString, std::string("none"), false,
                             "'none' (exact, with erf) or 'tanh'"};
  {
    OpDef d = op_util::Def("gelu", "GeluBackward0", "self * Phi(self), Phi the standard normal CDF",
                           OpKind::kKernel, InferGelu, GeluForward, GeluBackward, {}, 1, kSelf);
    d.schema = "gelu(Tensor self, *, str approximate=\"none\") -> Tensor";
    d.result_like_self = true;
    t.push_back(d);
  }
  {
    OpDef d = op_util::Def("_gelu_backward", "GeluBackwardBackward0",
                           "gelu's backward: grad_output * gelu'(self), as aten::gelu_backward",
                           OpKind::kKernel, InferGeluBackward, GeluBackwardForward,
                           GeluBackwardBackward, {}, 2, kBoth);
    d.attrs = {approximate};
    t.push_back(d);
  }
  t.push_back(op_util::Def("floor", "FloorBackward0", "largest integer <= self", OpKind::kKernel,
                           InferRounding<kFloorKernel>, MapUnaryForward<FloorFn>,
                           ZeroGradBackward));
  t.back().schema = "floor(Tensor self) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(op_util::Def("ceil", "CeilBackward0", "smallest integer >= self", OpKind::kKernel,
                           InferRounding<kCeilKernel>, MapUnaryForward<CeilFn>, ZeroGradBackward));
  t.back().schema = "ceil(Tensor self) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(op_util::Def("round", "RoundBackward0", "nearest integer, halves to even",
                           OpKind::kKernel, InferRounding<kRoundKernel>, MapUnaryForward<RoundFn>,
                           ZeroGradBackward));
  t.back().schema = "round(Tensor self) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(op_util::Def("trunc", "TruncBackward0", "self rounded toward zero", OpKind::kKernel,
                           InferRounding<kTruncKernel>, MapUnaryForward<TruncFn>,
                           ZeroGradBackward));
  t.back().schema = "trunc(Tensor self) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(op_util::Def("fmod", "FmodBackward1",
                           "C fmod: remainder of self / other with the sign of self (broadcasting)",
                           OpKind::kKernel, InferBinaryNoBool<kFmodKernel>,
                           MapBinaryForward<FmodFn>, ModBackward<false>, {}, 2, kBoth));
  t.back().schema = "fmod.Tensor(Tensor self, Tensor other) -> Tensor";
  t.back().result_like_self = true;
  t.back().save_input_for = {2u, 2u};  // both only for other's gradient
  t.push_back(op_util::Def(
      "remainder", "RemainderBackward1",
      "Python modulus: remainder of self / other with the sign of other (broadcasting)",
      OpKind::kKernel, InferBinaryNoBool<kRemainderKernel>, MapBinaryForward<RemainderFn>,
      ModBackward<true>, {}, 2, kBoth));
  t.back().schema = "remainder.Tensor(Tensor self, Tensor other) -> Tensor";
  t.back().result_like_self = true;
  t.back().save_input_for = {2u, 2u};  // both only for other's gradient
  t.push_back(op_util::Def("maximum", "MaximumBackward0",
                           "element-wise max, NaN propagates (broadcasting)", OpKind::kKernel,
                           InferBinary, MapBinaryForward<MaxMinFn<true>>, MaxMinimumBackward<true>,
                           {}, 2, kBoth));
  t.back().schema = "maximum(Tensor self, Tensor other) -> Tensor";
  t.push_back(op_util::Def("minimum", "MinimumBackward0",
                           "element-wise min, NaN propagates (broadcasting)", OpKind::kKernel,
                           InferBinary, MapBinaryForward<MaxMinFn<false>>,
                           MaxMinimumBackward<false>, {}, 2, kBoth));
  t.back().schema = "minimum(Tensor self, Tensor other) -> Tensor";
  // torch.max(a, b) / torch.min(a, b): the same function as maximum / minimum, under the max and
  // min groups (PyTorch records the same nodes).
  t.push_back(op_util::Def(
      "max_other", "MaximumBackward0",
      "element-wise max, NaN propagates (broadcasting): torch.max(self, other)", OpKind::kKernel,
      InferBinary, MapBinaryForward<MaxMinFn<true>>, MaxMinimumBackward<true>, {}, 2, kBoth));
  t.back().schema = "max.other(Tensor self, Tensor other) -> Tensor";
  t.push_back(op_util::Def(
      "min_other", "MinimumBackward0",
      "element-wise min, NaN propagates (broadcasting): torch.min(self, other)", OpKind::kKernel,
      InferBinary, MapBinaryForward<MaxMinFn<false>>, MaxMinimumBackward<false>, {}, 2, kBoth));
  t.back().schema = "min.other(Tensor self, Tensor other) -> Tensor";
  t.push_back(op_util::Def("logical_and", "", "self != 0 and other != 0 (bool, broadcasting)",
                           OpKind::kKernel, InferLogicalBinary, LogicalBinaryForward<true>, nullptr,
                           {}, 2));
  t.back().schema = "logical_and(Tensor self, Tensor other) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(op_util::Def("logical_or", "", "self != 0 or other != 0 (bool, broadcasting)",
                           OpKind::kKernel, InferLogicalBinary, LogicalBinaryForward<false>,
                           nullptr, {}, 2));
  t.back().schema = "logical_or(Tensor self, Tensor other) -> Tensor";
  t.back().result_like_self = true;
  t.push_back(op_util::Def("logical_not", "", "self == 0 (bool)", OpKind::kKernel, InferLogicalNot,
                           LogicalNotForward, nullptr));
  t.back().schema = "logical_not(Tensor self) -> Tensor";
  t.back().result_like_self = true;
}

}  // namespace tensord
