// Views: ops whose results alias their input's storage (view, reshape's view case, transpose, t,
// unsqueeze, squeeze, expand, select, slice, unbind, flatten, permute, split, chunk, narrow) and
// the internal ops their backward rules use (_select_backward, _slice_backward) so that every order
// of gradient works. as_strided and the internal ops of views modified in place: as_strided.cc.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/api.h"
#include "engine/checked_math.h"
#include "engine/dispatch.h"
#include "engine/kernels/loop.h"
#include "engine/ops/op_util.h"
#include "engine/ops/registry.h"
#include "engine/status_macros.h"

namespace tensord {
namespace {

using TensorList = std::vector<Tensor>;
using ListOr = absl::StatusOr<TensorList>;
using MetaOr = absl::StatusOr<std::vector<TensorMeta>>;
using op_util::Def;
using op_util::NarrowView;
using op_util::One;
using op_util::SelectView;

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

// ---- flatten -------------------------------------------------------------------------------

struct FlattenDims {
  int64_t start, end;
};

absl::StatusOr<FlattenDims> ResolveFlatten(const Tensor& x, const Attrs& attrs) {
  TD_ASSIGN_OR_RETURN(int64_t s, op_util::WrapDim(attrs.Int("start_dim"), x.dim()));
  TD_ASSIGN_OR_RETURN(int64_t e, op_util::WrapDim(attrs.Int("end_dim"), x.dim()));
  if (s > e) {
    return absl::InvalidArgumentError(
        "flatten() has invalid args: start_dim cannot come after end_dim");
  }
  return FlattenDims{s, e};
}

MetaOr InferFlatten(const OpArgs& a) {
  const Tensor& x = a.inputs[0];
  TD_ASSIGN_OR_RETURN(FlattenDims f, ResolveFlatten(x, a.attrs));
  if (x.dim() == 0) return One({1}, x.dtype());
  Shape out;
  int64_t n = 1;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d < f.start || d > f.end) {
      out.push_back(x.size(d));
    } else {
      if (!CheckedMul(n, x.size(d), &n)) return absl::InvalidArgumentError(kNumelOverflow);
      if (d == f.end) out.push_back(n);
    }
  }
  return One(out, x.dtype());
}

// PyTorch's flatten: reshape({1}) for 0-d, self itself when start == end, else reshape.
ListOr FlattenForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  const Tensor& x = a.inputs[0];
  const FlattenDims f = *ResolveFlatten(x, a.attrs);
  if (x.dim() != 0 && f.start == f.end) return TensorList{x};
  TD_ASSIGN_OR_RETURN(Tensor r, ops::reshape(x, m[0].shape));
  return TensorList{r};
}

// ---- permute -------------------------------------------------------------------------------

absl::StatusOr<std::vector<int64_t>> ResolvePermutation(const Tensor& x, const Attrs& attrs) {
  const std::vector<int64_t>& dims = attrs.Ints("dims");
  if (static_cast<int64_t>(dims.size()) != x.dim()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "permute(sparse_coo): number of dimensions in the tensor input does not match the length "
        "of the desired ordering of dimensions i.e. input.dim() = ",
        x.dim(), " is not equal to len(dims) = ", dims.size()));
  }
  std::vector<int64_t> perm;
  std::vector<bool> seen(dims.size(), false);
  for (const int64_t d : dims) {
    TD_ASSIGN_OR_RETURN(int64_t w, op_util::WrapDim(d, x.dim()));
    if (seen[static_cast<size_t>(w)]) {
      return absl::InvalidArgumentError("permute(): duplicate dims are not allowed.");
    }
    seen[static_cast<size_t>(w)] = true;
    perm.push_back(w);
  }
  return perm;
}

MetaOr InferPermute(const OpArgs& a) {
  const Tensor& x = a.inputs[0];
  TD_ASSIGN_OR_RETURN(std::vector<int64_t> perm, ResolvePermutation(x, a.attrs));
  Shape s;
  for (const int64_t d : perm) s.push_back(x.size(d));
  return One(s, x.dtype());
}

ListOr PermuteForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  const Tensor& x = a.inputs[0];
  const std::vector<int64_t> perm = *ResolvePermutation(x, a.attrs);
  Shape st;
  for (const int64_t d : perm) st.push_back(x.strides()[static_cast<size_t>(d)]);
  return TensorList{MakeView(x, m[0].shape, st, x.storage_offset())};
}

ListOr PermuteBackward(const BackwardArgs& b) {
  const std::vector<int64_t>& dims = b.attrs.Ints("dims");
  const auto n = static_cast<int64_t>(dims.size());
  std::vector<int64_t> inverse(dims.size());
  for (int64_t i = 0; i < n; ++i) {
    const int64_t d = dims[static_cast<size_t>(i)] < 0 ? dims[static_cast<size_t>(i)] + n
                                                       : dims[static_cast<size_t>(i)];
    inverse[static_cast<size_t>(d)] = i;
  }
  TD_ASSIGN_OR_RETURN(Tensor g, op_util::Call("permute", {b.grads[0]}, Attrs{{"dims", inverse}}));
  return TensorList{g};
}

// ---- split / chunk / narrow ----------------------------------------------------------------

struct Piece {
  int64_t start, length;
};

absl::StatusOr<std::vector<Piece>> SplitPieces(const Shape& shape, int64_t split_size,
                                               int64_t& dim) {
  if (shape.empty()) {
    return absl::InvalidArgumentError("split expects at least a 1-dimensional tensor");
  }
  if (split_size < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("split expects split_size be non-negative, but got split_size=", split_size));
  }
  TD_ASSIGN_OR_RETURN(dim, op_util::WrapDim(dim, static_cast<int64_t>(shape.size())));
  const int64_t dim_size = shape[static_cast<size_t>(dim)];
  if (split_size == 0 && dim_size != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "split_size can only be 0 if dimension size is 0, but got dimension size of ", dim_size));
  }
  const int64_t n = split_size == 0 ? 1 : std::max<int64_t>(CeilDiv(dim_size, split_size), 1);
  TD_RETURN_IF_ERROR(CheckOutputCount("split", n));
  std::vector<Piece> pieces;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t start = i * split_size;
    pieces.push_back({start, std::min(split_size, dim_size - start)});
  }
  return pieces;
}

// The pieces of x along dim: their metadata, and the views (split, split.sizes).
std::vector<TensorMeta> PieceMetas(const Tensor& x, int64_t dim, const std::vector<Piece>& pieces) {
  std::vector<TensorMeta> metas;
  for (const Piece& p : pieces) {
    Shape s = x.shape();
    s[static_cast<size_t>(dim)] = p.length;
    metas.push_back({s, x.dtype()});
  }
  return metas;
}

TensorList PieceViews(const Tensor& x, int64_t dim, const std::vector<Piece>& pieces) {
  TensorList out;
  for (const Piece& p : pieces) out.push_back(NarrowView(x, dim, p.start, p.length));
  return out;
}

MetaOr InferSplit(const OpArgs& a) {
  const Tensor& x = a.inputs[0];
  int64_t dim = a.attrs.Int("dim");
  TD_ASSIGN_OR_RETURN(auto pieces, SplitPieces(x.shape(), a.attrs.Int("split_size"), dim));
  return PieceMetas(x, dim, pieces);
}

ListOr SplitForward(const OpArgs& a, const std::vector<TensorMeta>&) {
  const Tensor& x = a.inputs[0];
  int64_t dim = a.attrs.Int("dim");
  TD_ASSIGN_OR_RETURN(auto pieces, SplitPieces(x.shape(), a.attrs.Int("split_size"), dim));
  return PieceViews(x, dim, pieces);
}

// split.sizes (split_with_sizes): pieces of the given lengths along dim.
absl::StatusOr<std::vector<Piece>> SplitSizesPieces(const Shape& shape,
                                                    const std::vector<int64_t>& sizes,
                                                    int64_t& dim) {
  if (shape.empty()) {
    return absl::InvalidArgumentError("split expects at least a 1-dimensional tensor");
  }
  TD_ASSIGN_OR_RETURN(dim, op_util::WrapDim(dim, static_cast<int64_t>(shape.size())));
  const int64_t dim_size = shape[static_cast<size_t>(dim)];
  TD_RETURN_IF_ERROR(CheckOutputCount("split_with_sizes", static_cast<int64_t>(sizes.size())));
  std::vector<Piece> pieces;
  int64_t start = 0;
  bool overflow = false;
  for (int64_t length : sizes) {
    if (length < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "split_with_sizes expects split_sizes have only non-negative entries, but got "
          "split_sizes=",
          ShapeToString(sizes)));
    }
    pieces.push_back({start, length});
    overflow |= __builtin_add_overflow(start, length, &start);
  }
  if (overflow || start != dim_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("split_with_sizes expects split_sizes to sum exactly to ", dim_size,
                     " (input tensor's size at dimension ", dim,
                     "), but got split_sizes=", ShapeToString(sizes)));
  }
  return pieces;
}

MetaOr InferSplitSizes(const OpArgs& a) {
  const Tensor& x = a.inputs[0];
  int64_t dim = a.attrs.Int("dim");
  TD_ASSIGN_OR_RETURN(auto pieces, SplitSizesPieces(x.shape(), a.attrs.Ints("split_size"), dim));
  return PieceMetas(x, dim, pieces);
}

ListOr SplitSizesForward(const OpArgs& a, const std::vector<TensorMeta>&) {
  const Tensor& x = a.inputs[0];
  int64_t dim = a.attrs.Int("dim");
  TD_ASSIGN_OR_RETURN(auto pieces, SplitSizesPieces(x.shape(), a.attrs.Ints("split_size"), dim));
  return PieceViews(x, dim, pieces);
}

ListOr SplitBackward(const BackwardArgs& b) {
  const int64_t dim =
      *op_util::WrapDim(b.attrs.Int("dim"), static_cast<int64_t>(b.input_meta[0].shape.size()));
  TD_ASSIGN_OR_RETURN(Tensor g, ops::cat(b.grads, dim));
  return TensorList{g};
}

absl::StatusOr<int64_t> ChunkSplitSize(const Tensor& x, const Attrs& attrs, int64_t& dim) {
  if (x.dim() == 0) {
    return absl::InvalidArgumentError("chunk expects at least a 1-dimensional tensor");
  }
  const int64_t chunks = attrs.Int("chunks");
  if (chunks <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("chunk expects `chunks` to be greater than 0, got: ", chunks));
  }
  TD_ASSIGN_OR_RETURN(dim, op_util::WrapDim(attrs.Int("dim"), x.dim()));
  return CeilDiv(x.size(dim), chunks);  // any chunks up to INT64_MAX: no overflow
}

MetaOr InferChunk(const OpArgs& a) {
  int64_t dim = 0;
  TD_ASSIGN_OR_RETURN(int64_t split_size, ChunkSplitSize(a.inputs[0], a.attrs, dim));
  Attrs attrs{{"split_size", split_size}, {"dim", dim}};
  return InferSplit(OpArgs{a.inputs, attrs});
}

// chunk is split with split_size = ceil(size / chunks) (so it may return fewer chunks).
ListOr ChunkForward(const OpArgs& a, const std::vector<TensorMeta>&) {
  int64_t dim = 0;
  TD_ASSIGN_OR_RETURN(int64_t split_size, ChunkSplitSize(a.inputs[0], a.attrs, dim));
  return Apply("split", {a.inputs[0]}, Attrs{{"split_size", split_size}, {"dim", dim}});
}

struct NarrowRange {
  int64_t dim, start, length;
};

absl::StatusOr<NarrowRange> ResolveNarrow(const Tensor& x, const Attrs& attrs) {
  if (x.dim() == 0) {
    return absl::InvalidArgumentError("narrow() cannot be applied to a 0-dim tensor.");
  }
  TD_ASSIGN_OR_RETURN(int64_t dim, op_util::WrapDim(attrs.Int("dim"), x.dim()));
  const int64_t size = x.size(dim);
  int64_t start = attrs.Int("start");
  const int64_t length = attrs.Int("length");
  if (start != size) {
    TD_ASSIGN_OR_RETURN(start, op_util::WrapDim(start, size));
  }
  if (length < 0 || start > size - length) {
    return absl::InvalidArgumentError(absl::StrCat("start (", start, ") + length (", length,
                                                   ") exceeds dimension size (", size, ")."));
  }
  return NarrowRange{dim, start, length};
}

MetaOr InferNarrow(const OpArgs& a) {
  TD_ASSIGN_OR_RETURN(NarrowRange r, ResolveNarrow(a.inputs[0], a.attrs));
  Shape s = a.inputs[0].shape();
  s[static_cast<size_t>(r.dim)] = r.length;
  return One(s, a.inputs[0].dtype());
}

ListOr NarrowForward(const OpArgs& a, const std::vector<TensorMeta>&) {
  const NarrowRange r = *ResolveNarrow(a.inputs[0], a.attrs);
  TD_ASSIGN_OR_RETURN(Tensor s, ops::slice(a.inputs[0], r.dim, r.start, r.start + r.length, 1));
  return TensorList{s};
}

}  // namespace

void RegisterViewOps(std::vector<OpDef>& t) {
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
  t.push_back(Def("flatten", "", "dims start_dim..end_dim merged into one (a view when possible)",
                  OpKind::kComposite, InferFlatten, FlattenForward, nullptr));
  t.back().schema =
      "flatten.using_ints(Tensor(a) self, int start_dim=0, int end_dim=-1) -> Tensor(a)";
  t.push_back(Def("permute", "PermuteBackward0", "the dims reordered (view)", OpKind::kView,
                  InferPermute, PermuteForward, PermuteBackward));
  t.back().schema = "permute(Tensor(a) self, int[] dims) -> Tensor(a)";
  {
    OpDef d = Def("split", "SplitBackward0",
                  "pieces of split_size along dim (views; the last may be smaller)", OpKind::kView,
                  InferSplit, SplitForward, SplitBackward);
    d.num_outputs = -1;
    d.schema = "split.Tensor(Tensor(a -> *) self, int split_size, int dim=0) -> Tensor(a)[]";
    t.push_back(d);
  }
  {
    OpDef d = Def("split_sizes", "SplitWithSizesBackward0",
                  "pieces of the given lengths along dim (views; split_with_sizes)", OpKind::kView,
                  InferSplitSizes, SplitSizesForward, SplitBackward);
    d.num_outputs = -1;
    d.schema = "split.sizes(Tensor(a -> *) self, int[] split_size, int dim=0) -> Tensor(a)[]";
    t.push_back(d);
  }
  {
    OpDef d =
        Def("chunk", "", "split into `chunks` pieces of ceil(size / chunks) along dim (views)",
            OpKind::kComposite, InferChunk, ChunkForward, nullptr);
    d.num_outputs = -1;
    d.schema = "chunk(Tensor(a -> *) self, int chunks, int dim=0) -> Tensor(a)[]";
    t.push_back(d);
  }
  t.push_back(Def("narrow", "", "self[..., start:start+length, ...] on dim (a slice view)",
                  OpKind::kComposite, InferNarrow, NarrowForward, nullptr));
  t.back().schema = "narrow(Tensor(a) self, int dim, int start, int length) -> Tensor(a)";
}

}  // namespace tensord
