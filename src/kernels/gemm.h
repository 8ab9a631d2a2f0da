// Many-token matmul (prefill) for the block types with 4- and 5-bit codes (Q4_0, Q4_1, Q5_0, Q5_1,
// Q4_K) on AVX2
// (gemm_avx2.cpp): weights are unpacked 8 rows at a time into an interleaved panel (reused for a
// whole token tile), activations are the converted rows of kernels/vec_dot.h. matmul_cpu uses it
// for n_tok >= kGemmMinTokens; the results equal the row-dot path's up to float summation order.
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
  // Unpacks rows [0, 8) (row r at w + r * w_stride, n elements) into panel
  // (panel_bytes(n) bytes, 32-byte aligned).
  void (*unpack)(const uint8_t* w, size_t w_stride, int64_t n, uint8_t* panel);
  // y[c * y_stride + r] = dot(row r, activation row c) for r < 8, c < n_cols; activation row c at
  // act + c * a_stride (the type's activation format: BlockQ8A, or BlockQ8_K for Q4_K).
  void (*run)(const uint8_t* panel, int64_t n, const uint8_t* act, size_t a_stride, int64_t n_cols,
              float* y, size_t y_stride);
};

// nullptr for types without a GEMM (they use the row dots for every token count).
const GemmKernels* gemm_kernels_avx2(DType t);

}  // namespace helix::kernels
