// helix chatfile: summaries, topics, meeting minutes, key points and cited answers for documents
// far longer than the model's context (src/chatfile). The model runs on an in-process serving
// engine, so several chunks are computed together and a question's fixed prompt prefix is reused
// from the KV cache. Finished partial results are kept in the cache folder: a run that is killed
// resumes where it stopped. With no task flag, questions are read interactively (libedit).
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>

#include "chatfile/mapreduce.h"
#include "chatfile/qa.h"
#include "cli/commands.h"
#include "cli/default_model.h"
#include "cli/gen_options.h"
#include "cli/terminal.h"
#include "core/error.h"
#include "model/bert.h"
#include "server/chatfile_backend.h"

namespace helix::cli {
namespace {

constexpr const char* kUsage =
    "usage: helix chatfile FILE... [TASK...] [options]\n"
    "Summaries, topics, minutes and cited answers for documents of any length (txt, md, html, pdf, docx).\n"
    "Tasks (several may be given; none: ask questions interactively):\n"
    "  --summary            a summary (hierarchical map-reduce over the document's chunks)\n"
    "  --topics             the topics discussed, each with a summary and where it is\n"
    "  --minutes            meeting minutes: summary, topics, decisions, action items (owner, due date)\n"
    "  --key-points         the key facts, figures, names, dates and decisions\n"
    "  --ask \"QUESTION\"     answer from the document's passages with [n] citations (repeat for follow-ups)\n"
    "Options:\n"
    "  --json               print one JSON object (minutes match schemas/minutes.schema.json)\n"
    "  --lang auto|en|zh    prompt and output language (default: from the text)\n"
    "  --chunk-tokens N     tokens per map chunk (default 1500)\n"
    "  --parallel N         chunks computed together (default 4)\n"
    "  --cache DIR          where partial results and the document index are kept\n"
    "                       (default $XDG_CACHE_HOME/helix/chatfile); --no-cache keeps nothing\n"
    "  --no-adapter         do not use the installed assistant adapter (used by default when present)\n"
    "  --retrieval MODE     hybrid (default), bm25 or vector;  -k N  passages per question (default 5)\n"
    "  --embed-model PATH   the embedding model for retrieval (default: the installed MiniLM)\n"
    "  --no-prefix-cache    recompute every prompt from its start (to measure what the reuse saves)\n"
    "  --no-history         each --ask stands alone (no follow-up context)\n"
    "  -m MODEL -c CTX -t THREADS --lora FILE[:SCALE] --chat-template FILE (as helix run)\n"
    "Interactive commands: /reset (forget earlier questions), /exit (or Ctrl-D).\n";

struct Args {
  std::vector<std::string> files;
  std::vector<chatfile::Task> tasks;
  std::vector<std::string> asks;
  bool json = false, no_cache = false, no_adapter = false, no_prefix_cache = false, no_history = false;
  std::string lang = "auto", cache, retrieval = "hybrid", embed_model;
  int64_t chunk_tokens = 1500, parallel = 4, k = 5;
  GenOptions gen;
};

Args parse_args(int argc, char** argv, bool& help) {
  Args a;
  std::vector<char*> rest = {argv[0]};
  auto value = [&](int& i) -> std::string {
    HELIX_CHECK(i + 1 < argc, "option ", argv[i], " needs a value (see --help)");
    return argv[++i];
  };
  for (int i = 1; i < argc; ++i) {
    const std::string f = argv[i];
    if (f == "--summary") a.tasks.push_back(chatfile::Task::Summary);
    else if (f == "--topics") a.tasks.push_back(chatfile::Task::Topics);
    else if (f == "--minutes") a.tasks.push_back(chatfile::Task::Minutes);
    else if (f == "--key-points") a.tasks.push_back(chatfile::Task::KeyPoints);
    else if (f == "--ask") a.asks.push_back(value(i));
    else if (f == "--json") a.json = true;
    else if (f == "--no-cache") a.no_cache = true;
    else if (f == "--no-adapter") a.no_adapter = true;
    else if (f == "--no-prefix-cache") a.no_prefix_cache = true;
    else if (f == "--no-history") a.no_history = true;
    else if (f == "--lang") a.lang = value(i);
    else if (f == "--cache") a.cache = value(i);
    else if (f == "--retrieval") a.retrieval = value(i);
    else if (f == "--embed-model") a.embed_model = value(i);
    else if (f == "--chunk-tokens") a.chunk_tokens = int_flag(f, value(i), 64, 100000);
    else if (f == "--parallel") a.parallel = int_flag(f, value(i), 1, 64);
    else if (f == "-k") a.k = int_flag(f, value(i), 1, 50);
    else rest.push_back(argv[i]);  // helix run's options (with their values) and the documents
  }
  a.gen.n_ctx = -1;
  help = !parse_gen_options(static_cast<int>(rest.size()), rest.data(), a.gen, kUsage);
  a.files = a.gen.rest;
  HELIX_CHECK(help || !a.files.empty(), "name one or more documents: helix chatfile FILE... (see --help)");
  return a;
}

std::string fmt_time(double s) {
  if (s < 0) return "?";
  const long t = std::lround(s);
  return t >= 3600 ? cat(t / 3600, "h", (t / 60) % 60, "m") : t >= 60 ? cat(t / 60, "m", t % 60, "s") : cat(t, "s");
}

// The progress bar on stderr: redrawn in place on a terminal, one line per update otherwise.
void show_progress(const chatfile::Progress& p) {
  static const bool tty = isatty(STDERR_FILENO);
  const int width = 24;
  const int fill = p.total ? static_cast<int>(width * p.done / p.total) : width;
  std::string bar(static_cast<size_t>(fill), '#');
  bar.resize(width, '.');
  std::fprintf(stderr, "%s%-8s [%s] %zu/%zu chunks%s, %.0f tok/s, ETA %s%s", tty ? "\r" : "", p.phase.c_str(),
               bar.c_str(), p.done, p.total, p.cached ? cat(" (", p.cached, " from cache)").c_str() : "",
               p.tokens_per_s, p.done == p.total ? "0s" : fmt_time(p.eta_s).c_str(),
               tty && p.done < p.total ? "   " : "\n");
  std::fflush(stderr);
}

std::string model_identity(const std::string& path, const std::vector<std::string>& loras) {
  std::string id = path;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) id += cat(" size=", st.st_size, " mtime=", st.st_mtime);
  for (const auto& l : loras) {
    id += " lora=" + l;
    if (::stat(l.c_str(), &st) == 0) id += cat(":", st.st_size, ":", st.st_mtime);
  }
  return id;
}

void print_answer_sources(const chatfile::Answer& a) {
  if (a.cited.empty()) return;
  std::printf("\nSources:\n");
  for (int n : a.cited) std::printf("  [%d] %s\n", n, a.passages[static_cast<size_t>(n - 1)].where.c_str());
}

struct Ctx {
  Args& a;
  chatfile::Backend& backend;
  chatfile::Corpus& corpus;
  std::string cache_root;
  std::unique_ptr<model::BertEncoder> enc;
  std::unique_ptr<knowledge::KnowledgeBase> kb;
  std::unique_ptr<chatfile::DocQA> qa;

  chatfile::DocQA& docqa() {
    if (qa) return *qa;
    enc = model::BertEncoder::load(resolve_embed_model_path(a.embed_model));
    const std::string root = cache_root.empty() ? "" : cache_root + "/index";
    HELIX_CHECK(!root.empty(), "questions need an index folder: give --cache DIR");
    std::fprintf(stderr, "indexing %zu file(s) for retrieval ...\n", corpus.docs.size());
    kb = chatfile::open_index(root, corpus, *enc, [](size_t d, size_t n) {
      if (d == n || d % 64 == 0) std::fprintf(stderr, "  embedded %zu/%zu passages\n", d, n);
    });
    chatfile::QaOptions qo;
    qo.k = static_cast<size_t>(a.k);
    qo.mode = knowledge::parse_retrieval_mode(a.retrieval);
    if (a.no_history) qo.history_turns = 0;
    qa = std::make_unique<chatfile::DocQA>(backend, corpus, *kb, enc.get(), qo);
    return *qa;
  }
};

std::atomic<bool> g_interrupted{false};
void on_sigint(int) { g_interrupted.store(true); }

void interactive(Ctx& x) {
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  auto& qa = x.docqa();
  LineReader reader("");
  std::fprintf(stderr, "Ask about %s (%zu chunks, ~%zu tokens); /reset forgets earlier questions, Ctrl-D quits\n",
               chatfile::corpus_title(x.corpus).c_str(), x.corpus.units.size(), x.corpus.tokens);
  for (;;) {
    std::fflush(stdout);
    std::string line;
    g_interrupted.store(false);
    if (!reader.read(reader.interactive() ? "? " : "", line)) {
      if (g_interrupted.load()) continue;
      break;
    }
    const size_t b = line.find_first_not_of(" \t");
    if (b == std::string::npos) continue;
    line = line.substr(b);
    reader.remember(line);
    if (line == "/exit" || line == "/quit") break;
    if (line == "/reset") {
      qa.reset();
      std::puts("(earlier questions forgotten)");
      continue;
    }
    TerminalSanitizer clean;
    const auto ans = qa.ask(line, [&](const std::string& t) {
      const std::string s = clean.push(t);
      std::fwrite(s.data(), 1, s.size(), stdout);
      std::fflush(stdout);
    });
    std::fputs(clean.finish().c_str(), stdout);
    std::puts("");
    print_answer_sources(ans);
    std::fprintf(stderr, "(%.2f s to the first token, %.2f s in all; %lld of %lld prompt tokens reused from the cache)\n",
                 ans.reply.first_token_s, ans.reply.seconds, static_cast<long long>(ans.reply.cached_tokens),
                 static_cast<long long>(ans.reply.prompt_tokens));
  }
  std::puts("");
}

}  // namespace

int cmd_chatfile(int argc, char** argv) {
  bool help = false;
  Args a = parse_args(argc, argv, help);
  if (help) return 0;
  use_installed_adapter(a.gen.lora, !a.no_adapter);
  chatfile::CorpusOptions co;
  co.unit_tokens = static_cast<size_t>(a.chunk_tokens);
  chatfile::Corpus corpus = chatfile::load_corpus(a.files, co);
  corpus.lang = chatfile::parse_lang(a.lang, corpus.docs[0].text.substr(0, 20000));
  std::fprintf(stderr, "%zu file(s), ~%zu tokens, %zu chunks of <= %lld tokens, language %s\n", corpus.docs.size(),
               corpus.tokens, corpus.units.size(), static_cast<long long>(a.chunk_tokens), chatfile::lang_name(corpus.lang));

  // Room per sequence: a chunk (the estimate may undercount by a third) + prompt + reply.
  if (a.gen.n_ctx < 0) a.gen.n_ctx = std::max<int64_t>(4096, a.chunk_tokens * 2 + 1024);
  Loaded l = load_for_generation(a.gen);
  const std::string tmpl = chat_template_of(a.gen, l);
  server::EngineOptions eo;
  eo.n_ctx = a.gen.n_ctx;
  eo.n_parallel = static_cast<int>(a.parallel);
  eo.max_queue = static_cast<int>(a.parallel) * 4;
  eo.prefill_chunk = 512;
  eo.prefix_cache = !a.no_prefix_cache;
  server::Engine engine(l.model, l.tokenizer, eo);
  server::EngineBackend backend(engine, tmpl, model_identity(l.path, a.gen.lora));

  Ctx x{a, backend, corpus, a.no_cache ? "" : (a.cache.empty() ? chatfile::PartCache::default_root() : a.cache), {}, {}, {}};
  std::string tmp_root;
  if (a.no_cache && !a.asks.empty()) {
    char t[] = "/tmp/helix-chatfile-XXXXXX";
    HELIX_CHECK(::mkdtemp(t), "cannot create a temporary folder for the index");
    tmp_root = x.cache_root = t;
  }
  std::vector<std::string> shas = corpus.sha256;
  chatfile::ojson out = {{"files", a.files}, {"language", chatfile::lang_name(corpus.lang)}, {"tokens", corpus.tokens}};
  for (auto t : a.tasks) {
    shas.push_back(cat(chatfile::task_name(t), " chunk=", a.chunk_tokens, " lang=", chatfile::lang_name(corpus.lang)));
    chatfile::PartCache cache(a.no_cache ? "" : x.cache_root, chatfile::key_of(shas));
    shas.pop_back();
    chatfile::JobOptions jo;
    jo.cache = &cache;
    jo.on_progress = show_progress;
    const auto r = chatfile::run_task(backend, corpus, t, jo);
    std::fprintf(stderr, "%s: %zu chunks, %zu parts (%zu from cache), %lld + %lld tokens, %.1f s\n",
                 chatfile::task_name(t), r.units, r.parts, r.cached_parts, static_cast<long long>(r.prompt_tokens),
                 static_cast<long long>(r.completion_tokens), r.seconds);
    if (a.json) out[chatfile::task_name(t)] = r.to_json();
    else std::fputs(r.to_markdown().c_str(), stdout);
  }
  if (!a.asks.empty()) {
    auto& qa = x.docqa();
    out["answers"] = chatfile::ojson::array();
    for (const auto& q : a.asks) {
      const auto ans = qa.ask(q);
      std::fprintf(stderr, "answer: %.2f s to the first token, %.2f s in all, %lld of %lld prompt tokens reused\n",
                   ans.reply.first_token_s, ans.reply.seconds, static_cast<long long>(ans.reply.cached_tokens),
                   static_cast<long long>(ans.reply.prompt_tokens));
      if (a.json) {
        out["answers"].push_back(ans.to_json());
      } else {
        std::printf("Q: %s\n\n%s\n", q.c_str(), ans.text.c_str());
        print_answer_sources(ans);
        std::puts("");
      }
    }
  }
  if (a.json) std::printf("%s\n", out.dump(2, ' ', false, chatfile::ojson::error_handler_t::replace).c_str());
  if (a.tasks.empty() && a.asks.empty()) interactive(x);
  engine.drain();
  if (!tmp_root.empty()) std::filesystem::remove_all(tmp_root);
  return 0;
}

}  // namespace helix::cli
