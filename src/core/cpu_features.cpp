#include "core/cpu_features.h"

#include <cstdlib>
#include <cstring>

namespace helix {

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = [] {
    CpuFeatures c;
    const char* force = std::getenv("HELIX_FORCE_SCALAR");
    if (force && std::strcmp(force, "0") != 0) return c;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    c.avx2 = __builtin_cpu_supports("avx2");
    c.fma = __builtin_cpu_supports("fma");
    c.f16c = __builtin_cpu_supports("f16c");
    c.avx512f = __builtin_cpu_supports("avx512f");
#endif
    return c;
  }();
  return f;
}

}  // namespace helix
