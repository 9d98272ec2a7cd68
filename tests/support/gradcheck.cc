#include "tests/support/gradcheck.h"

#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "engine/api.h"
#include "engine/autograd.h"
#include "engine/context.h"
#include "engine/factory.h"
#include "engine/status_macros.h"

namespace tensord::testing {
namespace {

// Flat element offsets (in elements, relative to data pointer) in row-major logical order.
std::vector<int64_t> ElementOffsets(const Tensor& t) {
  std::vector<int64_t> offsets;
  const int64_t n = t.numel();
  std::vector<int64_t> idx(t.shape().size(), 0);
  for (int64_t k = 0; k < n; ++k) {
    int64_t off = 0;
    for (size_t d = 0; d < idx.size(); ++d) off += idx[d] * t.strides()[d];
    offsets.push_back(off);
    for (size_t d = idx.size(); d-- > 0;) {
      if (++idx[d] < t.shape()[d]) break;
      idx[d] = 0;
    }
  }
  return offsets;
}

double* At(const Tensor& t, int64_t offset) { return t.data_ptr<double>() + offset; }

// Differentiable float outputs of fn, flattened to row-major values.
absl::StatusOr<std::vector<std::vector<double>>> EvalOutputs(const DiffFn& fn,
                                                             const std::vector<Tensor>& inputs) {
  NoGradGuard no_grad;
  TD_ASSIGN_OR_RETURN(std::vector<Tensor> outs, fn(inputs));
  std::vector<std::vector<double>> values;
  for (const Tensor& o : outs) {
    if (!o.defined() || !IsFloating(o.dtype())) {
      values.emplace_back();
      continue;
    }
    values.push_back(o.ToVector<double>());
  }
  return values;
}

}  // namespace

absl::Status Gradcheck(const DiffFn& fn, const std::vector<Tensor>& inputs,
                       const std::vector<bool>& wrt, const GradcheckOptions& options) {
  std::vector<Tensor> diff_inputs;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (wrt[i]) diff_inputs.push_back(inputs[i]);
  if (diff_inputs.empty()) return absl::OkStatus();

  TD_ASSIGN_OR_RETURN(std::vector<Tensor> outs, fn(inputs));
  // Numerical Jacobians: perturb one input element at a time.
  TD_ASSIGN_OR_RETURN(auto base, EvalOutputs(fn, inputs));
  for (size_t o = 0; o < outs.size(); ++o) {
    const Tensor& out = outs[o];
    if (!out.defined() || !IsFloating(out.dtype())) continue;
    const int64_t n_out = out.numel();
    // Analytical rows: one backward per output element.
    std::vector<std::vector<std::vector<double>>> analytic(
        diff_inputs.size());  // [input][out_elem][in_elem]
    for (int64_t j = 0; j < n_out; ++j) {
      std::vector<double> unit(static_cast<size_t>(n_out), 0.0);
      unit[static_cast<size_t>(j)] = 1.0;
      TD_ASSIGN_OR_RETURN(Tensor g,
                          factory::from_values(unit, out.shape(),
                                               factory::TensorOptions().with_dtype(out.dtype())));
      std::vector<Tensor> grads;
      if (out.requires_grad()) {
        GradOptions go;
        go.retain_graph = true;
        go.allow_unused = true;
        TD_ASSIGN_OR_RETURN(grads, Grad({out}, diff_inputs, {g}, go));
      } else {
        grads.resize(diff_inputs.size());
      }
      for (size_t i = 0; i < diff_inputs.size(); ++i) {
        std::vector<double> row(static_cast<size_t>(diff_inputs[i].numel()), 0.0);
        if (grads[i].defined()) row = grads[i].ToVector<double>();
        analytic[i].push_back(std::move(row));
      }
    }
    for (size_t i = 0; i < diff_inputs.size(); ++i) {
      const Tensor& x = diff_inputs[i];
      const auto offsets = ElementOffsets(x);
      for (size_t k = 0; k < offsets.size(); ++k) {
        double* p = At(x, offsets[k]);
        const double orig = *p;
        *p = orig + options.eps;
        TD_ASSIGN_OR_RETURN(auto plus, EvalOutputs(fn, inputs));
        *p = orig - options.eps;
        TD_ASSIGN_OR_RETURN(auto minus, EvalOutputs(fn, inputs));
        *p = orig;
        for (int64_t j = 0; j < n_out; ++j) {
          const double numeric =
              (plus[o][static_cast<size_t>(j)] - minus[o][static_cast<size_t>(j)]) /
              (2 * options.eps);
          const double a = analytic[i][static_cast<size_t>(j)][k];
          if (std::fabs(a - numeric) > options.atol + options.rtol * std::fabs(numeric) ||
              std::isnan(a) != std::isnan(numeric)) {
            return absl::InternalError(absl::StrCat("Jacobian mismatch for output ", o, " element ",
                                                    j, " w.r.t. input ", i, " element ", k,
                                                    ": numerical ", numeric, ", analytical ", a));
          }
        }
      }
    }
  }
  return absl::OkStatus();
}

absl::Status GradGradcheck(const DiffFn& fn, const std::vector<Tensor>& inputs,
                           const std::vector<bool>& wrt, uint64_t seed,
                           const GradcheckOptions& options) {
  // Fixed random grad_outputs v, themselves differentiable inputs of the VJP.
  TD_ASSIGN_OR_RETURN(std::vector<Tensor> outs, fn(inputs));
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> dist(-1, 1);
  std::vector<Tensor> all = inputs;
  std::vector<bool> all_wrt = wrt;
  std::vector<size_t> out_idx;
  for (size_t o = 0; o < outs.size(); ++o) {
    if (!outs[o].defined() || !outs[o].requires_grad()) continue;
    std::vector<double> vals(static_cast<size_t>(outs[o].numel()));
    for (double& x : vals) x = dist(gen);
    TD_ASSIGN_OR_RETURN(Tensor v,
                        factory::from_values(vals, outs[o].shape(),
                                             factory::TensorOptions().with_dtype(outs[o].dtype())));
    TD_RETURN_IF_ERROR(v.set_requires_grad(true));
    all.push_back(v);
    all_wrt.push_back(true);
    out_idx.push_back(o);
  }
  if (out_idx.empty()) return absl::OkStatus();
  const size_t n_in = inputs.size();
  DiffFn vjp = [&](const std::vector<Tensor>& args) -> absl::StatusOr<std::vector<Tensor>> {
    std::vector<Tensor> in(args.begin(), args.begin() + static_cast<int64_t>(n_in));
    TD_ASSIGN_OR_RETURN(std::vector<Tensor> o, fn(in));
    std::vector<Tensor> ys, vs, xs;
    for (size_t k = 0; k < out_idx.size(); ++k) {
      ys.push_back(o[out_idx[k]]);
      vs.push_back(args[n_in + k]);
    }
    for (size_t i = 0; i < n_in; ++i)
      if (wrt[i]) xs.push_back(args[i]);
    if (!GradModeEnabled()) {
      // Numerical evaluation: compute the VJP values with grad mode on, then drop history.
      AutoGradMode enable(true);
      TD_ASSIGN_OR_RETURN(std::vector<Tensor> o2, fn(in));
      std::vector<Tensor> ys2;
      for (size_t k = 0; k < out_idx.size(); ++k) ys2.push_back(o2[out_idx[k]]);
      GradOptions go;
      go.allow_unused = true;
      TD_ASSIGN_OR_RETURN(std::vector<Tensor> g, Grad(ys2, xs, vs, go));
      for (Tensor& t : g)
        if (t.defined()) t = t.detach();
      return g;
    }
    GradOptions go;
    go.create_graph = true;
    go.allow_unused = true;
    return Grad(ys, xs, vs, go);
  };
  return Gradcheck(vjp, all, all_wrt, options);
}

}  // namespace tensord::testing
