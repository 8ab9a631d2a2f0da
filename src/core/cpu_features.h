// Run-time CPU detection: fast kernels are chosen by what the processor has, not by how the
// program was compiled. HELIX_FORCE_SCALAR=1 forces the scalar reference paths (every flag off);
// HELIX_NO_VNNI=1 turns off the VNNI flags alone (the plain AVX2 integer dots are used instead).
#pragma once

namespace helix {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx_vnni = false;     // AVX-VNNI: VEX vpdpbusd on 256-bit registers (CPUID 7.1 EAX bit 4)
  bool avx512_vnni = false;  // AVX512-VNNI: the EVEX forms (CPUID 7.0 ECX bit 11); no kernel uses it yet
  bool has_avx2_fma() const { return avx2 && fma && f16c; }
};

const CpuFeatures& cpu_features();  // detected once (the first call); honours the variables above
CpuFeatures detect_cpu_features();  // detects now, reading the environment variables now

}  // namespace helix
