// BertEncoder on a tiny random BERT written as a sentence-transformers directory (config.json,
// model.safetensors, tokenizer.json, modules.json, 1_Pooling): the output matches a naive
// scalar forward pass written here, packing texts into one batch changes nothing, GGUF written
// by write_gguf reads back to the same embeddings, truncation keeps [SEP], and broken model
// directories and files fail with errors that name what is missing.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/gguf.h"
#include "model/bert.h"

namespace fs = std::filesystem;
using helix::model::BertEncoder;
using json = nlohmann::json;

namespace {

constexpr int64_t kE = 16, kH = 2, kF = 32, kL = 2, kPos = 24, kTypes = 2;
const std::vector<std::string> kVocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "the",
                                         "cat",   "dog",   "##s",   "a",     "sat",    "on",    "mat",   ".",
                                         "big",   "red",   "ball",  ",",     "!",      "is",    "here",  "##ing"};
const int64_t kV = static_cast<int64_t>(kVocab.size());

struct TmpDir {
  fs::path path;
  TmpDir() {
    std::random_device rd;
    path = fs::temp_directory_path() / ("helix-bert-test-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~TmpDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

void write_text(const fs::path& p, const std::string& s) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << s;
}

// Row-major (outermost first) f32 tensors by name, as a model.safetensors file.
using Weights = std::map<std::string, std::pair<std::vector<int64_t>, std::vector<float>>>;

void write_safetensors(const fs::path& p, const Weights& w) {
  json h = json::object();
  uint64_t off = 0;
  for (const auto& [name, t] : w) {
    const uint64_t n = t.second.size() * 4;
    h[name] = {{"dtype", "F32"}, {"shape", t.first}, {"data_offsets", {off, off + n}}};
    off += n;
  }
  std::string hs = h.dump();
  while (hs.size() % 8) hs.push_back(' ');
  std::ofstream f(p, std::ios::binary);
  const uint64_t hn = hs.size();
  f.write(reinterpret_cast<const char*>(&hn), 8);
  f.write(hs.data(), static_cast<std::streamsize>(hs.size()));
  for (const auto& [name, t] : w)
    f.write(reinterpret_cast<const char*>(t.second.data()), static_cast<std::streamsize>(t.second.size() * 4));
}

Weights random_weights(uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 0.3f);
  Weights w;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, float mean = 0.0f) {
    int64_t n = 1;
    for (const int64_t d : shape) n *= d;
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = mean + nd(rng);
    w[name] = {shape, v};
  };
  add("embeddings.word_embeddings.weight", {kV, kE});
  add("embeddings.position_embeddings.weight", {kPos, kE});
  add("embeddings.token_type_embeddings.weight", {kTypes, kE});
  add("embeddings.LayerNorm.weight", {kE}, 1.0f);
  add("embeddings.LayerNorm.bias", {kE});
  for (int il = 0; il < kL; ++il) {
    const std::string p = "encoder.layer." + std::to_string(il) + ".";
    for (const char* m : {"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"}) {
      add(p + m + ".weight", {kE, kE});
      add(p + m + ".bias", {kE});
    }
    add(p + "attention.output.LayerNorm.weight", {kE}, 1.0f);
    add(p + "attention.output.LayerNorm.bias", {kE});
    add(p + "intermediate.dense.weight", {kF, kE});
    add(p + "intermediate.dense.bias", {kF});
    add(p + "output.dense.weight", {kE, kF});
    add(p + "output.dense.bias", {kE});
    add(p + "output.LayerNorm.weight", {kE}, 1.0f);
    add(p + "output.LayerNorm.bias", {kE});
  }
  return w;
}

json tokenizer_json() {
  json vocab = json::object();
  for (size_t i = 0; i < kVocab.size(); ++i) vocab[kVocab[i]] = i;
  json added = json::array();
  for (int i = 0; i < 5; ++i)
    added.push_back({{"id", i}, {"content", kVocab[static_cast<size_t>(i)]}, {"special", true}});
  return {{"added_tokens", added},
          {"normalizer", {{"type", "BertNormalizer"}, {"lowercase", true}}},
          {"pre_tokenizer", {{"type", "BertPreTokenizer"}}},
          {"post_processor",
           {{"type", "TemplateProcessing"},
            {"single",
             {{{"SpecialToken", {{"id", "[CLS]"}, {"type_id", 0}}}},
              {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
              {{"SpecialToken", {{"id", "[SEP]"}, {"type_id", 0}}}}}}}},
          {"model", {{"type", "WordPiece"}, {"unk_token", "[UNK]"}, {"continuing_subword_prefix", "##"}, {"vocab", vocab}}}};
}

json config_json() {
  return {{"model_type", "bert"}, {"vocab_size", kV}, {"hidden_size", kE}, {"num_hidden_layers", kL},
          {"num_attention_heads", kH}, {"intermediate_size", kF}, {"max_position_embeddings", kPos},
          {"type_vocab_size", kTypes}, {"layer_norm_eps", 1e-12}, {"hidden_act", "gelu"}};
}

void write_model(const fs::path& dir, const Weights& w, bool normalize = true) {
  write_text(dir / "config.json", config_json().dump());
  write_text(dir / "tokenizer.json", tokenizer_json().dump());
  json modules = json::array({{{"idx", 0}, {"path", ""}, {"type", "sentence_transformers.models.Transformer"}},
                              {{"idx", 1}, {"path", "1_Pooling"}, {"type", "sentence_transformers.models.Pooling"}}});
  if (normalize) modules.push_back({{"idx", 2}, {"path", "2_Normalize"}, {"type", "sentence_transformers.models.Normalize"}});
  write_text(dir / "modules.json", modules.dump());
  write_text(dir / "1_Pooling" / "config.json",
             json({{"word_embedding_dimension", kE}, {"pooling_mode_mean_tokens", true}}).dump());
  write_text(dir / "sentence_bert_config.json", json({{"max_seq_length", 12}}).dump());
  write_safetensors(dir / "model.safetensors", w);
}

// ---- a naive reference forward pass (row-major weights as in the safetensors file) ----------

std::vector<float> layer_norm(std::vector<float> x, const std::vector<float>& g, const std::vector<float>& b) {
  double mean = 0, var = 0;
  for (const float v : x) mean += v;
  mean /= static_cast<double>(x.size());
  for (const float v : x) var += (v - mean) * (v - mean);
  var /= static_cast<double>(x.size());
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = static_cast<float>((x[i] - mean) / std::sqrt(var + 1e-12) * g[i] + b[i]);
  return x;
}

std::vector<float> dense(const Weights& w, const std::string& name, const std::vector<float>& x) {
  const auto& W = w.at(name + ".weight");
  const auto& B = w.at(name + ".bias").second;
  const auto n_out = static_cast<size_t>(W.first[0]), n_in = static_cast<size_t>(W.first[1]);
  std::vector<float> y(n_out);
  for (size_t o = 0; o < n_out; ++o) {
    double s = B[o];
    for (size_t i = 0; i < n_in; ++i) s += static_cast<double>(W.second[o * n_in + i]) * x[i];
    y[o] = static_cast<float>(s);
  }
  return y;
}

std::vector<float> reference_embedding(const Weights& w, const std::vector<int32_t>& ids) {
  const size_t n = ids.size(), E = kE, hd = kE / kH;
  auto vec = [&](const std::string& name) { return w.at(name).second; };
  std::vector<std::vector<float>> x(n, std::vector<float>(E));
  for (size_t t = 0; t < n; ++t) {
    for (size_t i = 0; i < E; ++i)
      x[t][i] = vec("embeddings.word_embeddings.weight")[static_cast<size_t>(ids[t]) * E + i] +
                vec("embeddings.position_embeddings.weight")[t * E + i] +
                vec("embeddings.token_type_embeddings.weight")[i];
    x[t] = layer_norm(x[t], vec("embeddings.LayerNorm.weight"), vec("embeddings.LayerNorm.bias"));
  }
  for (int il = 0; il < kL; ++il) {
    const std::string p = "encoder.layer." + std::to_string(il) + ".";
    std::vector<std::vector<float>> q(n), k(n), v(n), a(n, std::vector<float>(E, 0.0f));
    for (size_t t = 0; t < n; ++t) {
      q[t] = dense(w, p + "attention.self.query", x[t]);
      k[t] = dense(w, p + "attention.self.key", x[t]);
      v[t] = dense(w, p + "attention.self.value", x[t]);
    }
    for (size_t h = 0; h < static_cast<size_t>(kH); ++h)
      for (size_t i = 0; i < n; ++i) {
        std::vector<double> s(n);
        double mx = -1e300, sum = 0;
        for (size_t j = 0; j < n; ++j) {
          double d = 0;
          for (size_t c = 0; c < hd; ++c) d += static_cast<double>(q[i][h * hd + c]) * k[j][h * hd + c];
          s[j] = d / std::sqrt(static_cast<double>(hd));
          mx = std::max(mx, s[j]);
        }
        for (auto& e : s) sum += (e = std::exp(e - mx));
        for (size_t j = 0; j < n; ++j)
          for (size_t c = 0; c < hd; ++c) a[i][h * hd + c] += static_cast<float>(s[j] / sum * v[j][h * hd + c]);
      }
    for (size_t t = 0; t < n; ++t) {
      std::vector<float> o = dense(w, p + "attention.output.dense", a[t]);
      for (size_t i = 0; i < E; ++i) o[i] += x[t][i];
      x[t] = layer_norm(o, vec(p + "attention.output.LayerNorm.weight"), vec(p + "attention.output.LayerNorm.bias"));
      std::vector<float> f = dense(w, p + "intermediate.dense", x[t]);
      for (auto& e : f) e = static_cast<float>(0.5 * e * (1.0 + std::erf(e / std::sqrt(2.0))));
      std::vector<float> d = dense(w, p + "output.dense", f);
      for (size_t i = 0; i < E; ++i) d[i] += x[t][i];
      x[t] = layer_norm(d, vec(p + "output.LayerNorm.weight"), vec(p + "output.LayerNorm.bias"));
    }
  }
  std::vector<float> mean(E, 0.0f);
  for (size_t t = 0; t < n; ++t)
    for (size_t i = 0; i < E; ++i) mean[i] += x[t][i] / static_cast<float>(n);
  double norm = 0;
  for (const float e : mean) norm += static_cast<double>(e) * e;
  for (auto& e : mean) e = static_cast<float>(e / std::sqrt(norm));
  return mean;
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const helix::Error& e) {
    return e.what();
  }
  return "(no error)";
}

const std::vector<std::string> kTexts = {"hello world", "The cat sat on the mat.", "dogs", "", "a big red ball!"};

}  // namespace

TEST(Bert, MatchesNaiveReference) {
  TmpDir d;
  const Weights w = random_weights(7);
  write_model(d.path, w);
  auto enc = BertEncoder::load(d.path.string());
  EXPECT_EQ(enc->dim(), kE);
  EXPECT_EQ(enc->config().max_tokens, 12);
  EXPECT_TRUE(enc->config().normalize);
  const auto emb = enc->embed(kTexts);
  ASSERT_EQ(emb.size(), kTexts.size());
  for (size_t i = 0; i < kTexts.size(); ++i) {
    const std::vector<int32_t> ids = enc->tokenize(kTexts[i]);
    ASSERT_GE(ids.size(), 2u);
    EXPECT_EQ(ids.front(), 2);
    EXPECT_EQ(ids.back(), 3);
    const std::vector<float> ref = reference_embedding(w, ids);
    ASSERT_EQ(emb[i].size(), ref.size());
    for (size_t j = 0; j < ref.size(); ++j) EXPECT_NEAR(emb[i][j], ref[j], 2e-5) << "text " << i << " dim " << j;
  }
  EXPECT_EQ(enc->tokenize("hello world").size(), 4u);  // [CLS] hello world [SEP]
}

TEST(Bert, BatchingDoesNotChangeResults) {
  TmpDir d;
  write_model(d.path, random_weights(11));
  auto enc = BertEncoder::load(d.path.string());
  const auto together = enc->embed(kTexts);
  enc->set_batch_tokens(1);  // one text per batch
  const auto apart = enc->embed(kTexts);
  for (size_t i = 0; i < kTexts.size(); ++i)
    for (size_t j = 0; j < together[i].size(); ++j) EXPECT_NEAR(together[i][j], apart[i][j], 1e-6);
}

TEST(Bert, TruncatesKeepingSep) {
  TmpDir d;
  write_model(d.path, random_weights(3));
  auto enc = BertEncoder::load(d.path.string());
  bool cut = false;
  const auto ids = enc->tokenize("the cat sat on the mat , the dog sat on the big red ball", &cut);
  EXPECT_TRUE(cut);
  ASSERT_EQ(ids.size(), 12u);
  EXPECT_EQ(ids.front(), 2);
  EXPECT_EQ(ids.back(), 3);
  EXPECT_EQ(enc->embed({"the cat sat on the mat , the dog sat on the big red ball"})[0].size(), static_cast<size_t>(kE));
}

TEST(Bert, GgufRoundTrip) {
  TmpDir d;
  write_model(d.path / "hf", random_weights(5));
  auto enc = BertEncoder::load((d.path / "hf").string());
  const std::string g = (d.path / "tiny-bert.gguf").string();
  enc->write_gguf(g);
  auto back = BertEncoder::load(g);
  EXPECT_EQ(back->config().max_tokens, 12);
  EXPECT_EQ(back->config().n_vocab, kV);
  const auto a = enc->embed(kTexts), b = back->embed(kTexts);
  for (size_t i = 0; i < kTexts.size(); ++i) {
    EXPECT_EQ(enc->tokenize(kTexts[i]), back->tokenize(kTexts[i])) << kTexts[i];
    for (size_t j = 0; j < a[i].size(); ++j) EXPECT_NEAR(a[i][j], b[i][j], 1e-6);
  }
}

TEST(BertErrors, MissingFiles) {
  TmpDir d;
  write_model(d.path, random_weights(1));
  fs::remove(d.path / "config.json");
  EXPECT_NE(error_of([&] { BertEncoder::load(d.path.string()); }).find("config.json"), std::string::npos);

  write_text(d.path / "config.json", config_json().dump());
  fs::remove(d.path / "tokenizer.json");
  EXPECT_NE(error_of([&] { BertEncoder::load(d.path.string()); }).find("tokenizer.json"), std::string::npos);

  write_text(d.path / "tokenizer.json", tokenizer_json().dump());
  fs::remove_all(d.path / "1_Pooling");
  EXPECT_NE(error_of([&] { BertEncoder::load(d.path.string()); }).find("1_Pooling"), std::string::npos);

  EXPECT_NE(error_of([&] { BertEncoder::load((d.path / "nothing-here").string()); }).find("does not exist"),
            std::string::npos);
}

TEST(BertErrors, MissingOrInconsistentTensorsAndConfig) {
  TmpDir d;
  Weights w = random_weights(2);
  w.erase("encoder.layer.1.intermediate.dense.bias");
  write_model(d.path, w);
  const std::string e1 = error_of([&] { BertEncoder::load(d.path.string()); });
  EXPECT_NE(e1.find("encoder.layer.1.intermediate.dense.bias"), std::string::npos) << e1;

  json cfg = config_json();
  cfg["intermediate_size"] = 40;
  write_safetensors(d.path / "model.safetensors", random_weights(2));
  write_text(d.path / "config.json", cfg.dump());
  const std::string e2 = error_of([&] { BertEncoder::load(d.path.string()); });
  EXPECT_NE(e2.find("encoder.layer.0.intermediate.dense.weight"), std::string::npos) << e2;
  EXPECT_NE(e2.find("40"), std::string::npos) << e2;

  cfg = config_json();
  cfg.erase("num_attention_heads");
  write_text(d.path / "config.json", cfg.dump());
  const std::string e3 = error_of([&] { BertEncoder::load(d.path.string()); });
  EXPECT_NE(e3.find("num_attention_heads"), std::string::npos) << e3;

  cfg = config_json();
  cfg["hidden_act"] = "relu";
  write_text(d.path / "config.json", cfg.dump());
  EXPECT_NE(error_of([&] { BertEncoder::load(d.path.string()); }).find("hidden_act"), std::string::npos);

  write_text(d.path / "config.json", config_json().dump());
  write_text(d.path / "1_Pooling" / "config.json",
             json({{"pooling_mode_mean_tokens", true}, {"pooling_mode_cls_token", true}}).dump());
  EXPECT_NE(error_of([&] { BertEncoder::load(d.path.string()); }).find("exactly one pooling mode"), std::string::npos);
}

TEST(BertErrors, GgufMissingTensorOrKey) {
  TmpDir d;
  write_model(d.path / "hf", random_weights(4));
  const std::string g = (d.path / "m.gguf").string();
  BertEncoder::load((d.path / "hf").string())->write_gguf(g);
  const helix::gguf::GGUFFile f = helix::gguf::GGUFFile::open(g);
  auto rewrite = [&](const std::string& drop_tensor, const std::string& drop_key, const std::string& out) {
    helix::gguf::GGUFWriter w;
    for (const auto& [k, v] : f.metadata())
      if (k != drop_key) w.set(k, v);
    for (const auto& t : f.tensors())
      if (t.name != drop_tensor) w.add_tensor(t.name, t.type, t.ne, t.n_dims, f.tensor_data(t));
    w.write(out);
  };
  const std::string g1 = (d.path / "no-tensor.gguf").string(), g2 = (d.path / "no-key.gguf").string();
  rewrite("blk.0.ffn_down.weight", "", g1);
  const std::string e1 = error_of([&] { BertEncoder::load(g1); });
  EXPECT_NE(e1.find("blk.0.ffn_down.weight"), std::string::npos) << e1;
  rewrite("", "bert.attention.head_count", g2);
  const std::string e2 = error_of([&] { BertEncoder::load(g2); });
  EXPECT_NE(e2.find("bert.attention.head_count"), std::string::npos) << e2;
}
