// Samples of the pointwise ops added after the core set.
#include "tests/support/op_samples_parts.h"

namespace tensord::testing {
namespace {

// An int64 input (keeps its dtype whatever the sample's floating dtype; never differentiated).
InputSpec Int(Shape shape, Domain domain = Domain::kSmallInt, std::vector<double> values = {}) {
  InputSpec s = In(std::move(shape), domain);
  s.floating = false;
  s.dtype = DType::kInt64;
  s.values = std::move(values);
  s.differentiable = false;
  return s;
}

InputSpec Fixed(Shape shape, std::vector<double> values) {
  InputSpec s = In(std::move(shape), Domain::kFixed);
  s.values = std::move(values);
  return s;
}

}  // namespace

void AddPointwiseSamples(std::vector<OpSample>& v) {
  // Unary math, away from the points where they are not differentiable or defined.
  struct U {
    const char* op;
    Domain domain;
  };
  for (const U& u : {U{"reciprocal", Domain::kNonZero}, U{"rsqrt", Domain::kPositive},
                     U{"log1p", Domain::kPositive}, U{"floor", Domain::kAny},
                     U{"ceil", Domain::kAny}, U{"round", Domain::kAny}, U{"trunc", Domain::kAny}}) {
    v.push_back(S(u.op, "matrix", {In({3, 4}, u.domain)}));
    v.push_back(S(u.op, "noncontiguous", {Nc({4, 3}, u.domain)}));
    v.push_back(S(u.op, "scalar", {In({}, u.domain)}));
  }
  v.push_back(
      S("log1p", "near_zero_and_negative", {Fixed({6}, {-0.5, -0.25, 1e-3, -1e-4, 0.125, 3.0})}));
  for (const char* op : {"floor", "ceil", "round", "trunc"}) {
    v.push_back(S(op, "int_input", {Int({2, 3})}));
  }

  v.push_back(S("leaky_relu", "matrix", {In({3, 4}, Domain::kNonZero)}));
  v.push_back(S("leaky_relu", "slope_noncontiguous", {Nc({4, 3}, Domain::kNonZero)},
                Attrs{{"negative_slope", 0.2}}));
  v.push_back(S("leaky_relu", "scalar_large_slope", {In({}, Domain::kNonZero)},
                Attrs{{"negative_slope", 1.5}}));
  for (const char* approx : {"none", "tanh"}) {
    const Attrs a{{"approximate", std::string(approx)}};
    v.push_back(S("gelu", std::string("matrix_") + approx, {In({3, 4})}, a));
    v.push_back(S("gelu", std::string("noncontiguous_") + approx, {Nc({4, 3})}, a));
    v.push_back(S("gelu", std::string("scalar_") + approx, {In({})}, a));
    v.push_back(
        S("_gelu_backward", std::string("same_shape_") + approx, {In({3, 4}), In({3, 4})}, a));
    v.push_back(
        S("_gelu_backward", std::string("noncontiguous_") + approx, {In({2, 3}), Nc({2, 3})}, a));
  }
  v.push_back(S("gelu", "default", {In({5})}));

  // Binary: same shape, broadcasting both ways, non-contiguous, 0-d, integer mixes.
  for (const char* op : {"fmod", "remainder", "maximum", "minimum"}) {
    const std::string o = op;
    const Domain rhs = (o == "fmod" || o == "remainder") ? Domain::kNonZero : Domain::kAny;
    v.push_back(S(op, "same_shape", {In({3, 4}), In({3, 4}, rhs)}));
    v.push_back(S(op, "broadcast_rhs", {In({3, 4}), In({4}, rhs)}));
    v.push_back(S(op, "broadcast_both", {In({2, 1, 3}), In({4, 1}, rhs)}));
    v.push_back(S(op, "noncontiguous", {Nc({4, 3}), Nc({4, 3}, rhs)}));
    v.push_back(S(op, "scalar_rhs", {In({2, 3}), In({}, rhs)}));
    v.push_back(S(op, "scalar_lhs", {In({}), In({2, 3}, rhs)}));
    v.push_back(S(op, "float_int", {In({2, 3}), Int({3}, Domain::kFixed, {2, -3, 1})}));
    v.push_back(S(
        op, "int_int",
        {Int({2, 3}, Domain::kFixed, {-7, 7, -5, 5, 0, 3}), Int({3}, Domain::kFixed, {2, -3, 4})}));
  }
  v.push_back(S("fmod", "signs", {Fixed({4}, {-3.5, 3.5, -3.5, 3.5}), Fixed({4}, {2, -2, -2, 2})}));
  v.push_back(
      S("remainder", "signs", {Fixed({4}, {-3.5, 3.5, -3.5, 3.5}), Fixed({4}, {2, -2, -2, 2})}));
  v.push_back(S("maximum", "bool_bool", {Mask({3}, {1, 0, 0}), Mask({3}, {1, 1, 0})}));
  v.push_back(S("minimum", "int_float_scalar", {Int({2, 2}), In({})}));
  // pow.Scalar: a number to tensor powers.
  v.push_back(S("pow_scalar_base", "float_base", {In({3, 4})}, Attrs{{"self", 2.5}}));
  v.push_back(S("pow_scalar_base", "int_base_nc", {Nc({4, 3})}, Attrs{{"self", int64_t{3}}}));
  v.push_back(
      S("pow_scalar_base", "fractional_base", {In({3}, Domain::kPositive)}, Attrs{{"self", 0.5}}));
  v.push_back(S("pow_scalar_base", "int_exponent",
                {Int({2, 3}, Domain::kFixed, {0, 1, 2, 3, 1, 2})}, Attrs{{"self", int64_t{2}}}));
  v.push_back(S("max_other", "broadcast_rhs", {In({3, 4}), In({4})}));
  v.push_back(S("min_other", "noncontiguous", {Nc({4, 3}), Nc({4, 3})}));

  // Logical: bool results, any input dtype (non-zero is true), broadcasting.
  for (const char* op : {"logical_and", "logical_or"}) {
    v.push_back(
        S(op, "float_ties", {In({3, 4}, Domain::kSmallInt), In({3, 4}, Domain::kSmallInt)}));
    v.push_back(S(op, "broadcast", {In({3, 4}, Domain::kSmallInt), In({4}, Domain::kSmallInt)}));
    v.push_back(S(op, "bool_int", {Mask({2, 3}, {1, 0, 1, 0, 1, 1}), Int({3})}));
    v.push_back(S(op, "noncontiguous", {Nc({4, 3}, Domain::kSmallInt), In({}, Domain::kSmallInt)}));
  }
  v.push_back(S("logical_not", "float", {In({3, 4}, Domain::kSmallInt)}));
  v.push_back(S("logical_not", "bool", {Mask({4}, {1, 0, 0, 1})}));
  v.push_back(S("logical_not", "noncontiguous", {Nc({3, 2}, Domain::kSmallInt)}));
  v.push_back(S("logical_not", "scalar", {In({}, Domain::kSmallInt)}));
}

}  // namespace tensord::testing
