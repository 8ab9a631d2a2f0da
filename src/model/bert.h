// BertEncoder: a BERT-family text encoder that turns texts into sentence embeddings (e.g.
// sentence-transformers/all-MiniLM-L6-v2). Loads either
//   - a Hugging Face / sentence-transformers directory: config.json, model.safetensors,
//     tokenizer.json, and optionally modules.json, 1_Pooling/config.json (pooling mode),
//     sentence_bert_config.json (max_seq_length) and a Normalize module (L2 normalization); or
//   - a GGUF file with general.architecture = bert in llama.cpp's naming (token_embd,
//     position_embd, token_types, token_embd_norm, blk.N.attn_q/k/v/output, attn_output_norm,
//     ffn_up, ffn_down, layer_output_norm; bert.* hyper-parameters; bert.pooling_type).
//
//   auto enc = BertEncoder::load("path/to/all-MiniLM-L6-v2");   // a directory or a .gguf file
//   std::vector<std::vector<float>> e = enc->embed({"hello", "world"});
//
// Texts are tokenized with [CLS] ... [SEP], truncated to the model's maximum length (reported on
// stderr), and packed into batches without padding: projections and the feed-forward run over
// all tokens of a batch at once, attention runs per text. Activations are f32; weights may be
// any type kernels::matmul takes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/gguf.h"
#include "tokenizer/tokenizer.h"

namespace helix::model {

enum class BertPooling { Mean, Cls, Max };
const char* bert_pooling_name(BertPooling p);

struct BertConfig {
  int64_t n_vocab = 0;
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_ff = 0;
  int64_t n_pos = 0;    // max_position_embeddings: rows of the position table
  int64_t n_types = 0;  // token type (segment) vocabulary
  int64_t max_tokens = 0;  // truncation length incl. [CLS]/[SEP] (<= n_pos)
  float norm_eps = 1e-12f;
  bool gelu_tanh = false;  // hidden_act "gelu_new"/"gelu_pytorch_tanh"; BERT's "gelu" is exact erf
  BertPooling pooling = BertPooling::Mean;
  bool normalize = true;  // L2-normalize the pooled vector
};

struct BertLayer {
  Tensor wq, bq, wk, bk, wv, bv, wo, bo, attn_norm_w, attn_norm_b;
  Tensor w_up, b_up, w_down, b_down, out_norm_w, out_norm_b;
};

class BertEncoder {
 public:
  // A directory (Hugging Face layout) or a GGUF file. Throws helix::Error naming what is missing
  // or inconsistent.
  static std::unique_ptr<BertEncoder> load(const std::string& path);
  static std::unique_ptr<BertEncoder> from_hf_dir(const std::string& dir);
  static std::unique_ptr<BertEncoder> from_gguf(const std::string& path);

  // One embedding of dim() floats per text, in order.
  std::vector<std::vector<float>> embed(const std::vector<std::string>& texts);
  // The pooled (and, if configured, normalized) embedding of each token sequence; each sequence
  // must already hold [CLS] ... [SEP] and be at most max_tokens long.
  std::vector<std::vector<float>> embed_tokens(const std::vector<std::vector<int32_t>>& seqs);
  // Token ids of a text as embed() uses them (special tokens added, truncated).
  std::vector<int32_t> tokenize(const std::string& text, bool* truncated = nullptr) const;
  // Cuts token ids to the model's maximum length, keeping a closing [SEP] last.
  void truncate(std::vector<int32_t>& ids) const;

  int dim() const { return static_cast<int>(cfg_.n_embd); }
  const BertConfig& config() const { return cfg_; }
  const tok::Tokenizer& tokenizer() const { return *tok_; }
  const std::string& source() const { return source_; }
  // Tokens per batch: texts are packed into batches of at most this many tokens (default 2048).
  void set_batch_tokens(int64_t n) { batch_tokens_ = n > 0 ? n : 1; }

  // Writes the encoder (weights as loaded, tokenizer, hyper-parameters, pooling) as a GGUF file
  // in llama.cpp's bert layout.
  void write_gguf(const std::string& path) const;

 private:
  BertEncoder() = default;
  void check_shapes() const;
  // Hidden states [n_embd, n_tokens] of the packed sequences, then pooled per sequence.
  void forward(const std::vector<const std::vector<int32_t>*>& seqs, std::vector<std::vector<float>>& out);
  // Self-attention of the tokens [off, off + len) (one sequence) of q, k, v [n_embd, n] into out.
  void attention(const Tensor& q, const Tensor& k, const Tensor& v, Tensor& out, int64_t off, int64_t len) const;

  BertConfig cfg_;
  std::string source_;
  std::unique_ptr<tok::Tokenizer> tok_;
  bool lowercase_ = true;  // the tokenizer's normalizer setting (for write_gguf)
  Tensor tok_embd_, pos_embd_, type_embd_, emb_norm_w_, emb_norm_b_;
  std::vector<BertLayer> layers_;
  int64_t batch_tokens_ = 2048;
};

}  // namespace helix::model
