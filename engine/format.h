// PyTorch 1.13's tensor repr, for tensors whose autograd facts are known elsewhere (the client
// library prints values it fetched from the server with the server's grad_fn name).
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "engine/tensor.h"

namespace tensord {

// `values` supplies shape, dtype and data; `grad_fn` (empty: none) and `requires_grad` give the
// suffix. `default_dtype` is the dtype PyTorch would not print.
std::string FormatTensor(const Tensor& values, absl::string_view grad_fn, bool requires_grad,
                         DType default_dtype = DType::kFloat32);

}  // namespace tensord
