// Samples of the pointwise ops added after the core set.
#include "tests/support/op_samples_parts.h"

namespace tensord::testing {

void AddPointwiseSamples(std::vector<OpSample>& v) { (void)v; }

}  // namespace tensord::testing
