// Scalar reference dequantization of every supported block format to f32.
//
// Bit-exactness with gguf-py: each element is computed with the same f32 operations in the same
// order as gguf-py's numpy code (which matches ggml's dequantize_row_* functions), e.g. for Q4_K
// first dl = d * sc and ml = dmin * m, then y = dl * q - ml. Each product and difference must be
// rounded separately, so contraction into fused multiply-adds is switched off for this file
// (this holds with -march=native too; only clang's -ffp-contract=fast overrides the pragma).
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "core/fp16.h"
#include "quant/quant.h"

namespace helix::quant {

void dequantize_row_f16(const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = f16_to_f32(x[i]);
}

void dequantize_row_bf16(const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = bf16_to_f32(x[i]);
}

// Legacy formats: 32 elements per block; element j < 16 lives in the low nibble of qs[j],
// element j + 16 in the high nibble; Q5 keeps the fifth bits in a 32-bit little-endian mask.

void dequantize_row_q4_0(const BlockQ4_0* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / QK4_0; ++b, y += QK4_0) {
    const float d = f16_to_f32(x[b].d);
    for (int j = 0; j < QK4_0 / 2; ++j) {
      y[j] = d * static_cast<float>((x[b].qs[j] & 0xF) - 8);
      y[j + QK4_0 / 2] = d * static_cast<float>((x[b].qs[j] >> 4) - 8);
    }
  }
}

void dequantize_row_q4_1(const BlockQ4_1* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / QK4_1; ++b, y += QK4_1) {
    const float d = f16_to_f32(x[b].d);
    const float m = f16_to_f32(x[b].m);
    for (int j = 0; j < QK4_1 / 2; ++j) {
      y[j] = d * static_cast<float>(x[b].qs[j] & 0xF) + m;
      y[j + QK4_1 / 2] = d * static_cast<float>(x[b].qs[j] >> 4) + m;
    }
  }
}

namespace {
inline uint32_t load_u32_le(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}
}  // namespace

void dequantize_row_q5_0(const BlockQ5_0* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / QK5_0; ++b, y += QK5_0) {
    const float d = f16_to_f32(x[b].d);
    const uint32_t qh = load_u32_le(x[b].qh);
    for (int j = 0; j < QK5_0 / 2; ++j) {
      const int q0 = (x[b].qs[j] & 0xF) | static_cast<int>(((qh >> j) & 1) << 4);
      const int q1 = (x[b].qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
      y[j] = d * static_cast<float>(q0 - 16);
      y[j + QK5_0 / 2] = d * static_cast<float>(q1 - 16);
    }
  }
}

void dequantize_row_q5_1(const BlockQ5_1* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / QK5_1; ++b, y += QK5_1) {
    const float d = f16_to_f32(x[b].d);
    const float m = f16_to_f32(x[b].m);
    const uint32_t qh = load_u32_le(x[b].qh);
    for (int j = 0; j < QK5_1 / 2; ++j) {
      const int q0 = (x[b].qs[j] & 0xF) | static_cast<int>(((qh >> j) & 1) << 4);
      const int q1 = (x[b].qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
      y[j] = d * static_cast<float>(q0) + m;
      y[j + QK5_1 / 2] = d * static_cast<float>(q1) + m;
    }
  }
}

void dequantize_row_q8_0(const BlockQ8_0* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / QK8_0; ++b, y += QK8_0) {
    const float d = f16_to_f32(x[b].d);
    for (int j = 0; j < QK8_0; ++j) y[j] = static_cast<float>(x[b].qs[j]) * d;
  }
}

void dequantize_row_q8_1(const BlockQ8_1* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / QK8_1; ++b, y += QK8_1) {
    const float d = f16_to_f32(x[b].d);
    for (int j = 0; j < QK8_1; ++j) y[j] = static_cast<float>(x[b].qs[j]) * d;
  }
}

// K-quants: 256 elements per super-block. Element e of a 2- or 3-bit block sits in bits
// 2*s..2*s+1 of qs[32*c + l] where e = 128*c + 32*s + l; scales cover 16 elements.

void dequantize_row_q2_k(const BlockQ2_K* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / QK_K; ++b, y += QK_K) {
    const BlockQ2_K& blk = x[b];
    const float d = f16_to_f32(blk.d);
    const float dmin = f16_to_f32(blk.dmin);
    for (int e = 0; e < QK_K; ++e) {
      const int c = e / 128, s = (e / 32) % 4, l = e % 32;
      const uint8_t sc = blk.scales[e / 16];
      const float dl = d * static_cast<float>(sc & 0xF);
      const float ml = dmin * static_cast<float>(sc >> 4);
      const int q = (blk.qs[32 * c + l] >> (2 * s)) & 3;
      y[e] = dl * static_cast<float>(q) - ml;
    }
  }
}

void dequantize_row_q3_k(const BlockQ3_K* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / QK_K; ++b, y += QK_K) {
    const BlockQ3_K& blk = x[b];
    const float d = f16_to_f32(blk.d);
    float dl[QK_K / 16];
    for (int j = 0; j < QK_K / 16; ++j) dl[j] = d * static_cast<float>(unpack_scale_q3_k(blk.scales, j));
    for (int e = 0; e < QK_K; ++e) {
      const int c = e / 128, s = (e / 32) % 4, l = e % 32;
      const int low = (blk.qs[32 * c + l] >> (2 * s)) & 3;
      const int high = (blk.hmask[l] >> (e / 32)) & 1;  // a set bit means "no offset of -4"
      y[e] = dl[e / 16] * static_cast<float>(low - (high ? 0 : 4));
    }
  }
}

// Q4_K / Q5_K: eight sub-blocks of 32; sub-block 2*c uses the low nibbles of qs[32*c ..], 2*c+1
// the high nibbles. Q5_K's fifth bit of element l of sub-block k is bit k of qh[l].

void dequantize_row_q4_k(const BlockQ4_K* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / QK_K; ++b, y += QK_K) {
    const BlockQ4_K& blk = x[b];
    const float d = f16_to_f32(blk.d);
    const float dmin = f16_to_f32(blk.dmin);
    for (int k = 0; k < QK_K / 32; ++k) {
      uint8_t sc, m;
      unpack_scale_min_k4(blk.scales, k, sc, m);
      const float dl = d * static_cast<float>(sc);
      const float ml = dmin * static_cast<float>(m);
      const uint8_t* q = blk.qs + 32 * (k / 2);
      const int shift = 4 * (k % 2);
      for (int l = 0; l < 32; ++l) y[32 * k + l] = dl * static_cast<float>((q[l] >> shift) & 0xF) - ml;
    }
  }
}

void dequantize_row_q5_k(const BlockQ5_K* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / QK_K; ++b, y += QK_K) {
    const BlockQ5_K& blk = x[b];
    const float d = f16_to_f32(blk.d);
    const float dmin = f16_to_f32(blk.dmin);
    for (int k = 0; k < QK_K / 32; ++k) {
      uint8_t sc, m;
      unpack_scale_min_k4(blk.scales, k, sc, m);
      const float dl = d * static_cast<float>(sc);
      const float ml = dmin * static_cast<float>(m);
      const uint8_t* q = blk.qs + 32 * (k / 2);
      const int shift = 4 * (k % 2);
      for (int l = 0; l < 32; ++l) {
        const int v = ((q[l] >> shift) & 0xF) | (((blk.qh[l] >> k) & 1) << 4);
        y[32 * k + l] = dl * static_cast<float>(v) - ml;
      }
    }
  }
}

// Q6_K: per 128 elements (chunk c), element 128*c + 32*s + l takes its low nibble from
// ql[64*c + l + 32*(s%2)] (low nibble for s < 2, high for s >= 2) and its top two bits from bits
// 2*s..2*s+1 of qh[32*c + l]; stored with an offset of 32; signed 8-bit scales per 16 elements.
void dequantize_row_q6_k(const BlockQ6_K* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / QK_K; ++b, y += QK_K) {
    const BlockQ6_K& blk = x[b];
    const float d = f16_to_f32(blk.d);
    for (int e = 0; e < QK_K; ++e) {
      const int c = e / 128, s = (e / 32) % 4, l = e % 32;
      const int low = (blk.ql[64 * c + l + 32 * (s % 2)] >> (4 * (s / 2))) & 0xF;
      const int high = (blk.qh[32 * c + l] >> (2 * s)) & 3;
      const float dl = d * static_cast<float>(blk.scales[e / 16]);
      y[e] = dl * static_cast<float>((low | (high << 4)) - 32);
    }
  }
}

void dequantize_row_q8_k(const BlockQ8_K* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / QK_K; ++b, y += QK_K) {
    for (int j = 0; j < QK_K; ++j) y[j] = x[b].d * static_cast<float>(x[b].qs[j]);
  }
}

}  // namespace helix::quant
