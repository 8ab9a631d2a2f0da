// One turn of the flywheel (`helix flywheel run RECIPE`): feedback -> training data -> training ->
// evaluation of the candidate AND the current adapter on the recipe's fixed held-out sets ->
// promotion when the recipe's rule says the candidate is better.
//
// The recipe is an ordinary training recipe (train/recipe.h) with two more tables:
//   [flywheel]
//   name = "assistant"            # the registry name (served as ALIAS:NAME); default: the recipe's name
//   feedback_db = "feedback.db"   # optional: export this store first (relative to the recipe)...
//   sft = "data/fb.sft.jsonl"     # ...to these files, which the stages' datasets name
//   pref = "data/fb.pref.jsonl"
//   min_rating = 1.0              # lowest rating whose answer becomes an SFT sample
//   [promote]
//   set = "format"                # the eval set and metric that must improve...
//   metric = "exact_match"        # (loss: lower is better; the others: higher)
//   min_gain = 0.02               # ...by at least this much
//   max_regression = 0.05         # no other answer metric of any set may get worse by more (default 0)
//
// Training starts from the adapter currently promoted under the name (else the recipe's
// `adapter`, else the base), so the recipe's "start" column is the current adapter and its last
// column the candidate, both measured on the same sets in the same run.
//
// Resumable: the work folder (the recipe's OUT.run) keeps flywheel.json, the round's state. A
// rerun after kill -9 keeps the exported data and starting adapter of the killed run, resumes
// training from the recipe's checkpoints, and promotes at most once (the registry row names the
// run; the promotion is one SQLite transaction after the adapter file is safely stored). A rerun
// after a finished round starts a new round.
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "flywheel/registry.h"
#include "train/recipe_run.h"

namespace helix::flywheel {

struct PromoteRule {
  std::string set, metric;
  double min_gain = 0;
  double max_regression = 0;
};

struct FlywheelSettings {
  std::string name;
  std::string feedback_db, sft, pref;  // resolved against the recipe's folder
  double min_rating = 1;
  PromoteRule rule;
};

// Reads [flywheel] and [promote] of a recipe file; throws helix::Error "FILE:LINE: KEY: ..." as
// the recipe reader does. A recipe without [promote] is refused (a flywheel run must know its rule).
FlywheelSettings read_flywheel_settings(const std::string& recipe_path);

// The rule applied to the evaluations before (the current adapter) and after (the candidate), each
// {SET: {METRIC: value}}: {"promote": bool, "reason": text, "set", "metric", "before", "after",
// "gain", "min_gain", "max_regression", "regressions": [{"set", "metric", "before", "after"}]}.
// Throws helix::Error when the rule's set or metric is not among the evaluations.
nlohmann::ordered_json decide(const PromoteRule& rule, const nlohmann::ordered_json& before,
                              const nlohmann::ordered_json& after);

struct RoundOptions {
  std::string recipe_path;
  std::string registry_path;    // the promotion registry
  std::string fallback_adapter; // the recipe's `adapter`, resolved ("" for none): used when nothing is promoted yet
  std::string trigger;          // who or what runs the round (recorded with a promotion)
  bool dry_run = false;         // decide but do not promote
  train::RecipeRunOptions run;  // model, out, work folder, steps, log, progress (init_adapter is set here)
};

// Runs (or resumes) a round; returns flywheel.json's content: {"run", "name", "start_adapter",
// "export": counts, "results": the recipe's results, "decision", "promotion": the promotion or null,
// "done": true}.
nlohmann::ordered_json run_round(const train::Recipe& rec, const FlywheelSettings& fs, const RoundOptions& opt);

// Feedback store -> SFT and preference JSONL (each written atomically; empty path: not written).
// Returns {"feedback", "sft", "pref", "skipped"} counts.
nlohmann::ordered_json export_feedback(const std::string& db, const std::string& sft, const std::string& pref,
                                       double min_rating);

}  // namespace helix::flywheel
