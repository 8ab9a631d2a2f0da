// Qwen2: the llama layer with biases on the q, k and v projections and NEOX-style RoPE.
#include "model/decoder.h"

namespace helix::model {
namespace {

class Qwen2 final : public Decoder {
 public:
  explicit Qwen2(std::shared_ptr<const gguf::GGUFFile> f) : Decoder(f, decoder_hparams(*f)) {
    load_standard({.qkv_bias = true});
  }

 private:
  void layer(int il, Tensor& x, const Batch& batch, KVCache& kv) override { llama_style_layer(il, x, batch, kv); }
};

}  // namespace

std::unique_ptr<Model> make_qwen2(std::shared_ptr<const gguf::GGUFFile> f) { return std::make_unique<Qwen2>(f); }

}  // namespace helix::model
