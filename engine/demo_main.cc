// A short in-process tour of the engine: f(x) = x^2 * e^x and its gradient.
#include <iostream>

#include "engine/api.h"
#include "engine/autograd.h"
#include "engine/factory.h"

namespace {
absl::Status Run() {
  using namespace tensord;  // NOLINT
  TD_ASSIGN_OR_RETURN(
      Tensor x,
      factory::from_values({-1, 0, 1, 2}, {4}, factory::TensorOptions().with_requires_grad()));
  TD_ASSIGN_OR_RETURN(Tensor x2, ops::pow(x, Scalar(2)));
  TD_ASSIGN_OR_RETURN(Tensor ex, ops::exp(x));
  TD_ASSIGN_OR_RETURN(Tensor f, ops::mul(x2, ex));
  std::cout << "x = " << x.ToString() << "\n";
  std::cout << "f = " << f.ToString() << "\n";
  TD_ASSIGN_OR_RETURN(Tensor ones, factory::ones_like(f));
  TD_RETURN_IF_ERROR(Backward(f, ones));
  std::cout << "x.grad = " << x.grad().ToString() << "\n";
  return absl::OkStatus();
}
}  // namespace

int main() {
  absl::Status s = Run();
  if (!s.ok()) {
    std::cerr << s << "\n";
    return 1;
  }
  return 0;
}
