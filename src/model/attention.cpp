#include "model/attention.h"

#include <algorithm>
#include <cmath>

#include "core/cpu_features.h"
#include "core/fp16.h"

namespace helix::model {

void attend_block_rowwise(const AttnBlockArgs& a, float (*dot)(const float*, const uint16_t*, int64_t),
                          void (*axpy)(float, const uint16_t*, float*, int64_t)) {
  float s[kAttnMaxK];
  for (int i = 0; i < a.nq; ++i) {
    const int j0 = std::max(0, a.lo[i]), j1 = std::min(a.nk, a.hi[i]);
    if (j0 >= j1) continue;
    float mx = a.m[i];
    for (int j = j0; j < j1; ++j) {
      s[j] = dot(a.q[i], a.k + j * a.kv_stride, a.hd) * a.scale;
      mx = std::max(mx, s[j]);
    }
    const float c = std::exp(a.m[i] - mx);  // 0 when m was -inf
    float* o = a.o + i * a.hd;
    for (int64_t d = 0; d < a.hd; ++d) o[d] *= c;
    float l = a.l[i] * c;
    for (int j = j0; j < j1; ++j) {
      const float p = std::exp(s[j] - mx);
      l += p;
      axpy(p, a.v + j * a.kv_stride, o, a.hd);
    }
    a.m[i] = mx;
    a.l[i] = l;
  }
}

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

void attend_block_scalar(const AttnBlockArgs& a) { attend_block_rowwise(a, dot_f16_scalar, axpy_f16_scalar); }

}  // namespace

const AttnKernels& attn_kernels_scalar() {
  static const AttnKernels k{dot_f16_scalar, axpy_f16_scalar, to_f16_scalar, attend_block_scalar};
  return k;
}

void merge_attn_state(float& am, float& al, float* ao, float m, float l, const float* o, int64_t hd) {
  if (m == -INFINITY) return;  // the chunk held none of the row's keys
  if (am == -INFINITY) {
    am = m;
    al = l;
    std::copy(o, o + hd, ao);
    return;
  }
  const float mx = std::max(am, m), ca = std::exp(am - mx), cb = std::exp(m - mx);
  for (int64_t d = 0; d < hd; ++d) ao[d] = ao[d] * ca + o[d] * cb;
  al = al * ca + l * cb;
  am = mx;
}

const AttnKernels& attn_kernels() {
  return cpu_features().has_avx2_fma() ? attn_kernels_avx2() : attn_kernels_scalar();
}

}  // namespace helix::model
