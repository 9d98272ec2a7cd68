// as_strided and its internal gradient ops. A view whose base was modified in place reads its
// elements from the base by storage position (AsStridedBackward0), and CopySlices writes the
// gradient of a view into its base's gradient the same way.
//   as_strided(self, size, stride, storage_offset): a view of self's storage.
//   _as_strided_backward(grad, ...): its gradient, shaped like self (scatter-add by position).
//   _as_strided_copy(x, ...): the reverse, x read as if laid out like self (gather by position).
// The last two are each other's gradient, so every order of derivative works.
#include <algorithm>

#include <new>
#include "absl/container/flat_hash_map.h"

#include "absl/strings/str_cat.h"
#include "engine/dispatch.h"
#include "engine/ops/op_util.h"
#include "engine/ops/registry.h"
#include "engine/status_macros.h"

namespace tensord {
namespace {

using TensorList = std::vector<Tensor>;
using ListOr = absl::StatusOr<TensorList>;
using MetaOr = absl::StatusOr<std::vector<TensorMeta>>;

struct Layout {
  Shape shape, strides;
  int64_t offset = 0;
};

// Storage positions of a layout's elements, in row-major order of its logical indices.
std::vector<int64_t> Positions(const Layout& l) {
  const int64_t n = NumElements(l.shape);
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(n));
  if (n == 0) return out;
  std::vector<int64_t> idx(l.shape.size(), 0);
  int64_t pos = l.offset;
  for (int64_t k = 0; k < n; ++k) {
    out.push_back(pos);
    for (size_t d = idx.size(); d-- > 0;) {
      if (++idx[d] < l.shape[d]) {
        pos += l.strides[d];
        break;
      }
      pos -= (l.shape[d] - 1) * l.strides[d];
      idx[d] = 0;
    }
  }
  return out;
}

absl::Status CheckExtent(absl::string_view op, const Shape& size, const Shape& stride,
                         int64_t offset);

absl::Status CheckLayout(absl::string_view op, const Shape& size, const Shape& stride,
                         int64_t offset) {
  if (size.size() != stride.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(op, "(): mismatch in length of strides and shape"));
  }
  for (int64_t s : size) {
    if (s < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Trying to create tensor with negative dimension ", s, ": ", ShapeToString(size)));
    }
  }
  for (int64_t s : stride) {
    if (s < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(op, ": Negative strides are not supported at the moment, got strides: ",
                       ShapeToString(stride)));
    }
  }
  if (offset < 0) {
    return absl::InvalidArgumentError(absl::StrCat("Tensor: invalid storage offset ", offset));
  }
  return CheckExtent(op, size, stride, offset);
}

// The storage size (in elements) a layout needs; CheckLayout has ruled out overflow.
int64_t Extent(const Layout& l) {
  if (NumElements(l.shape) == 0) return 0;
  int64_t e = l.offset + 1;
  for (size_t d = 0; d < l.shape.size(); ++d) e += (l.shape[d] - 1) * l.strides[d];
  return e;
}

// Refuses layouts whose element count or storage extent does not fit comfortably in int64.
absl::Status CheckExtent(absl::string_view op, const Shape& size, const Shape& stride,
                         int64_t offset) {
  constexpr int64_t kLimit = INT64_MAX / 16;
  int64_t n = 1, e = offset;
  bool bad = offset > kLimit;
  for (size_t d = 0; d < size.size() && !bad; ++d) {
    int64_t span = 0;
    bad = __builtin_mul_overflow(n, size[d], &n) || n > kLimit ||
          (size[d] > 0 && (__builtin_mul_overflow(size[d] - 1, stride[d], &span) ||
                           __builtin_add_overflow(e, span, &e) || e > kLimit));
  }
  if (bad) {
    return absl::InvalidArgumentError(
        absl::StrCat(op, "(): size ", ShapeToString(size), ", stride ", ShapeToString(stride),
                     " and storage offset ", offset, " address more memory than exists"));
  }
  return absl::OkStatus();
}

// For each element of `view` (row-major), the row-major index of the element of `base` at the
// same storage position, or -1. A table over the storage span when it is small next to the
// tensors (the usual case), a hash map otherwise.
std::vector<int64_t> ViewToBase(const Layout& base, const Layout& view);

// ViewToBase, with its position tables (two int64 per element, outside the memory account)
// refused as RESOURCE_EXHAUSTED when they cannot be allocated, instead of throwing.
absl::StatusOr<std::vector<int64_t>> CheckedViewToBase(absl::string_view op, const Layout& base,
                                                       const Layout& view) {
  try {
    return ViewToBase(base, view);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(
        absl::StrCat(op, "(): not enough memory for the position tables of ",
                     NumElements(base.shape), " + ", NumElements(view.shape), " elements"));
  }
}

std::vector<int64_t> ViewToBase(const Layout& base, const Layout& view) {
  const std::vector<int64_t> bpos = Positions(base), vpos = Positions(view);
  const int64_t span = std::max(Extent(base), Extent(view));
  std::vector<int64_t> out(vpos.size(), -1);
  if (span <= 4 * static_cast<int64_t>(bpos.size() + vpos.size()) + 4096) {
    std::vector<int64_t> at(static_cast<size_t>(span), -1);
    for (size_t j = 0; j < bpos.size(); ++j) {
      at[static_cast<size_t>(bpos[j])] = static_cast<int64_t>(j);
    }
    for (size_t i = 0; i < vpos.size(); ++i) out[i] = at[static_cast<size_t>(vpos[i])];
    return out;
  }
  absl::flat_hash_map<int64_t, int64_t> at;
  at.reserve(bpos.size());
  for (size_t j = 0; j < bpos.size(); ++j) at[bpos[j]] = static_cast<int64_t>(j);
  for (size_t i = 0; i < vpos.size(); ++i) {
    auto it = at.find(vpos[i]);
    if (it != at.end()) out[i] = it->second;
  }
  return out;
}

// ---- as_strided ----------------------------------------------------------------------------

int64_t OffsetAttr(const Attrs& attrs, int64_t input_offset) {
  return attrs.Has("storage_offset") ? attrs.Int("storage_offset") : input_offset;
}

MetaOr InferAsStrided(const OpArgs& a) {
  const Tensor& x = a.inputs[0];
  const Shape& size = a.attrs.Ints("size");
  const Shape& stride = a.attrs.Ints("stride");
  const int64_t offset = OffsetAttr(a.attrs, x.storage_offset());
  TD_RETURN_IF_ERROR(CheckLayout("as_strided", size, stride, offset));
  const int64_t item = static_cast<int64_t>(ItemSize(x.dtype()));
  const int64_t need = Extent({size, stride, offset}) * item;
  const int64_t have = x.impl()->storage->nbytes();
  if (need > have) {
    return absl::InvalidArgumentError(absl::StrCat(
        "setStorage: sizes ", ShapeToString(size), ", strides ", ShapeToString(stride),
        ", storage offset ", offset, ", and itemsize ", item, " requiring a storage size of ", need,
        " are out of bounds for storage of size ", have));
  }
  return std::vector<TensorMeta>{{size, x.dtype()}};
}

ListOr AsStridedForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  const Tensor& x = a.inputs[0];
  return TensorList{
      MakeView(x, m[0].shape, a.attrs.Ints("stride"), OffsetAttr(a.attrs, x.storage_offset()))};
}

Attrs GeometryAttrs(const Layout& base, const Layout& view, bool with_input_size) {
  Attrs attrs;
  if (with_input_size) attrs.Set("input_size", base.shape);
  attrs.Set("input_stride", base.strides);
  attrs.Set("input_offset", base.offset);
  attrs.Set("size", view.shape);
  attrs.Set("stride", view.strides);
  attrs.Set("storage_offset", view.offset);
  return attrs;
}

ListOr AsStridedBackward(const BackwardArgs& b) {
  const Layout base{b.input_meta[0].shape, b.input_strides[0], b.input_offsets[0]};
  const Layout view{b.grads[0].shape(), b.attrs.Ints("stride"),
                    OffsetAttr(b.attrs, b.input_offsets[0])};
  return Apply("_as_strided_backward", {b.grads[0]}, GeometryAttrs(base, view, true));
}

// ---- _as_strided_backward / _as_strided_copy -------------------------------------------------

Layout BaseLayout(const Attrs& attrs, const Shape& shape) {
  return {shape, attrs.Ints("input_stride"), attrs.Int("input_offset")};
}
Layout ViewLayout(const Attrs& attrs) {
  return {attrs.Ints("size"), attrs.Ints("stride"), attrs.Int("storage_offset")};
}

absl::Status CheckGeometry(absl::string_view op, const Layout& base, const Layout& view) {
  TD_RETURN_IF_ERROR(CheckLayout(op, base.shape, base.strides, base.offset));
  return CheckLayout(op, view.shape, view.strides, view.offset);
}

MetaOr InferAsStridedBack(const OpArgs& a) {
  const Layout base = BaseLayout(a.attrs, a.attrs.Ints("input_size"));
  const Layout view = ViewLayout(a.attrs);
  TD_RETURN_IF_ERROR(CheckGeometry("_as_strided_backward", base, view));
  if (a.inputs[0].shape() != view.shape) {
    return absl::InvalidArgumentError(absl::StrCat("_as_strided_backward(): grad of shape ",
                                                   ShapeToString(a.inputs[0].shape()),
                                                   " does not match ", ShapeToString(view.shape)));
  }
  if (!IsFloating(a.inputs[0].dtype())) {
    return absl::InvalidArgumentError("_as_strided_backward(): expected a floating grad");
  }
  return std::vector<TensorMeta>{{base.shape, a.inputs[0].dtype()}};
}

ListOr AsStridedBackForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  const Layout base = BaseLayout(a.attrs, m[0].shape);
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Zeros(m[0]));
  TD_ASSIGN_OR_RETURN(const std::vector<int64_t> to_base,
                      CheckedViewToBase("_as_strided_backward", base, ViewLayout(a.attrs)));
  TD_ASSIGN_OR_RETURN(Tensor g, op_util::RawContiguous(a.inputs[0]));
  DispatchFloating(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* o = out.data_ptr<T>();
    const T* src = g.data_ptr<T>();
    for (size_t i = 0; i < to_base.size(); ++i) {
      if (to_base[i] >= 0) o[to_base[i]] += src[i];
    }
  });
  return TensorList{out};
}

ListOr AsStridedBackBackward(const BackwardArgs& b) {
  return Apply(
      "_as_strided_copy", {b.grads[0]},
      GeometryAttrs(BaseLayout(b.attrs, b.input_meta[0].shape), ViewLayout(b.attrs), false));
}

MetaOr InferAsStridedCopy(const OpArgs& a) {
  const Layout base = BaseLayout(a.attrs, a.inputs[0].shape());
  const Layout view = ViewLayout(a.attrs);
  TD_RETURN_IF_ERROR(CheckGeometry("_as_strided_copy", base, view));
  if (!IsFloating(a.inputs[0].dtype())) {
    return absl::InvalidArgumentError("_as_strided_copy(): expected a floating input");
  }
  return std::vector<TensorMeta>{{view.shape, a.inputs[0].dtype()}};
}

ListOr AsStridedCopyForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  const Layout base = BaseLayout(a.attrs, a.inputs[0].shape());
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Zeros(m[0]));
  TD_ASSIGN_OR_RETURN(const std::vector<int64_t> to_base,
                      CheckedViewToBase("_as_strided_copy", base, ViewLayout(a.attrs)));
  TD_ASSIGN_OR_RETURN(Tensor x, op_util::RawContiguous(a.inputs[0]));
  DispatchFloating(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* o = out.data_ptr<T>();
    const T* src = x.data_ptr<T>();
    for (size_t i = 0; i < to_base.size(); ++i) {
      if (to_base[i] >= 0) o[i] = src[to_base[i]];
    }
  });
  return TensorList{out};
}

ListOr AsStridedCopyBackward(const BackwardArgs& b) {
  return Apply(
      "_as_strided_backward", {b.grads[0]},
      GeometryAttrs(BaseLayout(b.attrs, b.input_meta[0].shape), ViewLayout(b.attrs), true));
}

using op_util::Def;

}  // namespace

void RegisterAsStridedOps(std::vector<OpDef>& t) {
  const AttrSpec size{"size", AttrType::kInts, {}, true, "shape of the view"};
  const AttrSpec stride{"stride", AttrType::kInts, {}, true, "strides of the view (elements)"};
  const AttrSpec input_stride{
      "input_stride", AttrType::kInts, {}, true, "strides of the tensor the view was taken of"};
  const AttrSpec input_offset{"input_offset",
                              AttrType::kInt,
                              {},
                              true,
                              "storage offset of the tensor the view was taken of"};
  const AttrSpec offset{"storage_offset", AttrType::kInt, {}, true, "storage offset of the view"};
  t.push_back(Def("as_strided", "AsStridedBackward0",
                  "a view of self's storage with the given size, strides and storage offset",
                  OpKind::kView, InferAsStrided, AsStridedForward, AsStridedBackward));
  t.back().schema =
      "as_strided(Tensor(a) self, SymInt[] size, SymInt[] stride, SymInt? storage_offset=None) -> "
      "Tensor(a)";
  t.push_back(Def("_as_strided_backward", "AsStridedBackwardBackward0",
                  "gradient of as_strided: grad added into zeros shaped like the input, by "
                  "storage position",
                  OpKind::kKernel, InferAsStridedBack, AsStridedBackForward, AsStridedBackBackward,
                  {{"input_size", AttrType::kInts, {}, true, "shape of the forward input"},
                   input_stride,
                   input_offset,
                   size,
                   stride,
                   offset}));
  t.push_back(Def("_as_strided_copy", "AsStridedCopyBackward0",
                  "the elements an as_strided view of a tensor laid out like the forward input "
                  "would show, copied (gradient of _as_strided_backward)",
                  OpKind::kKernel, InferAsStridedCopy, AsStridedCopyForward, AsStridedCopyBackward,
                  {input_stride, input_offset, size, stride, offset}));
}

}  // namespace tensord
