// helix sft: supervised fine-tuning.
//   helix sft RECIPE.toml [--install] [-m MODEL] [--out FILE] ...     every stage of a recipe
//   helix sft --data FILE.jsonl --out ADAPTER.gguf [-m MODEL] [options] one stage, no recipe file
// Both run through train::run_recipe (recipe_run.h): the one-stage form builds a recipe of one
// stage and one dataset. Progress is a bar on a terminal (one line per step otherwise); the work
// folder OUT.run holds the checkpoint (written atomically; rerunning the same command after a
// crash or kill -9 resumes from it), and per stage a loss/eval chart (SVG) and results tables.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>

#include "cli/commands.h"
#include "cli/convert_model.h"
#include "cli/default_model.h"
#include "cli/flags.h"
#include "cli/gen_options.h"
#include "core/error.h"
#include "core/files.h"
#include "core/thread_pool.h"
#include "train/recipe.h"
#include "train/recipe_run.h"

namespace helix::cli {
namespace {

constexpr const char* kUsage =
    "usage: helix sft RECIPE.toml|RECIPE.json [options]          run every stage of a recipe\n"
    "       helix sft --data FILE.jsonl --out OUT.gguf [options]  one stage without a recipe file\n"
    "recipe runs (a stage with type = \"dpo\" or a losses list trains on preference pairs: DPO, IPO, SFT, KL):\n"
    "  --install                copy the final adapter to the assistant adapter's place\n"
    "                           ($XDG_DATA_HOME/helix/adapters/assistant.gguf), where ask, chatfile and\n"
    "                           plugins find it\n"
    "  --max-steps N            at most N steps per stage (a quick trial of a recipe)\n"
    "both:\n"
    "  -m MODEL                 base model (default: the recipe's, else the installed default model)\n"
    "  --out FILE               the result (default: the recipe's out)\n"
    "  --work-dir DIR (OUT.run) checkpoints, per-stage charts (SVG) and tables (Markdown, JSON)\n"
    "  --checkpoint-every N (10);  --exact (quantized bases: f32 forward);  -t N threads\n"
    "  --checkpoint-activations keep only each block's input in the forward and recompute the rest\n"
    "                           in the backward: less memory for long rows (default model, rows of\n"
    "                           1024: -36% peak RSS for ~20% more CPU time per token)\n"
    "one stage (--data):\n"
    "  --steps N (100)          optimizer steps;  --lr X (2e-4)\n"
    "  --full                   full fine-tuning (float models; writes a whole GGUF model)\n"
    "  --lora-rank R (16)       --lora-alpha A (2*rank);  --lora-dropout P (0)\n"
    "  --lora-targets LIST      projections to adapt (attn_q,attn_k,attn_v,attn_output,ffn_gate,ffn_up,ffn_down)\n"
    "  --seq-len L (256)        row length; longer samples are bad data\n"
    "  --batch B (4)            rows per micro-batch;  --grad-accum N (1) micro-batches per step\n"
    "  --schedule cosine|linear|constant (cosine);  --warmup N (5% of steps)\n"
    "  --clip X (1.0)           global gradient-norm clipping (0: none);  --weight-decay X (0)\n"
    "  --chat-template FILE;  --on-bad-data skip|stop (stop);  --seed N (42)\n";

std::string duration(double s) {
  const auto t = static_cast<long long>(s + 0.5);
  char buf[32];
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%lldh%02lldm", t / 3600, t / 60 % 60);
  else std::snprintf(buf, sizeof buf, "%lldm%02llds", t / 60, t % 60);
  return buf;
}

// The progress bar: rewritten in place on a terminal, one line per step otherwise (logs, tests).
class ProgressBar {
 public:
  ProgressBar() : tty_(isatty(STDERR_FILENO) != 0) {}
  void step(const train::RecipeProgress& p) {
    const train::StepReport& r = p.step;
    char stats[160];
    std::snprintf(stats, sizeof stats, "loss %.4f  lr %.2e  grad-norm %.3f  %.1f tokens/s  ETA %s", r.loss,
                  static_cast<double>(r.lr), r.grad_norm, r.tokens_per_s, duration(r.eta_s).c_str());
    char pref[64] = "";  // preference stages: reward accuracy and margin of the step's pairs
    if (r.extra.contains("reward_accuracy"))
      std::snprintf(pref, sizeof pref, "  acc %.2f  margin %.3f", r.extra["reward_accuracy"].get<double>(),
                    r.extra["margin"].get<double>());
    const std::string stage = cat("[", p.stage, "/", p.n_stages, " ", p.stage_name, "]");
    if (!tty_) {
      std::fprintf(stderr, "%s step %lld/%lld  %s%s\n", stage.c_str(), static_cast<long long>(r.step),
                   static_cast<long long>(r.steps), stats, pref);
      return;
    }
    const int width = 24, filled = static_cast<int>(width * r.step / std::max<int64_t>(1, r.steps));
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(width, '.');
    std::fprintf(stderr, "\r\033[K%s [%s] step %lld/%lld  %s%s", stage.c_str(), bar.c_str(), static_cast<long long>(r.step),
                 static_cast<long long>(r.steps), stats, pref);
    open_ = r.step < r.steps;
    if (!open_) std::fputc('\n', stderr);
    std::fflush(stderr);
  }
  void line(const std::string& s) {
    if (open_) std::fputc('\n', stderr), open_ = false;
    std::fprintf(stderr, "%s\n", s.c_str());
  }

 private:
  bool tty_, open_ = false;
};

struct SftFlags {
  std::string data, out, model, work_dir, chat_template, on_bad = "stop", schedule = "cosine";
  std::vector<std::string> targets = train::LoraSettings().targets;
  int64_t steps = 100, rank = 16, seq_len = 256, batch = 4, grad_accum = 1, warmup = -1, seed = 42, threads = 0;
  int64_t checkpoint_every = 10, max_steps = 0;
  double lr = 2e-4, alpha = 0, dropout = 0, clip = 1.0, weight_decay = 0;
  bool full = false, exact = false, install = false, checkpoint_activations = false;
};

// The one-stage form as a recipe of one stage and one dataset, without evaluation sets.
train::Recipe one_stage_recipe(const SftFlags& f) {
  HELIX_CHECK(!f.data.empty() && !f.out.empty(), "helix sft needs a recipe file, or --data FILE.jsonl and --out ",
              "OUT.gguf\n", kUsage);
  train::Recipe rec;
  rec.path = f.data;
  rec.dir = ".";
  rec.name = std::filesystem::path(f.out).stem().string();
  rec.chat_template = f.chat_template;
  rec.out = f.out;
  rec.seed = static_cast<uint64_t>(f.seed);
  rec.on_bad_data = f.on_bad;
  train::parse_on_bad_data(f.on_bad);
  train::Stage s;
  s.name = "sft";
  s.datasets.push_back({"data", f.data, "sft", 1.0});
  s.steps = f.steps;
  s.lr = f.lr;
  s.weight_decay = f.weight_decay;
  s.grad_clip = f.clip;
  s.schedule = f.schedule;
  train::schedule_from_name(f.schedule);
  s.warmup = f.warmup >= 0 ? f.warmup : f.steps / 20;
  s.full = f.full;
  s.lora.rank = f.rank;
  s.lora.alpha = f.alpha > 0 ? f.alpha : 2.0 * static_cast<double>(f.rank);
  s.lora.dropout = f.dropout;
  s.lora.targets = f.targets;
  s.seq_len = f.seq_len;
  s.batch = f.batch;
  s.grad_accum = f.grad_accum;
  rec.stages.push_back(s);
  return rec;
}

void check_targets(const std::vector<std::string>& targets) {
  static const std::vector<std::string> known = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
  for (const auto& t : targets)
    HELIX_CHECK(std::find(known.begin(), known.end(), t) != known.end(), "unknown LoRA target '", t,
                "'; choose from attn_q, attn_k, attn_v, attn_output, ffn_gate, ffn_up, ffn_down");
}

void install_adapter(const std::string& out) {
  const std::string dst = assistant_adapter_install_path();
  std::filesystem::create_directories(std::filesystem::path(dst).parent_path());
  copy_file_atomic(out, dst, "assistant adapter");
  std::fprintf(stderr, "installed %s as %s (ask, chatfile and plugins use it by default)\n", out.c_str(), dst.c_str());
}

}  // namespace

int cmd_sft(int argc, char** argv) {
  SftFlags f;
  Flags p("helix sft", kUsage);
  p.value({"--data"}, f.data).value({"--out", "-o"}, f.out).value({"-m", "--model"}, f.model)
      .value({"--work-dir"}, f.work_dir).value({"--chat-template"}, f.chat_template).value({"--on-bad-data"}, f.on_bad)
      .value({"--schedule"}, f.schedule).list({"--lora-targets"}, f.targets)
      .integer({"--steps"}, f.steps, 1, 100000000).integer({"--lora-rank"}, f.rank, 1, 4096)
      .integer({"--seq-len"}, f.seq_len, 8, 1 << 20).integer({"--batch"}, f.batch, 1, 4096)
      .integer({"--grad-accum"}, f.grad_accum, 1, 4096).integer({"--warmup"}, f.warmup, 0)
      .integer({"--seed"}, f.seed, 0).integer({"-t", "--threads"}, f.threads, 1, 1024)
      .integer({"--checkpoint-every"}, f.checkpoint_every, 1).integer({"--max-steps"}, f.max_steps, 1)
      .number({"--lr"}, f.lr, 0, 1, true).number({"--lora-alpha"}, f.alpha, 0, 1e6, true)
      .number({"--lora-dropout"}, f.dropout, 0, 0.99).number({"--clip"}, f.clip, 0)
      .number({"--weight-decay"}, f.weight_decay, 0, 1)
      .flag({"--full"}, f.full).flag({"--exact"}, f.exact).flag({"--install"}, f.install)
      .flag({"--checkpoint-activations"}, f.checkpoint_activations);
  if (!p.parse(argc, argv)) return 0;
  HELIX_CHECK(p.positional().size() <= 1, "helix sft takes one recipe file, got ", p.positional().size(),
              " arguments; see helix sft --help");
  const bool recipe_run = p.positional().size() == 1;
  HELIX_CHECK(!recipe_run || f.data.empty(), "give either a recipe file or --data, not both");
  check_targets(f.targets);
  train::Recipe rec = recipe_run ? train::load_recipe(p.positional()[0]) : one_stage_recipe(f);
  const int threads = f.threads > 0 ? static_cast<int>(f.threads) : threads_from_env();
  if (threads > 0) ThreadPool::set_global_threads(threads);

  train::RecipeRunOptions o;
  o.model_path = resolve_model_path(!f.model.empty() ? f.model : rec.model == "default" ? "" : rec.model);
  o.out = f.out;
  o.work_dir = f.work_dir;
  o.exact_base = f.exact;
  o.checkpoint_activations = f.checkpoint_activations;
  o.checkpoint_every = f.checkpoint_every;
  o.max_steps = f.max_steps;
  if (rec.adapter == "assistant") {
    o.init_adapter = installed_assistant_adapter();
    HELIX_CHECK(!o.init_adapter.empty(), rec.path, ": adapter = \"assistant\" but no assistant adapter is installed at ",
                assistant_adapter_install_path(), "; run helix sft recipes/assistant/recipe.toml --install first");
  } else {
    o.init_adapter = rec.adapter;
    HELIX_CHECK(o.init_adapter.empty() || std::filesystem::exists(o.init_adapter), rec.path, ": the adapter ",
                o.init_adapter, " does not exist");
  }
  ProgressBar bar;
  o.log = [&](const std::string& s) { bar.line(s); };
  o.progress = [&](const train::RecipeProgress& r) { bar.step(r); };
  o.write_full = [](const gguf::GGUFFile& base, const std::map<std::string, const std::vector<float>*>& tensors,
                    const std::string& path) {
    convert_model(base, path, "", [&](const gguf::TensorInfo& info) {
      auto it = tensors.find(info.name);
      return it == tensors.end() ? std::vector<float>() : *it->second;
    });
  };
  std::fprintf(stderr, "model: %s\n", o.model_path.c_str());
  const auto res = train::run_recipe(rec, o);
  const std::string out = res["out"].get<std::string>();
  if (f.install) {
    HELIX_CHECK(!rec.stages.front().full, "--install installs a LoRA adapter; this recipe fine-tunes the whole model (",
                out, ")");
    install_adapter(out);
  }
  return 0;
}

}  // namespace helix::cli
