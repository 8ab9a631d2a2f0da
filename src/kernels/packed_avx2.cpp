// AVX2 kernels for packed weights (kernels/packed.h). Layouts, per block of 32 elements of an
// 8-row group (a "lane" is the 32-bit lane of row r; group g holds elements 4g..4g+3):
//   Q5_0 (176 bytes): qs[4][32]: byte 4r+k of vector g = low nibble of element 4g+k | low nibble
//     of element 16+4g+k << 4; qh[32]: bit v of byte 4r+k = fifth bit of element 4v+k;
//     d[8] f16.
//   Q8_0 (272 bytes): qs[8][32]: byte 4r+k of vector g = element 4g+k; d[8] f16.
// The dot products are the reference's integer block dots with one float scale per block.
#include <cstring>

#include "core/cpu_features.h"
#include "kernels/gemm.h"
#include "kernels/packed.h"
#include "kernels/simd_avx2.h"
#include "quant/blocks.h"

namespace helix::kernels {
namespace {

using namespace avx2;

inline __m256 load_d8(const uint8_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// ---- Q5_0 -------------------------------------------------------------------------------------

constexpr size_t kQ5Block = 176;

size_t q5_group_bytes(int64_t n) { return static_cast<size_t>(n / 32) * kQ5Block; }

void q5_pack(const uint8_t* w, size_t w_stride, int64_t n, uint8_t* out) {
  for (int64_t b = 0; b < n / 32; ++b, out += kQ5Block) {
    std::memset(out, 0, kQ5Block);
    for (int r = 0; r < 8; ++r) {
      const auto& blk = reinterpret_cast<const quant::BlockQ5_0*>(w + r * w_stride)[b];
      uint32_t qh;
      std::memcpy(&qh, blk.qh, 4);
      uint8_t code[32];
      for (int i = 0; i < 16; ++i) {
        code[i] = static_cast<uint8_t>((blk.qs[i] & 0x0F) | (((qh >> i) & 1) << 4));
        code[i + 16] = static_cast<uint8_t>((blk.qs[i] >> 4) | (((qh >> (i + 16)) & 1) << 4));
      }
      for (int g = 0; g < 4; ++g)
        for (int k = 0; k < 4; ++k)
          out[32 * g + 4 * r + k] =
              static_cast<uint8_t>((code[4 * g + k] & 0x0F) | ((code[16 + 4 * g + k] & 0x0F) << 4));
      for (int v = 0; v < 8; ++v)
        for (int k = 0; k < 4; ++k)
          out[128 + 4 * r + k] |= static_cast<uint8_t>(((code[4 * v + k] >> 4) & 1) << v);
      std::memcpy(out + 160 + 2 * r, &blk.d, 2);
    }
  }
}

// The eight code vectors (group g: lane r = codes of elements 4g..4g+3 of row r) of one block.
inline void q5_codes8(const uint8_t* p, __m256i* c) {
  const __m256i m0f = _mm256_set1_epi8(0x0F), m10 = _mm256_set1_epi8(0x10);
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 128));
  __m256i l[4];
  for (int g = 0; g < 4; ++g) l[g] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * g));
  c[0] = _mm256_or_si256(_mm256_and_si256(l[0], m0f), _mm256_and_si256(_mm256_slli_epi16(h, 4), m10));
  c[1] = _mm256_or_si256(_mm256_and_si256(l[1], m0f), _mm256_and_si256(_mm256_slli_epi16(h, 3), m10));
  c[2] = _mm256_or_si256(_mm256_and_si256(l[2], m0f), _mm256_and_si256(_mm256_slli_epi16(h, 2), m10));
  c[3] = _mm256_or_si256(_mm256_and_si256(l[3], m0f), _mm256_and_si256(_mm256_slli_epi16(h, 1), m10));
  c[4] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l[0], 4), m0f), _mm256_and_si256(h, m10));
  c[5] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l[1], 4), m0f), _mm256_and_si256(_mm256_srli_epi16(h, 1), m10));
  c[6] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l[2], 4), m0f), _mm256_and_si256(_mm256_srli_epi16(h, 2), m10));
  c[7] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l[3], 4), m0f), _mm256_and_si256(_mm256_srli_epi16(h, 3), m10));
}

template <int NC>
void q5_dot_n(const uint8_t* group, int64_t n, const uint8_t* act, size_t a_stride, float* y,
              size_t y_stride) {
  alignas(32) float acc[NC][8] = {};  // in memory, so that the eight code vectors keep registers
  const BlockQ8A* a[NC];
  for (int c = 0; c < NC; ++c) a[c] = reinterpret_cast<const BlockQ8A*>(act + c * a_stride);
  const int64_t nb = n / 32;
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* p = group + b * kQ5Block;
    __m256i code[8];
    q5_codes8(p, code);
    const __m256 d = load_d8(p + 160);
    for (int c = 0; c < NC; ++c) {
      const BlockQ8A& yb = a[c][b];
      const __m256i s = q5_block_dot8(code, yb.qs, yb.s);
      _mm256_store_ps(acc[c], _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(yb.d)), _mm256_cvtepi32_ps(s),
                                              _mm256_load_ps(acc[c])));
    }
  }
  for (int c = 0; c < NC; ++c) _mm256_storeu_ps(y + c * y_stride, _mm256_load_ps(acc[c]));
}

// To the GEMM panel of Q5_0 (gemm_avx2.cpp): codes[8][32], d[8] f32, m[8] f32 (zero) per block.
void q5_to_panel(const uint8_t* group, int64_t n, uint8_t* panel) {
  for (int64_t b = 0; b < n / 32; ++b) {
    const uint8_t* p = group + b * kQ5Block;
    uint8_t* out = panel + b * 320;
    __m256i code[8];
    q5_codes8(p, code);
    for (int g = 0; g < 8; ++g) _mm256_store_si256(reinterpret_cast<__m256i*>(out + 32 * g), code[g]);
    _mm256_store_ps(reinterpret_cast<float*>(out + 256), load_d8(p + 160));
    _mm256_store_ps(reinterpret_cast<float*>(out + 288), _mm256_setzero_ps());
  }
}

void q5_get_row(const uint8_t* group, int64_t n, int r, float* out) {
  for (int64_t b = 0; b < n / 32; ++b, out += 32) {
    const uint8_t* p = group + b * kQ5Block;
    uint16_t dh;
    std::memcpy(&dh, p + 160 + 2 * r, 2);
    const float d = fp16(dh);
    for (int g = 0; g < 4; ++g)
      for (int k = 0; k < 4; ++k) {
        const uint8_t q = p[32 * g + 4 * r + k], h = p[128 + 4 * r + k];
        const int lo = (q & 0x0F) | (((h >> g) & 1) << 4), hi = (q >> 4) | (((h >> (g + 4)) & 1) << 4);
        out[4 * g + k] = d * static_cast<float>(lo - 16);
        out[16 + 4 * g + k] = d * static_cast<float>(hi - 16);
      }
  }
}

// ---- Q8_0 -------------------------------------------------------------------------------------

constexpr size_t kQ8Block = 272;

size_t q8_group_bytes(int64_t n) { return static_cast<size_t>(n / 32) * kQ8Block; }

void q8_pack(const uint8_t* w, size_t w_stride, int64_t n, uint8_t* out) {
  for (int64_t b = 0; b < n / 32; ++b, out += kQ8Block) {
    for (int r = 0; r < 8; ++r) {
      const auto& blk = reinterpret_cast<const quant::BlockQ8_0*>(w + r * w_stride)[b];
      for (int g = 0; g < 8; ++g) std::memcpy(out + 32 * g + 4 * r, blk.qs + 4 * g, 4);
      std::memcpy(out + 256 + 2 * r, &blk.d, 2);
    }
  }
}

void q8_get_row(const uint8_t* group, int64_t n, int r, float* out) {
  for (int64_t b = 0; b < n / 32; ++b, out += 32) {
    const uint8_t* p = group + b * kQ8Block;
    uint16_t dh;
    std::memcpy(&dh, p + 256 + 2 * r, 2);
    const float d = fp16(dh);
    for (int g = 0; g < 8; ++g)
      for (int k = 0; k < 4; ++k) out[4 * g + k] = d * static_cast<float>(static_cast<int8_t>(p[32 * g + 4 * r + k]));
  }
}

// The float accumulators live in memory (touched once per block), so that the eight integer
// sums of the inner loop keep the registers (see pin).
template <int NC>
void q8_dot_n(const uint8_t* group, int64_t n, const uint8_t* act, size_t a_stride, float* y,
              size_t y_stride) {
  alignas(32) float acc[NC][8] = {};
  const BlockQ8A* a[NC];
  for (int c = 0; c < NC; ++c) a[c] = reinterpret_cast<const BlockQ8A*>(act + c * a_stride);
  const __m256i ones = _mm256_set1_epi16(1);
  const int64_t nb = n / 32;
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* p = group + b * kQ8Block;
    __m256i s[NC];
    for (int c = 0; c < NC; ++c) s[c] = _mm256_setzero_si256();
    for (int g = 0; g < 8; ++g) {
      const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * g));
      const __m256i aw = _mm256_abs_epi8(w);  // |w| against y carrying w's sign
      for (int c = 0; c < NC; ++c) {
        const __m256i yv = _mm256_sign_epi8(bcast4(a[c][b].qs + 4 * g), w);
        s[c] = _mm256_add_epi32(s[c], _mm256_madd_epi16(_mm256_maddubs_epi16(aw, yv), ones));
        if constexpr (NC > 1) pin(s[c]);
      }
    }
    const __m256 d = load_d8(p + 256);
    for (int c = 0; c < NC; ++c)
      _mm256_store_ps(acc[c], _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(a[c][b].d)),
                                              _mm256_cvtepi32_ps(s[c]), _mm256_load_ps(acc[c])));
  }
  for (int c = 0; c < NC; ++c) _mm256_storeu_ps(y + c * y_stride, _mm256_load_ps(acc[c]));
}

// q8_dot_n with AVX-VNNI (vpdpbusd, where the CPU has it): the same integer sums in one
// instruction instead of maddubs + madd + add (|w| <= 128 times |y| <= 127, pairs below 2^15, so
// maddubs never saturates and the sums are equal), and the same float operations: results are
// bit-identical to q8_dot_n.
template <int NC>
__attribute__((target("avx2,fma,f16c,avxvnni"))) void q8_dot_n_vnni(const uint8_t* group, int64_t n,
                                                                    const uint8_t* act, size_t a_stride, float* y,
                                                                    size_t y_stride) {
  alignas(32) float acc[NC][8] = {};
  const BlockQ8A* a[NC];
  for (int c = 0; c < NC; ++c) a[c] = reinterpret_cast<const BlockQ8A*>(act + c * a_stride);
  const int64_t nb = n / 32;
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* p = group + b * kQ8Block;
    __m256i s[NC];
    for (int c = 0; c < NC; ++c) s[c] = _mm256_setzero_si256();
    for (int g = 0; g < 8; ++g) {
      const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * g));
      const __m256i aw = _mm256_abs_epi8(w);
      for (int c = 0; c < NC; ++c) {
        const __m256i yv = _mm256_sign_epi8(bcast4(a[c][b].qs + 4 * g), w);
        s[c] = _mm256_dpbusd_avx_epi32(s[c], aw, yv);
        if constexpr (NC > 1) pin(s[c]);
      }
    }
    const __m256 d = load_d8(p + 256);
    for (int c = 0; c < NC; ++c)
      _mm256_store_ps(acc[c], _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(a[c][b].d)),
                                              _mm256_cvtepi32_ps(s[c]), _mm256_load_ps(acc[c])));
  }
  for (int c = 0; c < NC; ++c) _mm256_storeu_ps(y + c * y_stride, _mm256_load_ps(acc[c]));
}

template <template <int> class K>
void dot_nc(const uint8_t* group, int64_t n, const uint8_t* act, size_t a_stride, int nc, float* y,
            size_t y_stride) {
  switch (nc) {
    case 1: return K<1>::run(group, n, act, a_stride, y, y_stride);
    case 2: return K<2>::run(group, n, act, a_stride, y, y_stride);
    case 3: return K<3>::run(group, n, act, a_stride, y, y_stride);
    case 4: return K<4>::run(group, n, act, a_stride, y, y_stride);
    case 5: return K<5>::run(group, n, act, a_stride, y, y_stride);
    case 6: return K<6>::run(group, n, act, a_stride, y, y_stride);
    case 7: return K<7>::run(group, n, act, a_stride, y, y_stride);
    default: return K<8>::run(group, n, act, a_stride, y, y_stride);
  }
}
template <int NC>
struct Q5Dot {
  static void run(const uint8_t* g, int64_t n, const uint8_t* a, size_t s, float* y, size_t ys) { q5_dot_n<NC>(g, n, a, s, y, ys); }
};
template <int NC>
struct Q8Dot {
  static void run(const uint8_t* g, int64_t n, const uint8_t* a, size_t s, float* y, size_t ys) { q8_dot_n<NC>(g, n, a, s, y, ys); }
};
template <int NC>
struct Q8DotVnni {
  static void run(const uint8_t* g, int64_t n, const uint8_t* a, size_t s, float* y, size_t ys) {
    q8_dot_n_vnni<NC>(g, n, a, s, y, ys);
  }
};
static_assert(kPackMaxCols == 8, "dot_nc dispatches up to eight columns");

}  // namespace

const PackedKernels* packed_kernels_avx2(DType t, bool allow_vnni) {
  static constexpr PackedKernels kQ5_0{q5_group_bytes, q5_pack,
                                       dot_nc<Q5Dot>,
                                       q5_to_panel, q5_get_row};
  static constexpr PackedKernels kQ8_0{q8_group_bytes, q8_pack,
                                       dot_nc<Q8Dot>,
                                       nullptr, q8_get_row};
  static constexpr PackedKernels kQ8_0Vnni{q8_group_bytes, q8_pack,
                                           dot_nc<Q8DotVnni>,
                                           nullptr, q8_get_row};
  switch (t) {
    case DType::Q5_0: return &kQ5_0;
    case DType::Q8_0: return allow_vnni && cpu_features().avx_vnni ? &kQ8_0Vnni : &kQ8_0;
    default: return nullptr;
  }
}

}  // namespace helix::kernels
