// Samples of the reduction ops added after the core set.
#include <cmath>

#include "tests/support/op_samples_parts.h"

namespace tensord::testing {
namespace {

using Ints = std::vector<int64_t>;

// An int64 input (keeps its dtype whatever the sample's floating dtype; never differentiated).
InputSpec Int(Shape shape, Domain domain = Domain::kSmallInt) {
  InputSpec s = In(std::move(shape), domain);
  s.floating = false;
  s.dtype = DType::kInt64;
  s.differentiable = false;
  return s;
}

InputSpec Fixed(Shape shape, std::vector<double> values) {
  InputSpec s = In(std::move(shape), Domain::kFixed);
  s.values = std::move(values);
  return s;
}

}  // namespace

void AddReductionSamples(std::vector<OpSample>& v) {
  // prod: values away from 0 (|x| >= 0.5), plus slices with one and two zeros.
  v.push_back(S("prod", "matrix", {In({3, 4}, Domain::kNonZero)}));
  v.push_back(S("prod", "noncontiguous", {Nc({4, 3}, Domain::kNonZero)}));
  v.push_back(S("prod", "scalar", {In({}, Domain::kNonZero)}));
  v.push_back(S("prod", "one_zero", {Fixed({2, 3}, {1.5, -0.5, 0, 2, 0.75, -1.25})}));
  v.push_back(S("prod", "two_zeros", {Fixed({5}, {1.5, 0, -2, 0, 0.5})}));
  v.push_back(S("prod", "int", {Int({2, 3})}));
  v.push_back(S("prod", "bool", {Mask({3}, {1, 1, 0})}));
  v.push_back(S("prod_dim", "dim1", {In({3, 4}, Domain::kNonZero)}, Attrs{{"dim", int64_t{1}}}));
  v.push_back(S("prod_dim", "keepdim", {In({2, 3, 4}, Domain::kNonZero)},
                Attrs{{"dim", int64_t{-1}}, {"keepdim", true}}));
  v.push_back(
      S("prod_dim", "noncontiguous", {Nc({4, 3}, Domain::kNonZero)}, Attrs{{"dim", int64_t{0}}}));
  v.push_back(S("prod_dim", "vector", {In({5}, Domain::kNonZero)}, Attrs{{"dim", int64_t{0}}}));
  v.push_back(S("prod_dim", "scalar", {In({}, Domain::kNonZero)},
                Attrs{{"dim", int64_t{-1}}, {"keepdim", true}}));
  // Rows with no, one, two and three zeros.
  v.push_back(S("prod_dim", "zeros",
                {Fixed({4, 3}, {1.5, -2, 0.5, 0, 2, -1.5, 0, 0, 1.25, 0, 0, 0})},
                Attrs{{"dim", int64_t{1}}}));
  v.push_back(
      S("prod_dim", "zeros_keepdim_nc", {[] {
          InputSpec s = Fixed({3, 4}, {1.5, -2, 0.5, 0, 0, -1.5, 0, 0, 1.25, 0.5, 0.75, -1});
          s.noncontiguous = true;
          return s;
        }()},
        Attrs{{"dim", int64_t{0}}, {"keepdim", true}}));
  v.push_back(S("prod_dim", "int", {Int({2, 3})}, Attrs{{"dim", int64_t{0}}}));

  // max / min of everything: distinct random values (ties would split the gradient).
  for (const char* op : {"max", "min"}) {
    v.push_back(S(op, "matrix", {In({3, 4})}));
    v.push_back(S(op, "noncontiguous", {Nc({4, 3})}));
    v.push_back(S(op, "scalar", {In({})}));
    v.push_back(S(op, "cube", {In({2, 3, 4})}));
    v.push_back(S(op, "int", {Int({3, 4})}));
    v.push_back(S(op, "bool", {Mask({3}, {0, 1, 0})}));
  }

  // argmax / argmin: int64 indices, ties (first wins) included.
  for (const char* op : {"argmax", "argmin"}) {
    v.push_back(S(op, "flat", {In({3, 4})}));
    v.push_back(S(op, "flat_keepdim", {In({3, 4})}, Attrs{{"keepdim", true}}));
    v.push_back(S(op, "dim1", {In({3, 4})}, Attrs{{"dim", int64_t{1}}}));
    v.push_back(
        S(op, "dim_keepdim", {In({2, 3, 4})}, Attrs{{"dim", int64_t{-2}}, {"keepdim", true}}));
    v.push_back(S(op, "noncontiguous", {Nc({4, 3})}, Attrs{{"dim", int64_t{0}}}));
    v.push_back(S(op, "flat_noncontiguous", {Nc({4, 3})}));
    v.push_back(S(op, "ties", {In({3, 4}, Domain::kSmallInt)}, Attrs{{"dim", int64_t{1}}}));
    v.push_back(S(op, "flat_ties", {In({3, 4}, Domain::kSmallInt)}));
    v.push_back(S(op, "scalar", {In({})}, Attrs{{"dim", int64_t{0}}}));
    v.push_back(S(op, "int", {Int({3, 4})}, Attrs{{"dim", int64_t{0}}}));
  }

  // norm: p = 2 by default; others away from 0 where they are not differentiable.
  v.push_back(S("norm", "default", {In({3, 4})}));
  v.push_back(S("norm_dim", "dim1", {In({3, 4})}, Attrs{{"dim", Ints{1}}}));
  v.push_back(S("norm_dim", "dims_keepdim", {In({2, 3, 4})},
                Attrs{{"dim", Ints{0, 2}}, {"keepdim", true}}));
  v.push_back(
      S("norm_dim", "keepdim_all", {In({2, 3})}, Attrs{{"dim", Ints{0, 1}}, {"keepdim", true}}));
  v.push_back(S("norm_dim", "noncontiguous", {Nc({4, 3})}, Attrs{{"dim", Ints{-1}}}));
  v.push_back(S("norm", "scalar", {In({}, Domain::kNonZero)}));
  v.push_back(
      S("norm_dim", "p1", {In({3, 4}, Domain::kNonZero)}, Attrs{{"p", 1.0}, {"dim", Ints{0}}}));
  v.push_back(S("norm", "p3", {In({3, 4}, Domain::kNonZero)}, Attrs{{"p", 3.0}}));
  v.push_back(
      S("norm_dim", "p1_5", {Nc({4, 3}, Domain::kNonZero)}, Attrs{{"p", 1.5}, {"dim", Ints{1}}}));
  v.push_back(
      S("norm_dim", "p0_5", {In({3, 4}, Domain::kNonZero)}, Attrs{{"p", 0.5}, {"dim", Ints{1}}}));
  v.push_back(S("norm_dim", "p_inf", {In({3, 4})}, Attrs{{"p", INFINITY}, {"dim", Ints{1}}}));
  v.push_back(S("norm", "p_neg_inf", {In({3, 4})}, Attrs{{"p", -INFINITY}}));
  v.push_back(
      S("norm_dim", "p0", {In({3, 4}, Domain::kNonZero)}, Attrs{{"p", 0.0}, {"dim", Ints{0}}}));
  v.push_back(S("norm_dim", "p_int", {In({3, 4})}, Attrs{{"p", int64_t{2}}, {"dim", Ints{0}}}));

  // var / std.
  for (const char* op : {"var", "std"}) {
    v.push_back(S(op, "all", {In({3, 4})}));
    v.push_back(S(op, "dim1", {In({3, 4})}, Attrs{{"dim", Ints{1}}}));
    v.push_back(
        S(op, "dims_keepdim", {In({2, 3, 4})}, Attrs{{"dim", Ints{0, -1}}, {"keepdim", true}}));
    v.push_back(S(op, "biased", {In({3, 4})}, Attrs{{"dim", Ints{0}}, {"unbiased", false}}));
    v.push_back(
        S(op, "biased_all_keepdim", {In({2, 3})}, Attrs{{"unbiased", false}, {"keepdim", true}}));
    v.push_back(S(op, "noncontiguous", {Nc({4, 3})}, Attrs{{"dim", Ints{0}}}));
    v.push_back(S(op, "vector", {In({6})}));
  }

  // cumsum.
  v.push_back(S("cumsum", "dim0", {In({3, 4})}, Attrs{{"dim", int64_t{0}}}));
  v.push_back(S("cumsum", "dim1", {In({3, 4})}, Attrs{{"dim", int64_t{1}}}));
  v.push_back(S("cumsum", "noncontiguous", {Nc({4, 3})}, Attrs{{"dim", int64_t{-1}}}));
  v.push_back(S("cumsum", "cube", {In({2, 3, 4})}, Attrs{{"dim", int64_t{1}}}));
  v.push_back(S("cumsum", "vector", {In({5})}, Attrs{{"dim", int64_t{0}}}));
  v.push_back(S("cumsum", "size1_dim", {In({3, 1})}, Attrs{{"dim", int64_t{1}}}));
  v.push_back(S("cumsum", "scalar", {In({})}, Attrs{{"dim", int64_t{0}}}));
  v.push_back(S("cumsum", "int", {Int({3, 4})}, Attrs{{"dim", int64_t{1}}}));
  v.push_back(S("cumsum", "bool", {Mask({4}, {1, 0, 1, 1})}, Attrs{{"dim", int64_t{0}}}));

  // logsumexp.
  v.push_back(S("logsumexp", "dim1", {In({3, 4})}, Attrs{{"dim", Ints{1}}}));
  v.push_back(S("logsumexp", "dims_keepdim", {In({2, 3, 4})},
                Attrs{{"dim", Ints{0, 2}}, {"keepdim", true}}));
  v.push_back(S("logsumexp", "noncontiguous", {Nc({4, 3})}, Attrs{{"dim", Ints{-1}}}));
  v.push_back(S("logsumexp", "all_dims", {In({2, 3})}, Attrs{{"dim", Ints{0, 1}}}));
  v.push_back(S("logsumexp", "empty_dims_keepdim", {In({2, 3})},
                Attrs{{"dim", Ints{}}, {"keepdim", true}}));
  v.push_back(S("logsumexp", "scalar", {In({})}, Attrs{{"dim", Ints{0}}}));
  v.push_back(S("logsumexp", "large_values", {Fixed({2, 2}, {1000, 999, -1000, -998})},
                Attrs{{"dim", Ints{1}}}));

  // softmax / log_softmax.
  for (const char* op : {"softmax", "log_softmax"}) {
    v.push_back(S(op, "dim1", {In({3, 4})}, Attrs{{"dim", int64_t{1}}}));
    v.push_back(S(op, "dim0", {In({3, 4})}, Attrs{{"dim", int64_t{0}}}));
    v.push_back(S(op, "noncontiguous", {Nc({4, 3})}, Attrs{{"dim", int64_t{-1}}}));
    v.push_back(S(op, "cube_middle", {In({2, 3, 4})}, Attrs{{"dim", int64_t{1}}}));
    v.push_back(S(op, "vector", {In({5})}, Attrs{{"dim", int64_t{0}}}));
    v.push_back(S(op, "scalar", {In({})}, Attrs{{"dim", int64_t{0}}}));
    v.push_back(S(op, "large_values", {Fixed({2, 3}, {1000, 999, 998, -1000, -1001, -999})},
                  Attrs{{"dim", int64_t{1}}}));
  }
}

}  // namespace tensord::testing
