// Training recipes: a TOML (toml++) or JSON (nlohmann) file listing the stages of a supervised
// fine-tuning run. Stage N starts from stage N-1's result (the same adapter keeps training, or the
// fully tuned weights); a stage's settings not written in it carry over from the stage before
// (stage 1 from the defaults below), except `name`, `datasets` and `evals`, which each stage
// states. Keys below are shown several to a line with ";" for brevity; in TOML write one per line.
// recipes/assistant/recipe.toml is a full example.
//
//   name = "assistant"                 # optional; default: the file's stem
//   model = "default"                  # optional: a GGUF path (relative to the recipe) or "default"
//   chat_template = "chat.jinja"       # optional: a Jinja file; default: the model's (data.h)
//   out = "assistant.gguf"             # optional: the final adapter/model (relative to the working
//                                      # directory, not the recipe); default NAME.gguf
//   seed = 1
//   on_bad_data = "stop"               # or "skip"
//   [[evals]]                          # held-out sets, evaluated before and after each stage
//   name = "format"; path = "data/format.eval.jsonl"; metrics = ["loss", "format_valid", "exact_match"]
//   max_samples = 50; max_new_tokens = 128
//   [[stages]]
//   name = "instruct"
//   steps = 300                        # or epochs = 1.5 (passes over the stage's mixed data)
//   lr = 2e-4; schedule = "cosine"     # cosine | linear | constant (optim.h: after warm-up, decay to 0)
//   warmup = 20                        # steps of linear warm-up
//   seq_len = 256; batch = 4; grad_accum = 1       # batch: packed rows of seq_len per micro-step
//   weight_decay = 0.0; grad_clip = 1.0
//   checkpoint_activations = false     # true: recompute activations in the backward (less memory)
//   mode = "lora"                      # or "full" (float models)
//   lora = { rank = 16, alpha = 32, dropout = 0.0, targets = ["attn_q", "attn_v"] }
//   evals = ["format"]                 # names from [[evals]]; default: all of them
//   eval_every = 100                   # steps; 0: only before and after the stage
//   [[stages.datasets]]
//   name = "format"; path = "data/format.train.jsonl"; type = "instruction"; weight = 3.0
//   eval = "data/format.eval.jsonl"    # optional shortcut: adds an [[evals]] entry named like the
//   metrics = ["loss", "exact_match"]  # dataset, with these metrics (default ["loss"])
//
// Preference stages (prefs.h) train on pairs {"prompt"|"messages", "chosen", "rejected"} with a
// weighted sum of losses; `type`, `losses`, `dpo` and the `rm*` keys do not carry over to the next stage:
//   adapter = "assistant"              # top level, optional: stage 1 starts from this LoRA adapter
//                                      # (a path, or "assistant": the installed assistant adapter);
//                                      # the "base" column of the results is then base + adapter
//   [[stages]]
//   type = "dpo"                       # implied by `losses`; "sft" (the default) is plain SFT
//   losses = [{ name = "dpo", weight = 1.0 },                      # dpo | ipo | sft | kl
//             { name = "sft", weight = 0.2, weight_end = 0.0, schedule = "linear" }]
//                                      # ... | rm (reward-model-weighted likelihood, prefs.h)
//   rm = "prefs-rm.gguf"               # the rm term's reward model (helix rm train), on the same base
//   rm_aspects = { format = 1.0, politeness = 0.5 }   # heads and weights (default: all, 1 each)
//   rm_tau = 1.0                       # temperature of the pair weights σ((s_c − s_r)/τ)
//                                      # weight_end: the weight at the last step (default: weight);
//                                      # schedule linear | cosine | constant (default linear when
//                                      # weight_end is given); a bare name means weight 1
//   dpo = { beta = 0.1, label_smoothing = 0.0, reference = "start", heldout = "data/p.eval.jsonl",
//           heldout_max = 100 }        # reference: "start" (the stage's starting adapter) or "base";
//                                      # heldout: pairs scored before, every eval_every, and after
//
// Paths are relative to the recipe file. Every error names the file, the key (and for TOML the
// line), what was wrong and what is allowed; unknown keys are errors (they are usually typos).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "train/data.h"
#include "train/recipe_reader.h"

namespace helix::train {

// The metric names an eval set may list (eval_metrics.h computes them).
const std::vector<std::string>& known_eval_metrics();  // loss, format_valid, exact_match, citation_correct

struct LoraSettings {
  int64_t rank = 16;
  double alpha = 32;
  double dropout = 0;
  std::vector<std::string> targets = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
  bool operator==(const LoraSettings&) const = default;
};

struct StageDataset {
  std::string name, path, type;  // type: data type label (default: the name)
  double weight = 1;             // mixing ratio among the stage's datasets
};

struct EvalSet {
  std::string name, path;
  std::vector<std::string> metrics = {"loss"};
  int64_t max_samples = 0;  // 0: all
  int64_t max_new_tokens = 128;
};

// One term of a preference stage's objective and its weight schedule over the stage's steps.
struct LossTerm {
  std::string name;  // dpo | ipo | sft | kl | rm
  double weight = 1, weight_end = 1;
  std::string schedule = "constant";  // constant | linear | cosine (from weight to weight_end)
  double at(int64_t step, int64_t steps) const;  // the weight at step (from 0) of steps
};

struct PrefSettings {
  double beta = 0.1, label_smoothing = 0;
  std::string reference = "start";  // start | base
  std::string heldout;              // held-out pairs (JSONL), "" for none
  int64_t heldout_max = 0;          // 0: all
  std::vector<LossTerm> losses;
  std::string rm;                            // the rm term's reward model GGUF (resolved)
  std::map<std::string, double> rm_aspects;  // head -> weight; empty: every response-level head, weight 1
  double rm_tau = 1.0;                       // the temperature of the rm term's pair weights
  const LossTerm* find(const std::string& name) const;
};

struct Stage {
  std::string name;
  std::vector<StageDataset> datasets;
  int64_t steps = 0;  // exactly one of steps and epochs is > 0
  double epochs = 0;
  double lr = 2e-4, weight_decay = 0, grad_clip = 1.0;
  std::string schedule = "cosine";
  int64_t warmup = 0;
  bool full = false;  // false: LoRA with `lora`
  LoraSettings lora;
  int64_t seq_len = 512, batch = 4, grad_accum = 1;
  bool checkpoint_activations = false;  // TrainOptions::checkpoint_activations
  std::vector<std::string> evals;  // names of Recipe::evals (filled with all when not given)
  int64_t eval_every = 0;
  std::string type = "sft";  // sft | dpo (preference pairs, prefs.h)
  PrefSettings pref;         // dpo stages
};

// RecipeHead (recipe_reader.h): path, dir, name, model, chat_template, out, on_bad_data, seed and
// `adapter`, the adapter stage 1 starts from ("", a resolved path, or "assistant").
struct Recipe : RecipeHead {
  std::vector<EvalSet> evals;
  std::vector<Stage> stages;
};

// Reads a recipe (.toml or .json by extension; anything else is tried as TOML). Throws
// helix::Error "FILE:LINE: KEY: what is wrong (what is allowed)".
Recipe load_recipe(const std::string& path);
// The same from text; `path` names the file in messages, resolves relative paths and picks the format.
Recipe parse_recipe(const std::string& text, const std::string& path);

// One stage's training data, loaded: each dataset rendered with `r`, samples longer than the
// stage's seq_len and other bad lines handled per the recipe's on_bad_data.
struct StageData {
  std::vector<LoadResult> sets;  // in the stage's dataset order
  std::vector<double> weights;
  int64_t n_tokens = 0;  // tokens of all samples of all sets
  // The stage's mix, seeded with recipe seed + stage index; it points into `sets` (keep this alive).
  MixStream mix(uint64_t seed) const;
  // Optimizer steps of the stage: s.steps, or for epochs, enough steps of batch * grad_accum rows
  // of seq_len tokens to see epochs * n_tokens tokens (rounded up; at least 1).
  int64_t steps_for(const Stage& s) const;
};
StageData load_stage_data(const Recipe& rec, size_t stage, const SampleRenderer& r);

}  // namespace helix::train
