// Instruction sets the CPU kernels are built for, and which one runs. Every kernel has a scalar
// reference path (plain C++, the ground truth) and, where it pays, an AVX2+FMA+F16C path compiled
// in *_avx2.cpp files and chosen at run time from core/cpu_features.h (HELIX_FORCE_SCALAR=1 picks
// the scalar path everywhere). Tests and benchmarks ask for a path explicitly to compare them.
#pragma once

#include "core/cpu_features.h"

namespace helix::kernels {

enum class Isa { Scalar, Avx2 };

inline bool isa_available(Isa isa) { return isa == Isa::Scalar || cpu_features().has_avx2_fma(); }
// The fastest path this CPU runs.
inline Isa best_isa() { return cpu_features().has_avx2_fma() ? Isa::Avx2 : Isa::Scalar; }
inline const char* isa_name(Isa isa) { return isa == Isa::Avx2 ? "avx2" : "scalar"; }

}  // namespace helix::kernels
