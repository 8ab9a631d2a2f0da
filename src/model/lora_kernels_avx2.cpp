// LoRA products compiled for AVX2+FMA+F16C (model/lora_kernels.h); chosen at run time.
#include <immintrin.h>

#include "model/lora_kernels.h"

namespace helix::model {

namespace {

float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

__m256 load_f16(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }

void a16_avx2(const uint16_t* a, int64_t rank, int64_t n_in, const float* x, float* tmp) {
  for (int64_t j = 0; j < rank; ++j) {
    const uint16_t* row = a + j * n_in;
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n_in; i += 16) {
      s0 = _mm256_fmadd_ps(load_f16(row + i), _mm256_loadu_ps(x + i), s0);
      s1 = _mm256_fmadd_ps(load_f16(row + i + 8), _mm256_loadu_ps(x + i + 8), s1);
    }
    float s = hsum(_mm256_add_ps(s0, s1));
    for (; i < n_in; ++i) s += f16_to_f32(row[i]) * x[i];
    tmp[j] = s;
  }
}

void bt16_avx2(const uint16_t* bt, int64_t rank, int64_t n_out, int64_t o0, int64_t o1, const float* tmp, float* y) {
  int64_t o = o0;
  for (; o + 8 <= o1; o += 8) {
    __m256 acc = _mm256_loadu_ps(y + o);
    for (int64_t j = 0; j < rank; ++j)
      acc = _mm256_fmadd_ps(_mm256_set1_ps(tmp[j]), load_f16(bt + j * n_out + o), acc);
    _mm256_storeu_ps(y + o, acc);
  }
  if (o < o1) lora_bt16_impl(bt, rank, n_out, o, o1, tmp, y);
}

}  // namespace

const LoraKernels& lora_kernels_avx2() {
  static const LoraKernels k{lora_a_impl, lora_b_impl, a16_avx2, bt16_avx2};
  return k;
}

}  // namespace helix::model
