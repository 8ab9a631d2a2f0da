// The LM head and cross-entropy fused and chunked: only token positions that carry a target go
// through the head, a chunk of them at a time, so the n_vocab-wide logits of a whole batch never
// exist at once (a chunk of 32 positions of a 262,144-token vocabulary is 32 MiB). Per chunk:
// final RMSNorm, logits = W_out·x (the serving matmul), optional softcap c·tanh(z/c), log-sum-exp
// and loss, then straight back: dlogits = (softmax − onehot)·grad_scale, through the softcap, the
// head (Wᵀ·dlogits, plus dW_out in full fine-tuning) and the norm into dx.
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "kernels/matmul_backward.h"

namespace helix::train {

struct HeadParams {
  const Tensor* w_out = nullptr;  // [n_embd, n_vocab], any matmul type
  const kernels::TransposedWeight* w_out_t = nullptr;  // its Q8_0 transpose for Wᵀ·dlogits, or null
  float* w_out_grad = nullptr;    // f32 [n_embd, n_vocab] when the head is trained (else null)
  const float* norm_w = nullptr;  // output_norm
  float* norm_grad = nullptr;     // may be null
  float eps = 1e-6f;
  float softcap = 0;              // 0: none
  int64_t chunk = 32;             // positions per chunk
  bool exact = false;             // quantized W_out: dequantized f32 rows (see Linear::exact_base)
};

struct LossSum {
  double sum = 0;     // Σ −log p(target) over counted positions
  int64_t count = 0;  // positions with a target
};

// x: final hidden states [n_embd, n_tok]; targets[t] = the token position t predicts, or -1 for
// none. With dx non-null, dx (overwritten, [n_embd, n_tok]; zero at positions without a target)
// receives grad_scale · d(Σ loss)/dx and the head's parameter gradients accumulate. With pos_loss
// non-null, pos_loss[t] (n_tok values) receives position t's loss −log p(target), 0 without a target.
LossSum lm_head_loss(const HeadParams& p, const float* x, const int32_t* targets, int64_t n_tok, float grad_scale,
                     float* dx, float* pos_loss = nullptr);

}  // namespace helix::train
