// Run-time CPU detection: fast kernels are chosen by what the processor has, not by how the
// program was compiled. HELIX_FORCE_SCALAR=1 forces the scalar reference paths.
#pragma once

namespace helix {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool has_avx2_fma() const { return avx2 && fma && f16c; }
};

const CpuFeatures& cpu_features();  // detected once; honours HELIX_FORCE_SCALAR

}  // namespace helix
