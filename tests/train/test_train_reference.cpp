// One whole training step (loss and every trainable parameter's gradient) against PyTorch
// autograd in float64 (tests/python/make_train_reference.py wrote the references, with torch
// 1.13): tiny models of llama, qwen2, gemma3 (sliding-window and global layers, q/k norms,
// post-norms, GELU) and ernie4_5; full fine-tuning of F32 models and LoRA on F32, Q8_0 and Q4_K
// bases. The batch packs two samples with loss masks, so cross-sample masking, the window and
// the chunked head all take part.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <tuple>

#include "io/gguf.h"
#include "train/model.h"
#include "train_test_util.h"

namespace helix::train {
namespace {

struct Case {
  std::string arch, kind;
  bool exact;  // TrainOptions::exact_base
  double tol;  // max |grad − ref| ≤ tol · max |ref| per parameter
};

class TrainReference : public ::testing::TestWithParam<Case> {};

// The options a reference was made with, and one training step of its batch on a TrainModel.
TrainOptions reference_options(const gguf::GGUFFile& ref, bool exact) {
  TrainOptions opt;
  opt.mode = ref.get_string("ref.mode", "") == "full" ? TrainMode::Full : TrainMode::Lora;
  opt.lora_rank = static_cast<int64_t>(ref.get_uint("ref.lora_rank", 0));
  opt.lora_alpha = static_cast<float>(ref.get_float("ref.lora_alpha", 0));
  opt.head_chunk = 3;  // several chunks for the 12 target positions
  opt.exact_base = exact;
  return opt;
}

std::unique_ptr<TrainModel> reference_step(const gguf::GGUFFile& ref, const std::string& model_path,
                                           const TrainOptions& opt, LossSum* loss) {
  auto m = std::make_unique<TrainModel>(model_path, opt);
  for (Param* p : m->trainable())
    if (opt.mode == TrainMode::Lora) p->value = values<float>(ref, "init." + p->name);
  const TrainBatch b = stored_batch(ref, "batch.");
  *loss = m->forward_backward(b, 1.0f / static_cast<float>(b.n_targets()));
  return m;
}

TEST_P(TrainReference, StepMatchesPyTorch) {
  const Case c = GetParam();
  const std::string name = c.arch + "_" + c.kind + ".gguf";
  const gguf::GGUFFile ref = gguf::GGUFFile::open(kRefDir + name);
  const std::string model_path = write_model(ref, name);
  ASSERT_EQ(fnv1a64(model_path), ref.get_string("ref.model_fnv1a64", ""))
      << "the tiny model differs from the one the reference was made from; rerun "
         "tests/python/make_train_reference.py if the tiny-model writer changed on purpose";
  LossSum loss;
  auto m = reference_step(ref, model_path, reference_options(ref, c.exact), &loss);
  const int64_t n = stored_batch(ref, "batch.").n_targets();
  EXPECT_EQ(loss.count, n);
  EXPECT_NEAR(loss.sum / static_cast<double>(n), ref.get_float("ref.loss", 0), c.tol * 0.1) << "loss";
  int checked = 0;
  const double worst = check_grads(*m, ref, "grad.", c.tol, &checked);
  EXPECT_GT(checked, 0);
  std::printf("%s: %d parameters, worst relative error %.2e (tolerance %.2g)\n", name.c_str(), checked, worst, c.tol);
  std::filesystem::remove(model_path);
}

// Activation checkpointing (TrainOptions::checkpoint_activations) recomputes each block's
// activations in the backward from its saved input: the loss and every gradient equal the plain
// step's bit for bit (the same code on the same inputs), so they also match PyTorch within the
// plain step's tolerance. With LoRA dropout the recomputed forward must draw the same masks.
class CheckpointedStep : public ::testing::TestWithParam<std::tuple<std::string, std::string, float>> {};

TEST_P(CheckpointedStep, EqualsThePlainStepAndPyTorch) {
  const auto& [arch, kind, dropout] = GetParam();
  const std::string name = arch + "_" + kind + ".gguf";
  const gguf::GGUFFile ref = gguf::GGUFFile::open(kRefDir + name);
  const std::string model_path = write_model(ref, name);
  TrainOptions opt = reference_options(ref, false);
  opt.lora_dropout = dropout;
  LossSum plain_loss, ckpt_loss;
  auto plain = reference_step(ref, model_path, opt, &plain_loss);
  opt.checkpoint_activations = true;
  auto ckpt = reference_step(ref, model_path, opt, &ckpt_loss);
  EXPECT_EQ(ckpt_loss.sum, plain_loss.sum);
  const auto a = plain->trainable(), b = ckpt->trainable();
  ASSERT_EQ(a.size(), b.size());
  size_t differ = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i]->name, b[i]->name);
    if (a[i]->grad != b[i]->grad) {
      ++differ;
      ADD_FAILURE() << a[i]->name << ": the checkpointed gradient differs from the plain step's";
    }
  }
  EXPECT_EQ(differ, 0u);
  if (dropout == 0) {
    int checked = 0;
    check_grads(*ckpt, ref, "grad.", kind == "lora_q8_0" ? 0.25 : 1e-3, &checked);  // as TrainReference's cases
    EXPECT_EQ(checked, static_cast<int>(b.size()));
  }
  std::filesystem::remove(model_path);
}

INSTANTIATE_TEST_SUITE_P(Archs, CheckpointedStep,
                         ::testing::Combine(::testing::Values("llama", "qwen2", "gemma3", "ernie4_5"),
                                            ::testing::Values("full_f32", "lora_f32", "lora_q8_0"),
                                            ::testing::Values(0.0f, 0.1f)),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" + std::get<1>(info.param) +
                                  (std::get<2>(info.param) > 0 ? "_dropout" : "");
                         });

// F32 weights, and quantized bases with exact_base (dequantized rows times f32 activations):
// float32 arithmetic against float64, 1e-3 of each parameter's largest gradient (measured: at
// most 3e-6). Quantized bases through the serving matmul (8-bit activations): 0.25 (measured: up
// to 0.17 on the seven-layer gemma3, 4e-2 on the two-layer models) — the cost of int8
// activations on gradients, which a training run can choose.
std::vector<Case> cases() {
  std::vector<Case> out;
  for (const char* a : {"llama", "qwen2", "gemma3", "ernie4_5"}) {
    out.push_back({a, "full_f32", false, 1e-3});
    out.push_back({a, "lora_f32", false, 1e-3});
    for (const char* k : {"lora_q8_0", "lora_q4_k"}) {
      out.push_back({a, k, true, 1e-3});
      out.push_back({a, k, false, 0.25});
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Archs, TrainReference, ::testing::ValuesIn(cases()),
                         [](const auto& info) {
                           return info.param.arch + "_" + info.param.kind + (info.param.exact ? "_exact" : "_int8");
                         });

}  // namespace
}  // namespace helix::train
