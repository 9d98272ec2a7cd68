#include "engine/ops/op_util.h"

#include "absl/strings/str_cat.h"
#include "engine/checked_math.h"
#include "engine/context.h"
#include "engine/dispatch.h"
#include "engine/kernels/loop.h"
#include "engine/status_macros.h"

namespace tensord::op_util {
namespace {
enum Category { kNone = -1, kBoolCat = 0, kIntCat = 1, kFloatCat = 2 };
Category CategoryOf(DType t) {
  if (t == DType::kBool) return kBoolCat;
  if (t == DType::kInt64) return kIntCat;
  return kFloatCat;
}
struct Tier {
  bool set = false;
  DType type = DType::kBool;
  void Add(DType t) {
    type = set ? PromoteTypes(type, t) : t;
    set = true;
  }
};
// c10's combine_categories for our dtypes.
Tier Combine(const Tier& higher, const Tier& lower) {
  if (!higher.set) return lower;
  if (!lower.set) return higher;
  if (IsFloating(higher.type)) return higher;
  if (higher.type == DType::kBool || CategoryOf(lower.type) > CategoryOf(higher.type)) {
    return {true, PromoteTypes(higher.type, lower.type)};
  }
  return higher;
}
}  // namespace

DType ResultType(std::span<const Tensor> tensors) {
  Tier dimensioned, zero_dim, wrapped;
  for (const Tensor& t : tensors) {
    if (t.impl()->wrapped_number) {
      DType d = t.dtype();
      if (IsFloating(d)) d = Context::Current().default_dtype();
      wrapped.Add(d);
    } else if (t.dim() == 0) {
      zero_dim.Add(t.dtype());
    } else {
      dimensioned.Add(t.dtype());
    }
  }
  Tier result = Combine(dimensioned, Combine(zero_dim, wrapped));
  return result.set ? result.type : Context::Current().default_dtype();
}

DType ToFloating(DType t) { return IsFloating(t) ? t : Context::Current().default_dtype(); }

absl::StatusOr<Shape> BroadcastShapes(const Shape& a, const Shape& b) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  // From the right, as PyTorch does, so the error names the same dimension.
  for (size_t i = n; i-- > 0;) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1) {
      return absl::InvalidArgumentError(absl::StrCat("The size of tensor a (", da,
                                                     ") must match the size of tensor b (", db,
                                                     ") at non-singleton dimension ", i));
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

bool IsExpandableTo(const Shape& from, const Shape& to) {
  if (from.size() > to.size()) return false;
  for (size_t i = 0; i < from.size(); ++i) {
    const int64_t f = from[from.size() - 1 - i];
    const int64_t t = to[to.size() - 1 - i];
    if (f != t && f != 1) return false;
  }
  return true;
}

absl::StatusOr<int64_t> WrapDim(int64_t dim, int64_t ndim) {
  const int64_t n = std::max<int64_t>(ndim, 1);
  if (dim < -n || dim >= n) {
    return absl::OutOfRangeError(
        absl::StrCat("Dimension out of range (expected to be in range of [", -n, ", ", n - 1,
                     "], but got ", dim, ")"));
  }
  return dim < 0 ? dim + n : dim;
}

absl::StatusOr<Tensor> Alloc(const TensorMeta& meta) { return EmptyTensor(meta.shape, meta.dtype); }

absl::StatusOr<Tensor> Zeros(const TensorMeta& meta) {
  TD_ASSIGN_OR_RETURN(Tensor t, Alloc(meta));
  std::memset(t.raw_data(), 0, static_cast<size_t>(t.nbytes()));
  return t;
}

absl::StatusOr<Tensor> RawClone(const Tensor& t) {
  TD_ASSIGN_OR_RETURN(Tensor out, Alloc(t.meta()));
  if (!t.is_meta() && !out.is_meta()) kernels::CopyInto(out, t);
  return out;
}

absl::StatusOr<Tensor> RawTo(const Tensor& t, DType dtype) {
  if (t.dtype() == dtype) return t;
  TD_ASSIGN_OR_RETURN(Tensor out, Alloc({t.shape(), dtype}));
  kernels::CopyInto(out, t);
  return out;
}

absl::StatusOr<Tensor> RawContiguous(const Tensor& t) {
  if (t.is_contiguous()) return t;
  return RawClone(t);
}

int64_t CountTrueBroadcast(const Tensor& mask, const Shape& shape) {
  int64_t stored_true = 0;
  ForEachStoredElement<bool>(mask, [&](bool v) { stored_true += v ? 1 : 0; });
  // Each stored element of mask stands for the same number of elements of `shape`: the sizes of
  // the dims where mask has no dim, size 1 or stride 0.
  int64_t repeats = 1;
  const size_t lead = shape.size() - mask.shape().size();
  for (size_t d = 0; d < shape.size(); ++d) {
    const bool repeated = d < lead || mask.shape()[d - lead] == 1 || mask.strides()[d - lead] == 0;
    if (repeated) repeats = SaturatingMul(repeats, shape[d]);
  }
  return SaturatingMul(stored_true, repeats);
}

absl::StatusOr<Tensor> Call(absl::string_view name, std::vector<Tensor> inputs,
                            const Attrs& attrs) {
  TD_ASSIGN_OR_RETURN(std::vector<Tensor> out, Apply(name, std::move(inputs), attrs));
  return std::move(out[0]);
}

std::string ReductionName(const Attrs& attrs) {
  switch (attrs.Int("reduction")) {
    case 0:
      return "none";
    case 1:
      return "mean";
    case 2:
      return "sum";
    default:
      return absl::StrCat(attrs.Int("reduction"));
  }
}

absl::Status RefuseOptionalInputs(absl::string_view op, std::span<const Tensor> inputs,
                                  size_t first, absl::string_view what) {
  for (size_t i = first; i < inputs.size(); ++i) {
    if (inputs[i].defined()) {
      return absl::UnimplementedError(
          absl::StrCat(op, "(): ", what, " is not supported by tensord (only None)"));
    }
  }
  return absl::OkStatus();
}

int64_t ReductionEnum(absl::string_view name) {
  if (name == "none") return 0;
  if (name == "mean") return 1;
  if (name == "sum") return 2;
  return -1;
}

Tensor SelectView(const Tensor& x, int64_t dim, int64_t index) {
  Shape s = x.shape(), st = x.strides();
  const int64_t offset = ViewOffset(x.storage_offset(), index, st[static_cast<size_t>(dim)]);
  s.erase(s.begin() + dim);
  st.erase(st.begin() + dim);
  return MakeView(x, s, st, offset);
}

Tensor NarrowView(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  Shape s = x.shape();
  const auto d = static_cast<size_t>(dim);
  s[d] = length;
  return MakeView(x, s, x.strides(), ViewOffset(x.storage_offset(), start, x.strides()[d]));
}

absl::StatusOr<std::vector<TensorMeta>> InferOf(absl::string_view name, std::vector<Tensor> inputs,
                                                const Attrs& attrs) {
  TD_ASSIGN_OR_RETURN(const OpDef* def, FindOp(name));
  TD_ASSIGN_OR_RETURN(Attrs resolved, ResolveAttrs(*def, attrs));
  return def->infer(OpArgs{inputs, resolved});
}

absl::Status NotImplementedFor(absl::string_view kernel, DType dtype) {
  return absl::InvalidArgumentError(
      absl::StrCat("\"", kernel, "\" not implemented for '", ScalarTypeName(dtype), "'"));
}

OpDef Def(absl::string_view name, absl::string_view grad_fn, absl::string_view doc, OpKind kind,
          InferFn infer, ForwardFn forward, BackwardFn backward, std::vector<AttrSpec> attrs,
          int num_inputs, uint32_t save_inputs, bool save_outputs) {
  OpDef d;
  d.name = name;
  d.grad_fn = grad_fn;
  d.doc = doc;
  d.kind = kind;
  d.infer = infer;
  d.forward = forward;
  d.backward = backward;
  d.attrs = std::move(attrs);
  d.num_inputs = num_inputs;
  d.save_inputs = save_inputs;
  d.save_outputs = save_outputs;
  return d;
}

}  // namespace tensord::op_util
