// Samples of the nn ops added after the core set.
#include "tests/support/op_samples_parts.h"

namespace tensord::testing {

void AddNNSamples(std::vector<OpSample>& v) { (void)v; }

}  // namespace tensord::testing
