// Scans: cumsum (its in-place form cumsum_ derived), shape rule, kernel and backward.
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

// ---- cumsum --------------------------------------------------------------------------------

MetaOr InferCumsum(const OpArgs& a) {
  const Tensor& x = a.inputs[0];
  TD_RETURN_IF_ERROR(op_util::WrapDim(a.attrs.Int("dim"), x.dim()).status());
  return std::vector<TensorMeta>{{x.shape(), AccumulateDType(x.dtype())}};
}

ListOr CumsumForward(const OpArgs& a, const std::vector<TensorMeta>& metas) {
  const Tensor& x = a.inputs[0];
  const int64_t dim = *op_util::WrapDim(a.attrs.Int("dim"), x.dim());
  TD_ASSIGN_OR_RETURN(Tensor out, op_util::Alloc(metas[0]));
  DispatchDType(x.dtype(), [&](auto itag) {
    using I = typename decltype(itag)::type;
    DispatchDType(out.dtype(), [&](auto otag) {
      using O = typename decltype(otag)::type;
      if constexpr (std::is_same_v<O, bool> ||
                    (std::is_floating_point_v<I> && !std::is_same_v<I, O>)) {
        return;  // not a combination the shape rule produces
      } else {
        // Accumulates in double for floats (as PyTorch's CPU kernel), in int64 otherwise.
        using Acc = std::conditional_t<std::is_floating_point_v<O>, double, int64_t>;
        ForEachLine<I, O>(out, x, dim, [](const I* in, int64_t is, O* o, int64_t os, int64_t len) {
          Acc acc = 0;
          for (int64_t j = 0; j < len; ++j) {
            if constexpr (std::is_same_v<Acc, int64_t>) {
              acc = WrappingAdd(acc, static_cast<Acc>(in[j * is]));  // wraps, as PyTorch's
            } else {
              acc += static_cast<Acc>(in[j * is]);
            }
            o[j * os] = static_cast<O>(acc);
          }
        });
      }
    });
  });
  return TensorList{out};
}

// The reversed cumulative sum of grad along dim: sum(grad) - cumsum(grad) + grad.
ListOr CumsumBackward(const BackwardArgs& b) {
  const Tensor& g = b.grads[0];
  const Shape& shape = b.input_meta[0].shape;
  if (shape.empty()) return TensorList{g};
  const int64_t dim = *op_util::WrapDim(b.attrs.Int("dim"), static_cast<int64_t>(shape.size()));
  if (NumElements(shape) <= 1 || shape[static_cast<size_t>(dim)] == 1) return TensorList{g};
  TD_ASSIGN_OR_RETURN(Tensor total, ops::sum(g, {dim}, /*keepdim=*/true));
  TD_ASSIGN_OR_RETURN(Tensor cs, Call("cumsum", {g}, Attrs{{"dim", dim}}));
  TD_ASSIGN_OR_RETURN(Tensor r, ops::sub(total, cs));
  TD_ASSIGN_OR_RETURN(r, ops::add(r, g));
  return TensorList{r};
}

}  // namespace

void RegisterScanOps(std::vector<OpDef>& t) {
  {
    OpDef d =
        op_util::Def("cumsum", "CumsumBackward0", "cumulative sum along dim (integers give int64)",
                     OpKind::kKernel, InferCumsum, CumsumForward, CumsumBackward);
    d.schema = "cumsum(Tensor self, int dim, *, ScalarType? dtype=None) -> Tensor";
    d.result_like_self = true;
    t.push_back(d);
  }
}

}  // namespace tensord
