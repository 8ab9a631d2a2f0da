// LoRA's low-rank product y += B·(A·x), in one place below training (train/linear.cpp, f32
// factors, many tokens, u = A·x kept for the backward) and serving (model/decoder_lora.cpp, f16
// or f32 factors, a few tokens per decode step inside the base matmul's parallel region, adapters
// mixed per token). The two halves are separate calls so that callers can
//   - fold the A·x of projections that share their input (q/k/v, gate/up) into one lora_down over
//     their A factors stacked along the rank, and
//   - run lora_up on the output rows a thread has just computed (kernels::matmul_many's RowsDone).
// Both run on the calling thread (callers split columns or rows over the pool), except lora_down
// on f32 factors over more than kernels::kMaxCols contiguous columns, which is kernels::matmul
// (register-tiled, multithreaded).
//
// Layouts (the rank is the row count of both factors):
//   a: rank rows of n_in (llama.cpp's lora_a, ggml ne = {n_in, rank});
//   b: B (n_out rows of rank, every scale folded in) in blocks of kLoraRows outputs: for block g,
//      rank index j and lane l, b[(g * rank + j) * kLoraRows + l] = B[g * kLoraRows + l, j] (zero
//      past n_out); lora_pack_b writes it. The update of a range of output rows then reads one
//      contiguous stretch (decode is bound by memory: rows scattered over the rank would each miss
//      the cache), and runs eight outputs per instruction without horizontal adds.
// Factors are F32 or F16 (both the same type). Each kernel has a scalar reference (lora.cpp) and an
// AVX2+FMA+F16C version (lora_avx2.cpp) chosen at run time.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "kernels/isa.h"

namespace helix::kernels {

struct LoraFactors {
  DType type = DType::F32;   // of a and b: F32 or F16
  const void* a = nullptr;   // rank rows of n_in (may be null when only lora_up is called)
  const void* b = nullptr;   // B in blocks (lora_pack_b; may be null when only lora_down is called)
  int64_t rank = 0, n_in = 0, n_out = 0;
};

// u[c * u_stride + j] = A[j, :] · x[c * x_stride ...] for j < rank and columns c < n.
void lora_down(const LoraFactors& f, const float* x, int64_t x_stride, int64_t n, float* u, int64_t u_stride);
// y[c * y_stride + o] += Σ_j B[o, j] · u[c * u_stride + j] for o in [o0, o1) and columns c < n.
void lora_up(const LoraFactors& f, const float* u, int64_t u_stride, int64_t n, int64_t o0, int64_t o1, float* y,
             int64_t y_stride);

inline constexpr int kLoraRows = 8;
// Elements of a packed B; lora_pack_b writes B (n_out rows of rank, llama.cpp's lora_b layout)
// times scale into out (lora_b_elems of type t: F32 or F16).
inline int64_t lora_b_elems(int64_t rank, int64_t n_out) { return (n_out + kLoraRows - 1) / kLoraRows * kLoraRows * rank; }
void lora_pack_b(const float* b, int64_t rank, int64_t n_out, float scale, DType t, void* out);

// The kernels behind them, per path (tests compare the paths).
inline constexpr int kLoraUpCols = 4;
struct LoraKernels {
  // tmp[j] = a[j, :] · x for j < rank (one column).
  void (*down_f32)(const float* a, int64_t rank, int64_t n_in, const float* x, float* u);
  void (*down_f16)(const uint16_t* a, int64_t rank, int64_t n_in, const float* x, float* u);
  // y[c * y_stride + o] += Σ_j B[o, j] · u[c * u_stride + j] for o in [o0, o1) and columns
  // c < nc <= kLoraUpCols (B packed; each block is read once for all columns).
  void (*up_f32)(const float* b, int64_t rank, int64_t n_out, int64_t o0, int64_t o1, const float* u,
                 int64_t u_stride, int nc, float* y, int64_t y_stride);
  void (*up_f16)(const uint16_t* b, int64_t rank, int64_t n_out, int64_t o0, int64_t o1, const float* u,
                 int64_t u_stride, int nc, float* y, int64_t y_stride);
};
const LoraKernels& lora_kernels(Isa isa);  // throws if the CPU lacks isa
const LoraKernels& lora_kernels();         // the fastest this CPU runs
const LoraKernels& lora_kernels_avx2();    // lora_avx2.cpp; only where isa_available(Isa::Avx2)

}  // namespace helix::kernels
