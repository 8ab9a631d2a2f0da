// Forward/backward pairs of the element-wise and row ops of a decoder block, llm.c style: each
// x_backward sits next to x_forward with a parallel signature, reads what the forward saved and
// accumulates parameter gradients with +=. Activations are column-major in ggml order: a
// [d, n] buffer holds n token columns of d floats.
//
// The forward ops call the same row kernels as the serving decoder (kernels::row_ops()), so a
// trained model computes what it will serve. Work runs on ThreadPool::global().
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "model/decoder.h"
#include "model/hparams.h"

namespace helix::train {

using model::Act;
using model::RopeStyle;

// y = x / sqrt(mean(x²) + eps) * w over each of `rows` rows of d floats (y may equal x).
void rmsnorm_forward(const float* x, const float* w, float* y, int64_t rows, int64_t d, float eps);
// dx = (or +=, with accumulate) the gradient through the norm; dw += Σ_rows dy·x·r (dw may be null).
// dx must not alias x or dy.
void rmsnorm_backward(const float* x, const float* w, const float* dy, float* dx, float* dw, int64_t rows,
                      int64_t d, float eps, bool accumulate);

// RoPE angles per token: cs[t * n_rot + i] = cos, cs[t * n_rot + n_rot/2 + i] = sin of pair i,
// from model::rope_cos_sin (the serving decoder's one implementation: frequency factors, linear
// and YaRN scaling) for a layer's base and scale.
std::vector<float> rope_table(const model::HParams& hp, const int32_t* pos, int64_t n_tok, float base, float scale);
// Rotates the first n_rot dims of each of the n_heads vectors of hd floats in every token column
// of x in place; inverse rotates by -θ, which is RoPE's backward (the rotation is orthogonal).
void rope_apply(float* x, int64_t n_tok, int64_t n_heads, int64_t hd, int64_t n_rot, RopeStyle style,
                const float* cs, bool inverse);

// m = act(g) · u element-wise over n values; backward writes dg and du (overwriting).
void gated_act_forward(Act act, const float* g, const float* u, float* m, int64_t n);
void gated_act_backward(Act act, const float* g, const float* u, const float* dm, float* dg, float* du, int64_t n);

// x[:, t] = scale · row tokens[t] of the table ([d, n_rows], any type dequantize_row takes).
void embedding_forward(const Tensor& table, const int32_t* tokens, int64_t n_tok, float scale, float* x);
// dtable[tokens[t]] += scale · dx[:, t]  (dtable: f32 [d, n_rows]).
void embedding_backward(const float* dx, const int32_t* tokens, int64_t n_tok, int64_t d, float scale, float* dtable);

// y += x over n values; bias rows: y[:, t] += b for every column; db += Σ_t dy[:, t].
void add_inplace(float* y, const float* x, int64_t n);
void add_bias(float* y, const float* b, int64_t d, int64_t n_tok);
void bias_backward(const float* dy, float* db, int64_t d, int64_t n_tok);

// fn(begin, end) over [0, n) in chunks of at least grain on the global pool (inline when small).
template <typename F>
void parallel_rows(int64_t n, int64_t grain, F&& fn);

}  // namespace helix::train

#include "core/thread_pool.h"

template <typename F>
void helix::train::parallel_rows(int64_t n, int64_t grain, F&& fn) {
  if (n <= grain || ThreadPool::global().size() == 1) {
    if (n > 0) fn(int64_t{0}, n);
    return;
  }
  ThreadPool::global().parallel_for(n, grain, [&](int64_t b, int64_t e) { fn(b, e); });
}
