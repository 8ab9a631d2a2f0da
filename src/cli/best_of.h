// Best-of-N with a reward model (src/train/reward.h), for `helix run --best-of N --rm RM` and for
// `helix serve --rm NAME=FILE` (the API's best_of, server/rerank.h):
//   - run: N sampled replies to the chat prompt (seeds S, S+1, ...), each scored; the best reply goes
//     to stdout and every sample's scores to stderr. The ranking score is the head named by
//     --rm-aspect, else the mean of the model's response-level heads.
//   - RewardScorer: a loaded reward model that scores one reply exactly as `helix rm score` does.
//   - sample_replies: the N samples of run's best-of (also `helix rm answer`, cmd_rm.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cli/gen_options.h"
#include "server/rerank.h"

namespace helix::train {
class RewardModel;
class RmRenderer;
class SampleRenderer;
}  // namespace helix::train

namespace helix::cli {

struct BestOf {
  int64_t n = 0;  // 0: off
  std::string rm, aspect;
};

// Takes --best-of N, --rm FILE and --rm-aspect NAME out of args (before the generation options are
// parsed); throws for a missing or bad value.
void take_best_of_flags(std::vector<char*>& args, BestOf& b);
// N replies to the rendered prompt `ids`, sampled with o.gen at seeds S, S+1, ... (S = o.gen's seed).
std::vector<std::string> sample_replies(const GenOptions& o, runtime::Session& s, const std::vector<int32_t>& ids,
                                        int64_t n);
// Samples, scores and prints; `ids` is the rendered chat prompt of the user turn `prompt`.
void run_best_of(const GenOptions& o, const Loaded& l, const std::vector<int32_t>& ids, const std::string& prompt,
                 const BestOf& b);

// Each head's score of one scored sequence (score positions: the step ends, then the reply's end),
// as `helix rm score --json` prints them: {"aspect": score} for a response head, {"aspect": [per
// step]} for a step head.
nlohmann::ordered_json rm_head_scores(const train::RewardModel& m, const std::vector<float>& s, size_t n_steps);

// A reward model file loaded on its base model, with the base's tokenizer and the chat template it
// was trained with.
class RewardScorer : public server::ReplyScorer {
 public:
  explicit RewardScorer(const std::string& path);
  ~RewardScorer() override;
  std::vector<std::string> response_aspects() const override;
  // As `helix rm score` scores {record..., "response": reply}: with step heads the reply is split
  // into steps at the model's separator (a step score each, and the response heads at its end).
  nlohmann::ordered_json score(const nlohmann::ordered_json& record, const std::string& reply) override;
  train::RewardModel& model() { return *rm_; }

 private:
  std::unique_ptr<train::RewardModel> rm_;
  std::shared_ptr<tok::Tokenizer> tok_;
  std::unique_ptr<train::SampleRenderer> sr_;
  std::unique_ptr<train::RmRenderer> rr_;
  bool step_heads_ = false;
};

}  // namespace helix::cli
