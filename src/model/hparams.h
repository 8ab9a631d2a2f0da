// Hyper-parameters of a decoder model, read from GGUF metadata ("<arch>.embedding_length" ...).
// Missing or inconsistent values are reported by key name, so a broken file says what it lacks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/gguf.h"

namespace helix::model {

enum class RopeStyle { Norm, Neox };  // adjacent pairs (llama) or halves (neox, qwen2, gemma)

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

// Reads the keys every decoder shares; architecture files adjust what is specific to them.
HParams read_decoder_hparams(const gguf::GGUFFile& f);

}  // namespace helix::model
