// Sampling chain: turns a row of logits into the next token. The order follows llama.cpp's
// default chain: logit bias, repetition/presence/frequency penalties, top-k, top-p, min-p,
// temperature, then a draw from a seeded generator (temperature 0 = greedy). The same seed and
// the same logits give the same tokens. An optional grammar constraint (structured output) runs
// first: tokens it does not allow next get -inf, and each sampled token advances it.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "grammar/token_matcher.h"

namespace helix::runtime {

struct SamplingParams {
  float temperature = 0.8f;  // <= 0: greedy
  int32_t top_k = 40;        // <= 0: off
  float top_p = 0.95f;       // >= 1: off
  float min_p = 0.05f;       // <= 0: off
  float repeat_penalty = 1.0f;  // 1: off; divides positive / multiplies negative logits
  int32_t repeat_last_n = 64;   // how many recent tokens the penalties look at (-1: all)
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  std::unordered_map<int32_t, float> logit_bias;  // added to logits (-inf bans a token)
  uint64_t seed = 0xC0FFEE;
  // Structured output: a grammar bound to the vocabulary, shared by every sampler made from
  // these params; each Sampler keeps its own position in it.
  std::shared_ptr<const grammar::Constraint> constraint;
  // A lazy constraint: free text until the generated text holds this trigger (e.g. <tool_call>),
  // then the grammar applies to what follows it (empty: from the first token).
  std::string grammar_trigger;
  // The trigger counts only at the start of the generated text (after whitespace) and is itself
  // the grammar's first bytes: a reply that is a JSON call starts with "{" (Llama 3.x, generic).
  bool grammar_trigger_at_start = false;
};

class Sampler {
 public:
  explicit Sampler(SamplingParams p);
  // Picks a token from logits[n_vocab]; `history` is the sequence so far (for penalties).
  int32_t sample(const float* logits, int64_t n_vocab, const std::vector<int32_t>& history);
  // Probabilities of the candidates the chain kept at the last step (after temperature), for
  // logprobs; sorted by descending probability.
  struct Candidate {
    int32_t id;
    float logit;
    float p;
  };
  const std::vector<Candidate>& last_candidates() const { return cands_; }
  const SamplingParams& params() const { return p_; }
  // The sampler's position in its grammar (null without a constraint).
  const grammar::TokenMatcher* matcher() const { return matcher_.get(); }

 private:
  // The chain from top-k on, over logits l (the caller's row or work_ after bias and penalties).
  int32_t pick(const float* l, int64_t n_vocab);
  // Lazy constraint: looks for the trigger in the text so far; starts the matcher after it.
  void watch(int32_t id);
  void watch_start(const std::string& trig);

  SamplingParams p_;
  std::unique_ptr<grammar::TokenMatcher> matcher_;
  std::string tail_;  // lazy constraint: the end of the text so far, as long as the trigger
  bool trigger_done_ = false;  // grammar_trigger_at_start: the reply has started (with the trigger or not)
  std::mt19937_64 rng_;
  std::vector<Candidate> cands_;
  std::vector<float> work_;  // a copy of the logits when the grammar, a bias or a penalty changes them
};

}  // namespace helix::runtime
