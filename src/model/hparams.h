// Hyper-parameters of a decoder model, read from GGUF metadata ("<arch>.embedding_length" ...).
// Missing or inconsistent values are reported by key name, so a broken file says what it lacks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/gguf.h"

namespace helix::model {

enum class RopeStyle { Norm, Neox };  // adjacent pairs (llama) or halves (neox, qwen2, gemma)

// RoPE context extension, from "<arch>.rope.scaling.*" (the semantics llama.cpp gives the keys).
// Pair i of a token at position p turns by theta = p * base^(-2i/n_rot) / freq_factors[i]; then
//   linear: theta *= scale (scale = 1 / factor);
//   yarn:   theta = mix * theta + (1 - mix) * scale * theta, where mix ramps from 1 (fast-turning
//           pairs, kept) to 0 (slow pairs, interpolated) between the correction dims that
//           beta_fast and beta_slow give for orig_ctx; cos and sin are multiplied by mscale.
struct RopeScaling {
  enum class Type { None, Linear, Yarn } type = Type::Linear;
  int64_t orig_ctx = 0;       // rope.scaling.original_context_length (default: context_length)
  float ext_factor = 0;       // yarn_ext_factor: weight of the ramp (1 for yarn unless given)
  float attn_factor = 1;      // magnitude multiplier of cos/sin before the yarn correction
  float beta_fast = 32, beta_slow = 1;
  // The YaRN magnitude for a layer whose position scale is `scale`: 1 + 0.1 ln(1/scale) when
  // the ramp is on, times attn_factor.
  float mscale(float scale) const;
  // Correction dims [lo, hi] of the ramp for a rope base.
  void corr_dims(int64_t n_rot, float base, float dims[2]) const;
};

struct HParams {
  std::string arch;
  int64_t n_vocab = 0;
  int64_t n_ctx_train = 0;
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_ff = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim = 0;  // key and value head size (they must agree)
  int64_t n_rot = 0;     // rotated dimensions per head
  float norm_eps = 1e-6f;
  float rope_base = 10000.0f;
  float rope_scale = 1.0f;  // position multiplier (1 / linear scaling factor)
  RopeStyle rope_style = RopeStyle::Norm;
  RopeScaling rope_scaling;
  // rope_freqs.weight (Llama 3.1+): per-pair divisors of the RoPE frequency; empty: none.
  std::vector<float> rope_freq_factors;
  float attn_scale = 0;  // multiplier of q.k; 0 means 1/sqrt(head_dim)
  // Sliding-window attention: layer il uses a window when swa_layers[il]; those layers use
  // rope_base_swa. n_swa == 0 means no sliding window.
  int64_t n_swa = 0;
  float rope_base_swa = 10000.0f;
  std::vector<bool> swa_layers;
  float final_logit_softcap = 0;  // 0: none

  int64_t n_embd_q() const { return n_head * head_dim; }
  int64_t n_embd_kv() const { return n_head_kv * head_dim; }
  bool is_swa(int64_t il) const { return n_swa > 0 && swa_layers[static_cast<size_t>(il)]; }
};

// Reads the keys every decoder shares (and rope_freqs.weight).
HParams read_decoder_hparams(const gguf::GGUFFile& f);
// read_decoder_hparams plus the rules of each architecture (RoPE style; Gemma 3's sliding-window
// layer pattern, their RoPE base and its attention scale): the one place the serving models
// (model/<arch>.cpp) and training (train::training_hparams) take them from.
HParams decoder_hparams(const gguf::GGUFFile& f);

// Refuses a file with a tensor the architecture does not use (a variant Helix does not run, whose
// output would silently be wrong): `used` holds the names the loader took.
void check_no_unused_tensors(const gguf::GGUFFile& f, const std::vector<std::string>& used);

}  // namespace helix::model
