// Running a recipe (recipe.h): every stage in order, stage N starting from stage N-1's result,
// each stage's data mixed by its declared ratios, evaluation of every held-out set on the base
// model and after each stage (and every eval_every steps), a checkpoint every few steps, and per
// stage a chart and a results table. Everything goes to a work folder (default OUT.run):
//   stageK-NAME.ckpt        the running stage's checkpoint (removed when the stage ends)
//   stageK-NAME.ref.gguf    preference stages: the reference's cached log-probabilities (likewise)
//   stageK-NAME.gguf        the stage's result: the adapter (LoRA) or the whole model (full)
//   stageK-NAME.json        its loss curve, evaluations and data counts
//   stageK-NAME.svg         its loss curve with eval losses, and its answer metrics before/after
//   stageK-NAME.md          its before/after table
//   eval-base.json, eval-K.json   the evaluations (base model; after stage K)
//   results.md, results.json      the whole table: base and after every stage
// Rerunning the same command after a crash or kill -9 skips finished stages and evaluations and
// resumes the running stage from its checkpoint, so nothing is lost and the loss curve continues
// exactly as if uninterrupted. At the end the last stage's result is copied to OUT.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "train/recipe.h"
#include "train/trainer.h"

namespace helix::train {

struct RecipeProgress {
  size_t stage = 0, n_stages = 0;  // stage counts from 1
  std::string stage_name;
  StepReport step;
};

struct RecipeRunOptions {
  std::string model_path;  // the base GGUF (resolved)
  std::string out;         // the final adapter (LoRA) or model (full); empty: the recipe's `out`
  std::string work_dir;    // empty: OUT.run
  bool exact_base = false; // quantized bases: f32 forward (see TrainOptions)
  bool checkpoint_activations = false;  // every stage (a stage may also set it; see TrainOptions)
  int64_t checkpoint_every = 10;
  int64_t max_steps = 0;   // > 0: at most this many steps per stage (a quick trial run)
  std::string init_adapter;  // LoRA: the adapter stage 1 starts from (the recipe's `adapter`, resolved)
  // Full fine-tuning: writes `base` to `path` with the named tensors' values replaced (f32, the
  // base's layout). Required for recipes with mode = "full".
  std::function<void(const gguf::GGUFFile& base, const std::map<std::string, const std::vector<float>*>& tensors,
                     const std::string& path)>
      write_full;
  std::function<void(const std::string&)> log;              // status lines
  std::function<void(const RecipeProgress&)> progress;      // after every optimizer step
};

// Runs the recipe; returns results.json's content:
//   {"recipe", "model", "out", "stages": [{"name", "steps", "final_loss"}],
//    "columns": ["base", "after NAME", ...], "evals": {SET: {METRIC: [value per column]}}}
nlohmann::ordered_json run_recipe(const Recipe& rec, const RecipeRunOptions& opt);

}  // namespace helix::train
