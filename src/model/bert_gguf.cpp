// BertEncoder::write_gguf: a loaded encoder (from a Hugging Face directory or GGUF) written as a
// GGUF file in llama.cpp's bert layout, so that llama.cpp and `helix embed` both read it.
// Weights keep their loaded type (vectors stored in another type were converted to f32 at load).
// Two Helix keys carry what llama.cpp's layout has no place for: helix.embedding.max_tokens
// (sentence-transformers' max_seq_length) and helix.embedding.normalize.
#include <string>
#include <vector>

#include "core/error.h"
#include "io/gguf.h"
#include "model/bert.h"

namespace helix::model {

void BertEncoder::write_gguf(const std::string& path) const {
  const BertConfig& c = cfg_;
  HELIX_CHECK(c.pooling != BertPooling::Max, "GGUF bert has no max pooling (bert.pooling_type is mean or cls)");
  gguf::GGUFWriter w;
  w.set("general.architecture", gguf::Value::string("bert"));
  w.set("general.name", gguf::Value::string("bert encoder"));
  w.set("bert.context_length", gguf::Value::u32(static_cast<uint32_t>(c.n_pos)));
  w.set("bert.embedding_length", gguf::Value::u32(static_cast<uint32_t>(c.n_embd)));
  w.set("bert.feed_forward_length", gguf::Value::u32(static_cast<uint32_t>(c.n_ff)));
  w.set("bert.block_count", gguf::Value::u32(static_cast<uint32_t>(c.n_layer)));
  w.set("bert.attention.head_count", gguf::Value::u32(static_cast<uint32_t>(c.n_head)));
  w.set("bert.attention.layer_norm_epsilon", gguf::Value::f32(c.norm_eps));
  w.set("bert.attention.causal", gguf::Value::boolean(false));
  w.set("bert.pooling_type", gguf::Value::u32(c.pooling == BertPooling::Cls ? 2u : 1u));
  w.set("helix.embedding.max_tokens", gguf::Value::u32(static_cast<uint32_t>(c.max_tokens)));
  w.set("helix.embedding.normalize", gguf::Value::boolean(c.normalize));
  HELIX_CHECK(!c.gelu_tanh, "GGUF bert uses exact GELU; this model's tanh-approximated GELU cannot be stored");

  // Tokenizer: WordPiece pieces as Helix (and llama.cpp) store them (word starts with U+2581);
  // [CLS] is BOS, and [SEP] closes every text (add_sep_token).
  const tok::Tokenizer& t = *tok_;
  std::vector<std::string> tokens(static_cast<size_t>(t.n_vocab()));
  std::vector<int32_t> types(tokens.size(), 1);
  for (int32_t i = 0; i < t.n_vocab(); ++i) {
    tokens[static_cast<size_t>(i)] = t.token_text(i);
    if (i == t.unk()) types[static_cast<size_t>(i)] = 2;
    else if (t.is_control(i)) types[static_cast<size_t>(i)] = 3;
  }
  w.set("tokenizer.ggml.model", gguf::Value::string("bert"));
  w.set("tokenizer.ggml.tokens", gguf::Value::string_array(std::move(tokens)));
  w.set("tokenizer.ggml.token_type", gguf::Value::i32_array(types));
  w.set("tokenizer.ggml.token_type_count", gguf::Value::u32(static_cast<uint32_t>(c.n_types)));
  auto id = [&](const char* key, int32_t v) {
    if (v >= 0) w.set(key, gguf::Value::u32(static_cast<uint32_t>(v)));
  };
  id("tokenizer.ggml.bos_token_id", t.bos());
  id("tokenizer.ggml.seperator_token_id", t.sep());
  id("tokenizer.ggml.unknown_token_id", t.unk());
  id("tokenizer.ggml.padding_token_id", t.pad());
  id("tokenizer.ggml.mask_token_id", t.find_token("[MASK]"));
  w.set("tokenizer.ggml.add_bos_token", gguf::Value::boolean(true));
  w.set("tokenizer.ggml.add_sep_token", gguf::Value::boolean(t.sep() >= 0));
  w.set("tokenizer.ggml.normalizer.lowercase", gguf::Value::boolean(lowercase_));

  auto add = [&](const std::string& name, const Tensor& x) {
    HELIX_CHECK(x.is_contiguous(), "write_gguf: tensor '", name, "' is not contiguous");
    w.add_tensor(name, x.dtype(), x.shape(), x.ndim(), x.data());
  };
  add("token_embd.weight", tok_embd_);
  add("token_types.weight", type_embd_);
  add("position_embd.weight", pos_embd_);
  add("token_embd_norm.weight", emb_norm_w_);
  add("token_embd_norm.bias", emb_norm_b_);
  for (size_t il = 0; il < layers_.size(); ++il) {
    const BertLayer& L = layers_[il];
    const std::string p = cat("blk.", il, ".");
    add(p + "attn_q.weight", L.wq);
    add(p + "attn_q.bias", L.bq);
    add(p + "attn_k.weight", L.wk);
    add(p + "attn_k.bias", L.bk);
    add(p + "attn_v.weight", L.wv);
    add(p + "attn_v.bias", L.bv);
    add(p + "attn_output.weight", L.wo);
    add(p + "attn_output.bias", L.bo);
    add(p + "attn_output_norm.weight", L.attn_norm_w);
    add(p + "attn_output_norm.bias", L.attn_norm_b);
    add(p + "ffn_up.weight", L.w_up);
    add(p + "ffn_up.bias", L.b_up);
    add(p + "ffn_down.weight", L.w_down);
    add(p + "ffn_down.bias", L.b_down);
    add(p + "layer_output_norm.weight", L.out_norm_w);
    add(p + "layer_output_norm.bias", L.out_norm_b);
  }
  w.write(path);
}

}  // namespace helix::model
