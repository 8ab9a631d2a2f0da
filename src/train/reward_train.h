// Training and evaluating reward models (reward.h, reward_data.h): `helix rm train RECIPE` and
// `helix rm score`.
//
// Training draws `batch` examples a step from the aspects by their weights (each aspect walked in a
// seeded shuffled order, reshuffled every epoch), packs them into one batch, and minimizes the mean
// per-example loss (Bradley–Terry for pairs, the mean binary cross-entropy of a record's steps)
// with AdamW: the LoRA factors at lr (when they train), the heads at head_lr, one warm-up + decay
// schedule and global-norm clipping. A frozen base (no trainable factors) runs forward only. Every
// checkpoint_every steps the state goes to WORK/rm.ckpt (trainer.h's checkpoint format), so a rerun
// of the same command after a crash or kill -9 resumes with the same curve. At the
// end the held-out sets are scored and the work folder (OUT.run) gets results.json, results.md
// and results.svg (the loss curve and held-out accuracy per aspect).
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "train/reward.h"
#include "train/reward_data.h"

namespace helix::train {

// Scores of many sequences, packed into forward passes of at most max_tokens tokens:
// out[i][k * n_heads + h] = head h at score position k of sequence i.
std::vector<std::vector<float>> score_sequences(RewardModel& m, const std::vector<const RmSeq*>& seqs,
                                                int64_t max_tokens,
                                                const std::function<void(size_t done, size_t total)>& progress = {});

// Held-out figures of one aspect.
struct RmEvalRow {
  std::string aspect;
  RmLevel level = RmLevel::Response;
  int64_t records = 0;
  // response: pairs ranked right (r_chosen > r_rejected; ties count half) / pairs
  // step: steps classified right ((r > 0) == label) / steps
  double accuracy = 0;
  int64_t n = 0;  // pairs, or steps
  // step: within each record, (good step, bad step) pairs ranked right / such pairs (NaN if none);
  // response: mean r_chosen − r_rejected
  double pairwise = 0;
  int64_t n_pairwise = 0;
};
RmEvalRow evaluate_aspect(RewardModel& m, int head, const std::vector<RmExample>& ex, int64_t max_tokens,
                          const std::function<void(size_t, size_t)>& progress = {});

struct RmTrainReport {
  int64_t step = 0, steps = 0;
  double loss = 0, accuracy = 0;  // this step's examples (pairs ranked right + steps classified right)
  double grad_norm = 0;
  float lr = 0;
  int64_t tokens = 0;
  double tokens_per_s = 0, eta_s = 0;
};

struct RmTrainOptions {
  std::string model_path;    // the base GGUF (resolved)
  std::string adapter_path;  // the recipe's adapter, resolved ("" : none)
  std::string out;           // "" : the recipe's out
  std::string work_dir;      // "" : OUT.run
  bool exact_base = false;
  int64_t max_steps = 0;     // > 0: at most this many steps (a quick trial)
  int64_t eval_tokens = 1024;  // tokens per scoring pass
  int64_t checkpoint_every = 10;  // steps between checkpoints (WORK/rm.ckpt; 0: none)
  std::function<void(const std::string&)> log;
  std::function<void(const RmTrainReport&)> progress;
  std::function<void(const std::string& aspect, size_t done, size_t total)> eval_progress;
};

// Trains, saves OUT, evaluates the held-out sets; returns results.json's content:
//   {"recipe", "model", "adapter", "out", "steps", "final_loss", "train_seconds",
//    "eval": [{"aspect", "level", "records", "accuracy", "n", "pairwise", "n_pairwise"}]}
nlohmann::ordered_json train_reward_model(const RmRecipe& rec, const RmTrainOptions& opt);

}  // namespace helix::train
