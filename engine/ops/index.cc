// Indexing: index_select, gather, scatter (src and value), masked_fill, masked_select, and the
// internal ops their backward rules use (so that double backward works: each has a backward of
// its own). Index tensors are int64 inputs that never require grad; every index value is checked
// in the shape rule, before anything is allocated or read through it.
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

// ---- index helpers -----------------------------------------------------------------

// Calls f(idx) for every multi-index of `shape` in row-major order (once for a 0-d shape); stops
// early once f returns false, if f returns bool.
template <typename F>
void ForEachIndex(const Shape& shape, F&& f) {
  if (NumElements(shape) == 0) return;
  std::vector<int64_t> idx(shape.size(), 0);
  while (true) {
    PollCancellation();
    if constexpr (std::is_same_v<decltype(f(idx)), bool>) {
      if (!f(idx)) return;
    } else {
      f(idx);
    }
    int64_t d = static_cast<int64_t>(shape.size()) - 1;
    for (; d >= 0; --d) {
      const auto k = static_cast<size_t>(d);
      if (++idx[k] < shape[k]) break;
      idx[k] = 0;
    }
    if (d < 0) break;
  }
}

int64_t Dot(const std::vector<int64_t>& idx, const Shape& strides) {
  int64_t off = 0;
  for (size_t d = 0; d < idx.size(); ++d) off += idx[d] * strides[d];
  return off;
}

char* ElemPtr(const Tensor& t, int64_t elem_offset) {
  return t.raw_data() + elem_offset * static_cast<int64_t>(ItemSize(t.dtype()));
}

// PyTorch's scatter/gather treat a 0-d tensor as 1-d of size 1 (ensure_nonempty_dim/size).
Shape NonemptyShape(const Tensor& t) { return t.dim() == 0 ? Shape{1} : t.shape(); }
Shape NonemptyStrides(const Tensor& t) { return t.dim() == 0 ? Shape{0} : t.strides(); }
int64_t NonemptySize(const Shape& s, int64_t d) {
  return s.empty() ? 1 : s[static_cast<size_t>(d)];
}

// dst[i] += src[i] (same shape; floating or int64).
absl::Status AddInto(const Tensor& dst, const Tensor& src) {
  if (dst.dtype() == DType::kBool) {
    return absl::InvalidArgumentError("\"index_add_cpu_\" not implemented for 'Bool'");
  }
  DispatchDType(dst.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<T, bool>) {
      kernels::Map2<T, T, T>(dst, dst, src, [](T a, T b) { return static_cast<T>(a + b); });
    }
  });
  return absl::OkStatus();
}

absl::Status CheckIndexDType(const Tensor& index, absl::string_view op) {
  if (index.dtype() != DType::kInt64) {
    return absl::InvalidArgumentError(absl::StrCat(op, "(): Expected dtype int64 for index"));
  }
  return absl::OkStatus();
}

// The first value of the int64 tensor `index` outside [0, size), if any (each stored element is
// read once: an expanded index costs its real elements, and nothing is copied).
std::optional<int64_t> FirstOutOfRange(const Tensor& index, int64_t size) {
  std::optional<int64_t> bad;
  op_util::ForEachStoredElement<int64_t>(index, [&](int64_t v) {
    if (!bad && (v < 0 || v >= size)) bad = v;
  });
  return bad;
}

// Every value of `index` in [0, size), else PyTorch's scatter/gather error — a RuntimeError in
// PyTorch (INVALID_ARGUMENT), not the IndexError of a bad dim or subscript (OUT_OF_RANGE).
absl::Status CheckIndexValues(const Tensor& index, int64_t dim, int64_t size) {
  if (const std::optional<int64_t> v = FirstOutOfRange(index, size)) {
    return absl::InvalidArgumentError(
        absl::StrCat("index ", *v, " is out of bounds for dimension ", dim, " with size ", size));
  }
  return absl::OkStatus();
}

// ---- index_select --------------------------------------------------------------------------

// Checks index (a vector of int64 within [0, size)) as index_select does.
absl::Status CheckSelectIndex(const Tensor& index, int64_t size) {
  if (index.dim() > 1) {
    return absl::OutOfRangeError("index_select(): Index is supposed to be a vector");
  }
  if (index.dtype() != DType::kInt64) {
    return absl::InvalidArgumentError("index_select(): Expected dtype int32 or int64 for index");
  }
  if (FirstOutOfRange(index, size)) return absl::OutOfRangeError("index out of range in self");
  return absl::OkStatus();
}

MetaOr InferIndexSelect(const OpArgs& a) {
  const Tensor &x = a.inputs[0], &index = a.inputs[1];
  TD_ASSIGN_OR_RETURN(int64_t dim, op_util::WrapDim(a.attrs.Int("dim"), x.dim()));
  TD_RETURN_IF_ERROR(CheckSelectIndex(index, x.dim() == 0 ? 1 : x.size(dim)));
  Shape s = x.shape();
  if (x.dim() > 0) s[static_cast<size_t>(dim)] = index.numel();
  return One(s, x.dtype());
}

ListOr IndexSelectForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  const Tensor &x = a.inputs[0], &index = a.inputs[1];
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(m[0]));
  if (x.dim() == 0) {
    kernels::CopyInto(out, x);
    return TensorList{out};
  }
  // Without elements there is nothing to copy (and index may be long: [0, 2^62] selects nothing).
  if (out.numel() == 0) return TensorList{out};
  const int64_t dim = *op_util::WrapDim(a.attrs.Int("dim"), x.dim());
  const std::vector<int64_t> idx = index.ToVector<int64_t>();
  for (size_t j = 0; j < idx.size(); ++j) {
    kernels::CopyInto(SelectView(out, dim, static_cast<int64_t>(j)), SelectView(x, dim, idx[j]));
  }
  return TensorList{out};
}

ListOr IndexSelectBackward(const BackwardArgs& b) {
  const auto ndim = static_cast<int64_t>(b.input_meta[0].shape.size());
  const int64_t dim = *op_util::WrapDim(b.attrs.Int("dim"), ndim);
  TD_ASSIGN_OR_RETURN(Tensor g,
                      op_util::Call("_index_select_backward", {b.grads[0], b.inputs[1]},
                                    Attrs{{"input_size", b.input_meta[0].shape}, {"dim", dim}}));
  return TensorList{g, Tensor()};
}

// _index_select_backward(grad, index): zeros of input_size with grad's slices added at index
// along dim (PyTorch's index_select_backward, a zeros().index_add_()).
MetaOr InferIndexSelectBack(const OpArgs& a) {
  const Tensor &g = a.inputs[0], &index = a.inputs[1];
  const Shape& size = a.attrs.Ints("input_size");
  for (const int64_t d : size) {
    if (d < 0) return absl::InvalidArgumentError("_index_select_backward(): negative input_size");
  }
  TD_ASSIGN_OR_RETURN(int64_t dim,
                      op_util::WrapDim(a.attrs.Int("dim"), static_cast<int64_t>(size.size())));
  TD_RETURN_IF_ERROR(CheckSelectIndex(index, NonemptySize(size, dim)));
  Shape expect = size;
  if (!size.empty()) expect[static_cast<size_t>(dim)] = index.numel();
  if (g.shape() != expect) {
    return absl::InvalidArgumentError(absl::StrCat("_index_select_backward(): grad of shape ",
                                                   ShapeToString(g.shape()), " does not match ",
                                                   ShapeToString(expect)));
  }
  if (!IsFloating(g.dtype())) {
    return absl::InvalidArgumentError("_index_select_backward(): grad must be floating");
  }
  return One(size, g.dtype());
}

ListOr IndexSelectBackForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  const Tensor &g = a.inputs[0], &index = a.inputs[1];
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Zeros(m[0]));
  if (m[0].shape.empty()) {
    kernels::CopyInto(out, g);
    return TensorList{out};
  }
  if (out.numel() == 0 || g.numel() == 0) return TensorList{out};
  const int64_t dim =
      *op_util::WrapDim(a.attrs.Int("dim"), static_cast<int64_t>(m[0].shape.size()));
  const std::vector<int64_t> idx = index.ToVector<int64_t>();
  for (size_t j = 0; j < idx.size(); ++j) {
    TD_RETURN_IF_ERROR(
        AddInto(SelectView(out, dim, idx[j]), SelectView(g, dim, static_cast<int64_t>(j))));
  }
  return TensorList{out};
}

ListOr IndexSelectBackBackward(const BackwardArgs& b) {
  TD_ASSIGN_OR_RETURN(Tensor g, op_util::Call("index_select", {b.grads[0], b.inputs[1]},
                                              Attrs{{"dim", b.attrs.Int("dim")}}));
  return TensorList{g, Tensor()};
}

// ---- gather / scatter ----------------------------------------------------------------------

// gather's shape rule (gather_shape_check): same rank, index no larger than self off `dim`.
absl::Status GatherShapeCheck(const Shape& self, int64_t dim, const Tensor& index) {
  const auto self_dims = static_cast<int64_t>(std::max<size_t>(self.size(), 1));
  if (self_dims != std::max<int64_t>(index.dim(), 1)) {
    return absl::InvalidArgumentError(
        "Index tensor must have the same number of dimensions as input tensor");
  }
  for (int64_t d = 0; d < self_dims; ++d) {
    if (d != dim && NonemptySize(index.shape(), d) > NonemptySize(self, d)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Size does not match at dimension ", d, " expected index ", ShapeToString(index.shape()),
          " to be smaller than self ", ShapeToString(self), " apart from dimension ", dim));
    }
  }
  return absl::OkStatus();
}

MetaOr InferGather(const OpArgs& a) {
  const Tensor &x = a.inputs[0], &index = a.inputs[1];
  if (a.attrs.Bool("sparse_grad")) {
    return absl::UnimplementedError(
        "gather(): sparse_grad=True is not supported by tensord (it has no sparse tensors)");
  }
  TD_ASSIGN_OR_RETURN(int64_t dim, op_util::WrapDim(a.attrs.Int("dim"), x.dim()));
  TD_RETURN_IF_ERROR(CheckIndexDType(index, "gather"));
  if (index.numel() > 0) {
    TD_RETURN_IF_ERROR(GatherShapeCheck(x.shape(), dim, index));
    TD_RETURN_IF_ERROR(CheckIndexValues(index, dim, NonemptySize(x.shape(), dim)));
  }
  return One(index.shape(), x.dtype());
}

// For every position p of index: f(offset of p in `a`, offset of p with dim -> index[p] in `b`).
template <typename F>
void ForEachIndexed(const Tensor& index, int64_t dim, const Shape& a_strides,
                    const Shape& b_strides, F&& f) {
  const Shape ist = NonemptyStrides(index);
  const char* ip = index.raw_data();
  ForEachIndex(NonemptyShape(index), [&](std::vector<int64_t>& p) {
    const int64_t v = *reinterpret_cast<const int64_t*>(ip + Dot(p, ist) * 8);
    const int64_t a_off = Dot(p, a_strides);
    const int64_t keep = p[static_cast<size_t>(dim)];
    p[static_cast<size_t>(dim)] = v;
    const int64_t b_off = Dot(p, b_strides);
    p[static_cast<size_t>(dim)] = keep;
    f(a_off, b_off);
  });
}

ListOr GatherForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  const Tensor &x = a.inputs[0], &index = a.inputs[1];
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(m[0]));
  if (out.numel() == 0) return TensorList{out};
  const int64_t dim = *op_util::WrapDim(a.attrs.Int("dim"), x.dim());
  const auto item = static_cast<size_t>(ItemSize(x.dtype()));
  ForEachIndexed(index, dim, NonemptyStrides(out), NonemptyStrides(x),
                 [&](int64_t out_off, int64_t x_off) {
                   std::memcpy(ElemPtr(out, out_off), ElemPtr(x, x_off), item);
                 });
  return TensorList{out};
}

ListOr GatherBackward(const BackwardArgs& b) {
  const auto ndim = static_cast<int64_t>(b.input_meta[0].shape.size());
  const int64_t dim = *op_util::WrapDim(b.attrs.Int("dim"), ndim);
  TD_ASSIGN_OR_RETURN(Tensor g,
                      op_util::Call("_gather_backward", {b.grads[0], b.inputs[1]},
                                    Attrs{{"input_size", b.input_meta[0].shape}, {"dim", dim}}));
  return TensorList{g, Tensor()};
}

// _gather_backward(grad, index): zeros of input_size with grad scatter-added at index along
// dim (PyTorch's gather_backward, a zeros().scatter_add()).
MetaOr InferGatherBack(const OpArgs& a) {
  const Tensor &g = a.inputs[0], &index = a.inputs[1];
  const Shape& size = a.attrs.Ints("input_size");
  for (const int64_t d : size) {
    if (d < 0) return absl::InvalidArgumentError("_gather_backward(): negative input_size");
  }
  TD_ASSIGN_OR_RETURN(int64_t dim,
                      op_util::WrapDim(a.attrs.Int("dim"), static_cast<int64_t>(size.size())));
  TD_RETURN_IF_ERROR(CheckIndexDType(index, "_gather_backward"));
  if (g.shape() != index.shape()) {
    return absl::InvalidArgumentError(
        absl::StrCat("_gather_backward(): grad of shape ", ShapeToString(g.shape()),
                     " does not match index ", ShapeToString(index.shape())));
  }
  if (!IsFloating(g.dtype())) {
    return absl::InvalidArgumentError("_gather_backward(): grad must be floating");
  }
  if (index.numel() > 0) {
    TD_RETURN_IF_ERROR(GatherShapeCheck(size, dim, index));
    TD_RETURN_IF_ERROR(CheckIndexValues(index, dim, NonemptySize(size, dim)));
  }
  return One(size, g.dtype());
}

ListOr GatherBackForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  const Tensor &g = a.inputs[0], &index = a.inputs[1];
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Zeros(m[0]));
  if (index.numel() == 0) return TensorList{out};
  const int64_t dim =
      *op_util::WrapDim(a.attrs.Int("dim"), static_cast<int64_t>(m[0].shape.size()));
  DispatchDType(g.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_floating_point_v<T>) {
      ForEachIndexed(index, dim, NonemptyStrides(g), NonemptyStrides(out),
                     [&](int64_t g_off, int64_t out_off) {
                       *reinterpret_cast<T*>(ElemPtr(out, out_off)) +=
                           *reinterpret_cast<const T*>(ElemPtr(g, g_off));
                     });
    }
  });
  return TensorList{out};
}

ListOr GatherBackBackward(const BackwardArgs& b) {
  TD_ASSIGN_OR_RETURN(Tensor g, op_util::Call("gather", {b.grads[0], b.inputs[1]},
                                              Attrs{{"dim", b.attrs.Int("dim")}}));
  return TensorList{g, Tensor()};
}

absl::Status CheckFillValue(DType dtype, const Attrs& attrs) {
  if (attrs.IsIntegral("value")) return absl::OkStatus();
  return CheckConvertible(attrs.Double("value"), dtype);
}

// The number attribute `value` as a T, as masked_fill and scatter convert it.
template <typename T>
T FillValueAs(const Attrs& attrs) {
  const bool integral = attrs.IsIntegral("value");
  if constexpr (std::is_same_v<T, bool>) {
    return attrs.Double("value") != 0;
  } else if constexpr (std::is_same_v<T, int64_t>) {
    return integral ? attrs.Int("value") : SaturatingDoubleToInt64(attrs.Double("value"));
  } else {
    return static_cast<T>(integral ? static_cast<double>(attrs.Int("value"))
                                   : attrs.Double("value"));
  }
}

MetaOr InferScatter(const OpArgs& a) {
  const Tensor &x = a.inputs[0], &index = a.inputs[1], &src = a.inputs[2];
  TD_ASSIGN_OR_RETURN(int64_t dim, op_util::WrapDim(a.attrs.Int("dim"), x.dim()));
  TD_RETURN_IF_ERROR(CheckIndexDType(index, "scatter"));
  if (x.dtype() != src.dtype()) {
    return absl::InvalidArgumentError("scatter(): Expected self.dtype to be equal to src.dtype");
  }
  if (index.numel() > 0) {
    const int64_t dims = std::max<int64_t>(x.dim(), 1);
    if (dims != std::max<int64_t>(index.dim(), 1)) {
      return absl::InvalidArgumentError(
          "Index tensor must have the same number of dimensions as self tensor");
    }
    bool wrong = false;
    for (int64_t d = 0; d < dims && !wrong; ++d) {
      if (d != dim && NonemptySize(index.shape(), d) > NonemptySize(x.shape(), d)) wrong = true;
    }
    for (int64_t d = 0; d < dims && !wrong; ++d) {
      if (d >= std::max<int64_t>(src.dim(), 1)) {
        // PyTorch reads src.size(d) here: an IndexError.
        TD_RETURN_IF_ERROR(op_util::WrapDim(d, src.dim()).status());
      }
      if (NonemptySize(index.shape(), d) > NonemptySize(src.shape(), d)) wrong = true;
    }
    if (wrong) {
      return absl::InvalidArgumentError(
          absl::StrCat("Expected index ", ShapeToString(index.shape()), " to be smaller than self ",
                       ShapeToString(x.shape()), " apart from dimension ", dim,
                       " and to be smaller size than src ", ShapeToString(src.shape())));
    }
    if (dims != std::max<int64_t>(src.dim(), 1)) {
      return absl::InvalidArgumentError(
          "Index tensor must have the same number of dimensions as src tensor");
    }
    TD_RETURN_IF_ERROR(CheckIndexValues(index, dim, NonemptySize(x.shape(), dim)));
  }
  return One(x.shape(), x.dtype());
}

ListOr ScatterForward(const OpArgs& a, const std::vector<TensorMeta>&) {
  const Tensor &x = a.inputs[0], &index = a.inputs[1], &src = a.inputs[2];
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::RawClone(x));
  if (index.numel() == 0) return TensorList{out};
  const int64_t dim = *op_util::WrapDim(a.attrs.Int("dim"), x.dim());
  const auto item = static_cast<size_t>(ItemSize(x.dtype()));
  ForEachIndexed(index, dim, NonemptyStrides(src), NonemptyStrides(out),
                 [&](int64_t src_off, int64_t out_off) {
                   std::memcpy(ElemPtr(out, out_off), ElemPtr(src, src_off), item);
                 });
  return TensorList{out};
}

// scatter.value: a copy of self with out[i][index[i][j]] = value (for dim 1).
MetaOr InferScatterValue(const OpArgs& a) {
  const Tensor &x = a.inputs[0], &index = a.inputs[1];
  TD_ASSIGN_OR_RETURN(int64_t dim, op_util::WrapDim(a.attrs.Int("dim"), x.dim()));
  TD_RETURN_IF_ERROR(CheckIndexDType(index, "scatter"));
  TD_RETURN_IF_ERROR(CheckFillValue(x.dtype(), a.attrs));
  if (index.numel() > 0) {
    const int64_t dims = std::max<int64_t>(x.dim(), 1);
    if (dims != std::max<int64_t>(index.dim(), 1)) {
      return absl::InvalidArgumentError(
          "Index tensor must have the same number of dimensions as self tensor");
    }
    for (int64_t d = 0; d < dims; ++d) {
      if (d != dim && NonemptySize(index.shape(), d) > NonemptySize(x.shape(), d)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "Expected index ", ShapeToString(index.shape()), " to be smaller than self ",
            ShapeToString(x.shape()), " apart from dimension ", dim));
      }
    }
    TD_RETURN_IF_ERROR(CheckIndexValues(index, dim, NonemptySize(x.shape(), dim)));
  }
  return One(x.shape(), x.dtype());
}

ListOr ScatterValueForward(const OpArgs& a, const std::vector<TensorMeta>&) {
  const Tensor &x = a.inputs[0], &index = a.inputs[1];
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::RawClone(x));
  if (index.numel() == 0) return TensorList{out};
  const int64_t dim = *op_util::WrapDim(a.attrs.Int("dim"), x.dim());
  DispatchDType(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T v = FillValueAs<T>(a.attrs);
    ForEachIndexed(
        index, dim, NonemptyStrides(out), NonemptyStrides(out),
        [&](int64_t, int64_t out_off) { *reinterpret_cast<T*>(ElemPtr(out, out_off)) = v; });
  });
  return TensorList{out};
}

// self: grad with the written positions zeroed (grad.scatter(dim, index, 0)).
ListOr ScatterValueBackward(const BackwardArgs& b) {
  const int64_t dim =
      *op_util::WrapDim(b.attrs.Int("dim"), static_cast<int64_t>(b.input_meta[0].shape.size()));
  TensorList out(2);
  if (b.needs_input_grad[0]) {
    TD_ASSIGN_OR_RETURN(out[0], op_util::Call("scatter_value", {b.grads[0], b.inputs[1]},
                                              Attrs{{"dim", dim}, {"value", int64_t{0}}}));
  }
  return out;
}

// self: grad with the scattered positions zeroed (grad.scatter(dim, index, 0)); src:
// grad.gather(dim, index). Where src is larger than index PyTorch's validate_outputs rejects
// the gather's shape; here it is padded with zeros (those src elements are not used).
ListOr ScatterBackward(const BackwardArgs& b) {
  const Tensor& g = b.grads[0];
  const Tensor& index = b.inputs[1];
  const int64_t dim =
      *op_util::WrapDim(b.attrs.Int("dim"), static_cast<int64_t>(b.input_meta[0].shape.size()));
  const Attrs attrs{{"dim", dim}};
  TensorList out(3);
  if (b.needs_input_grad[0]) {
    TD_ASSIGN_OR_RETURN(Tensor zeros, op_util::Zeros({index.shape(), g.dtype()}));
    TD_ASSIGN_OR_RETURN(out[0], op_util::Call("scatter", {g, index, zeros}, attrs));
  }
  if (b.needs_input_grad[2]) {
    TD_ASSIGN_OR_RETURN(Tensor s, op_util::Call("gather", {g, index}, attrs));
    const Shape& src_shape = b.input_meta[2].shape;
    for (size_t d = 0; d < src_shape.size() && s.shape() != src_shape; ++d) {
      if (s.shape()[d] == src_shape[d]) continue;
      Shape size = s.shape();
      size[d] = src_shape[d];
      TD_ASSIGN_OR_RETURN(s, op_util::Call("_slice_backward", {s},
                                           Attrs{{"input_size", size},
                                                 {"dim", static_cast<int64_t>(d)},
                                                 {"start", int64_t{0}},
                                                 {"end", s.shape()[d]},
                                                 {"step", int64_t{1}}}));
    }
    out[2] = s;
  }
  return out;
}

// ---- masked_fill / masked_select -----------------------------------------------------------

// The value as self's dtype, or PyTorch's overflow error.
MetaOr InferMaskedFill(const OpArgs& a) {
  const Tensor &x = a.inputs[0], &mask = a.inputs[1];
  if (mask.dtype() != DType::kBool) {
    return absl::InvalidArgumentError(
        absl::StrCat("masked_fill_ only supports boolean masks, but got mask with dtype ",
                     ScalarTypeName(mask.dtype())));
  }
  TD_ASSIGN_OR_RETURN(Shape s, op_util::BroadcastShapes(mask.shape(), x.shape()));
  TD_RETURN_IF_ERROR(CheckFillValue(x.dtype(), a.attrs));
  return One(s, x.dtype());
}

// out = value where mask (broadcast) is true, element by element (also through the repeated
// elements of an expanded out, as PyTorch's masked_fill_).
void MaskedFillInto(const Tensor& out, const Tensor& mask, const Attrs& attrs);

ListOr MaskedFillForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(m[0]));
  kernels::CopyInto(out, a.inputs[0]);
  MaskedFillInto(out, a.inputs[1], a.attrs);
  return TensorList{out};
}

void MaskedFillInplace(const OpArgs& a) { MaskedFillInto(a.inputs[0], a.inputs[1], a.attrs); }

void MaskedFillInto(const Tensor& out, const Tensor& mask, const Attrs& attrs) {
  DispatchDType(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T v = FillValueAs<T>(attrs);
    kernels::Map2<T, T, bool>(out, out, mask, [v](T x, bool keep) { return keep ? v : x; });
  });
}

ListOr MaskedFillBackward(const BackwardArgs& b) {
  TD_ASSIGN_OR_RETURN(Tensor g, op_util::Call("masked_fill", {b.grads[0], b.inputs[1]},
                                              Attrs{{"value", int64_t{0}}}));
  TD_ASSIGN_OR_RETURN(g, ops::sum_to(g, b.input_meta[0].shape));
  return TensorList{g, Tensor()};
}

// The number of true elements of mask broadcast to `shape`, in time proportional to mask's
// stored elements (a [2^40] broadcast of a one-element mask is counted at once).
absl::StatusOr<int64_t> CountTrue(const Tensor& mask, const Shape& shape) {
  TD_RETURN_IF_ERROR(CheckedNumel(shape).status());
  return op_util::CountTrueBroadcast(mask, shape);
}

MetaOr InferMaskedSelect(const OpArgs& a) {
  const Tensor &x = a.inputs[0], &mask = a.inputs[1];
  if (mask.dtype() != DType::kBool) {
    return absl::InvalidArgumentError("masked_select: expected BoolTensor or ByteTensor for mask");
  }
  TD_ASSIGN_OR_RETURN(Shape s, op_util::BroadcastShapes(mask.shape(), x.shape()));
  TD_ASSIGN_OR_RETURN(int64_t n, CountTrue(mask, s));
  return One({n}, x.dtype());
}

ListOr MaskedSelectForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  const Tensor &x = a.inputs[0], &mask = a.inputs[1];
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(m[0]));
  const Shape shape = *op_util::BroadcastShapes(mask.shape(), x.shape());
  const Shape mst = kernels::BroadcastStrides(mask, shape);
  const Shape xst = kernels::BroadcastStrides(x, shape);
  const auto item = static_cast<size_t>(ItemSize(x.dtype()));
  const char* mp = mask.raw_data();
  int64_t k = 0;
  const int64_t n = out.numel();
  if (n == 0) return TensorList{out};
  ForEachIndex(shape, [&](const std::vector<int64_t>& idx) {
    if (mp[Dot(idx, mst)] != 0) {
      std::memcpy(ElemPtr(out, k * out.strides()[0]), ElemPtr(x, Dot(idx, xst)), item);
      ++k;
    }
    return k < n;  // stop after the last selected element
  });
  return TensorList{out};
}

ListOr MaskedSelectBackward(const BackwardArgs& b) {
  const Tensor& mask = b.inputs[1];
  TD_ASSIGN_OR_RETURN(Shape size, op_util::BroadcastShapes(mask.shape(), b.input_meta[0].shape));
  TD_ASSIGN_OR_RETURN(Tensor g, op_util::Call("_masked_select_backward", {b.grads[0], mask},
                                              Attrs{{"input_size", size}}));
  TD_ASSIGN_OR_RETURN(g, ops::sum_to(g, b.input_meta[0].shape));
  return TensorList{g, Tensor()};
}

// _masked_select_backward(grad, mask): zeros of input_size with grad's values written, in
// order, where mask (broadcast to input_size) is true (zeros().masked_scatter(mask, grad)).
MetaOr InferMaskedSelectBack(const OpArgs& a) {
  const Tensor &g = a.inputs[0], &mask = a.inputs[1];
  const Shape& size = a.attrs.Ints("input_size");
  for (const int64_t d : size) {
    if (d < 0) return absl::InvalidArgumentError("_masked_select_backward(): negative input_size");
  }
  if (mask.dtype() != DType::kBool) {
    return absl::InvalidArgumentError("_masked_select_backward(): mask must be bool");
  }
  if (!op_util::IsExpandableTo(mask.shape(), size)) {
    return absl::InvalidArgumentError(absl::StrCat("_masked_select_backward(): mask of shape ",
                                                   ShapeToString(mask.shape()),
                                                   " does not broadcast to ", ShapeToString(size)));
  }
  TD_ASSIGN_OR_RETURN(int64_t n, CountTrue(mask, size));
  if (g.shape() != Shape{n}) {
    return absl::InvalidArgumentError(absl::StrCat("_masked_select_backward(): grad of shape ",
                                                   ShapeToString(g.shape()), " does not match [", n,
                                                   "]"));
  }
  if (!IsFloating(g.dtype())) {
    return absl::InvalidArgumentError("_masked_select_backward(): grad must be floating");
  }
  return One(size, g.dtype());
}

ListOr MaskedSelectBackForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  const Tensor &g = a.inputs[0], &mask = a.inputs[1];
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Zeros(m[0]));
  const Shape mst = kernels::BroadcastStrides(mask, m[0].shape);
  const auto item = static_cast<size_t>(ItemSize(g.dtype()));
  const char* mp = mask.raw_data();
  int64_t k = 0;
  const int64_t n = g.numel();
  if (n == 0) return TensorList{out};
  ForEachIndex(m[0].shape, [&](const std::vector<int64_t>& idx) {
    if (mp[Dot(idx, mst)] != 0) {
      std::memcpy(ElemPtr(out, Dot(idx, out.strides())), ElemPtr(g, k * g.strides()[0]), item);
      ++k;
    }
    return k < n;
  });
  return TensorList{out};
}

ListOr MaskedSelectBackBackward(const BackwardArgs& b) {
  TD_ASSIGN_OR_RETURN(Tensor g, op_util::Call("masked_select", {b.grads[0], b.inputs[1]}));
  return TensorList{g, Tensor()};
}

}  // namespace

void RegisterIndexOps(std::vector<OpDef>& t) {
  const AttrSpec dim{"dim", AttrType::kInt, {}, true, "the dim"};
  const AttrSpec input_size{"input_size", AttrType::kInts, {}, true, "shape of the forward input"};
  constexpr uint32_t kIndex = 2u;  // input 1 (index or mask) is saved
  t.push_back(Def("index_select", "IndexSelectBackward0",
                  "the entries of self at index (int64 vector) along dim", OpKind::kKernel,
                  InferIndexSelect, IndexSelectForward, IndexSelectBackward, {}, 2, kIndex));
  t.back().schema = "index_select(Tensor self, int dim, Tensor index) -> Tensor";
  t.back().value_dependent_checks = true;
  t.back().nondiff_inputs = 2u;  // the index / mask
  t.push_back(Def("_index_select_backward", "IndexAddBackward0",
                  "gradient of index_select: zeros(input_size).index_add_(dim, index, grad)",
                  OpKind::kKernel, InferIndexSelectBack, IndexSelectBackForward,
                  IndexSelectBackBackward, {input_size, dim}, 2,
                  kIndex | 1u));           // PyTorch keeps self too
  t.back().value_dependent_checks = true;  // index / target values
  t.back().nondiff_inputs = 2u;            // the index / mask
  t.push_back(Def("gather", "GatherBackward0", "out[i][j] = self[i][index[i][j]] (for dim 1)",
                  OpKind::kKernel, InferGather, GatherForward, GatherBackward, {}, 2,
                  kIndex | 1u));  // PyTorch keeps self too
  t.back().schema =
      "gather(Tensor self, int dim, Tensor index, *, bool sparse_grad=False) -> Tensor";
  t.back().value_dependent_checks = true;
  t.back().nondiff_inputs = 2u;  // the index / mask
  t.push_back(Def("_gather_backward", "ScatterAddBackward0",
                  "gradient of gather: zeros(input_size).scatter_add(dim, index, grad)",
                  OpKind::kKernel, InferGatherBack, GatherBackForward, GatherBackBackward,
                  {input_size, dim}, 2, kIndex));
  t.back().value_dependent_checks = true;  // index / target values
  t.back().nondiff_inputs = 2u;            // the index / mask
  t.push_back(Def("scatter", "ScatterBackward0",
                  "a copy of self with out[i][index[i][j]] = src[i][j] (for dim 1)",
                  OpKind::kKernel, InferScatter, ScatterForward, ScatterBackward, {}, 3, kIndex));
  t.back().schema = "scatter.src(Tensor self, int dim, Tensor index, Tensor src) -> Tensor";
  t.back().result_like_self = true;
  t.back().value_dependent_checks = true;
  t.back().nondiff_inputs = 2u;  // the index / mask
  t.push_back(Def("scatter_value", "ScatterBackward1",
                  "a copy of self with out[i][index[i][j]] = value (for dim 1)", OpKind::kKernel,
                  InferScatterValue, ScatterValueForward, ScatterValueBackward, {}, 2, kIndex));
  t.back().schema = "scatter.value(Tensor self, int dim, Tensor index, Scalar value) -> Tensor";
  t.back().result_like_self = true;
  t.back().value_dependent_checks = true;
  t.back().nondiff_inputs = 2u;  // the index
  t.push_back(Def("masked_fill", "MaskedFillBackward0",
                  "self (broadcast with mask) with value where mask is true", OpKind::kKernel,
                  InferMaskedFill, MaskedFillForward, MaskedFillBackward, {}, 2, kIndex));
  t.back().schema = "masked_fill.Scalar(Tensor self, Tensor mask, Scalar value) -> Tensor";
  t.back().result_like_self = true;
  t.back().nondiff_inputs = 2u;  // the index / mask
  t.back().inplace = MaskedFillInplace;
  t.push_back(Def("masked_select", "MaskedSelectBackward0",
                  "1-D tensor of the elements of self (broadcast with mask) where mask is true",
                  OpKind::kKernel, InferMaskedSelect, MaskedSelectForward, MaskedSelectBackward, {},
                  2, kIndex | 1u));  // PyTorch keeps self too
  t.back().schema = "masked_select(Tensor self, Tensor mask) -> Tensor";
  t.back().value_dependent_checks = true;
  t.back().nondiff_inputs = 2u;  // the index / mask
  t.push_back(Def("_masked_select_backward", "MaskedScatterBackward0",
                  "gradient of masked_select: zeros(input_size).masked_scatter(mask, grad)",
                  OpKind::kKernel, InferMaskedSelectBack, MaskedSelectBackForward,
                  MaskedSelectBackBackward, {input_size}, 2, kIndex));
  t.back().nondiff_inputs = 2u;            // the index / mask
  t.back().value_dependent_checks = true;  // grad's length is the mask's count of true
}

}  // namespace tensord
