// AVX2+FMA inner loops of the matmul backward (kernels/matmul_backward.h).
#include <immintrin.h>

#include <cmath>

#include "kernels/matmul_backward.h"
#include "kernels/simd_avx2.h"

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

// The LM head's softmax cross-entropy over a 262,144-wide row: max, exp8 (about 2 ulp) with
// the sum in four vector accumulators, then one scaling pass.
double softmax_xent_avx2(float* z, int64_t n, int32_t y, float grad_scale, bool backward) {
  const float zy = z[y];
  __m256 mv = _mm256_set1_ps(-INFINITY);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(z + i));
  float m = -INFINITY;
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, mv);
  for (float v : lanes) m = std::fmax(m, v);
  for (; i < n; ++i) m = std::fmax(m, z[i]);
  const __m256 mm = _mm256_set1_ps(m);
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  for (i = 0; i + 16 <= n; i += 16) {
    const __m256 e0 = avx2::exp8(_mm256_sub_ps(_mm256_loadu_ps(z + i), mm));
    const __m256 e1 = avx2::exp8(_mm256_sub_ps(_mm256_loadu_ps(z + i + 8), mm));
    _mm256_storeu_ps(z + i, e0);
    _mm256_storeu_ps(z + i + 8, e1);
    s0 = _mm256_add_ps(s0, e0);
    s1 = _mm256_add_ps(s1, e1);
  }
  _mm256_store_ps(lanes, _mm256_add_ps(s0, s1));
  double l = 0;
  for (float v : lanes) l += v;
  for (; i < n; ++i) {
    z[i] = std::exp(z[i] - m);
    l += z[i];
  }
  if (backward) {
    const __m256 sc = _mm256_set1_ps(static_cast<float>(grad_scale / l));
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(z + i, _mm256_mul_ps(_mm256_loadu_ps(z + i), sc));
    for (; i < n; ++i) z[i] *= static_cast<float>(grad_scale / l);
    z[y] -= grad_scale;
  }
  return m + std::log(l) - zy;
}

// As gated_act_ref, with σ(x) = 1 / (1 + e^−x) and tanh(z) = 1 − 2 / (e^2z + 1) on exp8.
void gated_act_avx2(bool gelu, const float* g, const float* u, const float* dm, float* dg, float* du, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f), half = _mm256_set1_ps(0.5f), two = _mm256_set1_ps(2.0f);
  const __m256 kc = _mm256_set1_ps(0.7978845608028654f), ka = _mm256_set1_ps(0.044715f),
               ka3 = _mm256_set1_ps(3.0f * 0.044715f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_loadu_ps(g + i);
    __m256 a, da;
    if (!gelu) {
      const __m256 s = _mm256_div_ps(one, _mm256_add_ps(one, avx2::exp8(_mm256_sub_ps(_mm256_setzero_ps(), x))));
      a = _mm256_mul_ps(x, s);
      da = _mm256_mul_ps(s, _mm256_fmadd_ps(x, _mm256_sub_ps(one, s), one));
    } else {
      const __m256 x2 = _mm256_mul_ps(x, x);
      const __m256 z = _mm256_mul_ps(kc, _mm256_fmadd_ps(_mm256_mul_ps(ka, x2), x, x));
      const __m256 t = _mm256_sub_ps(one, _mm256_div_ps(two, _mm256_add_ps(avx2::exp8(_mm256_add_ps(z, z)), one)));
      const __m256 opt = _mm256_add_ps(one, t);
      a = _mm256_mul_ps(_mm256_mul_ps(half, x), opt);
      const __m256 sech2 = _mm256_fnmadd_ps(t, t, one);
      da = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_mul_ps(half, x), sech2), _mm256_mul_ps(kc, _mm256_fmadd_ps(ka3, x2, one)),
                           _mm256_mul_ps(half, opt));
    }
    const __m256 d = _mm256_loadu_ps(dm + i);
    _mm256_storeu_ps(du + i, _mm256_mul_ps(d, a));
    _mm256_storeu_ps(dg + i, _mm256_mul_ps(_mm256_mul_ps(d, _mm256_loadu_ps(u + i)), da));
  }
  if (i < n) backward_kernels(Isa::Scalar).gated_act(gelu, g + i, u + i, dm + i, dg + i, du + i, n - i);
}

constexpr BackwardKernels kAvx2 = {axpy4_avx2, axpy_avx2, dot_avx2, rows_t_avx2, softmax_xent_avx2, gated_act_avx2};

}  // namespace

const BackwardKernels& backward_kernels_avx2() { return kAvx2; }

}  // namespace helix::kernels
