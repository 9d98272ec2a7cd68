// softmax and log_softmax along a dim: shape rules, kernels (stable, by the row maximum) and
// backward rules.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "engine/api.h"
#include "engine/checked_math.h"
#include "engine/dispatch.h"
#include "engine/kernels/loop.h"
#include "engine/ops/op_util.h"
#include "engine/ops/reduce_util.h"
#include "engine/ops/registry.h"
#include "engine/status_macros.h"

namespace tensord {
namespace {

using op_util::Call;
using op_util::NotImplementedFor;
using namespace reduce_util;  // NOLINT: the reduction families' shared helpers

using TensorList = std::vector<Tensor>;
using ListOr = absl::StatusOr<TensorList>;
using MetaOr = absl::StatusOr<std::vector<TensorMeta>>;

// ---- softmax / log_softmax -----------------------------------------------------------------

template <bool kLog>
MetaOr InferSoftmax(const OpArgs& a) {
  const Tensor& x = a.inputs[0];
  TD_ASSIGN_OR_RETURN(int64_t dim, op_util::WrapDim(a.attrs.Int("dim"), x.dim()));
  if (!IsFloating(x.dtype())) {
    const bool last = x.dim() == 0 || dim == x.dim() - 1;
    return NotImplementedFor(
        last ? (kLog ? "log_softmax_lastdim_kernel_impl" : "softmax_lastdim_kernel_impl")
             : "softmax_kernel_impl",
        x.dtype());
  }
  return std::vector<TensorMeta>{x.meta()};
}

template <bool kLog>
ListOr SoftmaxForward(const OpArgs& a, const std::vector<TensorMeta>& metas) {
  const Tensor& x = a.inputs[0];
  const int64_t dim = *op_util::WrapDim(a.attrs.Int("dim"), x.dim());
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(metas[0]));
  DispatchFloating(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    ForEachLine<T, T>(out, x, dim, [](const T* in, int64_t is, T* o, int64_t os, int64_t len) {
      if (len == 0) return;
      double m = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < len; ++j) m = std::max(m, static_cast<double>(in[j * is]));
      double sum = 0;
      for (int64_t j = 0; j < len; ++j) sum += std::exp(static_cast<double>(in[j * is]) - m);
      if (kLog) {
        const double shift = m + std::log(sum);
        for (int64_t j = 0; j < len; ++j)
          o[j * os] = static_cast<T>(static_cast<double>(in[j * is]) - shift);
      } else {
        for (int64_t j = 0; j < len; ++j)
          o[j * os] = static_cast<T>(std::exp(static_cast<double>(in[j * is]) - m) / sum);
      }
    });
  });
  return TensorList{out};
}

// softmax: result * (grad - sum(grad * result, dim));  log_softmax: grad - exp(result) * sum(grad,
// dim).
template <bool kLog>
ListOr SoftmaxBackward(const BackwardArgs& b) {
  const Tensor& y = b.outputs[0];
  const Tensor& g = b.grads[0];
  const int64_t ndim = static_cast<int64_t>(b.input_meta[0].shape.size());
  if (ndim == 0) {
    // A single element: the result is constant (1, or 0 for log_softmax).
    TD_ASSIGN_OR_RETURN(Tensor r, ops::mul(g, Scalar(0.0)));
    return TensorList{r};
  }
  if (NumElements(b.input_meta[0].shape) == 0) {
    // No elements: an empty gradient (the sum along dim of a [0, 2^62] tensor would not be).
    TD_ASSIGN_OR_RETURN(Tensor r, op_util::Zeros({b.input_meta[0].shape, g.dtype()}));
    return TensorList{r};
  }
  const int64_t dim = *op_util::WrapDim(b.attrs.Int("dim"), ndim);
  Tensor r;
  if (kLog) {
    TD_ASSIGN_OR_RETURN(Tensor s, ops::sum(g, {dim}, /*keepdim=*/true));
    TD_ASSIGN_OR_RETURN(Tensor e, ops::exp(y));
    TD_ASSIGN_OR_RETURN(Tensor es, ops::mul(e, s));
    TD_ASSIGN_OR_RETURN(r, ops::sub(g, es));
  } else {
    TD_ASSIGN_OR_RETURN(Tensor gy, ops::mul(g, y));
    TD_ASSIGN_OR_RETURN(Tensor s, ops::sum(gy, {dim}, /*keepdim=*/true));
    TD_ASSIGN_OR_RETURN(Tensor d, ops::sub(g, s));
    TD_ASSIGN_OR_RETURN(r, ops::mul(y, d));
  }
  return TensorList{r};
}

}  // namespace

void RegisterSoftmaxOps(std::vector<OpDef>& t) {
  {
    OpDef d = op_util::Def("softmax", "SoftmaxBackward0", "exp(self) / sum(exp(self)) along dim",
                           OpKind::kKernel, InferSoftmax<false>, SoftmaxForward<false>,
                           SoftmaxBackward<false>, {}, 1, 0, true);
    d.schema = "softmax.int(Tensor self, int dim, ScalarType? dtype=None) -> Tensor";
    t.push_back(d);
  }
  {
    OpDef d = op_util::Def("log_softmax", "LogSoftmaxBackward0", "self - logsumexp(self) along dim",
                           OpKind::kKernel, InferSoftmax<true>, SoftmaxForward<true>,
                           SoftmaxBackward<true>, {}, 1, 0, true);
    d.schema = "log_softmax.int(Tensor self, int dim, ScalarType? dtype=None) -> Tensor";
    t.push_back(d);
  }
}

}  // namespace tensord
