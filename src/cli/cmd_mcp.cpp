// helix mcp [-m MODEL] [--kb-dir DIR] [--embed-model PATH | --no-embed] [--no-adapter] [options]
// Helix as an MCP server over stdio (newline-delimited JSON-RPC on stdin/stdout; logs on stderr):
// the tools generate (the local model, through the same pipeline as `helix serve`), embed (the
// embedding model), kb_search (the knowledge bases of `helix kb`) and ChatFile's document_summary
// and document_ask (documents in the current folder or below, or uploaded files). The same tools
// are served over streamable HTTP at `helix serve`'s /mcp (there: uploaded files only).
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "cli/default_model.h"
#include "cli/gen_options.h"
#include "cli/kb_answer.h"
#include "cli/mcp_kb_tool.h"
#include "cli/plugin_python.h"
#include "core/error.h"
#include "helix_version.h"
#include "knowledge/service.h"
#include "mcp/mcp.h"
#include "model/bert.h"
#include "plugins/chatfile_tool.h"
#include "server/chatfile_backend.h"
#include "server/engine.h"
#include "server/mcp_tools.h"
#include "server/pipeline.h"

namespace helix::cli {
namespace {

constexpr const char* kUsage =
    "usage: helix mcp [-m MODEL] [--kb-dir DIR] [--embed-model PATH | --no-embed] [--no-adapter] [options]\n"
    "Serves Helix's tools to MCP clients over stdio (JSON-RPC, one message per line):\n"
    "  generate   text from the local model          embed   sentence embeddings\n"
    "  kb_search  passages from the knowledge bases made with `helix kb`\n"
    "  python     Python code in a sandbox, once enabled (helix plugin enable python)\n"
    "  document_summary, document_ask  ChatFile over a document in this folder (or below)\n"
    "  -m FILE            GGUF model (default: the installed default model)\n"
    "  --no-adapter       without the installed assistant adapter (used by default when installed)\n"
    "  --kb-dir DIR       where knowledge bases live (default ~/.local/share/helix/kb)\n"
    "  --embed-model PATH embedding model (default: the installed all-MiniLM-L6-v2)\n"
    "  --no-embed         no embedding model: no embed tool, kb_search by BM25 only\n"
    "  --parallel N       messages handled at once: generate calls share one batch (default 2)\n"
    "  -c N               context size (default 4096)\n"
    "  -t N               threads (default: all cores)\n"
    "Example client configuration: {\"command\": \"helix\", \"args\": [\"mcp\"]}\n";

}  // namespace

int cmd_mcp(int argc, char** argv) {
  GenOptions o;
  std::string kb_dir = default_kb_dir(), embed_model;
  bool embed = true, adapter = true;
  server::EngineOptions eo;
  eo.n_parallel = 2;
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto val = [&]() -> std::string {
      HELIX_CHECK(i + 1 < argc, "option ", a, " needs a value (see --help)");
      return argv[++i];
    };
    if (a == "--kb-dir") kb_dir = val();
    else if (a == "--embed-model") embed_model = val();
    else if (a == "--no-embed") embed = false;
    else if (a == "--no-adapter") adapter = false;
    else if (a == "--parallel") eo.n_parallel = static_cast<int>(int_flag(a, val(), 1, 64));
    else rest.push_back(argv[i]);
  }
  if (!parse_gen_options(static_cast<int>(rest.size()), rest.data(), o, kUsage)) return 0;
  HELIX_CHECK(o.rest.empty(), "unexpected argument '", o.rest.empty() ? "" : o.rest[0], "' (see --help)");
  if (const std::string ad = use_installed_adapter(o.lora, adapter); !ad.empty())
    std::fprintf(stderr, "helix mcp: using the assistant adapter %s (--no-adapter: without it)\n", ad.c_str());
  eo.n_ctx = o.n_ctx;
  Loaded l = load_for_generation(o);
  std::shared_ptr<model::BertEncoder> encoder;
  if (embed) {
    try {
      encoder = model::BertEncoder::load(resolve_embed_model_path(embed_model));
    } catch (const std::exception& e) {
      if (!embed_model.empty()) throw;
      std::fprintf(stderr, "helix mcp: no embedding model (%s): no embed tool, kb_search by BM25 only\n", e.what());
    }
  }
  server::Engine engine(l.model, l.tokenizer, eo);
  server::PipelineOptions po;
  po.model_id = std::filesystem::path(l.path).stem().string();
  po.chat_template = chat_template_of(o, l);
  po.timeout_s = 600;
  server::Pipeline pipeline(engine, po);
  mcp::Server s("helix", HELIX_VERSION, "Helix runs a language model, an embedding model and knowledge bases locally.");
  server::add_generate_tool(s, pipeline);
  if (encoder) server::add_embed_tool(s, engine, encoder);
  add_kb_search_tool(s, std::make_shared<knowledge::KnowledgeBases>(kb_dir, encoder));
  add_python_tool(s);  // when enabled (helix plugin enable python)
  server::EngineBackend backend(engine, chat_template_of(o, l), std::filesystem::path(l.path).stem().string());
  auto docs = std::make_shared<plugins::DocTools>();
  docs->backend = &backend;
  docs->encoder = encoder.get();
  docs->files_dir = plugins::default_files_dir();
  docs->docs_dir = std::filesystem::current_path().string();
  docs->between_steps = [&engine](const std::function<void()>& f) { engine.run_between_steps(f); };
  server::add_chatfile_tools(s, docs);
  std::fprintf(stderr, "helix mcp: serving %zu tools on stdio (model %s)\n", s.tools().size(), l.path.c_str());
  std::ios::sync_with_stdio(false);
  mcp::serve_stdio(s, std::cin, std::cout, eo.n_parallel);  // --parallel calls at once, replies as they finish
  engine.drain();
  return 0;
}

}  // namespace helix::cli
