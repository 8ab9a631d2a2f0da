// Reference quantizers for the K-quants (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K) and Q8_K.
//
// A K-quant super-block of 256 values has sub-blocks of 16 or 32 values, each with its own scale
// (and, for Q2_K/Q4_K/Q5_K, its own min), and those scales are themselves quantized against one
// f16 super-scale. The quality of the format comes from how each sub-block's scale is chosen:
// these follow the searches of ggml's reference quantizers (make_qx_quants, make_q3_quants,
// make_qkx2_quants, without an importance matrix) operation for operation, so the bytes are
// ggml's (checked by tests/quant/test_ggml_reference.cpp) and the error is what each format is
// known to give. After the scales are quantized, every value is re-quantized against the scale
// that will actually be stored, so rounding of the scales costs as little as possible.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/fp16.h"
#include "quant/quant.h"

namespace helix::quant {
namespace {

constexpr float kGroupMaxEps = 1e-15f;  // a sub-block whose largest |x| is below this is zero

// Round to nearest, ties to even (the default FP rounding mode). Well defined for any input:
// NaN and huge values give some int, which callers clamp.
inline int nearest_int(float v) { return static_cast<int>(std::lrintf(v)); }

inline int clamp_int(int v, int lo, int hi) { return std::min(hi, std::max(lo, v)); }

// Symmetric scale for n values with 2*nmax levels (q in [-nmax, nmax-1]): start from the scale
// that maps the value of largest magnitude to -nmax, then try 18 nearby scales and keep the one
// whose least-squares fit sum(w*x*q)^2 / sum(w*q^2) is best (weights w = x^2, ggml's
// make_qx_quants with rmse_type 1). L receives q + nmax. Returns the fitted scale.
float search_symmetric_scale(int n, int nmax, const float* x, int8_t* L) {
  float amax = 0.0f, max = 0.0f;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    std::memset(L, 0, static_cast<size_t>(n));
    return 0.0f;
  }
  auto fit = [&](float iscale, float& sumlx, float& suml2) {
    sumlx = 0.0f;
    suml2 = 0.0f;
    for (int i = 0; i < n; ++i) {
      const int l = clamp_int(nearest_int(iscale * x[i]), -nmax, nmax - 1);
      const float w = x[i] * x[i];
      sumlx += w * x[i] * static_cast<float>(l);
      suml2 += w * static_cast<float>(l) * static_cast<float>(l);
    }
  };
  auto assign = [&](float iscale) {
    for (int i = 0; i < n; ++i)
      L[i] = static_cast<int8_t>(nmax + clamp_int(nearest_int(iscale * x[i]), -nmax, nmax - 1));
  };
  float iscale = static_cast<float>(-nmax) / max;
  float sumlx, suml2;
  fit(iscale, sumlx, suml2);
  assign(iscale);
  float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int step = -9; step <= 9; ++step) {
    if (step == 0) continue;
    iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(step)) / max;
    fit(iscale, sumlx, suml2);
    if (suml2 > 0.0f && sumlx * sumlx > best * suml2) {
      assign(iscale);
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// Q3_K's symmetric scale (ggml's make_q3_quants with do_rmse): levels q in [-nmax, nmax-1], start
// from the largest-magnitude value mapping to -nmax, then up to 5 rounds of coordinate descent
// that move single values to the level that improves the weighted (w = x^2) fit. L receives
// q + nmax. Returns the fitted scale.
float search_q3_scale(int n, int nmax, const float* x, int8_t* L) {
  float amax = 0.0f, max = 0.0f;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    std::memset(L, 0, static_cast<size_t>(n));
    return 0.0f;
  }
  const float iscale = static_cast<float>(-nmax) / max;
  float sumlx = 0.0f, suml2 = 0.0f;
  for (int i = 0; i < n; ++i) {
    const int l = clamp_int(nearest_int(iscale * x[i]), -nmax, nmax - 1);
    L[i] = static_cast<int8_t>(l);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * static_cast<float>(l);
    suml2 += w * static_cast<float>(l) * static_cast<float>(l);
  }
  for (int round = 0; round < 5; ++round) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      const float li = static_cast<float>(L[i]);
      float slx = sumlx - w * x[i] * li;
      if (!(slx > 0.0f)) continue;
      float sl2 = suml2 - w * li * li;
      const int nl = clamp_int(nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
      if (nl == L[i]) continue;
      slx += w * x[i] * static_cast<float>(nl);
      sl2 += w * static_cast<float>(nl) * static_cast<float>(nl);
      if (sl2 > 0.0f && slx * slx * suml2 > sumlx * sumlx * sl2) {
        L[i] = static_cast<int8_t>(nl);
        sumlx = slx;
        suml2 = sl2;
        ++changed;
      }
    }
    if (changed == 0) break;
  }
  for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(L[i] + nmax);
  return sumlx / suml2;
}

// Affine scale and min for y = scale * q - min with q in [0, nmax] (ggml's make_qkx2_quants):
// start from the min/max range, then for nstep+1 candidate inverse scales
// (nmax + rmin + rdelta*i) / range solve the weighted least-squares scale and min for the
// resulting levels and keep the candidate with the smallest weighted error (absolute error if
// use_mad, squared otherwise). The min is kept <= 0, i.e. the returned *neg_min >= 0.
float search_affine_scale(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                          float* neg_min, float rmin, float rdelta, int nstep, bool use_mad) {
  uint8_t Laux[32];
  float min = x[0], max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0.0f) min = 0.0f;
  if (max == min) {
    std::memset(L, 0, static_cast<size_t>(n));
    *neg_min = -min;
    return 0.0f;
  }
  auto error_of = [&](float v) { return use_mad ? std::fabs(v) : v * v; };
  float iscale = static_cast<float>(nmax) / (max - min);
  float scale = 1.0f / iscale;
  float best_error = 0.0f;
  for (int i = 0; i < n; ++i) {
    L[i] = static_cast<uint8_t>(clamp_int(nearest_int(iscale * (x[i] - min)), 0, nmax));
    const float diff = scale * static_cast<float>(L[i]) + min - x[i];
    best_error += weights[i] * error_of(diff);
  }
  for (int step = 0; step <= nstep; ++step) {
    iscale = (rmin + rdelta * static_cast<float>(step) + static_cast<float>(nmax)) / (max - min);
    float sum_l = 0.0f, sum_l2 = 0.0f, sum_xl = 0.0f;
    for (int i = 0; i < n; ++i) {
      const int l = clamp_int(nearest_int(iscale * (x[i] - min)), 0, nmax);
      Laux[i] = static_cast<uint8_t>(l);
      const float w = weights[i];
      const float fl = static_cast<float>(l);
      sum_l += w * fl;
      sum_l2 += w * fl * fl;
      sum_xl += w * fl * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (!(D > 0.0f)) continue;
    float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
    float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
    if (this_min > 0.0f) {
      this_min = 0.0f;
      this_scale = sum_xl / sum_l2;
    }
    float err = 0.0f;
    for (int i = 0; i < n; ++i) {
      const float diff = this_scale * static_cast<float>(Laux[i]) + this_min - x[i];
      err += weights[i] * error_of(diff);
    }
    if (err < best_error) {
      std::memcpy(L, Laux, static_cast<size_t>(n));
      best_error = err;
      scale = this_scale;
      min = this_min;
    }
  }
  *neg_min = -min;
  return scale;
}

// Packs 256 2-bit values: value 128*c + 32*s + l goes to bits 2*s.. of qs[32*c + l].
void pack_2bit(const uint8_t* L, uint8_t* qs) {
  for (int c = 0; c < 2; ++c)
    for (int l = 0; l < 32; ++l) {
      const uint8_t* v = L + 128 * c + l;
      qs[32 * c + l] = static_cast<uint8_t>(v[0] | (v[32] << 2) | (v[64] << 4) | (v[96] << 6));
    }
}

// Packs 6-bit scales and mins of Q4_K / Q5_K (inverse of unpack_scale_min_k4).
void pack_scale_min_k4(const uint8_t* ls, const uint8_t* lm, uint8_t* packed) {
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      packed[j] = ls[j];
      packed[j + 4] = lm[j];
    } else {
      packed[j + 4] = static_cast<uint8_t>((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
      packed[j - 4] = static_cast<uint8_t>(packed[j - 4] | ((ls[j] >> 4) << 6));
      packed[j] = static_cast<uint8_t>(packed[j] | ((lm[j] >> 4) << 6));
    }
  }
}

// Shared part of Q4_K and Q5_K: eight sub-blocks of 32 values with weights av_x + |x|, 6-bit
// scales and mins against f16 d and dmin. Fills the block's d, dmin, scales and the levels L
// (0..nmax) re-quantized against the stored scales.
void quantize_superblock_k4(const float* x, int nmax, float rmin, float rdelta, int nstep,
                            uint16_t& d_out, uint16_t& dmin_out, uint8_t* packed, uint8_t* L) {
  float scales[8], mins[8], weights[32];
  float max_scale = 0.0f, max_min = 0.0f;
  for (int j = 0; j < 8; ++j) {
    const float* xs = x + 32 * j;
    float sum_x2 = 0.0f;
    for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
    const float av_x = std::sqrt(sum_x2 / 32.0f);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(xs[l]);
    scales[j] = search_affine_scale(32, nmax, xs, weights, L + 32 * j, &mins[j], rmin, rdelta, nstep,
                                    false);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float inv_scale = max_scale > 0.0f ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0.0f ? 63.0f / max_min : 0.0f;
  uint8_t ls[8], lm[8];
  for (int j = 0; j < 8; ++j) {
    ls[j] = static_cast<uint8_t>(std::min(63, clamp_int(nearest_int(inv_scale * scales[j]), 0, 255)));
    lm[j] = static_cast<uint8_t>(std::min(63, clamp_int(nearest_int(inv_min * mins[j]), 0, 255)));
  }
  std::memset(packed, 0, K_SCALE_SIZE);
  pack_scale_min_k4(ls, lm, packed);
  d_out = f32_to_f16(max_scale / 63.0f);
  dmin_out = f32_to_f16(max_min / 63.0f);
  const float d_all = f16_to_f32(d_out), dmin_all = f16_to_f32(dmin_out);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    unpack_scale_min_k4(packed, j, sc, m);
    const float d = d_all * static_cast<float>(sc);
    if (d == 0.0f) continue;
    const float dm = dmin_all * static_cast<float>(m);
    for (int l = 0; l < 32; ++l)
      L[32 * j + l] = static_cast<uint8_t>(clamp_int(nearest_int((x[32 * j + l] + dm) / d), 0, nmax));
  }
}

}  // namespace

void quantize_row_q2_k(const float* x, BlockQ2_K* y, int64_t n) {
  for (int64_t b = 0; b < n / QK_K; ++b, x += QK_K) {
    BlockQ2_K& blk = y[b];
    uint8_t L[QK_K];
    float scales[16], mins[16], weights[16];
    float max_scale = 0.0f, max_min = 0.0f;
    for (int j = 0; j < 16; ++j) {
      for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
      scales[j] = search_affine_scale(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], -0.5f, 0.1f,
                                      15, true);
      if (scales[j] > max_scale) max_scale = scales[j];
      if (mins[j] > max_min) max_min = mins[j];
    }
    // 4-bit scales and mins against f16 d and dmin.
    std::memset(blk.scales, 0, sizeof(blk.scales));
    if (max_scale > 0.0f) {
      const float iscale = 15.0f / max_scale;
      for (int j = 0; j < 16; ++j) blk.scales[j] = static_cast<uint8_t>(clamp_int(nearest_int(iscale * scales[j]), 0, 15));
      blk.d = f32_to_f16(max_scale / 15.0f);
    } else {
      blk.d = f32_to_f16(0.0f);
    }
    if (max_min > 0.0f) {
      const float iscale = 15.0f / max_min;
      for (int j = 0; j < 16; ++j)
        blk.scales[j] = static_cast<uint8_t>(blk.scales[j] | (clamp_int(nearest_int(iscale * mins[j]), 0, 15) << 4));
      blk.dmin = f32_to_f16(max_min / 15.0f);
    } else {
      blk.dmin = f32_to_f16(0.0f);
    }
    const float d_all = f16_to_f32(blk.d), dmin_all = f16_to_f32(blk.dmin);
    for (int j = 0; j < 16; ++j) {
      const float d = d_all * static_cast<float>(blk.scales[j] & 0xF);
      if (d == 0.0f) continue;
      const float dm = dmin_all * static_cast<float>(blk.scales[j] >> 4);
      for (int l = 0; l < 16; ++l)
        L[16 * j + l] = static_cast<uint8_t>(clamp_int(nearest_int((x[16 * j + l] + dm) / d), 0, 3));
    }
    pack_2bit(L, blk.qs);
  }
}

void quantize_row_q3_k(const float* x, BlockQ3_K* y, int64_t n) {
  for (int64_t b = 0; b < n / QK_K; ++b, x += QK_K) {
    BlockQ3_K& blk = y[b];
    int8_t L[QK_K];
    float scales[16];
    float max_scale = 0.0f, amax = 0.0f;
    for (int j = 0; j < 16; ++j) {
      scales[j] = search_q3_scale(16, 4, x + 16 * j, L + 16 * j);
      const float a = std::fabs(scales[j]);
      if (a > amax) {
        amax = a;
        max_scale = scales[j];
      }
    }
    // Signed 6-bit scales: low 4 bits in scales[0..7] (two per byte), high 2 bits in scales[8..11].
    std::memset(blk.scales, 0, sizeof(blk.scales));
    if (max_scale != 0.0f) {
      const float iscale = -32.0f / max_scale;
      for (int j = 0; j < 16; ++j) {
        const int l = clamp_int(nearest_int(iscale * scales[j]), -32, 31) + 32;
        if (j < 8)
          blk.scales[j] = static_cast<uint8_t>(l & 0xF);
        else
          blk.scales[j - 8] = static_cast<uint8_t>(blk.scales[j - 8] | ((l & 0xF) << 4));
        blk.scales[8 + j % 4] = static_cast<uint8_t>(blk.scales[8 + j % 4] | ((l >> 4) << (2 * (j / 4))));
      }
      blk.d = f32_to_f16(1.0f / iscale);
    } else {
      blk.d = f32_to_f16(0.0f);
    }
    const float d_all = f16_to_f32(blk.d);
    for (int j = 0; j < 16; ++j) {
      const float d = d_all * static_cast<float>(unpack_scale_q3_k(blk.scales, j));
      if (d == 0.0f) continue;
      for (int l = 0; l < 16; ++l)
        L[16 * j + l] = static_cast<int8_t>(clamp_int(nearest_int(x[16 * j + l] / d), -4, 3) + 4);
    }
    // Levels 0..7: bit 2 goes to hmask (value e uses bit e/32 of hmask[e%32]), the rest to qs.
    std::memset(blk.hmask, 0, sizeof(blk.hmask));
    uint8_t low[QK_K];
    for (int e = 0; e < QK_K; ++e) {
      if (L[e] > 3) blk.hmask[e % 32] = static_cast<uint8_t>(blk.hmask[e % 32] | (1 << (e / 32)));
      low[e] = static_cast<uint8_t>(L[e] & 3);
    }
    pack_2bit(low, blk.qs);
  }
}

void quantize_row_q4_k(const float* x, BlockQ4_K* y, int64_t n) {
  for (int64_t b = 0; b < n / QK_K; ++b, x += QK_K) {
    BlockQ4_K& blk = y[b];
    uint8_t L[QK_K];
    quantize_superblock_k4(x, 15, -1.0f, 0.1f, 20, blk.d, blk.dmin, blk.scales, L);
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l)
        blk.qs[32 * c + l] = static_cast<uint8_t>(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
  }
}

void quantize_row_q5_k(const float* x, BlockQ5_K* y, int64_t n) {
  for (int64_t b = 0; b < n / QK_K; ++b, x += QK_K) {
    BlockQ5_K& blk = y[b];
    uint8_t L[QK_K];
    quantize_superblock_k4(x, 31, -0.5f, 0.1f, 15, blk.d, blk.dmin, blk.scales, L);
    std::memset(blk.qh, 0, sizeof(blk.qh));
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l) {
        const uint8_t lo = L[64 * c + l], hi = L[64 * c + 32 + l];
        blk.qs[32 * c + l] = static_cast<uint8_t>((lo & 0xF) | ((hi & 0xF) << 4));
        blk.qh[l] = static_cast<uint8_t>(blk.qh[l] | ((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
      }
  }
}

void quantize_row_q6_k(const float* x, BlockQ6_K* y, int64_t n) {
  for (int64_t b = 0; b < n / QK_K; ++b, x += QK_K) {
    BlockQ6_K& blk = y[b];
    int8_t L[QK_K];
    float scales[16];
    float max_scale = 0.0f, max_abs_scale = 0.0f;
    for (int j = 0; j < 16; ++j) {
      scales[j] = search_symmetric_scale(16, 32, x + 16 * j, L + 16 * j);
      const float a = std::fabs(scales[j]);
      if (a > max_abs_scale) {
        max_abs_scale = a;
        max_scale = scales[j];
      }
    }
    if (max_abs_scale < kGroupMaxEps) {
      std::memset(&blk, 0, sizeof(blk));
      continue;
    }
    // Signed 8-bit scales against f16 d; the largest maps to -128.
    const float iscale = -128.0f / max_scale;
    blk.d = f32_to_f16(1.0f / iscale);
    for (int j = 0; j < 16; ++j)
      blk.scales[j] = static_cast<int8_t>(clamp_int(nearest_int(iscale * scales[j]), -128, 127));
    const float d_all = f16_to_f32(blk.d);
    for (int j = 0; j < 16; ++j) {
      const float d = d_all * static_cast<float>(blk.scales[j]);
      if (d == 0.0f) continue;
      for (int l = 0; l < 16; ++l)
        L[16 * j + l] = static_cast<int8_t>(clamp_int(nearest_int(x[16 * j + l] / d), -32, 31) + 32);
    }
    // Level v (0..63) of value 128*c + 32*s + l: low nibble into ql[64*c + l + 32*(s%2)]
    // (low half for s < 2, high half otherwise), top two bits into bits 2*s.. of qh[32*c + l].
    std::memset(blk.ql, 0, sizeof(blk.ql));
    std::memset(blk.qh, 0, sizeof(blk.qh));
    for (int e = 0; e < QK_K; ++e) {
      const int c = e / 128, s = (e / 32) % 4, l = e % 32;
      const int v = L[e];
      uint8_t& lo = blk.ql[64 * c + l + 32 * (s % 2)];
      lo = static_cast<uint8_t>(lo | ((v & 0xF) << (4 * (s / 2))));
      uint8_t& hi = blk.qh[32 * c + l];
      hi = static_cast<uint8_t>(hi | ((v >> 4) << (2 * s)));
    }
  }
}

// Q8_K (activations for K-quant dot products): f32 d with the largest-magnitude value at -127,
// plus sums of each group of 16 levels.
void quantize_row_q8_k(const float* x, BlockQ8_K* y, int64_t n) {
  for (int64_t b = 0; b < n / QK_K; ++b, x += QK_K) {
    BlockQ8_K& blk = y[b];
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < QK_K; ++j) {
      const float a = std::fabs(x[j]);
      if (a > amax) {
        amax = a;
        max = x[j];
      }
    }
    if (amax == 0.0f) {
      std::memset(&blk, 0, sizeof(blk));
      continue;
    }
    const float iscale = -127.0f / max;
    for (int j = 0; j < QK_K; ++j) blk.qs[j] = static_cast<int8_t>(clamp_int(nearest_int(iscale * x[j]), -128, 127));
    for (int g = 0; g < QK_K / 16; ++g) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += blk.qs[16 * g + l];
      blk.bsums[g] = static_cast<int16_t>(sum);
    }
    blk.d = 1.0f / iscale;
  }
}

}  // namespace helix::quant
