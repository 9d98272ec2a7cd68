// torch.autograd.gradcheck / gradgradcheck for the engine: compares the Jacobian that
// backward computes with central finite differences, in float64.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/tensor.h"

namespace tensord::testing {

using DiffFn = std::function<absl::StatusOr<std::vector<Tensor>>(const std::vector<Tensor>&)>;

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
};

// Checks d fn(inputs) / d inputs[i] for every i with wrt[i]. Inputs must be float64 leaves.
// Returns OK, or an error naming the output, input and element that disagree.
absl::Status Gradcheck(const DiffFn& fn, const std::vector<Tensor>& inputs,
                       const std::vector<bool>& wrt, const GradcheckOptions& options = {});

// Second order: gradcheck of (inputs, v) -> autograd.grad(fn(inputs), inputs, v, create_graph).
absl::Status GradGradcheck(const DiffFn& fn, const std::vector<Tensor>& inputs,
                           const std::vector<bool>& wrt, uint64_t seed,
                           const GradcheckOptions& options = {});

}  // namespace tensord::testing
