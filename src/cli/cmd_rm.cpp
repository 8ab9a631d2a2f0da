// helix rm: reward models (src/train/reward*.h).
//   helix rm train RECIPE.toml [-m MODEL] [--out RM.gguf] ...   heads (and LoRA) on preference data
//   helix rm score --rm RM.gguf [--json] FILE.jsonl              scores per aspect and per step
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/best_of.h"
#include "cli/commands.h"
#include "cli/default_model.h"
#include "cli/flags.h"
#include "cli/gen_options.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "io/gguf.h"
#include "tokenizer/tokenizer.h"
#include "train/reward_train.h"

namespace helix::cli {
namespace {

using ojson = nlohmann::ordered_json;

constexpr const char* kUsage =
    "usage: helix rm train RECIPE.toml [options]        train a reward model (heads per aspect, optional LoRA)\n"
    "       helix rm score --rm RM.gguf [--json] FILE.jsonl   score replies per aspect (and per step)\n"
    "train:\n"
    "  -m MODEL                 base model (default: the recipe's, else the installed default model)\n"
    "  --adapter FILE|assistant|none   starting adapter (default: the recipe's; 'assistant' is the\n"
    "                           installed assistant adapter)\n"
    "  --out FILE               the reward model GGUF (default: the recipe's out)\n"
    "  --work-dir DIR (OUT.run) results.json, results.md, results.svg, steps.json\n"
    "  --max-steps N            at most N steps (a quick trial);  --exact;  -t N threads\n"
    "  --checkpoint-every N     steps between checkpoints (10; 0: none): rerunning the same command after\n"
    "                           a crash or kill -9 resumes from DIR/rm.ckpt with the same curve\n"
    "score (records: {\"prompt\"|\"messages\", \"response\"|\"steps\"} or {..., \"chosen\", \"rejected\"}):\n"
    "  --rm FILE                the reward model (required);  -m MODEL: its base (default: the one it was trained on)\n"
    "  --json                   one JSON object per record on stdout\n"
    "  pairs with an \"aspect\" and step records with \"labels\" are summed up as accuracy on stderr\n"
    "       helix rm answer --eval FILE.jsonl [--best-of N --rm RM.gguf [--rm-aspect A]] [run's options]\n"
    "                           one answer per eval record (the conversation before its last assistant\n"
    "                           turn), greedy or sampled as run's options say, or the best of N samples\n"
    "                           by the reward model; one JSON line each: {\"line\", \"answer\", \"scores\"}\n";

std::string duration(double s) {
  const auto t = static_cast<long long>(s + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lldm%02llds", t / 60, t % 60);
  return buf;
}

// One status line: rewritten in place on a terminal, one line each otherwise (logs, tests).
void status(const std::string& s, bool done) {
  static const bool tty = isatty(STDERR_FILENO) != 0;
  if (tty) std::fprintf(stderr, "\r\033[K%s%s", s.c_str(), done ? "\n" : "");
  else std::fprintf(stderr, "%s\n", s.c_str());
  std::fflush(stderr);
}

int rm_train(const std::vector<std::string>& pos, const std::string& model, const std::string& adapter,
             const std::string& out, const std::string& work, int64_t max_steps, int64_t ckpt_every, bool exact) {
  HELIX_CHECK(pos.size() == 1, "helix rm train takes one recipe file\n", kUsage);
  const train::RmRecipe rec = train::load_rm_recipe(pos[0]);
  train::RmTrainOptions o;
  o.model_path = resolve_model_path(!model.empty() ? model : rec.model == "default" ? "" : rec.model);
  const std::string a = !adapter.empty() ? adapter : rec.adapter;
  if (a == "assistant") {
    o.adapter_path = installed_assistant_adapter();
    HELIX_CHECK(!o.adapter_path.empty(), "the recipe starts from the assistant adapter, which is not installed at ",
                assistant_adapter_install_path(), "; install it (helix sft recipes/assistant/recipe.toml --install) ",
                "or give --adapter FILE / --adapter none");
  } else if (a != "none") {
    o.adapter_path = a;
  }
  HELIX_CHECK(o.adapter_path.empty() || !rec.new_lora, "the recipe asks for a new LoRA adapter (lora = {...}) and ",
              "--adapter gives one to start from; use one of them");
  o.out = out;
  o.work_dir = work;
  o.max_steps = max_steps;
  o.checkpoint_every = ckpt_every;
  o.exact_base = exact;
  o.log = [](const std::string& s) { status(s, true); };
  o.progress = [](const train::RmTrainReport& r) {
    char buf[200];
    std::snprintf(buf, sizeof buf, "[rm] step %lld/%lld  loss %.4f  acc %.2f  lr %.2e  grad-norm %.3f  %.1f tokens/s  ETA %s",
                  static_cast<long long>(r.step), static_cast<long long>(r.steps), r.loss, r.accuracy,
                  static_cast<double>(r.lr), r.grad_norm, r.tokens_per_s, duration(r.eta_s).c_str());
    status(buf, r.step == r.steps);
  };
  o.eval_progress = [](const std::string& aspect, size_t done, size_t total) {
    status(cat("[eval ", aspect, "] ", done, "/", total, " sequences"), done == total);
  };
  std::fprintf(stderr, "model: %s%s%s\n", o.model_path.c_str(), o.adapter_path.empty() ? "" : "  adapter: ",
               o.adapter_path.c_str());
  const ojson res = train::train_reward_model(rec, o);
  std::printf("%s\n", res.dump(2).c_str());
  return 0;
}

struct Scored {
  int64_t line = 0;
  ojson record;
  std::vector<train::RmSeq> seqs;  // the reply, or chosen then rejected
};

// "format 1.234  math_steps [0.5 -2.1]"
std::string human(const ojson& scores) {
  std::string out;
  char buf[32];
  for (const auto& [aspect, v] : scores.items()) {
    out += cat(out.empty() ? "" : "  ", aspect, " ");
    if (v.is_array()) {
      out += "[";
      for (size_t k = 0; k < v.size(); ++k) {
        std::snprintf(buf, sizeof buf, "%s%.3f", k ? " " : "", v[k].get<double>());
        out += buf;
      }
      out += "]";
    } else {
      std::snprintf(buf, sizeof buf, "%.3f", v.get<double>());
      out += buf;
    }
  }
  return out;
}

int rm_score(const std::vector<std::string>& pos, const std::string& rm_path, const std::string& model, bool json,
             bool exact) {
  HELIX_CHECK(!rm_path.empty(), "helix rm score needs --rm RM.gguf (made by helix rm train)\n", kUsage);
  HELIX_CHECK(pos.size() == 1, "helix rm score takes one JSONL file\n", kUsage);
  train::RmFileInfo info;
  auto m = train::load_reward_model(rm_path, model.empty() ? "" : resolve_model_path(model), exact, &info);
  const gguf::GGUFFile base = gguf::GGUFFile::open(model.empty() ? info.base_model : resolve_model_path(model));
  const auto tokenizer = tok::Tokenizer::from_gguf(base);
  const train::SampleRenderer sr(*tokenizer, info.chat_template.empty() ? train::chat_template_for_training(base, "")
                                                                   : info.chat_template);
  const train::RmRenderer rr(sr, info.step_separator);
  int n_step_heads = 0;
  std::string step_head;
  for (const auto& h : m->heads())
    if (h.level == train::RmLevel::Step) ++n_step_heads, step_head = h.aspect;
  const bool step_heads = n_step_heads > 0;

  std::ifstream in(pos[0], std::ios::binary);
  HELIX_CHECK(in, "cannot read ", pos[0]);
  std::vector<Scored> recs;
  std::vector<const train::RmSeq*> seqs;
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    Scored s;
    s.line = n;
    try {
      s.record = ojson::parse(line);
      const ojson& r = s.record;
      auto with_end = [](train::RmSeq q) {  // the reply's end after the step ends
        q.score_pos.push_back(q.last);
        return q;
      };
      if (r.contains("chosen") || r.contains("rejected")) {
        train::RmExample ex = train::rm_example(r, train::RmLevel::Response, 0, r.value("aspect", ""), rr);
        s.seqs = {ex.a, ex.b};
      } else if (step_heads && (r.contains("steps") || r.contains("response"))) {
        s.seqs = {with_end(rr.steps(r))};
      } else {
        HELIX_CHECK(r.contains("response") && r["response"].is_string(), "no \"response\", \"steps\" or \"chosen\"/\"rejected\"");
        s.seqs = {rr.response(r, r["response"].get<std::string>())};
      }
    } catch (const std::exception& e) {
      throw Error(cat(pos[0], ":", n, ": ", e.what()));
    }
    recs.push_back(std::move(s));
  }
  int64_t n_tokens = 0;
  for (const Scored& s : recs)
    for (const auto& q : s.seqs) seqs.push_back(&q), n_tokens += static_cast<int64_t>(q.tokens.size());
  const auto w0 = std::chrono::steady_clock::now();
  const std::clock_t c0 = std::clock();  // process CPU time, all threads
  const auto sc = train::score_sequences(*m, seqs, 1024, [](size_t d, size_t n) {
    status(cat("[score] ", d, "/", n, " sequences"), d == n);
  });
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
  const double cpu = static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
  std::fprintf(stderr, "scored %zu sequences (%lld tokens) in %.2f s: %.2f sequences/s, %.1f tokens/s, %.1f tokens per CPU-second\n",
               seqs.size(), static_cast<long long>(n_tokens), wall, static_cast<double>(seqs.size()) / std::max(wall, 1e-9),
               static_cast<double>(n_tokens) / std::max(wall, 1e-9), static_cast<double>(n_tokens) / std::max(cpu, 1e-9));

  std::map<std::string, std::pair<double, int64_t>> acc;  // aspect -> (right, n)
  size_t q = 0;
  for (const Scored& s : recs) {
    ojson o = {{"line", s.line}};
    const ojson& r = s.record;
    std::string aspect = r.value("aspect", "");
    if (aspect.empty() && r.contains("labels") && n_step_heads == 1) aspect = step_head;  // the only step head
    const int h = m->head_index(aspect);
    if (s.seqs.size() == 2) {
      o["chosen"] = rm_head_scores(*m, sc[q], 0);
      o["rejected"] = rm_head_scores(*m, sc[q + 1], 0);
      if (h >= 0 && m->heads()[static_cast<size_t>(h)].level == train::RmLevel::Response) {
        const float c = sc[q][static_cast<size_t>(h)], j = sc[q + 1][static_cast<size_t>(h)];
        o["aspect"] = aspect;
        o["prefers"] = c >= j ? "chosen" : "rejected";
        acc[aspect].first += c > j ? 1.0 : c == j ? 0.5 : 0.0;
        acc[aspect].second++;
      }
      q += 2;
    } else {
      const size_t n_steps = step_heads ? s.seqs[0].score_pos.size() - 1 : 0;
      o["scores"] = rm_head_scores(*m, sc[q], step_heads ? n_steps : 0);
      if (h >= 0 && m->heads()[static_cast<size_t>(h)].level == train::RmLevel::Step && r.contains("labels") &&
          r["labels"].is_array() && r["labels"].size() == n_steps) {
        for (size_t k = 0; k < n_steps; ++k) {
          const float v = sc[q][k * m->heads().size() + static_cast<size_t>(h)];
          acc[aspect].first += (v > 0) == (r["labels"][k].get<double>() >= 0.5);
          acc[aspect].second++;
        }
      }
      ++q;
    }
    if (json) {
      std::printf("%s\n", o.dump().c_str());
      continue;
    }
    std::string text;
    for (const char* k : {"chosen", "rejected", "scores"})
      if (o.contains(k)) text += cat(std::string(k) == "scores" ? "" : cat(k, ": "), human(o[k]), "  ");
    if (o.contains("prefers")) text += cat("-> prefers ", o["prefers"].get<std::string>(), " (", aspect, ")");
    std::printf("%s:%lld  %s\n", pos[0].c_str(), static_cast<long long>(s.line), text.c_str());
  }
  for (const auto& [a, v] : acc)
    std::fprintf(stderr, "%s: accuracy %.3f over %lld %s\n", a.c_str(), v.first / static_cast<double>(v.second),
                 static_cast<long long>(v.second),
                 m->heads()[static_cast<size_t>(m->head_index(a))].level == train::RmLevel::Step ? "steps" : "pairs");
  return 0;
}

// helix rm answer: every prompt of an eval file answered in one process (bench/pref_table.py).
int rm_answer(int argc, char** argv) {
  std::vector<char*> args(argv, argv + argc);
  BestOf b;
  take_best_of_flags(args, b);
  std::string eval;
  for (size_t i = 1; i < args.size(); ++i)
    if (std::string(args[i]) == "--eval") {
      HELIX_CHECK(i + 1 < args.size(), "--eval needs a JSONL file");
      eval = args[i + 1];
      args.erase(args.begin() + static_cast<std::ptrdiff_t>(i), args.begin() + static_cast<std::ptrdiff_t>(i) + 2);
      break;
    }
  GenOptions o;
  if (!parse_gen_options(static_cast<int>(args.size()), args.data(), o, kUsage)) return 0;
  HELIX_CHECK(!eval.empty(), "helix rm answer needs --eval FILE.jsonl (records with \"messages\")\n", kUsage);
  std::ifstream in(eval, std::ios::binary);
  HELIX_CHECK(in, "cannot read ", eval);
  Loaded l = load_for_generation(o);
  const std::string tmpl = chat_template_of(o, l);
  std::unique_ptr<RewardScorer> scorer = b.n > 1 ? std::make_unique<RewardScorer>(b.rm) : nullptr;
  std::vector<std::string> ranked;  // the heads of the ranking score: --rm-aspect, else every response head
  if (scorer) {
    ranked = scorer->response_aspects();
    if (!b.aspect.empty()) {
      HELIX_CHECK(std::find(ranked.begin(), ranked.end(), b.aspect) != ranked.end(), "reward model '", b.rm,
                  "' has no response-level head named '", b.aspect, "'");
      ranked = {b.aspect};
    }
  }
  runtime::Session s(l.model, l.tokenizer, o.n_ctx, o.n_batch);
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    ojson msgs;
    try {
      msgs = ojson::parse(line).at("messages");
      HELIX_CHECK(msgs.is_array() && !msgs.empty(), "\"messages\" must be a non-empty list");
      if (msgs.back().value("role", "") == "assistant") msgs.erase(msgs.size() - 1);
      HELIX_CHECK(!msgs.empty(), "no turn before the assistant's");
    } catch (const std::exception& e) {
      throw Error(cat(eval, ":", n, ": ", e.what()));
    }
    const std::vector<std::string> replies = sample_replies(o, s, encode_chat(tmpl, msgs, *l.tokenizer), std::max<int64_t>(1, b.n));
    ojson out = {{"line", n}};
    size_t best = 0;
    if (scorer) {  // blank replies are not scored (and never chosen over a scored one)
      ojson heads = ojson::array();
      double top = -std::numeric_limits<double>::infinity();
      for (size_t i = 0; i < replies.size(); ++i) {
        const bool blank = replies[i].find_first_not_of(" \t\r\n") == std::string::npos;
        heads.push_back(blank ? ojson::object() : scorer->score({{"messages", msgs}}, replies[i]));
        double sum = 0;
        for (const auto& a : ranked) sum += blank ? 0.0 : heads.back()[a].get<double>();
        if (!blank && sum > top) top = sum, best = i;
      }
      out["samples"] = replies;
      out["scores"] = heads;
      out["best"] = best;
    }
    out["answer"] = replies[best];
    std::printf("%s\n", out.dump().c_str());
    std::fflush(stdout);
    status(cat("[answer] ", eval, ":", n), false);
  }
  status("", true);
  return 0;
}

}  // namespace

int cmd_rm(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "answer") return rm_answer(argc - 1, argv + 1);
  std::string model, adapter, out, work, rm;
  int64_t max_steps = 0, threads = 0, ckpt_every = 10;
  bool json = false, exact = false;
  Flags p("helix rm", kUsage);
  p.value({"-m", "--model"}, model).value({"--adapter"}, adapter).value({"--out", "-o"}, out)
      .value({"--work-dir"}, work).value({"--rm"}, rm).integer({"--max-steps"}, max_steps, 1)
      .integer({"--checkpoint-every"}, ckpt_every, 0, 1'000'000'000).integer({"-t", "--threads"}, threads, 1, 1024).flag({"--json"}, json).flag({"--exact"}, exact);
  if (!p.parse(argc, argv)) return 0;
  std::vector<std::string> pos = p.positional();
  HELIX_CHECK(!pos.empty() && (pos[0] == "train" || pos[0] == "score"), "helix rm needs a subcommand: train or score\n",
              kUsage);
  const std::string sub = pos[0];
  pos.erase(pos.begin());
  const int t = threads > 0 ? static_cast<int>(threads) : threads_from_env();
  if (t > 0) ThreadPool::set_global_threads(t);
  if (sub == "train") return rm_train(pos, model, adapter, out, work, max_steps, ckpt_every, exact);
  return rm_score(pos, rm, model, json, exact);
}

}  // namespace helix::cli
