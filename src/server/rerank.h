// Best-of-N with a reward model (issue 14): a completion request with the extension fields
//
//   "best_of": N,                   // N sampled replies (2..16; seeds seed, seed+1, ...), n <= N
//   "reward_model": "NAME",         // one loaded by helix serve --rm NAME=FILE (optional when one is)
//   "aspect_weights": {"tone": 2}   // optional: the ranking score is the weighted mean of these
//                                   // response-level heads (default: every response head, weight 1)
//
// generates the N replies in one batch, scores each with the reward model (one candidate per
// engine turn, between generation steps, so running streams go on), and answers with the n best
// as its choices (best first), each with "scores" (per aspect; a step-level head gives a list,
// one score per step), and the top-level "best_of": {"reward_model", "chosen": [candidate
// indexes], "candidates": [{"index", "text", "finish_reason", "score", "scores"}]}. A candidate
// with no text is not scored (score null) and ranks last. Streamed, the winner is streamed once
// every candidate is generated and scored (the "best_of" field rides on the last chunk).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "server/api_json.h"

namespace helix::server {

// A reward model as the server uses it; the CLI implements it over train::RewardModel (the server
// does not depend on train).
class ReplyScorer {
 public:
  virtual ~ReplyScorer() = default;
  // The response-level aspects (the ones a ranking score may weight).
  virtual std::vector<std::string> response_aspects() const = 0;
  // Every head's score of `reply` as the assistant's answer to `record` ({"messages": [...]} or
  // {"prompt": "..."}), as `helix rm score --json` gives them: {"aspect": score} for a response
  // head, {"aspect": [score per step]} for a step head. Runs on the engine's thread.
  virtual ojson score(const ojson& record, const std::string& reply) = 0;
};

using ReplyScorers = std::map<std::string, std::shared_ptr<ReplyScorer>>;

// A request's best_of fields, read and checked (n: the choices asked for).
struct BestOf {
  int n = 0;        // candidates generated; 0: off
  int choices = 1;  // the n best returned (the request's n)
  std::string rm;
  std::shared_ptr<ReplyScorer> scorer;
  std::map<std::string, double> weights;  // empty: every response head, weight 1
};
// Throws ApiError 400 naming the field (unknown reward model, n > best_of, a weight for no head...).
BestOf parse_best_of(const ojson& body, const ReplyScorers& scorers, int n);

// The ranking score of one candidate's scores: the weighted mean of the response heads.
double rank_score(const BestOf& b, const ReplyScorer& s, const ojson& scores);

}  // namespace helix::server
