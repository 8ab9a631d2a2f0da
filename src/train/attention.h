// Causal (and sliding-window, and packed-sample) attention for training, in f32 with the
// log-sum-exp of every query row saved by the forward, so the backward recomputes the
// probabilities instead of storing the n_tok × n_tok matrix (FlashAttention's recipe).
//
// Layout: q/out [n_head * hd, n_tok], k/v [n_head_kv * hd, n_tok] (token columns, heads
// contiguous inside a column); query head h reads key/value head h / (n_head / n_head_kv).
// Token t sees keys lo[t] <= j <= t. lo must be non-decreasing in t with lo[t] <= t: a batch of
// sequences, packed samples and sliding windows all have that form (a sequence or sample starts
// at its first token, a window at t - n_swa + 1).
#pragma once

#include <cstdint>

namespace helix::train {

struct AttnShape {
  int64_t n_tok = 0, n_head = 0, n_head_kv = 0, hd = 0;
  float scale = 0;  // of q·k
};

// out = softmax(scale · q kᵀ) v per head over the visible keys; lse[t * n_head + h] = log Σ exp.
void attention_forward(const AttnShape& s, const float* q, const float* k, const float* v, const int32_t* lo,
                       float* out, float* lse);
// dq, dk, dv (overwritten) from dout, given the forward's inputs, out and lse.
void attention_backward(const AttnShape& s, const float* q, const float* k, const float* v, const int32_t* lo,
                        const float* out, const float* lse, const float* dout, float* dq, float* dk, float* dv);

}  // namespace helix::train
