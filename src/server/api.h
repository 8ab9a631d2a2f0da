// HTTP API: OpenAI-compatible routes over the generation pipeline (pipeline.h) and the Engine: cpp-httplib's routing behind the
// event-driven front end of http_server.h (connection caps, request deadlines).
//   GET  /health                 {"status":"ok"} (no key needed); 503 {"status":"draining"} when stopping
//   GET  /v1/models              the loaded model(s): context length, quantization, parameters, size
//   POST /v1/chat/completions    chat through the model's own template; stream (SSE) or not
//   POST /v1/completions         raw prompt completion; stream (SSE) or not
//   POST /v1/embeddings          sentence embeddings (when an embedding model is loaded)
//   POST /tokenize, /detokenize  {"content"} <-> {"tokens"}
//   /v1/kb/...                   knowledge bases (with --kb-dir; see knowledge_api.h)
//   POST /v1/feedback            rate/correct an answer (with --feedback-db; see feedback.h)
//   GET/POST /v1/adapters        list / switch the named adapters without a restart (adapters.h); POST
//                                needs the API key, or a loopback client when the server has none
//   /v1/files, POST /v1/chatfile  uploads and ChatFile's summaries, minutes, cited answers (chatfile_routes.h)
//   GET  /metrics                Prometheus text
//   POST /mcp                    Helix as an MCP server, streamable HTTP (http_mcp.h)
//   OPTIONS *                    CORS preflight for the --cors origins (no key needed)
// Errors have OpenAI's shape {"error":{"message","type","param","code"}}. A generation request
// naming any model is answered by the one model served (as llama-server does).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "mcp/mcp.h"
#include "server/engine.h"
#include "server/http_log.h"
#include "server/http_model_card.h"
#include "server/http_server.h"

namespace helix::model {
class BertEncoder;
}

namespace helix::server {

class FeedbackStore;
class PipelineHook;
class ReplyScorer;
class ServedAdapters;
class KnowledgeService;

struct ApiOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string model_id;          // the name /v1/models lists and requests must use
  // LoRA adapters served over the model (helix serve --lora NAME=FILE; adapters.h); a request picks
  // one with the model name "MODEL_ID:NAME". GET/POST /v1/adapters list and switch them.
  std::shared_ptr<ServedAdapters> adapters;
  std::string chat_template;     // Jinja source
  bool chat_template_forced = false;  // --chat-template: also for named adapters (pipeline.h)
  std::set<std::string> api_keys;  // empty: no authentication
  size_t max_body = 8u << 20;    // bytes
  double timeout_s = 600;        // per request
  int http_threads = 32;         // at least; more when --parallel plus --queue needs them
  http::ServerLimits limits;     // connection caps and deadlines (its body limit is max_body)
  std::vector<std::string> cors_origins;  // "*" allows any origin
  http::LogFormat log_format = http::LogFormat::Text;
  bool verbose = false;          // also log /health and /metrics, connection events, user agents
  bool log_requests = true;
  http::ModelFacts model;        // what /v1/models reports about the served model
  // Optional embedding model for /v1/embeddings, listed by /v1/models as embed_model_id.
  std::shared_ptr<model::BertEncoder> embedder;
  std::string embed_model_id;
  // The flywheel: when set, every completed answer is recorded and POST /v1/feedback stores ratings.
  std::shared_ptr<FeedbackStore> feedback;
  // Stages of the generation pipeline (pipeline.h), in order: retrieval, tools, plugins. The
  // feedback record (with `feedback`) runs after them.
  std::vector<std::shared_ptr<PipelineHook>> hooks;
  // Knowledge bases (helix serve --kb-dir): the /v1/kb routes and chat's "knowledge" field
  // (knowledge_api.h); its retrieval hook runs before `hooks`.
  std::shared_ptr<KnowledgeService> knowledge;
  // ChatFile (chatfile_routes.h): where uploads (/v1/files) and ChatFile's partial results are kept
  // ("": the defaults under $XDG_DATA_HOME and $XDG_CACHE_HOME).
  std::string files_dir, chatfile_cache;
  // MCP at /mcp (http_mcp.h): generate and embed are Helix's own; this adds more (knowledge-base
  // search, from the CLI). `version` is what the MCP server reports.
  std::function<void(mcp::Server&)> mcp_tools;
  std::string version;
  // Reward models for best_of on the completion routes (rerank.h; helix serve --rm NAME=FILE).
  std::map<std::string, std::shared_ptr<ReplyScorer>> reward_models;
};

class Api {
 public:
  Api(Engine& engine, ApiOptions opt);
  ~Api();
  // Binds (port 0: a free one); throws a clear helix::Error when the address is in use.
  // Returns the port bound.
  int bind();
  // Serves until drain_and_stop() (binds first if bind() was not called).
  void run();
  // Answers new requests with 503 at once, waits for in-flight generation, then stops.
  void drain_and_stop();
  int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace helix::server
