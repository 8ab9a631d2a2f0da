#include "core/cpu_features.h"

#include <cstdlib>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <cstring>

namespace helix {

namespace {

bool env_on(const char* name) {
  const char* v = std::getenv(name);
  return v && std::strcmp(v, "0") != 0;
}

}  // namespace

CpuFeatures detect_cpu_features() {
  CpuFeatures c;
  if (env_on("HELIX_FORCE_SCALAR")) return c;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  c.avx2 = __builtin_cpu_supports("avx2");
  c.fma = __builtin_cpu_supports("fma");
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;  // F16C: CPUID leaf 1, ECX bit 29
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx)) c.f16c = (ecx >> 29) & 1u;
  c.avx512f = __builtin_cpu_supports("avx512f");
  // VNNI from CPUID (clang 14's __builtin_cpu_supports does not know "avxvnni"): AVX-VNNI is leaf
  // 7 subleaf 1, EAX bit 4; AVX512-VNNI leaf 7 subleaf 0, ECX bit 11. Each needs its register
  // state enabled by the OS, which the avx2 / avx512f checks above include.
  if (!env_on("HELIX_NO_VNNI")) {
    if (__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) c.avx_vnni = c.avx2 && ((eax >> 4) & 1u);
    if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) c.avx512_vnni = c.avx512f && ((ecx >> 11) & 1u);
  }
#endif
  return c;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect_cpu_features();
  return f;
}

}  // namespace helix
