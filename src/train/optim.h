// Optimization: AdamW (PyTorch's torch.optim.AdamW update, decoupled weight decay), learning-rate
// schedules with linear warmup and cosine or linear decay (Hugging Face's
// get_{cosine,linear}_schedule_with_warmup), and gradient clipping by global norm
// (torch.nn.utils.clip_grad_norm_). Gradient accumulation is the trainer's: micro-batches add
// into the same gradients with grad_scale = 1 / (targets in the whole step).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "train/linear.h"

namespace helix::train {

struct AdamWConfig {
  float lr = 1e-4f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, weight_decay = 0.0f;
};

enum class Schedule { Constant, Linear, Cosine };
Schedule schedule_from_name(const std::string& name);  // "constant", "linear", "cosine"

// The learning-rate multiplier of optimizer step `step` (0-based) of `total`: step / warmup during
// warmup, then 1 (constant), 1 → 0 linearly, or half a cosine from 1 to 0.
float lr_factor(Schedule s, int64_t step, int64_t warmup, int64_t total);

// Scales all gradients so that their global L2 norm is at most max_norm (no-op for max_norm <= 0);
// returns the norm before clipping.
double clip_grad_norm(const std::vector<Param*>& params, double max_norm);

class AdamW {
 public:
  AdamW(std::vector<Param*> params, AdamWConfig cfg);
  // One update with learning rate lr (the schedule's value); increments the step count.
  void step(float lr);
  int64_t steps() const { return t_; }
  // Moments, for checkpoints: m then v of every parameter, in parameter order.
  std::vector<float>& moment(size_t i, bool second) { return second ? v_[i] : m_[i]; }
  void set_steps(int64_t t) { t_ = t; }
  const AdamWConfig& config() const { return cfg_; }

 private:
  std::vector<Param*> params_;
  AdamWConfig cfg_;
  std::vector<std::vector<float>> m_, v_;
  int64_t t_ = 0;
};

}  // namespace helix::train
