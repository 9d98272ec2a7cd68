// Reductions: sum, mean (whole tensor or over dims), max/min along a dim with indices.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/factory.h"
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

DType SumDType(DType t) { return IsFloating(t) ? t : DType::kInt64; }

// Reduced dims as a sorted mask; an empty list means every dim, as in PyTorch 1.13.
absl::StatusOr<std::vector<bool>> ReducedDims(absl::string_view /*op*/, int64_t ndim,
                                              const std::vector<int64_t>& dims) {
  std::vector<bool> mask(static_cast<size_t>(ndim), dims.empty());
  for (int64_t d : dims) {
    TD_ASSIGN_OR_RETURN(int64_t w, op_util::WrapDim(d, ndim));
    if (ndim == 0) continue;
    if (mask[static_cast<size_t>(w)]) {
      return absl::InvalidArgumentError(
          absl::StrCat("dim ", w, " appears multiple times in the list of dims"));
    }
    mask[static_cast<size_t>(w)] = true;
  }
  return mask;
}

Shape ReducedShape(const Shape& in, const std::vector<bool>& mask, bool keepdim) {
  Shape out;
  for (size_t d = 0; d < in.size(); ++d) {
    if (!mask[d]) {
      out.push_back(in[d]);
    } else if (keepdim) {
      out.push_back(1);
    }
  }
  return out;
}

// `t` seen with a size-1 dim kept for every reduced dim (shares storage; t is contiguous).
Tensor KeepdimAlias(const Tensor& t, const Shape& in_shape, const std::vector<bool>& mask) {
  Shape kd = ReducedShape(in_shape, mask, /*keepdim=*/true);
  return Tensor(std::make_shared<TensorImpl>(t.impl()->storage, kd, ContiguousStrides(kd), 0,
                                             t.dtype(), t.impl()->version));
}

absl::Status CheckMeanDType(DType t) {
  if (!IsFloating(t)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "mean(): could not infer output dtype. Input dtype must be either a floating point or "
        "complex dtype. Got: ",
        t == DType::kInt64 ? "Long" : "Bool"));
  }
  return absl::OkStatus();
}

MetaOr InferSum(const OpArgs& a) {
  return std::vector<TensorMeta>{{{}, SumDType(a.inputs[0].dtype())}};
}

MetaOr InferMean(const OpArgs& a) {
  TD_RETURN_IF_ERROR(CheckMeanDType(a.inputs[0].dtype()));
  return std::vector<TensorMeta>{{{}, a.inputs[0].dtype()}};
}

MetaOr InferSumDim(const OpArgs& a) {
  TD_ASSIGN_OR_RETURN(auto mask, ReducedDims("sum", a.inputs[0].dim(), a.attrs.Ints("dim")));
  return std::vector<TensorMeta>{{ReducedShape(a.inputs[0].shape(), mask, a.attrs.Bool("keepdim")),
                                  SumDType(a.inputs[0].dtype())}};
}

MetaOr InferMeanDim(const OpArgs& a) {
  TD_RETURN_IF_ERROR(CheckMeanDType(a.inputs[0].dtype()));
  TD_ASSIGN_OR_RETURN(auto mask, ReducedDims("mean", a.inputs[0].dim(), a.attrs.Ints("dim")));
  return std::vector<TensorMeta>{
      {ReducedShape(a.inputs[0].shape(), mask, a.attrs.Bool("keepdim")), a.inputs[0].dtype()}};
}

ListOr SumLike(const OpArgs& a, const std::vector<TensorMeta>& metas, bool all, bool mean) {
  const Tensor& x = a.inputs[0];
  std::vector<bool> mask(static_cast<size_t>(x.dim()), true);
  if (!all) {
    TD_ASSIGN_OR_RETURN(mask, ReducedDims("sum", x.dim(), a.attrs.Ints("dim")));
  }
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(metas[0]));
  kernels::SumToKeepdim(KeepdimAlias(out, x.shape(), mask), x);
  if (mean) {
    Shape reduced;
    for (size_t d = 0; d < mask.size(); ++d)
      if (mask[d]) reduced.push_back(x.shape()[d]);
    const int64_t count = NumElements(reduced);  // a part of x's shape: exact
    DispatchFloating(out.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* p = out.data_ptr<T>();
      const T n = static_cast<T>(count);
      for (int64_t i = 0; i < out.numel(); ++i) p[i] = p[i] / n;
    });
  }
  return TensorList{out};
}

ListOr SumForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  return SumLike(a, m, true, false);
}
ListOr SumDimForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  return SumLike(a, m, false, false);
}
ListOr MeanForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  return SumLike(a, m, true, true);
}
ListOr MeanDimForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  return SumLike(a, m, false, true);
}

// Broadcasts a reduced gradient back to the input's shape.
absl::StatusOr<Tensor> ExpandReducedGrad(const BackwardArgs& b, bool all) {
  const Shape& in_shape = b.input_meta[0].shape;
  Tensor g = b.grads[0];
  if (!all && !b.attrs.Bool("keepdim")) {
    TD_ASSIGN_OR_RETURN(
        auto mask, ReducedDims("sum", static_cast<int64_t>(in_shape.size()), b.attrs.Ints("dim")));
    for (size_t d = 0; d < mask.size(); ++d) {
      if (mask[d]) {
        TD_ASSIGN_OR_RETURN(g, ops::unsqueeze(g, static_cast<int64_t>(d)));
      }
    }
  }
  return ops::expand(g, in_shape);
}

ListOr SumBackward(const BackwardArgs& b) {
  TD_ASSIGN_OR_RETURN(Tensor g, ExpandReducedGrad(b, true));
  return TensorList{g};
}
ListOr SumDimBackward(const BackwardArgs& b) {
  TD_ASSIGN_OR_RETURN(Tensor g, ExpandReducedGrad(b, false));
  return TensorList{g};
}
ListOr MeanBackwardImpl(const BackwardArgs& b, bool all) {
  TD_ASSIGN_OR_RETURN(Tensor g, ExpandReducedGrad(b, all));
  const int64_t in_numel = NumElements(b.input_meta[0].shape);
  const int64_t out_numel = NumElements(b.grads[0].shape());
  const int64_t count = out_numel == 0 ? 0 : in_numel / out_numel;
  TD_ASSIGN_OR_RETURN(g, ops::div(g, Scalar(static_cast<double>(count))));
  return TensorList{g};
}
ListOr MeanBackward(const BackwardArgs& b) { return MeanBackwardImpl(b, true); }
ListOr MeanDimBackward(const BackwardArgs& b) { return MeanBackwardImpl(b, false); }

MetaOr InferMaxMinDim(const OpArgs& a, absl::string_view op) {
  const Tensor& x = a.inputs[0];
  TD_ASSIGN_OR_RETURN(int64_t dim, op_util::WrapDim(a.attrs.Int("dim"), x.dim()));
  if (x.dim() > 0 && x.shape()[static_cast<size_t>(dim)] == 0) {
    return absl::OutOfRangeError(
        absl::StrCat(op, "(): Expected reduction dim ", dim, " to have non-zero size."));
  }
  std::vector<bool> mask(static_cast<size_t>(x.dim()), false);
  if (x.dim() > 0) mask[static_cast<size_t>(dim)] = true;
  Shape s = ReducedShape(x.shape(), mask, a.attrs.Bool("keepdim"));
  return std::vector<TensorMeta>{{s, x.dtype()}, {s, DType::kInt64}};
}
MetaOr InferMaxDim(const OpArgs& a) { return InferMaxMinDim(a, "max"); }
MetaOr InferMinDim(const OpArgs& a) { return InferMaxMinDim(a, "min"); }

ListOr MaxMinDimForward(const OpArgs& a, const std::vector<TensorMeta>& metas, bool is_max) {
  const Tensor& x = a.inputs[0];
  TD_ASSIGN_OR_RETURN(Tensor values, op_util::Alloc(metas[0]));
  TD_ASSIGN_OR_RETURN(Tensor indices, op_util::Alloc(metas[1]));
  if (x.dim() == 0) {
    kernels::CopyInto(values, x);
    indices.data_ptr<int64_t>()[0] = 0;
    return TensorList{values, indices};
  }
  const int64_t dim = *op_util::WrapDim(a.attrs.Int("dim"), x.dim());
  std::vector<bool> mask(static_cast<size_t>(x.dim()), false);
  mask[static_cast<size_t>(dim)] = true;
  kernels::MaxMinAlongDim(KeepdimAlias(values, x.shape(), mask),
                          KeepdimAlias(indices, x.shape(), mask), x, dim, is_max);
  return TensorList{values, indices};
}
ListOr MaxDimForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  return MaxMinDimForward(a, m, true);
}
ListOr MinDimForward(const OpArgs& a, const std::vector<TensorMeta>& m) {
  return MaxMinDimForward(a, m, false);
}

// The gradient goes to the selected element of each slice: where(arange == index, grad, 0).
ListOr MaxMinDimBackward(const BackwardArgs& b) {
  const Shape& in_shape = b.input_meta[0].shape;
  Tensor g = b.grads[0];
  if (in_shape.empty()) return TensorList{g};
  // No elements, no gradient to place (and no arange over a reduced dim of 2^62 to build).
  if (NumElements(in_shape) == 0) {
    TD_ASSIGN_OR_RETURN(Tensor z, op_util::Zeros({in_shape, g.dtype()}));
    return TensorList{z};
  }
  const int64_t dim = *op_util::WrapDim(b.attrs.Int("dim"), static_cast<int64_t>(in_shape.size()));
  Tensor idx = b.outputs[1];
  if (!b.attrs.Bool("keepdim")) {
    TD_ASSIGN_OR_RETURN(g, ops::unsqueeze(g, dim));
    TD_ASSIGN_OR_RETURN(idx, ops::unsqueeze(idx, dim));
  }
  TD_ASSIGN_OR_RETURN(Tensor positions,
                      factory::arange(0, static_cast<double>(in_shape[static_cast<size_t>(dim)]), 1,
                                      DType::kInt64));
  Shape pos_shape(in_shape.size(), 1);
  pos_shape[static_cast<size_t>(dim)] = in_shape[static_cast<size_t>(dim)];
  TD_ASSIGN_OR_RETURN(positions, ops::view(positions, pos_shape));
  TD_ASSIGN_OR_RETURN(Tensor mask, ops::eq(positions, idx));
  TD_ASSIGN_OR_RETURN(Tensor zero, ops::scalar_tensor(Scalar(0.0)));
  TD_ASSIGN_OR_RETURN(Tensor r, ops::where(mask, g, zero));
  return TensorList{r};
}

OpDef Reduction(absl::string_view name, absl::string_view grad_fn, absl::string_view doc,
                InferFn infer, ForwardFn forward, BackwardFn backward) {
  OpDef d;
  d.name = name;
  d.num_inputs = 1;
  d.grad_fn = grad_fn;
  d.doc = doc;
  d.infer = infer;
  d.forward = forward;
  d.backward = backward;
  return d;
}

}  // namespace

void RegisterReductionOps(std::vector<OpDef>& t) {
  t.push_back(
      Reduction("sum", "SumBackward0", "sum of all elements", InferSum, SumForward, SumBackward));
  t.back().schema = "sum(Tensor self, *, ScalarType? dtype=None) -> Tensor";
  {
    OpDef d = Reduction("sum_dim", "SumBackward1", "sum over dims", InferSumDim, SumDimForward,
                        SumDimBackward);
    d.schema =
        "sum.dim_IntList(Tensor self, int[1]? dim, bool keepdim=False, *, ScalarType? dtype=None) "
        "-> Tensor";
    t.push_back(d);
  }
  t.push_back(Reduction("mean", "MeanBackward0", "mean of all elements (floating only)", InferMean,
                        MeanForward, MeanBackward));
  t.back().schema = "mean(Tensor self, *, ScalarType? dtype=None) -> Tensor";
  {
    OpDef d = Reduction("mean_dim", "MeanBackward1", "mean over dims (floating only)", InferMeanDim,
                        MeanDimForward, MeanDimBackward);
    d.save_inputs = 1u;  // PyTorch 1.13 keeps self (for its sizes)
    d.schema =
        "mean.dim(Tensor self, int[1]? dim, bool keepdim=False, *, ScalarType? dtype=None) -> "
        "Tensor";
    t.push_back(d);
  }
  for (bool is_max : {true, false}) {
    OpDef d = Reduction(is_max ? "max_dim" : "min_dim", is_max ? "MaxBackward0" : "MinBackward0",
                        is_max ? "(values, indices) of the maximum along dim"
                               : "(values, indices) of the minimum along dim",
                        is_max ? InferMaxDim : InferMinDim, is_max ? MaxDimForward : MinDimForward,
                        MaxMinDimBackward);
    d.save_outputs = true;
    d.save_output_mask = 2u;  // the indices only
    d.num_outputs = 2;
    d.differentiable_outputs = 1;
    d.schema = is_max ? "max.dim(Tensor self, int dim, bool keepdim=False) -> (Tensor values, "
                        "Tensor indices)"
                      : "min.dim(Tensor self, int dim, bool keepdim=False) -> (Tensor values, "
                        "Tensor indices)";
    t.push_back(d);
  }
}

}  // namespace tensord
