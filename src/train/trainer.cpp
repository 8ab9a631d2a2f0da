#include "train/trainer.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>

#include "core/error.h"
#include "io/gguf.h"

namespace helix::train {

SftTrainer::SftTrainer(TrainModel& model, std::vector<Sample> samples, SftOptions opt)
    : model_(model), samples_(std::move(samples)), opt_(std::move(opt)), params_(model.trainable()), adam_(params_, opt_.adam) {
  HELIX_CHECK(!samples_.empty(), "no training samples");
  HELIX_CHECK(opt_.steps > 0 && opt_.batch > 0 && opt_.grad_accum > 0 && opt_.seq_len > 1,
              "steps, batch, gradient accumulation and sequence length must be positive");
  if (opt_.warmup < 0) opt_.warmup = opt_.steps / 20;
}

// Micro-batch i takes samples [i·batch, (i+1)·batch) of an endless sequence of epochs, each epoch
// a permutation seeded by (seed, epoch): a pure function of i, so a resumed run sees the same data.
TrainBatch SftTrainer::micro_batch(int64_t index) const {
  const int64_t n = static_cast<int64_t>(samples_.size());
  std::vector<const Sample*> picked;
  std::vector<Sample> cut;
  cut.reserve(static_cast<size_t>(opt_.batch));
  int64_t epoch = -1;
  std::vector<int64_t> perm(static_cast<size_t>(n));
  for (int64_t k = index * opt_.batch; k < (index + 1) * opt_.batch; ++k) {
    if (k / n != epoch) {
      epoch = k / n;
      for (int64_t i = 0; i < n; ++i) perm[static_cast<size_t>(i)] = i;
      std::mt19937_64 rng(opt_.seed * 1000003u + static_cast<uint64_t>(epoch));
      std::shuffle(perm.begin(), perm.end(), rng);
    }
    const Sample& s = samples_[static_cast<size_t>(perm[static_cast<size_t>(k % n)])];
    if (static_cast<int64_t>(s.tokens.size()) > opt_.seq_len) {
      Sample& c = cut.emplace_back(s);
      c.tokens.resize(static_cast<size_t>(opt_.seq_len));
      c.loss.resize(static_cast<size_t>(opt_.seq_len));
      picked.push_back(&c);
    } else {
      picked.push_back(&s);
    }
  }
  return make_batch(picked);
}

void SftTrainer::run(const std::function<void(const StepReport&)>& progress) {
  if (!opt_.checkpoint.empty() && std::filesystem::exists(opt_.checkpoint)) load_checkpoint(opt_.checkpoint);
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  int64_t tokens_done = 0, steps_done = 0;
  while (adam_.steps() < opt_.steps) {
    const int64_t s = adam_.steps();
    std::vector<TrainBatch> mbs;
    int64_t targets = 0, tokens = 0;
    for (int64_t a = 0; a < opt_.grad_accum; ++a) {
      mbs.push_back(micro_batch(s * opt_.grad_accum + a));
      targets += mbs.back().n_targets();
      tokens += mbs.back().size();
    }
    model_.zero_grad();
    double loss = 0;
    for (const TrainBatch& b : mbs)
      if (b.n_targets() > 0) loss += model_.forward_backward(b, 1.0f / static_cast<float>(std::max<int64_t>(1, targets))).sum;
    StepReport r;
    r.grad_norm = clip_grad_norm(params_, opt_.clip);
    r.lr = opt_.adam.lr * lr_factor(opt_.schedule, s, opt_.warmup, opt_.steps);
    adam_.step(r.lr);
    tokens_done += tokens;
    ++steps_done;
    const double secs = std::chrono::duration<double>(clock::now() - t0).count();
    r.step = adam_.steps();
    r.steps = opt_.steps;
    r.loss = targets > 0 ? loss / static_cast<double>(targets) : 0.0;
    r.tokens = tokens;
    r.tokens_per_s = secs > 0 ? static_cast<double>(tokens_done) / secs : 0.0;
    r.eta_s = secs / static_cast<double>(steps_done) * static_cast<double>(opt_.steps - r.step);
    if (!opt_.checkpoint.empty() && opt_.checkpoint_every > 0 && (r.step % opt_.checkpoint_every == 0 || r.step == opt_.steps))
      save_checkpoint(opt_.checkpoint);
    if (progress) progress(r);
  }
}

// Checkpoint: one GGUF written atomically (GGUFWriter: temporary file, fsync, rename) holding the
// step, and per trainable parameter its value and AdamW moments.
void SftTrainer::save_checkpoint(const std::string& path) {
  gguf::GGUFWriter w;
  w.set("general.type", gguf::Value::string("helix-train-checkpoint"));
  w.set("train.step", gguf::Value::u64(static_cast<uint64_t>(adam_.steps())));
  w.set("train.seed", gguf::Value::u64(opt_.seed));
  for (size_t i = 0; i < params_.size(); ++i) {
    Param* p = params_[i];
    const Shape ne{p->numel(), 1, 1, 1};
    w.add_tensor("param." + p->name, DType::F32, ne, 1, p->value.data());
    w.add_tensor("adam_m." + p->name, DType::F32, ne, 1, adam_.moment(i, false).data());
    w.add_tensor("adam_v." + p->name, DType::F32, ne, 1, adam_.moment(i, true).data());
  }
  w.write(path);
}

bool SftTrainer::load_checkpoint(const std::string& path) {
  const gguf::GGUFFile f = gguf::GGUFFile::open(path);
  HELIX_CHECK(f.get_string("general.type", "") == "helix-train-checkpoint", "'", path,
              "' is not a Helix training checkpoint; remove it or choose another --checkpoint path");
  HELIX_CHECK(f.get_uint("train.seed", 0) == opt_.seed, "checkpoint '", path, "' was made with seed ",
              f.get_uint("train.seed", 0), ", this run uses ", opt_.seed);
  auto copy = [&](const std::string& name, std::vector<float>& dst) {
    const gguf::TensorInfo* info = f.find_tensor(name);
    HELIX_CHECK(info, "checkpoint '", path, "' lacks '", name, "'; it was made for another model or settings");
    const Tensor t = f.tensor(*info);
    HELIX_CHECK(t.dtype() == DType::F32 && t.numel() == static_cast<int64_t>(dst.size()), "checkpoint '", path,
                "': '", name, "' has ", t.numel(), " values, expected ", dst.size());
    std::copy_n(t.data_as<float>(), dst.size(), dst.begin());
  };
  for (size_t i = 0; i < params_.size(); ++i) {
    copy("param." + params_[i]->name, params_[i]->value);
    copy("adam_m." + params_[i]->name, adam_.moment(i, false));
    copy("adam_v." + params_[i]->name, adam_.moment(i, true));
  }
  adam_.set_steps(static_cast<int64_t>(f.get_uint("train.step", 0)));
  return true;
}

}  // namespace helix::train
