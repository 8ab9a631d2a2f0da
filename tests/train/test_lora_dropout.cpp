// LoRA dropout: the adapter's input is masked and scaled in training forwards only, the masks are
// a function of (seed, step, call) so a resumed run draws the same ones, and the gradients of the
// factors and of the input through the masked branch match central finite differences.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "model/tiny.h"
#include "train/model.h"

namespace helix::train {
namespace {

TEST(LoraDropout, MasksAreSeededAndGradientsMatchFiniteDifferences) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("helix_dropout_" + std::to_string(::getpid()) + ".gguf")).string();
  model::TinySpec spec;
  spec.n_embd = 32, spec.n_ff = 64, spec.n_head = 2, spec.n_head_kv = 1, spec.head_dim = 16, spec.n_vocab = 272;
  model::write_tiny_model(spec, path);
  TrainOptions o;
  o.lora_rank = 4;
  o.lora_dropout = 0.3f;
  o.lora_b_init_std = 0.1f;  // B != 0, so the adapter (and its dropout) changes the loss
  o.lora_targets = {"attn_q", "ffn_down"};
  o.exact_base = true;
  TrainModel m(path, o);
  Sample s;
  for (int i = 0; i < 14; ++i) s.tokens.push_back(3 + (i * 37) % 260), s.loss.push_back(i > 3);
  const TrainBatch b = make_batch({&s});
  auto loss_at_step = [&](uint64_t step) {
    m.set_dropout_step(step);
    m.zero_grad();
    return m.forward_backward(b, 1.0f).sum;
  };
  const double l0 = loss_at_step(0);
  EXPECT_EQ(loss_at_step(0), l0);                  // same step, same masks
  EXPECT_NE(loss_at_step(1), l0);                  // another step, other masks
  EXPECT_NE(m.evaluate(b).sum, l0);                // evaluation runs without dropout
  TrainOptions plain = o;
  plain.lora_dropout = 0;
  TrainModel p(path, plain);
  EXPECT_EQ(p.evaluate(b).sum, m.evaluate(b).sum);  // ... and equals the model without dropout
  // Gradients with the step-0 masks against central differences.
  loss_at_step(0);
  std::vector<Param*> params = m.trainable();
  ASSERT_EQ(params.size(), 2u * 2u * 2u);  // 2 layers x 2 projections x (A, B)
  int checked = 0;
  for (Param* q : params) {
    const std::vector<float> grad = q->grad;
    for (size_t i = 0; i < q->value.size(); i += q->value.size() / 3 + 1) {
      const float v = q->value[i], h = 3e-3f;
      q->value[i] = v + h;
      const double up = loss_at_step(0);
      q->value[i] = v - h;
      const double down = loss_at_step(0);
      q->value[i] = v;
      const double fd = (up - down) / (2 * h);
      EXPECT_NEAR(grad[i], fd, 2e-2 * std::max(1.0, std::abs(fd))) << q->name << "[" << i << "]";
      ++checked;
    }
  }
  EXPECT_GE(checked, 16);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace helix::train
