// Attention inner loops over f16 keys and values (the KV cache's element type): a dot product
// of an f32 query with an f16 key, and y += a * v for an f16 value. Chosen at run time: AVX2+F16C
// (attention_avx2.cpp) or the scalar reference.
#pragma once

#include <cstdint>

namespace helix::model {

struct AttnKernels {
  float (*dot_f16)(const float* q, const uint16_t* k, int64_t n);
  void (*axpy_f16)(float a, const uint16_t* v, float* y, int64_t n);
  void (*f32_to_f16)(const float* x, uint16_t* y, int64_t n);
};

const AttnKernels& attn_kernels();
const AttnKernels& attn_kernels_scalar();
const AttnKernels& attn_kernels_avx2();

}  // namespace helix::model
