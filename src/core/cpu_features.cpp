#include "core/cpu_features.h"

#include <cstdlib>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
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
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;  // F16C: CPUID leaf 1, ECX bit 29
    if (__get_cpuid(1, &eax, &ebx, &ecx, &edx)) c.f16c = (ecx >> 29) & 1u;
    c.avx512f = __builtin_cpu_supports("avx512f");
#endif
    return c;
  }();
  return f;
}

}  // namespace helix
