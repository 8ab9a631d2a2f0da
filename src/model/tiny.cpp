#include "model/tiny.h"

#include <algorithm>
#include <cstring>
#include <cmath>
#include <random>
#include <vector>

#include "core/error.h"
#include "io/gguf.h"
#include "quant/quant.h"

namespace helix::model {
namespace {

// "KEY=TYPE:VALUE" -> (KEY, Value).
std::pair<std::string, gguf::Value> parse_kv(const std::string& spec) {
  const size_t eq = spec.find('='), colon = spec.find(':', eq == std::string::npos ? 0 : eq);
  HELIX_CHECK(eq != std::string::npos && colon != std::string::npos, "metadata '", spec,
              "' should look like KEY=TYPE:VALUE (TYPE str, f32 or u32)");
  const std::string k = spec.substr(0, eq), type = spec.substr(eq + 1, colon - eq - 1), v = spec.substr(colon + 1);
  if (type == "str") return {k, gguf::Value::string(v)};
  if (type == "f32") return {k, gguf::Value::f32(std::stof(v))};
  if (type == "u32") return {k, gguf::Value::u32(static_cast<uint32_t>(std::stoul(v)))};
  throw Error(cat("metadata type '", type, "' in '", spec, "' is not one of str, f32, u32"));
}

}  // namespace

void write_tiny_model(const TinySpec& s, const std::string& path) {
  const std::string& a = s.arch;
  HELIX_CHECK(a == "llama" || a == "qwen2" || a == "gemma3" || a == "ernie4_5", "no tiny model for architecture '", a, "'");
  const bool gemma = a == "gemma3";
  const int64_t n_layer = gemma ? std::max<int64_t>(s.n_layer, 7) : s.n_layer;
  const int64_t E = s.n_embd, F = s.n_ff, Q = s.n_head * s.head_dim, KV = s.n_head_kv * s.head_dim, V = s.n_vocab;

  gguf::GGUFWriter w;
  w.set("general.architecture", gguf::Value::string(a));
  w.set("general.name", gguf::Value::string("helix tiny " + a));
  w.set(a + ".context_length", gguf::Value::u32(2048));
  w.set(a + ".embedding_length", gguf::Value::u32(static_cast<uint32_t>(E)));
  w.set(a + ".block_count", gguf::Value::u32(static_cast<uint32_t>(n_layer)));
  w.set(a + ".feed_forward_length", gguf::Value::u32(static_cast<uint32_t>(F)));
  w.set(a + ".attention.head_count", gguf::Value::u32(static_cast<uint32_t>(s.n_head)));
  w.set(a + ".attention.head_count_kv", gguf::Value::u32(static_cast<uint32_t>(s.n_head_kv)));
  w.set(a + ".attention.key_length", gguf::Value::u32(static_cast<uint32_t>(s.head_dim)));
  w.set(a + ".attention.value_length", gguf::Value::u32(static_cast<uint32_t>(s.head_dim)));
  w.set(a + ".rope.dimension_count", gguf::Value::u32(static_cast<uint32_t>(s.head_dim)));
  w.set(a + ".attention.layer_norm_rms_epsilon", gguf::Value::f32(1e-6f));
  w.set(a + ".rope.freq_base", gguf::Value::f32(gemma ? 1000000.0f : 10000.0f));
  if (gemma) w.set(a + ".attention.sliding_window", gguf::Value::u32(static_cast<uint32_t>(s.n_swa)));
  for (const std::string& kv : s.extra_kv) {
    auto [k, v] = parse_kv(kv);
    w.set(k, std::move(v));
  }

  // A SentencePiece-style vocabulary: <unk> <s> </s>, 256 byte tokens, then words.
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<float> scores = {0, 0, 0};
  std::vector<int32_t> types = {2, 3, 3};
  char buf[16];
  for (int b = 0; b < 256; ++b) {
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    tokens.emplace_back(buf);
    scores.push_back(0);
    types.push_back(6);
  }
  for (int64_t i = static_cast<int64_t>(tokens.size()); i < V; ++i) {
    tokens.push_back("\xe2\x96\x81w" + std::to_string(i));
    scores.push_back(-static_cast<float>(i));
    types.push_back(1);
  }
  w.set("tokenizer.ggml.model", gguf::Value::string("llama"));
  w.set("tokenizer.ggml.tokens", gguf::Value::string_array(tokens));
  w.set("tokenizer.ggml.scores", gguf::Value::f32_array(scores));
  w.set("tokenizer.ggml.token_type", gguf::Value::i32_array(types));
  w.set("tokenizer.ggml.bos_token_id", gguf::Value::u32(1));
  w.set("tokenizer.ggml.eos_token_id", gguf::Value::u32(2));
  w.set("tokenizer.ggml.unknown_token_id", gguf::Value::u32(0));

  std::mt19937_64 rng(s.seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<std::vector<uint8_t>> blobs;  // kept alive until write()
  auto add = [&](const std::string& name, int64_t ne0, int64_t ne1, float scale, float offset, bool matrix) {
    if (std::find(s.drop_tensors.begin(), s.drop_tensors.end(), name) != s.drop_tensors.end()) return;
    const DType t = matrix ? s.weight_type : DType::F32;
    std::vector<float> vals(static_cast<size_t>(ne0 * ne1));
    for (auto& v : vals) v = offset + scale * normal(rng);
    std::vector<uint8_t> bytes(dtype_row_bytes(t, ne0) * static_cast<size_t>(ne1));
    for (int64_t r = 0; r < ne1; ++r)
      quant::quantize_row(t, vals.data() + r * ne0, bytes.data() + static_cast<size_t>(r) * dtype_row_bytes(t, ne0), ne0);
    blobs.push_back(std::move(bytes));
    w.add_tensor(name, t, Shape{ne0, ne1, 1, 1}, matrix ? 2 : 1, blobs.back().data());
  };
  const auto inv = [](int64_t n) { return 1.0f / std::sqrt(static_cast<float>(n)); };
  add("token_embd.weight", E, V, gemma ? 0.05f : 1.0f, 0.0f, true);
  add("output_norm.weight", E, 1, 0.1f, 1.0f, false);
  if (s.rope_freqs) {  // like Llama 3.1's: 1 for the fast-turning pairs, rising to 8 for the slow
    const int64_t half = s.head_dim / 2;
    std::vector<float> ff(static_cast<size_t>(half));
    for (int64_t i = 0; i < half; ++i) ff[static_cast<size_t>(i)] = 1.0f + 7.0f * std::pow(static_cast<float>(i) / static_cast<float>(half - 1), 2.0f);
    std::vector<uint8_t> bytes(ff.size() * 4);
    std::memcpy(bytes.data(), ff.data(), bytes.size());
    blobs.push_back(std::move(bytes));
    w.add_tensor("rope_freqs.weight", DType::F32, Shape{half, 1, 1, 1}, 1, blobs.back().data());
  }
  for (const std::string& name : s.extra_tensors) add(name, E, 1, 0.1f, 0.0f, false);
  if (!s.tied_output) add("output.weight", E, V, inv(E), 0.0f, true);
  for (int64_t il = 0; il < n_layer; ++il) {
    const std::string p = "blk." + std::to_string(il) + ".";
    add(p + "attn_norm.weight", E, 1, 0.1f, 1.0f, false);
    add(p + "attn_q.weight", E, Q, inv(E), 0.0f, true);
    add(p + "attn_k.weight", E, KV, inv(E), 0.0f, true);
    add(p + "attn_v.weight", E, KV, inv(E), 0.0f, true);
    if (a == "qwen2") {
      add(p + "attn_q.bias", Q, 1, 0.1f, 0.0f, false);
      add(p + "attn_k.bias", KV, 1, 0.1f, 0.0f, false);
      add(p + "attn_v.bias", KV, 1, 0.1f, 0.0f, false);
    }
    if (gemma) {
      add(p + "attn_q_norm.weight", s.head_dim, 1, 0.1f, 1.0f, false);
      add(p + "attn_k_norm.weight", s.head_dim, 1, 0.1f, 1.0f, false);
    }
    add(p + "attn_output.weight", Q, E, inv(Q), 0.0f, true);
    if (gemma) add(p + "post_attention_norm.weight", E, 1, 0.1f, 1.0f, false);
    add(p + "ffn_norm.weight", E, 1, 0.1f, 1.0f, false);
    add(p + "ffn_gate.weight", E, F, inv(E), 0.0f, true);
    add(p + "ffn_up.weight", E, F, inv(E), 0.0f, true);
    add(p + "ffn_down.weight", F, E, inv(F), 0.0f, true);
    if (gemma) add(p + "post_ffw_norm.weight", E, 1, 0.1f, 1.0f, false);
  }
  w.write(path);
}

}  // namespace helix::model
