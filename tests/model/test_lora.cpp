// LoRA adapter files (model/lora.h): a round trip through save_lora / load_lora keeps every value,
// the file has llama.cpp's layout (keys, tensor names, shapes), factors stored as F16 or Q8_0 read
// back, and broken adapters are refused with messages that say what is wrong.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include <unistd.h>

#include "core/error.h"
#include "io/gguf.h"
#include "model/lora.h"
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

}  // namespace
}  // namespace helix::model
