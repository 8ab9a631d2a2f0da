// Reward models (issue 14): a base model (TrainModel: a frozen base, with or without LoRA factors,
// which may train or stay frozen) plus scalar heads on the final hidden state after the final
// norm, one head per aspect (multi-granularity: format, citation, politeness, ...), each at one
// level (multi-level):
//   response  one score at the response's last token (its end-of-turn token), trained on
//             chosen/rejected pairs with the Bradley–Terry loss  −log σ(r_chosen − r_rejected − margin)
//   step      a score at the last token of every step (process reward), trained on per-step 0/1
//             labels with binary cross-entropy on the logit  −[y log σ(r) + (1−y) log(1−σ(r))]
// Head h on hidden state x (n_embd): r = w_h · rmsnorm(x; output_norm) + b_h. The heads' gradient
// flows back through the final norm into the base (TrainModel::forward_hidden), so LoRA factors
// learn with them.
//
// Saved as one GGUF (save_reward_model): general.type = "reward_model", the base's architecture,
// helix.rm.aspects / helix.rm.levels (parallel string arrays), helix.rm.base_model,
// helix.rm.step_separator, helix.chat_template, tensors rm.head.<aspect>.weight ([n_embd], f32) and
// rm.head.<aspect>.bias ([1]); with an adapter also adapter.lora.alpha and the LoRA factors in
// llama.cpp's layout ("<base weight>.lora_a" ne = {n_in, rank}, ".lora_b" ne = {rank, n_out}).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "train/model.h"

namespace helix::train {

enum class RmLevel { Response, Step };
const char* rm_level_name(RmLevel l);                 // "response" | "step"
RmLevel rm_level_from_name(const std::string& name);  // throws for anything else

struct RmHead {
  std::string aspect;
  RmLevel level = RmLevel::Response;
  Param w, b;  // w: [n_embd], b: [1] (both trainable)
  bool shapes_base = true;  // its gradient reaches the base (when the base trains)
};

// What one packed batch is trained on; positions index the TrainBatch.
struct RmPairTerm {
  int head = 0;
  int64_t chosen = 0, rejected = 0;
  float weight = 1;
};
struct RmStepTerm {
  int head = 0;
  int64_t pos = 0;
  float label = 0;  // 0..1
  float weight = 1;
};
struct RmTerms {
  std::vector<RmPairTerm> pairs;
  std::vector<RmStepTerm> steps;
  float margin = 0;
};

struct RmLoss {
  double pair = 0, step = 0;  // Σ weight·loss of each kind
  int64_t n_pairs = 0, n_steps = 0, pairs_right = 0, steps_right = 0;  // r_c > r_r; (r > 0) == (label >= 0.5)
  double total() const { return pair + step; }
};

class RewardModel {
 public:
  // Heads start at zero (every score 0) unless seed != 0: then w ~ N(0, 0.02), as a fresh linear layer.
  RewardModel(std::unique_ptr<TrainModel> base, const std::vector<std::pair<std::string, RmLevel>>& heads,
              uint64_t seed);

  TrainModel& base() { return *base_; }
  const TrainModel& base() const { return *base_; }
  std::vector<RmHead>& heads() { return heads_; }
  const std::vector<RmHead>& heads() const { return heads_; }
  int head_index(const std::string& aspect) const;  // -1 when absent
  std::vector<Param*> head_params();

  // Whether the backward goes on into the base's trainable parameters (default); without, the
  // base runs forward only and only the heads get gradients (a frozen base or adapter).
  void set_train_base(bool on) { train_base_ = on; }
  bool train_base() const { return train_base_; }
  // Forward (and with backward, the backward) of a packed batch: returns Σ weight·loss over the
  // terms; gradients accumulate grad_scale · d(Σ weight·loss)/dθ into the heads and (train_base)
  // into the base's trainable parameters (LoRA dropout applies then).
  RmLoss forward_backward(const TrainBatch& b, const RmTerms& terms, float grad_scale, bool backward);
  // Every head's score at each position: out[i * n_heads + h].
  std::vector<float> scores(const TrainBatch& b, const std::vector<int64_t>& pos);

 private:
  // rmsnorm of the hidden state at each position into xn ([n_embd] per position), then scores.
  void head_forward(const float* x, const std::vector<int64_t>& pos, std::vector<float>& xn, std::vector<float>& r) const;

  std::unique_ptr<TrainModel> base_;
  std::vector<RmHead> heads_;
  bool train_base_ = true;
};

// ---- files ------------------------------------------------------------------------------------
struct RmFileInfo {
  std::string name;            // general.name
  std::string base_model;      // the base GGUF it was trained on (as resolved at training)
  std::string chat_template;   // the template prompts are rendered with ("" : the model's)
  std::string step_separator = "\n";
  bool has_adapter = false;    // LoRA factors are part of the file
};

// Writes the heads (and the base's LoRA factors when info.has_adapter) atomically.
void save_reward_model(const RewardModel& m, const RmFileInfo& info, const std::string& path);
// The file's description without loading a model (throws naming the file when it is not a reward model).
RmFileInfo read_reward_model_info(const std::string& path);
// Loads a reward model on `base_model_path` ("" : the file's helix.rm.base_model). Checks that the
// base has the file's architecture and width; the scores equal those of the saved model.
std::unique_ptr<RewardModel> load_reward_model(const std::string& path, const std::string& base_model_path,
                                               bool exact_base, RmFileInfo* info);

}  // namespace helix::train
