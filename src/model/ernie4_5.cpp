// ERNIE 4.5 dense models (e.g. 0.3B): the llama layer (RoPE on adjacent pairs, SiLU gated FFN,
// optional q/k/v biases) with tied embeddings in the small models.
#include "model/decoder.h"

namespace helix::model {
namespace {

class Ernie4_5 final : public Decoder {
 public:
  explicit Ernie4_5(std::shared_ptr<const gguf::GGUFFile> f) : Decoder(f, decoder_hparams(*f)) {
    load_standard({.maybe_qkv_bias = true});
  }

 private:
  void layer(int il, Tensor& x, const Batch& batch, KVCache& kv) override { llama_style_layer(il, x, batch, kv); }
};

}  // namespace

std::unique_ptr<Model> make_ernie4_5(std::shared_ptr<const gguf::GGUFFile> f) { return std::make_unique<Ernie4_5>(f); }

}  // namespace helix::model
