#include "train/trainer.h"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "core/error.h"
#include "io/gguf.h"

namespace helix::train {

SftTrainer::SftTrainer(TrainModel& model, MixStream mix, SftOptions opt)
    : model_(model), mix_(std::move(mix)), opt_(std::move(opt)), params_(model.trainable()), adam_(params_, opt_.adam) {
  HELIX_CHECK(opt_.steps > 0 && opt_.batch > 0 && opt_.grad_accum > 0 && opt_.seq_len > 1,
              "steps, batch, gradient accumulation and sequence length must be positive");
  if (opt_.warmup < 0) opt_.warmup = opt_.steps / 20;
  log_ = {{"steps", nlohmann::ordered_json::array()}};
}

// The next micro-batch: `batch` rows filled first-fit from the mix, laid end to end.
TrainBatch SftTrainer::micro_batch(int64_t* samples, std::vector<const Sample*>* drawn) {
  std::vector<const Sample*>& all = *drawn;
  for (const auto& row : draw_rows(mix_, opt_.batch, opt_.seq_len)) all.insert(all.end(), row.begin(), row.end());
  *samples += static_cast<int64_t>(all.size());
  return make_batch(all);
}

bool SftTrainer::resume() {
  if (resumed_) return adam_.steps() > 0;
  resumed_ = true;
  if (opt_.checkpoint.empty() || !std::filesystem::exists(opt_.checkpoint)) return false;
  load_checkpoint(opt_.checkpoint);
  return true;
}

void SftTrainer::run(const std::function<void(const StepReport&)>& progress) {
  resume();
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  int64_t tokens_done = 0, steps_done = 0;
  while (adam_.steps() < opt_.steps) {
    const int64_t s = adam_.steps();
    StepReport r;
    std::vector<TrainBatch> mbs;
    std::vector<std::vector<const Sample*>> drawn(static_cast<size_t>(opt_.grad_accum));
    int64_t targets = 0;
    for (int64_t a = 0; a < opt_.grad_accum; ++a) {
      mbs.push_back(micro_batch(&r.samples, &drawn[static_cast<size_t>(a)]));
      targets += mbs.back().n_targets();
      r.tokens += mbs.back().size();
    }
    model_.set_dropout_step(static_cast<uint64_t>(s));
    model_.zero_grad();
    double loss = 0;
    nlohmann::ordered_json entry = nlohmann::ordered_json::object();
    if (opt_.objective) loss = opt_.objective->accumulate(model_, mbs, drawn, s, opt_.steps, entry);
    else
      for (const TrainBatch& b : mbs)
        if (b.n_targets() > 0) loss += model_.forward_backward(b, 1.0f / static_cast<float>(std::max<int64_t>(1, targets))).sum;
    r.grad_norm = clip_grad_norm(params_, opt_.clip);
    r.lr = opt_.adam.lr * lr_factor(opt_.schedule, s, opt_.warmup, opt_.steps);
    adam_.step(r.lr);
    tokens_done += r.tokens;
    ++steps_done;
    const double secs = std::chrono::duration<double>(clock::now() - t0).count();
    r.step = adam_.steps();
    r.steps = opt_.steps;
    r.loss = opt_.objective ? loss : targets > 0 ? loss / static_cast<double>(targets) : 0.0;
    r.tokens_per_s = secs > 0 ? static_cast<double>(tokens_done) / secs : 0.0;
    r.eta_s = secs / static_cast<double>(steps_done) * static_cast<double>(opt_.steps - r.step);
    nlohmann::ordered_json rec = {{"step", r.step}, {"loss", r.loss}, {"lr", r.lr}, {"grad_norm", r.grad_norm},
                                  {"tokens", r.tokens}};
    for (auto& [k, v] : entry.items()) rec[k] = v;
    log_["steps"].push_back(rec);
    if (!entry.empty()) r.extra = entry;
    if (progress) progress(r);
    if (!opt_.checkpoint.empty() && opt_.checkpoint_every > 0 && (r.step % opt_.checkpoint_every == 0 || r.step == opt_.steps)) {
      if (opt_.objective) opt_.objective->save();
      save_checkpoint(opt_.checkpoint);
    }
  }
}

void write_checkpoint(const std::string& path, const CheckpointState& st, const std::vector<CheckpointGroup>& groups) {
  gguf::GGUFWriter w;
  w.set("general.type", gguf::Value::string("helix-train-checkpoint"));
  w.set("train.step", gguf::Value::u64(static_cast<uint64_t>(st.step)));
  w.set("train.seed", gguf::Value::u64(st.seed));
  w.set("train.mix_position", gguf::Value::u64(static_cast<uint64_t>(st.position)));
  w.set("train.log", gguf::Value::string(st.log.dump()));
  for (const CheckpointGroup& g : groups)
    for (size_t i = 0; i < g.params.size(); ++i) {
      Param* p = g.params[i];
      const Shape ne{p->numel(), 1, 1, 1};
      w.add_tensor("param." + p->name, DType::F32, ne, 1, p->value.data());
      w.add_tensor("adam_m." + p->name, DType::F32, ne, 1, g.adam->moment(i, false).data());
      w.add_tensor("adam_v." + p->name, DType::F32, ne, 1, g.adam->moment(i, true).data());
    }
  w.write(path);
}

CheckpointState read_checkpoint(const std::string& path, uint64_t seed, int64_t max_steps,
                                const std::vector<CheckpointGroup>& groups) {
  const gguf::GGUFFile f = gguf::GGUFFile::open(path);
  HELIX_CHECK(f.get_string("general.type", "") == "helix-train-checkpoint", "'", path,
              "' is not a Helix training checkpoint; remove it or choose another --checkpoint path");
  HELIX_CHECK(f.get_uint("train.seed", 0) == seed, "checkpoint '", path, "' was made with seed ",
              f.get_uint("train.seed", 0), ", this run uses ", seed, "; remove it to start over");
  auto copy = [&](const std::string& name, std::vector<float>& dst) {
    const gguf::TensorInfo* info = f.find_tensor(name);
    HELIX_CHECK(info, "checkpoint '", path, "' lacks '", name, "'; it was made for another model or settings");
    const Tensor t = f.tensor(*info);
    HELIX_CHECK(t.dtype() == DType::F32 && t.numel() == static_cast<int64_t>(dst.size()), "checkpoint '", path,
                "': '", name, "' has ", t.numel(), " values, expected ", dst.size());
    std::copy_n(t.data_as<float>(), dst.size(), dst.begin());
  };
  CheckpointState st;
  st.step = static_cast<int64_t>(f.get_uint("train.step", 0));
  HELIX_CHECK(st.step <= max_steps, "checkpoint '", path, "' is at step ", st.step, " but this run has only ", max_steps,
              " steps; remove it to start over");
  for (const CheckpointGroup& g : groups) {
    for (size_t i = 0; i < g.params.size(); ++i) {
      copy("param." + g.params[i]->name, g.params[i]->value);
      copy("adam_m." + g.params[i]->name, g.adam->moment(i, false));
      copy("adam_v." + g.params[i]->name, g.adam->moment(i, true));
    }
    g.adam->set_steps(st.step);
  }
  st.seed = seed;
  st.position = static_cast<int64_t>(f.get_uint("train.mix_position", 0));
  const std::string log = f.get_string("train.log", "");
  if (!log.empty()) st.log = nlohmann::ordered_json::parse(log);
  return st;
}

void SftTrainer::save_checkpoint(const std::string& path) {
  write_checkpoint(path, {adam_.steps(), opt_.seed, mix_.position(), log_}, {{params_, &adam_}});
}

void SftTrainer::load_checkpoint(const std::string& path) {
  const CheckpointState st = read_checkpoint(path, opt_.seed, opt_.steps, {{params_, &adam_}});
  mix_.seek(st.position);
  if (!st.log.is_null()) log_ = st.log;
}

}  // namespace helix::train
