// The recipe runner (recipe_run.h): stages in order, evaluations with the serving model, resumable
// from its work folder.
#include "train/recipe_run.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "core/error.h"
#include "core/svg_chart.h"
#include "kernels/matmul_backward.h"
#include "model/kv_cache.h"
#include "model/lora.h"
#include "model/model.h"
#include "runtime/session.h"
#include "tokenizer/tokenizer.h"
#include "train/eval_metrics.h"
#include "train/prefs.h"
#include "train/reward.h"

namespace helix::train {

using ojson = nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Writes text atomically (temporary file, then rename), so a kill never leaves half a file.
void write_atomic(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    HELIX_CHECK(f, "cannot write ", tmp);
    f << text;
    f.flush();
    HELIX_CHECK(f, "cannot write ", tmp);
  }
  fs::rename(tmp, path);
}

ojson read_json(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  HELIX_CHECK(f, "cannot read ", path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ojson::parse(ss.str());
}

std::string fixed(double v, int digits) {
  if (!std::isfinite(v)) return "-";
  char b[32];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

// Mean loss of the model on the samples' target tokens (the trainer's loss), with the serving
// forward: only positions that predict a target return logits.
LossSum serving_loss(model::Model& m, const std::vector<Sample>& samples) {
  LossSum total;
  const int64_t V = m.hparams().n_vocab, chunk = 512;
  const auto& k = kernels::backward_kernels();
  std::vector<float> logits;
  for (const Sample& s : samples) {
    const int64_t n = static_cast<int64_t>(s.tokens.size());
    model::KVCache kv(m.hparams(), n + 1, 1, chunk);
    for (int64_t start = 0; start < n; start += chunk) {
      const int64_t end = std::min(n, start + chunk);
      model::Batch b;
      std::vector<int32_t> want;
      for (int64_t i = start; i < end; ++i) {
        const bool t = i + 1 < n && s.loss[static_cast<size_t>(i + 1)];
        b.add(s.tokens[static_cast<size_t>(i)], i, 0, t);
        if (t) want.push_back(s.tokens[static_cast<size_t>(i + 1)]);
      }
      m.forward(b, kv, logits);
      for (size_t i = 0; i < want.size(); ++i) {  // the trainer's cross-entropy kernel (logits are scratch after)
        total.sum += k.softmax_xent(logits.data() + static_cast<int64_t>(i) * V, V, want[i], 0.0f, false);
        ++total.count;
      }
    }
  }
  return total;
}

// Scores every eval set of `names` on one serving model (its default adapter set applied). Each
// set is read and rendered once, at its first evaluation.
class Evaluator {
 public:
  Evaluator(const Recipe& rec, const SampleRenderer& r, std::shared_ptr<tok::Tokenizer> tok,
            std::function<void(const std::string&)> log)
      : rec_(rec), r_(r), tok_(std::move(tok)), log_(std::move(log)) {}

  ojson run(std::shared_ptr<model::Model> m, const std::vector<std::string>& names, const std::string& label) {
    ojson out = ojson::object();
    for (const EvalSet& set : rec_.evals) {
      if (std::find(names.begin(), names.end(), set.name) == names.end()) continue;
      const double t0 = now_s();
      ojson res = ojson::object();
      if (std::find(set.metrics.begin(), set.metrics.end(), "loss") != set.metrics.end()) {
        auto it = loss_sets_.find(set.name);
        if (it == loss_sets_.end()) {
          LoadOptions lo;
          lo.max_samples = set.max_samples;
          it = loss_sets_.emplace(set.name, load_jsonl(set.path, set.name, r_, lo).samples).first;
        }
        const LossSum ls = serving_loss(*m, it->second);
        res["loss"] = ls.count > 0 ? ls.sum / static_cast<double>(ls.count) : 0.0;
      }
      if (std::any_of(set.metrics.begin(), set.metrics.end(), [](const std::string& x) { return x != "loss"; })) {
        runtime::Session sess(m, tok_, 4096);
        auto it = answer_sets_.find(set.name);
        if (it == answer_sets_.end()) it = answer_sets_.emplace(set.name, load_answer_items(set, r_)).first;
        const ojson ans = score_answers(set, it->second, [&](const std::vector<int32_t>& prompt, int64_t max_new) {
          sess.set_tokens(prompt);
          runtime::GenerateOptions g;
          g.max_tokens = max_new;
          g.sampling.temperature = 0;
          std::string text;
          sess.generate(g, [&](const std::string& piece) { text += piece; });
          return text;
        });
        for (auto& [k, v] : ans.items()) res[k] = v;
      }
      std::string line = cat("eval ", label, ": ", set.name);
      for (auto& [k, v] : res.items()) line += cat("  ", k, " ", v.is_number_float() ? fixed(v.get<double>(), 3) : v.dump());
      log_(cat(line, "  (", fixed(now_s() - t0, 0), " s)"));
      out[set.name] = std::move(res);
    }
    return out;
  }

 private:
  const Recipe& rec_;
  const SampleRenderer& r_;
  std::shared_ptr<tok::Tokenizer> tok_;
  std::function<void(const std::string&)> log_;
  std::map<std::string, std::vector<Sample>> loss_sets_;         // by set name
  std::map<std::string, std::vector<AnswerItem>> answer_sets_;
};

std::vector<std::string> all_eval_names(const Recipe& rec) {
  std::vector<std::string> n;
  for (const auto& e : rec.evals) n.push_back(e.name);
  return n;
}

// "| set | metric | col... |" rows for evaluations given per column.
std::string markdown_table(const std::vector<std::string>& columns, const std::vector<const ojson*>& evals) {
  std::string md = "| set | metric |";
  for (const auto& c : columns) md += " " + c + " |";
  md += "\n| --- | --- |";
  for (size_t i = 0; i < columns.size(); ++i) md += " ---: |";
  md += "\n";
  if (evals.empty() || !evals[0]) return md;
  for (auto& [set, metrics] : evals[0]->items())
    for (auto& [metric, v0] : metrics.items()) {
      if (metric == "n") continue;
      md += "| " + set + " | " + metric + " |";
      for (const ojson* e : evals) {
        const bool has = e && e->contains(set) && (*e)[set].contains(metric);
        md += " " + (has ? fixed((*e)[set][metric].get<double>(), metric == "loss" ? 3 : 2) : std::string("-")) + " |";
      }
      md += "\n";
    }
  return md;
}

// A preference stage's reward accuracy or margin per training step, and on the held-out pairs.
svg::LineChart preference_chart(const std::string& title, const ojson& log, const std::string& key) {
  svg::LineChart c;
  const bool acc = key == "reward_accuracy";
  c.title = title + (acc ? ": reward accuracy" : ": reward margin");
  c.x_label = "step";
  c.y_label = acc ? "share of pairs, chosen > rejected" : "mean chosen − rejected reward";
  svg::Series train{"train", {}, false}, held{"held-out", {}, true};
  for (const auto& s : log["steps"]) train.points.emplace_back(s["step"].get<double>(), s[key].get<double>());
  if (log.contains("pref_evals"))
    for (const auto& e : log["pref_evals"]) held.points.emplace_back(e["step"].get<double>(), e["results"][key].get<double>());
  c.series.push_back(train);
  if (!held.points.empty()) c.series.push_back(held);
  return c;
}

std::string stage_chart(const std::string& title, const ojson& log, const ojson& before, const ojson& after) {
  svg::LineChart lc;
  lc.title = title + ": loss";
  lc.x_label = "step";
  lc.y_label = "loss";
  svg::Series train{"train loss", {}, false};
  for (const auto& s : log["steps"]) train.points.emplace_back(s["step"].get<double>(), s["loss"].get<double>());
  lc.series.push_back(train);
  const bool pref = !log["steps"].empty() && log["steps"][0].contains("losses");
  if (pref)  // a curve per loss of a preference stage (unweighted; "train loss" is their weighted sum)
    for (auto& [name, v0] : log["steps"][0]["losses"].items()) {
      svg::Series term{name + " loss", {}, false};
      for (const auto& s : log["steps"]) term.points.emplace_back(s["step"].get<double>(), s["losses"][name].get<double>());
      lc.series.push_back(term);
    }
  const double last = train.points.empty() ? 0 : train.points.back().first;
  for (auto& [set, m] : before.items()) {
    svg::Series e{"eval " + set, {}, true};
    if (m.contains("loss")) e.points.emplace_back(0.0, m["loss"].get<double>());
    if (log.contains("evals"))
      for (const auto& ev : log["evals"])
        if (ev["results"].contains(set) && ev["results"][set].contains("loss"))
          e.points.emplace_back(ev["step"].get<double>(), ev["results"][set]["loss"].get<double>());
    if (after.contains(set) && after[set].contains("loss")) e.points.emplace_back(last, after[set]["loss"].get<double>());
    if (!e.points.empty()) lc.series.push_back(e);
  }
  svg::BarChart bc;
  bc.title = title + ": answers (before / after)";
  bc.y_label = "fraction";
  bc.y_max = 1;
  bc.bar_labels = {"before", "after"};
  bc.values.resize(2);
  for (auto& [set, m] : before.items())
    for (auto& [metric, v] : m.items()) {
      if (metric == "loss" || metric == "n") continue;
      bc.groups.push_back(set + " " + (metric == "format_valid" ? "fmt" : metric == "exact_match" ? "exact" : "cite"));
      bc.values[0].push_back(v.get<double>());
      bc.values[1].push_back(after.contains(set) && after[set].contains(metric) ? after[set][metric].get<double>() : NAN);
    }
  const int bw = std::max<int>(560, 64 * static_cast<int>(bc.groups.size()));
  std::vector<std::string> charts = {svg::line_chart(lc, 560, 360)};
  std::vector<int> widths = {560};
  if (pref)
    for (const char* key : {"reward_accuracy", "margin"}) {
      charts.push_back(svg::line_chart(preference_chart(title, log, key), 560, 360));
      widths.push_back(560);
    }
  if (!bc.groups.empty() || !pref) {
    charts.push_back(svg::bar_chart(bc, bw, 360));
    widths.push_back(bw);
  }
  return svg::side_by_side(charts, widths, 360);
}

// The rm term's reward model (prefs.h): loaded on the recipe's base, its response-level heads
// combined by the stage's rm_aspects weights into one score per answer.
class RmTermModel {
 public:
  RmTermModel(const PrefSettings& p, const std::string& model_path, bool exact_base, const std::string& tmpl,
              const std::function<void(const std::string&)>& log) {
    RmFileInfo info;
    rm_ = load_reward_model(p.rm, model_path, exact_base, &info);
    std::string used;
    for (size_t h = 0; h < rm_->heads().size(); ++h) {
      const RmHead& head = rm_->heads()[h];
      const auto it = p.rm_aspects.find(head.aspect);
      if (head.level != RmLevel::Response || (!p.rm_aspects.empty() && it == p.rm_aspects.end())) continue;
      weights_.emplace_back(h, p.rm_aspects.empty() ? 1.0 : it->second);
      used += cat(used.empty() ? "" : ", ", head.aspect, " x ", weights_.back().second);
    }
    for (const auto& [name, w] : p.rm_aspects) {
      const int h = rm_->head_index(name);
      HELIX_CHECK(h >= 0 && rm_->heads()[static_cast<size_t>(h)].level == RmLevel::Response, "rm_aspects: reward model '",
                  p.rm, "' has no response-level head named '", name, "'");
    }
    HELIX_CHECK(!weights_.empty(), "reward model '", p.rm, "' has no response-level head for the rm term");
    if (!info.chat_template.empty() && info.chat_template != tmpl)
      log(cat("note: reward model ", p.rm, " was trained with another chat template than this recipe's; it scores this "
              "recipe's rendering of the answers"));
    log(cat("rm term: reward model ", p.rm, " (", used, "; tau ", p.rm_tau, ")"));
    std::error_code ec;
    fingerprint_ = cat(fs::absolute(p.rm).string(), " ", fs::file_size(p.rm, ec), " ",
                       fs::last_write_time(p.rm, ec).time_since_epoch().count(), " ", used);
  }
  PairScorer scorer() {
    return {[this](const TrainBatch& b, const std::vector<int64_t>& pos) {
              const std::vector<float> r = rm_->scores(b, pos);
              const size_t H = rm_->heads().size();
              std::vector<float> out(pos.size(), 0.0f);
              for (size_t i = 0; i < pos.size(); ++i)
                for (const auto& [h, w] : weights_) out[i] += static_cast<float>(w) * r[i * H + h];
              return out;
            },
            fingerprint_};
  }

 private:
  std::unique_ptr<RewardModel> rm_;
  std::vector<std::pair<size_t, double>> weights_;
  std::string fingerprint_;
};

}  // namespace

namespace {

// One run of a recipe: the model, renderer and evaluator shared by its stages.
class Runner {
 public:
  Runner(const Recipe& rec, const RecipeRunOptions& opt);
  ojson run();

 private:
  std::string stage_base(size_t i) const { return cat(work_, "/stage", i + 1, "-", rec_.stages[i].name); }
  const ojson& eval_point(size_t k, const std::string& result);  // k = 0: base; k = i + 1: after stage i
  std::shared_ptr<model::Model> serving_for(const std::string& result);
  void train_stage(size_t i, const std::string& prev);
  // The adapter as written and served: f16 factors, as llama.cpp's convert_lora_to_gguf.py writes
  // them (half the memory read per decoded token; checkpoints keep f32 for exact resumes).
  model::LoraAdapter served_adapter(const TrainModel& m) const {
    model::LoraAdapter a = m.export_lora(rec_.name);
    a.factor_type = DType::F16;
    return a;
  }
  void write_stage_report(size_t i);
  ojson write_results();

  const Recipe& rec_;
  RecipeRunOptions opt_;
  std::string work_, out_, tmpl_;
  bool full_ = false;
  std::shared_ptr<const gguf::GGUFFile> file_;
  std::shared_ptr<tok::Tokenizer> tok_;
  std::unique_ptr<SampleRenderer> renderer_;
  std::unique_ptr<Evaluator> evaluator_;
  std::shared_ptr<model::Model> base_serving_;  // LoRA: adapters are added as sets to this one
  int serving_set_ = 0;                          // the set serving_for last added (0: none)
  TrainOptions topt_;
  std::map<size_t, ojson> evals_;
};

Runner::Runner(const Recipe& rec, const RecipeRunOptions& opt) : rec_(rec), opt_(opt) {
  if (!opt_.log) opt_.log = [](const std::string&) {};
  out_ = opt_.out.empty() ? rec.out : opt_.out;
  work_ = opt_.work_dir.empty() ? out_ + ".run" : opt_.work_dir;
  full_ = rec.stages.front().full;
  for (const Stage& s : rec.stages) {
    HELIX_CHECK(s.full == full_, rec.path, ": stage '", s.name, "' is ", s.full ? "full" : "LoRA",
                " but stage '", rec.stages.front().name, "' is ", full_ ? "full" : "LoRA",
                "; a recipe's stages all train the same way (mode)");
    HELIX_CHECK(!full_ || s.eval_every == 0, rec.path, ": stage '", s.name,
                "': eval_every works with LoRA stages only; evaluate full fine-tuning before and after the stage");
  }
  HELIX_CHECK(!full_ || opt_.write_full, "full fine-tuning needs a model writer");
  file_ = std::make_shared<const gguf::GGUFFile>(gguf::GGUFFile::open(opt_.model_path));
  tok_ = std::shared_ptr<tok::Tokenizer>(tok::Tokenizer::from_gguf(*file_));
  tmpl_ = chat_template_for_training(*file_, rec.chat_template);
  renderer_ = std::make_unique<SampleRenderer>(*tok_, tmpl_);
  evaluator_ = std::make_unique<Evaluator>(rec_, *renderer_, tok_, opt_.log);
  const Stage& s0 = rec.stages.front();
  topt_.mode = full_ ? TrainMode::Full : TrainMode::Lora;
  topt_.lora_rank = s0.lora.rank;
  topt_.lora_alpha = static_cast<float>(s0.lora.alpha);
  topt_.lora_dropout = static_cast<float>(s0.lora.dropout);
  topt_.lora_targets = s0.lora.targets;
  topt_.seed = rec.seed;
  topt_.exact_base = opt_.exact_base;
  fs::create_directories(work_);
}

std::shared_ptr<model::Model> Runner::serving_for(const std::string& result) {
  if (full_) return std::shared_ptr<model::Model>(model::load_model(result.empty() ? opt_.model_path : result));
  if (!base_serving_) base_serving_ = std::shared_ptr<model::Model>(model::load_model(file_));
  // Each evaluation adds its checkpoint as a new set; the previous one is no longer used.
  if (serving_set_ > 0) base_serving_->remove_lora_set(serving_set_);
  int set = 0;
  if (!result.empty()) {
    model::LoraUse u;
    u.adapter = std::make_shared<const model::LoraAdapter>(model::load_lora(result));
    u.path = result;
    set = base_serving_->add_lora_set({u});
  }
  base_serving_->set_default_lora(set);
  serving_set_ = set;
  return base_serving_;
}

const ojson& Runner::eval_point(size_t k, const std::string& result) {
  if (evals_.count(k)) return evals_[k];
  const std::string path = k == 0 ? work_ + "/eval-base.json" : cat(work_, "/eval-", k, ".json");
  if (fs::exists(path)) return evals_[k] = read_json(path);
  const std::string label = k > 0 ? "after stage " + rec_.stages[k - 1].name
                            : result.empty() ? "base model" : "start (base + " + result + ")";
  ojson e = rec_.evals.empty() ? ojson::object() : evaluator_->run(serving_for(result), all_eval_names(rec_), label);
  write_atomic(path, e.dump(2) + "\n");
  return evals_[k] = std::move(e);
}

void Runner::train_stage(size_t i, const std::string& prev) {
  const Stage& st = rec_.stages[i];
  const std::string base = stage_base(i);
  const std::string& from = full_ && !prev.empty() ? prev : opt_.model_path;
  TrainOptions to = topt_;
  to.checkpoint_activations = st.checkpoint_activations || opt_.checkpoint_activations;
  TrainModel m(std::make_shared<const gguf::GGUFFile>(gguf::GGUFFile::open(from)), to);
  const std::string& start = prev.empty() ? opt_.init_adapter : prev;
  if (!full_ && !start.empty()) m.import_lora(model::load_lora(start));
  const StageData data = load_stage_data(rec_, i, *renderer_);
  ojson counts = ojson::array();
  for (size_t d = 0; d < data.sets.size(); ++d) {
    const LoadResult& ds = data.sets[d];
    for (const auto& b : ds.bad) opt_.log("skipped " + b.message());
    counts.push_back({{"name", st.datasets[d].name}, {"weight", st.datasets[d].weight},
                      {"samples", ds.samples.size()}, {"tokens", ds.n_tokens}, {"skipped", ds.bad.size()}});
  }
  SftOptions so;
  so.steps = data.steps_for(st);
  if (opt_.max_steps > 0) so.steps = std::min(so.steps, opt_.max_steps);
  so.batch = st.batch;
  so.grad_accum = st.grad_accum;
  so.seq_len = st.seq_len;
  so.adam.lr = static_cast<float>(st.lr);
  so.adam.weight_decay = static_cast<float>(st.weight_decay);
  so.schedule = schedule_from_name(st.schedule);
  so.warmup = std::min(st.warmup, so.steps);
  so.clip = st.grad_clip;
  so.seed = rec_.seed + i;
  so.checkpoint = base + ".ckpt";
  so.checkpoint_every = opt_.checkpoint_every;
  // Preference stages: the objective takes the reference from the model's values now (the stage's start).
  LoadResult heldout;
  std::unique_ptr<RmTermModel> reward;  // the rm term's reward model (declared before the objective that uses it)
  std::unique_ptr<PrefObjective> pref;
  if (st.type == "dpo") {
    LoadOptions lo;
    lo.max_samples = st.pref.heldout_max;
    lo.seq_len = st.seq_len;
    lo.on_bad_data = parse_on_bad_data(rec_.on_bad_data);
    if (!st.pref.heldout.empty()) heldout = load_pairs(st.pref.heldout, "heldout", *renderer_, lo);
    std::vector<const std::vector<Sample>*> sets;
    for (const LoadResult& d : data.sets) sets.push_back(&d.samples);
    if (!st.pref.rm.empty()) reward = std::make_unique<RmTermModel>(st.pref, opt_.model_path, opt_.exact_base, tmpl_, opt_.log);
    pref = std::make_unique<PrefObjective>(m, st.pref, sets, st.pref.heldout.empty() ? nullptr : &heldout.samples,
                                           base + ".ref.gguf", st.batch * st.seq_len,
                                           reward ? reward->scorer() : PairScorer{});
    so.objective = pref.get();
  }
  SftTrainer trainer(m, data.mix(so.seed), so);
  if (trainer.resume())
    opt_.log(cat("resuming stage ", st.name, " from its checkpoint at step ", trainer.step(),
                 pref ? cat(" (", pref->cached(), " pairs' reference log-probabilities read from the cache)") : ""));
  auto heldout_eval = [&](int64_t step) {
    const ojson res = pref ? pref->evaluate_heldout(m) : ojson(nullptr);
    if (res.is_null()) return;
    if (!trainer.log().contains("pref_evals")) trainer.log()["pref_evals"] = ojson::array();
    trainer.log()["pref_evals"].push_back({{"step", step}, {"results", res}});
    opt_.log(cat("held-out pairs at step ", step, ": reward accuracy ", fixed(res["reward_accuracy"].get<double>(), 3),
                 ", margin ", fixed(res["margin"].get<double>(), 3), ", dpo loss ", fixed(res["dpo"].get<double>(), 4)));
  };
  if (!trainer.log().contains("pref_evals")) heldout_eval(0);
  std::string sets;
  for (const auto& c : counts)
    sets += cat(sets.empty() ? "" : ", ", c["samples"].get<int64_t>(), " samples of ", c["name"].get<std::string>(), " (",
                c["tokens"].get<int64_t>(), " tokens, weight ", c["weight"].get<double>(), ")");
  opt_.log(cat("stage ", i + 1, "/", rec_.stages.size(), " ", st.name, ": ", so.steps, " steps of ", st.batch, " x ",
               st.grad_accum, " rows of ", st.seq_len, " tokens; data: ", sets));
  trainer.run([&](const StepReport& r) {
    if (opt_.progress) opt_.progress({i + 1, rec_.stages.size(), st.name, r});
    if (st.eval_every > 0 && !st.evals.empty() && r.step % st.eval_every == 0 && r.step < r.steps) {
      const std::string tmp = base + ".eval.gguf";
      model::save_lora(served_adapter(m), tmp);
      const ojson res = evaluator_->run(serving_for(tmp), st.evals, cat("stage ", st.name, " step ", r.step));
      if (!trainer.log().contains("evals")) trainer.log()["evals"] = ojson::array();
      trainer.log()["evals"].push_back({{"step", r.step}, {"results", res}});
    }
    if (st.eval_every > 0 && r.step % st.eval_every == 0 && r.step < r.steps) heldout_eval(r.step);
  });
  heldout_eval(trainer.step());
  if (full_) {
    std::map<std::string, const std::vector<float>*> tensors;
    for (const Param* p : m.trainable()) tensors[p->name] = &p->value;
    opt_.write_full(*file_, tensors, base + ".gguf");
  } else {
    model::LoraAdapter a = served_adapter(m);
    a.chat_template = tmpl_;
    model::save_lora(a, base + ".gguf");
  }
  ojson log = trainer.log();
  log["name"] = st.name;
  log["data"] = counts;
  write_atomic(base + ".json", log.dump(1) + "\n");
  fs::remove(so.checkpoint);
  fs::remove(base + ".eval.gguf");
  fs::remove(base + ".ref.gguf");
}

void Runner::write_stage_report(size_t i) {
  const std::string base = stage_base(i);
  const ojson log = read_json(base + ".json");
  const ojson &before = evals_[i], &after = evals_[i + 1];
  write_atomic(base + ".svg", stage_chart(cat("stage ", i + 1, " ", rec_.stages[i].name), log, before, after));
  std::string md = cat("## Stage ", i + 1, ": ", rec_.stages[i].name, "\n\n", log["steps"].size(), " steps; final loss ",
                       log["steps"].empty() ? "-" : fixed(log["steps"].back()["loss"].get<double>(), 4), "\n\n");
  md += markdown_table({"before", "after"}, {&before, &after});
  if (!log["steps"].empty() && log["steps"].back().contains("losses")) {  // a preference stage's terms
    const ojson &first = log["steps"].front(), &last = log["steps"].back();
    md += "\nLoss terms (unweighted) and training-pair figures, first and last step:\n\n| term | weight (first / last) | "
          "first step | last step |\n| --- | ---: | ---: | ---: |\n";
    for (auto& [k, v] : last["losses"].items())
      md += cat("| ", k, " | ", fixed(first["weights"][k].get<double>(), 3), " / ", fixed(last["weights"][k].get<double>(), 3),
                " | ", fixed(first["losses"][k].get<double>(), 4), " | ", fixed(v.get<double>(), 4), " |\n");
    for (const char* k : {"reward_accuracy", "margin"})
      md += cat("| ", k, " | | ", fixed(first[k].get<double>(), 3), " | ", fixed(last[k].get<double>(), 3), " |\n");
  }
  if (log.contains("pref_evals") && log["pref_evals"].size() >= 2) {
    const ojson &b = log["pref_evals"].front()["results"], &a = log["pref_evals"].back()["results"];
    md += cat("\nHeld-out preference pairs (", a["pairs"].get<int64_t>(), "):\n\n| metric | before | after |\n| --- | ---: | ---: |\n");
    for (const char* k : {"reward_accuracy", "margin", "chosen_reward", "rejected_reward", "dpo", "ipo"})
      md += cat("| ", k, " | ", fixed(b[k].get<double>(), 3), " | ", fixed(a[k].get<double>(), 3), " |\n");
  }
  write_atomic(base + ".md", md);
}

ojson Runner::write_results() {
  ojson res = {{"recipe", rec_.path}, {"model", opt_.model_path}, {"out", out_}};
  const std::string first = opt_.init_adapter.empty() ? "base" : "start";
  ojson stages = ojson::array(), columns = ojson::array({first});
  std::vector<std::string> cols = {first};
  std::vector<const ojson*> evs = {&evals_[0]};
  for (size_t i = 0; i < rec_.stages.size(); ++i) {
    const ojson log = read_json(stage_base(i) + ".json");
    stages.push_back({{"name", rec_.stages[i].name}, {"steps", log["steps"].size()},
                      {"final_loss", log["steps"].empty() ? ojson(nullptr) : log["steps"].back()["loss"]}});
    if (log.contains("pref_evals") && !log["pref_evals"].empty())
      stages.back()["heldout_pairs"] = {{"before", log["pref_evals"].front()["results"]},
                                        {"after", log["pref_evals"].back()["results"]}};
    cols.push_back("after " + rec_.stages[i].name);
    columns.push_back(cols.back());
    evs.push_back(&evals_[i + 1]);
  }
  res["stages"] = stages;
  res["columns"] = columns;
  ojson table = ojson::object();
  for (size_t c = 0; c < evs.size(); ++c)
    for (auto& [set, metrics] : evs[c]->items())
      for (auto& [metric, v] : metrics.items()) {
        if (metric == "n") continue;
        if (!table[set].contains(metric)) table[set][metric] = ojson::array();
        while (table[set][metric].size() < c) table[set][metric].push_back(nullptr);
        table[set][metric].push_back(v);
      }
  res["evals"] = table;
  write_atomic(work_ + "/results.json", res.dump(2) + "\n");
  write_atomic(work_ + "/results.md", cat("# ", rec_.name, ": held-out evaluation, base model and after each stage\n\n",
                                          markdown_table(cols, evs)));
  return res;
}

ojson Runner::run() {
  HELIX_CHECK(opt_.init_adapter.empty() || !full_, rec_.path, ": a starting adapter needs LoRA stages");
  eval_point(0, opt_.init_adapter);
  std::string prev;
  for (size_t i = 0; i < rec_.stages.size(); ++i) {
    const std::string result = stage_base(i) + ".gguf";
    if (fs::exists(result) && fs::exists(stage_base(i) + ".json")) opt_.log(cat("stage ", rec_.stages[i].name, ": done earlier (", result, ")"));
    else train_stage(i, prev);
    eval_point(i + 1, result);
    write_stage_report(i);
    prev = result;
  }
  const ojson res = write_results();
  const std::string tmp = out_ + ".tmp";
  fs::copy_file(prev, tmp, fs::copy_options::overwrite_existing);
  fs::rename(tmp, out_);
  opt_.log(cat("wrote ", out_, "; results in ", work_, "/results.md"));
  return res;
}

}  // namespace

ojson run_recipe(const Recipe& rec, const RecipeRunOptions& opt) {
  HELIX_CHECK(!rec.stages.empty(), rec.path, ": the recipe has no stages");
  return Runner(rec, opt).run();
}

}  // namespace helix::train
