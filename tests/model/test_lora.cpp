// LoRA adapter files (model/lora.h): a round trip through save_lora / load_lora keeps every value,
// the file has llama.cpp's layout (keys, tensor names, shapes), factors stored as F16 or Q8_0 read
// back, and broken adapters are refused with messages that say what is wrong.
#include <gtest/gtest.h>

#include <cmath>
#include <deque>
#include <filesystem>
#include <functional>
#include <random>

#include <unistd.h>

#include "core/error.h"
#include "core/fp16.h"
#include "io/gguf.h"
#include "model/batch.h"
#include "model/kv_cache.h"
#include "model/lora.h"
#include "model/model.h"
#include "model/tiny.h"
#include "quant/quant.h"

namespace helix::model {
namespace {

std::string tmp_path(const std::string& stem) {
  return (std::filesystem::temp_directory_path() / cat("helix_lora_", ::getpid(), "_", stem, ".gguf")).string();
}

LoraPair random_pair(int64_t n_in, int64_t n_out, int64_t rank, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.0f, 0.1f);
  LoraPair p;
  p.n_in = n_in, p.n_out = n_out, p.rank = rank;
  p.a.resize(static_cast<size_t>(rank * n_in));
  p.b.resize(static_cast<size_t>(n_out * rank));
  for (float& v : p.a) v = nd(rng);
  for (float& v : p.b) v = nd(rng);
  return p;
}

// An adapter for the tiny llama model (n_embd 256, n_ff 512, q 256, kv 128, vocab 320).
LoraAdapter tiny_adapter() {
  LoraAdapter a;
  a.name = "tiny-test";
  a.arch = "llama";
  a.alpha = 8;
  a.weights["blk.0.attn_q.weight"] = random_pair(256, 256, 4, 1);
  a.weights["blk.1.ffn_down.weight"] = random_pair(512, 256, 4, 2);
  a.weights["token_embd.weight"] = random_pair(320, 256, 2, 3);
  return a;
}

TEST(Lora, RoundTripKeepsEveryValueInLlamaCppLayout) {
  const LoraAdapter a = tiny_adapter();
  const std::string path = tmp_path("rt");
  save_lora(a, path);
  {
    const gguf::GGUFFile f = gguf::GGUFFile::open(path);
    EXPECT_EQ(f.get_string("general.type", ""), "adapter");
    EXPECT_EQ(f.get_string("adapter.type", ""), "lora");
    EXPECT_EQ(f.architecture(), "llama");
    EXPECT_FLOAT_EQ(static_cast<float>(f.get_float("adapter.lora.alpha", 0)), 8.0f);
    const gguf::TensorInfo* qa = f.find_tensor("blk.0.attn_q.weight.lora_a");
    const gguf::TensorInfo* db = f.find_tensor("blk.1.ffn_down.weight.lora_b");
    const gguf::TensorInfo* ea = f.find_tensor("token_embd.weight.lora_a");
    ASSERT_TRUE(qa && db && ea);
    EXPECT_EQ(qa->ne[0], 256);  // {n_in, rank}
    EXPECT_EQ(qa->ne[1], 4);
    EXPECT_EQ(db->ne[0], 4);  // {rank, n_out}
    EXPECT_EQ(db->ne[1], 256);
    EXPECT_EQ(ea->ne[0], 2);  // the embedding's A is {rank, n_vocab}
    EXPECT_EQ(ea->ne[1], 320);
    EXPECT_EQ(qa->type, DType::F32);
  }
  const LoraAdapter b = load_lora(path);
  std::filesystem::remove(path);
  EXPECT_EQ(b.name, a.name);
  EXPECT_EQ(b.arch, a.arch);
  EXPECT_EQ(b.alpha, a.alpha);
  ASSERT_EQ(b.weights.size(), a.weights.size());
  for (const auto& [name, p] : a.weights) {
    const LoraPair& q = b.weights.at(name);
    EXPECT_EQ(q.n_in, p.n_in) << name;
    EXPECT_EQ(q.n_out, p.n_out) << name;
    EXPECT_EQ(q.rank, p.rank) << name;
    EXPECT_EQ(q.a, p.a) << name;
    EXPECT_EQ(q.b, p.b) << name;
  }
  EXPECT_FLOAT_EQ(b.scale(b.weights.at("blk.0.attn_q.weight")), 2.0f);  // alpha / rank
}

// Writes an adapter file by hand (so that tests can break it on purpose).
struct RawAdapter {
  std::string type = "adapter", adapter_type = "lora", arch = "llama";
  std::vector<std::tuple<std::string, DType, Shape, std::vector<uint8_t>>> tensors;
  void add(const std::string& name, DType t, int64_t ne0, int64_t ne1, const std::vector<float>& v) {
    std::vector<uint8_t> bytes(dtype_row_bytes(t, ne0) * static_cast<size_t>(ne1));
    for (int64_t r = 0; r < ne1; ++r)
      quant::quantize_row(t, v.data() + r * ne0, bytes.data() + static_cast<size_t>(r) * dtype_row_bytes(t, ne0), ne0);
    tensors.emplace_back(name, t, Shape{ne0, ne1, 1, 1}, std::move(bytes));
  }
  void write(const std::string& path) const {
    gguf::GGUFWriter w;
    w.set("general.architecture", gguf::Value::string(arch));
    w.set("general.type", gguf::Value::string(type));
    w.set("adapter.type", gguf::Value::string(adapter_type));
    w.set("adapter.lora.alpha", gguf::Value::f32(16));
    for (const auto& [name, t, ne, bytes] : tensors) w.add_tensor(name, t, ne, 2, bytes.data());
    w.write(path);
  }
};

std::vector<float> ramp(size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = 0.01f * static_cast<float>(static_cast<int>(i % 61) - 30);
  return v;
}

TEST(Lora, ReadsF16AndQ8_0Factors) {
  RawAdapter r;
  const std::vector<float> a = ramp(64 * 8), b = ramp(8 * 96);
  r.add("blk.0.attn_k.weight.lora_a", DType::F16, 64, 8, a);
  r.add("blk.0.attn_k.weight.lora_b", DType::Q8_0, 8 * 4, 24, b);  // Q8_0 needs rows of 32
  const std::string path = tmp_path("types");
  r.write(path);
  // The B factor above is {32, 24}: a rank mismatch with A's 8 is reported, not misread.
  EXPECT_THROW(load_lora(path), Error);
  RawAdapter ok;
  ok.add("blk.0.attn_k.weight.lora_a", DType::Q8_0, 64, 32, ramp(64 * 32));
  ok.add("blk.0.attn_k.weight.lora_b", DType::F16, 32, 40, ramp(32 * 40));
  ok.write(path);
  const LoraAdapter l = load_lora(path);
  std::filesystem::remove(path);
  const LoraPair& p = l.weights.at("blk.0.attn_k.weight");
  EXPECT_EQ(p.rank, 32);
  EXPECT_EQ(p.n_in, 64);
  EXPECT_EQ(p.n_out, 40);
  const std::vector<float> want_a = ramp(64 * 32), want_b = ramp(32 * 40);
  for (size_t i = 0; i < want_a.size(); ++i) EXPECT_NEAR(p.a[i], want_a[i], 0.3f / 127 + 1e-6f) << i;
  for (size_t i = 0; i < want_b.size(); ++i) EXPECT_NEAR(p.b[i], want_b[i], 1e-3f) << i;
  EXPECT_FLOAT_EQ(l.alpha, 16.0f);
}

void expect_error(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
    FAIL() << "no error; expected one mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Lora, RefusesBrokenAdaptersWithClearMessages) {
  const std::string path = tmp_path("bad");
  RawAdapter model_file;
  model_file.type = "model";
  model_file.add("blk.0.attn_q.weight.lora_a", DType::F32, 256, 4, ramp(1024));
  model_file.add("blk.0.attn_q.weight.lora_b", DType::F32, 4, 256, ramp(1024));
  model_file.write(path);
  expect_error([&] { load_lora(path); }, "is not a LoRA adapter");

  RawAdapter cvec = model_file;
  cvec.type = "adapter";
  cvec.adapter_type = "control_vector";
  cvec.write(path);
  expect_error([&] { load_lora(path); }, "only LoRA adapters");

  RawAdapter lonely;
  lonely.add("blk.0.attn_q.weight.lora_a", DType::F32, 256, 4, ramp(1024));
  lonely.write(path);
  expect_error([&] { load_lora(path); }, "without its partner 'blk.0.attn_q.weight.lora_b'");

  RawAdapter odd;
  odd.add("blk.0.attn_q.weight", DType::F32, 256, 4, ramp(1024));
  odd.write(path);
  expect_error([&] { load_lora(path); }, "neither a '<weight>.lora_a'");

  RawAdapter rank;
  rank.add("blk.0.attn_q.weight.lora_a", DType::F32, 256, 4, ramp(1024));
  rank.add("blk.0.attn_q.weight.lora_b", DType::F32, 8, 256, ramp(2048));
  rank.write(path);
  expect_error([&] { load_lora(path); }, "has rank 4");

  // Checked against a base model: architecture, unknown tensors, shapes.
  const std::string base_path = tmp_path("base");
  TinySpec spec;
  write_tiny_model(spec, base_path);
  const gguf::GGUFFile base = gguf::GGUFFile::open(base_path);
  LoraAdapter a = tiny_adapter();
  EXPECT_NO_THROW(check_lora(a, base));
  a.arch = "qwen2";
  expect_error([&] { check_lora(a, base); }, "is for a qwen2 model");
  a = tiny_adapter();
  a.weights["blk.9.attn_q.weight"] = random_pair(256, 256, 4, 5);
  expect_error([&] { check_lora(a, base); }, "'blk.9.attn_q.weight', which the model");
  a = tiny_adapter();
  a.weights["blk.0.attn_k.weight"] = random_pair(256, 256, 4, 5);  // k is 256 -> 128
  expect_error([&] { check_lora(a, base); }, "map 256 -> 256 values, but the model's tensor is 256 -> 128");
  std::filesystem::remove(base_path);
  std::filesystem::remove(path);
}

// An adapter on every weight a decoder multiplies with, and on the embedding.
LoraAdapter full_adapter(const gguf::GGUFFile& base, int64_t rank, uint64_t seed) {
  LoraAdapter a;
  a.arch = base.architecture();
  a.alpha = 2.0f * static_cast<float>(rank);
  for (const gguf::TensorInfo& t : base.tensors()) {
    if (t.n_dims != 2) continue;
    const bool emb = lora_is_embedding(t.name);
    // A tied model's embedding is also its output head: merging an embedding adapter would change
    // both, while inference (like llama.cpp) adapts only the lookup; untied models cover it.
    if (emb && !base.find_tensor("output.weight")) continue;
    a.weights[t.name] = random_pair(emb ? t.ne[1] : t.ne[0], emb ? t.ne[0] : t.ne[1], rank, seed++);
  }
  return a;
}

// The base model with the adapters merged in f32 (every tensor written as F32).
void write_merged(const gguf::GGUFFile& base, const std::vector<LoraUse>& uses, const std::string& path) {
  gguf::GGUFWriter w;
  for (const auto& [k, v] : base.metadata()) w.set(k, v);
  std::deque<std::vector<float>> keep;
  for (const gguf::TensorInfo& t : base.tensors()) {
    keep.push_back(merge_lora_weight(base, t, uses));
    w.add_tensor(t.name, DType::F32, t.ne, t.n_dims, keep.back().data());
  }
  w.write(path);
}

// Logits of every token of `tokens` (one sequence per entry), all sequences in one batch.
std::vector<std::vector<float>> run(Model& m, const std::vector<std::vector<int32_t>>& seqs) {
  KVCache kv(m.hparams(), 64, static_cast<int>(seqs.size()));
  Batch b;
  for (size_t s = 0; s < seqs.size(); ++s)
    for (size_t i = 0; i < seqs[s].size(); ++i)
      b.add(seqs[s][i], static_cast<int64_t>(i), static_cast<int32_t>(s), true);
  std::vector<float> logits;
  m.forward(b, kv, logits);
  const int64_t V = m.hparams().n_vocab;
  std::vector<std::vector<float>> out(seqs.size());
  for (int64_t t = 0; t < b.size(); ++t)
    out[static_cast<size_t>(b.seq[static_cast<size_t>(t)])].insert(
        out[static_cast<size_t>(b.seq[static_cast<size_t>(t)])].end(), logits.begin() + t * V,
        logits.begin() + (t + 1) * V);
  return out;
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float d = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) d = std::max(d, std::fabs(a[i] - b[i]));
  return d;
}

// The base with `use` as its default adapter against the merged model at merged_path, on a
// prefill (6 tokens) and a decode (1 token) sequence: within tol of the largest logit, and the
// adapter must change the logits by far more than that.
void expect_served_equals_merged(const std::shared_ptr<const gguf::GGUFFile>& file, const LoraUse& use,
                                 const std::string& merged_path, float tol) {
  auto base = load_model(file);
  auto merged = load_model(merged_path);
  const std::vector<std::vector<int32_t>> seqs{{5, 77, 300, 12, 9, 41}, {200}};
  const auto want = run(*merged, seqs);
  const auto plain = run(*base, seqs);
  base->set_default_lora(base->add_lora_set({use}));
  const auto got = run(*base, seqs);
  for (size_t s = 0; s < seqs.size(); ++s) {
    float scale = 0;
    for (float v : want[s]) scale = std::max(scale, std::fabs(v));
    EXPECT_LT(max_abs_diff(got[s], want[s]), tol * scale) << "sequence " << s;
    EXPECT_GT(max_abs_diff(plain[s], want[s]), 0.05f * scale) << "the adapter changes nothing";
  }
}

class LoraInference : public ::testing::TestWithParam<std::string> {};

// Base + adapter at inference == the merged model, on every adapted weight (projections, output
// head, embedding), for prefill (6 tokens) and decode (1 token) batches.
TEST_P(LoraInference, AdapterEqualsMergedWeights) {
  TinySpec spec;
  spec.arch = GetParam();
  spec.tied_output = spec.arch == "gemma3";  // gemma3: tied (no output head, no embedding adapter)
  const std::string base_path = tmp_path("inf_base_" + spec.arch), merged_path = tmp_path("inf_merged_" + spec.arch);
  write_tiny_model(spec, base_path);
  auto file = std::make_shared<const gguf::GGUFFile>(gguf::GGUFFile::open(base_path));
  const LoraUse use{std::make_shared<const LoraAdapter>(full_adapter(*file, 4, 11)), 0.75f, "test"};
  write_merged(*file, {use}, merged_path);
  expect_served_equals_merged(file, use, merged_path, 2e-4f);
  std::filesystem::remove(base_path);
  std::filesystem::remove(merged_path);
}

INSTANTIATE_TEST_SUITE_P(Archs, LoraInference, ::testing::Values("llama", "qwen2", "gemma3", "ernie4_5"));

// An adapter saved with F16 factors reads back as F16 and is served with f16 factors (the decode
// and prefill kernels of that path): equal to the merged model up to f16 rounding of the scaled B.
TEST(Lora, F16AdapterIsServedWithF16Factors) {
  TinySpec spec;
  const std::string base_path = tmp_path("f16_base"), merged_path = tmp_path("f16_merged"), ad = tmp_path("f16_ad");
  write_tiny_model(spec, base_path);
  auto file = std::make_shared<const gguf::GGUFFile>(gguf::GGUFFile::open(base_path));
  LoraAdapter a = full_adapter(*file, 4, 11);
  a.factor_type = DType::F16;
  save_lora(a, ad);
  EXPECT_EQ(gguf::GGUFFile::open(ad).find_tensor("blk.0.attn_q.weight.lora_b")->type, DType::F16);
  const auto loaded = std::make_shared<const LoraAdapter>(load_lora(ad));
  EXPECT_EQ(loaded->factor_type, DType::F16);
  const LoraUse use{loaded, 0.75f, "test"};
  write_merged(*file, {use}, merged_path);
  expect_served_equals_merged(file, use, merged_path, 2e-3f);
  for (const std::string& f : {base_path, merged_path, ad}) std::filesystem::remove(f);
}

// Sequences under different adapters (and none) in one batch get what each gets alone; one
// adapter given twice at half scale equals it once at full scale.
TEST(Lora, MixedAdaptersInOneBatch) {
  TinySpec spec;
  const std::string path = tmp_path("mixed");
  write_tiny_model(spec, path);
  auto file = std::make_shared<const gguf::GGUFFile>(gguf::GGUFFile::open(path));
  auto m = load_model(file);
  const auto a = std::make_shared<const LoraAdapter>(full_adapter(*file, 4, 100));
  const auto b = std::make_shared<const LoraAdapter>(full_adapter(*file, 8, 200));
  const int sa = m->add_lora_set({{a, 1.0f, "a"}}), sb = m->add_lora_set({{b, 1.0f, "b"}});
  const int sa2 = m->add_lora_set({{a, 0.5f, "a"}, {a, 0.5f, "a"}});
  const std::vector<int32_t> p0{5, 6, 7, 8}, p1{9, 10, 11}, p2{12, 13};
  auto alone = [&](int set, const std::vector<int32_t>& p) {
    m->set_default_lora(set);
    auto r = run(*m, {p});
    m->set_default_lora(0);
    return r[0];
  };
  const auto w0 = alone(0, p0), w1 = alone(sa, p1), w2 = alone(sb, p2), w1b = alone(sa2, p1);
  EXPECT_LT(max_abs_diff(w1b, w1), 1e-4f);
  m->set_seq_lora(1, sa);
  m->set_seq_lora(2, sb);
  const auto got = run(*m, {p0, p1, p2});
  EXPECT_LT(max_abs_diff(got[0], w0), 1e-4f);
  EXPECT_LT(max_abs_diff(got[1], w1), 1e-4f);
  EXPECT_LT(max_abs_diff(got[2], w2), 1e-4f);
  EXPECT_GT(max_abs_diff(w1, alone(0, p1)), 1e-2f);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace helix::model

namespace helix::model {
namespace {

class LoraFusedDecode : public ::testing::TestWithParam<DType> {};

// Decoding (a few tokens per step) adds the LoRA updates inside the base matmul's parallel region,
// with the A·x of q/k/v and of gate/up folded into one product; longer batches add them column
// by column after the base. Three sequences decoded together token by token, under an adapter set
// with f16 factors (that leaves out some projections of a fused group), one with f32 factors and
// none, get the logits each gets prefilled alone, and (F32 base) the merged model's. Weights F32 go
// through the row-tiled matmul, Q8_0 through the packed one (kernels::matmul_many's fused path).
TEST_P(LoraFusedDecode, EqualsColumnsPathAndMergedForF16AndF32Factors) {
  TinySpec spec;
  spec.weight_type = GetParam();
  const std::string base_path = tmp_path("fused_base"), merged_a = tmp_path("fused_ma"), merged_b = tmp_path("fused_mb");
  write_tiny_model(spec, base_path);
  auto file = std::make_shared<const gguf::GGUFFile>(gguf::GGUFFile::open(base_path));
  LoraAdapter a = full_adapter(*file, 4, 300);
  a.factor_type = DType::F16;
  a.weights.erase("blk.0.attn_k.weight");  // q and v of layer 0 only
  a.weights.erase("blk.1.ffn_up.weight");   // gate of layer 1 only
  a.weights.erase("blk.1.attn_q.weight");   // k and v of layer 1 only
  // f16 factors as served: round A and B so that the merged reference sees the same values.
  for (auto& [name, p] : a.weights) {
    for (float& v : p.a) v = f16_to_f32(f32_to_f16(v));
    for (float& v : p.b) v = f16_to_f32(f32_to_f16(v));
  }
  LoraAdapter b = full_adapter(*file, 8, 400);
  b.factor_type = DType::F32;
  const LoraUse ua{std::make_shared<const LoraAdapter>(a), 1.0f, "a"}, ub{std::make_shared<const LoraAdapter>(b), 0.5f, "b"};
  auto m = load_model(file);
  const int sa = m->add_lora_set({ua}), sb = m->add_lora_set({ub});
  const std::vector<std::vector<int32_t>> seqs{{5, 77, 300, 12, 9, 41}, {200, 3, 17, 99, 250, 8}, {64, 65, 66, 1, 2, 310}};
  const std::vector<int> sets{0, sa, sb};
  const int64_t V = m->hparams().n_vocab, n = static_cast<int64_t>(seqs[0].size());

  // Together, one token of each sequence per step (the decode path).
  for (int s = 0; s < 3; ++s) m->set_seq_lora(s, sets[static_cast<size_t>(s)]);
  std::vector<std::vector<float>> together(3);
  KVCache kv(m->hparams(), 64, 3);
  std::vector<float> logits;
  for (int64_t i = 0; i < n; ++i) {
    Batch batch;
    for (int s = 0; s < 3; ++s) batch.add(seqs[static_cast<size_t>(s)][static_cast<size_t>(i)], i, s, true);
    m->forward(batch, kv, logits);
    for (int s = 0; s < 3; ++s)
      together[static_cast<size_t>(s)].insert(together[static_cast<size_t>(s)].end(), logits.begin() + s * V,
                                              logits.begin() + (s + 1) * V);
  }
  // Alone, each prefilled in one batch of 6 tokens (the column path).
  for (int s = 0; s < 3; ++s) m->set_seq_lora(s, -1);
  std::vector<std::vector<float>> alone(3);
  for (int s = 0; s < 3; ++s) {
    m->set_default_lora(sets[static_cast<size_t>(s)]);
    alone[static_cast<size_t>(s)] = run(*m, {seqs[static_cast<size_t>(s)]})[0];
  }
  m->set_default_lora(0);
  for (size_t s = 0; s < 3; ++s) {
    float scale = 0;
    for (float v : alone[s]) scale = std::max(scale, std::fabs(v));
    EXPECT_LT(max_abs_diff(together[s], alone[s]), 2e-5f * scale) << "sequence " << s;
  }
  // The adapters matter, and the F32 base matches the merged models.
  EXPECT_GT(max_abs_diff(alone[1], alone[0]), 1e-2f);
  EXPECT_GT(max_abs_diff(alone[2], alone[0]), 1e-2f);
  if (GetParam() == DType::F32) {
    write_merged(*file, {ua}, merged_a);
    write_merged(*file, {ub}, merged_b);
    for (auto [path, s] : {std::pair<std::string, size_t>{merged_a, 1}, {merged_b, 2}}) {
      auto merged = load_model(path);
      const auto want = run(*merged, {seqs[s]})[0];
      float scale = 0;
      for (float v : want) scale = std::max(scale, std::fabs(v));
      EXPECT_LT(max_abs_diff(together[s], want), 2e-4f * scale) << "sequence " << s << " against " << path;
    }
  }
  for (const std::string& f : {base_path, merged_a, merged_b}) std::filesystem::remove(f);
}

INSTANTIATE_TEST_SUITE_P(BaseTypes, LoraFusedDecode, ::testing::Values(DType::F32, DType::Q8_0),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

}  // namespace
}  // namespace helix::model
