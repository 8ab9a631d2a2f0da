// Linear: y = W·x (+ b) (+ s·B·(A·x)) over token columns, with its backward. W is a frozen base
// weight of any type the matmul kernels take (quantized blocks, F16/BF16, F32 straight from the
// GGUF mapping) or, in full fine-tuning, a trainable F32 copy. A and B are the f32 LoRA factors in
// llama.cpp's layout (model/lora.h): a[j * n_in + i] (rank rows), b[o * rank + j] (n_out rows).
// The LoRA product itself is kernels/lora.h, the one serving (model/decoder_lora.cpp) runs too.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "kernels/matmul_backward.h"
#include "kernels/packed.h"

namespace helix::train {

// A trainable f32 tensor and its gradient. ne in ggml order (innermost first), as written to GGUF.
struct Param {
  std::string name;
  std::vector<int64_t> ne;
  std::vector<float> value, grad;
  int64_t numel() const { return static_cast<int64_t>(value.size()); }
};

// The release function for pack_weight: drops a file mapping's pages once packed (none for
// weights in ordinary memory).
kernels::ReleaseFn release_mapped(const Tensor& w);

struct Linear {
  std::string name;          // the base weight's GGUF name ("blk.0.attn_q.weight")
  Tensor w;                  // ne = {n_in, n_out}
  Param* w_param = nullptr;  // set in full fine-tuning (w then wraps its value)
  const float* bias = nullptr;
  Param* b_param = nullptr;
  Param* lora_a = nullptr;   // ne = {n_in, rank}
  Param* lora_b = nullptr;   // ne = {rank, n_out}
  int64_t rank = 0;
  float lora_scale = 0;
  // Forward of a quantized base: false = the serving matmul (8-bit activations, fast); true =
  // dequantized rows times f32 activations (matches a float reference to f32 rounding).
  bool exact_base = false;
  // Without exact_base, a frozen quantized base gets a packed copy for the forward (the prefill
  // kernels) and a Q8_0 transpose for Wᵀ·dy (kernels::transpose_q8); prepare() makes them.
  std::shared_ptr<const kernels::PackedWeight> packed;
  std::shared_ptr<const kernels::TransposedWeight> wt;
  void prepare();
  // LoRA dropout: the adapter sees x with each value zeroed with probability `dropout` and the
  // rest scaled by 1/(1-dropout) (PEFT's lora_dropout); the mask is a function of dropout_seed
  // and the value's index, so the backward recomputes it. dropout_seed 0: no dropout (evaluation).
  float dropout = 0;
  uint64_t dropout_seed = 0;

  int64_t n_in() const { return w.ne(0); }
  int64_t n_out() const { return w.ne(1); }

  // y[n_out, n] = W x (+ b) (+ s·B u) with u[rank, n] = A x saved for the backward (u unused
  // without LoRA).
  void forward(const float* x, int64_t n, float* y, float* u) const;
  // dx[n_in, n] = (or += with accumulate) Wᵀ dy + s·Aᵀ Bᵀ dy; trainable parts' grads +=.
  void backward(const float* x, const float* u, const float* dy, int64_t n, float* dx, bool accumulate) const;
};

}  // namespace helix::train
