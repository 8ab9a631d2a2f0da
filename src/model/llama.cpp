// Llama (Llama 2/3, TinyLlama, SmolLM, Mistral): pre-norm layers, RoPE on adjacent pairs, GQA,
// SiLU gated FFN; output head tied to the embeddings when the file has no output.weight.
#include "model/decoder.h"

namespace helix::model {
namespace {

class Llama final : public Decoder {
 public:
  explicit Llama(std::shared_ptr<const gguf::GGUFFile> f) : Decoder(f, decoder_hparams(*f)) {
    load_standard({.maybe_qkv_bias = true});
  }

 private:
  void layer(int il, Tensor& x, const Batch& batch, KVCache& kv) override { llama_style_layer(il, x, batch, kv); }
};

}  // namespace

std::unique_ptr<Model> make_llama(std::shared_ptr<const gguf::GGUFFile> f) { return std::make_unique<Llama>(f); }

}  // namespace helix::model
