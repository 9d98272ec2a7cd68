// Building blocks for op samples, shared by the op_samples_*.cc files (one per op area).
#pragma once

#include <string>
#include <vector>

#include "tests/support/op_samples.h"

namespace tensord::testing {

// Each area file adds its samples (see op_samples.cc for the core ops).
void AddPointwiseSamples(std::vector<OpSample>& v);
void AddReductionSamples(std::vector<OpSample>& v);
void AddShapeSamples(std::vector<OpSample>& v);
void AddNNSamples(std::vector<OpSample>& v);
void AddFactorySamples(std::vector<OpSample>& v);

inline InputSpec In(Shape shape, Domain domain = Domain::kAny) {
  InputSpec s;
  s.shape = std::move(shape);
  s.domain = domain;
  return s;
}
inline InputSpec Nc(Shape shape, Domain domain = Domain::kAny) {
  InputSpec s = In(std::move(shape), domain);
  s.noncontiguous = true;
  return s;
}
inline InputSpec Mask(Shape shape, std::vector<double> values) {
  InputSpec s = In(std::move(shape), Domain::kFixed);
  s.floating = false;
  s.dtype = DType::kBool;
  s.values = std::move(values);
  s.differentiable = false;
  return s;
}
inline InputSpec NoGrad(InputSpec s) {
  s.differentiable = false;
  return s;
}

inline OpSample S(std::string op, std::string label, std::vector<InputSpec> inputs,
                  Attrs attrs = {}) {
  return {std::move(op), std::move(label), std::move(inputs), std::move(attrs)};
}

}  // namespace tensord::testing
