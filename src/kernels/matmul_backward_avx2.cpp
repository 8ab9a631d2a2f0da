// AVX2+FMA inner loops of the matmul backward (kernels/matmul_backward.h).
#include <immintrin.h>

#include "kernels/matmul_backward.h"

namespace helix::kernels {
namespace {

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

void axpy4_avx2(const float* a, const float* x, int64_t s, float* y, int64_t n) {
  const __m256 a0 = _mm256_set1_ps(a[0]), a1 = _mm256_set1_ps(a[1]), a2 = _mm256_set1_ps(a[2]),
               a3 = _mm256_set1_ps(a[3]);
  const float *x0 = x, *x1 = x + s, *x2 = x + 2 * s, *x3 = x + 3 * s;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 acc = _mm256_loadu_ps(y + i);
    acc = _mm256_fmadd_ps(a0, _mm256_loadu_ps(x0 + i), acc);
    acc = _mm256_fmadd_ps(a1, _mm256_loadu_ps(x1 + i), acc);
    acc = _mm256_fmadd_ps(a2, _mm256_loadu_ps(x2 + i), acc);
    acc = _mm256_fmadd_ps(a3, _mm256_loadu_ps(x3 + i), acc);
    _mm256_storeu_ps(y + i, acc);
  }
  for (; i < n; ++i) y[i] += a[0] * x0[i] + a[1] * x1[i] + a[2] * x2[i] + a[3] * x3[i];
}

void axpy_avx2(float a, const float* x, float* y, int64_t n) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += a * x[i];
}

float dot_avx2(const float* x, const float* y, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), acc1);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc0);
  float s = hsum(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) s += x[i] * y[i];
  return s;
}

template <int NT>
void rows_t_tile(const float* w, int64_t nr, int64_t n, const float* g, int64_t gs, float* dx, int64_t ds) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256 acc[NT][2];
    for (int t = 0; t < NT; ++t) acc[t][0] = acc[t][1] = _mm256_setzero_ps();
    const float* wr = w + i;
    for (int64_t r = 0; r < nr; ++r, wr += n) {
      const __m256 w0 = _mm256_loadu_ps(wr), w1 = _mm256_loadu_ps(wr + 8);
      for (int t = 0; t < NT; ++t) {
        const __m256 gv = _mm256_broadcast_ss(g + t * gs + r);
        acc[t][0] = _mm256_fmadd_ps(gv, w0, acc[t][0]);
        acc[t][1] = _mm256_fmadd_ps(gv, w1, acc[t][1]);
      }
    }
    for (int t = 0; t < NT; ++t) {
      float* d = dx + t * ds + i;
      _mm256_storeu_ps(d, _mm256_add_ps(_mm256_loadu_ps(d), acc[t][0]));
      _mm256_storeu_ps(d + 8, _mm256_add_ps(_mm256_loadu_ps(d + 8), acc[t][1]));
    }
  }
  for (; i < n; ++i)
    for (int t = 0; t < NT; ++t) {
      float s = 0;
      for (int64_t r = 0; r < nr; ++r) s += g[t * gs + r] * w[r * n + i];
      dx[t * ds + i] += s;
    }
}

void rows_t_avx2(const float* w, int64_t nr, int64_t n, const float* g, int64_t gs, int nt, float* dx, int64_t ds) {
  switch (nt) {
    case 4: rows_t_tile<4>(w, nr, n, g, gs, dx, ds); break;
    case 3: rows_t_tile<3>(w, nr, n, g, gs, dx, ds); break;
    case 2: rows_t_tile<2>(w, nr, n, g, gs, dx, ds); break;
    default: rows_t_tile<1>(w, nr, n, g, gs, dx, ds); break;
  }
}

constexpr BackwardKernels kAvx2 = {axpy4_avx2, axpy_avx2, dot_avx2, rows_t_avx2};

}  // namespace

const BackwardKernels& backward_kernels_avx2() { return kAvx2; }

}  // namespace helix::kernels
