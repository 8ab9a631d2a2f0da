// AVX2+FMA+F16C dot products for the K types (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K) against BlockQ8_K
// activations. Same math as vec_dot_ref.cpp: per 256-element super-block, unsigned weight codes
// times signed activations (maddubs), each 16- or 32-element group multiplied by its integer scale
// (madd), and offsets or minimums taken off with the activation's per-16 sums. One float FMA per
// super-block and activation row. A super-block is unpacked once for up to kMaxCols rows.
#include <array>
#include <cstddef>
#include <cstring>

#include "kernels/simd_avx2.h"
#include "kernels/vec_dot.h"
#include "quant/blocks.h"

namespace helix::kernels {
namespace {

using namespace avx2;
using quant::BlockQ2_K;
using quant::BlockQ3_K;
using quant::BlockQ4_K;
using quant::BlockQ5_K;
using quant::BlockQ6_K;
using quant::BlockQ8_K;
using quant::QK_K;

using Mask = std::array<uint8_t, 32>;

// kBcast8[k]: shuffle that fills both 128-bit lanes with int16 lane k (of 8).
constexpr std::array<Mask, 8> make_bcast8() {
  std::array<Mask, 8> m{};
  for (int k = 0; k < 8; ++k)
    for (int i = 0; i < 32; i += 2) {
      m[k][i] = static_cast<uint8_t>(2 * k);
      m[k][i + 1] = static_cast<uint8_t>(2 * k + 1);
    }
  return m;
}
// kPair[k]: low lane <- int16 lane 2k, high lane <- int16 lane 2k + 1 (scales of the two
// 16-element groups of the k-th 32-element vector of a 128-element half).
constexpr std::array<Mask, 4> make_pair() {
  std::array<Mask, 4> m{};
  for (int k = 0; k < 4; ++k)
    for (int i = 0; i < 32; i += 2) {
      const int lane = i < 16 ? 2 * k : 2 * k + 1;
      m[k][i] = static_cast<uint8_t>(2 * lane);
      m[k][i + 1] = static_cast<uint8_t>(2 * lane + 1);
    }
  return m;
}
alignas(32) constexpr std::array<Mask, 8> kBcast8 = make_bcast8();
alignas(32) constexpr std::array<Mask, 4> kPair = make_pair();

inline __m256i shuf(__m256i v, const Mask& m) { return _mm256_shuffle_epi8(v, loadu(m.data())); }
inline __m256i bcast_lo(__m256i v) { return _mm256_permute2x128_si256(v, v, 0x00); }
inline __m256i bcast_hi(__m256i v) { return _mm256_permute2x128_si256(v, v, 0x11); }

template <int NC>
inline void act_rows(const void* xv, size_t xs, const BlockQ8_K* (&a)[NC]) {
  for (int c = 0; c < NC; ++c)
    a[c] = reinterpret_cast<const BlockQ8_K*>(static_cast<const uint8_t*>(xv) + c * xs);
}

// Sum over the 16 groups of scale[g] * bsums[g] (scales as 16 int16), as 8 int32.
inline __m256i scaled_bsums(__m256i scales16, const BlockQ8_K& a) {
  return _mm256_madd_epi16(scales16, loadu(a.bsums));
}

// ---- Q4_K and Q5_K: 8 sub-blocks of 32 with 6-bit scale and min ---------------------------------

// From the first 16 bytes of a Q4_K / Q5_K block (d, dmin, 12 packed bytes): the 8 scales then the
// 8 mins as 16 int16, and d, dmin in lanes 0, 1 of `dd`. With the packed bytes as 32-bit words
// u0, u1, u2 (byte i of a word = sub-block i or i + 4):
//   scales 0-3 = u0 & 63, scales 4-7 = (u2 & 0x0f) | (u0 >> 6) << 4,
//   mins 0-3 = u1 & 63,   mins 4-7 = (u2 >> 4) | (u1 >> 6) << 4   (per byte).
inline __m256i scales_mins_k4(const void* block, __m128& dd, __m256i& mins16) {
  const __m128i v = _mm_loadu_si128(static_cast<const __m128i*>(block));
  dd = _mm_cvtph_ps(v);
  const __m128i a = _mm_shuffle_epi32(v, _MM_SHUFFLE(3, 2, 3, 1));  // u0 u2 u1 u2
  const __m128i b = _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 2, 1, 1));  // u0 u0 u1 u1
  const __m128i low6 = _mm_and_si128(a, _mm_set1_epi8(63));
  const __m128i hi4 =
      _mm_and_si128(_mm_srlv_epi32(a, _mm_setr_epi32(0, 0, 0, 4)), _mm_set1_epi8(0x0F));
  const __m128i top2 = _mm_slli_epi32(_mm_and_si128(_mm_srli_epi32(b, 6), _mm_set1_epi8(3)), 4);
  const __m128i mixed = _mm_or_si128(hi4, top2);
  // order sc0-3, sc4-7, m0-3, m4-7 = lanes 0 (low6), 1 (mixed), 2 (low6), 3 (mixed)
  const __m128i sm = _mm_blend_epi32(low6, mixed, 0b1010);
  mins16 = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(sm, sm));  // each min twice: per 16 elements
  return _mm256_cvtepu8_epi16(sm);
}

template <bool kHigh, typename Block, int NC>
void dot_q45_k(int64_t n, const void* wv, const void* xv, size_t xs, float* out) {
  const auto* w = static_cast<const Block*>(wv);
  const BlockQ8_K* a[NC];
  act_rows<NC>(xv, xs, a);
  alignas(32) float acc[NC][8] = {}, accm[NC][8] = {};  // in memory: see pin
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  for (int64_t b = 0; b < n / QK_K; ++b) {
    const Block& B = w[b];
    static_assert(offsetof(Block, scales) == 4 && sizeof(Block) >= 16);
    __m128 dd;  // d, dmin
    __m256i mins16;
    const __m256i sc = bcast_lo(scales_mins_k4(&B, dd, mins16));
    __m256i hb = _mm256_setzero_si256();
    if constexpr (kHigh) hb = loadu(B.qh);
    __m256i sumi[NC];
    for (int c = 0; c < NC; ++c) sumi[c] = _mm256_setzero_si256();
    for (int j = 0; j < 4; ++j) {
      const __m256i q = loadu(B.qs + 32 * j);
      __m256i lo = _mm256_and_si256(q, m4);
      __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
      if constexpr (kHigh) {  // bit 2j of qh -> bit 4 of the low codes, bit 2j+1 -> the high ones
        const __m256i m16 = _mm256_set1_epi8(0x10);
        lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_slli_epi16(hb, 4), m16));
        hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_slli_epi16(hb, 3), m16));
        hb = _mm256_srli_epi16(hb, 2);
      }
      const __m256i s_lo = shuf(sc, kBcast8[2 * j]);
      const __m256i s_hi = shuf(sc, kBcast8[2 * j + 1]);
      for (int c = 0; c < NC; ++c) {
        const int8_t* y = a[c][b].qs + 64 * j;
        const __m256i p_lo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, loadu(y)), s_lo);
        const __m256i p_hi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, loadu(y + 32)), s_hi);
        sumi[c] = _mm256_add_epi32(sumi[c], _mm256_add_epi32(p_lo, p_hi));
        if constexpr (NC > 1) pin(sumi[c]);
      }
    }
    for (int c = 0; c < NC; ++c) {
      const BlockQ8_K& A = a[c][b];
      const __m128 ds = _mm_mul_ps(dd, _mm_set1_ps(A.d));  // d * dy, dmin * dy
      _mm256_store_ps(acc[c], _mm256_fmadd_ps(_mm256_broadcastss_ps(ds), _mm256_cvtepi32_ps(sumi[c]),
                                              _mm256_load_ps(acc[c])));
      _mm256_store_ps(accm[c], _mm256_fmadd_ps(_mm256_broadcastss_ps(_mm_movehdup_ps(ds)),
                                               _mm256_cvtepi32_ps(scaled_bsums(mins16, A)),
                                               _mm256_load_ps(accm[c])));
    }
  }
  for (int c = 0; c < NC; ++c) out[c] = hsum(_mm256_sub_ps(_mm256_load_ps(acc[c]), _mm256_load_ps(accm[c])));
}

// ---- Q6_K: 6-bit codes (q + 32), 16 int8 scales -------------------------------------------------

template <int NC>
void dot_q6_k(int64_t n, const void* wv, const void* xv, size_t xs, float* out) {
  const auto* w = static_cast<const BlockQ6_K*>(wv);
  const BlockQ8_K* a[NC];
  act_rows<NC>(xv, xs, a);
  alignas(32) float acc[NC][8] = {};  // in memory: see pin
  const __m256i m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30);
  for (int64_t b = 0; b < n / QK_K; ++b) {
    const BlockQ6_K& B = w[b];
    const __m256i sc16 =
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(B.scales)));
    __m256i sumi[NC];
    for (int c = 0; c < NC; ++c)  // the offset: -32 * sum scale[g] * bsum[g]
      sumi[c] = _mm256_sub_epi32(_mm256_setzero_si256(),
                                 _mm256_slli_epi32(scaled_bsums(sc16, a[c][b]), 5));
    for (int h = 0; h < 2; ++h) {
      const __m256i sch = h == 0 ? bcast_lo(sc16) : bcast_hi(sc16);
      const __m256i ql0 = loadu(B.ql + 64 * h);
      const __m256i ql1 = loadu(B.ql + 64 * h + 32);
      const __m256i qh = loadu(B.qh + 32 * h);
      for (int k = 0; k < 4; ++k) {
        // low 4 bits from ql (low nibbles of ql0/ql1, then high nibbles), bits 4-5 from qh bits 2k
        const __m256i ql = (k & 1) ? ql1 : ql0;
        const __m256i lo = _mm256_and_si256(k < 2 ? ql : _mm256_srli_epi16(ql, 4), m4);
        const __m256i hi = k == 0   ? _mm256_slli_epi16(qh, 4)
                           : k == 1 ? _mm256_slli_epi16(qh, 2)
                           : k == 2 ? qh
                                    : _mm256_srli_epi16(qh, 2);
        const __m256i q = _mm256_or_si256(lo, _mm256_and_si256(hi, m30));
        const __m256i s = shuf(sch, kPair[k]);
        for (int c = 0; c < NC; ++c) {
          const __m256i y = loadu(a[c][b].qs + 128 * h + 32 * k);
          sumi[c] = _mm256_add_epi32(sumi[c], _mm256_madd_epi16(_mm256_maddubs_epi16(q, y), s));
          if constexpr (NC > 1) pin(sumi[c]);
        }
      }
    }
    const float d = fp16(B.d);
    for (int c = 0; c < NC; ++c)
      _mm256_store_ps(acc[c], _mm256_fmadd_ps(_mm256_set1_ps(d * a[c][b].d), _mm256_cvtepi32_ps(sumi[c]),
                                              _mm256_load_ps(acc[c])));
  }
  for (int c = 0; c < NC; ++c) out[c] = hsum(_mm256_load_ps(acc[c]));
}

// ---- Q3_K: 2-bit codes + high bit (q + 4), 16 signed 6-bit scales -------------------------------

inline __m256i scales_q3_k(const uint8_t* packed) {
  uint32_t u[4];
  std::memcpy(u, packed, 12);
  constexpr uint32_t k4 = 0x0f0f0f0f, k2 = 0x03030303;
  const uint32_t t = u[2];
  u[2] = ((u[0] >> 4) & k4) | (((t >> 4) & k2) << 4);
  u[3] = ((u[1] >> 4) & k4) | (((t >> 6) & k2) << 4);
  u[0] = (u[0] & k4) | ((t & k2) << 4);
  u[1] = (u[1] & k4) | (((t >> 2) & k2) << 4);
  const __m128i s = _mm_set_epi32(static_cast<int>(u[3]), static_cast<int>(u[2]),
                                  static_cast<int>(u[1]), static_cast<int>(u[0]));
  return _mm256_cvtepi8_epi16(_mm_sub_epi8(s, _mm_set1_epi8(32)));
}

template <int NC>
void dot_q3_k(int64_t n, const void* wv, const void* xv, size_t xs, float* out) {
  const auto* w = static_cast<const BlockQ3_K*>(wv);
  const BlockQ8_K* a[NC];
  act_rows<NC>(xv, xs, a);
  __m256 acc[NC];
  for (int c = 0; c < NC; ++c) acc[c] = _mm256_setzero_ps();
  const __m256i m3 = _mm256_set1_epi8(0x03), m04 = _mm256_set1_epi8(0x04);
  for (int64_t b = 0; b < n / QK_K; ++b) {
    const BlockQ3_K& B = w[b];
    const __m256i sc16 = scales_q3_k(B.scales);
    __m256i sumi[NC];
    for (int c = 0; c < NC; ++c)  // the offset: -4 * sum scale[g] * bsum[g]
      sumi[c] = _mm256_sub_epi32(_mm256_setzero_si256(),
                                 _mm256_slli_epi32(scaled_bsums(sc16, a[c][b]), 2));
    const __m256i hm = loadu(B.hmask);
    for (int h = 0; h < 2; ++h) {
      const __m256i sch = h == 0 ? bcast_lo(sc16) : bcast_hi(sc16);
      const __m256i q2 = loadu(B.qs + 32 * h);
      // hmask bits 4h..4h+3 of each byte moved to bits 2..5
      const __m256i hb = h == 0 ? _mm256_slli_epi16(hm, 2) : _mm256_srli_epi16(hm, 2);
      for (int j = 0; j < 4; ++j) {
        const __m128i shift = _mm_cvtsi32_si128(2 * j), hshift = _mm_cvtsi32_si128(j);
        const __m256i q = _mm256_or_si256(_mm256_and_si256(_mm256_srl_epi16(q2, shift), m3),
                                          _mm256_and_si256(_mm256_srl_epi16(hb, hshift), m04));
        const __m256i s = shuf(sch, kPair[j]);
        for (int c = 0; c < NC; ++c) {
          const __m256i y = loadu(a[c][b].qs + 128 * h + 32 * j);
          sumi[c] = _mm256_add_epi32(sumi[c], _mm256_madd_epi16(_mm256_maddubs_epi16(q, y), s));
          if constexpr (NC > 1) pin(sumi[c]);
        }
      }
    }
    const float d = fp16(B.d);
    for (int c = 0; c < NC; ++c)
      acc[c] = _mm256_fmadd_ps(_mm256_set1_ps(d * a[c][b].d), _mm256_cvtepi32_ps(sumi[c]), acc[c]);
  }
  for (int c = 0; c < NC; ++c) out[c] = hsum(acc[c]);
}

// ---- Q2_K: 2-bit codes, 4-bit scale and min per 16 ---------------------------------------------

template <int NC>
void dot_q2_k(int64_t n, const void* wv, const void* xv, size_t xs, float* out) {
  const auto* w = static_cast<const BlockQ2_K*>(wv);
  const BlockQ8_K* a[NC];
  act_rows<NC>(xv, xs, a);
  __m256 acc[NC], accm[NC];
  for (int c = 0; c < NC; ++c) acc[c] = accm[c] = _mm256_setzero_ps();
  const __m256i m3 = _mm256_set1_epi8(0x03);
  const __m128i m4 = _mm_set1_epi8(0x0F);
  for (int64_t b = 0; b < n / QK_K; ++b) {
    const BlockQ2_K& B = w[b];
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(B.scales));
    const __m256i sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(packed, m4));
    const __m256i mins16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(packed, 4), m4));
    __m256i sumi[NC];
    for (int c = 0; c < NC; ++c) sumi[c] = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i sch = h == 0 ? bcast_lo(sc16) : bcast_hi(sc16);
      const __m256i q2 = loadu(B.qs + 32 * h);
      for (int j = 0; j < 4; ++j) {
        const __m256i q = _mm256_and_si256(_mm256_srl_epi16(q2, _mm_cvtsi32_si128(2 * j)), m3);
        const __m256i s = shuf(sch, kPair[j]);
        for (int c = 0; c < NC; ++c) {
          const __m256i y = loadu(a[c][b].qs + 128 * h + 32 * j);
          sumi[c] = _mm256_add_epi32(sumi[c], _mm256_madd_epi16(_mm256_maddubs_epi16(q, y), s));
          if constexpr (NC > 1) pin(sumi[c]);
        }
      }
    }
    const float d = fp16(B.d), dmin = fp16(B.dmin);
    for (int c = 0; c < NC; ++c) {
      const BlockQ8_K& A = a[c][b];
      acc[c] = _mm256_fmadd_ps(_mm256_set1_ps(d * A.d), _mm256_cvtepi32_ps(sumi[c]), acc[c]);
      accm[c] = _mm256_fmadd_ps(_mm256_set1_ps(dmin * A.d),
                                _mm256_cvtepi32_ps(scaled_bsums(mins16, A)), accm[c]);
    }
  }
  for (int c = 0; c < NC; ++c) out[c] = hsum(acc[c]) - hsum(accm[c]);
}

#define HELIX_K_TABLE(fn)                   \
  [] {                                      \
    DotKernels k;                           \
    k.act = ActFormat::Q8K;                 \
    k.quantize_act = quantize_act_q8k_avx2; \
    k.dot[0] = fn<1>;                       \
    k.dot[1] = fn<2>;                       \
    k.dot[2] = fn<3>;                       \
    k.dot[3] = fn<4>;                       \
    return k;                               \
  }()

template <int NC>
void dot_q4_k(int64_t n, const void* w, const void* x, size_t xs, float* out) {
  dot_q45_k<false, BlockQ4_K, NC>(n, w, x, xs, out);
}
template <int NC>
void dot_q5_k(int64_t n, const void* w, const void* x, size_t xs, float* out) {
  dot_q45_k<true, BlockQ5_K, NC>(n, w, x, xs, out);
}

}  // namespace

const DotKernels* dot_kernels_avx2_k(DType t) {
  static constexpr DotKernels kQ2_K = HELIX_K_TABLE(dot_q2_k);
  static constexpr DotKernels kQ3_K = HELIX_K_TABLE(dot_q3_k);
  static constexpr DotKernels kQ4_K = HELIX_K_TABLE(dot_q4_k);
  static constexpr DotKernels kQ5_K = HELIX_K_TABLE(dot_q5_k);
  static constexpr DotKernels kQ6_K = HELIX_K_TABLE(dot_q6_k);
  switch (t) {
    case DType::Q2_K:
      return &kQ2_K;
    case DType::Q3_K:
      return &kQ3_K;
    case DType::Q4_K:
      return &kQ4_K;
    case DType::Q5_K:
      return &kQ5_K;
    case DType::Q6_K:
      return &kQ6_K;
    default:
      return nullptr;
  }
}

}  // namespace helix::kernels
