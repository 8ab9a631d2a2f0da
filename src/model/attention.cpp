#include "model/attention.h"

#include "core/cpu_features.h"
#include "core/fp16.h"

namespace helix::model {
namespace {

float dot_f16_scalar(const float* q, const uint16_t* k, int64_t n) {
  float s = 0;
  for (int64_t i = 0; i < n; ++i) s += q[i] * f16_to_f32(k[i]);
  return s;
}
void axpy_f16_scalar(float a, const uint16_t* v, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * f16_to_f32(v[i]);
}
void to_f16_scalar(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = f32_to_f16(x[i]);
}

}  // namespace

const AttnKernels& attn_kernels_scalar() {
  static const AttnKernels k{dot_f16_scalar, axpy_f16_scalar, to_f16_scalar};
  return k;
}

const AttnKernels& attn_kernels() {
  return cpu_features().has_avx2_fma() ? attn_kernels_avx2() : attn_kernels_scalar();
}

}  // namespace helix::model
