// The thin products of LoRA at inference (model/decoder_lora.cpp), written once as plain loops
// and compiled twice: for the baseline ISA (decoder_lora.cpp) and for AVX2+FMA+F16C
// (lora_kernels_avx2.cpp, which replaces the f16 pair with intrinsics).
//   a:    tmp[j] = A[j, :] · x                   (A: R rows of n_in, f32)
//   b:    y[o] += B[o, :] · tmp, o in [o0, o1)   (B: n_out rows of R, f32, scales folded in)
//   a16:  as a with A in f16
//   bt16: y[o] += sum_j Bt[j, o] · tmp[j]         (Bt: R rows of n_out, f16: B transposed, so the
//         sum runs along rows eight outputs at a time without horizontal adds)
// Include only from those two files: the anonymous namespace gives each its own copy.
#pragma once

#include <cstdint>

#include "core/fp16.h"

namespace helix::model {

struct LoraKernels {
  void (*a)(const float* a, int64_t rank, int64_t n_in, const float* x, float* tmp);
  void (*b)(const float* b, int64_t rank, int64_t o0, int64_t o1, const float* tmp, float* y);
  void (*a16)(const uint16_t* a, int64_t rank, int64_t n_in, const float* x, float* tmp);
  void (*bt16)(const uint16_t* bt, int64_t rank, int64_t n_out, int64_t o0, int64_t o1, const float* tmp, float* y);
};
const LoraKernels& lora_kernels();  // the best for this CPU
const LoraKernels& lora_kernels_avx2();

namespace {

inline float lora_dot(const float* a, const float* b, int64_t n) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) s[l] += a[i + l] * b[i + l];
  float r = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
  for (; i < n; ++i) r += a[i] * b[i];
  return r;
}

inline void lora_a_impl(const float* a, int64_t rank, int64_t n_in, const float* x, float* tmp) {
  for (int64_t j = 0; j < rank; ++j) tmp[j] = lora_dot(a + j * n_in, x, n_in);
}

inline void lora_b_impl(const float* b, int64_t rank, int64_t o0, int64_t o1, const float* tmp, float* y) {
  for (int64_t o = o0; o < o1; ++o) y[o] += lora_dot(b + o * rank, tmp, rank);
}

inline void lora_a16_impl(const uint16_t* a, int64_t rank, int64_t n_in, const float* x, float* tmp) {
  for (int64_t j = 0; j < rank; ++j) {
    float s = 0;
    for (int64_t i = 0; i < n_in; ++i) s += f16_to_f32(a[j * n_in + i]) * x[i];
    tmp[j] = s;
  }
}

inline void lora_bt16_impl(const uint16_t* bt, int64_t rank, int64_t n_out, int64_t o0, int64_t o1,
                           const float* tmp, float* y) {
  for (int64_t j = 0; j < rank; ++j)
    for (int64_t o = o0; o < o1; ++o) y[o] += f16_to_f32(bt[j * n_out + o]) * tmp[j];
}

}  // namespace
}  // namespace helix::model
