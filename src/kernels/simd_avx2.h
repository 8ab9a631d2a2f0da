// Small AVX2 helpers shared by the *_avx2.cpp kernels. Include only from files compiled with
// -mavx2 -mfma -mf16c. Everything here has internal linkage (static), so no AVX2 copy of an inline
// function can be picked by the linker for a scalar translation unit.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace helix::kernels::avx2 {

static inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

static inline int hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
  return _mm_cvtsi128_si32(s);
}

// An empty asm that claims to change v: the compiler must have v in a register here and cannot
// move the work around it. In kernels with one integer accumulator per column (eight and more),
// GCC otherwise hoists the next loads and products of every column ahead of the sums and spills
// accumulators to the stack inside the innermost loop.
static inline void pin(__m256i& v) { __asm__ volatile("" : "+x"(v)); }
static inline void pin(__m256& v) { __asm__ volatile("" : "+x"(v)); }

static inline float fp16(uint16_t h) { return _cvtsh_ss(h); }

// Four bytes broadcast to every 32-bit lane (activation bytes against eight interleaved rows).
static inline __m256i bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

static inline __m256i loadu(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

// 16 bytes of packed nibbles -> 32 bytes: low nibbles first, then high nibbles.
// (Both lanes get the 16 bytes; the high lane is shifted by 4 with one variable shift.)
static inline __m256i nibbles(const uint8_t* p) {
  const __m256i v =
      _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_and_si256(_mm256_srlv_epi32(v, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4)),
                          _mm256_set1_epi8(0x0F));
}

// 32 bits -> 32 bytes, byte j = 0xFF if bit j is set, else 0.
static inline __m256i bits_to_bytes(uint32_t bits) {
  const __m256i spread = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202,
                                           0x0101010101010101, 0x0000000000000000);
  __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)), spread);
  v = _mm256_or_si256(v, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
  return _mm256_cmpeq_epi8(v, _mm256_set1_epi64x(-1));
}

// Sum of u[i] * s[i] over each group of 4 bytes: 8 int32 (u unsigned, s signed; u * s pairs
// must fit int16, which holds for codes up to 7 bits against activations in -127..127).
static inline __m256i dot_u8s8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

// One 32-element block of eight interleaved Q5_0 rows against an activation block of 32 int8
// values y with sum ys: code[g] lane r holds row r's codes (q + 16) of elements 4g..4g+3 and
// code[4 + g] those of 16+4g..16+4g+3. Returns sum(q * y) per row. Four pair sums of codes < 32
// against |y| <= 127 stay below 2^15, so they add in int16. Shared by the packed row-group dots
// and the Q5_0 GEMM so that both give the same sums.
static inline __m256i q5_block_dot8(const __m256i* code, const int8_t* y, int32_t ys) {
  __m256i lo = _mm256_maddubs_epi16(code[0], bcast4(y));
  __m256i hi = _mm256_maddubs_epi16(code[4], bcast4(y + 16));
  for (int g = 1; g < 4; ++g) {
    lo = _mm256_add_epi16(lo, _mm256_maddubs_epi16(code[g], bcast4(y + 4 * g)));
    hi = _mm256_add_epi16(hi, _mm256_maddubs_epi16(code[4 + g], bcast4(y + 16 + 4 * g)));
  }
  const __m256i ones = _mm256_set1_epi16(1);
  const __m256i s = _mm256_add_epi32(_mm256_madd_epi16(lo, ones), _mm256_madd_epi16(hi, ones));
  return _mm256_sub_epi32(s, _mm256_set1_epi32(16 * ys));  // codes are q + 16
}

// Moves bit kFrom of every byte to bit kTo (other bits are garbage; mask afterwards).
template <int kFrom, int kTo>
static inline __m256i move_bit(__m256i v) {
  if constexpr (kFrom < kTo)
    return _mm256_slli_epi16(v, kTo - kFrom);
  else if constexpr (kFrom > kTo)
    return _mm256_srli_epi16(v, kFrom - kTo);
  else
    return v;
}

// exp(x) for each lane (range reduction to [-ln2/2, ln2/2] and a degree-6 polynomial, about
// 2 ulp); 0 below -87.3 (so -inf gives 0), clamped at the top of the float range.
static inline __m256 exp8(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.33654f);
  const __m256 underflow = _mm256_cmp_ps(x, lo, _CMP_GE_OQ);  // false for -inf and NaN
  x = _mm256_min_ps(_mm256_max_ps(x, lo), _mm256_set1_ps(88.37626f));
  // x = n ln2 + r, n = round(x / ln2)
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);  // ln2 split in two parts
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  // e^r = 1 + r + r^2 (1/2 + r (1/6 + r (1/24 + r (1/120 + r (1/720 + r/5040)))))
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  // * 2^n, in two steps so that n = 128 (x near the top) does not overflow the exponent field
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
  return _mm256_and_ps(_mm256_mul_ps(_mm256_mul_ps(p, s1), s2), underflow);
}

}  // namespace helix::kernels::avx2
