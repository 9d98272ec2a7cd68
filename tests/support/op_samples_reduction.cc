// Samples of the reduction ops added after the core set.
#include "tests/support/op_samples_parts.h"

namespace tensord::testing {

void AddReductionSamples(std::vector<OpSample>& v) { (void)v; }

}  // namespace tensord::testing
