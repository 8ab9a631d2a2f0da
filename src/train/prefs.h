// Preference training: pairs of a preferred (chosen) and a dispreferred (rejected) answer to one
// prompt, and the objective of a preference stage (recipe.h: type = "dpo" or a `losses` list), a
// weighted sum of
//   dpo  −(1−ε)·log σ(h) − ε·log σ(−h),  h = β·[(log π(c) − log π_ref(c)) − (log π(r) − log π_ref(r))]
//        (Rafailov et al. 2023; ε = label_smoothing > 0 is conservative DPO, Mitchell 2023)
//   ipo  (h' − 1/(2β))², h' the same difference of log-ratios with each log-probability averaged
//        over its answer's tokens (Azar et al. 2023, as TRL's loss_type = "ipo" computes it)
//   sft  mean cross-entropy of the chosen answers' tokens
//   kl   mean over all answer tokens of ½·(log π(y_t) − log π_ref(y_t))², an estimate at the
//        data's tokens of KL(π‖π_ref) (Schulman's k2); it keeps the policy near the reference
// with log π(x) the summed log-probability of an answer's tokens (the prompt carries no loss), each
// a mean over the step's pairs, each weight on its own schedule (LossTerm). The frozen reference
// is the stage's starting adapter ("start": base + the adapter the stage begins from) or the bare
// base ("base"); its per-token log-probabilities are computed once per pair, by the same model
// with the reference's LoRA values swapped in, and cached on disk next to the stage's checkpoint,
// so a resumed run reads instead of recomputing them. Reported per step as TRL does:
// rewards/chosen = β·(log π(c) − log π_ref(c)), rewards/rejected likewise, reward accuracy (share
// of pairs whose chosen reward exceeds the rejected one) and the margin (their mean difference).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "train/data.h"
#include "train/recipe.h"
#include "train/trainer.h"

namespace helix::train {

// Preference pairs from JSONL, one per line:
//   {"prompt": "text" | "messages": [the conversation before the answer], "system": "..." (optional),
//    "chosen": A, "rejected": A, "tools": [...] (optional), "meta": {...} (optional)}
// where A is the answer's text, an assistant message, or a list of messages ending with the
// assistant's turn (TRL's conversational form). Without prompt and messages, chosen and rejected
// are whole conversations that differ only in their last turn (TRL's implicit prompt). Each pair is
// one Sample with `split` (data.h): the chosen sample, then the rejected one, each with loss only on
// its final assistant turn. Bad pairs (missing keys, equal answers, ...) throw BadData.
Sample render_pair(const SampleRenderer& r, const nlohmann::ordered_json& record);
LoadResult load_pairs(const std::string& path, const std::string& type, const SampleRenderer& r, const LoadOptions& opt);

// One pair's summed log-probabilities under the policy and the reference, and answer lengths.
struct PairLogps {
  double chosen = 0, rejected = 0, ref_chosen = 0, ref_rejected = 0;
  int64_t n_chosen = 1, n_rejected = 1;
};
// A pair loss and its derivatives with respect to log π(chosen) and log π(rejected).
struct PairTerm {
  double loss = 0, d_chosen = 0, d_rejected = 0;
};
PairTerm dpo_term(const PairLogps& p, double beta, double label_smoothing);
PairTerm ipo_term(const PairLogps& p, double beta);

// Pair metrics over a set of pairs (a training step, a held-out set): means of the losses and rewards.
class PairStats {
 public:
  explicit PairStats(const PrefSettings& s) : s_(s) {}
  void add(const PairLogps& p);
  // {"pairs", "reward_accuracy", "margin", "chosen_reward", "rejected_reward", "dpo", "ipo"}
  nlohmann::ordered_json json() const;

 private:
  const PrefSettings& s_;
  int64_t n_ = 0;
  double dpo_ = 0, ipo_ = 0, chosen_ = 0, rejected_ = 0, correct_ = 0;
};

// The StepObjective of a preference stage. `sets` are the stage's pair sets (the trainer's mix
// draws from them); `heldout` an optional held-out pair set; both must outlive the objective.
// Construct it after the model holds the stage's starting values and before a checkpoint is
// loaded: those values are the reference ("start"; "base" zeroes the LoRA B factors). The cache
// file (cache_path, "" for none) is read here when it matches these data and this reference.
class PrefObjective : public StepObjective {
 public:
  PrefObjective(TrainModel& m, const PrefSettings& s, const std::vector<const std::vector<Sample>*>& sets,
                const std::vector<Sample>* heldout, std::string cache_path, int64_t eval_tokens = 1024);
  double accumulate(TrainModel& m, const std::vector<TrainBatch>& mbs, const std::vector<std::vector<const Sample*>>& samples,
                    int64_t step, int64_t steps, nlohmann::ordered_json& entry) override;
  void save() override;
  // Held-out pair metrics with the model's current values (PairStats::json(); null without a set).
  nlohmann::ordered_json evaluate_heldout(TrainModel& m);
  int64_t cached() const { return static_cast<int64_t>(ref_.size()); }  // pairs with reference values

 private:
  struct Span {  // a pair's answer tokens in a batch: target positions of each half
    std::vector<int64_t> chosen, rejected;
  };
  std::vector<Span> spans(const TrainBatch& b, const std::vector<const Sample*>& pairs) const;
  static PairLogps pair_logps(const Span& sp, const std::vector<float>& loss, const std::vector<float>& ref);
  void ensure_reference(TrainModel& m, const TrainBatch& b, const std::vector<const Sample*>& pairs);
  void swap_reference(TrainModel& m);
  void load_cache();

  PrefSettings s_;
  std::unordered_map<const Sample*, int64_t> id_;  // pair -> its index (train sets in order, then held-out)
  std::vector<const Sample*> heldout_;
  std::map<int64_t, std::vector<float>> ref_;     // pair index -> reference log p per answer target token
  std::vector<std::vector<float>> ref_values_;    // the reference's trainable values, model.trainable() order
  std::string cache_path_, fingerprint_;
  int64_t eval_tokens_;  // held-out pairs per forward: up to this many tokens (memory grows with it)
  bool dirty_ = false;
};

}  // namespace helix::train
