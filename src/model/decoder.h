// Decoder: what the decoder-only architectures share. It owns the token embedding, the output
// head and the per-layer weights under their GGUF names, and provides the building blocks the
// architecture files compose (norms, projections, attention with RoPE and GQA over the KV cache,
// gated feed-forward). An architecture file loads its tensors and writes layer(); nothing else.
//
// Activations are column-major in ggml order: x.ne = {n_embd, n_tokens}, one column per token.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "core/arena.h"
#include "kernels/lora.h"
#include "kernels/packed.h"
#include "model/model.h"

namespace helix::model {

struct LayerWeights {
  Tensor attn_norm, wq, wk, wv, bq, bk, bv, q_norm, k_norm, wo, bo, post_attn_norm;
  Tensor ffn_norm, w_gate, w_up, w_down, post_ffn_norm;
};

enum class Act { Silu, GeluTanh };

class Decoder : public Model {
 public:
  void forward(const Batch& batch, KVCache& kv, std::vector<float>& logits) override;
  int add_lora_set(const std::vector<LoraUse>& uses) override;  // model/decoder_lora.cpp
  void remove_lora_set(int set) override;  // model/decoder_lora.cpp

 protected:
  Decoder(std::shared_ptr<const gguf::GGUFFile> f, HParams hp);

  // Loading. weight() checks that the tensor exists with shape ne (innermost first) and a type
  // the kernels take; the message names the tensor and the file. optional() may return an
  // undefined Tensor (check .data()).
  Tensor weight(const std::string& name, std::initializer_list<int64_t> ne) const;
  Tensor optional(const std::string& name, std::initializer_list<int64_t> ne) const;
  // Loads token_embd, output_norm, output (tied to token_embd when absent) and, for each layer,
  // the attention and FFN tensors every decoder has; flags add the optional families.
  struct LoadOptions {
    bool qkv_bias = false;      // attn_{q,k,v}.bias (required when true)
    bool maybe_qkv_bias = false;  // present in some files of the architecture
    bool qk_norm = false;       // attn_{q,k}_norm
    bool post_norms = false;    // post_attention_norm, post_ffw_norm
  };
  void load_standard(const LoadOptions& o);
  // Repacks the projection and output weights that have an AVX2 packed form
  // (kernels/packed.h); load_standard calls it last.
  void pack_weights();

  // One transformer layer, updating x in place.
  virtual void layer(int il, Tensor& x, const Batch& batch, KVCache& kv) = 0;
  virtual float embedding_scale() const { return 1.0f; }

  // Building blocks -------------------------------------------------------------------------
  Tensor scratch(int64_t rows, int64_t cols);                 // f32 [rows, cols] from the arena
  void rms_norm(const Tensor& x, const Tensor& w, Tensor& out) const;  // per column; rows of w.ne[0]
  // Where a projection's LoRA factors sit: a layer's group of projections that share their input
  // (q/k/v; the attention output; gate/up; down), or the output head (layer -1).
  enum class LoraSlot : uint8_t { Qkv, AttnOut, GateUp, Down, Head };
  static constexpr int kLayerSlots = 4;  // all but Head
  struct LoraAt {
    int layer;
    LoraSlot slot;
  };
  // y = W x (+ bias), with the LoRA update of the projection at `at`.
  void linear(const Tensor& w, const Tensor& bias, const Tensor& x, Tensor& y, LoraAt at) const;
  // q, k, v = the layer's projections of x (with biases where the layer has them); decoding
  // runs the three in one pass (kernels::matmul_many).
  void qkv(const LayerWeights& L, const Tensor& x, Tensor& q, Tensor& k, Tensor& v) const;
  // q: [n_head*hd, n], k/v: [n_head_kv*hd, n]; ropes q and k at the batch positions, stores k/v
  // in the cache, attends (causal, windowed on sliding layers) and writes [n_head*hd, n] to out.
  void attention(int il, const Batch& batch, Tensor& q, Tensor& k, const Tensor& v, Tensor& out,
                 KVCache& kv, float rope_base, float rope_scale) const;
  void gated_ffn(const LayerWeights& L, const Tensor& x, Tensor& out, Act act);
  static void add_inplace(Tensor& x, const Tensor& y);

  // The standard pre-norm layer (llama, qwen2, ernie4_5): attention and SiLU FFN with residuals.
  void llama_style_layer(int il, Tensor& x, const Batch& batch, KVCache& kv);

  // cos (first n_rot/2) and sin of every RoPE pair for each token of the batch, computed once
  // per forward pass and (base, scale).
  const float* rope_table(const Batch& batch, float base, float scale) const;

  Tensor tok_embd_, output_norm_, output_;
  std::vector<LayerWeights> layers_;

  // LoRA (model/decoder_lora.cpp). project() computes y_i = W_i x for the count (<= 3) projections
  // of one slot, which share x, and adds B·(A·x[:, t]) to column t of each y_i when the column's
  // adapter set (col_set[t]: model/model.h lora_set_for, 0 for none) adapts them. Decoding (up to
  // kernels::kMaxCols columns) folds the slot's A·x into one product over its stacked A factors and
  // adds B's part to the output rows each thread computed, inside the base matmul's parallel region
  // (kernels::matmul_many's RowsDone); longer batches add the updates after the base, column by
  // column in parallel. lora_embed adds the embedding adapters to rows of x.
  void project(LoraAt at, const Tensor* const* ws, Tensor* const* ys, int count, const Tensor& x,
               const int* col_set) const;
  void lora_embed(const Batch& batch, Tensor& x) const;

 private:
  Arena arena_{1};
  struct RopeCache {
    int64_t forward_id = -1;
    float base = 0, scale = 0;
    std::vector<float> cs;
  };
  mutable std::vector<RopeCache> rope_cache_;
  mutable std::vector<std::string> loaded_;  // names optional() found, for check_no_unused_tensors
  std::vector<std::shared_ptr<const kernels::PackedWeight>> packed_;
  // One adapter set's factors for one slot of one layer, all of the set's adapters concatenated
  // along the rank (scales folded into B): the A factors of the slot's projections stacked into one
  // (down.rank = the sum of their ranks; down.type F16 or F32), and each projection's transposed B
  // (up[i]; rank 0 when the set does not adapt projection i), reading u from u_off[i].
  struct LoraGroup {
    kernels::LoraFactors down;
    std::array<kernels::LoraFactors, 3> up{};
    std::array<int64_t, 3> u_off{};
    std::vector<Tensor> storage;  // the factors' memory
  };
  struct LoraSet {
    std::vector<std::array<LoraGroup, kLayerSlots>> layers;  // [layer][slot]
    LoraGroup head;
    std::vector<float> embd_a;  // token_embd: n_vocab rows of rank (empty: not adapted)
    Tensor embd_b;              // F32 {rank, n_embd}, scaled
  };
  std::vector<LoraSet> lora_sets_;  // set id - 1
  // The slot's factors for a column's set, or null when the set does not adapt the slot.
  const LoraGroup* lora_group(LoraAt at, int set) const;
  // The LoRA updates of a longer batch, after the base products (see project()).
  void lora_columns(LoraAt at, const Tensor& x, Tensor* const* ys, int count, const int* col_set) const;
  std::vector<int> batch_sets_;  // the running batch's adapter set of each token
  mutable std::vector<float> lora_u_;
  int64_t forward_id_ = 0;
  void ensure_arena(int64_t n_tokens, int64_t n_logits);
};

}  // namespace helix::model
