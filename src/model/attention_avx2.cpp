// AVX2+FMA+F16C versions of the attention inner loops (see attention.h).
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/fp16.h"
#include "kernels/simd_avx2.h"
#include "model/attention.h"

namespace helix::model {
namespace {

float dot_f16_avx2(const float* q, const uint16_t* k, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 k0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k + i)));
    const __m256 k1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k + i + 8)));
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), k0, acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), k1, acc1);
  }
  const __m256 acc = _mm256_add_ps(acc0, acc1);
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  float r = _mm_cvtss_f32(s);
  for (; i < n; ++i) r += q[i] * _cvtsh_ss(k[i]);
  return r;
}

void axpy_f16_avx2(float a, const uint16_t* v, float* y, int64_t n) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v + i)));
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, x, _mm256_loadu_ps(y + i)));
  }
  for (; i < n; ++i) y[i] += a * _cvtsh_ss(v[i]);
}

void to_f16_avx2(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; ++i) y[i] = f32_to_f16(x[i]);
}

// Sums of each of 8 vectors, as the 8 lanes of one vector.
inline __m256 reduce8(const __m256* a) {
  const __m256 t0 = _mm256_hadd_ps(a[0], a[1]), t1 = _mm256_hadd_ps(a[2], a[3]);
  const __m256 t2 = _mm256_hadd_ps(a[4], a[5]), t3 = _mm256_hadd_ps(a[6], a[7]);
  const __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

// s[i * kAttnMaxK + j0 + j] = q_i . k_{j0+j} for NQ query rows from i0 and NK keys from j0.
template <int NQ, int NK>
inline void scores_tile(const AttnBlockArgs& a, int i0, int j0, float* s) {
  static_assert(NQ * NK <= 8);
  __m256 acc[8];
  for (int u = 0; u < 8; ++u) acc[u] = _mm256_setzero_ps();
  const float* q[NQ];
  for (int i = 0; i < NQ; ++i) q[i] = a.q[i0 + i];
  const uint16_t* k[NK];
  for (int j = 0; j < NK; ++j) k[j] = a.k + (j0 + j) * a.kv_stride;
  for (int64_t d = 0; d < a.hd; d += 8) {
    __m256 kv[NK];
    for (int j = 0; j < NK; ++j)
      kv[j] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k[j] + d)));
    for (int i = 0; i < NQ; ++i) {
      const __m256 qv = _mm256_loadu_ps(q[i] + d);
      for (int j = 0; j < NK; ++j) acc[i * NK + j] = _mm256_fmadd_ps(qv, kv[j], acc[i * NK + j]);
    }
  }
  alignas(32) float r[8];
  _mm256_store_ps(r, reduce8(acc));
  for (int i = 0; i < NQ; ++i)
    for (int j = 0; j < NK; ++j) s[(i0 + i) * kAttnMaxK + j0 + j] = r[i * NK + j];
}

template <int NQ>
inline void scores_rows(const AttnBlockArgs& a, int i0, float* s) {
  int j = 0;
  for (; j + 2 <= a.nk; j += 2) scores_tile<NQ, 2>(a, i0, j, s);
  if (j < a.nk) scores_tile<NQ, 1>(a, i0, j, s);
}

// o_i += sum_j p[i][j] v_j for NQ query rows from i0.
template <int NQ>
inline void pv_rows(const AttnBlockArgs& a, int i0, const float* p) {
  for (int64_t d = 0; d < a.hd; d += 16) {
    __m256 acc[NQ][2];
    for (int i = 0; i < NQ; ++i) {
      acc[i][0] = _mm256_loadu_ps(a.o + (i0 + i) * a.hd + d);
      acc[i][1] = _mm256_loadu_ps(a.o + (i0 + i) * a.hd + d + 8);
    }
    const uint16_t* v = a.v + d;
    for (int j = 0; j < a.nk; ++j, v += a.kv_stride) {
      const __m256 v0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v)));
      const __m256 v1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v + 8)));
      for (int i = 0; i < NQ; ++i) {
        const __m256 pi = _mm256_broadcast_ss(p + (i0 + i) * kAttnMaxK + j);
        acc[i][0] = _mm256_fmadd_ps(pi, v0, acc[i][0]);
        acc[i][1] = _mm256_fmadd_ps(pi, v1, acc[i][1]);
      }
    }
    for (int i = 0; i < NQ; ++i) {
      _mm256_storeu_ps(a.o + (i0 + i) * a.hd + d, acc[i][0]);
      _mm256_storeu_ps(a.o + (i0 + i) * a.hd + d + 8, acc[i][1]);
    }
  }
}

void attend_block_avx2(const AttnBlockArgs& a) {
  // Head dims that are not a multiple of 16: one query and one key at a time.
  if (a.hd % 16 != 0) return attend_block_rowwise(a, dot_f16_avx2, axpy_f16_avx2);
  alignas(32) float s[kAttnMaxQ * kAttnMaxK];
  // 1. raw scores q_i . k_j, four query rows at a time
  int i = 0;
  for (; i + 4 <= a.nq; i += 4) scores_rows<4>(a, i, s);
  switch (a.nq - i) {
    case 3: scores_rows<3>(a, i, s); break;
    case 2: scores_rows<2>(a, i, s); break;
    case 1: scores_rows<1>(a, i, s); break;
    default: break;
  }
  // 2. per query: mask, scale, new maximum, p = exp(s - m), rescale l and o
  const float ninf = -std::numeric_limits<float>::infinity();
  for (i = 0; i < a.nq; ++i) {
    float* si = s + i * kAttnMaxK;
    const int j0 = std::max(0, a.lo[i]), j1 = std::min(a.nk, a.hi[i]);
    if (j0 >= j1) {
      std::fill(si, si + kAttnMaxK, 0.0f);
      continue;
    }
    float mx = a.m[i];
    for (int j = 0; j < a.nk; ++j) {
      si[j] = j >= j0 && j < j1 ? si[j] * a.scale : ninf;
      mx = std::max(mx, si[j]);
    }
    for (int j = a.nk; j < kAttnMaxK; ++j) si[j] = ninf;
    const __m256 mv = _mm256_set1_ps(mx);
    __m256 sum = _mm256_setzero_ps();
    for (int j = 0; j < kAttnMaxK; j += 8) {
      const __m256 p = kernels::avx2::exp8(_mm256_sub_ps(_mm256_load_ps(si + j), mv));
      _mm256_store_ps(si + j, p);
      sum = _mm256_add_ps(sum, p);
    }
    const float c = std::exp(a.m[i] - mx);  // 0 when m was -inf
    if (c != 1.0f) {
      const __m256 cv = _mm256_set1_ps(c);
      float* o = a.o + i * a.hd;
      for (int64_t d = 0; d < a.hd; d += 8)
        _mm256_storeu_ps(o + d, _mm256_mul_ps(_mm256_loadu_ps(o + d), cv));
    }
    a.l[i] = a.l[i] * c + kernels::avx2::hsum(sum);
    a.m[i] = mx;
  }
  // 3. o_i += sum_j p_ij v_j, four query rows at a time
  for (i = 0; i + 4 <= a.nq; i += 4) pv_rows<4>(a, i, s);
  switch (a.nq - i) {
    case 3: pv_rows<3>(a, i, s); break;
    case 2: pv_rows<2>(a, i, s); break;
    case 1: pv_rows<1>(a, i, s); break;
    default: break;
  }
}

}  // namespace

const AttnKernels& attn_kernels_avx2() {
  static const AttnKernels k{dot_f16_avx2, axpy_f16_avx2, to_f16_avx2, attend_block_avx2};
  return k;
}

}  // namespace helix::model
