// Row and elementwise ops for the model runtime: rmsnorm, layernorm, softmax, gelu (tanh
// approximation), silu, add, mul and get_rows (embedding lookup that dequantizes rows of any
// weight type). RoPE lives with the decoder's attention (model/decoder_attention.cpp).
//
// Two levels:
//   - RowOps: kernels over one contiguous row of n floats, a scalar reference table and an AVX2
//     table chosen at run time (tests compare them). y may equal x (in place).
//   - Tensor functions: check shapes, then run the row kernel over every row (ne[0] innermost,
//     rows may be strided), on ThreadPool::global() when there is enough work.
// All tensors are F32 on the CPU unless stated otherwise.
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "kernels/isa.h"

namespace helix::kernels {

struct RowOps {
  // y = x / sqrt(mean(x^2) + eps) * w   (w may be null: no weight)
  void (*rmsnorm)(const float* x, const float* w, float* y, int64_t n, float eps);
  // y = (x - mean) / sqrt(var + eps) * w + b   (w, b may be null)
  void (*layernorm)(const float* x, const float* w, const float* b, float* y, int64_t n, float eps);
  // y = softmax(scale * x); -inf entries give 0; a row of only -inf gives zeros.
  void (*softmax)(const float* x, float* y, int64_t n, float scale);
  // y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  void (*gelu)(const float* x, float* y, int64_t n);
  // y = x / (1 + exp(-x))
  void (*silu)(const float* x, float* y, int64_t n);
  void (*add)(const float* a, const float* b, float* y, int64_t n);
  void (*mul)(const float* a, const float* b, float* y, int64_t n);
};

const RowOps& row_ops(Isa isa);  // throws if the CPU lacks isa
const RowOps& row_ops();         // the fastest this CPU runs
const RowOps& row_ops_avx2();    // ops_avx2.cpp; only where isa_available(Isa::Avx2)

// ---- tensor ops ---------------------------------------------------------------------------------
// `w` / `b` arguments: pass Tensor() for none; otherwise F32 with ne[0] == x.ne[0], one row.

void rmsnorm(const Tensor& x, const Tensor& w, Tensor& y, float eps);
void layernorm(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y, float eps);
void softmax(const Tensor& x, Tensor& y, float scale = 1.0f);  // along ne[0]
void gelu(const Tensor& x, Tensor& y);
void silu(const Tensor& x, Tensor& y);
// y = a + b and y = a * b; b has a's shape or a single row broadcast over a's rows.
void add(const Tensor& a, const Tensor& b, Tensor& y);
void mul(const Tensor& a, const Tensor& b, Tensor& y);

// out[:, i] = dequantized row ids[i] of table ([n_embd, n_rows], any type quant::dequantize_row
// takes); ids is I32 [n]; out is F32 [n_embd, n]. Throws on an id out of range.
void get_rows(const Tensor& table, const Tensor& ids, Tensor& out);

}  // namespace helix::kernels
