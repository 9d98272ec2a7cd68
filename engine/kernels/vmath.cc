// Compiled with -ffast-math (see engine/CMakeLists.txt) so that GCC calls glibc's vector math
// routines; nothing in this file compares floats, so fast-math's assumptions cannot change
// results beyond the vector routines' own accuracy. The flag is a compile option only: the
// program's floating-point environment (denormals) is untouched.
#include "engine/kernels/vmath.h"

#include <cmath>

namespace tensord::kernels {
namespace {

#define TENSORD_VEC_LOOP(name, T, fn)                                                   \
  __attribute__((target("avx2,fma"))) void name##Avx2(const T* in, T* out, int64_t n) { \
    for (int64_t i = 0; i < n; ++i) out[i] = fn(in[i]);                                 \
  }                                                                                     \
  void name##Base(const T* in, T* out, int64_t n) {                                     \
    for (int64_t i = 0; i < n; ++i) out[i] = fn(in[i]);                                 \
  }

TENSORD_VEC_LOOP(ExpF, float, std::exp)
TENSORD_VEC_LOOP(ExpD, double, std::exp)
TENSORD_VEC_LOOP(LogF, float, std::log)
TENSORD_VEC_LOOP(LogD, double, std::log)
#undef TENSORD_VEC_LOOP

bool HasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}

}  // namespace

void VecExp(const float* in, float* out, int64_t n) {
  HasAvx2() ? ExpFAvx2(in, out, n) : ExpFBase(in, out, n);
}
void VecExp(const double* in, double* out, int64_t n) {
  HasAvx2() ? ExpDAvx2(in, out, n) : ExpDBase(in, out, n);
}
void VecLog(const float* in, float* out, int64_t n) {
  HasAvx2() ? LogFAvx2(in, out, n) : LogFBase(in, out, n);
}
void VecLog(const double* in, double* out, int64_t n) {
  HasAvx2() ? LogDAvx2(in, out, n) : LogDBase(in, out, n);
}

}  // namespace tensord::kernels
