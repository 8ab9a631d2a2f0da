// AVX2+FMA row kernels for kernels/ops.h: the same formulas as the scalar ones in ops.cpp, eight
// lanes at a time, with a vector exp (range reduction to [-ln2/2, ln2/2] and a degree-6
// polynomial, about 2 ulp) for softmax, gelu and silu.
#include <cmath>
#include <limits>

#include "kernels/ops.h"
#include "kernels/simd_avx2.h"

namespace helix::kernels {
namespace {

using namespace avx2;

// Mask of the first `rem` lanes (1..7) for the row tails.
inline __m256i tail_mask(int64_t rem) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(rem)), idx);
}
inline __m256 load_tail(const float* p, int64_t rem) {
  return _mm256_maskload_ps(p, tail_mask(rem));
}
inline void store_tail(float* p, int64_t rem, __m256 v) {
  _mm256_maskstore_ps(p, tail_mask(rem), v);
}

// Applies f to every 8 lanes of x into y, with masked loads/stores for the tail.
template <typename F>
inline void map8(const float* x, float* y, int64_t n, F f) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, f(_mm256_loadu_ps(x + i)));
  if (i < n) store_tail(y + i, n - i, f(load_tail(x + i, n - i)));
}

float sum_sq(const float* x, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 u = _mm256_loadu_ps(x + i), v = _mm256_loadu_ps(x + i + 8);
    a0 = _mm256_fmadd_ps(u, u, a0);
    a1 = _mm256_fmadd_ps(v, v, a1);
  }
  for (; i + 8 <= n; i += 8) {
    const __m256 u = _mm256_loadu_ps(x + i);
    a0 = _mm256_fmadd_ps(u, u, a0);
  }
  if (i < n) {
    const __m256 u = load_tail(x + i, n - i);
    a1 = _mm256_fmadd_ps(u, u, a1);
  }
  return hsum(_mm256_add_ps(a0, a1));
}

void rmsnorm(const float* x, const float* w, float* y, int64_t n, float eps) {
  const float r = 1.0f / std::sqrt(sum_sq(x, n) / static_cast<float>(n) + eps);
  const __m256 rv = _mm256_set1_ps(r);
  if (!w) {
    map8(x, y, n, [&](__m256 v) { return _mm256_mul_ps(v, rv); });
    return;
  }
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(
        y + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), rv), _mm256_loadu_ps(w + i)));
  if (i < n)
    store_tail(y + i, n - i,
               _mm256_mul_ps(_mm256_mul_ps(load_tail(x + i, n - i), rv), load_tail(w + i, n - i)));
}

void layernorm(const float* x, const float* w, const float* b, float* y, int64_t n, float eps) {
  __m256 s = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) s = _mm256_add_ps(s, _mm256_loadu_ps(x + i));
  if (i < n) s = _mm256_add_ps(s, load_tail(x + i, n - i));
  const float mean = hsum(s) / static_cast<float>(n);
  const __m256 mv = _mm256_set1_ps(mean);
  __m256 v = _mm256_setzero_ps();
  for (i = 0; i + 8 <= n; i += 8) {
    const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + i), mv);
    v = _mm256_fmadd_ps(d, d, v);
  }
  float var = hsum(v);
  for (; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  const float r = 1.0f / std::sqrt(var / static_cast<float>(n) + eps);
  for (i = 0; i < n; ++i) y[i] = (x[i] - mean) * r * (w ? w[i] : 1.0f) + (b ? b[i] : 0.0f);
}

void softmax(const float* x, float* y, int64_t n, float scale) {
  const __m256 sc = _mm256_set1_ps(scale);
  const float ninf = -std::numeric_limits<float>::infinity();
  __m256 mv = _mm256_set1_ps(ninf);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) mv = _mm256_max_ps(mv, _mm256_mul_ps(_mm256_loadu_ps(x + i), sc));
  float m = ninf;
  for (; i < n; ++i) m = std::fmax(m, x[i] * scale);
  __m128 h = _mm_max_ps(_mm256_castps256_ps128(mv), _mm256_extractf128_ps(mv, 1));
  h = _mm_max_ps(h, _mm_movehl_ps(h, h));
  h = _mm_max_ss(h, _mm_movehdup_ps(h));
  m = std::fmax(m, _mm_cvtss_f32(h));
  if (m == ninf) {
    for (i = 0; i < n; ++i) y[i] = 0;
    return;
  }
  const __m256 mm = _mm256_set1_ps(m);
  __m256 s = _mm256_setzero_ps();
  for (i = 0; i + 8 <= n; i += 8) {
    const __m256 e = exp8(_mm256_fmsub_ps(_mm256_loadu_ps(x + i), sc, mm));
    _mm256_storeu_ps(y + i, e);
    s = _mm256_add_ps(s, e);
  }
  if (i < n) {
    const __m256 e = _mm256_and_ps(exp8(_mm256_fmsub_ps(load_tail(x + i, n - i), sc, mm)),
                                   _mm256_castsi256_ps(tail_mask(n - i)));
    store_tail(y + i, n - i, e);
    s = _mm256_add_ps(s, e);
  }
  const __m256 inv = _mm256_set1_ps(1.0f / hsum(s));
  map8(y, y, n, [&](__m256 v) { return _mm256_mul_ps(v, inv); });
}

// gelu(x) = 0.5 x (1 + tanh(u)) = x / (1 + exp(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3)
void gelu(const float* x, float* y, int64_t n) {
  const __m256 k2 = _mm256_set1_ps(-2.0f * 0.7978845608028654f);
  const __m256 c = _mm256_set1_ps(0.044715f), one = _mm256_set1_ps(1.0f);
  map8(x, y, n, [&](__m256 v) {
    const __m256 u = _mm256_fmadd_ps(_mm256_mul_ps(c, v), _mm256_mul_ps(v, v), v);
    return _mm256_div_ps(v, _mm256_add_ps(one, exp8(_mm256_mul_ps(k2, u))));
  });
}

void silu(const float* x, float* y, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f), neg = _mm256_set1_ps(-0.0f);
  map8(x, y, n,
       [&](__m256 v) { return _mm256_div_ps(v, _mm256_add_ps(one, exp8(_mm256_xor_ps(v, neg)))); });
}

template <typename F>
inline void zip8(const float* a, const float* b, float* y, int64_t n, F f) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, f(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
  if (i < n) store_tail(y + i, n - i, f(load_tail(a + i, n - i), load_tail(b + i, n - i)));
}

void add(const float* a, const float* b, float* y, int64_t n) {
  zip8(a, b, y, n, [](__m256 u, __m256 v) { return _mm256_add_ps(u, v); });
}
void mul(const float* a, const float* b, float* y, int64_t n) {
  zip8(a, b, y, n, [](__m256 u, __m256 v) { return _mm256_mul_ps(u, v); });
}

constexpr RowOps kAvx2Ops = {rmsnorm, layernorm, softmax, gelu, silu, add, mul};

}  // namespace

const RowOps& row_ops_avx2() { return kAvx2Ops; }

}  // namespace helix::kernels
