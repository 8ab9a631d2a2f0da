// BertEncoder: loading from a Hugging Face / sentence-transformers directory or a GGUF file, and
// the encoder forward pass (post-norm BERT: embeddings + LayerNorm, then per layer
// LN(x + Attn(x)) and LN(x + FFN(x)) with exact-erf GELU), pooling and normalization.
// Writing GGUF is in bert_gguf.cpp.
#include "model/bert.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/files.h"
#include "core/thread_pool.h"
#include "io/safetensors.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "quant/quant.h"

namespace helix::model {
namespace fs = std::filesystem;
using json = nlohmann::json;

const char* bert_pooling_name(BertPooling p) {
  switch (p) {
    case BertPooling::Mean: return "mean";
    case BertPooling::Cls: return "cls";
    case BertPooling::Max: return "max";
  }
  return "?";
}

namespace {

json read_json(const fs::path& p) {
  const std::string text = read_file(p.string(), "JSON file");
  try {
    return json::parse(text);
  } catch (const std::exception& e) {
    throw Error(cat("'", p.string(), "' is not valid JSON: ", e.what()));
  }
}

// Where the weights come from: looks a tensor up by name (undefined Tensor when absent) and names
// the source in messages.
struct TensorSource {
  std::string where;
  std::function<Tensor(const std::string&)> find;
};

// The tensor `name` with shape `ne` (innermost first); `kind` says how it is used and so which
// types are acceptable: 'm' matmul weight, 'e' embedding table (rows dequantized), 'v' vector
// (converted to f32 when stored in another type).
Tensor need(const TensorSource& src, const std::string& name, std::initializer_list<int64_t> ne, char kind) {
  Tensor t = src.find(name);
  HELIX_CHECK(t.data(), src.where, " lacks the tensor '", name, "' that a BERT encoder needs");
  int i = 0;
  for (const int64_t want : ne) {
    HELIX_CHECK(t.ne(i) == want, "tensor '", name, "' in ", src.where, " has shape ", t.shape_str(),
                ", but the config says dimension ", i, " (innermost first) is ", want);
    ++i;
  }
  for (; i < kMaxDims; ++i)
    HELIX_CHECK(t.ne(i) == 1, "tensor '", name, "' in ", src.where, " has shape ", t.shape_str(), ", expected ",
                ne.size(), " dimensions");
  if (kind == 'm') {
    HELIX_CHECK(kernels::matmul_supports(t.dtype()), "tensor '", name, "' in ", src.where, " has type ",
                dtype_name(t.dtype()), ", which Helix cannot multiply with");
  } else {
    HELIX_CHECK(quant::can_dequantize(t.dtype()), "tensor '", name, "' in ", src.where, " has type ",
                dtype_name(t.dtype()), ", which Helix cannot read");
  }
  if (kind == 'v' && t.dtype() != DType::F32) {
    Tensor f = Tensor::empty(DType::F32, {t.ne(0)});
    quant::dequantize_row(t.dtype(), t.data(), f.data_as<float>(), t.ne(0));
    return f;
  }
  return t;
}

// y = gelu(y) elementwise: the exact form 0.5 x (1 + erf(x / sqrt 2)) or the tanh approximation.
void gelu_inplace(Tensor& y, bool tanh_approx) {
  float* p = y.data_as<float>();
  const int64_t n = y.numel();
  if (tanh_approx) {
    kernels::gelu(y, y);
    return;
  }
  ThreadPool::global().parallel_for(n, 16384, [&](int64_t b, int64_t e) {
    constexpr float kInvSqrt2 = 0.70710678118654752f;
    for (int64_t i = b; i < e; ++i) p[i] = 0.5f * p[i] * (1.0f + std::erf(p[i] * kInvSqrt2));
  });
}

// y = W x + b
void linear(const Tensor& w, const Tensor& b, const Tensor& x, Tensor& y) {
  kernels::matmul(w, x, y);
  kernels::add(y, b, y);
}

// The sentence-transformers modules of a model directory (modules.json): where the Transformer
// lives (relative to the root; "" for the root itself) and the Pooling/Normalize settings. Without
// modules.json: the root, mean pooling and L2 normalization (what embed() promises).
struct StModules {
  std::string transformer_path;
  fs::path pooling_config;  // empty: none
  bool normalize = true;
};

StModules read_modules(const fs::path& root) {
  StModules st;
  std::error_code ec;
  const fs::path modules = root / "modules.json";
  if (!fs::exists(modules, ec)) return st;
  const json m = read_json(modules);
  HELIX_CHECK(m.is_array(), "'", modules.string(), "' is not a JSON array of modules");
  st.normalize = false;
  bool have_pooling = false;
  for (const json& mod : m) {
    HELIX_CHECK(mod.is_object(), "'", modules.string(), "': a module entry is not an object");
    const std::string type = mod.value("type", "");
    const std::string path = mod.value("path", "");
    const size_t dot = type.rfind('.');
    const std::string kind = dot == std::string::npos ? type : type.substr(dot + 1);
    HELIX_CHECK(path.find("..") == std::string::npos, "'", modules.string(), "': module path '", path,
                "' leaves the directory");
    if (kind == "Transformer") {
      st.transformer_path = path;
    } else if (kind == "Pooling") {
      have_pooling = true;
      st.pooling_config = root / path / "config.json";
      HELIX_CHECK(fs::exists(st.pooling_config, ec), "'", modules.string(), "' names a Pooling module but '",
                  st.pooling_config.string(), "' is missing");
    } else if (kind == "Normalize") {
      st.normalize = true;
    } else {
      throw Error(cat("'", modules.string(), "' has a module of type '", type,
                      "', which Helix does not support (Transformer, Pooling, Normalize)"));
    }
  }
  HELIX_CHECK(have_pooling, "'", modules.string(), "' has no Pooling module");
  return st;
}

// Pooling mode from a sentence-transformers 1_Pooling/config.json.
BertPooling read_pooling(const fs::path& pc, int64_t n_embd) {
  const json p = read_json(pc);
  HELIX_CHECK(p.is_object(), "'", pc.string(), "' is not a JSON object");
  BertPooling mode = BertPooling::Mean;
  int modes = 0;
  auto on = [&](const char* k) { return p.contains(k) && p[k].is_boolean() && p[k].get<bool>(); };
  if (on("pooling_mode_mean_tokens")) mode = BertPooling::Mean, ++modes;
  if (on("pooling_mode_cls_token")) mode = BertPooling::Cls, ++modes;
  if (on("pooling_mode_max_tokens")) mode = BertPooling::Max, ++modes;
  for (const char* k : {"pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens",
                        "pooling_mode_lasttoken"})
    HELIX_CHECK(!on(k), "'", pc.string(), "': ", k, " is not supported (mean, cls or max)");
  HELIX_CHECK(modes == 1, "'", pc.string(), "' must select exactly one pooling mode (mean, cls or max), found ",
              modes);
  if (p.contains("word_embedding_dimension") && p["word_embedding_dimension"].is_number_integer())
    HELIX_CHECK(p["word_embedding_dimension"].get<int64_t>() == n_embd, "'", pc.string(),
                "': word_embedding_dimension ", p["word_embedding_dimension"].get<int64_t>(),
                " differs from the model's hidden_size ", n_embd);
  return mode;
}

}  // namespace

// ---- loading ------------------------------------------------------------------------------------

std::unique_ptr<BertEncoder> BertEncoder::load(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return from_hf_dir(path);
  HELIX_CHECK(fs::exists(path, ec), "embedding model '", path, "' does not exist");
  return from_gguf(path);
}

std::unique_ptr<BertEncoder> BertEncoder::from_hf_dir(const std::string& root_dir) {
  const StModules st = read_modules(root_dir);
  const fs::path root = st.transformer_path.empty() ? fs::path(root_dir) : fs::path(root_dir) / st.transformer_path;
  const std::string dir = root.string();
  const io::HFModelDir d = io::HFModelDir::open(dir);
  std::unique_ptr<BertEncoder> e(new BertEncoder());
  e->source_ = root_dir;
  BertConfig& c = e->cfg_;
  const std::string where = cat("'", (root / "config.json").string(), "'");
  const std::string mt = d.model_type();
  HELIX_CHECK(mt == "bert" || mt.empty(), where, " has model_type '", mt, "'; only BERT encoders are supported");
  auto req = [&](const char* key) {
    HELIX_CHECK(d.has(key), where, " lacks \"", key, "\"");
    const int64_t v = d.get_int(key, 0);
    HELIX_CHECK(v > 0, where, ": \"", key, "\" must be positive, got ", v);
    return v;
  };
  c.n_vocab = req("vocab_size");
  c.n_embd = req("hidden_size");
  c.n_layer = req("num_hidden_layers");
  c.n_head = req("num_attention_heads");
  c.n_ff = req("intermediate_size");
  c.n_pos = req("max_position_embeddings");
  c.n_types = d.get_int("type_vocab_size", 2);
  c.norm_eps = static_cast<float>(d.get_float("layer_norm_eps", 1e-12));
  const std::string act = d.get_string("hidden_act", "gelu");
  HELIX_CHECK(act == "gelu" || act == "gelu_new" || act == "gelu_pytorch_tanh", where, ": hidden_act '", act,
              "' is not supported (gelu, gelu_new, gelu_pytorch_tanh)");
  c.gelu_tanh = act != "gelu";
  const std::string pe = d.get_string("position_embedding_type", "absolute");
  HELIX_CHECK(pe == "absolute", where, ": position_embedding_type '", pe, "' is not supported (absolute)");

  std::error_code ec;
  c.max_tokens = c.n_pos;
  if (fs::exists(root / "sentence_bert_config.json", ec)) {
    const json sb = read_json(root / "sentence_bert_config.json");
    if (sb.contains("max_seq_length") && sb["max_seq_length"].is_number_integer())
      c.max_tokens = std::clamp<int64_t>(sb["max_seq_length"].get<int64_t>(), 2, c.n_pos);
  }
  c.normalize = st.normalize;
  c.pooling = st.pooling_config.empty() ? BertPooling::Mean : read_pooling(st.pooling_config, c.n_embd);

  const fs::path tj = root / "tokenizer.json";
  HELIX_CHECK(fs::exists(tj, ec), "no tokenizer.json in '", dir,
              "'; a BERT model directory needs its Hugging Face tokenizer.json (WordPiece)");
  e->tok_ = tok::Tokenizer::from_hf_json_file(tj.string());
  HELIX_CHECK(e->tok_->type() == tok::VocabType::kWpm, "'", tj.string(), "' is not a WordPiece tokenizer");
  const json tjs = read_json(tj);
  if (tjs.contains("normalizer") && tjs["normalizer"].is_object())
    e->lowercase_ = tjs["normalizer"].value("lowercase", true);

  // Names: BertModel ("embeddings.", "encoder.layer.N.") or with a "bert." prefix (BertFor*).
  std::string pre;
  if (!d.find_tensor("embeddings.word_embeddings.weight").first &&
      d.find_tensor("bert.embeddings.word_embeddings.weight").first)
    pre = "bert.";
  TensorSource src{cat("model directory '", dir, "'"), [&d, pre](const std::string& name) {
                     auto hit = d.find_tensor(pre + name);
                     if (!hit.first && name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0)
                       hit = d.find_tensor(pre + name.substr(0, name.size() - 7) + ".gamma");
                     if (!hit.first && name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0 &&
                         name.find("LayerNorm") != std::string::npos)
                       hit = d.find_tensor(pre + name.substr(0, name.size() - 5) + ".beta");
                     return hit.first ? hit.second->tensor(*hit.first) : Tensor();
                   }};
  const int64_t E = c.n_embd, F = c.n_ff;
  e->tok_embd_ = need(src, "embeddings.word_embeddings.weight", {E, c.n_vocab}, 'e');
  e->pos_embd_ = need(src, "embeddings.position_embeddings.weight", {E, c.n_pos}, 'e');
  e->type_embd_ = need(src, "embeddings.token_type_embeddings.weight", {E, c.n_types}, 'e');
  e->emb_norm_w_ = need(src, "embeddings.LayerNorm.weight", {E}, 'v');
  e->emb_norm_b_ = need(src, "embeddings.LayerNorm.bias", {E}, 'v');
  e->layers_.resize(static_cast<size_t>(c.n_layer));
  for (int64_t il = 0; il < c.n_layer; ++il) {
    BertLayer& L = e->layers_[static_cast<size_t>(il)];
    const std::string p = cat("encoder.layer.", il, ".");
    L.wq = need(src, p + "attention.self.query.weight", {E, E}, 'm');
    L.bq = need(src, p + "attention.self.query.bias", {E}, 'v');
    L.wk = need(src, p + "attention.self.key.weight", {E, E}, 'm');
    L.bk = need(src, p + "attention.self.key.bias", {E}, 'v');
    L.wv = need(src, p + "attention.self.value.weight", {E, E}, 'm');
    L.bv = need(src, p + "attention.self.value.bias", {E}, 'v');
    L.wo = need(src, p + "attention.output.dense.weight", {E, E}, 'm');
    L.bo = need(src, p + "attention.output.dense.bias", {E}, 'v');
    L.attn_norm_w = need(src, p + "attention.output.LayerNorm.weight", {E}, 'v');
    L.attn_norm_b = need(src, p + "attention.output.LayerNorm.bias", {E}, 'v');
    L.w_up = need(src, p + "intermediate.dense.weight", {E, F}, 'm');
    L.b_up = need(src, p + "intermediate.dense.bias", {F}, 'v');
    L.w_down = need(src, p + "output.dense.weight", {F, E}, 'm');
    L.b_down = need(src, p + "output.dense.bias", {E}, 'v');
    L.out_norm_w = need(src, p + "output.LayerNorm.weight", {E}, 'v');
    L.out_norm_b = need(src, p + "output.LayerNorm.bias", {E}, 'v');
  }
  e->check_shapes();
  return e;
}

std::unique_ptr<BertEncoder> BertEncoder::from_gguf(const std::string& path) {
  auto f = std::make_shared<gguf::GGUFFile>(gguf::GGUFFile::open(path));
  const std::string arch = f->architecture();
  HELIX_CHECK(arch == "bert", "'", path, "' has general.architecture '", arch,
              "'; an embedding model must be a BERT encoder (bert)");
  std::unique_ptr<BertEncoder> e(new BertEncoder());
  e->source_ = path;
  BertConfig& c = e->cfg_;
  auto req = [&](const char* key) {
    const gguf::Value* v = f->find(key);
    HELIX_CHECK(v, "'", path, "' lacks the metadata key '", key, "' that a BERT encoder needs");
    const int64_t x = v->as_int();
    HELIX_CHECK(x > 0, "'", path, "': ", key, " must be positive, got ", x);
    return x;
  };
  c.n_embd = req("bert.embedding_length");
  c.n_layer = req("bert.block_count");
  c.n_head = req("bert.attention.head_count");
  c.n_ff = req("bert.feed_forward_length");
  c.n_pos = req("bert.context_length");
  c.max_tokens = static_cast<int64_t>(f->get_uint("helix.embedding.max_tokens", static_cast<uint64_t>(c.n_pos)));
  c.norm_eps = static_cast<float>(f->get_float("bert.attention.layer_norm_epsilon", 1e-12));
  HELIX_CHECK(!f->get_bool("bert.attention.causal", false), "'", path,
              "': bert.attention.causal is true; an embedding encoder attends both ways");
  const uint64_t pt = f->get_uint("bert.pooling_type", 1);
  HELIX_CHECK(pt == 1 || pt == 2, "'", path, "': bert.pooling_type ", pt, " is not supported (1 mean, 2 cls)");
  c.pooling = pt == 2 ? BertPooling::Cls : BertPooling::Mean;
  c.normalize = f->get_bool("helix.embedding.normalize", true);  // llama.cpp normalizes by default
  e->tok_ = tok::Tokenizer::from_gguf(*f);
  // Without a vocabulary (tokenizer.ggml.model = none) the encoder takes token ids only.
  HELIX_CHECK(e->tok_->type() == tok::VocabType::kWpm || e->tok_->type() == tok::VocabType::kNone, "'", path,
              "': the tokenizer is not WordPiece (bert)");
  e->lowercase_ = f->get_bool("tokenizer.ggml.normalizer.lowercase", true);

  TensorSource src{cat("model file '", path, "'"), [f](const std::string& name) {
                     const gguf::TensorInfo* info = f->find_tensor(name);
                     return info ? f->tensor(*info) : Tensor();
                   }};
  const gguf::TensorInfo* emb = f->find_tensor("token_embd.weight");
  HELIX_CHECK(emb, "model file '", path, "' lacks the tensor 'token_embd.weight' that a BERT encoder needs");
  c.n_vocab = emb->ne[1];
  const gguf::TensorInfo* types = f->find_tensor("token_types.weight");
  c.n_types = types ? types->ne[1] : 0;
  HELIX_CHECK(c.n_types > 0, "model file '", path, "' lacks the tensor 'token_types.weight' that a BERT encoder needs");
  const int64_t E = c.n_embd, F = c.n_ff;
  e->tok_embd_ = need(src, "token_embd.weight", {E, c.n_vocab}, 'e');
  e->pos_embd_ = need(src, "position_embd.weight", {E, c.n_pos}, 'e');
  e->type_embd_ = need(src, "token_types.weight", {E, c.n_types}, 'e');
  e->emb_norm_w_ = need(src, "token_embd_norm.weight", {E}, 'v');
  e->emb_norm_b_ = need(src, "token_embd_norm.bias", {E}, 'v');
  e->layers_.resize(static_cast<size_t>(c.n_layer));
  for (int64_t il = 0; il < c.n_layer; ++il) {
    BertLayer& L = e->layers_[static_cast<size_t>(il)];
    const std::string p = cat("blk.", il, ".");
    L.wq = need(src, p + "attn_q.weight", {E, E}, 'm');
    L.bq = need(src, p + "attn_q.bias", {E}, 'v');
    L.wk = need(src, p + "attn_k.weight", {E, E}, 'm');
    L.bk = need(src, p + "attn_k.bias", {E}, 'v');
    L.wv = need(src, p + "attn_v.weight", {E, E}, 'm');
    L.bv = need(src, p + "attn_v.bias", {E}, 'v');
    L.wo = need(src, p + "attn_output.weight", {E, E}, 'm');
    L.bo = need(src, p + "attn_output.bias", {E}, 'v');
    L.attn_norm_w = need(src, p + "attn_output_norm.weight", {E}, 'v');
    L.attn_norm_b = need(src, p + "attn_output_norm.bias", {E}, 'v');
    L.w_up = need(src, p + "ffn_up.weight", {E, F}, 'm');
    L.b_up = need(src, p + "ffn_up.bias", {F}, 'v');
    L.w_down = need(src, p + "ffn_down.weight", {F, E}, 'm');
    L.b_down = need(src, p + "ffn_down.bias", {E}, 'v');
    L.out_norm_w = need(src, p + "layer_output_norm.weight", {E}, 'v');
    L.out_norm_b = need(src, p + "layer_output_norm.bias", {E}, 'v');
  }
  e->check_shapes();
  return e;
}

void BertEncoder::check_shapes() const {
  const BertConfig& c = cfg_;
  HELIX_CHECK(c.n_embd % c.n_head == 0, source_, ": hidden size ", c.n_embd, " is not a multiple of the ",
              c.n_head, " attention heads");
  HELIX_CHECK(tok_->n_vocab() <= c.n_vocab, source_, ": the tokenizer has ", tok_->n_vocab(),
              " tokens but the embedding table only ", c.n_vocab, " rows");
  HELIX_CHECK(tok_->type() == tok::VocabType::kNone || (tok_->bos() >= 0 && tok_->add_bos()), source_,
              ": the tokenizer adds no [CLS] token");
  HELIX_CHECK(c.max_tokens >= 2 && c.max_tokens <= c.n_pos, source_, ": maximum length ", c.max_tokens,
              " is outside [2, ", c.n_pos, "]");
}

// ---- embedding ----------------------------------------------------------------------------------

void BertEncoder::truncate(std::vector<int32_t>& ids) const {
  const auto max = static_cast<size_t>(cfg_.max_tokens);
  if (ids.size() <= max) return;
  const int32_t last = ids.back();
  ids.resize(max);
  // Keep the closing [SEP] (the separator, or EOS in llama.cpp's GGUF), as Hugging Face truncates.
  if (last == tok_->sep() || last == tok_->eos()) ids.back() = last;
}

std::vector<int32_t> BertEncoder::tokenize(const std::string& text, bool* truncated) const {
  std::vector<int32_t> ids = tok_->encode(text, /*add_special=*/true, /*parse_special=*/false);
  if (truncated) *truncated = ids.size() > static_cast<size_t>(cfg_.max_tokens);
  truncate(ids);
  return ids;
}

std::vector<std::vector<float>> BertEncoder::embed(const std::vector<std::string>& texts) {
  std::vector<std::vector<int32_t>> seqs(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    seqs[i] = tok_->encode(texts[i], /*add_special=*/true, /*parse_special=*/false);
    const size_t full = seqs[i].size();
    truncate(seqs[i]);
    if (seqs[i].size() < full)
      std::fprintf(stderr, "helix: text %zu has %zu tokens; truncated to the model's maximum of %lld\n", i + 1,
                   full, static_cast<long long>(cfg_.max_tokens));
  }
  return embed_tokens(seqs);
}

std::vector<std::vector<float>> BertEncoder::embed_tokens(const std::vector<std::vector<int32_t>>& seqs) {
  std::vector<std::vector<float>> out(seqs.size());
  for (size_t i = 0; i < seqs.size(); ++i) {
    const auto& s = seqs[i];
    HELIX_CHECK(!s.empty() && static_cast<int64_t>(s.size()) <= cfg_.max_tokens, "sequence ", i, " has ", s.size(),
                " tokens; expected 1 to ", cfg_.max_tokens);
    for (const int32_t id : s)
      HELIX_CHECK(id >= 0 && id < cfg_.n_vocab, "token id ", id, " is outside the vocabulary (", cfg_.n_vocab, ")");
  }
  // Pack consecutive sequences into batches of at most batch_tokens_ tokens (one long sequence may
  // exceed it on its own).
  size_t i = 0;
  while (i < seqs.size()) {
    std::vector<const std::vector<int32_t>*> batch{&seqs[i]};
    int64_t n = static_cast<int64_t>(seqs[i].size());
    size_t j = i + 1;
    while (j < seqs.size() && n + static_cast<int64_t>(seqs[j].size()) <= batch_tokens_) {
      n += static_cast<int64_t>(seqs[j].size());
      batch.push_back(&seqs[j++]);
    }
    std::vector<std::vector<float>> pooled;
    forward(batch, pooled);
    for (size_t k = 0; k < pooled.size(); ++k) out[i + k] = std::move(pooled[k]);
    i = j;
  }
  return out;
}

void BertEncoder::attention(const Tensor& q, const Tensor& k, const Tensor& v, Tensor& out,
                            int64_t off, int64_t len) const {
  const int64_t E = cfg_.n_embd, nh = cfg_.n_head, hd = E / nh;
  // Per-head views {hd, len, nh} of the [E, n] activations: head h of token t at (t * E + h * hd).
  auto heads = [&](const Tensor& t) { return t.view_rows(off, len).reshape({hd, nh, len}).permute(0, 2, 1, 3); };
  const Tensor qh = heads(q), kh = heads(k);
  Tensor oh = heads(out);
  // scores[j, i, h] = k_j . q_i for head h; then softmax over keys j.
  Tensor scores = Tensor::empty(DType::F32, {len, len, nh});
  kernels::matmul(kh, qh, scores);
  kernels::softmax(scores, scores, 1.0f / std::sqrt(static_cast<float>(hd)));
  // out_i = sum_j p[j, i] v_j: the weight is V transposed per head, vt[j + len * (d + hd * h)].
  Tensor vt = Tensor::empty(DType::F32, {len, hd, nh});
  const float* vp = v.data_as<float>() + off * E;
  float* vtp = vt.data_as<float>();
  for (int64_t j = 0; j < len; ++j)
    for (int64_t c = 0; c < E; ++c) vtp[j + len * c] = vp[j * E + c];
  kernels::matmul(vt, scores, oh);
}

void BertEncoder::forward(const std::vector<const std::vector<int32_t>*>& seqs,
                          std::vector<std::vector<float>>& pooled) {
  const BertConfig& c = cfg_;
  const int64_t E = c.n_embd;
  int64_t n = 0;
  for (const auto* s : seqs) n += static_cast<int64_t>(s->size());

  // Embeddings: word + position + token type 0, then LayerNorm.
  Tensor x = Tensor::empty(DType::F32, {E, n});
  {
    std::vector<float> type0(static_cast<size_t>(E)), row(static_cast<size_t>(E));
    quant::dequantize_row(type_embd_.dtype(), type_embd_.row(0), type0.data(), E);
    int64_t t = 0;
    for (const auto* s : seqs) {
      for (size_t p = 0; p < s->size(); ++p, ++t) {
        float* xt = x.data_as<float>() + t * E;
        quant::dequantize_row(tok_embd_.dtype(), tok_embd_.row((*s)[p]), xt, E);
        quant::dequantize_row(pos_embd_.dtype(), pos_embd_.row(static_cast<int64_t>(p)), row.data(), E);
        for (int64_t i = 0; i < E; ++i) xt[i] += row[static_cast<size_t>(i)] + type0[static_cast<size_t>(i)];
      }
    }
  }
  kernels::layernorm(x, emb_norm_w_, emb_norm_b_, x, c.norm_eps);

  Tensor q = Tensor::empty(DType::F32, {E, n}), k = Tensor::empty(DType::F32, {E, n});
  Tensor v = Tensor::empty(DType::F32, {E, n}), a = Tensor::empty(DType::F32, {E, n});
  Tensor h = Tensor::empty(DType::F32, {E, n}), f = Tensor::empty(DType::F32, {c.n_ff, n});
  for (const BertLayer& L : layers_) {
    linear(L.wq, L.bq, x, q);
    linear(L.wk, L.bk, x, k);
    linear(L.wv, L.bv, x, v);
    int64_t off = 0;
    for (const auto* s : seqs) {
      const auto len = static_cast<int64_t>(s->size());
      attention(q, k, v, a, off, len);
      off += len;
    }
    linear(L.wo, L.bo, a, h);
    kernels::add(x, h, x);
    kernels::layernorm(x, L.attn_norm_w, L.attn_norm_b, x, c.norm_eps);
    linear(L.w_up, L.b_up, x, f);
    gelu_inplace(f, c.gelu_tanh);
    linear(L.w_down, L.b_down, f, h);
    kernels::add(x, h, x);
    kernels::layernorm(x, L.out_norm_w, L.out_norm_b, x, c.norm_eps);
  }

  // Pooling over each sequence's tokens (every token is real: there is no padding).
  pooled.assign(seqs.size(), std::vector<float>(static_cast<size_t>(E), 0.0f));
  int64_t off = 0;
  for (size_t si = 0; si < seqs.size(); ++si) {
    const auto len = static_cast<int64_t>(seqs[si]->size());
    std::vector<float>& o = pooled[si];
    const float* xs = x.data_as<float>() + off * E;
    if (c.pooling == BertPooling::Cls) {
      std::copy_n(xs, E, o.begin());
    } else if (c.pooling == BertPooling::Max) {
      std::copy_n(xs, E, o.begin());
      for (int64_t t = 1; t < len; ++t)
        for (int64_t i = 0; i < E; ++i) o[static_cast<size_t>(i)] = std::max(o[static_cast<size_t>(i)], xs[t * E + i]);
    } else {
      std::vector<double> acc(static_cast<size_t>(E), 0.0);
      for (int64_t t = 0; t < len; ++t)
        for (int64_t i = 0; i < E; ++i) acc[static_cast<size_t>(i)] += xs[t * E + i];
      for (int64_t i = 0; i < E; ++i)
        o[static_cast<size_t>(i)] = static_cast<float>(acc[static_cast<size_t>(i)] / static_cast<double>(len));
    }
    if (c.normalize) {
      double ss = 0;
      for (const float val : o) ss += static_cast<double>(val) * val;
      const double norm = std::max(std::sqrt(ss), 1e-12);  // as torch.nn.functional.normalize
      for (float& val : o) val = static_cast<float>(val / norm);
    }
    off += len;
  }
}

}  // namespace helix::model
