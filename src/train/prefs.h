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
//   rm   reward-model-weighted likelihood: −[q_c·log π(c)/|c| + q_r·log π(r)/|r|] per pair, with
//        q_c = σ((s(c) − s(r))/τ), q_r = 1 − q_c and s(y) = Σ_a w_a·r_a(y) the reward model's
//        aspect scores of the answer (its response-level heads, weighted by rm_aspects). This is
//        reward-weighted regression (Peters & Schaal 2007; AWR, Peng et al. 2019) on the pair's
//        two answers: the likelihood-weighted fit whose target is π ∝ exp(s/τ) over them, the
//        closed form of maximising E[s] − τ·KL. The scores are computed once per pair (cached like
//        the reference's), so the term costs one reward-model forward per pair, not sampling.
// with log π(x) the summed log-probability of an answer's tokens before its end of turn (the prompt
// carries no loss; sft and kl also cover the end-of-turn token, the other terms leave it out: both
// answers end with it, and DPO pushing it down after rejected answers taught the model not to stop
// after ordinary sentences, so `helix run` printed more text after the answer), each
// a mean over the step's pairs, each weight on its own schedule (LossTerm). The frozen reference
// is the stage's starting adapter ("start": base + the adapter the stage begins from) or the bare
// base ("base"); its per-token log-probabilities are computed once per pair, by the same model
// with the reference's LoRA values swapped in, and cached on disk next to the stage's checkpoint,
// so a resumed run reads instead of recomputing them. Reported per step as TRL does:
// rewards/chosen = β·(log π(c) − log π_ref(c)), rewards/rejected likewise, reward accuracy (share
// of pairs whose chosen reward exceeds the rejected one) and the margin (their mean difference).
#pragma once

#include <cstdint>
#include <functional>
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
// The conversation of a preference or reward record (reward_data.h) with `answer` as its last
// turn, for SampleRenderer::render: "system" (optional) and "prompt" as a user turn, or "messages",
// then the answer (its text, an assistant message, or messages ending with the assistant's turn),
// and the record's "tools". Without "prompt" and "messages" the answer must be a whole
// conversation (TRL's implicit prompt), or with require_prompt it is an error. Throws BadData
// naming `key` (the answer's field).
nlohmann::ordered_json pair_conversation(const nlohmann::ordered_json& record, const nlohmann::ordered_json& answer,
                                         const char* key, bool require_prompt);
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

// What the rm term needs from a reward model: the combined score s(y) at each position of a
// batch (an answer's last token), and a fingerprint naming the model and weights (cache key).
struct PairScorer {
  std::function<std::vector<float>(const TrainBatch& b, const std::vector<int64_t>& positions)> score;
  std::string fingerprint;
};
// The rm term's weights of a pair: {q_c, q_r} for scores s_c, s_r at temperature tau.
std::pair<double, double> rm_pair_weights(double s_chosen, double s_rejected, double tau);

// The StepObjective of a preference stage. `sets` are the stage's pair sets (the trainer's mix
// draws from them); `heldout` an optional held-out pair set; both must outlive the objective.
// Construct it after the model holds the stage's starting values and before a checkpoint is
// loaded: those values are the reference ("start"; "base" zeroes the LoRA B factors). The cache
// file (cache_path, "" for none) is read here when it matches these data and this reference (and
// for the rm term's scores, this scorer's fingerprint). `rm` is required when the rm term is listed.
class PrefObjective : public StepObjective {
 public:
  PrefObjective(TrainModel& m, const PrefSettings& s, const std::vector<const std::vector<Sample>*>& sets,
                const std::vector<Sample>* heldout, std::string cache_path, int64_t eval_tokens = 1024,
                PairScorer rm = {});
  double accumulate(TrainModel& m, const std::vector<TrainBatch>& mbs, const std::vector<std::vector<const Sample*>>& samples,
                    int64_t step, int64_t steps, nlohmann::ordered_json& entry) override;
  void save() override;
  // Held-out pair metrics with the model's current values (PairStats::json(); null without a set).
  nlohmann::ordered_json evaluate_heldout(TrainModel& m);
  int64_t cached() const { return static_cast<int64_t>(ref_.size()); }  // pairs with reference values
  int64_t rm_cached() const { return static_cast<int64_t>(rm_.size()); }  // pairs with reward scores

 private:
  struct Span {  // a pair's answer tokens in a batch: target positions of each half
    std::vector<int64_t> chosen, rejected;
  };
  std::vector<Span> spans(const TrainBatch& b, const std::vector<const Sample*>& pairs) const;
  static PairLogps pair_logps(const Span& sp, const std::vector<float>& loss, const std::vector<float>& ref);
  void ensure_reference(TrainModel& m, const TrainBatch& b, const std::vector<const Sample*>& pairs);
  void swap_reference(TrainModel& m);
  void ensure_rm(const TrainBatch& b, const std::vector<const Sample*>& pairs);
  void load_cache();

  PrefSettings s_;
  std::unordered_map<const Sample*, int64_t> id_;  // pair -> its index (train sets in order, then held-out)
  std::vector<const Sample*> heldout_;
  std::map<int64_t, std::vector<float>> ref_;     // pair index -> reference log p per answer target token
  std::vector<std::vector<float>> ref_values_;    // the reference's trainable values, model.trainable() order
  PairScorer rm_scorer_;
  std::map<int64_t, std::pair<float, float>> rm_;  // pair index -> reward scores (chosen, rejected)
  std::string cache_path_, fingerprint_;
  int64_t eval_tokens_;  // held-out pairs per forward: up to this many tokens (memory grows with it)
  bool dirty_ = false;
};

}  // namespace helix::train
