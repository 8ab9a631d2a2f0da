// helix flywheel: what users do with the served model becomes training data that makes it better.
//   export    feedback stored by `helix serve --feedback-db` -> SFT and preference JSONL (server/feedback.h)
//   run       one round: export, train, evaluate current vs candidate, promote by the recipe's rule (flywheel/round.h)
//   log       the promotion registry's history (flywheel/registry.h)
//   promote   make an adapter file current by hand
//   rollback  make an earlier promotion's adapter current again
// `helix serve --flywheel-db REGISTRY` serves every current adapter and follows promotions and
// rollbacks without a restart (cli/flywheel_watch.h).
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <map>
#include <string>

#include "cli/commands.h"
#include "cli/default_model.h"
#include "cli/flags.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "flywheel/registry.h"
#include "flywheel/round.h"
#include "train/recipe.h"

namespace helix::cli {
namespace {

constexpr const char* kUsage =
    "usage: helix flywheel export --db FILE [--sft OUT.jsonl] [--pref OUT.jsonl] [--min-rating R]\n"
    "       helix flywheel run RECIPE [--registry FILE] [-m MODEL] [--max-steps N] [--dry-run]\n"
    "       helix flywheel log [--name NAME] [--registry FILE] [--json]\n"
    "       helix flywheel promote ADAPTER.gguf [--name NAME] [--note TEXT] [--registry FILE]\n"
    "       helix flywheel rollback [--name NAME] [--to ID] [--registry FILE]\n"
    "export:\n"
    "  --db FILE          the feedback store written by helix serve --feedback-db FILE\n"
    "  --sft OUT.jsonl    SFT conversations: answers rated >= R, and corrections as the assistant turn\n"
    "  --pref OUT.jsonl   preference pairs {messages|prompt, chosen, rejected}: a correction over the\n"
    "                     answer, a preferred choice over the other choices (n > 1)\n"
    "  --min-rating R     lowest rating (-1..1) whose answer becomes an SFT sample (default 1)\n"
    "  Every line carries \"meta\": response id, feedback id, model, requested model, times, rating.\n"
    "run: exports the recipe's [flywheel] feedback_db, trains the recipe's stages starting from the\n"
    "  adapter promoted under its name (else the recipe's adapter), evaluates that adapter and the\n"
    "  candidate on the recipe's held-out sets, and promotes the candidate if [promote]'s rule holds.\n"
    "  Rerun after a crash or kill -9 to resume; nothing is promoted twice or half-way.\n"
    "  --max-steps N      at most N steps per stage;  --work-dir DIR (OUT.run);  --checkpoint-every N (10)\n"
    "  --dry-run          decide, but do not promote;  -t N threads\n"
    "all:\n"
    "  --registry FILE    the promotion registry (default $XDG_DATA_HOME/helix/flywheel/registry.db);\n"
    "                     adapters are kept as immutable files in the folder 'adapters' beside it\n"
    "  --name NAME        the adapter's name (served as ALIAS:NAME); default 'assistant' for promote and\n"
    "                     rollback; log lists every name unless given\n";

bool is_help(const std::string& a) { return a == "--help" || a == "-h"; }

int do_export(int argc, char** argv) {
  std::string db, sft, pref;
  double min_rating = 1;
  Flags p("helix flywheel export", kUsage);
  p.value({"--db"}, db).value({"--sft"}, sft).value({"--pref"}, pref).number({"--min-rating"}, min_rating, -1, 1);
  if (!p.parse(argc, argv)) return 0;
  HELIX_CHECK(p.positional().empty(), "unexpected argument '", p.positional().empty() ? "" : p.positional()[0], "' (see --help)");
  HELIX_CHECK(!db.empty(), "--db FILE is required: the store written by helix serve --feedback-db FILE");
  HELIX_CHECK(!sft.empty() || !pref.empty(), "nothing to write: give --sft OUT.jsonl and/or --pref OUT.jsonl");
  const auto r = flywheel::export_feedback(db, sft, pref, min_rating);
  std::fprintf(stderr, "helix flywheel: %lld feedback records -> %lld SFT samples, %lld preference pairs",
               static_cast<long long>(r["feedback"].get<int64_t>()), static_cast<long long>(r["sft"].get<int64_t>()),
               static_cast<long long>(r["pref"].get<int64_t>()));
  if (r["skipped"].get<int64_t>() > 0)
    std::fprintf(stderr, " (%lld skipped: token-id prompts have no text)", static_cast<long long>(r["skipped"].get<int64_t>()));
  std::fputc('\n', stderr);
  return 0;
}

std::string resolve_start_adapter(const train::Recipe& rec) {
  if (rec.adapter != "assistant") {
    HELIX_CHECK(rec.adapter.empty() || std::filesystem::exists(rec.adapter), rec.path, ": the adapter ", rec.adapter,
                " does not exist");
    return rec.adapter;
  }
  const std::string a = installed_assistant_adapter();
  HELIX_CHECK(!a.empty(), rec.path, ": adapter = \"assistant\" but no assistant adapter is installed at ",
              assistant_adapter_install_path(), "; run helix sft recipes/assistant/recipe.toml --install first");
  return a;
}

int do_run(int argc, char** argv) {
  flywheel::RoundOptions o;
  std::string model;
  int64_t threads = 0, max_steps = 0, every = 10;
  o.registry_path = flywheel::default_registry_path();
  Flags p("helix flywheel run", kUsage);
  p.value({"--registry"}, o.registry_path).value({"-m", "--model"}, model).value({"--work-dir"}, o.run.work_dir)
      .integer({"--max-steps"}, max_steps, 1).integer({"--checkpoint-every"}, every, 1).integer({"-t", "--threads"}, threads, 1, 1024)
      .flag({"--dry-run"}, o.dry_run);
  if (!p.parse(argc, argv)) return 0;
  HELIX_CHECK(p.positional().size() == 1, "helix flywheel run takes one recipe file (see --help)");
  o.recipe_path = p.positional()[0];
  const flywheel::FlywheelSettings fs = flywheel::read_flywheel_settings(o.recipe_path);
  const train::Recipe rec = train::load_recipe(o.recipe_path);
  if (threads > 0) ThreadPool::set_global_threads(static_cast<int>(threads));
  o.run.model_path = resolve_model_path(!model.empty() ? model : rec.model == "default" ? "" : rec.model);
  o.run.max_steps = max_steps;
  o.run.checkpoint_every = every;
  o.fallback_adapter = resolve_start_adapter(rec);
  o.trigger = cat("helix flywheel run ", o.recipe_path);
  o.run.log = [](const std::string& s) { std::fprintf(stderr, "%s\n", s.c_str()); };
  o.run.progress = [](const train::RecipeProgress& r) {
    std::fprintf(stderr, "[%zu/%zu %s] step %lld/%lld  loss %.4f  %.1f tokens/s  ETA %.0f s\n", r.stage, r.n_stages,
                 r.stage_name.c_str(), static_cast<long long>(r.step.step), static_cast<long long>(r.step.steps), r.step.loss,
                 r.step.tokens_per_s, r.step.eta_s);
  };
  std::fprintf(stderr, "helix flywheel: round for '%s' (registry %s, model %s)\n", fs.name.c_str(), o.registry_path.c_str(),
               o.run.model_path.c_str());
  const auto st = flywheel::run_round(rec, fs, o);
  std::printf("%s\n", st["decision"].dump().c_str());
  return 0;
}

std::string when(int64_t t) {
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%d %H:%M:%SZ", &tm);
  return b;
}

int do_log(int argc, char** argv) {
  std::string registry = flywheel::default_registry_path(), name;
  bool json = false;
  Flags p("helix flywheel log", kUsage);
  p.value({"--registry"}, registry).value({"--name"}, name).flag({"--json"}, json);
  if (!p.parse(argc, argv)) return 0;
  HELIX_CHECK(p.positional().empty(), "helix flywheel log takes no arguments (see --help)");
  HELIX_CHECK(std::filesystem::exists(registry), "no flywheel registry at '", registry,
              "' (helix flywheel run or promote creates it)");
  flywheel::Registry reg(registry);
  std::map<std::string, int64_t> current;
  for (const auto& c : reg.current_all()) current[c.name] = c.id;
  const auto rows = reg.log(name);
  if (json) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& r : rows) {
      out.push_back(flywheel::promotion_json(r));
      out.back()["current"] = current[r.name] == r.id;
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  if (rows.empty()) std::printf("no promotions%s\n", name.empty() ? "" : cat(" of '", name, "'").c_str());
  for (const auto& r : rows) {
    std::printf("#%lld %s %-8s %s %s  sha256 %.12s%s\n", static_cast<long long>(r.id), when(r.time).c_str(), r.action.c_str(),
                r.name.c_str(), r.adapter.c_str(), r.sha256.c_str(), current[r.name] == r.id ? "  (current)" : "");
    std::printf("    by %s%s%s\n", r.info.trigger.c_str(), r.previous ? cat("; before: #", r.previous).c_str() : "",
                r.info.note.empty() ? "" : cat("; ", r.info.note).c_str());
    if (r.info.decision.is_object() && r.info.decision.contains("reason"))
      std::printf("    %s\n", r.info.decision["reason"].get<std::string>().c_str());
  }
  return 0;
}

int do_promote(int argc, char** argv, bool rollback) {
  std::string registry = flywheel::default_registry_path(), name = "assistant", note;
  int64_t to = 0;
  Flags p(rollback ? "helix flywheel rollback" : "helix flywheel promote", kUsage);
  p.value({"--registry"}, registry).value({"--name"}, name);
  if (rollback) p.integer({"--to"}, to, 1);
  else p.value({"--note"}, note);
  if (!p.parse(argc, argv)) return 0;
  const char* u = std::getenv("USER");
  const std::string who = cat(rollback ? "helix flywheel rollback" : "helix flywheel promote", " (", u && *u ? u : "unknown", ")");
  flywheel::Promotion r;
  if (rollback) {
    HELIX_CHECK(p.positional().empty(), "helix flywheel rollback takes no file (use --to ID; see helix flywheel log)");
    HELIX_CHECK(std::filesystem::exists(registry), "no flywheel registry at '", registry, "': nothing to roll back");
    r = flywheel::Registry(registry).rollback(name, to, who);
  } else {
    HELIX_CHECK(p.positional().size() == 1, "helix flywheel promote takes one adapter file (see --help)");
    flywheel::PromotionInfo info;
    info.trigger = who;
    info.note = note;
    r = flywheel::Registry(registry).promote(name, p.positional()[0], info);
  }
  std::printf("#%lld %s %s: %s (sha256 %.12s)\n", static_cast<long long>(r.id), r.action.c_str(), r.name.c_str(),
              r.adapter.c_str(), r.sha256.c_str());
  return 0;
}

}  // namespace

int cmd_flywheel(int argc, char** argv) {
  if (argc < 2 || is_help(argv[1])) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string sub = argv[1];
  if (sub == "export") return do_export(argc - 1, argv + 1);
  if (sub == "run") return do_run(argc - 1, argv + 1);
  if (sub == "log") return do_log(argc - 1, argv + 1);
  if (sub == "promote") return do_promote(argc - 1, argv + 1, false);
  if (sub == "rollback") return do_promote(argc - 1, argv + 1, true);
  throw Error(cat("unknown flywheel command '", sub, "' (export, run, log, promote, rollback; see --help)"));
}

}  // namespace helix::cli
