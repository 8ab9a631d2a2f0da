// Many-token matmul (prefill) on AVX2 for packed Q5_0 weights (gemm_avx2.cpp): each 8-row packed
// group is expanded into an interleaved panel (reused for a whole token tile); activations are the
// converted rows of kernels/vec_dot.h. matmul_cpu uses it for n_tok >= kGemmMinTokens; per output
// it does the same float operations as the packed row-group dots, so results match them exactly.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"
#include "kernels/vec_dot.h"

namespace helix::kernels {

inline constexpr int kGemmRows = 8;         // weight rows per panel
inline constexpr int64_t kGemmMinTokens = 8;

struct GemmKernels {
  // Bytes of one unpacked panel of 8 rows of n elements.
  size_t (*panel_bytes)(int64_t n);
  // y[c * y_stride + r] = dot(row r, activation row c) for r < 8, c < n_cols; activation row c at
  // act + c * a_stride (BlockQ8A rows).
  void (*run)(const uint8_t* panel, int64_t n, const uint8_t* act, size_t a_stride, int64_t n_cols,
              float* y, size_t y_stride);
};

// nullptr for types without a GEMM (they use the row dots for every token count). Uses AVX-VNNI
// where the CPU has it (bit-identical results) unless allow_vnni is false or HELIX_NO_VNNI is set.
const GemmKernels* gemm_kernels_avx2(DType t, bool allow_vnni = true);

}  // namespace helix::kernels
