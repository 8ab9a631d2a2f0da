// Scalar reference dot products for every weight type (see vec_dot.h for the activation formats).
// Plain C++ with integer block sums and the same float scaling as the SIMD paths; the tests check
// these against a float dot of quant::dequantize_row's weights, and the SIMD paths against these.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/fp16.h"
#include "kernels/vec_dot.h"
#include "quant/blocks.h"
#include "quant/quant.h"

namespace helix::kernels {
namespace {

using quant::BlockQ2_K;
using quant::BlockQ3_K;
using quant::BlockQ4_0;
using quant::BlockQ4_1;
using quant::BlockQ4_K;
using quant::BlockQ5_0;
using quant::BlockQ5_1;
using quant::BlockQ5_K;
using quant::BlockQ6_K;
using quant::BlockQ8_0;
using quant::BlockQ8_K;
using quant::QK_K;

// ---- float weights x f32 activations ----------------------------------------------------------

float dot_f32(int64_t n, const void* wv, const void* xv) {
  const float* w = static_cast<const float*>(wv);
  const float* x = static_cast<const float*>(xv);
  float s = 0;
  for (int64_t i = 0; i < n; ++i) s += w[i] * x[i];
  return s;
}

float dot_f16(int64_t n, const void* wv, const void* xv) {
  const uint16_t* w = static_cast<const uint16_t*>(wv);
  const float* x = static_cast<const float*>(xv);
  float s = 0;
  for (int64_t i = 0; i < n; ++i) s += f16_to_f32(w[i]) * x[i];
  return s;
}

float dot_bf16(int64_t n, const void* wv, const void* xv) {
  const uint16_t* w = static_cast<const uint16_t*>(wv);
  const float* x = static_cast<const float*>(xv);
  float s = 0;
  for (int64_t i = 0; i < n; ++i) s += bf16_to_f32(w[i]) * x[i];
  return s;
}

// ---- 32-element blocks x BlockQ8A -------------------------------------------------------------

float dot_q4_0(int64_t n, const void* wv, const void* xv) {
  const auto* w = static_cast<const BlockQ4_0*>(wv);
  const auto* a = static_cast<const BlockQ8A*>(xv);
  float sum = 0;
  for (int64_t b = 0; b < n / 32; ++b) {
    int isum = 0;
    for (int j = 0; j < 16; ++j)
      isum += (w[b].qs[j] & 0xF) * a[b].qs[j] + (w[b].qs[j] >> 4) * a[b].qs[j + 16];
    isum -= 8 * a[b].s;  // codes are q + 8
    sum += f16_to_f32(w[b].d) * a[b].d * static_cast<float>(isum);
  }
  return sum;
}

float dot_q4_1(int64_t n, const void* wv, const void* xv) {
  const auto* w = static_cast<const BlockQ4_1*>(wv);
  const auto* a = static_cast<const BlockQ8A*>(xv);
  float sum = 0, msum = 0;
  for (int64_t b = 0; b < n / 32; ++b) {
    int isum = 0;
    for (int j = 0; j < 16; ++j)
      isum += (w[b].qs[j] & 0xF) * a[b].qs[j] + (w[b].qs[j] >> 4) * a[b].qs[j + 16];
    sum += f16_to_f32(w[b].d) * a[b].d * static_cast<float>(isum);
    msum += f16_to_f32(w[b].m) * a[b].ds;
  }
  return sum + msum;
}

// The 5-bit codes of a Q5_0/Q5_1 block (0..31).
inline void q5_codes(const uint8_t* qs, const uint8_t* qh_bytes, int* q) {
  uint32_t qh;
  std::memcpy(&qh, qh_bytes, 4);
  for (int j = 0; j < 16; ++j) {
    q[j] = (qs[j] & 0xF) | static_cast<int>(((qh >> j) & 1) << 4);
    q[j + 16] = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
  }
}

float dot_q5_0(int64_t n, const void* wv, const void* xv) {
  const auto* w = static_cast<const BlockQ5_0*>(wv);
  const auto* a = static_cast<const BlockQ8A*>(xv);
  float sum = 0;
  for (int64_t b = 0; b < n / 32; ++b) {
    int q[32];
    q5_codes(w[b].qs, w[b].qh, q);
    int isum = 0;
    for (int j = 0; j < 32; ++j) isum += q[j] * a[b].qs[j];
    isum -= 16 * a[b].s;  // codes are q + 16
    sum += f16_to_f32(w[b].d) * a[b].d * static_cast<float>(isum);
  }
  return sum;
}

float dot_q5_1(int64_t n, const void* wv, const void* xv) {
  const auto* w = static_cast<const BlockQ5_1*>(wv);
  const auto* a = static_cast<const BlockQ8A*>(xv);
  float sum = 0, msum = 0;
  for (int64_t b = 0; b < n / 32; ++b) {
    int q[32];
    q5_codes(w[b].qs, w[b].qh, q);
    int isum = 0;
    for (int j = 0; j < 32; ++j) isum += q[j] * a[b].qs[j];
    sum += f16_to_f32(w[b].d) * a[b].d * static_cast<float>(isum);
    msum += f16_to_f32(w[b].m) * a[b].ds;
  }
  return sum + msum;
}

float dot_q8_0(int64_t n, const void* wv, const void* xv) {
  const auto* w = static_cast<const BlockQ8_0*>(wv);
  const auto* a = static_cast<const BlockQ8A*>(xv);
  float sum = 0;
  for (int64_t b = 0; b < n / 32; ++b) {
    int isum = 0;
    for (int j = 0; j < 32; ++j) isum += w[b].qs[j] * a[b].qs[j];
    sum += f16_to_f32(w[b].d) * a[b].d * static_cast<float>(isum);
  }
  return sum;
}

// ---- K types x BlockQ8_K ------------------------------------------------------------------------
// Element e of a super-block: for Q2_K/Q3_K, 2-bit code at bits 2j of qs[32h + l] with
// h = e / 128, j = e % 128 / 32, l = e % 32; scales per 16 elements. Q4_K/Q5_K: sub-block s of 32
// uses the low (even s) or high (odd s) nibbles of qs[32 * (s / 2) + l] and bit s of qh[l].

float dot_q2_k(int64_t n, const void* wv, const void* xv) {
  const auto* w = static_cast<const BlockQ2_K*>(wv);
  const auto* a = static_cast<const BlockQ8_K*>(xv);
  float sum = 0;
  for (int64_t b = 0; b < n / QK_K; ++b) {
    int sumi = 0, summ = 0;
    for (int g = 0; g < 16; ++g) {
      int isum = 0;
      for (int i = 0; i < 16; ++i) {
        const int e = 16 * g + i, h = e / 128, j = e % 128 / 32, l = e % 32;
        isum += ((w[b].qs[32 * h + l] >> (2 * j)) & 3) * a[b].qs[e];
      }
      sumi += (w[b].scales[g] & 0xF) * isum;
      summ += (w[b].scales[g] >> 4) * a[b].bsums[g];
    }
    sum += f16_to_f32(w[b].d) * a[b].d * static_cast<float>(sumi) -
           f16_to_f32(w[b].dmin) * a[b].d * static_cast<float>(summ);
  }
  return sum;
}

float dot_q3_k(int64_t n, const void* wv, const void* xv) {
  const auto* w = static_cast<const BlockQ3_K*>(wv);
  const auto* a = static_cast<const BlockQ8_K*>(xv);
  float sum = 0;
  for (int64_t b = 0; b < n / QK_K; ++b) {
    int sumi = 0;
    for (int g = 0; g < 16; ++g) {
      int isum = 0;
      for (int i = 0; i < 16; ++i) {
        const int e = 16 * g + i, h = e / 128, j = e % 128 / 32, l = e % 32;
        const int q = ((w[b].qs[32 * h + l] >> (2 * j)) & 3) |
                      (((w[b].hmask[l] >> (4 * h + j)) & 1) << 2);  // code = q + 4
        isum += q * a[b].qs[e];
      }
      sumi += quant::unpack_scale_q3_k(w[b].scales, g) * (isum - 4 * a[b].bsums[g]);
    }
    sum += f16_to_f32(w[b].d) * a[b].d * static_cast<float>(sumi);
  }
  return sum;
}

template <bool kHigh>
float dot_q45_k(const uint8_t* scales, const uint8_t* qs, const uint8_t* qh, uint16_t d,
                uint16_t dmin, const BlockQ8_K& a) {
  int sumi = 0, summ = 0;
  for (int s = 0; s < 8; ++s) {
    uint8_t sc, m;
    quant::unpack_scale_min_k4(scales, s, sc, m);
    int isum = 0;
    for (int l = 0; l < 32; ++l) {
      const uint8_t byte = qs[32 * (s / 2) + l];
      int q = (s & 1) ? byte >> 4 : byte & 0xF;
      if constexpr (kHigh) q |= ((qh[l] >> s) & 1) << 4;
      isum += q * a.qs[32 * s + l];
    }
    sumi += sc * isum;
    summ += m * (a.bsums[2 * s] + a.bsums[2 * s + 1]);
  }
  return f16_to_f32(d) * a.d * static_cast<float>(sumi) -
         f16_to_f32(dmin) * a.d * static_cast<float>(summ);
}

float dot_q4_k(int64_t n, const void* wv, const void* xv) {
  const auto* w = static_cast<const BlockQ4_K*>(wv);
  const auto* a = static_cast<const BlockQ8_K*>(xv);
  float sum = 0;
  for (int64_t b = 0; b < n / QK_K; ++b)
    sum += dot_q45_k<false>(w[b].scales, w[b].qs, nullptr, w[b].d, w[b].dmin, a[b]);
  return sum;
}

float dot_q5_k(int64_t n, const void* wv, const void* xv) {
  const auto* w = static_cast<const BlockQ5_K*>(wv);
  const auto* a = static_cast<const BlockQ8_K*>(xv);
  float sum = 0;
  for (int64_t b = 0; b < n / QK_K; ++b)
    sum += dot_q45_k<true>(w[b].scales, w[b].qs, w[b].qh, w[b].d, w[b].dmin, a[b]);
  return sum;
}

float dot_q6_k(int64_t n, const void* wv, const void* xv) {
  const auto* w = static_cast<const BlockQ6_K*>(wv);
  const auto* a = static_cast<const BlockQ8_K*>(xv);
  float sum = 0;
  for (int64_t b = 0; b < n / QK_K; ++b) {
    int sumi = 0;
    for (int g = 0; g < 16; ++g) {
      int isum = 0;
      for (int i = 0; i < 16; ++i) {
        const int e = 16 * g + i, h = e / 128, k = e % 128 / 32, l = e % 32;
        const uint8_t lo = w[b].ql[64 * h + 32 * (k & 1) + l];
        const int q = (k >= 2 ? lo >> 4 : lo & 0xF) | (((w[b].qh[32 * h + l] >> (2 * k)) & 3) << 4);
        isum += q * a[b].qs[e];  // code = q + 32
      }
      sumi += w[b].scales[g] * (isum - 32 * a[b].bsums[g]);
    }
    sum += f16_to_f32(w[b].d) * a[b].d * static_cast<float>(sumi);
  }
  return sum;
}

// ---- tables ------------------------------------------------------------------------------------

using RowDot = float (*)(int64_t, const void*, const void*);

template <RowDot F, int NC>
void multi(int64_t n, const void* w, const void* x, size_t xs, float* out) {
  for (int c = 0; c < NC; ++c) out[c] = F(n, w, static_cast<const uint8_t*>(x) + c * xs);
}

template <RowDot F>
constexpr DotKernels table(ActFormat act) {
  DotKernels k;
  k.act = act;
  k.quantize_act = act == ActFormat::Q8A   ? quantize_act_q8a_ref
                   : act == ActFormat::Q8K ? quantize_act_q8k_ref
                                           : nullptr;
  k.dot[0] = multi<F, 1>;
  k.dot[1] = multi<F, 2>;
  k.dot[2] = multi<F, 3>;
  k.dot[3] = multi<F, 4>;
  return k;
}

}  // namespace

void quantize_act_q8a_ref(const float* x, void* out, int64_t n) {
  auto* y = static_cast<BlockQ8A*>(out);
  for (int64_t b = 0; b < n / 32; ++b) {
    const float* xb = x + 32 * b;
    float amax = 0;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(xb[i]));
    const float d = amax / 127.0f;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    int sum = 0;
    for (int i = 0; i < 32; ++i) {
      const int q = std::clamp(static_cast<int>(std::nearbyint(xb[i] * id)), -127, 127);
      y[b].qs[i] = static_cast<int8_t>(q);
      sum += q;
    }
    y[b].d = d;
    y[b].ds = d * static_cast<float>(sum);
    y[b].s = sum;
    y[b].pad = 0;
  }
}

void quantize_act_q8k_ref(const float* x, void* out, int64_t n) {
  auto* y = static_cast<BlockQ8_K*>(out);
  for (int64_t b = 0; b < n / QK_K; ++b) {
    const float* xb = x + QK_K * b;
    float amax = 0;
    for (int i = 0; i < QK_K; ++i) amax = std::max(amax, std::fabs(xb[i]));
    const float d = amax / 127.0f;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    for (int g = 0; g < 16; ++g) {
      int sum = 0;
      for (int i = 16 * g; i < 16 * g + 16; ++i) {
        const int q = std::clamp(static_cast<int>(std::nearbyint(xb[i] * id)), -127, 127);
        y[b].qs[i] = static_cast<int8_t>(q);
        sum += q;
      }
      y[b].bsums[g] = static_cast<int16_t>(sum);
    }
    y[b].d = d;
  }
}

size_t act_row_bytes(ActFormat f, int64_t n) {
  switch (f) {
    case ActFormat::F32:
      return static_cast<size_t>(n) * sizeof(float);
    case ActFormat::Q8A:
      return static_cast<size_t>(n / 32) * sizeof(BlockQ8A);
    case ActFormat::Q8K:
      return static_cast<size_t>(n / QK_K) * sizeof(BlockQ8_K);
  }
  return 0;
}

const DotKernels* dot_kernels_ref(DType t) {
  static constexpr DotKernels kF32 = table<dot_f32>(ActFormat::F32);
  static constexpr DotKernels kF16 = table<dot_f16>(ActFormat::F32);
  static constexpr DotKernels kBF16 = table<dot_bf16>(ActFormat::F32);
  static constexpr DotKernels kQ4_0 = table<dot_q4_0>(ActFormat::Q8A);
  static constexpr DotKernels kQ4_1 = table<dot_q4_1>(ActFormat::Q8A);
  static constexpr DotKernels kQ5_0 = table<dot_q5_0>(ActFormat::Q8A);
  static constexpr DotKernels kQ5_1 = table<dot_q5_1>(ActFormat::Q8A);
  static constexpr DotKernels kQ8_0 = table<dot_q8_0>(ActFormat::Q8A);
  static constexpr DotKernels kQ2_K = table<dot_q2_k>(ActFormat::Q8K);
  static constexpr DotKernels kQ3_K = table<dot_q3_k>(ActFormat::Q8K);
  static constexpr DotKernels kQ4_K = table<dot_q4_k>(ActFormat::Q8K);
  static constexpr DotKernels kQ5_K = table<dot_q5_k>(ActFormat::Q8K);
  static constexpr DotKernels kQ6_K = table<dot_q6_k>(ActFormat::Q8K);
  switch (t) {
    case DType::F32:
      return &kF32;
    case DType::F16:
      return &kF16;
    case DType::BF16:
      return &kBF16;
    case DType::Q4_0:
      return &kQ4_0;
    case DType::Q4_1:
      return &kQ4_1;
    case DType::Q5_0:
      return &kQ5_0;
    case DType::Q5_1:
      return &kQ5_1;
    case DType::Q8_0:
      return &kQ8_0;
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

const DotKernels* dot_kernels(DType t, Isa isa) {
  if (isa == Isa::Avx2) {
    if (!isa_available(Isa::Avx2)) return nullptr;
    if (const DotKernels* k = dot_kernels_avx2_q32(t)) return k;
    return dot_kernels_avx2_k(t);
  }
  return dot_kernels_ref(t);
}

}  // namespace helix::kernels
