// Loss functions.
#include "absl/strings/str_cat.h"
#include "engine/ops.h"
#include "engine/ops/op_util.h"
#include "engine/ops/registry.h"
#include "engine/status_macros.h"

namespace tensord {
namespace {

using TensorList = std::vector<Tensor>;
using ListOr = absl::StatusOr<TensorList>;
using MetaOr = absl::StatusOr<std::vector<TensorMeta>>;

absl::Status CheckReduction(const std::string& r) {
  if (r == "mean" || r == "sum" || r == "none") return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(r, " is not a valid value for reduction"));
}

MetaOr InferMse(const OpArgs& a) {
  TD_RETURN_IF_ERROR(CheckReduction(a.attrs.String("reduction")));
  TD_ASSIGN_OR_RETURN(Shape s, op_util::BroadcastShapes(a.inputs[0].shape(), a.inputs[1].shape()));
  const DType dtype = op_util::ResultType(a.inputs);
  if (!IsFloating(dtype)) {
    return absl::InvalidArgumentError("\"mse_cpu\" not implemented for 'Long'");
  }
  if (a.attrs.String("reduction") != "none") s.clear();
  return std::vector<TensorMeta>{{s, dtype}};
}

// Forward without history: (input - target)^2, reduced.
ListOr MseForward(const OpArgs& a, const std::vector<TensorMeta>&) {
  TD_ASSIGN_OR_RETURN(Tensor d, ops::sub(a.inputs[0], a.inputs[1]));
  TD_ASSIGN_OR_RETURN(Tensor sq, ops::mul(d, d));
  const std::string& r = a.attrs.String("reduction");
  if (r == "none") return TensorList{sq};
  TD_ASSIGN_OR_RETURN(Tensor out, r == "sum" ? ops::sum(sq) : ops::mean(sq));
  return TensorList{out};
}

// d/dinput = grad * 2 (input - target) [/ N]; d/dtarget is its negation.
ListOr MseBackward(const BackwardArgs& b) {
  TD_ASSIGN_OR_RETURN(Tensor d, ops::sub(b.inputs[0], b.inputs[1]));
  TD_ASSIGN_OR_RETURN(Tensor g, ops::mul(d, Scalar(2.0)));
  TD_ASSIGN_OR_RETURN(g, ops::mul(g, b.grads[0]));
  if (b.attrs.String("reduction") == "mean") {
    TD_ASSIGN_OR_RETURN(g, ops::div(g, Scalar(static_cast<double>(d.numel()))));
  }
  TensorList out(2);
  if (b.needs_input_grad[0]) out[0] = g;
  if (b.needs_input_grad[1]) {
    TD_ASSIGN_OR_RETURN(out[1], ops::neg(g));
  }
  return out;
}

}  // namespace

void RegisterLossOps(std::vector<OpDef>& t) {
  OpDef d;
  d.name = "mse_loss";
  d.num_inputs = 2;
  d.grad_fn = "MseLossBackward0";
  d.doc = "mean squared error between input and target";
  d.attrs = {{"reduction", AttrType::kString, std::string("mean"), false, "'mean' | 'sum' | 'none'"}};
  d.infer = InferMse;
  d.forward = MseForward;
  d.backward = MseBackward;
  d.save_inputs = 3;
  t.push_back(d);
}

}  // namespace tensord
