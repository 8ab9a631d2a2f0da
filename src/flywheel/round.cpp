// One flywheel round (see round.h).
#include "flywheel/round.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "core/svg_chart.h"
#include "knowledge/store.h"
#include "server/api_json.h"
#include "server/feedback.h"
#include "train/recipe_reader.h"

namespace helix::flywheel {

namespace fs = std::filesystem;

namespace {

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void write_atomic(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    HELIX_CHECK(f, "cannot write '", path, "' (does its folder exist?)");
    f << text;
    HELIX_CHECK(f.flush(), "writing '", path, "' failed (disk full?)");
  }
  fs::rename(tmp, path);  // a reader never sees half a file
}

std::string fixed(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3f", v);
  return b;
}

// Column k of the recipe's results ({SET: {METRIC: [per column]}}) as {SET: {METRIC: value}}.
ojson column(const ojson& evals, size_t k) {
  ojson out = ojson::object();
  for (auto& [set, metrics] : evals.items())
    for (auto& [metric, vals] : metrics.items())
      if (k < vals.size() && vals[k].is_number()) out[set][metric] = vals[k];
  return out;
}

// The decision as a table and a bar chart (current vs candidate, every answer metric).
void write_report(const std::string& work, const std::string& name, const ojson& before, const ojson& after,
                  const ojson& d) {
  std::string md = cat("# Flywheel round: ", name, "\n\n", d["promote"].get<bool>() ? "**Promoted.** " : "**Not promoted.** ",
                       d["reason"].get<std::string>(), "\n\n| set | metric | current | candidate | change |\n| --- | --- | ---: | ---: | ---: |\n");
  svg::BarChart bc;
  bc.title = cat(name, ": current adapter vs candidate (held-out)");
  bc.y_label = "fraction";
  bc.y_max = 1;
  bc.bar_labels = {"current", "candidate"};
  bc.values.resize(2);
  for (auto& [set, metrics] : before.items())
    for (auto& [metric, v] : metrics.items()) {
      if (metric == "n" || !after.contains(set) || !after[set].contains(metric)) continue;
      const double b = v.get<double>(), a = after[set][metric].get<double>();
      md += cat("| ", set, " | ", metric, " | ", fixed(b), " | ", fixed(a), " | ", a >= b ? "+" : "", fixed(a - b), " |\n");
      if (metric == "loss") continue;
      bc.groups.push_back(set + " " + metric);
      bc.values[0].push_back(b);
      bc.values[1].push_back(a);
    }
  write_atomic(work + "/flywheel.md", md);
  if (!bc.groups.empty())
    write_atomic(work + "/flywheel.svg", svg::bar_chart(bc, std::max<int>(560, 90 * static_cast<int>(bc.groups.size())), 360));
}

std::string user_at_host() {
  const char* u = std::getenv("USER");
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  return cat(u && *u ? u : "unknown", "@", host);
}

}  // namespace

FlywheelSettings read_flywheel_settings(const std::string& recipe_path) {
  using train::RecipeReader;
  train::RecipeLines lines;
  const ojson root = train::parse_recipe_tree(train::read_recipe_text(recipe_path), recipe_path, lines);
  const RecipeReader r(root, "", lines, recipe_path);
  const std::string dir = fs::path(recipe_path).parent_path().string();
  FlywheelSettings s;
  s.name = root.contains("name") && root["name"].is_string() ? root["name"].get<std::string>()
                                                             : fs::path(recipe_path).stem().string();
  if (r.has("flywheel")) {
    const RecipeReader f = r.child("flywheel");
    f.only({"name", "feedback_db", "sft", "pref", "min_rating"});
    f.str("name", s.name);
    f.str("feedback_db", s.feedback_db);
    f.str("sft", s.sft);
    f.str("pref", s.pref);
    f.num("min_rating", s.min_rating, -1, 1);
    if (!s.feedback_db.empty() && s.sft.empty() && s.pref.empty())
      f.fail("feedback_db", "is given but neither sft nor pref says where the exported data goes");
    for (std::string* p : {&s.feedback_db, &s.sft, &s.pref}) *p = train::resolve_recipe_path(dir, *p);
  }
  try {
    check_name(s.name);
  } catch (const Error& e) {
    r.fail(r.has("flywheel") ? "flywheel.name" : "name", e.what());
  }
  if (!r.has("promote"))
    r.fail("promote", "missing: a flywheel recipe says when a candidate is better, e.g. [promote] set = \"format\", "
                      "metric = \"exact_match\", min_gain = 0.02");
  const RecipeReader p = r.child("promote");
  p.only({"set", "metric", "min_gain", "max_regression"});
  p.str("set", s.rule.set);
  p.str("metric", s.rule.metric, {"loss", "format_valid", "exact_match", "citation_correct"});
  if (s.rule.set.empty()) p.fail("set", "missing (the eval set whose metric must improve)");
  if (s.rule.metric.empty()) p.fail("metric", "missing (loss, format_valid, exact_match or citation_correct)");
  p.num("min_gain", s.rule.min_gain, -1e9, 1e9);
  p.num("max_regression", s.rule.max_regression, 0, 1e9);
  return s;
}

ojson decide(const PromoteRule& rule, const ojson& before, const ojson& after) {
  auto value = [&](const ojson& e, const std::string& set, const std::string& metric, const char* which) {
    HELIX_CHECK(e.contains(set) && e[set].contains(metric), "the ", which, " evaluation has no ", metric, " on the set '",
                set, "': [promote] must name an eval set of the recipe and one of that set's metrics");
    return e[set][metric].get<double>();
  };
  const double b = value(before, rule.set, rule.metric, "current adapter's"),
               a = value(after, rule.set, rule.metric, "candidate's");
  const bool lower_better = rule.metric == "loss";
  const double gain = lower_better ? b - a : a - b;
  ojson regressions = ojson::array();
  for (auto& [set, metrics] : before.items())
    for (auto& [metric, v] : metrics.items()) {
      if (metric == "n" || metric == "loss" || (set == rule.set && metric == rule.metric)) continue;
      if (!after.contains(set) || !after[set].contains(metric)) continue;
      const double worse = v.get<double>() - after[set][metric].get<double>();
      if (worse > rule.max_regression + 1e-12)
        regressions.push_back({{"set", set}, {"metric", metric}, {"before", v}, {"after", after[set][metric]}});
    }
  const bool gained = gain >= rule.min_gain - 1e-12;
  std::string reason;
  if (!gained)
    reason = cat(rule.set, " ", rule.metric, " ", fixed(b), " -> ", fixed(a), ": a gain of ", fixed(gain), ", less than min_gain ",
                 fixed(rule.min_gain));
  else if (!regressions.empty())
    reason = cat(rule.set, " ", rule.metric, " gained ", fixed(gain), " but ", regressions[0]["set"].get<std::string>(), " ",
                 regressions[0]["metric"].get<std::string>(), " fell by more than max_regression ", fixed(rule.max_regression),
                 " (", fixed(regressions[0]["before"].get<double>()), " -> ", fixed(regressions[0]["after"].get<double>()), ")");
  else
    reason = cat(rule.set, " ", rule.metric, " ", fixed(b), " -> ", fixed(a), " (gain ", fixed(gain), " >= ", fixed(rule.min_gain),
                 "), no other metric worse by more than ", fixed(rule.max_regression));
  return {{"promote", gained && regressions.empty()}, {"reason", reason},     {"set", rule.set},
          {"metric", rule.metric},                    {"before", b},          {"after", a},
          {"gain", gain},                             {"min_gain", rule.min_gain}, {"max_regression", rule.max_regression},
          {"regressions", regressions}};
}

ojson export_feedback(const std::string& db, const std::string& sft, const std::string& pref, double min_rating) {
  HELIX_CHECK(fs::exists(db), "no feedback database at '", db, "' (start helix serve --feedback-db ", db,
              " and send feedback first)");
  server::FeedbackStore store(db);
  const server::ExportResult r = server::export_training_data(store, min_rating);
  auto write = [](const std::string& path, const std::vector<ojson>& lines) {
    if (path.empty()) return;
    if (fs::path(path).has_parent_path()) fs::create_directories(fs::path(path).parent_path());
    std::string text;
    for (const auto& l : lines) text += server::dump(l) + "\n";
    write_atomic(path, text);
  };
  write(sft, r.sft);
  write(pref, r.pref);
  return {{"feedback", r.feedback}, {"sft", r.sft.size()}, {"pref", r.pref.size()}, {"skipped", r.skipped}};
}

ojson run_round(const train::Recipe& rec, const FlywheelSettings& s, const RoundOptions& opt) {
  auto log = opt.run.log ? opt.run.log : [](const std::string&) {};
  const std::string out = opt.run.out.empty() ? rec.out : opt.run.out;
  const std::string work = opt.run.work_dir.empty() ? out + ".run" : opt.run.work_dir;
  const std::string state_path = work + "/flywheel.json";
  Registry reg(opt.registry_path);
  ojson st;
  if (fs::exists(state_path)) {
    st = ojson::parse(read_file(state_path, "flywheel state"));
    if (st.value("done", false)) {
      log(cat("the round in ", work, " finished earlier (", st["decision"]["promote"].get<bool>() ? "promoted" : "not promoted",
              "); starting a new round"));
      fs::remove_all(work);
      st = nullptr;
    } else {
      log(cat("resuming the round ", st["run"].get<std::string>(), " (started from ", st["start_adapter"].get<std::string>(),
              ")"));
    }
  }
  if (st.is_null()) {
    fs::create_directories(work);
    const auto cur = reg.current(s.name);
    st = {{"run", cat(fs::absolute(work).string(), "@", unix_now())},
          {"name", s.name},
          {"recipe", rec.path},
          {"registry", opt.registry_path},
          {"start_promotion", cur ? cur->id : 0},
          {"start_adapter", cur ? cur->adapter : opt.fallback_adapter},
          {"started", unix_now()},
          {"done", false}};
    // The export belongs to the round: a resumed run trains on exactly this data.
    if (!s.feedback_db.empty()) {
      st["export"] = export_feedback(s.feedback_db, s.sft, s.pref, s.min_rating);
      log(cat("exported ", st["export"]["feedback"].get<int64_t>(), " feedback records from ", s.feedback_db, ": ",
              st["export"]["sft"].get<int64_t>(), " SFT samples, ", st["export"]["pref"].get<int64_t>(), " preference pairs"));
    }
    write_atomic(state_path, st.dump(2) + "\n");
    log(cat("round ", st["run"].get<std::string>(), ": training ", s.name, " from ",
            cur ? cat("promotion #", cur->id, " (", cur->adapter, ")")
                : opt.fallback_adapter.empty() ? std::string("the base model") : opt.fallback_adapter));
  }
  train::RecipeRunOptions ro = opt.run;
  ro.out = out;
  ro.work_dir = work;
  ro.init_adapter = st["start_adapter"].get<std::string>();
  HELIX_CHECK(ro.init_adapter.empty() || fs::exists(ro.init_adapter), "the round's starting adapter ", ro.init_adapter,
              " is gone; remove ", work, " to start a new round");
  const ojson res = train::run_recipe(rec, ro);
  const size_t last = res["columns"].size() - 1;
  const ojson before = column(res["evals"], 0), after = column(res["evals"], last);
  const ojson d = decide(s.rule, before, after);
  st["results"] = res;
  st["decision"] = d;
  write_report(work, s.name, before, after, d);
  log(cat(d["promote"].get<bool>() ? "promote: " : "keep the current adapter: ", d["reason"].get<std::string>()));
  st["promotion"] = nullptr;
  if (d["promote"].get<bool>() && !opt.dry_run) {
    // At most once per run: a rerun after a kill between the commit and the state write finds it.
    std::optional<Promotion> p = reg.find_run(st["run"].get<std::string>());
    if (!p) {
      PromotionInfo info;
      info.recipe = fs::absolute(rec.path).string();
      info.trigger = opt.trigger.empty() ? cat("helix flywheel run (", user_at_host(), ")") : opt.trigger;
      info.run = st["run"].get<std::string>();
      info.evals_before = before;
      info.evals_after = after;
      info.decision = d;
      p = reg.promote(s.name, res["out"].get<std::string>(), info);
    }
    st["promotion"] = promotion_json(*p);
    log(cat("promoted ", s.name, " #", p->id, ": ", p->adapter));
  }
  st["done"] = true;
  write_atomic(state_path, st.dump(2) + "\n");
  log(cat("round report: ", work, "/flywheel.md", fs::exists(work + "/flywheel.svg") ? cat(" and ", work, "/flywheel.svg") : ""));
  return st;
}

}  // namespace helix::flywheel
