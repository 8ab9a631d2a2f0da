// AVX2 GEMM for the 32-element block types with a 4- or 5-bit code (Q4_0, Q4_1, Q5_0, Q5_1):
// prefill's y[n_out, n_tok] = W . x for many tokens at once (see kernels/gemm.h).
//
// Eight weight rows are unpacked once per token tile into a panel where each 32-bit lane holds
// four consecutive codes of one row ("8 rows interleaved"): one maddubs against four activation
// bytes broadcast to every lane then advances all eight rows, and each block's integer sums, int
// to float conversion and scale multiply are done for eight rows in one instruction each (the
// row-by-row dot of vec_dot_avx2.cpp pays them per row). The math is the reference's: integer
// dot of the codes with the BlockQ8A activations, offsets through the activation sums, one float
// scale (and minimum) per block; only the order of float additions differs.
#include "kernels/gemm.h"

#include <cstring>

#include "kernels/simd_avx2.h"
#include "quant/blocks.h"
#include "quant/quant.h"

namespace helix::kernels {
namespace {

using namespace avx2;

// Panel layout per block of 32 elements: codes[8 groups of 4][8 rows][4 bytes] (256 bytes), then
// d[8] and m[8] as f32 (64 bytes).
constexpr size_t kPanelBlockBytes = 256 + 64;

inline __m256i q5_codes(const uint8_t* qs, const uint8_t* qh) {
  uint32_t bits;
  std::memcpy(&bits, qh, 4);
  const __m256i hi = _mm256_and_si256(bits_to_bytes(bits), _mm256_set1_epi8(0x10));
  return _mm256_or_si256(nibbles(qs), hi);
}

struct Q4_0G {
  using Block = quant::BlockQ4_0;
  static constexpr int kOffset = 8;
  static constexpr bool kMin = false;
  static __m256i codes(const Block& b) { return nibbles(b.qs); }
  static float m(const Block&) { return 0; }
};
struct Q4_1G {
  using Block = quant::BlockQ4_1;
  static constexpr int kOffset = 0;
  static constexpr bool kMin = true;
  static __m256i codes(const Block& b) { return nibbles(b.qs); }
  static float m(const Block& b) { return fp16(b.m); }
};
struct Q5_0G {
  using Block = quant::BlockQ5_0;
  static constexpr int kOffset = 16;
  static constexpr bool kMin = false;
  static __m256i codes(const Block& b) { return q5_codes(b.qs, b.qh); }
  static float m(const Block&) { return 0; }
};
struct Q5_1G {
  using Block = quant::BlockQ5_1;
  static constexpr int kOffset = 0;
  static constexpr bool kMin = true;
  static __m256i codes(const Block& b) { return q5_codes(b.qs, b.qh); }
  static float m(const Block& b) { return fp16(b.m); }
};

inline void transpose_store(const uint32_t (*tmp)[8], uint8_t* out) {
  __m256 v[8];
  for (int r = 0; r < 8; ++r) v[r] = _mm256_load_ps(reinterpret_cast<const float*>(tmp[r]));
  const __m256 t0 = _mm256_unpacklo_ps(v[0], v[1]), t1 = _mm256_unpackhi_ps(v[0], v[1]);
  const __m256 t2 = _mm256_unpacklo_ps(v[2], v[3]), t3 = _mm256_unpackhi_ps(v[2], v[3]);
  const __m256 t4 = _mm256_unpacklo_ps(v[4], v[5]), t5 = _mm256_unpackhi_ps(v[4], v[5]);
  const __m256 t6 = _mm256_unpacklo_ps(v[6], v[7]), t7 = _mm256_unpackhi_ps(v[6], v[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  float* o = reinterpret_cast<float*>(out);
  _mm256_store_ps(o + 0, _mm256_permute2f128_ps(u0, u4, 0x20));
  _mm256_store_ps(o + 8, _mm256_permute2f128_ps(u1, u5, 0x20));
  _mm256_store_ps(o + 16, _mm256_permute2f128_ps(u2, u6, 0x20));
  _mm256_store_ps(o + 24, _mm256_permute2f128_ps(u3, u7, 0x20));
  _mm256_store_ps(o + 32, _mm256_permute2f128_ps(u0, u4, 0x31));
  _mm256_store_ps(o + 40, _mm256_permute2f128_ps(u1, u5, 0x31));
  _mm256_store_ps(o + 48, _mm256_permute2f128_ps(u2, u6, 0x31));
  _mm256_store_ps(o + 56, _mm256_permute2f128_ps(u3, u7, 0x31));
}

template <typename G>
void unpack(const uint8_t* w, size_t w_stride, int64_t n, uint8_t* panel) {
  const int64_t nb = n / 32;
  alignas(32) uint32_t tmp[8][8];  // [row][group of 4 codes]
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t* out = panel + b * kPanelBlockBytes;
    float* d = reinterpret_cast<float*>(out + 256);
    float* m = d + 8;
    for (int r = 0; r < 8; ++r) {
      const auto& blk = reinterpret_cast<const typename G::Block*>(w + r * w_stride)[b];
      _mm256_store_si256(reinterpret_cast<__m256i*>(tmp[r]), G::codes(blk));
      d[r] = fp16(blk.d);
      m[r] = G::m(blk);
    }
    transpose_store(tmp, out);  // [row][group] -> [group][row]
  }
}

inline __m256i bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// NC columns (tokens) against one panel: y[c][0..8) for c < NC.
template <typename G, int NC>
inline void panel_cols(const uint8_t* panel, int64_t nb, const uint8_t* act, size_t a_stride,
                       float* y, size_t y_stride) {
  __m256 acc[NC];
  const BlockQ8A* a[NC];
  for (int c = 0; c < NC; ++c) {
    acc[c] = _mm256_setzero_ps();
    a[c] = reinterpret_cast<const BlockQ8A*>(act + c * a_stride);
  }
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* pb = panel + b * kPanelBlockBytes;
    const __m256i* wq = reinterpret_cast<const __m256i*>(pb);
    __m256i lo[NC], hi[NC];
    for (int c = 0; c < NC; ++c) {
      lo[c] = _mm256_maddubs_epi16(_mm256_load_si256(wq + 0), bcast4(a[c][b].qs + 0));
      hi[c] = _mm256_maddubs_epi16(_mm256_load_si256(wq + 4), bcast4(a[c][b].qs + 16));
    }
    // Four pair sums of codes < 32 against |y| <= 127 stay below 2^15: sum them in int16.
    for (int g = 1; g < 4; ++g) {
      const __m256i w0 = _mm256_load_si256(wq + g), w1 = _mm256_load_si256(wq + 4 + g);
      for (int c = 0; c < NC; ++c) {
        lo[c] = _mm256_add_epi16(lo[c], _mm256_maddubs_epi16(w0, bcast4(a[c][b].qs + 4 * g)));
        hi[c] = _mm256_add_epi16(hi[c], _mm256_maddubs_epi16(w1, bcast4(a[c][b].qs + 16 + 4 * g)));
      }
    }
    const __m256 d = _mm256_load_ps(reinterpret_cast<const float*>(pb + 256));
    for (int c = 0; c < NC; ++c) {
      __m256i s = _mm256_add_epi32(_mm256_madd_epi16(lo[c], ones), _mm256_madd_epi16(hi[c], ones));
      if constexpr (G::kOffset != 0) s = _mm256_sub_epi32(s, _mm256_set1_epi32(G::kOffset * a[c][b].s));
      acc[c] = _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(a[c][b].d)), _mm256_cvtepi32_ps(s), acc[c]);
      if constexpr (G::kMin) {
        const __m256 m = _mm256_load_ps(reinterpret_cast<const float*>(pb + 256 + 32));
        acc[c] = _mm256_fmadd_ps(m, _mm256_set1_ps(a[c][b].ds), acc[c]);
      }
    }
  }
  for (int c = 0; c < NC; ++c) _mm256_storeu_ps(y + c * y_stride, acc[c]);
}

template <typename G>
void run(const uint8_t* panel, int64_t n, const uint8_t* act, size_t a_stride, int64_t n_cols,
         float* y, size_t y_stride) {
  const int64_t nb = n / 32;
  int64_t c = 0;
  for (; c + 4 <= n_cols; c += 4)
    panel_cols<G, 4>(panel, nb, act + c * a_stride, a_stride, y + c * y_stride, y_stride);
  switch (n_cols - c) {
    case 3: panel_cols<G, 3>(panel, nb, act + c * a_stride, a_stride, y + c * y_stride, y_stride); break;
    case 2: panel_cols<G, 2>(panel, nb, act + c * a_stride, a_stride, y + c * y_stride, y_stride); break;
    case 1: panel_cols<G, 1>(panel, nb, act + c * a_stride, a_stride, y + c * y_stride, y_stride); break;
    default: break;
  }
}

template <typename G>
size_t panel_bytes(int64_t n) {
  return static_cast<size_t>(n / 32) * kPanelBlockBytes;
}

template <typename G>
constexpr GemmKernels table() {
  return GemmKernels{panel_bytes<G>, unpack<G>, run<G>};
}

// ---- Q4_K against BlockQ8_K --------------------------------------------------------------------
// Panel per super-block of 256: codes of its 8 sub-blocks (8 x 256 bytes, as above), the 6-bit
// scales as int16 pairs per row lane (8 x 32 bytes), the mins of sub-blocks (2p, 2p+1) as int16
// pairs per row lane (4 x 32 bytes), d and dmin as f32 (2 x 32 bytes). The integer sums are the
// reference's: sumi = sum_j sc_j isum_j, summ = sum_j m_j bsum_j, then d da sumi - dmin da summ.
constexpr size_t kQ4KCodes = 8 * 256, kQ4KSc = kQ4KCodes, kQ4KM = kQ4KSc + 8 * 32,
                 kQ4KD = kQ4KM + 4 * 32, kQ4KBlockBytes = kQ4KD + 64;

size_t panel_bytes_q4k(int64_t n) { return static_cast<size_t>(n / 256) * kQ4KBlockBytes; }

void unpack_q4k(const uint8_t* w, size_t w_stride, int64_t n, uint8_t* panel) {
  alignas(32) uint32_t tmp[8][8];
  for (int64_t b = 0; b < n / 256; ++b) {
    uint8_t* out = panel + b * kQ4KBlockBytes;
    auto* sc = reinterpret_cast<int16_t*>(out + kQ4KSc);
    auto* mp = reinterpret_cast<int16_t*>(out + kQ4KM);
    auto* d = reinterpret_cast<float*>(out + kQ4KD);
    for (int r = 0; r < 8; ++r) {
      const auto& blk = reinterpret_cast<const quant::BlockQ4_K*>(w + r * w_stride)[b];
      d[r] = fp16(blk.d);
      d[8 + r] = fp16(blk.dmin);
      for (int j = 0; j < 8; ++j) {
        uint8_t s, m;
        quant::unpack_scale_min_k4(blk.scales, j, s, m);
        sc[j * 16 + 2 * r] = sc[j * 16 + 2 * r + 1] = s;
        mp[(j / 2) * 16 + 2 * r + (j % 2)] = m;
      }
    }
    for (int j = 0; j < 8; ++j) {
      for (int r = 0; r < 8; ++r) {
        const auto& blk = reinterpret_cast<const quant::BlockQ4_K*>(w + r * w_stride)[b];
        const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qs + 32 * (j / 2)));
        const __m256i c = _mm256_and_si256(j % 2 ? _mm256_srli_epi16(q, 4) : q, _mm256_set1_epi8(0x0F));
        _mm256_store_si256(reinterpret_cast<__m256i*>(tmp[r]), c);
      }
      transpose_store(tmp, out + j * 256);
    }
  }
}

template <int NC>
inline void panel_cols_q4k(const uint8_t* panel, int64_t nsb, const uint8_t* act, size_t a_stride,
                           float* y, size_t y_stride) {
  __m256 acc[NC];
  const quant::BlockQ8_K* a[NC];
  for (int c = 0; c < NC; ++c) {
    acc[c] = _mm256_setzero_ps();
    a[c] = reinterpret_cast<const quant::BlockQ8_K*>(act + c * a_stride);
  }
  for (int64_t b = 0; b < nsb; ++b) {
    const uint8_t* pb = panel + b * kQ4KBlockBytes;
    __m256i sumi[NC], summ[NC];
    for (int c = 0; c < NC; ++c) sumi[c] = summ[c] = _mm256_setzero_si256();
    for (int j = 0; j < 8; ++j) {
      const __m256i* wq = reinterpret_cast<const __m256i*>(pb + j * 256);
      const __m256i sc = _mm256_load_si256(reinterpret_cast<const __m256i*>(pb + kQ4KSc + j * 32));
      for (int c = 0; c < NC; ++c) {
        const int8_t* q = a[c][b].qs + 32 * j;
        __m256i lo = _mm256_maddubs_epi16(_mm256_load_si256(wq + 0), bcast4(q));
        __m256i hi = _mm256_maddubs_epi16(_mm256_load_si256(wq + 4), bcast4(q + 16));
        for (int g = 1; g < 4; ++g) {
          lo = _mm256_add_epi16(lo, _mm256_maddubs_epi16(_mm256_load_si256(wq + g), bcast4(q + 4 * g)));
          hi = _mm256_add_epi16(hi, _mm256_maddubs_epi16(_mm256_load_si256(wq + 4 + g), bcast4(q + 16 + 4 * g)));
        }
        sumi[c] = _mm256_add_epi32(sumi[c], _mm256_add_epi32(_mm256_madd_epi16(lo, sc), _mm256_madd_epi16(hi, sc)));
      }
    }
    for (int p = 0; p < 4; ++p) {
      const __m256i m = _mm256_load_si256(reinterpret_cast<const __m256i*>(pb + kQ4KM + p * 32));
      for (int c = 0; c < NC; ++c) {
        const int16_t* bs = a[c][b].bsums + 4 * p;
        const uint32_t pair = static_cast<uint16_t>(bs[0] + bs[1]) |
                              (static_cast<uint32_t>(static_cast<uint16_t>(bs[2] + bs[3])) << 16);
        summ[c] = _mm256_add_epi32(summ[c], _mm256_madd_epi16(m, _mm256_set1_epi32(static_cast<int>(pair))));
      }
    }
    const __m256 d = _mm256_load_ps(reinterpret_cast<const float*>(pb + kQ4KD));
    const __m256 dmin = _mm256_load_ps(reinterpret_cast<const float*>(pb + kQ4KD + 32));
    for (int c = 0; c < NC; ++c) {
      const __m256 da = _mm256_set1_ps(a[c][b].d);
      acc[c] = _mm256_fmadd_ps(_mm256_mul_ps(d, da), _mm256_cvtepi32_ps(sumi[c]), acc[c]);
      acc[c] = _mm256_fnmadd_ps(_mm256_mul_ps(dmin, da), _mm256_cvtepi32_ps(summ[c]), acc[c]);
    }
  }
  for (int c = 0; c < NC; ++c) _mm256_storeu_ps(y + c * y_stride, acc[c]);
}

void run_q4k(const uint8_t* panel, int64_t n, const uint8_t* act, size_t a_stride, int64_t n_cols,
             float* y, size_t y_stride) {
  const int64_t nsb = n / 256;
  int64_t c = 0;
  for (; c + 4 <= n_cols; c += 4)
    panel_cols_q4k<4>(panel, nsb, act + c * a_stride, a_stride, y + c * y_stride, y_stride);
  for (; c < n_cols; ++c)
    panel_cols_q4k<1>(panel, nsb, act + c * a_stride, a_stride, y + c * y_stride, y_stride);
}

}  // namespace

const GemmKernels* gemm_kernels_avx2(DType t) {
  static constexpr GemmKernels kQ4_0 = table<Q4_0G>();
  static constexpr GemmKernels kQ4_1 = table<Q4_1G>();
  static constexpr GemmKernels kQ5_0 = table<Q5_0G>();
  static constexpr GemmKernels kQ5_1 = table<Q5_1G>();
  static constexpr GemmKernels kQ4_K{panel_bytes_q4k, unpack_q4k, run_q4k};
  switch (t) {
    case DType::Q4_0: return &kQ4_0;
    case DType::Q4_1: return &kQ4_1;
    case DType::Q5_0: return &kQ5_0;
    case DType::Q5_1: return &kQ5_1;
    case DType::Q4_K: return &kQ4_K;
    default: return nullptr;
  }
}

}  // namespace helix::kernels
