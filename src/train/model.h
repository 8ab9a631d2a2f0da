// TrainModel: a decoder-only model (llama, qwen2, gemma3, ernie4_5) set up for training: one
// configurable block covers the four architectures through flags (q/k/v biases, q/k norms,
// post-norms, GELU-tanh or SiLU gate, RoPE style, embedding scale, sliding-window layers, logit
// softcap); the hyper-parameters come from the serving model's loader, so both read a file alike.
//
// The training forward writes what the backward needs into one arena of named per-layer buffers
// (LayerActs, sized by a planning pass over the same code that carves it); the backward walks the
// layers in reverse, recomputing the cheap norms and the gate product instead of storing them.
// Trainable parameters are LoRA factors on chosen projections (over a frozen base of any type) or,
// for float models, every weight (full fine-tuning).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "model/hparams.h"
#include "model/lora.h"
#include "train/data.h"
#include "train/linear.h"
#include "train/loss.h"
#include "train/ops.h"

namespace helix::train {

enum class TrainMode { Lora, Full };

struct TrainOptions {
  TrainMode mode = TrainMode::Lora;
  int64_t lora_rank = 16;
  float lora_alpha = 32;
  float lora_dropout = 0;  // probability, on each adapter's input, in forward_backward only
  // Projections that get adapters, by their GGUF short names.
  std::vector<std::string> lora_targets = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
  uint64_t seed = 42;
  // A ~ U(-1/sqrt(n_in), 1/sqrt(n_in)) as PEFT does; B starts at zero unless this is > 0 (tests
  // start both factors random so that both gradients are non-zero).
  float lora_b_init_std = 0;
  int64_t head_chunk = 64;  // positions per LM-head chunk (64 x 262,144 logits = 64 MiB)
  // Quantized bases: forward with dequantized f32 rows instead of the serving matmul's 8-bit
  // activations (slower; gradients match a float reference to f32 rounding). See Linear.
  bool exact_base = false;
  // Activation checkpointing: the training forward keeps only each block's input; the backward
  // recomputes a block's activations from it just before that block's backward. Saves the
  // per-layer arena (about 40 KiB per token per layer on Gemma 3 270M) for one more forward of
  // the blocks; gradients are the same, bit for bit.
  bool checkpoint_activations = false;
};

// The hyper-parameters a training run uses: model::decoder_hparams (the serving models' rules);
// throws for an architecture training does not support.
model::HParams training_hparams(const gguf::GGUFFile& f);

class TrainModel {
 public:
  TrainModel(const std::string& path, const TrainOptions& opt);
  TrainModel(std::shared_ptr<const gguf::GGUFFile> file, const TrainOptions& opt);
  ~TrainModel();

  const model::HParams& hparams() const { return hp_; }
  const TrainOptions& options() const { return opt_; }

  // Forward and backward of one batch: parameter gradients accumulate (+=) grad_scale · dΣloss/dθ.
  LossSum forward_backward(const TrainBatch& b, float grad_scale);
  // Forward only (evaluation; no dropout).
  LossSum evaluate(const TrainBatch& b);
  // Losses that are not a plain sum over tokens (DPO and other sequence-level objectives, prefs.h):
  // weights(loss, w) sees each position's loss −log p(target) (0 without a target) and sets w[t],
  // the gradient weight of position t; parameter gradients accumulate Σ_t w[t]·d(loss_t)/dθ. One
  // forward and one backward, as forward_backward: the LM head and final norm are frozen in LoRA
  // training, so the head's backward is run once at weight 1 and rescaled per position (LoRA only).
  using PositionWeights = std::function<void(const std::vector<float>& loss, std::vector<float>& w)>;
  LossSum forward_backward_weighted(const TrainBatch& b, const PositionWeights& weights);
  // Forward only, no dropout: loss[t] = −log p(target t) per position (0 without a target).
  LossSum evaluate_positions(const TrainBatch& b, std::vector<float>& loss);
  // Another objective on the final hidden states (reward heads, src/train/reward.h): the forward
  // of b, then head(x, dx) with x = the final hidden states before the final norm [n_embd, n_tok];
  // with backward, head writes d(loss)/dx into dx (all of it: [n_embd, n_tok], zeros where no
  // loss), which the backward carries into every trainable parameter (+=); without, dx is null.
  using HiddenHead = std::function<void(const float* x, float* dx)>;
  void forward_hidden(const TrainBatch& b, const HiddenHead& head, bool backward);
  const Param& output_norm() const { return *output_norm_; }  // the final norm's weight
  bool head_prepared() const { return head_prepared_; }  // the LM head's copies exist (first LM loss)
  // LoRA dropout masks: those of forward_backward calls after this are a function of (seed,
  // step, the call's index since this call), so a resumed run draws the same masks.
  void set_dropout_step(uint64_t step);

  std::vector<Param*> trainable();  // in a fixed order
  void zero_grad();
  // The LoRA factors as an adapter (model/lora.h), named by the base tensors.
  model::LoraAdapter export_lora(const std::string& name) const;
  // Loads factors from an adapter with the same targets and rank (resuming, stage N from N-1).
  void import_lora(const model::LoraAdapter& a);

  struct Block;
  struct Acts;

 private:
  void load(const TrainOptions& opt);
  void arm_dropout(bool training);
  void prepare_head();  // sets each adapted Linear's dropout_seed (0 when not training)
  Param* add_param(const std::string& name, std::vector<int64_t> ne, bool trainable);
  Param* vector_param(const std::string& name, int64_t n, bool required, bool trainable);
  Linear make_linear(const std::string& name, int64_t n_in, int64_t n_out, const std::string& short_name);
  void plan(int64_t n_tok);
  LossSum run(const TrainBatch& b, float grad_scale, bool backward, std::vector<float>* pos_loss = nullptr,
              const PositionWeights* weights = nullptr);
  void pass(const TrainBatch& b, bool backward, const HiddenHead& head);  // forward, head, backward
  void block_forward(int il, const TrainBatch& b, Acts& a);
  void block_backward(int il, const TrainBatch& b, Acts& a);

  std::shared_ptr<const gguf::GGUFFile> file_;
  model::HParams hp_;
  TrainOptions opt_;
  Act act_ = Act::Silu;
  float emb_scale_ = 1.0f;
  bool qk_norm_ = false, post_norms_ = false;
  std::deque<Param> params_;
  Tensor tok_embd_, output_;
  Param *tok_embd_p_ = nullptr, *output_p_ = nullptr, *output_norm_ = nullptr;
  Linear head_;  // output_ as a Linear: its packed copy and Q8_0 transpose (Linear::prepare)
  std::vector<Block> blocks_;
  std::unique_ptr<Acts> acts_;
  uint64_t dropout_step_ = 0, dropout_call_ = 0;
  bool head_prepared_ = false;
};

}  // namespace helix::train
