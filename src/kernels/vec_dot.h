// Row-by-row dot products between a weight row of any supported type and up to kMaxCols
// activation rows: the inner loop of matmul (kernels/matmul.h), exposed for tests and benchmarks.
//
// As in llama.cpp's vec_dot design, activations are converted once per matmul into an 8-bit
// format that matches the weight type's block size, and each dot product is an integer dot over a
// block followed by one float scale:
//   - 32-element weight types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) take BlockQ8A rows;
//   - 256-element K types (Q2_K .. Q6_K) take quant::BlockQ8_K rows (with per-16 sums, so that a
//     weight type's offsets and minimums cost one small dot per super-block);
//   - float weights (F32, F16, BF16) take the f32 activations as they are.
// Weights that store unsigned codes with an offset (Q4_0: q - 8, Q5_0: q - 16, Q3_K/Q6_K) are
// multiplied as unsigned bytes and the offset is removed in integers with the activation sums,
// which saves the sign trick in the SIMD paths.
//
// The scalar tables (vec_dot_ref.cpp) are the reference; the AVX2 tables (*_avx2.cpp) must agree
// with them up to float rounding and produce identical activation bytes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"
#include "kernels/isa.h"

namespace helix::kernels {

inline constexpr int kMaxCols = 4;  // activation rows one weight-row load serves

// Activations for the 32-element block types: d * qs[i] ~ x[i]; s = sum(qs) (for the offsets of
// Q4_0 / Q5_0, exact in integers) and ds = d * s (for the minimums of Q4_1 / Q5_1).
struct BlockQ8A {
  float d;
  float ds;
  int32_t s;
  int32_t pad;  // keeps qs 16-byte aligned in the block
  int8_t qs[32];
};
static_assert(sizeof(BlockQ8A) == 48);

enum class ActFormat : uint8_t { F32, Q8A, Q8K };

// Bytes of one converted activation row of n elements.
size_t act_row_bytes(ActFormat f, int64_t n);

// out[c] = dot(weight row w, activation row c) for c < NC, where activation row c starts
// c * x_stride bytes after x; n is the row length in elements.
using DotFn = void (*)(int64_t n, const void* w, const void* x, size_t x_stride, float* out);
// Converts n f32 values into activation format (not called for ActFormat::F32).
using ActQuantFn = void (*)(const float* x, void* out, int64_t n);

// Two weight rows (the second w_stride bytes after the first) against three activation rows:
// y[c * y_stride + r] for r < 2, c < 3. Each output gets exactly the float operations of the
// one-row dots, so a token's result does not depend on which kernel served it.
using Dot2x3Fn = void (*)(int64_t n, const void* w, size_t w_stride, const void* x, size_t x_stride,
                          float* y, size_t y_stride);

struct DotKernels {
  ActFormat act = ActFormat::F32;
  ActQuantFn quantize_act = nullptr;
  DotFn dot[kMaxCols] = {};  // dot[k] handles k + 1 activation rows
  // Prefill register tile (float weights on AVX2): each activation load serves two weight rows.
  Dot2x3Fn dot2x3 = nullptr;
};

// The kernels for weight type t on path isa; nullptr when the type has no kernel there.
const DotKernels* dot_kernels(DType t, Isa isa);

// The per-ISA tables (one function per *.cpp, selected by dot_kernels).
const DotKernels* dot_kernels_ref(DType t);
const DotKernels* dot_kernels_avx2_q32(DType t);  // vec_dot_avx2.cpp: floats, 32-blocks
const DotKernels* dot_kernels_avx2_k(DType t);    // vec_dot_k_avx2.cpp: K types

// Scalar activation converters (the AVX2 ones must write the same bytes).
void quantize_act_q8a_ref(const float* x, void* out, int64_t n);
void quantize_act_q8k_ref(const float* x, void* out, int64_t n);
void quantize_act_q8k_avx2(const float* x, void* out, int64_t n);  // in vec_dot_avx2.cpp

}  // namespace helix::kernels
