#include "train/optim.h"

#include <cmath>
#include <numbers>

#include "core/error.h"
#include "train/ops.h"

namespace helix::train {

Schedule schedule_from_name(const std::string& name) {
  if (name == "constant") return Schedule::Constant;
  if (name == "linear") return Schedule::Linear;
  if (name == "cosine") return Schedule::Cosine;
  throw Error(cat("unknown learning-rate schedule '", name, "'; use constant, linear or cosine"));
}

float lr_factor(Schedule s, int64_t step, int64_t warmup, int64_t total) {
  if (step < warmup) return static_cast<float>(step) / static_cast<float>(std::max<int64_t>(1, warmup));
  if (s == Schedule::Constant) return 1.0f;
  const double progress = static_cast<double>(step - warmup) / static_cast<double>(std::max<int64_t>(1, total - warmup));
  if (s == Schedule::Linear) return static_cast<float>(std::max(0.0, 1.0 - progress));
  return static_cast<float>(std::max(0.0, 0.5 * (1.0 + std::cos(std::numbers::pi * progress))));
}

double clip_grad_norm(const std::vector<Param*>& params, double max_norm) {
  double ss = 0;
  for (const Param* p : params)
    for (float g : p->grad) ss += static_cast<double>(g) * g;
  const double norm = std::sqrt(ss);
  if (max_norm > 0 && norm > max_norm) {
    const float c = static_cast<float>(max_norm / (norm + 1e-6));
    for (Param* p : params)
      for (float& g : p->grad) g *= c;
  }
  return norm;
}

AdamW::AdamW(std::vector<Param*> params, AdamWConfig cfg) : params_(std::move(params)), cfg_(cfg) {
  for (const Param* p : params_) {
    HELIX_CHECK(p->grad.size() == p->value.size(), "parameter '", p->name, "' is not trainable");
    m_.emplace_back(p->value.size(), 0.0f);
    v_.emplace_back(p->value.size(), 0.0f);
  }
}

// PyTorch's AdamW: p ← p·(1 − lr·wd); m ← β1·m + (1 − β1)·g; v ← β2·v + (1 − β2)·g²;
// p ← p − (lr / (1 − β1^t)) · m / (sqrt(v) / sqrt(1 − β2^t) + eps).
void AdamW::step(float lr) {
  ++t_;
  const double bc1 = 1.0 - std::pow(static_cast<double>(cfg_.beta1), static_cast<double>(t_));
  const double bc2 = 1.0 - std::pow(static_cast<double>(cfg_.beta2), static_cast<double>(t_));
  const float step_size = static_cast<float>(lr / bc1), inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
  const float decay = 1.0f - lr * cfg_.weight_decay, b1 = cfg_.beta1, b2 = cfg_.beta2, eps = cfg_.eps;
  for (size_t i = 0; i < params_.size(); ++i) {
    float* p = params_[i]->value.data();
    const float* g = params_[i]->grad.data();
    float* m = m_[i].data();
    float* v = v_[i].data();
    parallel_rows(params_[i]->numel(), 4096, [&](int64_t b, int64_t e) {
      for (int64_t j = b; j < e; ++j) {
        p[j] *= decay;
        m[j] = b1 * m[j] + (1.0f - b1) * g[j];
        v[j] = b2 * v[j] + (1.0f - b2) * g[j] * g[j];
        p[j] -= step_size * m[j] / (std::sqrt(v[j]) * inv_sqrt_bc2 + eps);
      }
    });
  }
}

}  // namespace helix::train
