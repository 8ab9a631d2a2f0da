// The insides of TrainModel shared by its two source files: model.cpp (loading, parameters,
// adapters) and model_step.cpp (the training forward and backward).
#pragma once

#include <array>
#include <vector>

#include "train/model.h"

namespace helix::train {

struct TrainModel::Block {
  Param *attn_norm = nullptr, *q_norm = nullptr, *k_norm = nullptr, *post_attn_norm = nullptr;
  Param *ffn_norm = nullptr, *post_ffn_norm = nullptr;
  Linear q, k, v, o, gate, up, down;
  std::array<Linear*, 7> linears() { return {&q, &k, &v, &o, &gate, &up, &down}; }
  std::array<const Linear*, 7> linears() const { return {&q, &k, &v, &o, &gate, &up, &down}; }
};

// The activation arena: per layer what the backward reads, then scratch shared by all layers.
// plan() runs carve() twice: once to count, once to hand out pointers into one buffer.
struct TrainModel::Acts {
  struct Layer {
    float* x_in;          // (E, T) residual stream entering the layer (= previous layer's output)
    float *q_pre, *k_pre;  // (Q|KV, T) projections before the q/k norms (qk_norm only)
    float *q, *k, *v;     // (Q|KV, T) attention inputs (q, k after norm and RoPE)
    float* att;           // (Q, T) attention output
    float* lse;           // (n_head, T) its log-sum-exp per query row
    float* o;             // (E, T) output projection before the post-norm (post_norms only)
    float* x_mid;         // (E, T) residual after attention
    float *g, *u;         // (F, T) gate and up projections
    float* f;             // (E, T) down projection before the post-norm (post_norms only)
    float* lora_u[7];     // (rank, T) A·x of each adapted projection
  };
  int64_t n_tok = -1;
  std::vector<float> mem;
  std::vector<Layer> layers;
  float* x_out;                              // (E, T) final hidden states
  float *h, *tmp, *dres, *dtmp, *dh;         // (E, T)
  float *dq, *dq2, *datt;                    // (Q, T)
  float *dk, *dk2, *dv;                      // (KV, T)
  float *m, *dm, *dg, *du;                   // (F, T)
  std::vector<int32_t> lo, lo_swa;
  std::vector<float> rope, rope_swa;
};

}  // namespace helix::train
