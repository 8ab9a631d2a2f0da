// Training recipes (see recipe.h): TOML via toml++ or JSON via nlohmann, both turned into one JSON
// tree (TOML keeps a line number per key) and checked by one reader that names file, line and key.
#include "train/recipe.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <numbers>
#include <set>
#include <sstream>

#include "core/error.h"
#include "train/prefs.h"
#include "train/recipe_reader.h"

namespace helix::train {

using ojson = nlohmann::ordered_json;
namespace fs = std::filesystem;

const std::vector<std::string>& known_eval_metrics() {
  static const std::vector<std::string> m = {"loss", "format_valid", "exact_match", "citation_correct"};
  return m;
}

namespace {

using Lines = RecipeLines;
using Reader = RecipeReader;
std::string resolve(const std::string& dir, const std::string& p) { return resolve_recipe_path(dir, p); }

EvalSet read_eval(const Reader& r, const std::string& dir) {
  r.only({"name", "path", "metrics", "max_samples", "max_new_tokens"});
  EvalSet e;
  if (!r.has("name")) r.fail("name", "missing (each eval set needs a name)");
  if (!r.has("path")) r.fail("path", "missing (the held-out JSONL file)");
  r.str("name", e.name);
  r.str("path", e.path);
  e.path = resolve(dir, e.path);
  r.strings("metrics", e.metrics);
  for (const auto& m : e.metrics) {
    const auto& k = known_eval_metrics();
    if (std::find(k.begin(), k.end(), m) == k.end())
      r.fail("metrics", cat("unknown metric '", m, "' (known: loss, format_valid, exact_match, citation_correct)"));
  }
  r.integer("max_samples", e.max_samples, 0, 1'000'000);
  r.integer("max_new_tokens", e.max_new_tokens, 1, 65536);
  return e;
}

StageDataset read_dataset(const Reader& r, const std::string& dir, Recipe& rec) {
  r.only({"name", "path", "type", "weight", "eval", "metrics"});
  StageDataset d;
  if (!r.has("path")) r.fail("path", "missing (the JSONL training file)");
  r.str("path", d.path);
  d.path = resolve(dir, d.path);
  d.name = fs::path(d.path).stem().string();
  r.str("name", d.name);
  d.type = d.name;
  r.str("type", d.type);
  r.num("weight", d.weight, 0, 1e9, true);
  if (r.has("eval")) {
    EvalSet e;
    e.name = d.name;
    r.str("eval", e.path);
    e.path = resolve(dir, e.path);
    r.strings("metrics", e.metrics);
    bool dup = false;
    for (const auto& x : rec.evals) dup |= x.name == e.name;
    if (!dup) rec.evals.push_back(e);
  }
  return d;
}

LossTerm read_loss(const Reader& r, size_t i) {
  static const std::set<std::string> known = {"dpo", "ipo", "sft", "kl", "rm"};
  LossTerm t;
  const ojson& v = r.raw("losses").at(i);
  if (v.is_string()) {
    t.name = v.get<std::string>();
  } else {
    const Reader l = r.child("losses", true, i);
    l.only({"name", "weight", "weight_end", "schedule"});
    if (!l.has("name")) l.fail("name", "missing (dpo, ipo, sft, kl or rm)");
    l.str("name", t.name);
    l.num("weight", t.weight, 0, 1e6);
    t.weight_end = t.weight;
    if (l.has("weight_end")) t.schedule = "linear";
    l.num("weight_end", t.weight_end, 0, 1e6);
    l.str("schedule", t.schedule, {"constant", "linear", "cosine"});
  }
  if (!known.count(t.name)) r.fail(cat("losses[", i, "]"), cat("unknown loss '", t.name, "' (known: dpo, ipo, sft, kl, rm)"));
  return t;
}

// rm, rm_aspects, rm_tau: the rm term's reward model (prefs.h).
void read_rm_keys(const Reader& r, const std::string& dir, PrefSettings& p) {
  const bool term = p.find("rm") != nullptr;
  if (!term) {
    for (const char* k : {"rm", "rm_aspects", "rm_tau"})
      if (r.has(k)) r.fail(k, "is set but the losses list no \"rm\" term (add it, or drop the key)");
    return;
  }
  if (!r.has("rm")) r.fail("losses", "the rm term needs rm = \"RM.gguf\" (a reward model from helix rm train)");
  r.str("rm", p.rm);
  p.rm = resolve(dir, p.rm);
  r.num("rm_tau", p.rm_tau, 0, 1e6, true);
  if (r.has("rm_aspects")) {
    if (!r.raw("rm_aspects").is_object() || r.raw("rm_aspects").empty())
      r.fail("rm_aspects", "must be a table of head names and weights, e.g. { format = 1.0 }");
    for (auto& [k, v] : r.raw("rm_aspects").items()) {
      if (!v.is_number() || v.get<double>() < 0) r.fail("rm_aspects", cat("'", k, "' must be a weight >= 0"));
      p.rm_aspects[k] = v.get<double>();
    }
  }
}

// type, losses and dpo: a preference stage's objective (prefs.h); none of them carries over.
void read_pref(const Reader& r, const std::string& dir, Stage& s) {
  s.type = r.has("losses") ? "dpo" : "sft";
  s.pref = PrefSettings();
  r.str("type", s.type, {"sft", "dpo"});
  if (s.type != "dpo") {
    if (r.has("losses")) r.fail("losses", "a loss list makes a preference stage; drop type = \"sft\" or the list");
    if (r.has("dpo")) r.fail("dpo", "DPO settings need type = \"dpo\"");
    for (const char* k : {"rm", "rm_aspects", "rm_tau"})
      if (r.has(k)) r.fail(k, "reward-model terms need a preference stage (losses = [..., \"rm\"])");
    return;
  }
  if (s.full) r.fail("mode", "preference stages train LoRA adapters; full fine-tuning is not supported for them");
  if (r.has("dpo")) {
    const Reader d = r.child("dpo");
    d.only({"beta", "label_smoothing", "reference", "heldout", "heldout_max"});
    d.num("beta", s.pref.beta, 0, 1e4, true);
    d.num("label_smoothing", s.pref.label_smoothing, 0, 0.5);
    d.str("reference", s.pref.reference, {"start", "base"});
    d.str("heldout", s.pref.heldout);
    s.pref.heldout = resolve(dir, s.pref.heldout);
    d.integer("heldout_max", s.pref.heldout_max, 0, 100'000'000);
  }
  if (!r.has("losses")) s.pref.losses.push_back(LossTerm{"dpo"});
  if (r.has("losses") && !r.raw("losses").is_array()) r.fail("losses", "must be a list of loss names or tables");
  for (size_t i = 0; r.has("losses") && i < r.raw("losses").size(); ++i) {
    LossTerm t = read_loss(r, i);
    if (s.pref.find(t.name)) r.fail("losses", cat("'", t.name, "' is listed twice"));
    s.pref.losses.push_back(t);
  }
  if (s.pref.losses.empty()) r.fail("losses", "is empty (list at least one of dpo, ipo, sft, kl, rm)");
  read_rm_keys(r, dir, s.pref);
}

void read_stage(const Reader& r, const std::string& dir, Recipe& rec, Stage& s) {
  r.only({"name", "datasets", "steps", "epochs", "lr", "schedule", "warmup", "seq_len", "batch",
          "grad_accum", "weight_decay", "grad_clip", "checkpoint_activations", "mode", "lora", "evals", "eval_every",
          "type", "losses", "dpo", "rm", "rm_aspects", "rm_tau"});
  s.name = cat("stage", rec.stages.size() + 1);
  r.str("name", s.name);
  const size_t nd = r.list_size("datasets");
  if (nd == 0) r.fail("datasets", "missing (each stage lists its datasets as [[stages.datasets]])");
  s.datasets.clear();
  for (size_t i = 0; i < nd; ++i) s.datasets.push_back(read_dataset(r.child("datasets", true, i), dir, rec));
  if (r.has("steps") && r.has("epochs")) r.fail("epochs", "give either steps or epochs, not both");
  if (r.has("steps")) s.epochs = 0, r.integer("steps", s.steps, 1, 100'000'000);
  if (r.has("epochs")) s.steps = 0, r.num("epochs", s.epochs, 0, 1e6, true);
  r.num("lr", s.lr, 0, 10, true);
  r.str("schedule", s.schedule, {"cosine", "linear", "constant"});
  r.integer("warmup", s.warmup, 0, 100'000'000);
  r.integer("seq_len", s.seq_len, 8, 1 << 20);
  r.integer("batch", s.batch, 1, 1 << 16);
  r.integer("grad_accum", s.grad_accum, 1, 1 << 16);
  r.num("weight_decay", s.weight_decay, 0, 10);
  r.num("grad_clip", s.grad_clip, 0, 1e9);
  r.boolean("checkpoint_activations", s.checkpoint_activations);
  std::string mode = s.full ? "full" : "lora";
  r.str("mode", mode, {"lora", "full"});
  s.full = mode == "full";
  if (r.has("lora")) {
    const Reader l = r.child("lora");
    l.only({"rank", "alpha", "dropout", "targets"});
    l.integer("rank", s.lora.rank, 1, 4096);
    l.num("alpha", s.lora.alpha, 0, 1e6, true);
    l.num("dropout", s.lora.dropout, 0, 0.99);
    l.strings("targets", s.lora.targets);
    if (s.lora.targets.empty()) l.fail("targets", "must name at least one projection (e.g. attn_q, ffn_down)");
  }
  r.strings("evals", s.evals);
  r.integer("eval_every", s.eval_every, 0, 100'000'000);
  if (s.steps == 0 && s.epochs == 0) r.fail("steps", "missing (give steps = N or epochs = X)");
  read_pref(r, dir, s);
}

Recipe read_recipe(const ojson& root, const Lines& lines, const std::string& path) {
  const Reader r(root, "", lines, path);
  if (!root.is_object()) r.fail("", "must be a table/object at the top");
  // flywheel, promote: read by `helix flywheel run` (flywheel/round.h); plain runs ignore them.
  r.only({"name", "model", "chat_template", "out", "seed", "on_bad_data", "evals", "stages", "adapter", "flywheel", "promote"});
  Recipe rec;
  static_cast<RecipeHead&>(rec) = read_recipe_head(r, path);
  for (size_t i = 0, n = r.list_size("evals"); i < n; ++i) rec.evals.push_back(read_eval(r.child("evals", true, i), rec.dir));
  const size_t ns = r.list_size("stages");
  if (ns == 0) r.fail("stages", "missing (a recipe lists at least one [[stages]])");
  Stage prev;
  for (size_t i = 0; i < ns; ++i) {
    Stage s = prev;  // settings carry over from the stage before
    s.evals.clear();
    const Reader sr = r.child("stages", true, i);
    read_stage(sr, rec.dir, rec, s);
    if (i > 0 && !s.full && !prev.full && !(s.lora == prev.lora))
      sr.fail("lora", "changes the LoRA settings of the stage before; stages continue one adapter, so rank, alpha, "
                      "dropout and targets must stay the same");
    prev = s;
    rec.stages.push_back(std::move(s));
  }
  std::set<std::string> names;
  for (const auto& e : rec.evals)
    if (!names.insert(e.name).second) r.fail("evals", cat("two eval sets are named '", e.name, "'"));
  for (size_t i = 0; i < rec.stages.size(); ++i) {
    Stage& s = rec.stages[i];
    for (const auto& e : s.evals)
      if (!names.count(e)) r.child("stages", true, i).fail("evals", cat("no eval set is named '", e, "'"));
    if (s.evals.empty())
      for (const auto& e : rec.evals) s.evals.push_back(e.name);
  }
  return rec;
}

}  // namespace

Recipe parse_recipe(const std::string& text, const std::string& path) {
  Lines lines;
  const ojson root = parse_recipe_tree(text, path, lines);
  return read_recipe(root, lines, path);
}

double LossTerm::at(int64_t step, int64_t steps) const {
  if (schedule == "constant" || steps <= 1) return weight;
  double x = std::clamp(static_cast<double>(step) / static_cast<double>(steps - 1), 0.0, 1.0);
  if (schedule == "cosine") x = 0.5 * (1.0 - std::cos(std::numbers::pi * x));
  return weight + (weight_end - weight) * x;
}

const LossTerm* PrefSettings::find(const std::string& name) const {
  for (const LossTerm& t : losses)
    if (t.name == name) return &t;
  return nullptr;
}

MixStream StageData::mix(uint64_t seed) const {
  std::vector<const std::vector<Sample>*> ptrs;
  for (const auto& s : sets) ptrs.push_back(&s.samples);
  return MixStream(std::move(ptrs), weights, seed);
}

int64_t StageData::steps_for(const Stage& s) const {
  if (s.steps > 0) return s.steps;
  const double per_step = static_cast<double>(s.batch * s.grad_accum * s.seq_len);
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(s.epochs * static_cast<double>(n_tokens) / per_step)));
}

StageData load_stage_data(const Recipe& rec, size_t stage, const SampleRenderer& r) {
  HELIX_CHECK(stage < rec.stages.size(), "the recipe has no stage ", stage + 1);
  const Stage& st = rec.stages[stage];
  LoadOptions o;
  o.seq_len = st.seq_len;
  o.on_bad_data = parse_on_bad_data(rec.on_bad_data);
  StageData d;
  for (const auto& ds : st.datasets) {
    d.sets.push_back(st.type == "dpo" ? load_pairs(ds.path, ds.type, r, o) : load_jsonl(ds.path, ds.type, r, o));
    HELIX_CHECK(!d.sets.back().samples.empty(), rec.path, ": stage '", st.name, "': dataset '", ds.name, "' (",
                ds.path, ") has no usable samples");
    d.weights.push_back(ds.weight);
    d.n_tokens += d.sets.back().n_tokens;
  }
  return d;
}

Recipe load_recipe(const std::string& path) { return parse_recipe(read_recipe_text(path), path); }

}  // namespace helix::train
