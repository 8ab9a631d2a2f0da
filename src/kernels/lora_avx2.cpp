// LoRA products (kernels/lora.h) for AVX2+FMA+F16C: lora_down takes four rows of A per pass over
// x (four independent sums); lora_up runs down the rank on several blocks of eight outputs at once. Both keep the scalar reference's eight partial sums per dot (kernels/lora.cpp), so the paths
// agree to float rounding.
#include <immintrin.h>

#include <cmath>

#include "core/fp16.h"
#include "kernels/lora.h"

namespace helix::kernels {
namespace {

float hsum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));  // l, l+4
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));                                   // (0+4)+(2+6), (1+5)+(3+7)
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

inline __m256 load(const float* p) { return _mm256_loadu_ps(p); }
inline __m256 load(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
inline float scalar(float v) { return v; }
inline float scalar(uint16_t v) { return f16_to_f32(v); }
// Elements per cache line, and how far ahead of the reads prefetches go (1 KiB).
template <typename T>
constexpr int64_t kLineElems = 64 / sizeof(T);
template <typename T>
constexpr int64_t kAheadElems = 1024 / sizeof(T);

template <typename T>
void down(const T* a, int64_t rank, int64_t n_in, const float* x, float* u) {
  const int64_t n8 = n_in / 8 * 8;
  int64_t j = 0;
  for (; j + 4 <= rank; j += 4) {
    const T* r0 = a + j * n_in;
    const T* r1 = r0 + n_in;
    const T* r2 = r1 + n_in;
    const T* r3 = r2 + n_in;
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    for (int64_t i = 0; i < n8; i += 8) {
      if (i % kLineElems<T> == 0)  // the four rows stream from memory: keep reads in flight
        for (const T* r : {r0, r1, r2, r3}) __builtin_prefetch(r + i + kAheadElems<T>, 0, 0);
      const __m256 xv = _mm256_loadu_ps(x + i);
      s0 = _mm256_fmadd_ps(load(r0 + i), xv, s0);
      s1 = _mm256_fmadd_ps(load(r1 + i), xv, s1);
      s2 = _mm256_fmadd_ps(load(r2 + i), xv, s2);
      s3 = _mm256_fmadd_ps(load(r3 + i), xv, s3);
    }
    float r[4] = {hsum(s0), hsum(s1), hsum(s2), hsum(s3)};
    for (int64_t i = n8; i < n_in; ++i) {
      r[0] += scalar(r0[i]) * x[i];
      r[1] += scalar(r1[i]) * x[i];
      r[2] += scalar(r2[i]) * x[i];
      r[3] += scalar(r3[i]) * x[i];
    }
    for (int q = 0; q < 4; ++q) u[j + q] = r[q];
  }
  for (; j < rank; ++j) {
    const T* row = a + j * n_in;
    __m256 s = _mm256_setzero_ps();
    for (int64_t i = 0; i < n8; i += 8) s = _mm256_fmadd_ps(load(row + i), _mm256_loadu_ps(x + i), s);
    float r = hsum(s);
    for (int64_t i = n8; i < n_in; ++i) r += scalar(row[i]) * x[i];
    u[j] = r;
  }
}

// Output blocks [g0, g1) of NC columns, G blocks per step (NC * G accumulators, each a chain of
// rank FMAs: several chains hide the FMA latency).
template <typename T, int NC, int G>
int64_t up_blocks(const T* b, int64_t rank, int64_t g0, int64_t g1, const float* u, int64_t u_stride, float* y,
                  int64_t y_stride) {
  constexpr int64_t R = kLoraRows;
  int64_t g = g0;
  for (; g + G <= g1; g += G) {
    __m256 acc[NC][G];
    for (int c = 0; c < NC; ++c)
      for (int q = 0; q < G; ++q) acc[c][q] = _mm256_loadu_ps(y + c * y_stride + (g + q) * R);
    const T* blk = b + g * rank * R;
    // The next step's blocks (contiguous) are read while this one computes.
    for (int64_t e = G * rank * R; e < 2 * G * rank * R; e += kLineElems<T>) __builtin_prefetch(blk + e, 0, 0);
    for (int64_t j = 0; j < rank; ++j) {
      __m256 bv[G];
      for (int q = 0; q < G; ++q) bv[q] = load(blk + (q * rank + j) * R);
      for (int c = 0; c < NC; ++c) {
        const __m256 uj = _mm256_set1_ps(u[c * u_stride + j]);
        for (int q = 0; q < G; ++q) acc[c][q] = _mm256_fmadd_ps(bv[q], uj, acc[c][q]);
      }
    }
    for (int c = 0; c < NC; ++c)
      for (int q = 0; q < G; ++q) _mm256_storeu_ps(y + c * y_stride + (g + q) * R, acc[c][q]);
  }
  return g;
}

template <typename T, int NC, int G>
void up_cols(const T* b, int64_t rank, int64_t o0, int64_t o1, const float* u, int64_t u_stride, float* y,
             int64_t y_stride) {
  constexpr int64_t R = kLoraRows;
  // Whole blocks inside [o0, o1) vectorized; the partial ones at either end one output at a time.
  const int64_t g0 = (o0 + R - 1) / R, g1 = o1 / R;
  auto one = [&](int64_t o) {
    const T* blk = b + (o / R) * rank * R + o % R;
    for (int c = 0; c < NC; ++c) {
      float acc = y[c * y_stride + o];
      for (int64_t j = 0; j < rank; ++j) acc = std::fma(scalar(blk[j * R]), u[c * u_stride + j], acc);
      y[c * y_stride + o] = acc;
    }
  };
  if (g0 >= g1) {
    for (int64_t o = o0; o < o1; ++o) one(o);
    return;
  }
  for (int64_t o = o0; o < g0 * R; ++o) one(o);
  int64_t g = up_blocks<T, NC, G>(b, rank, g0, g1, u, u_stride, y, y_stride);
  g = up_blocks<T, NC, 1>(b, rank, g, g1, u, u_stride, y, y_stride);
  for (int64_t o = g1 * R; o < o1; ++o) one(o);
}

template <typename T>
void up(const T* b, int64_t rank, int64_t, int64_t o0, int64_t o1, const float* u, int64_t u_stride, int nc,
        float* y, int64_t y_stride) {
  switch (nc) {
    case 1: return up_cols<T, 1, 4>(b, rank, o0, o1, u, u_stride, y, y_stride);
    case 2: return up_cols<T, 2, 2>(b, rank, o0, o1, u, u_stride, y, y_stride);
    case 3: return up_cols<T, 3, 2>(b, rank, o0, o1, u, u_stride, y, y_stride);
    default: return up_cols<T, 4, 2>(b, rank, o0, o1, u, u_stride, y, y_stride);
  }
}

}  // namespace

const LoraKernels& lora_kernels_avx2() {
  static const LoraKernels k{down<float>, down<uint16_t>, up<float>, up<uint16_t>};
  return k;
}

}  // namespace helix::kernels
