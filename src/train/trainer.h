// The supervised fine-tuning loop: micro-batches of `batch` rows of seq_len tokens filled
// first-fit from a seeded data mix (data.h: MixStream + draw_rows; each sample attends only to
// itself), gradient accumulation, global-norm clipping, AdamW with a warmup + decay schedule, a
// report per optimizer step, and atomic checkpoints from which a killed run resumes exactly
// (parameters, AdamW moments, step, the mix's position and the run's log), so the loss curve
// continues as if uninterrupted.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "train/data.h"
#include "train/model.h"
#include "train/optim.h"

namespace helix::train {

// A step objective other than the mean cross-entropy of the targets (prefs.h: DPO, IPO, KL and SFT
// mixed): the trainer draws and packs the micro-batches as for SFT and hands them over.
class StepObjective {
 public:
  virtual ~StepObjective() = default;
  // Accumulates the step's gradients (zeroed before) from its micro-batches (samples[i]: those
  // packed into mbs[i], in order); returns the step's loss and adds its own figures to `entry`,
  // the step's log record. `step` counts from 0.
  virtual double accumulate(TrainModel& m, const std::vector<TrainBatch>& mbs,
                            const std::vector<std::vector<const Sample*>>& samples, int64_t step, int64_t steps,
                            nlohmann::ordered_json& entry) = 0;
  // Called before each checkpoint is written: persist what a resumed run must not recompute.
  virtual void save() {}
};

struct SftOptions {
  int64_t steps = 100;       // optimizer steps
  int64_t batch = 4;         // rows of seq_len tokens per micro-batch
  int64_t grad_accum = 1;    // micro-batches per optimizer step
  int64_t seq_len = 256;     // row length; every sample must fit in one row
  AdamWConfig adam{2e-4f, 0.9f, 0.999f, 1e-8f, 0.0f};
  Schedule schedule = Schedule::Cosine;
  int64_t warmup = -1;       // steps; -1: 5% of steps
  double clip = 1.0;         // global gradient norm; <= 0: no clipping
  uint64_t seed = 42;        // the mix's seed (checked against a checkpoint) and LoRA dropout masks
  std::string checkpoint;    // file to write every checkpoint_every steps and resume from ("": none)
  int64_t checkpoint_every = 50;
  StepObjective* objective = nullptr;  // null: mean cross-entropy (SFT)
};

struct StepReport {
  int64_t step = 0, steps = 0;  // step counts from 1
  double loss = 0;              // mean over the step's target tokens
  double grad_norm = 0;         // before clipping
  float lr = 0;
  int64_t tokens = 0;           // tokens in the step
  int64_t samples = 0;          // samples in the step
  double tokens_per_s = 0;      // over the run so far (this process)
  double eta_s = 0;
  nlohmann::ordered_json extra;  // the objective's figures for the step (null for SFT)
};

// A training checkpoint: one GGUF written atomically (temporary file, fsync, rename) holding the
// step, the run's seed, a data position, the run's JSON log, and per trainable parameter its value
// and AdamW moments. SftTrainer and the reward-model trainer (reward_train.h) keep theirs in it.
struct CheckpointGroup {  // parameters and the optimizer that updates them (in its order)
  std::vector<Param*> params;
  AdamW* adam = nullptr;
};
struct CheckpointState {
  int64_t step = 0;
  uint64_t seed = 0;
  int64_t position = 0;  // the data stream's position
  nlohmann::ordered_json log;
};
void write_checkpoint(const std::string& path, const CheckpointState& st, const std::vector<CheckpointGroup>& groups);
// Reads values and moments into the groups and sets every optimizer's step count. Throws naming the
// file when it is not a checkpoint, was made with another seed, lacks a parameter or has more
// than max_steps steps.
CheckpointState read_checkpoint(const std::string& path, uint64_t seed, int64_t max_steps,
                                const std::vector<CheckpointGroup>& groups);

class SftTrainer {
 public:
  // `mix` points at sample sets that must outlive the trainer.
  SftTrainer(TrainModel& model, MixStream mix, SftOptions opt);
  // Loads opt.checkpoint if it exists (returns whether it did); run() calls it when not called.
  bool resume();
  // Runs to opt.steps; calls progress after every step; between steps, on_checkpoint (optional)
  // may add to log() before a checkpoint is written.
  void run(const std::function<void(const StepReport&)>& progress);
  int64_t step() const { return adam_.steps(); }
  // The run's history, kept in checkpoints: {"steps": [{"step", "loss", "lr", "grad_norm",
  // "tokens"}, ...]} plus whatever the caller adds (e.g. evaluations).
  nlohmann::ordered_json& log() { return log_; }

 private:
  TrainBatch micro_batch(int64_t* samples, std::vector<const Sample*>* drawn);
  void save_checkpoint(const std::string& path);
  void load_checkpoint(const std::string& path);

  TrainModel& model_;
  MixStream mix_;
  SftOptions opt_;
  std::vector<Param*> params_;
  AdamW adam_;
  nlohmann::ordered_json log_;
  bool resumed_ = false;
};

}  // namespace helix::train
