// LoRA adapters: low-rank updates W' = W + scale * B·A over frozen base weights, in llama.cpp's
// GGUF adapter layout (general.type = "adapter", adapter.type = "lora", adapter.lora.alpha,
// tensors "<base name>.lora_a" with ne = {n_in, rank} and "<base name>.lora_b" with
// ne = {rank, n_out}), so that llama.cpp loads Helix's adapters and Helix loads llama.cpp's.
// Training (src/train) produces them; the decoder applies them at inference.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/gguf.h"

namespace helix::model {

// One adapted weight (f32, row-major in ggml order): delta W = B·A maps n_in values to n_out.
// For "token_embd.weight" n_in is the vocabulary and n_out n_embd (a token's row gains
// B·A[:, token]); the file keeps that A transposed (ne = {rank, n_vocab}) as llama.cpp does,
// and load_lora / save_lora convert, so `a` has the layout below for every weight.
struct LoraPair {
  int64_t n_in = 0, n_out = 0, rank = 0;
  std::vector<float> a;  // rank rows of n_in:  a[j * n_in + i]
  std::vector<float> b;  // n_out rows of rank: b[o * rank + j]
};

struct LoraAdapter {
  std::string name;   // general.name, or the file name without .gguf
  std::string arch;   // general.architecture of the base it was trained on
  float alpha = 0;    // adapter.lora.alpha; 0 means "scale 1"
  // helix.chat_template: the Jinja chat template the adapter was trained with ("" if none); run,
  // chat and serve render with it when no --chat-template is given. llama.cpp ignores the key.
  std::string chat_template;
  // The factors' type in the file: F32, or F16 when every factor is stored in 16 bits or fewer
  // (F16, BF16, Q8_0). save_lora writes this type; the decoder serves F16 adapters with f16
  // factors (half the memory traffic per decoded token) and F32 ones in f32.
  DType factor_type = DType::F32;
  // Keyed by the base tensor's GGUF name, e.g. "blk.0.attn_q.weight".
  std::map<std::string, LoraPair> weights;

  // The factor applied to B·A for one pair (before any user scale), as llama.cpp computes it.
  float scale(const LoraPair& p) const { return alpha > 0 && p.rank > 0 ? alpha / static_cast<float>(p.rank) : 1.0f; }
};

// One adapter applied with a user scale (on top of its alpha / rank).
struct LoraUse {
  std::shared_ptr<const LoraAdapter> adapter;
  float scale = 1.0f;
  std::string path;  // for messages
};

// Reads an adapter GGUF; throws helix::Error naming the file and what is wrong (not an adapter,
// a tensor without its partner, shapes that disagree).
LoraAdapter load_lora(const std::string& path);
// Writes an adapter GGUF atomically (temporary file, then rename).
void save_lora(const LoraAdapter& adapter, const std::string& path);
// Checks an adapter against the base model file it is applied to: same architecture, every
// adapted tensor present in the base with matching shape. Throws helix::Error naming both files.
void check_lora(const LoraAdapter& adapter, const gguf::GGUFFile& base, const std::string& adapter_path = "");
// The base tensor `info` of `base` in f32 (ne[1] rows of ne[0]) with the adapters' updates added:
// W + sum of scale * (alpha / rank) * B·A (for the embedding, row t gains B·A[:, t]). The uses
// must have passed check_lora. For `helix lora merge` and tests.
std::vector<float> merge_lora_weight(const gguf::GGUFFile& base, const gguf::TensorInfo& info,
                                     const std::vector<LoraUse>& uses);
// Whether the base tensor is the token embedding (whose A factor is stored transposed).
bool lora_is_embedding(const std::string& base_name);

}  // namespace helix::model
