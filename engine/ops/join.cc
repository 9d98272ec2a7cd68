// Joining: cat and stack (tensors into one, along an existing or a new dim) and repeat (self
// tiled), each with its shape rule, kernel and backward.
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
    kernels::CopyInto(NarrowView(out, dim, offset, n), t);
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

// ---- stack ---------------------------------------------------------------------------------

MetaOr InferStack(const OpArgs& a) {
  if (a.inputs.empty()) return absl::InvalidArgumentError("stack expects a non-empty TensorList");
  const Tensor& ref = a.inputs[0];
  TD_ASSIGN_OR_RETURN(int64_t dim, op_util::WrapDim(a.attrs.Int("dim"), ref.dim() + 1));
  for (size_t i = 1; i < a.inputs.size(); ++i) {
    if (a.inputs[i].shape() != ref.shape()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "stack expects each tensor to be equal size, but got ", ShapeToString(ref.shape()),
          " at entry 0 and ", ShapeToString(a.inputs[i].shape()), " at entry ", i));
    }
  }
  Shape s = ref.shape();
  s.insert(s.begin() + dim, static_cast<int64_t>(a.inputs.size()));
  return One(s, op_util::ResultType(a.inputs));
}

ListOr StackForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(m[0]));
  const int64_t dim = *op_util::WrapDim(a.attrs.Int("dim"), a.inputs[0].dim() + 1);
  for (size_t i = 0; i < a.inputs.size(); ++i) {
    kernels::CopyInto(SelectView(out, dim, static_cast<int64_t>(i)), a.inputs[i]);
  }
  return TensorList{out};
}

ListOr StackBackward(const BackwardArgs& b) {
  const auto ndim = static_cast<int64_t>(b.input_meta[0].shape.size());
  const int64_t dim = *op_util::WrapDim(b.attrs.Int("dim"), ndim + 1);
  return ops::unbind(b.grads[0], dim);
}

// ---- repeat --------------------------------------------------------------------------------

MetaOr InferRepeat(const OpArgs& a) {
  const Tensor& x = a.inputs[0];
  const std::vector<int64_t>& repeats = a.attrs.Ints("repeats");
  if (static_cast<int64_t>(repeats.size()) < x.dim()) {
    return absl::InvalidArgumentError(
        "Number of dimensions of repeat dims can not be smaller than number of dimensions of "
        "tensor");
  }
  const size_t lead = repeats.size() - x.shape().size();
  Shape target(repeats.size());
  for (size_t i = 0; i < repeats.size(); ++i) {
    const int64_t have = i < lead ? 1 : x.shape()[i - lead];
    if (!CheckedMul(have, repeats[i], &target[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat(kNumelOverflow, ": repeat(): size ", have, " repeated ", repeats[i],
                       " times at dimension ", i, " does not fit in int64"));
    }
  }
  for (const int64_t s : target) {
    if (s < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Trying to create tensor with negative dimension ", s, ": ", ShapeToString(target)));
    }
  }
  return One(target, x.dtype());
}

// Views out as [r0, s0, r1, s1, ...] and copies self (stride 0 over the r_i) into it.
ListOr RepeatForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  const Tensor& x = a.inputs[0];
  const std::vector<int64_t>& repeats = a.attrs.Ints("repeats");
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(m[0]));
  if (out.numel() == 0) return TensorList{out};
  const size_t lead = repeats.size() - x.shape().size();
  Shape shape, out_st, src_st;
  for (size_t i = 0; i < repeats.size(); ++i) {
    const int64_t s = i < lead ? 1 : x.shape()[i - lead];
    const int64_t xs = i < lead ? 0 : x.strides()[i - lead];
    shape.insert(shape.end(), {repeats[i], s});
    out_st.insert(out_st.end(), {WrappingMul(s, out.strides()[i]), out.strides()[i]});
    src_st.insert(src_st.end(), {0, xs});
  }
  kernels::CopyInto(MakeView(out, shape, out_st, 0),
                    MakeView(x, shape, src_st, x.storage_offset()));
  return TensorList{out};
}

// PyTorch's repeat_backward: sum the leading new dims, then each repeated dim's tiles.
ListOr RepeatBackward(const BackwardArgs& b) {
  const std::vector<int64_t>& repeats = b.attrs.Ints("repeats");
  const Shape& input_shape = b.input_meta[0].shape;
  // Nothing repeated or nothing to repeat: zeros (and no reshape of a [0, 2^62] gradient).
  if (NumElements(input_shape) == 0 ||
      std::find(repeats.begin(), repeats.end(), 0) != repeats.end()) {
    TD_ASSIGN_OR_RETURN(Tensor z, op_util::Zeros({input_shape, b.grads[0].dtype()}));
    return TensorList{z};
  }
  Tensor g = b.grads[0];
  const size_t lead = repeats.size() - input_shape.size();
  if (lead > 0) {
    std::vector<int64_t> dims;
    for (size_t i = 0; i < lead; ++i) dims.push_back(static_cast<int64_t>(i));
    TD_ASSIGN_OR_RETURN(g, ops::sum(g, dims, /*keepdim=*/false));
  }
  Shape grad_size;
  std::vector<int64_t> sum_dims;
  for (size_t d = 0; d < input_shape.size(); ++d) {
    const int64_t r = repeats[d + lead];
    if (r == 1) {
      grad_size.push_back(input_shape[d]);
      continue;
    }
    grad_size.push_back(r);
    sum_dims.push_back(static_cast<int64_t>(grad_size.size()) - 1);
    grad_size.push_back(input_shape[d]);
  }
  if (!sum_dims.empty()) {
    TD_ASSIGN_OR_RETURN(g, ops::reshape(g, grad_size));
    TD_ASSIGN_OR_RETURN(g, ops::sum(g, sum_dims, /*keepdim=*/false));
  }
  return TensorList{g};
}

}  // namespace

void RegisterJoinOps(std::vector<OpDef>& t) {
  {
    OpDef d = Def("cat", "CatBackward0", "concatenation along dim", OpKind::kKernel, InferCat,
                  CatForward, CatBackward);
    d.num_inputs = kVariadic;
    d.schema = "cat(Tensor[] tensors, int dim=0) -> Tensor";
    t.push_back(d);
  }
  t.push_back(Def("repeat", "RepeatBackward0", "self tiled repeats[i] times along each dim",
                  OpKind::kKernel, InferRepeat, RepeatForward, RepeatBackward));
  t.back().schema = "repeat(Tensor self, SymInt[] repeats) -> Tensor";
  t.push_back(Def("stack", "StackBackward0", "the tensors joined along a new dim", OpKind::kKernel,
                  InferStack, StackForward, StackBackward, {}, kVariadic));
  t.back().schema = "stack(Tensor[] tensors, int dim=0) -> Tensor";
}

}  // namespace tensord
