// HTTP API: OpenAI-compatible routes over the Engine, served with cpp-httplib.
//   GET  /health                 {"status":"ok"} (no key needed)
//   GET  /v1/models              the one loaded model
//   POST /v1/chat/completions    chat through the model's own template; stream (SSE) or not
//   POST /v1/completions         raw prompt completion; stream (SSE) or not
//   POST /v1/embeddings          sentence embeddings (when an embedding model is loaded)
//   POST /tokenize, /detokenize  {"content"} <-> {"tokens"}
//   GET  /metrics                Prometheus text
// Errors have OpenAI's shape {"error":{"message","type","param","code"}}.
#pragma once

#include <atomic>
#include <memory>
#include <set>
#include <string>

#include "server/engine.h"

namespace helix::model {
class BertEncoder;
}

namespace helix::server {

struct ApiOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string model_id;          // the name /v1/models lists and requests must use
  std::string chat_template;     // Jinja source
  std::set<std::string> api_keys;  // empty: no authentication
  size_t max_body = 8u << 20;    // bytes
  double timeout_s = 600;        // per request
  int http_threads = 32;
  // Optional embedding model for /v1/embeddings, listed by /v1/models as embed_model_id.
  std::shared_ptr<model::BertEncoder> embedder;
  std::string embed_model_id;
};

class Api {
 public:
  Api(Engine& engine, ApiOptions opt);
  ~Api();
  // Binds and serves until stop(); throws when the address cannot be bound.
  void run();
  // Refuses new generation requests (503), waits for in-flight ones, then stops the listener.
  void drain_and_stop();
  int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace helix::server
