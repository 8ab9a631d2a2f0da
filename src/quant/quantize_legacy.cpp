// Reference quantizers for F16, BF16 and ggml's legacy 32-element block formats (Q4_0, Q4_1,
// Q5_0, Q5_1, Q8_0, Q8_1). They give the same bytes as gguf-py's numpy quantizers, which follow
// ggml's quantize_row_*_ref: f32 arithmetic in the same order, round-to-nearest-even f16 scales,
// truncation (Q4/Q5) or round-half-away-from-zero (Q8) of the scaled values. Fused multiply-adds
// would change the rounding of x * id + 8.5, so contraction is off for this file.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <cmath>

#include "core/fp16.h"
#include "quant/quant.h"

namespace helix::quant {
namespace {

// trunc(v) clamped to [0, hi] without undefined behaviour for NaN or out-of-range values (numpy:
// trunc, astype(uint8), clip(0, hi); ggml: MIN(hi, (int8_t)v) - the same for the values that
// occur, v >= 0).
inline uint8_t trunc_clamped(float v, int hi) {
  if (!(v > 0.0f)) return 0;
  if (v >= static_cast<float>(hi)) return static_cast<uint8_t>(hi);
  return static_cast<uint8_t>(static_cast<int>(v));
}

// roundf(v) (half away from zero) clamped to [-127, 127]; NaN gives 0.
inline int8_t round_clamped_i8(float v) {
  if (!(v == v)) return 0;
  const float r = std::round(v);
  if (r >= 127.0f) return 127;
  if (r <= -127.0f) return -127;
  return static_cast<int8_t>(static_cast<int>(r));
}

// The element with the largest magnitude, the first one on ties (numpy's argmax of abs).
inline float signed_absmax(const float* x, int n) {
  float amax = std::fabs(x[0]), m = x[0];
  for (int j = 1; j < n; ++j) {
    const float a = std::fabs(x[j]);
    if (a > amax) {
      amax = a;
      m = x[j];
    }
  }
  return m;
}

inline void min_max(const float* x, int n, float& mn, float& mx) {
  mn = x[0];
  mx = x[0];
  for (int j = 1; j < n; ++j) {
    if (x[j] < mn) mn = x[j];
    if (x[j] > mx) mx = x[j];
  }
}

inline void store_u32_le(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace

void quantize_row_f16(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = f32_to_f16(x[i]);
}

void quantize_row_bf16(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = f32_to_bf16(x[i]);
}

// Symmetric 4-bit: d = max / -8 where max is the signed value of largest magnitude, so that value
// maps to q = 0 exactly and the other end of the range gets the extra level.
void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t n) {
  for (int64_t b = 0; b < n / QK4_0; ++b, x += QK4_0) {
    const float d = signed_absmax(x, QK4_0) / -8.0f;
    const float id = d == 0.0f ? 0.0f : 1.0f / d;
    y[b].d = f32_to_f16(d);
    for (int j = 0; j < QK4_0 / 2; ++j) {
      const uint8_t q0 = trunc_clamped(x[j] * id + 8.5f, 15);
      const uint8_t q1 = trunc_clamped(x[j + QK4_0 / 2] * id + 8.5f, 15);
      y[b].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

// Asymmetric 4-bit: y = d * q + min with d = (max - min) / 15.
void quantize_row_q4_1(const float* x, BlockQ4_1* y, int64_t n) {
  for (int64_t b = 0; b < n / QK4_1; ++b, x += QK4_1) {
    float mn, mx;
    min_max(x, QK4_1, mn, mx);
    const float d = (mx - mn) / 15.0f;
    const float id = d == 0.0f ? 0.0f : 1.0f / d;
    y[b].d = f32_to_f16(d);
    y[b].m = f32_to_f16(mn);
    for (int j = 0; j < QK4_1 / 2; ++j) {
      const uint8_t q0 = trunc_clamped((x[j] - mn) * id + 0.5f, 15);
      const uint8_t q1 = trunc_clamped((x[j + QK4_1 / 2] - mn) * id + 0.5f, 15);
      y[b].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

void quantize_row_q5_0(const float* x, BlockQ5_0* y, int64_t n) {
  for (int64_t b = 0; b < n / QK5_0; ++b, x += QK5_0) {
    const float d = signed_absmax(x, QK5_0) / -16.0f;
    const float id = d == 0.0f ? 0.0f : 1.0f / d;
    y[b].d = f32_to_f16(d);
    uint32_t qh = 0;
    for (int j = 0; j < QK5_0 / 2; ++j) {
      const uint8_t q0 = trunc_clamped(x[j] * id + 16.5f, 31);
      const uint8_t q1 = trunc_clamped(x[j + QK5_0 / 2] * id + 16.5f, 31);
      y[b].qs[j] = static_cast<uint8_t>((q0 & 0xF) | ((q1 & 0xF) << 4));
      qh |= static_cast<uint32_t>(q0 >> 4) << j;
      qh |= static_cast<uint32_t>(q1 >> 4) << (j + QK5_0 / 2);
    }
    store_u32_le(y[b].qh, qh);
  }
}

void quantize_row_q5_1(const float* x, BlockQ5_1* y, int64_t n) {
  for (int64_t b = 0; b < n / QK5_1; ++b, x += QK5_1) {
    float mn, mx;
    min_max(x, QK5_1, mn, mx);
    const float d = (mx - mn) / 31.0f;
    const float id = d == 0.0f ? 0.0f : 1.0f / d;
    y[b].d = f32_to_f16(d);
    y[b].m = f32_to_f16(mn);
    uint32_t qh = 0;
    for (int j = 0; j < QK5_1 / 2; ++j) {
      const uint8_t q0 = trunc_clamped((x[j] - mn) * id + 0.5f, 31);
      const uint8_t q1 = trunc_clamped((x[j + QK5_1 / 2] - mn) * id + 0.5f, 31);
      y[b].qs[j] = static_cast<uint8_t>((q0 & 0xF) | ((q1 & 0xF) << 4));
      qh |= static_cast<uint32_t>(q0 >> 4) << j;
      qh |= static_cast<uint32_t>(q1 >> 4) << (j + QK5_1 / 2);
    }
    store_u32_le(y[b].qh, qh);
  }
}

// Symmetric 8-bit: d = max|x| / 127, q = round(x / d).
void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t n) {
  for (int64_t b = 0; b < n / QK8_0; ++b, x += QK8_0) {
    float amax = 0.0f;
    for (int j = 0; j < QK8_0; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d == 0.0f ? 0.0f : 1.0f / d;
    y[b].d = f32_to_f16(d);
    for (int j = 0; j < QK8_0; ++j) y[b].qs[j] = round_clamped_i8(x[j] * id);
  }
}

// Q8_0 plus s = d * sum(q), used for activations in dot products with Q4_1 / Q5_1 weights.
void quantize_row_q8_1(const float* x, BlockQ8_1* y, int64_t n) {
  for (int64_t b = 0; b < n / QK8_1; ++b, x += QK8_1) {
    float amax = 0.0f;
    for (int j = 0; j < QK8_1; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d == 0.0f ? 0.0f : 1.0f / d;
    y[b].d = f32_to_f16(d);
    int sum = 0;
    for (int j = 0; j < QK8_1; ++j) {
      y[b].qs[j] = round_clamped_i8(x[j] * id);
      sum += y[b].qs[j];
    }
    y[b].s = f32_to_f16(static_cast<float>(sum) * d);
  }
}

}  // namespace helix::quant
