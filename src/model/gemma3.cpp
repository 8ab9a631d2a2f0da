// Gemma 3 (the default model): embeddings scaled by sqrt(n_embd); per-head RMS norms on q and k;
// RMS norms after attention and after the FFN as well as before; GELU(tanh) gated FFN; five
// sliding-window layers (RoPE base 10000) for every global layer; NEOX-style RoPE; tied output.
#include <cmath>

#include "model/decoder.h"

namespace helix::model {
namespace {

class Gemma3 final : public Decoder {
 public:
  explicit Gemma3(std::shared_ptr<const gguf::GGUFFile> f) : Decoder(f, decoder_hparams(*f)) {
    load_standard({.qk_norm = true, .post_norms = true});
  }

 private:
  float embedding_scale() const override { return std::sqrt(static_cast<float>(hp_.n_embd)); }

  void layer(int il, Tensor& x, const Batch& batch, KVCache& kv) override {
    const LayerWeights& L = layers_[static_cast<size_t>(il)];
    const int64_t n = batch.size();
    Tensor h = scratch(hp_.n_embd, n);
    rms_norm(x, L.attn_norm, h);
    Tensor q = scratch(hp_.n_embd_q(), n), k = scratch(hp_.n_embd_kv(), n), v = scratch(hp_.n_embd_kv(), n);
    qkv(L, h, q, k, v);
    rms_norm(q, L.q_norm, q);  // per head: rows of head_dim
    rms_norm(k, L.k_norm, k);
    const bool swa = hp_.is_swa(il);
    Tensor a = scratch(hp_.n_embd_q(), n);
    attention(il, batch, q, k, v, a, kv, swa ? hp_.rope_base_swa : hp_.rope_base, swa ? 1.0f : hp_.rope_scale);
    linear(L.wo, L.bo, a, h, {il, LoraSlot::AttnOut});
    rms_norm(h, L.post_attn_norm, h);
    add_inplace(x, h);
    rms_norm(x, L.ffn_norm, h);
    Tensor f = scratch(hp_.n_embd, n);
    gated_ffn(L, h, f, Act::GeluTanh);
    rms_norm(f, L.post_ffn_norm, f);
    add_inplace(x, f);
  }
};

}  // namespace

std::unique_ptr<Model> make_gemma3(std::shared_ptr<const gguf::GGUFFile> f) { return std::make_unique<Gemma3>(f); }

}  // namespace helix::model
