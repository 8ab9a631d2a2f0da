// safetensors and Hugging Face directory tests: hand-built files read back as views, and hostile
// headers that must each give a helix::Error with a telling message.
#include <gtest/gtest.h>

#include "core/fp16.h"
#include "io/safetensors.h"
#include "io_test_util.h"

namespace helix::io {
namespace {

using helix::testing::Bytes;
using helix::testing::expect_error;
using helix::testing::TempDir;
using helix::testing::to_storage;

// A safetensors image: header JSON padded with spaces to a multiple of 8, then `data`.
std::vector<uint8_t> image(std::string header, const std::vector<uint8_t>& data = {}, bool pad = true) {
  if (pad)
    while ((header.size() + 8) % 8) header += ' ';
  Bytes b;
  b.u64(header.size()).raw(header);
  b.b.insert(b.b.end(), data.begin(), data.end());
  return b.b;
}

SafetensorsFile parse(const std::vector<uint8_t>& img) { return SafetensorsFile::parse(to_storage(img), "t.safetensors"); }

TEST(Safetensors, ReadsTensorsAsViews) {
  std::vector<uint8_t> data(56);
  const float f[6] = {1, 2, 3, 4, 5, 6};
  std::memcpy(data.data(), f, sizeof f);
  const uint16_t h[3] = {f32_to_f16(0.5f), f32_to_f16(-1.0f), f32_to_f16(2.0f)};
  std::memcpy(data.data() + 24, h, sizeof h);
  const int64_t l[2] = {-7, 1ll << 40};
  std::memcpy(data.data() + 32, l, sizeof l);
  const auto img = image(R"({"__metadata__":{"format":"pt","b":"x"},)"
                         R"("w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
                         R"("idx":{"dtype":"I64","shape":[2],"data_offsets":[32,48]},)"
                         R"("h":{"dtype":"F16","shape":[3],"data_offsets":[24,30]},)"
                         R"("s":{"dtype":"F32","shape":[],"data_offsets":[48,52]},)"
                         R"("e":{"dtype":"BF16","shape":[0,5],"data_offsets":[30,30]}})",
                         data);
  const auto st = parse(img);
  EXPECT_EQ(st.data_offset() % 8, 0u);
  ASSERT_EQ(st.metadata().size(), 2u);
  EXPECT_EQ(st.metadata()[0], (std::pair<std::string, std::string>{"format", "pt"}));
  ASSERT_EQ(st.tensors().size(), 5u);
  const Tensor w = st.tensor("w");
  EXPECT_EQ(w.dtype(), DType::F32);
  EXPECT_EQ(w.ndim(), 2);
  EXPECT_EQ(w.ne(0), 3);  // innermost first
  EXPECT_EQ(w.ne(1), 2);
  EXPECT_EQ(w.data_as<float>()[5], 6.0f);
  EXPECT_EQ(st.find_tensor("w")->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(f16_to_f32(st.tensor("h").data_as<uint16_t>()[1]), -1.0f);
  EXPECT_EQ(st.tensor("idx").data_as<int64_t>()[1], 1ll << 40);
  EXPECT_EQ(st.tensor("s").ndim(), 0);
  EXPECT_EQ(st.tensor("e").numel(), 0);
  EXPECT_EQ(st.tensor("e").dtype(), DType::BF16);
  expect_error([&] { st.tensor("missing"); }, "no tensor named 'missing'");
}

TEST(Safetensors, UnsupportedDTypeParsesButHasNoTensorView) {
  const auto st = parse(image(R"({"m":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}})", {1, 2, 3, 4}));
  EXPECT_EQ(st.tensors()[0].dtype, "U8");
  EXPECT_EQ(st.tensor_data(st.tensors()[0])[3], 4);
  expect_error([&] { st.tensor("m"); }, "dtype U8");
}

TEST(SafetensorsHostile, Headers) {
  expect_error([&] { parse({1, 2, 3}); }, "too short");
  Bytes big;
  big.u64(1ull << 40).raw("{}");
  expect_error([&] { parse(big.b); }, "limit");
  Bytes past;
  past.u64(100).raw("{}");
  expect_error([&] { parse(past.b); }, "truncated");
  expect_error([&] { parse(image("[1,2]")); }, "not a JSON object");
  expect_error([&] { parse(image("{\"a\":")); }, "invalid JSON");
  expect_error([&] { parse(image(R"({"a":1,"a":2})")); }, "appears twice");
  std::string deep = "{\"a\":" + std::string(100, '[') + std::string(100, ']') + "}";
  expect_error([&] { parse(image(deep)); }, "nested");
  expect_error([&] { parse(image(R"({"__metadata__":{"k":1}})")); }, "not a string");
  expect_error([&] { parse(image(R"({"__metadata__":[1]})")); }, "__metadata__");
  Bytes gguf;
  gguf.raw("GGUF").u32(3).u64(0).u64(0);
  expect_error([&] { parse(gguf.b); }, "GGUF");
}

TEST(SafetensorsHostile, TensorEntries) {
  const std::vector<uint8_t> d(64);
  auto one = [&](const std::string& entry) { return parse(image("{\"t\":" + entry + "}", d)); };
  EXPECT_NO_THROW(one(R"({"dtype":"F32","shape":[4],"data_offsets":[0,16]})"));
  expect_error([&] { one("7"); }, "not a JSON object");
  expect_error([&] { one(R"({"shape":[4],"data_offsets":[0,16]})"); }, "dtype");
  expect_error([&] { one(R"({"dtype":"Q9","shape":[4],"data_offsets":[0,16]})"); }, "unknown dtype \"Q9\"");
  expect_error([&] { one(R"({"dtype":"F32","shape":[-4],"data_offsets":[0,16]})"); }, "non-negative");
  expect_error([&] { one(R"({"dtype":"F32","shape":[1.5],"data_offsets":[0,16]})"); }, "non-negative");
  expect_error([&] { one(R"({"dtype":"F32","data_offsets":[0,16]})"); }, "shape");
  expect_error([&] { one(R"({"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]})"); },
               "overflows");
  expect_error([&] { one(R"({"dtype":"F32","shape":[4],"data_offsets":[0]})"); }, "data_offsets");
  expect_error([&] { one(R"({"dtype":"F32","shape":[4],"data_offsets":[16,0]})"); }, "end before");
  expect_error([&] { one(R"({"dtype":"F32","shape":[4],"data_offsets":[60,76]})"); }, "past the end");
  expect_error([&] { one(R"({"dtype":"F32","shape":[4],"data_offsets":[0,18446744073709551615]})"); },
               "past the end");
  expect_error([&] { one(R"({"dtype":"F32","shape":[5],"data_offsets":[0,16]})"); }, "need 20");
  expect_error([&] { one(R"({"dtype":"F32","shape":[4],"data_offsets":[2,18]})"); }, "not aligned");
  const auto r5 = one(R"({"dtype":"F32","shape":[1,1,1,1,1],"data_offsets":[0,4]})");  // parses
  expect_error([&] { r5.tensor("t"); }, "5 dimensions");
  expect_error(
      [&] {
        parse(image(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                    R"("b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
                    d));
      },
      "overlap");
}

TEST(SafetensorsHostile, RandomMutationsNeverCrash) {
  const auto good = image(R"({"__metadata__":{"a":"b"},"w":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,8]}})",
                          std::vector<uint8_t>(8, 1));
  std::mt19937 rng(3);
  for (int i = 0; i < 3000; ++i) {
    auto m = good;
    for (int k = 0; k < 3; ++k) m[rng() % m.size()] = static_cast<uint8_t>(rng() % 128);
    try {
      const auto st = parse(m);
      for (const auto& t : st.tensors())
        if (safetensors_to_dtype(t.dtype) && t.shape.size() <= 4) (void)st.tensor(t);
    } catch (const Error&) {
    }
  }
}

// ---- Hugging Face directories ----

std::vector<uint8_t> f32_file(const std::string& name, const std::vector<float>& v) {
  std::vector<uint8_t> d(v.size() * 4);
  std::memcpy(d.data(), v.data(), d.size());
  return image(cat("{\"", name, "\":{\"dtype\":\"F32\",\"shape\":[", v.size(), "],\"data_offsets\":[0,", d.size(),
                   "]}}"),
               d);
}

void write_text(const std::string& path, const std::string& s) {
  helix::testing::write_file(path, std::vector<uint8_t>(s.begin(), s.end()));
}

TEST(HFModelDir, SingleFile) {
  TempDir dir;
  write_text(dir / "config.json",
             R"({"model_type":"llama","architectures":["LlamaForCausalLM"],"hidden_size":64,)"
             R"("rms_norm_eps":1e-5,"tie_word_embeddings":true,"rope_scaling":null})");
  helix::testing::write_file(dir / "model.safetensors", f32_file("w", {1, 2, 3}));
  const auto d = HFModelDir::open(dir.path().string());
  EXPECT_EQ(d.model_type(), "llama");
  EXPECT_EQ(d.architecture(), "LlamaForCausalLM");
  EXPECT_EQ(d.get_int("hidden_size", 0), 64);
  EXPECT_DOUBLE_EQ(d.get_float("rms_norm_eps", 0), 1e-5);
  EXPECT_TRUE(d.get_bool("tie_word_embeddings", false));
  EXPECT_FALSE(d.has("rope_scaling"));
  EXPECT_EQ(d.get_int("rope_scaling", 9), 9);
  EXPECT_EQ(d.get_int("absent", 5), 5);
  expect_error([&] { d.get_int("model_type", 0); }, "not an integer");
  EXPECT_EQ(d.tensor_count(), 1u);
  EXPECT_EQ(d.tensor("w").data_as<float>()[2], 3.0f);
  expect_error([&] { d.tensor("nope"); }, "no tensor named 'nope'");
}

TEST(HFModelDir, Sharded) {
  TempDir dir;
  write_text(dir / "config.json", R"({"model_type":"qwen2"})");
  helix::testing::write_file(dir / "model-00001-of-00002.safetensors", f32_file("a", {1}));
  helix::testing::write_file(dir / "model-00002-of-00002.safetensors", f32_file("b", {2, 3}));
  write_text(dir / "model.safetensors.index.json",
             R"({"metadata":{"total_size":12},"weight_map":{"b":"model-00002-of-00002.safetensors",)"
             R"("a":"model-00001-of-00002.safetensors"}})");
  const auto d = HFModelDir::open(dir.path().string());
  EXPECT_EQ(d.shards().size(), 2u);
  EXPECT_EQ(d.tensor_names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(d.tensor("b").data_as<float>()[1], 3.0f);
  EXPECT_EQ(d.find_tensor("a").second, &d.shards()[0]);

  write_text(dir / "model.safetensors.index.json", R"({"weight_map":{"a":"model-00002-of-00002.safetensors"}})");
  expect_error([&] { HFModelDir::open(dir.path().string()); }, "does not hold it");
  write_text(dir / "model.safetensors.index.json", R"({"weight_map":{"a":"../etc/passwd"}})");
  expect_error([&] { HFModelDir::open(dir.path().string()); }, "plain file name");
  write_text(dir / "model.safetensors.index.json",
             R"({"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00001-of-00002.safetensors",)"
             R"("c":"model-00001-of-00002.safetensors"}})");
  expect_error([&] { HFModelDir::open(dir.path().string()); }, "does not hold it");
  helix::testing::write_file(dir / "model-00002-of-00002.safetensors", f32_file("a", {2, 3}));
  write_text(dir / "model.safetensors.index.json",
             R"({"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}})");
  expect_error([&] { HFModelDir::open(dir.path().string()); }, "is in both");
}

TEST(HFModelDir, MissingPieces) {
  TempDir dir;
  expect_error([&] { HFModelDir::open(dir / "nothing"); }, "not a directory");
  expect_error([&] { HFModelDir::open(dir.path().string()); }, "no config.json");
  write_text(dir / "config.json", R"({"model_type":"llama"})");
  expect_error([&] { HFModelDir::open(dir.path().string()); }, "no model.safetensors");
  write_text(dir / "config.json", R"({"model_type":)");
  expect_error([&] { HFModelDir::open(dir.path().string()); }, "invalid JSON");
}

}  // namespace
}  // namespace helix::io
