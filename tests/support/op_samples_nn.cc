// Samples of the nn ops added after the core set.
#include "engine/ops/op_util.h"
#include "tests/support/op_samples_parts.h"

namespace tensord::testing {
namespace {

// Class indices: int64 with fixed values (not differentiable).
InputSpec Idx(Shape shape, std::vector<double> values) {
  InputSpec s = In(std::move(shape), Domain::kFixed);
  s.floating = false;
  s.dtype = DType::kInt64;
  s.values = std::move(values);
  s.differentiable = false;
  return s;
}

// A floating input with fixed values (probabilities for binary_cross_entropy).
InputSpec Fixed(Shape shape, std::vector<double> values, bool noncontiguous = false) {
  InputSpec s = In(std::move(shape), Domain::kFixed);
  s.values = std::move(values);
  s.noncontiguous = noncontiguous;
  return s;
}

Attrs Red(const char* r) { return Attrs{{"reduction", op_util::ReductionEnum(r)}}; }

}  // namespace

void AddNNSamples(std::vector<OpSample>& v) {
  v.push_back(S("outer", "plain", {In({3}), In({4})}));
  v.push_back(S("outer", "one_no_grad", {In({2}), NoGrad(In({5}))}));
  v.push_back(S("outer", "single", {In({1}), In({3})}));

  v.push_back(S("addmm", "bias_row", {In({5}), In({3, 4}), In({4, 5})}));
  v.push_back(S("addmm", "alpha_beta_nc", {In({3, 5}), In({3, 4}), Nc({4, 5})},
                Attrs{{"beta", 0.5}, {"alpha", 2.0}}));
  v.push_back(S("addmm", "scalar_self_int_beta", {In({}), Nc({3, 4}), In({4, 2})},
                Attrs{{"beta", int64_t{2}}}));
  v.push_back(S("addmm", "beta_zero", {In({3, 1}), In({3, 2}), In({2, 2})}, Attrs{{"beta", 0.0}}));

  // linear takes the node of the path PyTorch 1.13's at::linear takes.
  v.push_back(S("linear", "2d_bias", {In({3, 4}), In({5, 4}), In({5})}));        // Addmm
  v.push_back(S("linear", "2d_no_bias", {In({3, 4}), In({5, 4})}));              // Mm
  v.push_back(S("linear", "3d_bias", {In({2, 3, 4}), In({5, 4}), In({5})}));     // View
  v.push_back(S("linear", "3d_nc_bias", {Nc({2, 3, 4}), In({5, 4}), In({5})}));  // Add
  v.push_back(S("linear", "3d_no_bias", {In({2, 3, 4}), In({5, 4})}));           // UnsafeView
  v.push_back(S("linear", "1d_bias", {In({4}), In({5, 4}), In({5})}));           // Add
  v.push_back(S("linear", "1d_no_bias", {In({4}), In({5, 4})}));                 // Squeeze
  v.push_back(S("linear", "4d_bias", {In({2, 1, 3, 4}), In({2, 4}), In({2})}));  // Add
  v.push_back(S("linear", "input_no_grad_weight_nc", {NoGrad(In({3, 4})), Nc({2, 4}), In({2})}));
  v.push_back(S("linear", "vector_weight", {In({3, 4}), In({4})}));  // Mv

  // nll_loss on arbitrary values (log-probabilities need not be normalised).
  for (const char* r : {"mean", "sum", "none"}) {
    v.push_back(S("nll_loss", r, {In({3, 5}), Idx({3}, {1, 0, 4})}, Red(r)));
  }
  v.push_back(S("nll_loss", "ignored_target", {In({4, 3}), Idx({4}, {2, -100, 0, 1})}));
  v.push_back(S("nll_loss", "custom_ignore_none", {In({4, 3}), Idx({4}, {2, 1, 0, 1})},
                Attrs{{"reduction", int64_t{0}}, {"ignore_index", int64_t{1}}}));
  v.push_back(S("nll_loss", "no_batch_mean", {In({5}), Idx({}, {3})}));
  v.push_back(S("nll_loss", "no_batch_none", {In({5}), Idx({}, {3})}, Red("none")));
  v.push_back(S("nll_loss", "noncontiguous_sum", {Nc({3, 4}), Idx({3}, {3, 0, 2})}, Red("sum")));
  v.push_back(S("_nll_loss_backward", "mean", {In({}), Idx({3}, {1, 0, 4})},
                Attrs{{"input_size", std::vector<int64_t>{3, 5}}}));
  v.push_back(S("_nll_loss_backward", "none_ignored", {In({3}), Idx({3}, {1, -100, 4})},
                Attrs{{"input_size", std::vector<int64_t>{3, 5}}, {"reduction", int64_t{0}}}));
  v.push_back(S("_nll_loss_backward", "no_batch_sum", {In({}), Idx({}, {2})},
                Attrs{{"input_size", std::vector<int64_t>{5}}, {"reduction", int64_t{2}}}));

  v.push_back(S("cross_entropy", "mean", {In({3, 5}), Idx({3}, {1, 0, 4})}));
  v.push_back(S("cross_entropy", "sum_nc", {Nc({4, 3}), Idx({4}, {2, 0, 1, 1})}, Red("sum")));
  v.push_back(
      S("cross_entropy", "none_ignored", {In({4, 3}), Idx({4}, {2, -100, 0, 1})}, Red("none")));
  v.push_back(S("cross_entropy", "no_batch", {In({5}), Idx({}, {3})}));

  // binary_cross_entropy: input in (0, 1) away from the ends, targets in [0, 1].
  const std::vector<double> p12 = {0.2, 0.7, 0.45, 0.9, 0.15, 0.6, 0.33, 0.8, 0.5, 0.25, 0.72, 0.1};
  const std::vector<double> t12 = {0.0, 1.0, 0.3, 0.8, 0.5, 0.0, 1.0, 0.6, 0.2, 0.9, 0.45, 0.05};
  for (const char* r : {"mean", "sum", "none"}) {
    v.push_back(S("binary_cross_entropy", r, {Fixed({3, 4}, p12), Fixed({3, 4}, t12)}, Red(r)));
  }
  v.push_back(S("binary_cross_entropy", "noncontiguous",
                {Fixed({4, 3}, p12, /*noncontiguous=*/true), Fixed({4, 3}, t12)}, Red("none")));
  v.push_back(S("binary_cross_entropy", "scalar", {Fixed({}, {0.3}), Fixed({}, {0.8})}));
  v.push_back(S("binary_cross_entropy", "target_no_grad",
                {Fixed({5}, {0.1, 0.4, 0.6, 0.85, 0.5}), NoGrad(Fixed({5}, {1, 0, 1, 0.5, 0.7}))},
                Red("sum")));
}

}  // namespace tensord::testing
