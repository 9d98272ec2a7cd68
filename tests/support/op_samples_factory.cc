// Samples of the factory family (engine/ops/factory.cc): sizes, bounds and dtypes, with and without
// the dtype inference each factory does when dtype is None.
#include "tests/support/op_samples_parts.h"

namespace tensord::testing {

void AddFactorySamples(std::vector<OpSample>& v) {
  using Ints = std::vector<int64_t>;
  for (const char* op : {"zeros", "ones", "empty", "rand", "randn"}) {
    v.push_back(S(op, "matrix", {}, Attrs{{"size", Ints{2, 3}}}));
    v.push_back(S(op, "scalar", {}, Attrs{{"size", Ints{}}}));
    v.push_back(S(op, "float64", {}, Attrs{{"size", Ints{4}}, {"dtype", DType::kFloat64}}));
  }
  v.push_back(S("zeros", "int64", {}, Attrs{{"size", Ints{3}}, {"dtype", DType::kInt64}}));
  v.push_back(S("ones", "bool_empty", {}, Attrs{{"size", Ints{0, 2}}, {"dtype", DType::kBool}}));
  v.push_back(S("full", "float", {}, Attrs{{"size", Ints{2, 2}}, {"fill_value", 1.5}}));
  v.push_back(
      S("full", "int_infers_int64", {}, Attrs{{"size", Ints{3}}, {"fill_value", int64_t{7}}}));
  v.push_back(S("full", "bool_infers_bool", {}, Attrs{{"size", Ints{2}}, {"fill_value", true}}));
  v.push_back(S("full", "dtype_given", {},
                Attrs{{"size", Ints{2}}, {"fill_value", int64_t{2}}, {"dtype", DType::kFloat64}}));
  v.push_back(S("randint", "high", {}, Attrs{{"high", int64_t{5}}, {"size", Ints{3, 2}}}));
  v.push_back(S("randint_low", "low_high", {},
                Attrs{{"low", int64_t{-3}}, {"high", int64_t{3}}, {"size", Ints{4}}}));
  v.push_back(S("randint_low", "float", {},
                Attrs{{"low", int64_t{0}},
                      {"high", int64_t{9}},
                      {"size", Ints{2}},
                      {"dtype", DType::kFloat32}}));
  v.push_back(S("arange", "int", {}, Attrs{{"end", int64_t{5}}}));
  v.push_back(S("arange", "float", {}, Attrs{{"end", 2.5}}));
  v.push_back(S("arange_start", "int", {}, Attrs{{"start", int64_t{-2}}, {"end", int64_t{3}}}));
  v.push_back(S("arange_start_step", "float_step", {},
                Attrs{{"start", int64_t{0}}, {"end", int64_t{2}}, {"step", 0.5}}));
  v.push_back(S("arange_start_step", "negative", {},
                Attrs{{"start", int64_t{5}}, {"end", int64_t{-5}}, {"step", int64_t{-3}}}));
  v.push_back(S("arange_start_step", "dtype", {},
                Attrs{{"start", int64_t{1}}, {"end", int64_t{4}}, {"dtype", DType::kFloat64}}));
  v.push_back(
      S("linspace", "five", {}, Attrs{{"start", -1.0}, {"end", 1.0}, {"steps", int64_t{5}}}));
  v.push_back(S("linspace", "one", {}, Attrs{{"start", 2.0}, {"end", 3.0}, {"steps", int64_t{1}}}));
  v.push_back(S("eye", "square", {}, Attrs{{"n", int64_t{3}}}));
  v.push_back(S("eye_m", "wide", {}, Attrs{{"n", int64_t{2}}, {"m", int64_t{4}}}));
  v.push_back(
      S("eye_m", "bool", {}, Attrs{{"n", int64_t{3}}, {"m", int64_t{2}}, {"dtype", DType::kBool}}));
  v.push_back(S("randperm", "six", {}, Attrs{{"n", int64_t{6}}}));
  v.push_back(S("normal", "matrix", {}, Attrs{{"mean", 2.0}, {"std", 0.5}, {"size", Ints{3, 2}}}));
  InputSpec ints = NoGrad(In({2, 3}));
  ints.floating = false;
  ints.dtype = DType::kInt64;
  ints.domain = Domain::kSmallInt;
  for (const char* op : {"zeros_like", "ones_like", "empty_like", "rand_like", "randn_like"}) {
    v.push_back(S(op, "matrix", {NoGrad(In({2, 3}))}));
    v.push_back(S(op, "noncontiguous", {NoGrad(Nc({3, 2}))}));
  }
  v.push_back(S("zeros_like", "int64_self", {ints}));
  v.push_back(S("ones_like", "dtype_given", {ints}, Attrs{{"dtype", DType::kFloat64}}));
  v.push_back(S("full_like", "float", {NoGrad(In({2, 3}))}, Attrs{{"fill_value", 2.5}}));
  v.push_back(
      S("full_like", "int_keeps_self_dtype", {NoGrad(In({4}))}, Attrs{{"fill_value", int64_t{3}}}));
  v.push_back(S("randint_like", "int64_self", {ints}, Attrs{{"high", int64_t{4}}}));
  v.push_back(S("randint_like_low", "float_self", {NoGrad(In({3}))},
                Attrs{{"low", int64_t{1}}, {"high", int64_t{6}}}));
  v.push_back(S("uniform", "matrix", {NoGrad(In({3, 4}))}, Attrs{{"from", -1.0}, {"to", 1.0}}));
  v.push_back(S("uniform", "defaults", {NoGrad(Nc({2, 3}))}));
}

}  // namespace tensord::testing
