// Reward-model data and recipes (reward.h is the model).
//
// JSONL records, one per line:
//   pairs (response level)  {"prompt": "..." | "messages": [...], "chosen": "...", "rejected": "...",
//                            "aspect": "format", "system": "..." (optional), "meta": {...} (kept)}
//   steps (step level)      {"prompt" | "messages", "steps": ["...", ...] | "response": "...",
//                            "labels": [1, 0, ...], "aspect": "math_steps"}
// "messages" is a conversation before the reply (OpenAI roles); the reply is rendered as the last
// assistant turn with the model's chat template (SampleRenderer). A response-level score sits on
// the reply's last token (its end-of-turn token); a step-level score on the last token of each
// step. Steps come from "steps" (joined with the separator) or from "response" split at the
// separator (default "\n"; empty pieces dropped). "aspect" may be left out (the file's aspect).
//
// Recipe (TOML or JSON, read like recipe.h's; unknown keys are errors):
//   name = "prefs-rm"; model = "default"; out = "prefs-rm.gguf"; seed = 1; on_bad_data = "stop"
//   chat_template = "chat.jinja"       # default: the adapter's, else the model's (data.h)
//   adapter = "assistant"              # optional start: "assistant" (the installed assistant adapter)
//                                      # or an adapter GGUF; train_adapter = true (default) or false
//   lora = { rank = 8, alpha = 16, targets = ["attn_q", "attn_v"] }   # or: a new adapter
//                                      # (neither adapter nor lora: the heads alone train)
//   steps = 200; batch = 4; lr = 1e-4; head_lr = 1e-3; warmup = 10; schedule = "cosine"
//   grad_clip = 1.0; weight_decay = 0; margin = 0; seq_len = 512; step_separator = "\n"
//   max_eval = 0                       # held-out records per aspect (0: all)
//   batch_by = "example"               # or "aspect": every step's batch comes from one aspect (the
//                                      # aspects take turns by weight), so the gradient clip bounds
//                                      # each aspect's update alone and a loud one cannot drown the rest
//   [[aspects]]
//   name = "format"; level = "response"; train = "data/format.train.jsonl"
//   eval = "data/format.eval.jsonl"; weight = 1.0     # weight: the share of draws
//   shapes_base = true                 # false: the aspect trains its head, not the LoRA factors
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "train/data.h"
#include "train/recipe.h"
#include "train/reward.h"

namespace helix::train {

// One sequence to score: prompt + reply tokens and where the scores sit.
struct RmSeq {
  std::vector<int32_t> tokens;
  std::vector<int32_t> score_pos;  // response level: {last token}; step level: one per step
  int32_t last = -1;               // the reply's last token (its end of turn)
};

struct RmExample {
  int head = 0;
  RmLevel level = RmLevel::Response;
  RmSeq a, b;                 // pairs: a chosen, b rejected; steps: a only
  std::vector<float> labels;  // step level: one per score position of a
  std::string where;          // FILE:LINE
  int64_t n_tokens() const { return static_cast<int64_t>(a.tokens.size() + b.tokens.size()); }
};

// Renders records into scored sequences with one chat template and tokenizer.
class RmRenderer {
 public:
  RmRenderer(const SampleRenderer& r, std::string step_separator);
  // The record's prompt with `reply` as the assistant turn; the score at its last token.
  RmSeq response(const nlohmann::ordered_json& record, const std::string& reply) const;
  // The record's prompt with its steps as the reply, a score at each step's last token: "steps"
  // joined by the separator, or "response" as it is, its steps the pieces between separators
  // that are not blank (throws BadData).
  RmSeq steps(const nlohmann::ordered_json& record) const;
  const std::string& separator() const { return sep_; }

 private:
  Sample render(const nlohmann::ordered_json& record, const std::string& reply) const;
  // `reply` rendered, a score at the token that completes each of `ends` (character offsets).
  RmSeq place(const nlohmann::ordered_json& record, const std::string& reply, const std::vector<size_t>& ends) const;
  const SampleRenderer& r_;
  std::string sep_;
};

// One record as an example of `level` for head `head`; throws BadData naming what is wrong.
RmExample rm_example(const nlohmann::ordered_json& record, RmLevel level, int head, const std::string& aspect,
                     const RmRenderer& r);

struct RmLoadResult {
  std::vector<RmExample> examples;
  std::vector<BadRecord> bad;
  int64_t n_tokens = 0;
};
// Reads a JSONL file of one aspect (records naming another aspect are bad data); examples with a
// sequence longer than seq_len (> 0) are bad data. max_records > 0: stop after that many.
RmLoadResult load_rm_jsonl(const std::string& path, RmLevel level, int head, const std::string& aspect,
                           const RmRenderer& r, int64_t seq_len, OnBadData on_bad, int64_t max_records = 0);

// Examples packed into one batch (every sequence attends only to itself) with their loss terms:
// each example weighs 1/n_examples (a step example's weight spread over its steps).
struct RmBatch {
  TrainBatch batch;
  RmTerms terms;
};
RmBatch make_rm_batch(const std::vector<const RmExample*>& ex, float margin);

// ---- recipes -------------------------------------------------------------------------------------
struct RmAspect {
  std::string name, train, eval;  // eval optional
  RmLevel level = RmLevel::Response;
  double weight = 1;
  // false: the aspect trains its head only; its gradient does not reach the shared LoRA factors
  // (it reads the features the other aspects shape, and cannot pull them its own way).
  bool shapes_base = true;
};

struct RmRecipe : RecipeHead {  // RecipeHead: name, model, chat_template, out, seed, on_bad_data, adapter
  bool train_adapter = true;
  bool new_lora = false;  // lora = {...} given: a fresh adapter
  LoraSettings lora;
  int64_t steps = 100, batch = 4, warmup = 0, seq_len = 512, max_eval = 0;
  double lr = 1e-4, head_lr = 1e-3, grad_clip = 1.0, weight_decay = 0, margin = 0;
  std::string schedule = "cosine", step_separator = "\n", batch_by = "example";
  std::vector<RmAspect> aspects;
};
RmRecipe load_rm_recipe(const std::string& path);
RmRecipe parse_rm_recipe(const std::string& text, const std::string& path);

}  // namespace helix::train
