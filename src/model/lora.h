// LoRA adapters: low-rank updates W' = W + scale * B·A over frozen base weights, in llama.cpp's
// GGUF adapter layout (general.type = "adapter", adapter.type = "lora", adapter.lora.alpha,
// tensors "<base name>.lora_a" with ne = {n_in, rank} and "<base name>.lora_b" with
// ne = {rank, n_out}), so that llama.cpp loads Helix's adapters and Helix loads llama.cpp's.
// Training (src/train) produces them; the decoder applies them at inference.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace helix::model {

// One adapted weight (f32, row-major in ggml order).
struct LoraPair {
  int64_t n_in = 0, n_out = 0, rank = 0;
  std::vector<float> a;  // rank rows of n_in:  a[j * n_in + i]
  std::vector<float> b;  // n_out rows of rank: b[o * rank + j]
};

struct LoraAdapter {
  std::string name;   // general.name, or the file name without .gguf
  std::string arch;   // general.architecture of the base it was trained on
  float alpha = 0;    // adapter.lora.alpha; 0 means "scale 1"
  // Keyed by the base tensor's GGUF name, e.g. "blk.0.attn_q.weight".
  std::map<std::string, LoraPair> weights;

  // The factor applied to B·A for one pair (before any user scale), as llama.cpp computes it.
  float scale(const LoraPair& p) const { return alpha > 0 && p.rank > 0 ? alpha / static_cast<float>(p.rank) : 1.0f; }
};

// Reads an adapter GGUF; throws helix::Error naming the file and what is wrong (not an adapter,
// a tensor without its partner, shapes that disagree).
LoraAdapter load_lora(const std::string& path);
// Writes an adapter GGUF atomically (temporary file, then rename).
void save_lora(const LoraAdapter& adapter, const std::string& path);

}  // namespace helix::model
