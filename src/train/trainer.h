// The supervised fine-tuning loop: micro-batches of samples (packed end to end, each sample
// attending only to itself), gradient accumulation, global-norm clipping, AdamW with a warmup +
// decay schedule, a progress report per optimizer step, and atomic checkpoints from which a
// killed run resumes exactly (parameters, AdamW moments, step; the sample order is a function of
// the step, so the loss curve continues as if uninterrupted).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "train/data.h"
#include "train/model.h"
#include "train/optim.h"

namespace helix::train {

struct SftOptions {
  int64_t steps = 100;       // optimizer steps
  int64_t batch = 4;         // samples per micro-batch
  int64_t grad_accum = 1;    // micro-batches per optimizer step
  int64_t seq_len = 256;     // longer samples are cut to this many tokens
  AdamWConfig adam{2e-4f, 0.9f, 0.999f, 1e-8f, 0.0f};
  Schedule schedule = Schedule::Cosine;
  int64_t warmup = -1;       // steps; -1: 5% of steps
  double clip = 1.0;         // global gradient norm; <= 0: no clipping
  uint64_t seed = 42;        // sample order
  std::string checkpoint;    // file to write every checkpoint_every steps and resume from ("": none)
  int64_t checkpoint_every = 50;
};

struct StepReport {
  int64_t step = 0, steps = 0;  // step counts from 1
  double loss = 0;              // mean over the step's target tokens
  double grad_norm = 0;         // before clipping
  float lr = 0;
  int64_t tokens = 0;           // tokens in the step
  double tokens_per_s = 0;      // over the run so far (this process)
  double eta_s = 0;
};

class SftTrainer {
 public:
  SftTrainer(TrainModel& model, std::vector<Sample> samples, SftOptions opt);
  // Resumes from opt.checkpoint if it exists; runs to opt.steps; calls progress after every step.
  void run(const std::function<void(const StepReport&)>& progress);
  int64_t step() const { return adam_.steps(); }

 private:
  TrainBatch micro_batch(int64_t index) const;  // the index-th micro-batch of the run
  void save_checkpoint(const std::string& path);
  bool load_checkpoint(const std::string& path);

  TrainModel& model_;
  std::vector<Sample> samples_;
  SftOptions opt_;
  std::vector<Param*> params_;
  AdamW adam_;
};

}  // namespace helix::train
