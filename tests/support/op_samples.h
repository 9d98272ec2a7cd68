// Sample inputs for every op in the table (like PyTorch's OpInfo). The gradcheck harness and
// the PyTorch comparison both iterate over these, so an op added to the table is covered by
// adding its samples here; a test fails for any table op without samples.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/op_def.h"
#include "engine/tensor.h"

namespace tensord::testing {

enum class Domain {
  kAny,       // uniform in [-2, 2]
  kPositive,  // uniform in [0.5, 2]
  kNonZero,   // |x| uniform in [0.5, 2], random sign
  kSmallInt,  // integers in [-2, 2] (for comparisons, which need ties)
  kFixed,     // `values` as given
};

struct InputSpec {
  Shape shape;
  Domain domain = Domain::kAny;
  // Built as the transpose of a contiguous tensor (so strides are not row-major).
  bool noncontiguous = false;
  // Float inputs get the sample's dtype; others keep theirs (bool masks, int64 indices).
  bool floating = true;
  DType dtype = DType::kFloat64;
  std::vector<double> values;
  bool differentiable = true;
};

struct OpSample {
  std::string op;
  std::string label;
  std::vector<InputSpec> inputs;
  Attrs attrs;
};

// Every sample of every op, in table order.
const std::vector<OpSample>& AllSamples();
std::vector<OpSample> SamplesFor(const std::string& op);

// Materialises a sample's inputs with floating dtype `dtype`, from a generator seeded by `seed`.
absl::StatusOr<std::vector<Tensor>> MakeInputs(const OpSample& sample, DType dtype, uint64_t seed);

}  // namespace tensord::testing

namespace tensord::testing {
// gtest prints samples by name.
inline void PrintTo(const OpSample& s, std::ostream* os) { *os << s.op << "/" << s.label; }
}  // namespace tensord::testing
