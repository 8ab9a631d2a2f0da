// Tiny models with random weights, written through Helix's own GGUF writer, for testing each
// architecture against independent references (numpy via gguf-py, and llama.cpp). They carry a
// small SentencePiece-style vocabulary (3 specials, 256 byte tokens, a few words) so that other
// programs load them as ordinary models.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace helix::model {

struct TinySpec {
  std::string arch = "llama";  // llama, qwen2, gemma3, ernie4_5
  DType weight_type = DType::F32;  // type of the 2-D weight matrices (norms stay F32)
  uint64_t seed = 1;
  int64_t n_embd = 256, n_ff = 512, n_head = 4, n_head_kv = 2, head_dim = 64;
  int64_t n_layer = 2;  // gemma3 uses 7 so that both sliding and global layers appear
  int64_t n_vocab = 320;
  int64_t n_swa = 8;  // gemma3's sliding window, small enough for tests to cross it
  bool tied_output = false;
  bool rope_freqs = false;  // rope_freqs.weight: frequency factors from 1 (fast pairs) to 8 (slow)
  // Variants for tests: extra metadata "KEY=TYPE:VALUE" (TYPE str, f32 or u32; replaces a key the
  // writer sets), extra 1-D F32 tensors of n_embd values, and tensors left out.
  std::vector<std::string> extra_kv, extra_tensors, drop_tensors;
};

void write_tiny_model(const TinySpec& spec, const std::string& path);

}  // namespace helix::model
