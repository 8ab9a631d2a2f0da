// AVX2+FMA+F16C dot products for float weights (F32, F16, BF16) and the 32-element block types
// (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0), plus the activation converters to BlockQ8A / BlockQ8_K.
// Same math as vec_dot_ref.cpp: an integer dot per block (maddubs on unsigned weight codes against
// signed activations), one float scale per block, offsets and minimums through the activation sums.
// Each weight block is unpacked once and used for up to kMaxCols activation rows.
#include "kernels/simd_avx2.h"
#include "kernels/vec_dot.h"
#include "quant/blocks.h"

namespace helix::kernels {
namespace {

using namespace avx2;
using quant::BlockQ4_0;
using quant::BlockQ4_1;
using quant::BlockQ5_0;
using quant::BlockQ5_1;
using quant::BlockQ8_0;
using quant::BlockQ8_K;

// ---- float weights ------------------------------------------------------------------------------

struct F32W {
  using T = float;
  static __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
  static float one(const float* p) { return *p; }
};
struct F16W {
  using T = uint16_t;
  static __m256 load8(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static float one(const uint16_t* p) { return fp16(*p); }
};
struct BF16W {
  using T = uint16_t;
  static __m256 load8(const uint16_t* p) {
    const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
  }
  static float one(const uint16_t* p) {
    const uint32_t u = static_cast<uint32_t>(*p) << 16;
    return _mm_cvtss_f32(_mm_castsi128_ps(_mm_cvtsi32_si128(static_cast<int>(u))));
  }
};

// R weight rows (row r at w + r * w_stride) against NC activation rows: y[c * y_stride + r].
// Each output sums in two chains of 8-lane accumulators (u = 0, 1: alternate 8-element chunks;
// one 8-element tail chunk to chain 0), then the chains, the lanes and a scalar tail, in that order.
// The same count and order for every R and NC, so that a row sums alike alone or in a batch (a
// served stream gives the same bits either way). R = 1 is the row dot (DotFn); R = 2, NC = 3 the
// prefill tile (Dot2x3Fn), where each activation load serves both rows.
template <typename W, int R, int NC>
void dot_float_rows(int64_t n, const void* wv, size_t w_stride, const void* xv, size_t xs, float* y,
                    size_t y_stride) {
  using T = typename W::T;
  const T* w[R];
  const float* x[NC];
  for (int r = 0; r < R; ++r)
    w[r] = reinterpret_cast<const T*>(static_cast<const uint8_t*>(wv) + r * w_stride);
  for (int c = 0; c < NC; ++c)
    x[c] = reinterpret_cast<const float*>(static_cast<const uint8_t*>(xv) + c * xs);
  constexpr int U = 2;
  __m256 acc[R][NC][U];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < NC; ++c)
      for (int u = 0; u < U; ++u) acc[r][c][u] = _mm256_setzero_ps();
  // One 8-element chunk at i into chain u.
  auto chunk = [&](int64_t i, int u) {
    __m256 wr[R];
    for (int r = 0; r < R; ++r) wr[r] = W::load8(w[r] + i);
    for (int c = 0; c < NC; ++c) {
      __m256 xc = _mm256_loadu_ps(x[c] + i);
      if constexpr (R > 1) pin(xc);  // one load for all rows, not one folded into each FMA
      for (int r = 0; r < R; ++r) acc[r][c][u] = _mm256_fmadd_ps(wr[r], xc, acc[r][c][u]);
    }
  };
  int64_t i = 0;
  for (; i + 8 * U <= n; i += 8 * U)
    for (int u = 0; u < U; ++u) chunk(i + 8 * u, u);
  for (; i + 8 <= n; i += 8) chunk(i, 0);
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < NC; ++c) {
      for (int u = 1; u < U; ++u) acc[r][c][0] = _mm256_add_ps(acc[r][c][0], acc[r][c][u]);
      float s = hsum(acc[r][c][0]);
      for (int64_t j = i; j < n; ++j) s += W::one(w[r] + j) * x[c][j];
      y[static_cast<size_t>(c) * y_stride + static_cast<size_t>(r)] = s;
    }
}

template <typename W, int NC>
void dot_float(int64_t n, const void* w, const void* x, size_t xs, float* out) {
  dot_float_rows<W, 1, NC>(n, w, 0, x, xs, out, 1);
}

// ---- 32-element blocks --------------------------------------------------------------------------
// Each unpacker loads one weight block: its f16 scale (lane 0 of d; the block starts with it), and
// idot(y) = 8 partial integer sums of w * y with offsets already taken off; blocks with a minimum
// also give m, the coefficient of the activation block's ds.

inline __m128 scale_at(const void* block) {  // the f16 at the start of a block (>= 8 bytes long)
  return _mm_cvtph_ps(_mm_loadl_epi64(static_cast<const __m128i*>(block)));
}

inline __m256i q5_codes(const uint8_t* qs, const uint8_t* qh) {
  uint32_t bits;
  __builtin_memcpy(&bits, qh, 4);
  const __m256i hi = _mm256_and_si256(bits_to_bytes(bits), _mm256_set1_epi8(0x10));
  return _mm256_or_si256(nibbles(qs), hi);
}

struct Q4_0U {  // codes q + 8: 8 partial sums each lose s
  using Block = BlockQ4_0;
  static constexpr bool kMin = false;
  __m256i u;
  __m128 d;
  float m = 0;
  void load(const Block& b) {
    u = nibbles(b.qs);
    d = scale_at(&b);
  }
  __m256i idot(const BlockQ8A& y) const {
    return _mm256_sub_epi32(dot_u8s8(u, loadu(y.qs)), _mm256_set1_epi32(y.s));
  }
};
struct Q5_0U {  // codes q + 16: 16 pair sums each lose s
  using Block = BlockQ5_0;
  static constexpr bool kMin = false;
  __m256i u;
  __m128 d;
  float m = 0;
  void load(const Block& b) {
    u = q5_codes(b.qs, b.qh);
    d = scale_at(&b);
  }
  __m256i idot(const BlockQ8A& y) const {
    const __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(u, loadu(y.qs)),
                                       _mm256_set1_epi16(static_cast<int16_t>(y.s)));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
  }
};
struct Q4_1U {
  using Block = BlockQ4_1;
  static constexpr bool kMin = true;
  __m256i u;
  __m128 d;
  float m;
  void load(const Block& b) {
    u = nibbles(b.qs);
    d = scale_at(&b);
    m = fp16(b.m);
  }
  __m256i idot(const BlockQ8A& y) const { return dot_u8s8(u, loadu(y.qs)); }
};
struct Q5_1U {
  using Block = BlockQ5_1;
  static constexpr bool kMin = true;
  __m256i u;
  __m128 d;
  float m;
  void load(const Block& b) {
    u = q5_codes(b.qs, b.qh);
    d = scale_at(&b);
    m = fp16(b.m);
  }
  __m256i idot(const BlockQ8A& y) const { return dot_u8s8(u, loadu(y.qs)); }
};
struct Q8_0U {  // signed weights: |w| against y carrying w's sign
  using Block = BlockQ8_0;
  static constexpr bool kMin = false;
  __m256i q, aq;
  __m128 d;
  float m = 0;
  void load(const Block& b) {
    q = loadu(b.qs);
    aq = _mm256_sign_epi8(q, q);
    d = scale_at(&b);
  }
  __m256i idot(const BlockQ8A& y) const { return dot_u8s8(aq, _mm256_sign_epi8(loadu(y.qs), q)); }
};

// (weight scale * activation scale) in all lanes
inline __m256 block_scale(__m128 dw, const BlockQ8A& y) {
  return _mm256_broadcastss_ps(_mm_mul_ss(dw, _mm_load_ss(&y.d)));
}

template <typename U, int NC>
void dot_q32(int64_t n, const void* wv, const void* xv, size_t xs, float* out) {
  const auto* w = static_cast<const typename U::Block*>(wv);
  const BlockQ8A* a[NC];
  for (int c = 0; c < NC; ++c)
    a[c] = reinterpret_cast<const BlockQ8A*>(static_cast<const uint8_t*>(xv) + c * xs);
  __m256 acc[NC];
  float msum[NC];
  for (int c = 0; c < NC; ++c) {
    acc[c] = _mm256_setzero_ps();
    msum[c] = 0;
  }
  const int64_t nb = n / 32;
  int64_t b = 0;
  // Two blocks per step: the accumulator sees one add per pair, so its latency does not bound
  // the loop when only one activation row is in flight.
  for (; b + 1 < nb; b += 2) {
    U u0, u1;
    u0.load(w[b]);
    u1.load(w[b + 1]);
    for (int c = 0; c < NC; ++c) {
      const BlockQ8A& y0 = a[c][b];
      const BlockQ8A& y1 = a[c][b + 1];
      __m256 t = _mm256_mul_ps(block_scale(u0.d, y0), _mm256_cvtepi32_ps(u0.idot(y0)));
      t = _mm256_fmadd_ps(block_scale(u1.d, y1), _mm256_cvtepi32_ps(u1.idot(y1)), t);
      acc[c] = _mm256_add_ps(acc[c], t);
      if constexpr (U::kMin) msum[c] += u0.m * y0.ds + u1.m * y1.ds;
    }
  }
  if (b < nb) {
    U u0;
    u0.load(w[b]);
    for (int c = 0; c < NC; ++c) {
      const BlockQ8A& y0 = a[c][b];
      acc[c] = _mm256_fmadd_ps(block_scale(u0.d, y0), _mm256_cvtepi32_ps(u0.idot(y0)), acc[c]);
      if constexpr (U::kMin) msum[c] += u0.m * y0.ds;
    }
  }
  for (int c = 0; c < NC; ++c) out[c] = hsum(acc[c]) + msum[c];
}

// ---- activation converters ----------------------------------------------------------------------

inline float abs_max(const float* x, int n) {  // n a multiple of 32
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 m = _mm256_setzero_ps();
  for (int i = 0; i < n; i += 32) {
    const __m256 a = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)),
                                   _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i + 8)));
    const __m256 b = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + i + 16)),
                                   _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i + 24)));
    m = _mm256_max_ps(m, _mm256_max_ps(a, b));
  }
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// 32 floats * id rounded to nearest-even into 32 int8 at q; s0 and s1 get the codes of elements
// [0,16) and [16,32) as 8 int32 partial sums each.
inline void round_32(const float* x, float id, int8_t* q, __m256i& s0, __m256i& s1) {
  const __m256 m = _mm256_set1_ps(id);
  constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  const __m256i i0 =
      _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x), m), kRound));
  const __m256i i1 =
      _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 8), m), kRound));
  const __m256i i2 =
      _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 16), m), kRound));
  const __m256i i3 =
      _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 24), m), kRound));
  s0 = _mm256_add_epi32(i0, i1);
  s1 = _mm256_add_epi32(i2, i3);
  const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), _mm256_permutevar8x32_epi32(p, order));
}

void quantize_act_q8a(const float* x, void* out, int64_t n) {
  auto* y = static_cast<BlockQ8A*>(out);
  for (int64_t b = 0; b < n / 32; ++b) {
    const float* xb = x + 32 * b;
    const float d = abs_max(xb, 32) / 127.0f;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    __m256i s0, s1;
    round_32(xb, id, y[b].qs, s0, s1);
    const int sum = hsum_i32(_mm256_add_epi32(s0, s1));
    y[b].d = d;
    y[b].ds = d * static_cast<float>(sum);
    y[b].s = sum;
    y[b].pad = 0;
  }
}

void quantize_act_q8k(const float* x, void* out, int64_t n) {
  auto* y = static_cast<BlockQ8_K*>(out);
  for (int64_t b = 0; b < n / 256; ++b) {
    const float* xb = x + 256 * b;
    const float d = abs_max(xb, 256) / 127.0f;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    for (int g = 0; g < 8; ++g) {
      __m256i s0, s1;
      round_32(xb + 32 * g, id, y[b].qs + 32 * g, s0, s1);
      y[b].bsums[2 * g] = static_cast<int16_t>(hsum_i32(s0));
      y[b].bsums[2 * g + 1] = static_cast<int16_t>(hsum_i32(s1));
    }
    y[b].d = d;
  }
}

template <typename W>
constexpr DotKernels float_table() {
  DotKernels k;
  k.act = ActFormat::F32;
  k.dot[0] = dot_float<W, 1>;
  k.dot[1] = dot_float<W, 2>;
  k.dot[2] = dot_float<W, 3>;
  k.dot[3] = dot_float<W, 4>;
  k.dot2x3 = dot_float_rows<W, 2, 3>;
  return k;
}

template <typename U>
constexpr DotKernels q32_table() {
  DotKernels k;
  k.act = ActFormat::Q8A;
  k.quantize_act = quantize_act_q8a;
  k.dot[0] = dot_q32<U, 1>;
  k.dot[1] = dot_q32<U, 2>;
  k.dot[2] = dot_q32<U, 3>;
  k.dot[3] = dot_q32<U, 4>;
  return k;
}

}  // namespace

void quantize_act_q8k_avx2(const float* x, void* out, int64_t n) { quantize_act_q8k(x, out, n); }

const DotKernels* dot_kernels_avx2_q32(DType t) {
  static constexpr DotKernels kF32 = float_table<F32W>();
  static constexpr DotKernels kF16 = float_table<F16W>();
  static constexpr DotKernels kBF16 = float_table<BF16W>();
  static constexpr DotKernels kQ4_0 = q32_table<Q4_0U>();
  static constexpr DotKernels kQ4_1 = q32_table<Q4_1U>();
  static constexpr DotKernels kQ5_0 = q32_table<Q5_0U>();
  static constexpr DotKernels kQ5_1 = q32_table<Q5_1U>();
  static constexpr DotKernels kQ8_0 = q32_table<Q8_0U>();
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
    default:
      return nullptr;
  }
}

}  // namespace helix::kernels
