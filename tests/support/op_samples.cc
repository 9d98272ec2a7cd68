#include "tests/support/op_samples.h"
#include "engine/ops/op_util.h"
#include "tests/support/op_samples_parts.h"

#include <random>

#include "engine/api.h"
#include "engine/factory.h"
#include "engine/status_macros.h"

namespace tensord::testing {
namespace {

std::vector<OpSample> BuildSamples() {
  std::vector<OpSample> v;
  // Binary arithmetic: same shape, broadcasting both ways, non-contiguous.
  for (const char* op : {"add", "sub", "mul", "div"}) {
    const Domain rhs = std::string(op) == "div" ? Domain::kNonZero : Domain::kAny;
    v.push_back(S(op, "same_shape", {In({3, 4}), In({3, 4}, rhs)}));
    v.push_back(S(op, "broadcast_rhs", {In({3, 4}), In({4}, rhs)}));
    v.push_back(S(op, "broadcast_both", {In({2, 1, 3}), In({4, 1}, rhs)}));
    v.push_back(S(op, "noncontiguous", {Nc({4, 3}), In({4, 3}, rhs)}));
    v.push_back(S(op, "scalar_rhs", {In({2, 3}), In({}, rhs)}));
  }
  v.push_back(S("add", "alpha", {In({3, 4}), In({3, 4})}, Attrs{{"alpha", 2.5}}));
  v.push_back(S("sub", "alpha", {In({3, 4}), In({4})}, Attrs{{"alpha", -1.5}}));
  v.push_back(S("rsub", "number_minus_tensor", {In({3, 4})}, Attrs{{"other", 2.0}}));
  v.push_back(S("rsub", "alpha_nc", {Nc({4, 3})}, Attrs{{"other", int64_t{1}}, {"alpha", 3.0}}));
  v.push_back(S("pow", "same_shape", {In({3, 4}, Domain::kPositive), In({3, 4})}));
  v.push_back(S("pow", "broadcast", {In({2, 3}, Domain::kPositive), In({3})}));
  v.push_back(S("pow", "noncontiguous", {Nc({3, 2}, Domain::kPositive), In({3, 2})}));
  v.push_back(
      S("pow_scalar", "fractional", {In({3, 4}, Domain::kPositive)}, Attrs{{"exponent", 2.5}}));
  v.push_back(S("pow_scalar", "square", {In({3, 4})}, Attrs{{"exponent", int64_t{2}}}));
  v.push_back(S("pow_scalar", "cube_nc", {Nc({3, 4})}, Attrs{{"exponent", int64_t{3}}}));
  v.push_back(S("pow_scalar", "negative", {In({5}, Domain::kPositive)}, Attrs{{"exponent", -1.5}}));

  struct U {
    const char* op;
    Domain domain;
  };
  for (const U& u :
       {U{"neg", Domain::kAny}, U{"abs", Domain::kNonZero}, U{"sign", Domain::kNonZero},
        U{"exp", Domain::kAny}, U{"log", Domain::kPositive}, U{"sqrt", Domain::kPositive},
        U{"sin", Domain::kAny}, U{"cos", Domain::kAny}, U{"tanh", Domain::kAny},
        U{"sigmoid", Domain::kAny}, U{"relu", Domain::kNonZero}}) {
    v.push_back(S(u.op, "matrix", {In({3, 4}, u.domain)}));
    v.push_back(S(u.op, "noncontiguous", {Nc({4, 3}, u.domain)}));
    v.push_back(S(u.op, "scalar", {In({}, u.domain)}));
  }
  v.push_back(S("clamp", "min_max", {In({3, 4})}, Attrs{{"min", -0.5}, {"max", 0.5}}));
  v.push_back(S("clamp", "min_only", {Nc({4, 3})}, Attrs{{"min", 0.1}}));
  v.push_back(S("clamp", "max_only", {In({6})}, Attrs{{"max", int64_t{0}}}));
  v.push_back(S("where", "same_shape", {Mask({2, 3}, {1, 0, 1, 0, 0, 1}), In({2, 3}), In({2, 3})}));
  v.push_back(S("where", "broadcast", {Mask({3, 1}, {1, 0, 1}), In({3, 4}), In({4})}));
  v.push_back(S("zero", "matrix", {In({3, 4})}));
  v.push_back(S("fill", "matrix", {In({3, 4})}, Attrs{{"value", 2.0}}));
  v.push_back(S("copy", "broadcast_src", {In({3, 4}), In({4})}));
  for (const char* op : {"eq", "ne", "lt", "le", "gt", "ge"}) {
    v.push_back(S(op, "ties", {In({3, 4}, Domain::kSmallInt), In({3, 4}, Domain::kSmallInt)}));
    v.push_back(S(op, "broadcast", {In({3, 4}, Domain::kSmallInt), In({4}, Domain::kSmallInt)}));
  }

  // Reductions.
  v.push_back(S("sum", "matrix", {In({3, 4})}));
  v.push_back(S("sum", "noncontiguous", {Nc({4, 3})}));
  v.push_back(S("sum", "scalar", {In({})}));
  v.push_back(S("sum_dim", "dim1", {In({3, 4})}, Attrs{{"dim", std::vector<int64_t>{1}}}));
  v.push_back(S("sum_dim", "dims_keepdim", {In({2, 3, 4})},
                Attrs{{"dim", std::vector<int64_t>{0, 2}}, {"keepdim", true}}));
  v.push_back(S("sum_dim", "negative_nc", {Nc({4, 3})}, Attrs{{"dim", std::vector<int64_t>{-1}}}));
  v.push_back(S("mean", "matrix", {In({3, 4})}));
  v.push_back(S("mean", "noncontiguous", {Nc({4, 3})}));
  v.push_back(S("mean_dim", "dim0", {In({3, 4})}, Attrs{{"dim", std::vector<int64_t>{0}}}));
  v.push_back(S("mean_dim", "dims_keepdim", {In({2, 3, 4})},
                Attrs{{"dim", std::vector<int64_t>{-1, 1}}, {"keepdim", true}}));
  for (const char* op : {"max_dim", "min_dim"}) {
    v.push_back(S(op, "dim1", {In({3, 4})}, Attrs{{"dim", int64_t{1}}}));
    v.push_back(S(op, "keepdim", {In({2, 3, 4})}, Attrs{{"dim", int64_t{-1}}, {"keepdim", true}}));
    v.push_back(S(op, "noncontiguous", {Nc({4, 3})}, Attrs{{"dim", int64_t{0}}}));
  }

  // Linear algebra.
  v.push_back(S("mm", "plain", {In({3, 4}), In({4, 5})}));
  v.push_back(S("mm", "noncontiguous", {Nc({3, 4}), Nc({4, 5})}));
  v.push_back(S("bmm", "plain", {In({2, 3, 4}), In({2, 4, 5})}));
  v.push_back(S("mv", "plain", {In({3, 4}), In({4})}));
  v.push_back(S("mv", "noncontiguous", {Nc({3, 4}), In({4})}));
  v.push_back(S("dot", "plain", {In({5}), In({5})}));
  v.push_back(S("matmul", "1d_1d", {In({4}), In({4})}));
  v.push_back(S("matmul", "2d_1d", {In({3, 4}), In({4})}));
  v.push_back(S("matmul", "1d_2d", {In({4}), In({4, 3})}));
  v.push_back(S("matmul", "2d_2d", {In({3, 4}), In({4, 2})}));
  v.push_back(S("matmul", "3d_2d", {In({2, 3, 4}), In({4, 2})}));
  v.push_back(S("matmul", "3d_1d", {In({2, 3, 4}), In({4})}));
  v.push_back(S("matmul", "batched_broadcast", {In({2, 1, 3, 4}), In({3, 4, 2})}));
  v.push_back(S("matmul", "1d_3d", {In({4}), In({2, 4, 3})}));

  // Shapes and indexing.
  v.push_back(S("view", "flatten", {In({3, 4})}, Attrs{{"size", std::vector<int64_t>{-1}}}));
  v.push_back(S("view", "split", {In({3, 4})}, Attrs{{"size", std::vector<int64_t>{2, 6}}}));
  v.push_back(
      S("reshape", "view_case", {In({3, 4})}, Attrs{{"shape", std::vector<int64_t>{4, 3}}}));
  v.push_back(S("reshape", "copy_case", {Nc({4, 3})}, Attrs{{"shape", std::vector<int64_t>{-1}}}));
  v.push_back(
      S("_reshape_alias", "plain", {In({3, 4})}, Attrs{{"size", std::vector<int64_t>{2, 2, 3}}}));
  v.push_back(S("_unsafe_view", "plain", {In({3, 4})}, Attrs{{"size", std::vector<int64_t>{12}}}));
  v.push_back(
      S("transpose", "3d", {In({2, 3, 4})}, Attrs{{"dim0", int64_t{0}}, {"dim1", int64_t{2}}}));
  v.push_back(
      S("transpose", "negative", {In({3, 4})}, Attrs{{"dim0", int64_t{-1}}, {"dim1", int64_t{0}}}));
  v.push_back(S("t", "matrix", {In({3, 4})}));
  v.push_back(S("t", "vector", {In({4})}));
  v.push_back(S("unsqueeze", "front", {In({3, 4})}, Attrs{{"dim", int64_t{0}}}));
  v.push_back(S("unsqueeze", "back", {Nc({4, 3})}, Attrs{{"dim", int64_t{-1}}}));
  v.push_back(S("squeeze", "all", {In({3, 1, 4, 1})}));
  v.push_back(S("squeeze_dim", "size1", {In({3, 1, 4})}, Attrs{{"dim", int64_t{1}}}));
  v.push_back(S("_matmul_squeeze", "plain", {In({1, 4})}, Attrs{{"dim", int64_t{0}}}));
  v.push_back(S("squeeze_dim", "noop", {In({3, 1, 4})}, Attrs{{"dim", int64_t{0}}}));
  v.push_back(
      S("expand", "new_dims", {In({3, 1})}, Attrs{{"size", std::vector<int64_t>{2, 3, 4}}}));
  v.push_back(S("expand", "keep", {In({3, 1})}, Attrs{{"size", std::vector<int64_t>{-1, 5}}}));
  v.push_back(S("expand_as", "plain", {In({3, 1}), NoGrad(In({2, 3, 4}))}));
  v.push_back(S("select", "row", {In({3, 4})}, Attrs{{"dim", int64_t{0}}, {"index", int64_t{1}}}));
  v.push_back(
      S("select", "negative", {Nc({4, 3})}, Attrs{{"dim", int64_t{1}}, {"index", int64_t{-1}}}));
  v.push_back(S(
      "slice", "step", {In({5, 4})},
      Attrs{
          {"dim", int64_t{0}}, {"start", int64_t{1}}, {"end", int64_t{5}}, {"step", int64_t{2}}}));
  v.push_back(S("slice", "negative_open_end", {In({5, 4})},
                Attrs{{"dim", int64_t{1}}, {"start", int64_t{-3}}}));
  v.push_back(S(
      "_select_backward", "plain", {In({4})},
      Attrs{
          {"input_size", std::vector<int64_t>{3, 4}}, {"dim", int64_t{0}}, {"index", int64_t{1}}}));
  v.push_back(S("_slice_backward", "plain", {In({2, 4})},
                Attrs{{"input_size", std::vector<int64_t>{5, 4}},
                      {"dim", int64_t{0}},
                      {"start", int64_t{1}},
                      {"end", int64_t{5}},
                      {"step", int64_t{2}}}));
  v.push_back(S("unbind", "dim0", {In({3, 4})}));
  v.push_back(S("unbind", "dim1", {Nc({4, 3})}, Attrs{{"dim", int64_t{1}}}));
  v.push_back(S("cat", "dim0", {In({2, 3}), In({4, 3})}));
  v.push_back(
      S("cat", "dim1_three", {In({2, 3}), Nc({2, 1}), In({2, 2})}, Attrs{{"dim", int64_t{1}}}));
  v.push_back(S("clone", "noncontiguous", {Nc({4, 3})}));
  v.push_back(S("contiguous", "noncontiguous", {Nc({4, 3})}));
  v.push_back(S("to", "same_dtype", {In({3, 4})}, Attrs{{"dtype", DType::kFloat64}}));
  v.push_back(S("_to_copy", "copy", {Nc({4, 3})}, Attrs{{"dtype", DType::kFloat64}}));

  // Losses.
  for (const char* r : {"mean", "sum", "none"}) {
    v.push_back(S("mse_loss", r, {In({3, 4}), In({3, 4})},
                  Attrs{{"reduction", op_util::ReductionEnum(r)}}));
  }
  v.push_back(S("mse_loss", "broadcast_target", {In({3, 4}), In({4})}));
  // The ops added after the core set keep their samples next to each other by area.
  AddPointwiseSamples(v);
  AddReductionSamples(v);
  AddShapeSamples(v);
  AddNNSamples(v);
  AddFactorySamples(v);
  for (const char* r : {"mean", "sum", "none"}) {
    v.push_back(S("binary_cross_entropy_with_logits", r,
                  {In({3, 4}), In({3, 4}, Domain::kPositive)},
                  Attrs{{"reduction", op_util::ReductionEnum(r)}}));
  }
  return v;
}

}  // namespace

const std::vector<OpSample>& AllSamples() {
  static const auto* samples = new std::vector<OpSample>(BuildSamples());
  return *samples;
}

std::vector<OpSample> SamplesFor(const std::string& op) {
  std::vector<OpSample> out;
  for (const OpSample& s : AllSamples())
    if (s.op == op) out.push_back(s);
  return out;
}

absl::StatusOr<std::vector<Tensor>> MakeInputs(const OpSample& sample, DType dtype, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> any(-2, 2), mag(0.5, 2);
  std::uniform_int_distribution<int> small(-2, 2), coin(0, 1);
  std::vector<Tensor> out;
  for (const InputSpec& spec : sample.inputs) {
    const DType dt = spec.floating ? dtype : spec.dtype;
    Shape storage_shape = spec.shape;
    if (spec.noncontiguous) std::reverse(storage_shape.begin(), storage_shape.end());
    std::vector<double> values(static_cast<size_t>(NumElements(storage_shape)));
    for (size_t i = 0; i < values.size(); ++i) {
      switch (spec.domain) {
        case Domain::kAny:
          values[i] = any(gen);
          break;
        case Domain::kPositive:
          values[i] = mag(gen);
          break;
        case Domain::kNonZero:
          values[i] = coin(gen) ? mag(gen) : -mag(gen);
          break;
        case Domain::kSmallInt:
          values[i] = small(gen);
          break;
        case Domain::kFixed:
          values[i] = spec.values.at(i);
          break;
      }
    }
    TD_ASSIGN_OR_RETURN(Tensor t, factory::from_values(values, storage_shape,
                                                       factory::TensorOptions().with_dtype(dt)));
    if (spec.noncontiguous) {
      // Reverse the dims back: same logical shape, reversed strides.
      Shape perm_strides = t.strides();
      std::reverse(perm_strides.begin(), perm_strides.end());
      t = MakeView(t, spec.shape, perm_strides, 0).detach();
    }
    out.push_back(t);
  }
  return out;
}

}  // namespace tensord::testing
