// helix serve: an OpenAI-compatible HTTP server over one model, with continuous batching of
// concurrent requests, a prefix cache, optional API keys and Prometheus metrics. SIGTERM or
// SIGINT stops accepting requests, lets in-flight ones finish, then exits.
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "cli/best_of.h"
#include "cli/commands.h"
#include "cli/default_model.h"
#include "cli/gen_options.h"
#include "cli/kb_answer.h"
#include "cli/flywheel_watch.h"
#include "cli/lora_flags.h"
#include "cli/plugin_chat.h"
#include "cli/mcp_kb_tool.h"
#include "cli/plugin_python.h"
#include "core/error.h"
#include "core/files.h"
#include "helix_version.h"
#include "knowledge/service.h"
#include "model/bert.h"
#include "plugins/chatfile_tool.h"
#include "plugins/loop.h"
#include "plugins/manifest.h"
#include "runtime/session.h"
#include "server/api.h"
#include "server/chatfile_backend.h"
#include "server/mcp_tools.h"
#include "server/knowledge_api.h"
#include "server/engine.h"
#include "server/adapters.h"
#include "server/feedback.h"
#include "server/plugins_hook.h"

namespace helix::cli {
namespace {

constexpr const char* kUsage =
    "usage: helix serve [-m MODEL] [--host 127.0.0.1] [--port 8080] [-c CTX] [--parallel N]\n"
    "                   [--api-key KEY | --api-keys FILE] [--embed-model PATH | --embeddings] [options]\n"
    "  -m FILE            GGUF model (default: the installed default model)\n"
    "  --host ADDR        address to listen on (default 127.0.0.1)\n"
    "  --port N           port (default 8080)\n"
    "  -c N               context size of each sequence (default 4096)\n"
    "  --parallel N       sequences generated together (default 4)\n"
    "  --queue N          requests that may wait for a free sequence before 429 (default 64)\n"
    "  --prefill-chunk N  prompt tokens computed per step alongside running streams (default 256)\n"
    "  --timeout S        per-request time limit in seconds (default 600)\n"
    "  --max-body BYTES   largest request body (default 8388608)\n"
    "  --alias NAME       the model name clients use (default: the file name without .gguf)\n"
    "  --lora FILE[:S]    apply a LoRA adapter to every request (repeatable)\n"
    "  --lora NAME=FILE[:S]  serve an adapter that a request picks with the model name ALIAS:NAME\n"
    "                     (repeatable; requests under different adapters share one batch)\n"
    "  --api-key KEY      require 'Authorization: Bearer KEY'\n"
    "  --api-keys FILE    accepted keys, one per line\n"
    "  --embed-model PATH also serve /v1/embeddings with this BERT encoder (directory or GGUF)\n"
    "  --embeddings       same, with the installed embedding model (all-MiniLM-L6-v2)\n"
    "  --kb-dir DIR       knowledge bases in DIR: the /v1/kb routes and chat's \"knowledge\":\n"
    "                     {\"kb\": NAME, \"k\": 8} field (cited answers); --kb: the default folder\n"
    "                     ($XDG_DATA_HOME/helix/kb, as helix kb uses)\n"
    "  --rm [NAME=]FILE   load a reward model (helix rm train) for requests with \"best_of\": N and\n"
    "                     \"reward_model\": NAME (repeatable; NAME defaults to the file name)\n"
    "  --feedback-db FILE record every answer in this SQLite file and accept POST /v1/feedback\n"
    "                     (ratings and corrections; `helix flywheel export` makes training data)\n"
    "  --flywheel-db FILE serve each adapter promoted in this registry (helix flywheel) as ALIAS:NAME,\n"
    "                     switching to new promotions and rollbacks as they happen (checked every second);\n"
    "                     GET /v1/adapters lists them, POST /v1/adapters {\"name\",\"path\"} switches by hand\n"
    "  --cors ORIGIN...   let browser pages from these origins call the API (e.g. https://app.example.com; * for any)\n"
    "  --max-connections N             open client connections at most (default 1024)\n"
    "  --max-connections-per-client N  from one client address at most (default 64); at a cap the\n"
    "                     longest-waiting idle or unfinished connection is closed, else 503\n"
    "  --request-timeout S  time to receive a request's line, headers and body (default 10)\n"
    "  --keep-alive S     idle time before a kept-alive connection is closed (default 5)\n"
    "  --log-format F     per-request log lines on stderr: text (default) or json\n"
    "  --verbose          also log /health and /metrics, connection events and user agents\n"
    "  -t N               threads (default: all cores)\n";

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

int64_t to_int(const std::string& flag, const std::string& v) {
  try {
    size_t used = 0;
    const long long x = std::stoll(v, &used);
    if (used == v.size()) return x;
  } catch (const std::exception&) {
  }
  throw Error(cat("option ", flag, " expects a number, got '", v, "'"));
}

double to_seconds(const std::string& flag, const std::string& v) {
  try {
    size_t used = 0;
    const double x = std::stod(v, &used);
    if (used == v.size() && x > 0 && x <= 86400) return x;
  } catch (const std::exception&) {
  }
  throw Error(cat("option ", flag, " expects seconds between 0 and 86400, got '", v, "'"));
}

// Crash tests (tests/python/test_server_faults.py): with HELIX_SERVE_FAULT=TEXT in the environment, a
// request whose prompt holds TEXT throws inside generation at its third token, as a failing
// detokenizer or parser would; nothing is injected without it.
void inject_faults(server::EngineOptions& eo, std::shared_ptr<tok::Tokenizer> tok) {
  const char* f = std::getenv("HELIX_SERVE_FAULT");
  if (!f || !*f) return;
  std::fprintf(stderr, "helix serve: fault injection on (HELIX_SERVE_FAULT)\n");
  eo.fault = [marker = std::string(f), tok](const server::GenParams& p, int64_t produced) {
    if (produced == 3 && tok->decode(p.prompt).find(marker) != std::string::npos)
      throw Error("injected fault (HELIX_SERVE_FAULT) at the third generated token");
  };
}

}  // namespace

int cmd_serve(int argc, char** argv) {
  GenOptions o;
  o.named_lora = true;  // --lora NAME=FILE: adapters that requests pick by model name
  server::ApiOptions api;
  server::EngineOptions eo;
  std::string alias, embed_model, feedback_db, flywheel_db;
  std::vector<std::string> reward_models;  // --rm [NAME=]FILE
  bool embeddings = false;
  std::string kb_dir;  // knowledge bases: --kb-dir DIR, or --kb for the default folder
  // Serve's own flags are taken out first; the rest go through the shared parser (-m -c -t).
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto val = [&]() -> std::string {
      HELIX_CHECK(i + 1 < argc, "option ", a, " needs a value (see --help)");
      return argv[++i];
    };
    if (a == "--host") api.host = val();
    else if (a == "--port") api.port = static_cast<int>(to_int(a, val()));
    else if (a == "--parallel" || a == "-np") eo.n_parallel = static_cast<int>(to_int(a, val()));
    else if (a == "--queue") eo.max_queue = static_cast<int>(to_int(a, val()));
    else if (a == "--prefill-chunk") eo.prefill_chunk = to_int(a, val());
    else if (a == "--timeout") api.timeout_s = static_cast<double>(to_int(a, val()));
    else if (a == "--max-body") api.max_body = static_cast<size_t>(to_int(a, val()));
    else if (a == "--alias") alias = val();
    else if (a == "--embed-model") embed_model = val(), embeddings = true;
    else if (a == "--embeddings") embeddings = true;
    else if (a == "--feedback-db") feedback_db = val();
    else if (a == "--rm") reward_models.push_back(val());
    else if (a == "--flywheel-db") flywheel_db = val();
    else if (a == "--kb-dir") kb_dir = val();
    else if (a == "--kb") kb_dir = default_kb_dir();
    else if (a == "--cors") {
      // One or more origins: the arguments up to the next option, each possibly comma-separated.
      size_t before = api.cors_origins.size();
      while (i + 1 < argc && argv[i + 1][0] != '-') {
        std::stringstream ss(argv[++i]);
        for (std::string o; std::getline(ss, o, ',');)
          if (!o.empty()) api.cors_origins.push_back(o);
      }
      HELIX_CHECK(api.cors_origins.size() > before, "--cors needs at least one origin, e.g. --cors https://app.example.com");
    } else if (a == "--max-connections") api.limits.max_connections = static_cast<int>(to_int(a, val()));
    else if (a == "--max-connections-per-client") api.limits.max_per_client = static_cast<int>(to_int(a, val()));
    else if (a == "--request-timeout") api.limits.request_timeout_s = to_seconds(a, val());
    else if (a == "--keep-alive") api.limits.keep_alive_s = to_seconds(a, val());
    else if (a == "--log-format") api.log_format = server::http::parse_log_format(val());
    else if (a == "--verbose") api.verbose = true;
    else if (a == "--api-key") api.api_keys.insert(val());
    else if (a == "--api-keys") {
      const std::string path = val();
      std::istringstream f(read_file(path, "API key file"));
      std::string line;
      while (std::getline(f, line)) {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        if (!line.empty() && line[0] != '#') api.api_keys.insert(line);
      }
      HELIX_CHECK(!api.api_keys.empty(), "API key file '", path, "' holds no keys");
    } else rest.push_back(argv[i]);
  }
  if (!parse_gen_options(static_cast<int>(rest.size()), rest.data(), o, kUsage)) return 0;
  HELIX_CHECK(o.rest.empty(), "unexpected argument '", o.rest.empty() ? "" : o.rest[0], "' (see --help)");
  HELIX_CHECK(api.port >= 0 && api.port < 65536, "--port must be 0..65535");
  HELIX_CHECK(eo.n_parallel >= 1 && eo.n_parallel <= 256, "--parallel must be 1..256");
  HELIX_CHECK(eo.max_queue >= 0, "--queue must not be negative");
  HELIX_CHECK(eo.prefill_chunk >= 1, "--prefill-chunk must be positive");
  HELIX_CHECK(api.limits.max_connections >= 1 && api.limits.max_connections <= 1000000,
              "--max-connections must be 1..1000000");
  HELIX_CHECK(api.limits.max_per_client >= 1, "--max-connections-per-client must be at least 1");
  eo.n_ctx = o.n_ctx;

  Loaded l = load_for_generation(o);
  api.model_id = alias.empty() ? std::filesystem::path(l.path).stem().string() : alias;
  const auto named = add_named_loras(o.lora, *l.model);  // --lora NAME=FILE (cli/lora_flags.h)
  api.chat_template = chat_template_of(o, l);
  api.chat_template_forced = !o.chat_template.empty();
  api.model = server::http::model_facts(*l.model);
  if (embeddings) {
    const std::string path = resolve_embed_model_path(embed_model);
    api.embedder = model::BertEncoder::load(path);
    // The installed model is all-MiniLM-L6-v2 (scripts/setup.sh); any other is named by its
    // directory or file name without .gguf.
    api.embed_model_id = path == installed_embed_model_dir() ? "all-MiniLM-L6-v2" : std::filesystem::path(path).stem().string();
    std::fprintf(stderr, "helix serve: embeddings from '%s' (%d dimensions)\n", api.embed_model_id.c_str(),
                 api.embedder->dim());
  }

  for (const std::string& spec : reward_models) {  // best_of on the API (server/rerank.h)
    const size_t eq = spec.find('=');
    const std::string file = eq == std::string::npos ? spec : spec.substr(eq + 1);
    const std::string name = eq == std::string::npos ? std::filesystem::path(file).stem().string() : spec.substr(0, eq);
    HELIX_CHECK(!name.empty() && !file.empty(), "--rm expects NAME=FILE or FILE (a reward model from helix rm train), got '",
                spec, "'");
    HELIX_CHECK(!api.reward_models.count(name), "--rm: two reward models are named '", name, "'");
    api.reward_models[name] = std::make_shared<RewardScorer>(file);
    std::fprintf(stderr, "helix serve: reward model '%s' from '%s' (best_of)\n", name.c_str(), file.c_str());
  }
  if (!feedback_db.empty()) {
    api.feedback = std::make_shared<server::FeedbackStore>(feedback_db);
    std::string adapters;
    for (const auto& a : o.lora) adapters += (adapters.empty() ? "" : ",") + a;
    api.feedback->set_served_adapters(adapters);
    std::fprintf(stderr, "helix serve: recording answers and feedback in '%s'\n", feedback_db.c_str());
  }

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // One set of open knowledge bases (knowledge/service.h) for /v1/kb, the chat "knowledge" field,
  // MCP's kb_search and the kb plugin (the hybrid when an embedding model is loaded).
  std::shared_ptr<model::BertEncoder> enc = api.embedder;
  if (!kb_dir.empty() && !enc) enc = model::BertEncoder::load(resolve_embed_model_path(embed_model));
  auto bases = std::make_shared<knowledge::KnowledgeBases>(plugin_kb_dir(kb_dir), enc);
  // Requests with "plugins": [...] have Helix run the tool loop (server/plugins_hook.h).
  // The chatfile built-in and MCP tools run ChatFile on uploaded files with the served model.
  auto docs = std::make_shared<plugins::DocTools>();
  api.hooks.push_back(std::make_shared<server::PluginsHook>(plugins::plugins_dir(), plugins::Context{plugin_kb_dir(kb_dir), docs, bases},
                                                            plugins::control_token_texts(*l.tokenizer)));
  inject_faults(eo, l.tokenizer);
  server::Engine engine(l.model, l.tokenizer, eo);
  // Named adapters, switchable while serving (POST /v1/adapters; --flywheel-db watches promotions).
  api.adapters = std::make_shared<server::ServedAdapters>(engine, l.model);
  for (const auto& [name, n] : named) api.adapters->adopt(name, n.set, n.paths, n.chat_template);
  std::unique_ptr<FlywheelWatch> flywheel;
  if (!flywheel_db.empty()) flywheel = std::make_unique<FlywheelWatch>(flywheel_db, api.adapters);
  server::EngineBackend doc_backend(engine, api.chat_template, api.model_id);
  docs->backend = &doc_backend;
  docs->encoder = api.embedder.get();
  docs->files_dir = api.files_dir.empty() ? plugins::default_files_dir() : api.files_dir;
  docs->cache_dir = api.chatfile_cache;
  docs->between_steps = [&engine](const std::function<void()>& f) { engine.run_between_steps(f); };
  if (!kb_dir.empty()) {
    api.knowledge = std::make_shared<server::KnowledgeService>(engine, bases, api.chat_template);
    std::fprintf(stderr, "helix serve: knowledge bases in '%s' (/v1/kb)\n", kb_dir.c_str());
  }
  // MCP at /mcp: generate and embed (the Api adds them) and knowledge-base search (BM25 only
  // without an embedding model).
  api.version = HELIX_VERSION;
  api.mcp_tools = [bases, docs](mcp::Server& s) {
    add_kb_search_tool(s, bases);
    add_python_tool(s);  // when enabled (helix plugin enable python)
    server::add_chatfile_tools(s, docs);
  };
  server::Api server(engine, api);
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    while (!g_stop.load() && !done.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (done.load()) return;
    std::fprintf(stderr, "helix serve: stopping; finishing in-flight requests\n");
    server.drain_and_stop();
  });
  try {
    server.run();
  } catch (...) {
    done.store(true);
    watcher.join();
    throw;
  }
  done.store(true);
  watcher.join();
  flywheel.reset();  // no more switches while the engine drains
  engine.drain();
  std::fprintf(stderr, "helix serve: stopped\n");
  return 0;
}

}  // namespace helix::cli
