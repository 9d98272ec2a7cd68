// Copies: clone, contiguous (self itself when already contiguous) and to(dtype) (with the
// internal _to_copy that carries its node, ToCopyBackward0).
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

void RegisterCopyOps(std::vector<OpDef>& t) {
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
