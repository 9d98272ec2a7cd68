// Shape ops and indexing. View ops share the input's storage (and version counter).
#include <algorithm>
#include <optional>

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

using TensorList = std::vector<Tensor>;
using ListOr = absl::StatusOr<TensorList>;
using MetaOr = absl::StatusOr<std::vector<TensorMeta>>;

MetaOr One(Shape s, DType d) { return std::vector<TensorMeta>{{std::move(s), d}}; }

// Resolves a single -1 in `shape` against `numel`, with PyTorch's errors.
absl::StatusOr<Shape> InferSize(const Shape& shape, int64_t numel) {
  Shape out = shape;
  int64_t known = 1;
  std::optional<size_t> infer;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer) return absl::InvalidArgumentError("only one dimension can be inferred");
      infer = i;
    } else if (shape[i] < 0) {
      return absl::InvalidArgumentError(absl::StrCat("invalid shape dimension ", shape[i]));
    } else if (!CheckedMul(known, shape[i], &known)) {
      return absl::InvalidArgumentError(
          absl::StrCat("shape '", ShapeToString(shape), "' is invalid for input of size ", numel));
    }
  }
  if (infer && known == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot reshape tensor of ", numel, " elements into shape ", ShapeToString(shape),
        " because the unspecified dimension size -1 can be any value and is ambiguous"));
  }
  if (infer ? numel % known != 0 : known != numel) {
    return absl::InvalidArgumentError(
        absl::StrCat("shape '", ShapeToString(shape), "' is invalid for input of size ", numel));
  }
  if (infer) out[*infer] = numel / known;
  return out;
}

// Strides that let `new_shape` view a tensor of `shape`/`strides` without a copy, if any
// (at::detail::computeStride).
std::optional<Shape> ViewStrides(const Shape& shape, const Shape& strides, const Shape& new_shape) {
  if (shape.empty() || NumElements(shape) == 0) return ContiguousStrides(new_shape);
  Shape out(new_shape.size(), 0);
  int64_t view_d = static_cast<int64_t>(new_shape.size()) - 1;
  int64_t chunk_base_stride = strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  // The products address elements of a tensor that has some: exact (engine/checked_math.h).
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    tensor_numel = WrappingMul(tensor_numel, shape[static_cast<size_t>(d)]);
    if (d == 0 ||
        (shape[static_cast<size_t>(d - 1)] != 1 &&
         strides[static_cast<size_t>(d - 1)] != WrappingMul(tensor_numel, chunk_base_stride))) {
      while (view_d >= 0 &&
             (view_numel < tensor_numel || new_shape[static_cast<size_t>(view_d)] == 1)) {
        out[static_cast<size_t>(view_d)] = WrappingMul(view_numel, chunk_base_stride);
        view_numel = WrappingMul(view_numel, new_shape[static_cast<size_t>(view_d)]);
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        chunk_base_stride = strides[static_cast<size_t>(d - 1)];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return out;
}

ListOr ReshapeGradTo(const BackwardArgs& b) {
  TD_ASSIGN_OR_RETURN(Tensor g, ops::reshape(b.grads[0], b.input_meta[0].shape));
  return TensorList{g};
}

// ---- view / reshape ------------------------------------------------------------------------

MetaOr InferView(const OpArgs& a) {
  const Tensor& x = a.inputs[0];
  TD_ASSIGN_OR_RETURN(Shape s, InferSize(a.attrs.Ints("size"), x.numel()));
  if (!ViewStrides(x.shape(), x.strides(), s)) {
    return absl::InvalidArgumentError(
        "view size is not compatible with input tensor's size and stride (at least one dimension "
        "spans across two contiguous subspaces). Use .reshape(...) instead.");
  }
  return One(s, x.dtype());
}

ListOr ViewForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  const Tensor& x = a.inputs[0];
  return TensorList{MakeView(x, m[0].shape, *ViewStrides(x.shape(), x.strides(), m[0].shape),
                             x.storage_offset())};
}

// Outputs that share storage but are not views, as PyTorch's _unsafe_view and squeeze_ on a
// fresh result: in-place ops on them are ordinary in-place ops.
Tensor Unviewed(Tensor t) {
  t.impl()->is_view = false;
  t.impl()->view_base.reset();
  return t;
}

ListOr UnsafeViewForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  TD_ASSIGN_OR_RETURN(TensorList out, ViewForward(a, m));
  return TensorList{Unviewed(out[0])};
}

MetaOr InferReshape(const OpArgs& a) {
  TD_ASSIGN_OR_RETURN(Shape s, InferSize(a.attrs.Ints("shape"), a.inputs[0].numel()));
  return One(s, a.inputs[0].dtype());
}

ListOr ReshapeForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  const Tensor& x = a.inputs[0];
  Attrs attrs;
  attrs.Set("size", m[0].shape);
  if (ViewStrides(x.shape(), x.strides(), m[0].shape)) {
    TD_ASSIGN_OR_RETURN(const OpDef* alias, FindOp("_reshape_alias"));
    return Apply(*alias, {x}, attrs);
  }
  TD_ASSIGN_OR_RETURN(Tensor c, ops::clone(x));
  TD_ASSIGN_OR_RETURN(Tensor v, ops::unsafe_view(c, m[0].shape));
  return TensorList{v};
}

// ---- transpose, t, unsqueeze, squeeze, expand ----------------------------------------------

MetaOr InferTranspose(const OpArgs& a) {
  const Tensor& x = a.inputs[0];
  TD_ASSIGN_OR_RETURN(int64_t d0, op_util::WrapDim(a.attrs.Int("dim0"), x.dim()));
  TD_ASSIGN_OR_RETURN(int64_t d1, op_util::WrapDim(a.attrs.Int("dim1"), x.dim()));
  Shape s = x.shape();
  if (x.dim() > 0) std::swap(s[static_cast<size_t>(d0)], s[static_cast<size_t>(d1)]);
  return One(s, x.dtype());
}

ListOr TransposeForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  const Tensor& x = a.inputs[0];
  Shape st = x.strides();
  if (x.dim() > 0) {
    const auto d0 = static_cast<size_t>(*op_util::WrapDim(a.attrs.Int("dim0"), x.dim()));
    const auto d1 = static_cast<size_t>(*op_util::WrapDim(a.attrs.Int("dim1"), x.dim()));
    std::swap(st[d0], st[d1]);
  }
  return TensorList{MakeView(x, m[0].shape, st, x.storage_offset())};
}

ListOr TransposeBackward(const BackwardArgs& b) {
  TD_ASSIGN_OR_RETURN(Tensor g,
                      ops::transpose(b.grads[0], b.attrs.Int("dim0"), b.attrs.Int("dim1")));
  return TensorList{g};
}

MetaOr InferT(const OpArgs& a) {
  const Tensor& x = a.inputs[0];
  if (x.dim() > 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("t() expects a tensor with <= 2 dimensions, but self is ", x.dim(), "D"));
  }
  Shape s = x.shape();
  std::reverse(s.begin(), s.end());
  return One(s, x.dtype());
}

ListOr TForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  Shape st = a.inputs[0].strides();
  std::reverse(st.begin(), st.end());
  return TensorList{MakeView(a.inputs[0], m[0].shape, st, a.inputs[0].storage_offset())};
}

ListOr TBackward(const BackwardArgs& b) {
  TD_ASSIGN_OR_RETURN(Tensor g, ops::t(b.grads[0]));
  return TensorList{g};
}

MetaOr InferUnsqueeze(const OpArgs& a) {
  const Tensor& x = a.inputs[0];
  TD_ASSIGN_OR_RETURN(int64_t d, op_util::WrapDim(a.attrs.Int("dim"), x.dim() + 1));
  Shape s = x.shape();
  s.insert(s.begin() + d, 1);
  return One(s, x.dtype());
}

ListOr UnsqueezeForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  const Tensor& x = a.inputs[0];
  const auto d = static_cast<size_t>(*op_util::WrapDim(a.attrs.Int("dim"), x.dim() + 1));
  Shape st = x.strides();
  const int64_t stride = d >= x.shape().size() ? 1 : ViewStride(x.strides()[d], x.shape()[d]);
  st.insert(st.begin() + static_cast<int64_t>(d), stride);
  return TensorList{MakeView(x, m[0].shape, st, x.storage_offset())};
}

ListOr UnsqueezeBackward(const BackwardArgs& b) {
  TD_ASSIGN_OR_RETURN(Tensor g, ops::squeeze(b.grads[0], b.attrs.Int("dim")));
  return TensorList{g};
}

// Dims of `x` that squeeze removes: all size-1 dims, or just `dim` if given and of size 1.
std::vector<bool> SqueezedDims(const Tensor& x, std::optional<int64_t> dim) {
  std::vector<bool> drop(x.shape().size(), false);
  for (size_t d = 0; d < drop.size(); ++d) {
    if (x.shape()[d] == 1 && (!dim || static_cast<int64_t>(d) == *dim)) drop[d] = true;
  }
  return drop;
}

MetaOr InferSqueeze(const OpArgs& a) {
  const Tensor& x = a.inputs[0];
  std::optional<int64_t> dim;
  if (a.attrs.Has("dim")) {
    TD_ASSIGN_OR_RETURN(dim, op_util::WrapDim(a.attrs.Int("dim"), x.dim()));
  }
  const auto drop = SqueezedDims(x, dim);
  Shape s;
  for (size_t d = 0; d < drop.size(); ++d)
    if (!drop[d]) s.push_back(x.shape()[d]);
  return One(s, x.dtype());
}

ListOr SqueezeForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  const Tensor& x = a.inputs[0];
  std::optional<int64_t> dim;
  if (a.attrs.Has("dim")) dim = *op_util::WrapDim(a.attrs.Int("dim"), x.dim());
  const auto drop = SqueezedDims(x, dim);
  Shape st;
  for (size_t d = 0; d < drop.size(); ++d)
    if (!drop[d]) st.push_back(x.strides()[d]);
  return TensorList{MakeView(x, m[0].shape, st, x.storage_offset())};
}

ListOr MatmulSqueezeForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  TD_ASSIGN_OR_RETURN(TensorList out, SqueezeForward(a, m));
  return TensorList{Unviewed(out[0])};
}

MetaOr InferExpand(const OpArgs& a) {
  const Tensor& x = a.inputs[0];
  const Shape& size = a.attrs.Ints("size");
  if (size.size() < x.shape().size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expand(", LegacyTypeName(x.dtype()), "{", ShapeToString(x.shape()),
        "}, size=", ShapeToString(size), "): the number of sizes provided (", size.size(),
        ") must be greater or equal to the number of dimensions in the tensor (", x.dim(), ")"));
  }
  Shape out(size.size());
  const size_t lead = size.size() - x.shape().size();
  for (size_t i = 0; i < size.size(); ++i) {
    if (i < lead) {
      if (size[i] < 0) {
        return absl::InvalidArgumentError(absl::StrCat("The expanded size of the tensor (", size[i],
                                                       ") isn't allowed in a leading, non-existing "
                                                       "dimension ",
                                                       i));
      }
      out[i] = size[i];
      continue;
    }
    const int64_t have = x.shape()[i - lead];
    const int64_t want = size[i] == -1 ? have : size[i];
    if (want < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Trying to create tensor with negative dimension ", want, ": ", ShapeToString(size)));
    }
    if (have != want && have != 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "The expanded size of the tensor (", want, ") must match the existing size (", have,
          ") at non-singleton dimension ", i, ".  Target sizes: ", ShapeToString(size),
          ".  Tensor sizes: ", ShapeToString(x.shape())));
    }
    out[i] = want;
  }
  return One(out, x.dtype());
}

ListOr ExpandForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  const Tensor& x = a.inputs[0];
  return TensorList{
      MakeView(x, m[0].shape, kernels::BroadcastStrides(x, m[0].shape), x.storage_offset())};
}

ListOr ExpandBackward(const BackwardArgs& b) {
  TD_ASSIGN_OR_RETURN(Tensor g, ops::sum_to(b.grads[0], b.input_meta[0].shape));
  return TensorList{g};
}

MetaOr InferExpandAs(const OpArgs& a) {
  Attrs attrs;
  attrs.Set("size", a.inputs[1].shape());
  return InferExpand(OpArgs{a.inputs.subspan(0, 1), attrs});
}

ListOr ExpandAsForward(const OpArgs& a, const std::vector<TensorMeta>&) {
  TD_ASSIGN_OR_RETURN(Tensor r, ops::expand(a.inputs[0], a.inputs[1].shape()));
  return TensorList{r};
}

// ---- select / slice / unbind ---------------------------------------------------------------

absl::StatusOr<std::pair<int64_t, int64_t>> SelectDimIndex(const Shape& shape, const Attrs& attrs) {
  if (shape.empty()) return absl::OutOfRangeError("select() cannot be applied to a 0-dim tensor.");
  const auto ndim = static_cast<int64_t>(shape.size());
  TD_ASSIGN_OR_RETURN(int64_t dim, op_util::WrapDim(attrs.Int("dim"), ndim));
  const int64_t n = shape[static_cast<size_t>(dim)];
  int64_t index = attrs.Int("index");
  if (index < -n || index >= n) {
    return absl::OutOfRangeError(absl::StrCat("select(): index ", index,
                                              " out of range for tensor of size ",
                                              ShapeToString(shape), " at dimension ", dim));
  }
  if (index < 0) index += n;
  return std::make_pair(dim, index);
}

MetaOr InferSelect(const OpArgs& a) {
  TD_ASSIGN_OR_RETURN(auto di, SelectDimIndex(a.inputs[0].shape(), a.attrs));
  Shape s = a.inputs[0].shape();
  s.erase(s.begin() + di.first);
  return One(s, a.inputs[0].dtype());
}

Tensor SelectView(const Tensor& x, int64_t dim, int64_t index) {
  Shape s = x.shape(), st = x.strides();
  const int64_t offset = ViewOffset(x.storage_offset(), index, st[static_cast<size_t>(dim)]);
  s.erase(s.begin() + dim);
  st.erase(st.begin() + dim);
  return MakeView(x, s, st, offset);
}

ListOr SelectForward(const OpArgs& a, const std::vector<TensorMeta>&) {
  auto di = *SelectDimIndex(a.inputs[0].shape(), a.attrs);
  return TensorList{SelectView(a.inputs[0], di.first, di.second)};
}

ListOr SelectBackward(const BackwardArgs& b) {
  auto di = *SelectDimIndex(b.input_meta[0].shape, b.attrs);
  Attrs attrs;
  attrs.Set("input_size", b.input_meta[0].shape);
  attrs.Set("dim", di.first);
  attrs.Set("index", di.second);
  TD_ASSIGN_OR_RETURN(const OpDef* def, FindOp("_select_backward"));
  return Apply(*def, {b.grads[0]}, attrs);
}

struct SliceRange {
  int64_t dim, start, end, step, length;
};

absl::StatusOr<SliceRange> ResolveSlice(const Shape& shape, const Attrs& attrs) {
  if (shape.empty()) return absl::OutOfRangeError("slice() cannot be applied to a 0-dim tensor.");
  TD_ASSIGN_OR_RETURN(int64_t dim,
                      op_util::WrapDim(attrs.Int("dim"), static_cast<int64_t>(shape.size())));
  const int64_t step = attrs.Int("step");
  if (step <= 0) return absl::InvalidArgumentError("slice step must be positive");
  const int64_t n = shape[static_cast<size_t>(dim)];
  int64_t start = attrs.Has("start") ? attrs.Int("start") : 0;
  int64_t end = attrs.Has("end") ? attrs.Int("end") : n;
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  return SliceRange{dim, start, end, step, CeilDiv(end - start, step)};
}

MetaOr InferSlice(const OpArgs& a) {
  TD_ASSIGN_OR_RETURN(SliceRange r, ResolveSlice(a.inputs[0].shape(), a.attrs));
  Shape s = a.inputs[0].shape();
  s[static_cast<size_t>(r.dim)] = r.length;
  return One(s, a.inputs[0].dtype());
}

Tensor SliceView(const Tensor& x, const SliceRange& r) {
  Shape s = x.shape(), st = x.strides();
  const auto d = static_cast<size_t>(r.dim);
  const int64_t offset = ViewOffset(x.storage_offset(), r.start, st[d]);
  s[d] = r.length;
  st[d] = ViewStride(st[d], r.step);
  return MakeView(x, s, st, offset);
}

ListOr SliceForward(const OpArgs& a, const std::vector<TensorMeta>&) {
  return TensorList{SliceView(a.inputs[0], *ResolveSlice(a.inputs[0].shape(), a.attrs))};
}

ListOr SliceBackward(const BackwardArgs& b) {
  SliceRange r = *ResolveSlice(b.input_meta[0].shape, b.attrs);
  Attrs attrs;
  attrs.Set("input_size", b.input_meta[0].shape);
  attrs.Set("dim", r.dim);
  attrs.Set("start", r.start);
  attrs.Set("end", r.end);
  attrs.Set("step", r.step);
  TD_ASSIGN_OR_RETURN(const OpDef* def, FindOp("_slice_backward"));
  return Apply(*def, {b.grads[0]}, attrs);
}

// _select_backward / _slice_backward: zeros of the input's size with grad written into the
// selected part. Their own backward selects/slices again (for double backward).
MetaOr InferSelectBack(const OpArgs& a) {
  const Shape& size = a.attrs.Ints("input_size");
  for (int64_t d : size) {
    if (d < 0) return absl::InvalidArgumentError("_select_backward(): negative input_size");
  }
  TD_ASSIGN_OR_RETURN(auto di, SelectDimIndex(size, a.attrs));
  Shape expect = size;
  expect.erase(expect.begin() + di.first);
  if (a.inputs[0].shape() != expect) {
    return absl::InvalidArgumentError(absl::StrCat("_select_backward(): grad of shape ",
                                                   ShapeToString(a.inputs[0].shape()),
                                                   " does not match ", ShapeToString(expect)));
  }
  return One(size, a.inputs[0].dtype());
}

MetaOr InferSliceBack(const OpArgs& a) {
  const Shape& size = a.attrs.Ints("input_size");
  for (int64_t d : size) {
    if (d < 0) return absl::InvalidArgumentError("_slice_backward(): negative input_size");
  }
  TD_ASSIGN_OR_RETURN(SliceRange r, ResolveSlice(size, a.attrs));
  Shape expect = size;
  expect[static_cast<size_t>(r.dim)] = r.length;
  if (a.inputs[0].shape() != expect) {
    return absl::InvalidArgumentError(absl::StrCat("_slice_backward(): grad of shape ",
                                                   ShapeToString(a.inputs[0].shape()),
                                                   " does not match ", ShapeToString(expect)));
  }
  return One(size, a.inputs[0].dtype());
}

ListOr SelectBackwardForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Zeros(m[0]));
  auto di = *SelectDimIndex(m[0].shape, a.attrs);
  kernels::CopyInto(SelectView(out, di.first, di.second), a.inputs[0]);
  return TensorList{out};
}

ListOr SelectBackwardBackward(const BackwardArgs& b) {
  TD_ASSIGN_OR_RETURN(Tensor g, ops::select(b.grads[0], b.attrs.Int("dim"), b.attrs.Int("index")));
  return TensorList{g};
}

ListOr SliceBackwardForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Zeros(m[0]));
  SliceRange r = *ResolveSlice(m[0].shape, a.attrs);
  kernels::CopyInto(SliceView(out, r), a.inputs[0]);
  return TensorList{out};
}

ListOr SliceBackwardBackward(const BackwardArgs& b) {
  TD_ASSIGN_OR_RETURN(Tensor g, ops::slice(b.grads[0], b.attrs.Int("dim"), b.attrs.Int("start"),
                                           b.attrs.Int("end"), b.attrs.Int("step")));
  return TensorList{g};
}

MetaOr InferUnbind(const OpArgs& a) {
  const Tensor& x = a.inputs[0];
  if (x.dim() == 0)
    return absl::OutOfRangeError("Dimension specified as 0 but tensor has no dimensions");
  TD_ASSIGN_OR_RETURN(int64_t dim, op_util::WrapDim(a.attrs.Int("dim"), x.dim()));
  TD_RETURN_IF_ERROR(CheckOutputCount("unbind", x.size(dim)));
  Shape s = x.shape();
  s.erase(s.begin() + dim);
  return std::vector<TensorMeta>(static_cast<size_t>(x.size(dim)), TensorMeta{s, x.dtype()});
}

ListOr UnbindForward(const OpArgs& a, const std::vector<TensorMeta>&) {
  const Tensor& x = a.inputs[0];
  const int64_t dim = *op_util::WrapDim(a.attrs.Int("dim"), x.dim());
  TensorList out;
  for (int64_t i = 0; i < x.size(dim); ++i) out.push_back(SelectView(x, dim, i));
  return out;
}

ListOr UnbindBackward(const BackwardArgs& b) {
  const int64_t dim =
      *op_util::WrapDim(b.attrs.Int("dim"), static_cast<int64_t>(b.input_meta[0].shape.size()));
  TensorList parts;
  for (const Tensor& g : b.grads) {
    TD_ASSIGN_OR_RETURN(Tensor u, ops::unsqueeze(g, dim));
    parts.push_back(u);
  }
  TD_ASSIGN_OR_RETURN(Tensor r, ops::cat(parts, dim));
  return TensorList{r};
}

// ---- cat -----------------------------------------------------------------------------------

// PyTorch still skips 1-D empty tensors in cat (legacy behaviour).
bool SkippedInCat(const Tensor& t) { return t.dim() == 1 && t.size(0) == 0; }

MetaOr InferCat(const OpArgs& a) {
  if (a.inputs.empty())
    return absl::InvalidArgumentError("torch.cat(): expected a non-empty list of Tensors");
  const Tensor* ref = nullptr;
  for (const Tensor& t : a.inputs) {
    if (!SkippedInCat(t)) {
      ref = &t;
      break;
    }
  }
  const DType dtype = op_util::ResultType(a.inputs);
  if (ref == nullptr) return One(a.inputs[0].shape(), dtype);
  if (ref->dim() == 0) {
    return absl::InvalidArgumentError(
        "zero-dimensional tensor (at position 0) cannot be concatenated");
  }
  TD_ASSIGN_OR_RETURN(int64_t dim, op_util::WrapDim(a.attrs.Int("dim"), ref->dim()));
  Shape out = ref->shape();
  out[static_cast<size_t>(dim)] = 0;
  for (size_t i = 0; i < a.inputs.size(); ++i) {
    const Tensor& t = a.inputs[i];
    if (SkippedInCat(t)) continue;
    if (t.dim() != ref->dim()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Tensors must have same number of dimensions: got ", ref->dim(), " and ", t.dim()));
    }
    for (int64_t d = 0; d < t.dim(); ++d) {
      if (d != dim && t.size(d) != ref->size(d)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "Sizes of tensors must match except in dimension ", dim, ". Expected size ",
            ref->size(d), " but got size ", t.size(d), " for tensor number ", i, " in the list."));
      }
    }
    if (!CheckedAdd(out[static_cast<size_t>(dim)], t.size(dim), &out[static_cast<size_t>(dim)])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "torch.cat(): the sizes of the tensors along dimension ", dim, " add up past int64"));
    }
  }
  return One(out, dtype);
}

ListOr CatForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(m[0]));
  if (m[0].shape.empty() || out.numel() == 0) return TensorList{out};
  const int64_t dim =
      *op_util::WrapDim(a.attrs.Int("dim"), static_cast<int64_t>(m[0].shape.size()));
  int64_t offset = 0;
  for (const Tensor& t : a.inputs) {
    if (SkippedInCat(t)) continue;
    const int64_t n = t.size(dim);
    kernels::CopyInto(SliceView(out, {dim, offset, offset + n, 1, n}), t);
    offset += n;
  }
  return TensorList{out};
}

ListOr CatBackward(const BackwardArgs& b) {
  TensorList g(b.input_meta.size());
  const Shape& out_shape = b.grads[0].shape();
  if (out_shape.empty()) return g;
  const int64_t dim = *op_util::WrapDim(b.attrs.Int("dim"), static_cast<int64_t>(out_shape.size()));
  int64_t offset = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    const Shape& s = b.input_meta[i].shape;
    if (s.size() == 1 && s[0] == 0) continue;
    const int64_t n = s[static_cast<size_t>(dim)];
    if (b.needs_input_grad[i]) {
      TD_ASSIGN_OR_RETURN(g[i], ops::slice(b.grads[0], dim, offset, offset + n, 1));
    }
    offset += n;
  }
  return g;
}

// ---- clone / contiguous / to ---------------------------------------------------------------

MetaOr InferSame(const OpArgs& a) { return One(a.inputs[0].shape(), a.inputs[0].dtype()); }

ListOr CloneForward(const OpArgs& a, const std::vector<TensorMeta>&) {
  TD_ASSIGN_OR_RETURN(Tensor c, op_util::RawClone(a.inputs[0]));
  return TensorList{c};
}

ListOr IdentityBackward(const BackwardArgs& b) { return TensorList{b.grads[0]}; }

ListOr ContiguousForward(const OpArgs& a, const std::vector<TensorMeta>&) {
  if (a.inputs[0].is_contiguous()) return TensorList{a.inputs[0]};
  TD_ASSIGN_OR_RETURN(Tensor c, ops::clone(a.inputs[0]));
  return TensorList{c};
}

MetaOr InferTo(const OpArgs& a) { return One(a.inputs[0].shape(), a.attrs.GetDType("dtype")); }

ListOr ToForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  if (a.inputs[0].dtype() == m[0].dtype && !a.attrs.Bool("copy")) return TensorList{a.inputs[0]};
  TD_ASSIGN_OR_RETURN(const OpDef* def, FindOp("_to_copy"));
  return Apply(*def, {a.inputs[0]}, Attrs{{"dtype", m[0].dtype}});
}

ListOr ToCopyForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(m[0]));
  kernels::CopyInto(out, a.inputs[0]);
  return TensorList{out};
}

ListOr ToCopyBackward(const BackwardArgs& b) {
  TD_ASSIGN_OR_RETURN(Tensor g, ops::to(b.grads[0], b.input_meta[0].dtype));
  return TensorList{g};
}

using op_util::Def;

}  // namespace

void RegisterShapeOps(std::vector<OpDef>& t) {
  const AttrSpec size{"size", AttrType::kInts, {}, true, "the new shape (-1 infers one dim)"};
  const AttrSpec dim{"dim", AttrType::kInt, {}, true, "the dim"};
  const AttrSpec input_size{"input_size", AttrType::kInts, {}, true, "shape of the forward input"};
  t.push_back(Def("view", "ViewBackward0",
                  "a view with another shape (no copy; fails if impossible)", OpKind::kView,
                  InferView, ViewForward, ReshapeGradTo));
  t.back().schema = "view(Tensor(a) self, SymInt[] size) -> Tensor(a)";
  t.push_back(Def("reshape", "", "view when possible, else a copy with the new shape",
                  OpKind::kComposite, InferReshape, ReshapeForward, nullptr));
  t.back().schema = "reshape(Tensor(a) self, SymInt[] shape) -> Tensor(a)";
  t.push_back(Def("_reshape_alias", "ReshapeAliasBackward0", "reshape's view case", OpKind::kView,
                  InferView, ViewForward, ReshapeGradTo, {size}));
  t.push_back(Def("_unsafe_view", "UnsafeViewBackward0",
                  "reshape's copy case: a fresh tensor reshaped (shares storage, not a view)",
                  OpKind::kKernel, InferView, UnsafeViewForward, ReshapeGradTo, {size}));
  t.push_back(Def("transpose", "TransposeBackward0", "swaps two dims (view)", OpKind::kView,
                  InferTranspose, TransposeForward, TransposeBackward));
  t.back().schema = "transpose.int(Tensor(a) self, int dim0, int dim1) -> Tensor(a)";
  t.push_back(Def("t", "TBackward0", "transpose of a <= 2-D tensor (view)", OpKind::kView, InferT,
                  TForward, TBackward));
  t.back().schema = "t(Tensor(a) self) -> Tensor(a)";
  t.push_back(Def("unsqueeze", "UnsqueezeBackward0", "inserts a size-1 dim (view)", OpKind::kView,
                  InferUnsqueeze, UnsqueezeForward, UnsqueezeBackward));
  t.back().schema = "unsqueeze(Tensor(a) self, int dim) -> Tensor(a)";
  t.push_back(Def("squeeze", "SqueezeBackward0", "removes all size-1 dims (view)", OpKind::kView,
                  InferSqueeze, SqueezeForward, ReshapeGradTo));
  t.back().schema = "squeeze(Tensor(a) self) -> Tensor(a)";
  t.push_back(Def("squeeze_dim", "SqueezeBackward1", "removes dim if it has size 1 (view)",
                  OpKind::kView, InferSqueeze, SqueezeForward, ReshapeGradTo));
  t.back().schema = "squeeze.dim(Tensor(a) self, int dim) -> Tensor(a)";
  t.push_back(
      Def("_matmul_squeeze", "SqueezeBackward3",
          "squeeze(dim) as matmul's 1-D @ 2-D case applies it (PyTorch's squeeze_ on a fresh "
          "result: shares storage, not a view)",
          OpKind::kKernel, InferSqueeze, MatmulSqueezeForward, ReshapeGradTo, {dim}));
  t.push_back(Def("expand", "ExpandBackward0", "broadcasts size-1 dims to `size` (view; -1 keeps)",
                  OpKind::kView, InferExpand, ExpandForward, ExpandBackward));
  t.back().schema = "expand(Tensor(a) self, SymInt[] size, *, bool implicit=False) -> Tensor(a)";
  {
    OpDef d = Def("expand_as", "", "expand(self, other.shape)", OpKind::kComposite, InferExpandAs,
                  ExpandAsForward, nullptr);
    d.num_inputs = 2;
    d.schema = "expand_as(Tensor(a) self, Tensor other) -> Tensor(a)";
    t.push_back(d);
  }
  t.push_back(Def("select", "SelectBackward0", "self[..., index, ...] on dim (view)", OpKind::kView,
                  InferSelect, SelectForward, SelectBackward));
  t.back().schema = "select.int(Tensor(a) self, int dim, int index) -> Tensor(a)";
  t.push_back(Def("slice", "SliceBackward0", "self[..., start:end:step, ...] on dim (view)",
                  OpKind::kView, InferSlice, SliceForward, SliceBackward));
  t.back().schema =
      "slice.Tensor(Tensor(a) self, int dim=0, SymInt? start=None, SymInt? end=None, SymInt "
      "step=1) -> Tensor(a)";
  t.push_back(Def("_select_backward", "SelectBackwardBackward0", "gradient of select",
                  OpKind::kKernel, InferSelectBack, SelectBackwardForward, SelectBackwardBackward,
                  {input_size, dim, {"index", AttrType::kInt, {}, true, "index"}}));
  t.push_back(Def("_slice_backward", "SliceBackwardBackward0", "gradient of slice", OpKind::kKernel,
                  InferSliceBack, SliceBackwardForward, SliceBackwardBackward,
                  {input_size,
                   dim,
                   {"start", AttrType::kInt, {}, true, "start"},
                   {"end", AttrType::kInt, {}, true, "end"},
                   {"step", AttrType::kInt, {}, true, "step"}}));
  {
    OpDef d = Def("unbind", "UnbindBackward0", "the slices along dim, as views (iteration)",
                  OpKind::kView, InferUnbind, UnbindForward, UnbindBackward);
    d.num_outputs = -1;
    d.schema = "unbind.int(Tensor(a -> *) self, int dim=0) -> Tensor(a)[]";
    t.push_back(d);
  }
  {
    OpDef d = Def("cat", "CatBackward0", "concatenation along dim", OpKind::kKernel, InferCat,
                  CatForward, CatBackward);
    d.num_inputs = kVariadic;
    d.schema = "cat(Tensor[] tensors, int dim=0) -> Tensor";
    t.push_back(d);
  }
  t.push_back(Def("clone", "CloneBackward0", "a copy with its own storage", OpKind::kKernel,
                  InferSame, CloneForward, IdentityBackward));
  t.back().schema = "clone(Tensor self, *, MemoryFormat? memory_format=None) -> Tensor";
  t.push_back(Def("contiguous", "", "self if contiguous, else a contiguous clone",
                  OpKind::kComposite, InferSame, ContiguousForward, nullptr));
  t.back().schema = "contiguous(Tensor(a) self, *, MemoryFormat memory_format=0) -> Tensor(a)";
  const AttrSpec dtype{"dtype", AttrType::kDType, {}, true, "target dtype"};
  t.push_back(Def("to", "", "self converted to dtype (self itself if it already has it)",
                  OpKind::kComposite, InferTo, ToForward, nullptr));
  t.back().schema =
      "to.dtype(Tensor(a) self, ScalarType dtype, bool non_blocking=False, bool copy=False, "
      "MemoryFormat? memory_format=None) -> Tensor(a)";
  t.push_back(Def("_to_copy", "ToCopyBackward0", "a converted copy", OpKind::kKernel, InferTo,
                  ToCopyForward, ToCopyBackward, {dtype}));
}

}  // namespace tensord
