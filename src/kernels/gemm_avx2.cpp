// AVX2 GEMM for Q5_0 (gemm.h): prefill's y[n_out, n_tok] = W . x for many tokens at once, on
// panels that the packed weights (packed_avx2.cpp, q5_to_panel) expand into.
//
// In a panel each 32-bit lane holds four consecutive codes of one of eight rows ("8 rows
// interleaved"): one maddubs against four activation bytes broadcast to every lane advances all
// eight rows, and each block's integer sums, int to float conversion and scale multiply are done
// for eight rows in one instruction each. The float operations per output are exactly those of
// the packed row-group dots (q5_dot_n), so a token's result does not depend on the batch.
//
// GEMMs on panels unpacked straight from the file layout (Q4_0, Q4_1, Q5_1, Q4_K) existed in commit
// 7dfb096 but summed in another order than decode's row dots; they return with a decode that
// sums alike.
#include "kernels/gemm.h"

#include <type_traits>

#include "core/cpu_features.h"
#include "kernels/simd_avx2.h"

namespace helix::kernels {
namespace {

using namespace avx2;

// Panel layout per block of 32 elements: codes[8 groups of 4][8 rows][4 bytes] (256 bytes), then
// d[8] and m[8] as f32 (64 bytes; m unused for Q5_0).
constexpr size_t kPanelBlockBytes = 256 + 64;

template <int NC>
inline void panel_cols(const uint8_t* panel, int64_t nb, const uint8_t* act, size_t a_stride,
                       float* y, size_t y_stride) {
  alignas(32) float acc[NC][8] = {};  // in memory, so that the eight code vectors keep registers
  const BlockQ8A* a[NC];
  for (int c = 0; c < NC; ++c) a[c] = reinterpret_cast<const BlockQ8A*>(act + c * a_stride);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* pb = panel + b * kPanelBlockBytes;
    __m256i code[8];
    for (int g = 0; g < 8; ++g) code[g] = _mm256_load_si256(reinterpret_cast<const __m256i*>(pb) + g);
    const __m256 d = _mm256_load_ps(reinterpret_cast<const float*>(pb + 256));
    for (int c = 0; c < NC; ++c) {
      const BlockQ8A& yb = a[c][b];
      const __m256i s = q5_block_dot8(code, yb.qs, yb.s);
      _mm256_store_ps(acc[c], _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(yb.d)), _mm256_cvtepi32_ps(s),
                                              _mm256_load_ps(acc[c])));
    }
  }
  for (int c = 0; c < NC; ++c) _mm256_storeu_ps(y + c * y_stride, _mm256_load_ps(acc[c]));
}

// panel_cols with AVX-VNNI: vpdpbusd takes the unsigned codes (q + 16) against the signed
// activation bytes directly, one instruction per code vector where q5_block_dot8 needs maddubs
// and int16 adds (which never overflow there), so the integer sums and the results are equal
// bit for bit (test_matmul: PackedWeights.VnniDotsEqualAvx2BitForBit).
template <int NC>
__attribute__((target("avx2,fma,f16c,avxvnni"))) void panel_cols_vnni(const uint8_t* panel, int64_t nb,
                                                                      const uint8_t* act, size_t a_stride, float* y,
                                                                      size_t y_stride) {
  alignas(32) float acc[NC][8] = {};
  const BlockQ8A* a[NC];
  for (int c = 0; c < NC; ++c) a[c] = reinterpret_cast<const BlockQ8A*>(act + c * a_stride);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* pb = panel + b * kPanelBlockBytes;
    __m256i code[8];
    for (int g = 0; g < 8; ++g) code[g] = _mm256_load_si256(reinterpret_cast<const __m256i*>(pb) + g);
    const __m256 d = _mm256_load_ps(reinterpret_cast<const float*>(pb + 256));
    for (int c = 0; c < NC; ++c) {
      const BlockQ8A& yb = a[c][b];
      __m256i s = _mm256_set1_epi32(-16 * yb.s);  // codes are q + 16
      for (int g = 0; g < 8; ++g) s = _mm256_dpbusd_avx_epi32(s, code[g], bcast4(yb.qs + 4 * g));
      _mm256_store_ps(acc[c], _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(yb.d)), _mm256_cvtepi32_ps(s),
                                              _mm256_load_ps(acc[c])));
    }
  }
  for (int c = 0; c < NC; ++c) _mm256_storeu_ps(y + c * y_stride, _mm256_load_ps(acc[c]));
}

// Columns four at a time, then the rest; kVnni picks panel_cols_vnni (a plain call: it is
// compiled for AVX-VNNI and this function is not).
template <bool kVnni>
void run_t(const uint8_t* panel, int64_t n, const uint8_t* act, size_t a_stride, int64_t n_cols, float* y,
           size_t y_stride) {
  const int64_t nb = n / 32;
  auto cols = [&](auto nc_const, int64_t c) {
    constexpr int NC = decltype(nc_const)::value;
    if constexpr (kVnni)
      panel_cols_vnni<NC>(panel, nb, act + c * a_stride, a_stride, y + c * y_stride, y_stride);
    else
      panel_cols<NC>(panel, nb, act + c * a_stride, a_stride, y + c * y_stride, y_stride);
  };
  int64_t c = 0;
  for (; c + 4 <= n_cols; c += 4) cols(std::integral_constant<int, 4>{}, c);
  switch (n_cols - c) {
    case 3: cols(std::integral_constant<int, 3>{}, c); break;
    case 2: cols(std::integral_constant<int, 2>{}, c); break;
    case 1: cols(std::integral_constant<int, 1>{}, c); break;
    default: break;
  }
}

size_t panel_bytes(int64_t n) { return static_cast<size_t>(n / 32) * kPanelBlockBytes; }

}  // namespace

const GemmKernels* gemm_kernels_avx2(DType t, bool allow_vnni) {
  static constexpr GemmKernels kQ5_0{panel_bytes, run_t<false>};
  static constexpr GemmKernels kQ5_0Vnni{panel_bytes, run_t<true>};
  if (t != DType::Q5_0) return nullptr;
  return allow_vnni && cpu_features().avx_vnni ? &kQ5_0Vnni : &kQ5_0;
}

}  // namespace helix::kernels
