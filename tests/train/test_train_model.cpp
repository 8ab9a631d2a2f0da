// TrainModel's set-up: its hyper-parameters agree with the serving loader's for every
// architecture, its training forward computes the serving model's logits, and bad settings are
// reported clearly.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "model/tiny.h"
#include "train/model.h"

namespace helix::train {
namespace {

std::string tiny(const std::string& arch, DType type = DType::F32) {
  const std::string path = (std::filesystem::temp_directory_path() / ("helix_train_model_" + std::to_string(::getpid()) + "_" + arch + ".gguf")).string();
  model::TinySpec s;
  s.arch = arch;
  s.weight_type = type;
  s.n_embd = 64, s.n_ff = 128, s.n_head = 2, s.n_head_kv = 1, s.head_dim = 32, s.n_vocab = 300;
  model::write_tiny_model(s, path);
  return path;
}

TEST(TrainModel, HyperParametersMatchTheServingLoader) {
  for (const char* arch : {"llama", "qwen2", "gemma3", "ernie4_5"}) {
    const std::string path = tiny(arch);
    const auto f = gguf::GGUFFile::open(path);
    const model::HParams a = training_hparams(f), b = model::load_model(path)->hparams();
    EXPECT_EQ(a.rope_style, b.rope_style) << arch;
    EXPECT_EQ(a.n_swa, b.n_swa) << arch;
    EXPECT_EQ(a.swa_layers, b.swa_layers) << arch;
    EXPECT_EQ(a.rope_base, b.rope_base) << arch;
    EXPECT_EQ(a.rope_base_swa, b.rope_base_swa) << arch;
    EXPECT_EQ(a.attn_scale, b.attn_scale) << arch;
    EXPECT_EQ(a.n_vocab, b.n_vocab) << arch;
    EXPECT_EQ(a.final_logit_softcap, b.final_logit_softcap) << arch;
    std::filesystem::remove(path);
  }
}

// The training forward's loss equals the cross-entropy of the serving model's logits (one
// sequence, every position a target): both paths compute the same function.
TEST(TrainModel, LossAgreesWithServingLogits) {
  for (const char* arch : {"llama", "gemma3"}) {
    const std::string path = tiny(arch);
    TrainOptions o;
    o.lora_rank = 2;  // B = 0: the adapter adds nothing yet
    TrainModel m(path, o);
    const int64_t n = 12;  // crosses gemma3's window of 8
    Sample s;
    for (int64_t i = 0; i < n; ++i) {
      s.tokens.push_back(static_cast<int32_t>(5 + i * 7));
      s.loss.push_back(i > 0);
    }
    const TrainBatch b = make_batch({&s});
    const LossSum ls = m.evaluate(b);
    auto serving = model::load_model(path);
    model::KVCache kv(serving->hparams(), 64, 1);
    model::Batch mb;
    for (int64_t i = 0; i < n; ++i) mb.add(s.tokens[static_cast<size_t>(i)], i, 0, true);
    std::vector<float> logits;
    serving->forward(mb, kv, logits);
    const int64_t V = serving->hparams().n_vocab;
    double want = 0;
    for (int64_t i = 0; i + 1 < n; ++i) {
      const float* z = logits.data() + i * V;
      double mx = z[0], sum = 0;
      for (int64_t j = 0; j < V; ++j) mx = std::max(mx, static_cast<double>(z[j]));
      for (int64_t j = 0; j < V; ++j) sum += std::exp(z[j] - mx);
      want += mx + std::log(sum) - z[s.tokens[static_cast<size_t>(i + 1)]];
    }
    EXPECT_EQ(ls.count, n - 1);
    // The serving cache holds keys and values in f16: close, not equal.
    EXPECT_NEAR(ls.sum / static_cast<double>(ls.count), want / static_cast<double>(n - 1), 2e-3) << arch;
    std::filesystem::remove(path);
  }
}

// The LM head's packed copy and Q8_0 transpose (285 MiB on the default model) are made on the
// first LM loss only: a reward model's passes (forward_hidden) never build them. The tied case
// (the head is the embedding) is the default model's.
TEST(TrainModel, HeadCopiesAreMadeOnlyForAnLmLoss) {
  for (bool tied : {false, true}) {
    const std::string path = (std::filesystem::temp_directory_path() / ("helix_train_head_" + std::to_string(::getpid()) + ".gguf")).string();
    model::TinySpec spec;
    spec.weight_type = DType::Q8_0;
    spec.tied_output = tied;
    model::write_tiny_model(spec, path);
    TrainOptions o;
    o.lora_rank = 2;
    TrainModel m(path, o);
    Sample s;
    for (int i = 0; i < 8; ++i) {
      s.tokens.push_back(5 + i);
      s.loss.push_back(i > 0);
    }
    const TrainBatch b = make_batch({&s});
    const int64_t E = m.hparams().n_embd;
    m.forward_hidden(b, [&](const float*, float* dx) { std::fill_n(dx, E * b.size(), 0.01f); }, true);
    EXPECT_FALSE(m.head_prepared()) << "tied " << tied;
    EXPECT_GT(m.evaluate(b).count, 0);
    EXPECT_TRUE(m.head_prepared()) << "tied " << tied;
    std::filesystem::remove(path);
  }
}

TEST(TrainModel, ClearErrors) {
  const std::string path = tiny("llama", DType::Q8_0);
  TrainOptions full;
  full.mode = TrainMode::Full;
  try {
    TrainModel m(path, full);
    FAIL() << "full fine-tuning of a quantized model should be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("LoRA"), std::string::npos) << e.what();
  }
  TrainOptions zero;
  zero.lora_rank = 0;
  EXPECT_THROW(TrainModel(path, zero), Error);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace helix::train
