// Backward of y = W·x for training (kernels/matmul.h is the forward):
//   dx[n_in, n_tok]  (+)= Wᵀ · dy     for a frozen or trainable weight of any type matmul takes;
//   dw[n_out, n_in]   += dy · xᵀ      for f32 weights (full fine-tuning, LoRA factors).
// Shapes in ggml order: w.ne = {n_in, n_out}, dy.ne = {n_out, n_tok}, x/dx.ne = {n_in, n_tok},
// dw.ne = {n_in, n_out}; all activations and gradients are contiguous F32.
//
// Wᵀ·dy dequantizes blocks of 64 weight rows on the fly (quant::dequantize_row; f32 rows are read
// in place) and multiplies them against four tokens at a time with a register tile (rows_t). Many
// tokens: threads take ranges of tokens (each dequantizes the rows once per range). Few tokens
// against many rows (the LM head's chunks): threads take ranges of rows into private dx sums,
// added at the end. The inner kernels have a scalar reference and an AVX2+FMA version
// (matmul_backward_avx2.cpp), chosen at run time.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/tensor.h"
#include "kernels/isa.h"

namespace helix::kernels {

struct BackwardKernels {
  // y[0..n) += a[0]·x[0..n) + a[1]·x[s..s+n) + a[2]·x[2s..) + a[3]·x[3s..), s = x_stride (floats).
  void (*axpy4)(const float* a, const float* x, int64_t x_stride, float* y, int64_t n);
  // y[0..n) += a · x[0..n)
  void (*axpy)(float a, const float* x, float* y, int64_t n);
  // sum x[i]·y[i]
  float (*dot)(const float* x, const float* y, int64_t n);
  // dx[t * dx_stride + i] += Σ_{r < nr} g[t * g_stride + r] · w[r * n + i] for t < nt (<= 4),
  // i < n: a block of nr weight rows against up to four tokens, register-tiled.
  void (*rows_t)(const float* w, int64_t nr, int64_t n, const float* g, int64_t g_stride, int nt, float* dx,
                 int64_t dx_stride);
  // Cross-entropy of one logits row z[0..n) against target y: returns log Σ exp(z) − z[y]; with
  // backward, z becomes (softmax(z) − onehot(y))·grad_scale (without, z is left as scratch).
  double (*softmax_xent)(float* z, int64_t n, int32_t y, float grad_scale, bool backward);
  // Backward of m = act(g)·u (act: SiLU, or GELU's tanh form with gelu): du = dm·act(g),
  // dg = dm·u·act'(g), over n elements.
  void (*gated_act)(bool gelu, const float* g, const float* u, const float* dm, float* dg, float* du, int64_t n);
};

const BackwardKernels& backward_kernels(Isa isa);  // throws if the CPU lacks isa
const BackwardKernels& backward_kernels();         // the fastest this CPU runs
const BackwardKernels& backward_kernels_avx2();    // matmul_backward_avx2.cpp

// dx = Wᵀ·dy, or dx += Wᵀ·dy with accumulate. Throws helix::Error on a shape or type mismatch.
void matmul_backward_x(const Tensor& w, const Tensor& dy, Tensor& dx, bool accumulate, Isa isa = best_isa());
// dw += dy·xᵀ (w's gradient for y = W·x with f32 W).
void matmul_backward_w(const Tensor& dy, const Tensor& x, Tensor& dw, Isa isa = best_isa());

// y = W·x with the weight rows dequantized to f32 and f32 activations (no 8-bit activations as in
// kernels::matmul): the exact product of the dequantized weights, for training forwards that
// must match a float reference closely. Same shapes as kernels::matmul (2-D only).
void matmul_dequant_f32(const Tensor& w, const Tensor& x, Tensor& y, Isa isa = best_isa());

}  // namespace helix::kernels

namespace helix::kernels {

struct PackedWeight;

// Wᵀ of a frozen weight re-quantized to Q8_0 with its blocks along W's output dimension, so that
// dx = Wᵀ·dy is an ordinary forward matmul: dy converted to 8-bit rows, integer block dots, the
// packed row-group kernels of prefill (matmul_backward_q8.cpp). Wᵀ is kept in column blocks of
// at most kTransposeBlock of W's rows (one for a projection, 64 for a 262,144-row output head),
// so that one pass works on a cache-sized slice of dy. 34/32 bytes per weight. The error against
// matmul_backward_x is that of Q8_0 on Wᵀ plus Q8_0 on dy (test_matmul_backward measures it).
inline constexpr int64_t kTransposeBlock = 4096;
struct TransposedWeight {
  int64_t n_in = 0, n_out = 0;   // of W
  std::vector<Tensor> parts;     // part p: ne = {min(kTransposeBlock, n_out - p·block), n_in}, Q8_0
  std::vector<std::shared_ptr<const PackedWeight>> packed;  // their packed copies (AVX2)
  std::shared_ptr<void> owner;   // the Q8_0 bytes
};

// Null when w cannot be transposed this way (its output dimension is not a multiple of 32, or
// its type cannot be dequantized): callers keep matmul_backward_x on w.
std::shared_ptr<const TransposedWeight> transpose_q8(const Tensor& w);

// dx = Wᵀ·dy (or += with accumulate) through wt. Same shapes as matmul_backward_x.
void matmul_backward_x(const TransposedWeight& wt, const Tensor& dy, Tensor& dx, bool accumulate);

}  // namespace helix::kernels
