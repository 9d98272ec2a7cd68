// Vectorized transcendental functions over contiguous arrays (glibc's libmvec: AVX2 when the CPU
// has it, SSE otherwise). Results are within a few ulp of the scalar libm functions; NaN and
// infinities behave as in libm.
#pragma once

#include <cstdint>

namespace tensord::kernels {

void VecExp(const float* in, float* out, int64_t n);
void VecExp(const double* in, double* out, int64_t n);
void VecLog(const float* in, float* out, int64_t n);
void VecLog(const double* in, double* out, int64_t n);

}  // namespace tensord::kernels
