#include "train/reward_train.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "core/error.h"
#include "core/svg_chart.h"
#include "model/lora.h"
#include "tokenizer/tokenizer.h"
#include "train/optim.h"
#include "train/trainer.h"

namespace helix::train {

using ojson = nlohmann::ordered_json;
namespace fs = std::filesystem;

std::vector<std::vector<float>> score_sequences(RewardModel& m, const std::vector<const RmSeq*>& seqs,
                                                int64_t max_tokens,
                                                const std::function<void(size_t, size_t)>& progress) {
  const size_t H = m.heads().size();
  std::vector<std::vector<float>> out(seqs.size());
  for (size_t i = 0; i < seqs.size();) {
    TrainBatch b;
    std::vector<int64_t> pos;
    const size_t first = i;
    // Whole sequences until the next one would pass max_tokens (always at least one).
    while (i < seqs.size() &&
           (i == first || b.size() + static_cast<int64_t>(seqs[i]->tokens.size()) <= max_tokens)) {
      const RmSeq& s = *seqs[i];
      const auto off = static_cast<int32_t>(b.size());
      for (size_t t = 0; t < s.tokens.size(); ++t) {
        b.tokens.push_back(s.tokens[t]);
        b.targets.push_back(-1);
        b.pos.push_back(static_cast<int32_t>(t));
        b.start.push_back(off);
      }
      for (int32_t p : s.score_pos) pos.push_back(off + p);
      ++i;
    }
    const std::vector<float> r = m.scores(b, pos);
    size_t k = 0;
    for (size_t j = first; j < i; ++j) {
      const size_t n = seqs[j]->score_pos.size() * H;
      out[j].assign(r.begin() + static_cast<std::ptrdiff_t>(k), r.begin() + static_cast<std::ptrdiff_t>(k + n));
      k += n;
    }
    if (progress) progress(i, seqs.size());
  }
  return out;
}

RmEvalRow evaluate_aspect(RewardModel& m, int head, const std::vector<RmExample>& ex, int64_t max_tokens,
                          const std::function<void(size_t, size_t)>& progress) {
  const size_t H = m.heads().size(), h = static_cast<size_t>(head);
  RmEvalRow row;
  row.aspect = m.heads()[h].aspect;
  row.level = m.heads()[h].level;
  row.records = static_cast<int64_t>(ex.size());
  std::vector<const RmSeq*> seqs;
  for (const RmExample& e : ex) {
    seqs.push_back(&e.a);
    if (e.level == RmLevel::Response) seqs.push_back(&e.b);
  }
  const auto sc = score_sequences(m, seqs, max_tokens, progress);
  double right = 0, pw_right = 0, margin = 0;
  size_t q = 0;
  for (const RmExample& e : ex) {
    if (e.level == RmLevel::Response) {
      const float rc = sc[q][h], rr = sc[q + 1][h];
      q += 2;
      right += rc > rr ? 1.0 : rc == rr ? 0.5 : 0.0;
      margin += static_cast<double>(rc) - rr;
      row.n++;
      continue;
    }
    const std::vector<float>& s = sc[q++];
    for (size_t k = 0; k < e.labels.size(); ++k) {
      const float r = s[k * H + h];
      right += (r > 0) == (e.labels[k] >= 0.5f);
      row.n++;
      for (size_t j = 0; j < e.labels.size(); ++j)
        if (e.labels[k] >= 0.5f && e.labels[j] < 0.5f) {
          const float rb = s[j * H + h];
          pw_right += r > rb ? 1.0 : r == rb ? 0.5 : 0.0;
          row.n_pairwise++;
        }
    }
  }
  row.accuracy = row.n ? right / static_cast<double>(row.n) : std::nan("");
  if (row.level == RmLevel::Response) {
    row.pairwise = row.n ? margin / static_cast<double>(row.n) : std::nan("");
  } else {
    row.pairwise = row.n_pairwise ? pw_right / static_cast<double>(row.n_pairwise) : std::nan("");
  }
  return row;
}

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  HELIX_CHECK(f, "cannot write ", path);
}

// Draws examples from the aspects by weight: each draw takes the aspect furthest below its share
// (ties: the earlier one), each aspect walked in a seeded order reshuffled every epoch. With
// per_batch, a whole batch comes from the aspect chosen at its first draw.
class RmMix {
 public:
  RmMix(const std::vector<std::vector<RmExample>>& sets, std::vector<double> weights, uint64_t seed, int64_t per_batch)
      : sets_(sets), w_(std::move(weights)), seed_(seed), per_batch_(per_batch), taken_(sets.size(), 0),
        cur_(sets.size(), 0), epoch_(sets.size(), 0), order_(sets.size()) {
    for (size_t s = 0; s < sets.size(); ++s) order_[s] = seeded_permutation(sets[s].size(), seed_ + s * 7919);
  }
  const RmExample* next() {
    size_t best = held_;
    if (per_batch_ <= 1 || drawn_ % per_batch_ == 0) {
      double best_ratio = std::numeric_limits<double>::infinity();
      for (size_t s = 0; s < sets_.size(); ++s) {
        const double ratio = static_cast<double>(taken_[s]) / w_[s];
        if (ratio < best_ratio) best = s, best_ratio = ratio;
      }
      held_ = best;
    }
    if (cur_[best] == order_[best].size()) {
      ++epoch_[best];
      order_[best] = seeded_permutation(sets_[best].size(), seed_ + best * 7919 + epoch_[best] * 104729);
      cur_[best] = 0;
    }
    ++taken_[best];
    ++drawn_;
    return &sets_[best][order_[best][cur_[best]++]];
  }
  int64_t position() const { return drawn_; }
  void seek(int64_t n) {  // the state after n draws (a resumed run)
    while (drawn_ < n) next();
  }

 private:
  const std::vector<std::vector<RmExample>>& sets_;
  std::vector<double> w_;
  uint64_t seed_;
  int64_t per_batch_;
  size_t held_ = 0;  // the aspect of the batch being drawn (per_batch)
  std::vector<int64_t> taken_;
  std::vector<size_t> cur_;
  std::vector<uint64_t> epoch_;
  std::vector<std::vector<uint32_t>> order_;
  int64_t drawn_ = 0;
};

// The base model with the recipe's adapter (imported) or new LoRA factors, or none.
std::unique_ptr<TrainModel> make_base(const RmRecipe& rec, const RmTrainOptions& opt) {
  TrainOptions to;
  to.exact_base = opt.exact_base;
  to.seed = rec.seed;
  to.lora_targets.clear();
  model::LoraAdapter start;
  if (!opt.adapter_path.empty()) {
    start = model::load_lora(opt.adapter_path);
    HELIX_CHECK(!start.weights.empty(), "the adapter ", opt.adapter_path, " has no LoRA factors");
    to.lora_rank = start.weights.begin()->second.rank;
    to.lora_alpha = start.alpha > 0 ? start.alpha : static_cast<float>(to.lora_rank);
    for (const auto& [name, p] : start.weights) {
      HELIX_CHECK(!model::lora_is_embedding(name) && name.rfind("blk.", 0) == 0, "the adapter ", opt.adapter_path,
                  " adapts '", name, "'; reward models start only from adapters of the blocks' projections");
      const size_t d1 = name.find('.', 4), d2 = name.rfind('.');
      const std::string shortname = name.substr(d1 + 1, d2 - d1 - 1);
      if (std::find(to.lora_targets.begin(), to.lora_targets.end(), shortname) == to.lora_targets.end())
        to.lora_targets.push_back(shortname);
    }
  } else if (rec.new_lora) {
    to.lora_rank = rec.lora.rank;
    to.lora_alpha = static_cast<float>(rec.lora.alpha);
    to.lora_dropout = static_cast<float>(rec.lora.dropout);
    to.lora_targets = rec.lora.targets;
  }
  auto m = std::make_unique<TrainModel>(opt.model_path, to);
  if (!opt.adapter_path.empty()) m->import_lora(start);
  return m;
}

std::string chart(const RmRecipe& rec, const ojson& log, const std::vector<RmEvalRow>& rows) {
  svg::LineChart lc;
  lc.title = rec.name + ": training loss";
  lc.x_label = "step";
  lc.y_label = "loss (mean per example)";
  svg::Series loss{"train loss", {}, false}, avg{"mean of last 10", {}, false};
  double run = 0;
  std::vector<double> last;
  for (const auto& s : log) {
    const double step = s["step"].get<double>(), l = s["loss"].get<double>();
    loss.points.emplace_back(step, l);
    last.push_back(l);
    run += l;
    if (last.size() > 10) run -= last[last.size() - 11];
    avg.points.emplace_back(step, run / static_cast<double>(std::min<size_t>(last.size(), 10)));
  }
  lc.series = {loss, avg};
  svg::BarChart bc;
  bc.title = "held-out accuracy per aspect";
  bc.y_label = "accuracy";
  bc.bar_labels = {"accuracy", "chance"};
  bc.values.assign(2, {});
  bc.y_max = 1.0;
  for (const RmEvalRow& r : rows) {
    bc.groups.push_back(r.aspect + (r.level == RmLevel::Step ? " (step)" : ""));
    bc.values[0].push_back(r.accuracy);
    bc.values[1].push_back(0.5);
  }
  const int bw = std::max(320, 110 * static_cast<int>(rows.size()) + 120);
  return svg::side_by_side({svg::line_chart(lc, 560, 360), svg::bar_chart(bc, bw, 360)}, {560, bw}, 360);
}

std::string table(const RmRecipe& rec, const std::vector<RmEvalRow>& rows) {
  std::string md = cat("# ", rec.name, ": reward model, held-out evaluation\n\n",
                       "| aspect | level | records | accuracy | n | within-record pairs / mean margin |\n",
                       "|---|---|---:|---:|---:|---:|\n");
  char buf[256];
  for (const RmEvalRow& r : rows) {
    std::snprintf(buf, sizeof buf, "| %s | %s | %lld | %.3f | %lld | %.3f%s |\n", r.aspect.c_str(),
                  rm_level_name(r.level), static_cast<long long>(r.records), r.accuracy, static_cast<long long>(r.n),
                  r.pairwise, r.level == RmLevel::Step ? cat(" (", r.n_pairwise, " pairs)").c_str() : " (margin)");
    md += buf;
  }
  return md;
}

}  // namespace

ojson train_reward_model(const RmRecipe& rec, const RmTrainOptions& opt) {
  const std::string out = !opt.out.empty() ? opt.out : rec.out;
  const std::string work = !opt.work_dir.empty() ? opt.work_dir : out + ".run";
  fs::create_directories(work);
  auto log = [&](const std::string& s) {
    if (opt.log) opt.log(s);
  };
  // Tokenizer and template: the recipe's, else the starting adapter's, else the model's.
  const gguf::GGUFFile file = gguf::GGUFFile::open(opt.model_path);
  const auto tokenizer = tok::Tokenizer::from_gguf(file);
  std::string tmpl;
  if (rec.chat_template.empty() && !opt.adapter_path.empty()) tmpl = model::load_lora(opt.adapter_path).chat_template;
  if (tmpl.empty()) tmpl = chat_template_for_training(file, rec.chat_template);
  const SampleRenderer sr(*tokenizer, tmpl);
  const RmRenderer rr(sr, rec.step_separator);
  const OnBadData on_bad = parse_on_bad_data(rec.on_bad_data);

  std::vector<std::pair<std::string, RmLevel>> heads;
  for (const RmAspect& a : rec.aspects) heads.emplace_back(a.name, a.level);
  std::vector<std::vector<RmExample>> train(rec.aspects.size()), held(rec.aspects.size());
  std::vector<double> weights;
  for (size_t i = 0; i < rec.aspects.size(); ++i) {
    const RmAspect& a = rec.aspects[i];
    RmLoadResult d = load_rm_jsonl(a.train, a.level, static_cast<int>(i), a.name, rr, rec.seq_len, on_bad);
    HELIX_CHECK(!d.examples.empty(), rec.path, ": aspect '", a.name, "': ", a.train, " has no usable records");
    for (const auto& b : d.bad) log(cat("skipped ", b.message()));
    log(cat("aspect ", a.name, " (", rm_level_name(a.level), "): ", d.examples.size(), " training records, ",
            d.n_tokens, " tokens"));
    train[i] = std::move(d.examples);
    weights.push_back(a.weight);
    if (!a.eval.empty())
      held[i] = load_rm_jsonl(a.eval, a.level, static_cast<int>(i), a.name, rr, 0, on_bad, rec.max_eval).examples;
  }

  RewardModel m(make_base(rec, opt), heads, 0);
  for (size_t i = 0; i < rec.aspects.size(); ++i) m.heads()[i].shapes_base = rec.aspects[i].shapes_base;
  const bool train_base = (!opt.adapter_path.empty() && rec.train_adapter) || rec.new_lora;
  m.set_train_base(train_base);
  std::vector<Param*> base_params = train_base ? m.base().trainable() : std::vector<Param*>{};
  std::vector<Param*> head_params = m.head_params(), all = base_params;
  all.insert(all.end(), head_params.begin(), head_params.end());
  const float wd = static_cast<float>(rec.weight_decay);
  AdamW base_opt(base_params, {static_cast<float>(rec.lr), 0.9f, 0.999f, 1e-8f, wd});
  AdamW head_opt(head_params, {static_cast<float>(rec.head_lr), 0.9f, 0.999f, 1e-8f, 0.0f});
  const Schedule sched = schedule_from_name(rec.schedule);
  const int64_t steps = opt.max_steps > 0 ? std::min(opt.max_steps, rec.steps) : rec.steps;
  log(cat("training ", steps, " steps of ", rec.batch, rec.batch_by == "aspect" ? " examples of one aspect; " : " examples; ",
          base_params.size(),
          " trainable base tensors (", train_base ? "LoRA factors train" : "base frozen: heads only", "), ",
          heads.size(), " heads"));

  RmMix mix(train, weights, rec.seed, rec.batch_by == "aspect" ? rec.batch : 1);
  ojson steps_log = ojson::array();
  const double t0 = now_s();
  int64_t tokens = 0, first = 0;
  double last_loss = 0;
  // Checkpoints (trainer.h's format): LoRA factors, heads, both optimizers' moments, the draw
  // position and the curve so far; a rerun after a crash or kill -9 continues the same curve.
  const std::string ckpt = work + "/rm.ckpt";
  const std::vector<CheckpointGroup> groups = {{base_params, &base_opt}, {head_params, &head_opt}};
  if (fs::exists(ckpt)) {
    const CheckpointState st = read_checkpoint(ckpt, rec.seed, steps, groups);
    first = st.step;
    mix.seek(st.position);
    steps_log = st.log.value("steps", ojson::array());
    for (const auto& e : steps_log) tokens += e["tokens"].get<int64_t>();
    if (!steps_log.empty()) last_loss = steps_log.back()["loss"].get<double>();
    log(cat("resuming from the checkpoint ", ckpt, " at step ", first));
  }
  const int64_t tokens_before = tokens;
  for (int64_t step = first; step < steps; ++step) {
    m.base().zero_grad();
    for (Param* p : head_params) std::fill(p->grad.begin(), p->grad.end(), 0.0f);
    std::vector<const RmExample*> ex;
    for (int64_t i = 0; i < rec.batch; ++i) ex.push_back(mix.next());
    const RmBatch b = make_rm_batch(ex, static_cast<float>(rec.margin));
    m.base().set_dropout_step(static_cast<uint64_t>(step));
    const RmLoss loss = m.forward_backward(b.batch, b.terms, 1.0f, true);
    RmTrainReport r;
    r.grad_norm = clip_grad_norm(all, rec.grad_clip);
    const float f = lr_factor(sched, step, rec.warmup, steps);
    base_opt.step(static_cast<float>(rec.lr) * f);
    head_opt.step(static_cast<float>(rec.head_lr) * f);
    tokens += b.batch.size();
    r.step = step + 1;
    r.steps = steps;
    r.loss = loss.total();
    r.accuracy = static_cast<double>(loss.pairs_right + loss.steps_right) /
                 static_cast<double>(std::max<int64_t>(1, loss.n_pairs + loss.n_steps));
    r.lr = static_cast<float>(rec.lr) * f;
    r.tokens = b.batch.size();
    const double el = now_s() - t0;
    r.tokens_per_s = static_cast<double>(tokens - tokens_before) / std::max(1e-9, el);
    r.eta_s = el / static_cast<double>(r.step - first) * static_cast<double>(steps - r.step);
    last_loss = r.loss;
    ojson drawn = ojson::object();  // examples of each aspect in this step's batch
    for (const RmExample* e : ex) {
      const std::string& an = rec.aspects[static_cast<size_t>(e->head)].name;
      drawn[an] = drawn.value(an, 0) + 1;
    }
    steps_log.push_back({{"step", r.step}, {"loss", r.loss}, {"accuracy", r.accuracy}, {"grad_norm", r.grad_norm},
                         {"lr", r.lr}, {"tokens", r.tokens}, {"aspects", drawn}});
    if (opt.progress) opt.progress(r);
    if (opt.checkpoint_every > 0 && r.step % opt.checkpoint_every == 0 && r.step < steps)
      write_checkpoint(ckpt, {r.step, rec.seed, mix.position(), {{"steps", steps_log}}}, groups);
  }
  const double train_s = now_s() - t0;

  RmFileInfo info;
  info.name = rec.name;
  info.base_model = fs::absolute(opt.model_path).string();
  info.chat_template = tmpl;
  info.step_separator = rec.step_separator;
  info.has_adapter = !m.base().trainable().empty();
  if (fs::path(out).has_parent_path()) fs::create_directories(fs::path(out).parent_path());
  save_reward_model(m, info, out);
  fs::remove(ckpt);
  log(cat("wrote ", out));

  std::vector<RmEvalRow> rows;
  ojson evals = ojson::array();
  for (size_t i = 0; i < rec.aspects.size(); ++i) {
    if (held[i].empty()) continue;
    const std::string& name = rec.aspects[i].name;
    rows.push_back(evaluate_aspect(m, static_cast<int>(i), held[i], opt.eval_tokens, [&](size_t d, size_t n) {
      if (opt.eval_progress) opt.eval_progress(name, d, n);
    }));
    const RmEvalRow& r = rows.back();
    evals.push_back({{"aspect", r.aspect}, {"level", rm_level_name(r.level)}, {"records", r.records},
                     {"accuracy", r.accuracy}, {"n", r.n}, {"pairwise", r.pairwise}, {"n_pairwise", r.n_pairwise}});
    log(cat("held-out ", r.aspect, " (", rm_level_name(r.level), "): accuracy ", r.accuracy, " over ", r.n,
            r.level == RmLevel::Step ? " steps" : " pairs"));
  }
  ojson res = {{"recipe", rec.path}, {"model", opt.model_path}, {"adapter", opt.adapter_path}, {"out", out},
               {"steps", steps}, {"final_loss", last_loss}, {"train_seconds", train_s}, {"train_tokens", tokens},
               {"eval", evals}};
  write_text(work + "/results.json", res.dump(2) + "\n");
  write_text(work + "/steps.json", steps_log.dump(1) + "\n");
  write_text(work + "/results.md", table(rec, rows));
  write_text(work + "/results.svg", chart(rec, steps_log, rows));
  return res;
}

}  // namespace helix::train
