#include "engine/api.h"
#include "engine/ops/op_util.h"

#include "engine/checked_math.h"
#include "engine/dispatch.h"
#include "engine/op_def.h"
#include "engine/status_macros.h"

namespace tensord::ops {
namespace {

// The table entry for `name`, looked up once per call site.
#define TD_OP(name)                                \
  ([]() -> const OpDef& {                          \
    static const OpDef* const def = *FindOp(name); \
    return *def;                                   \
  }())

AttrValue ScalarAttr(Scalar s) {
  // An int64 Scalar holds a double: INT64_MAX comes back as 2^63, which saturates (no UB).
  if (s.integral) return SaturatingDoubleToInt64(s.value);
  return s.value;
}

std::vector<int64_t> AsInts(const Shape& s) { return std::vector<int64_t>(s.begin(), s.end()); }

}  // namespace

TensorOr scalar_tensor(Scalar s) {
  return WrapScalar(s.value, s.integral ? DType::kInt64 : DType::kFloat64);
}

#define TD_SCALAR_OVERLOAD(fn)                       \
  TensorOr fn(const Tensor& a, Scalar b) {           \
    TD_ASSIGN_OR_RETURN(Tensor w, scalar_tensor(b)); \
    return fn(a, w);                                 \
  }

TensorOr add(const Tensor& a, const Tensor& b, Scalar alpha) {
  return Apply1(TD_OP("add"), {a, b}, Attrs{{"alpha", ScalarAttr(alpha)}});
}
TensorOr sub(const Tensor& a, const Tensor& b, Scalar alpha) {
  return Apply1(TD_OP("sub"), {a, b}, Attrs{{"alpha", ScalarAttr(alpha)}});
}
TensorOr add(const Tensor& a, Scalar b) {
  TD_ASSIGN_OR_RETURN(Tensor w, scalar_tensor(b));
  return add(a, w);
}
TensorOr sub(const Tensor& a, Scalar b) {
  TD_ASSIGN_OR_RETURN(Tensor w, scalar_tensor(b));
  return sub(a, w);
}
TensorOr mul(const Tensor& a, const Tensor& b) { return Apply1(TD_OP("mul"), {a, b}); }
TensorOr div(const Tensor& a, const Tensor& b) { return Apply1(TD_OP("div"), {a, b}); }
TensorOr pow(const Tensor& a, const Tensor& e) { return Apply1(TD_OP("pow"), {a, e}); }
TensorOr pow(const Tensor& a, Scalar e) {
  return Apply1(TD_OP("pow_scalar"), {a}, Attrs{{"exponent", ScalarAttr(e)}});
}
TD_SCALAR_OVERLOAD(mul)
TD_SCALAR_OVERLOAD(div)

TensorOr neg(const Tensor& a) { return Apply1(TD_OP("neg"), {a}); }
TensorOr abs(const Tensor& a) { return Apply1(TD_OP("abs"), {a}); }
TensorOr sign(const Tensor& a) { return Apply1(TD_OP("sign"), {a}); }
TensorOr exp(const Tensor& a) { return Apply1(TD_OP("exp"), {a}); }
TensorOr log(const Tensor& a) { return Apply1(TD_OP("log"), {a}); }
TensorOr sqrt(const Tensor& a) { return Apply1(TD_OP("sqrt"), {a}); }
TensorOr sin(const Tensor& a) { return Apply1(TD_OP("sin"), {a}); }
TensorOr cos(const Tensor& a) { return Apply1(TD_OP("cos"), {a}); }
TensorOr tanh(const Tensor& a) { return Apply1(TD_OP("tanh"), {a}); }
TensorOr sigmoid(const Tensor& a) { return Apply1(TD_OP("sigmoid"), {a}); }
TensorOr relu(const Tensor& a) { return Apply1(TD_OP("relu"), {a}); }

namespace {
Attrs ClampAttrs(std::optional<Scalar> min, std::optional<Scalar> max) {
  Attrs attrs;
  if (min) attrs.Set("min", ScalarAttr(*min));
  if (max) attrs.Set("max", ScalarAttr(*max));
  return attrs;
}
}  // namespace

TensorOr clamp(const Tensor& a, std::optional<Scalar> min, std::optional<Scalar> max) {
  return Apply1(TD_OP("clamp"), {a}, ClampAttrs(min, max));
}
TensorOr where(const Tensor& c, const Tensor& a, const Tensor& b) {
  return Apply1(TD_OP("where"), {c, a, b});
}

TensorOr eq(const Tensor& a, const Tensor& b) { return Apply1(TD_OP("eq"), {a, b}); }
TensorOr ne(const Tensor& a, const Tensor& b) { return Apply1(TD_OP("ne"), {a, b}); }
TensorOr lt(const Tensor& a, const Tensor& b) { return Apply1(TD_OP("lt"), {a, b}); }
TensorOr le(const Tensor& a, const Tensor& b) { return Apply1(TD_OP("le"), {a, b}); }
TensorOr gt(const Tensor& a, const Tensor& b) { return Apply1(TD_OP("gt"), {a, b}); }
TensorOr ge(const Tensor& a, const Tensor& b) { return Apply1(TD_OP("ge"), {a, b}); }
TD_SCALAR_OVERLOAD(eq)
TD_SCALAR_OVERLOAD(ne)
TD_SCALAR_OVERLOAD(lt)
TD_SCALAR_OVERLOAD(le)
TD_SCALAR_OVERLOAD(gt)
TD_SCALAR_OVERLOAD(ge)
#undef TD_SCALAR_OVERLOAD

TensorOr sum(const Tensor& a) { return Apply1(TD_OP("sum"), {a}); }
TensorOr sum(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  return Apply1(TD_OP("sum_dim"), {a}, Attrs{{"dim", dims}, {"keepdim", keepdim}});
}
TensorOr mean(const Tensor& a) { return Apply1(TD_OP("mean"), {a}); }
TensorOr mean(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  return Apply1(TD_OP("mean_dim"), {a}, Attrs{{"dim", dims}, {"keepdim", keepdim}});
}

namespace {
absl::StatusOr<std::pair<Tensor, Tensor>> Pair(absl::StatusOr<std::vector<Tensor>> r) {
  if (!r.ok()) return r.status();
  return std::make_pair((*r)[0], (*r)[1]);
}
}  // namespace

absl::StatusOr<std::pair<Tensor, Tensor>> max(const Tensor& a, int64_t dim, bool keepdim) {
  return Pair(Apply(TD_OP("max_dim"), {a}, Attrs{{"dim", dim}, {"keepdim", keepdim}}));
}
absl::StatusOr<std::pair<Tensor, Tensor>> min(const Tensor& a, int64_t dim, bool keepdim) {
  return Pair(Apply(TD_OP("min_dim"), {a}, Attrs{{"dim", dim}, {"keepdim", keepdim}}));
}

TensorOr sum_to(const Tensor& a, const Shape& shape) {
  if (a.shape() == shape) return a;
  const size_t lead = a.shape().size() - shape.size();
  std::vector<int64_t> dims;
  for (size_t d = 0; d < a.shape().size(); ++d) {
    if (d < lead || (shape[d - lead] == 1 && a.shape()[d] != 1)) {
      dims.push_back(static_cast<int64_t>(d));
    }
  }
  Tensor r = a;
  if (!dims.empty()) {
    TD_ASSIGN_OR_RETURN(r, sum(a, dims, /*keepdim=*/true));
  }
  if (r.shape() == shape) return r;
  return view(r, shape);
}

TensorOr mm(const Tensor& a, const Tensor& b) { return Apply1(TD_OP("mm"), {a, b}); }
TensorOr bmm(const Tensor& a, const Tensor& b) { return Apply1(TD_OP("bmm"), {a, b}); }
TensorOr mv(const Tensor& a, const Tensor& v) { return Apply1(TD_OP("mv"), {a, v}); }
TensorOr dot(const Tensor& a, const Tensor& b) { return Apply1(TD_OP("dot"), {a, b}); }
TensorOr matmul(const Tensor& a, const Tensor& b) { return Apply1(TD_OP("matmul"), {a, b}); }

TensorOr t(const Tensor& a) { return Apply1(TD_OP("t"), {a}); }
TensorOr transpose(const Tensor& a, int64_t d0, int64_t d1) {
  return Apply1(TD_OP("transpose"), {a}, Attrs{{"dim0", d0}, {"dim1", d1}});
}
TensorOr view(const Tensor& a, const Shape& shape) {
  return Apply1(TD_OP("view"), {a}, Attrs{{"size", AsInts(shape)}});
}
TensorOr reshape(const Tensor& a, const Shape& shape) {
  return Apply1(TD_OP("reshape"), {a}, Attrs{{"shape", AsInts(shape)}});
}
TensorOr unsafe_view(const Tensor& a, const Shape& shape) {
  return Apply1(TD_OP("_unsafe_view"), {a}, Attrs{{"size", AsInts(shape)}});
}
TensorOr unsqueeze(const Tensor& a, int64_t dim) {
  return Apply1(TD_OP("unsqueeze"), {a}, Attrs{{"dim", dim}});
}
TensorOr squeeze(const Tensor& a) { return Apply1(TD_OP("squeeze"), {a}); }
TensorOr squeeze(const Tensor& a, int64_t dim) {
  return Apply1(TD_OP("squeeze_dim"), {a}, Attrs{{"dim", dim}});
}
TensorOr expand(const Tensor& a, const Shape& shape) {
  return Apply1(TD_OP("expand"), {a}, Attrs{{"size", AsInts(shape)}});
}
TensorOr expand_as(const Tensor& a, const Tensor& other) {
  return Apply1(TD_OP("expand_as"), {a, other});
}
TensorOr select(const Tensor& a, int64_t dim, int64_t index) {
  return Apply1(TD_OP("select"), {a}, Attrs{{"dim", dim}, {"index", index}});
}
TensorOr slice(const Tensor& a, int64_t dim, std::optional<int64_t> start,
               std::optional<int64_t> end, int64_t step) {
  Attrs attrs{{"dim", dim}, {"step", step}};
  if (start) attrs.Set("start", *start);
  if (end) attrs.Set("end", *end);
  return Apply1(TD_OP("slice"), {a}, attrs);
}
absl::StatusOr<std::vector<Tensor>> unbind(const Tensor& a, int64_t dim) {
  return Apply(TD_OP("unbind"), {a}, Attrs{{"dim", dim}});
}
TensorOr cat(const std::vector<Tensor>& tensors, int64_t dim) {
  return Apply1(TD_OP("cat"), tensors, Attrs{{"dim", dim}});
}
TensorOr clone(const Tensor& a) { return Apply1(TD_OP("clone"), {a}); }
TensorOr contiguous(const Tensor& a) { return Apply1(TD_OP("contiguous"), {a}); }
TensorOr to(const Tensor& a, DType dtype) {
  return Apply1(TD_OP("to"), {a}, Attrs{{"dtype", dtype}});
}

namespace {
// The table's reduction is ATen's int; the in-process API keeps F.*'s names.
absl::StatusOr<int64_t> ReductionOf(const std::string& reduction) {
  const int64_t r = op_util::ReductionEnum(reduction);
  if (r < 0) {
    return absl::InvalidArgumentError(reduction + " is not a valid value for reduction");
  }
  return r;
}
}  // namespace

TensorOr mse_loss(const Tensor& input, const Tensor& target, const std::string& reduction) {
  TD_ASSIGN_OR_RETURN(const int64_t r, ReductionOf(reduction));
  return Apply1(TD_OP("mse_loss"), {input, target}, Attrs{{"reduction", r}});
}

TensorOr binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                          const std::string& reduction) {
  TD_ASSIGN_OR_RETURN(const int64_t r, ReductionOf(reduction));
  return Apply1(TD_OP("binary_cross_entropy_with_logits"), {input, target},
                Attrs{{"reduction", r}});
}

absl::Status add_(const Tensor& self, const Tensor& other, Scalar alpha) {
  return ApplyInplace(TD_OP("add"), self, {other}, Attrs{{"alpha", ScalarAttr(alpha)}});
}
absl::Status add_(const Tensor& self, Scalar other) {
  TD_ASSIGN_OR_RETURN(Tensor w, scalar_tensor(other));
  return add_(self, w);
}
absl::Status sub_(const Tensor& self, const Tensor& other, Scalar alpha) {
  return ApplyInplace(TD_OP("sub"), self, {other}, Attrs{{"alpha", ScalarAttr(alpha)}});
}
absl::Status sub_(const Tensor& self, Scalar other) {
  TD_ASSIGN_OR_RETURN(Tensor w, scalar_tensor(other));
  return sub_(self, w);
}
absl::Status mul_(const Tensor& self, const Tensor& other) {
  return ApplyInplace(TD_OP("mul"), self, {other});
}
absl::Status mul_(const Tensor& self, Scalar other) {
  TD_ASSIGN_OR_RETURN(Tensor w, scalar_tensor(other));
  return mul_(self, w);
}
absl::Status div_(const Tensor& self, const Tensor& other) {
  return ApplyInplace(TD_OP("div"), self, {other});
}
absl::Status div_(const Tensor& self, Scalar other) {
  TD_ASSIGN_OR_RETURN(Tensor w, scalar_tensor(other));
  return div_(self, w);
}
absl::Status zero_(const Tensor& self) { return ApplyInplace(TD_OP("zero"), self, {}); }
absl::Status fill_(const Tensor& self, Scalar value) {
  return ApplyInplace(TD_OP("fill"), self, {}, Attrs{{"value", ScalarAttr(value)}});
}
absl::Status copy_(const Tensor& self, const Tensor& src) {
  return ApplyInplace(TD_OP("copy"), self, {src});
}
absl::Status clamp_(const Tensor& self, std::optional<Scalar> min, std::optional<Scalar> max) {
  return ApplyInplace(TD_OP("clamp"), self, {}, ClampAttrs(min, max));
}

}  // namespace tensord::ops
