// A test-only op added to the table of the binaries that link this file (tensord_extra_op and
// client_new_op_test): hypot, declared by PyTorch 1.13's schema and composed from the table's
// ops. No client was built with it: the new-op tests show that both clients reach it through
// ListOps alone (the C++ client by its generic Session::Apply, the Python client by binding the
// schema as torch.hypot / x.hypot).
#include "engine/api.h"
#include "engine/op_def.h"
#include "engine/op_extension.h"
#include "engine/ops/op_util.h"
#include "engine/status_macros.h"

namespace tensord {
namespace {

absl::StatusOr<std::vector<TensorMeta>> InferHypot(const OpArgs& a) {
  TD_ASSIGN_OR_RETURN(std::vector<TensorMeta> m,
                      op_util::InferOf("mul", {a.inputs[0], a.inputs[1]}));
  m[0].dtype = op_util::ToFloating(m[0].dtype);
  return m;
}

absl::StatusOr<std::vector<Tensor>> HypotForward(const OpArgs& a, const std::vector<TensorMeta>&) {
  TD_ASSIGN_OR_RETURN(Tensor xx, ops::mul(a.inputs[0], a.inputs[0]));
  TD_ASSIGN_OR_RETURN(Tensor yy, ops::mul(a.inputs[1], a.inputs[1]));
  TD_ASSIGN_OR_RETURN(Tensor sum, ops::add(xx, yy));
  TD_ASSIGN_OR_RETURN(Tensor r, ops::sqrt(sum));
  return std::vector<Tensor>{r};
}

void AddHypot(std::vector<OpDef>& t) {
  t.push_back(op_util::Def("hypot", "", "sqrt(self^2 + other^2) (a test-only op)",
                           OpKind::kComposite, InferHypot, HypotForward, nullptr));
  t.back().schema = "hypot(Tensor self, Tensor other) -> Tensor";
}

[[maybe_unused]] const bool kAdded = AddTableExtension(AddHypot);

}  // namespace
}  // namespace tensord
