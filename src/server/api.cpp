// HTTP API: routes, authentication, streaming and draining over the Engine (see api.h).
#include "server/api.h"

#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

#include "chat/template.h"
#include "core/error.h"
#include "model/bert.h"
#include "server/adapters.h"
#include "server/api_json.h"
#include "server/chat_messages.h"
#include "server/chatfile_routes.h"
#include "server/embeddings.h"
#include "server/memory.h"
#include "server/feedback.h"
#include "server/knowledge_api.h"
#include "server/http_mcp.h"
#include "server/mcp_tools.h"
#include "server/pipeline.h"

namespace helix::server {

struct Api::Impl {
  Engine& eng;
  ApiOptions opt;
  std::unique_ptr<http::HttpServer> svr_owner;
  http::HttpServer& svr;
  int bound_port = -1;
  std::atomic<bool> draining{false};
  std::atomic<int64_t> inflight{0};
  std::atomic<int64_t> http_requests{0};
  std::atomic<int64_t> embedding_inputs{0}, embedding_tokens{0};
  std::atomic<uint64_t> next_id{1};
  std::mt19937_64 rng{std::random_device{}()};
  std::mutex rng_mu;

  Pipeline pipeline;
  std::unique_ptr<ChatFileRoutes> chatfile_routes;
  std::shared_ptr<mcp::Server> mcp;  // Helix's MCP server at /mcp (http_mcp.h)

  Impl(Engine& e, ApiOptions o)
      : eng(e), opt(std::move(o)), svr_owner(make_server(opt, e)), svr(*svr_owner),
        pipeline(e, {.model_id = opt.model_id, .adapters = opt.adapters, .chat_template = opt.chat_template,
                     .chat_template_forced = opt.chat_template_forced, .timeout_s = opt.timeout_s,
                     .reward_models = opt.reward_models}) {
    if (opt.knowledge) pipeline.add_hook(opt.knowledge->hook());
    for (auto& h : opt.hooks) pipeline.add_hook(h);
    if (opt.feedback) pipeline.add_hook(std::make_shared<FeedbackHook>(opt.feedback));
    mcp = std::make_shared<mcp::Server>("helix", opt.version);
    add_generate_tool(*mcp, pipeline);
    if (opt.embedder) add_embed_tool(*mcp, eng, opt.embedder);
    if (opt.mcp_tools) opt.mcp_tools(*mcp);
  }
  static std::unique_ptr<http::HttpServer> make_server(ApiOptions& o, const Engine& e) {
    o.limits.reader.max_body = o.max_body;
    // Every request that may wait for a slot or stream has a worker: slots plus queue.
    o.limits.workers = std::max({o.http_threads, o.limits.workers, e.options().n_parallel + e.options().max_queue + 4});
    return std::make_unique<http::HttpServer>(o.limits);
  }
  void routes();
  void logging();
  bool cors_allowed(const std::string& origin) const {
    if (origin.empty()) return false;
    for (const auto& o : opt.cors_origins)
      if (o == "*" || o == origin) return true;
    return false;
  }
  httplib::Server::HandlerResponse preflight(const httplib::Request& req, httplib::Response& res);
  void generate(const httplib::Request& req, httplib::Response& res, bool chat);
  void embeddings(const httplib::Request& req, httplib::Response& res);
  void kb_routes();
  void adapter_routes();
  KnowledgeService& kb() const {
    if (!opt.knowledge)
      throw ApiError{404, "this server has no knowledge bases: start helix serve with --kb-dir DIR (or --kb)",
                     "invalid_request_error", "", "knowledge_not_enabled"};
    return *opt.knowledge;
  }
  ojson model_card(const std::string& id) const;
  uint64_t random_seed() {
    std::lock_guard<std::mutex> lk(rng_mu);
    return rng();
  }
};

namespace {

using Clock = std::chrono::steady_clock;

void send_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  res.set_content(dump(error_json(e)), "application/json");
}

void send_json(httplib::Response& res, const ojson& j) { res.set_content(dump(j), "application/json"); }

int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Counts a generation request as in flight for as long as it (or its stream) lives.
struct InflightGuard {
  std::atomic<int64_t>& n;
  explicit InflightGuard(std::atomic<int64_t>& c) : n(c) { ++n; }
  ~InflightGuard() { --n; }
};

// Wraps a handler so that every failure reaches the client as an OpenAI-shaped error.
template <typename F>
httplib::Server::Handler guarded(F f) {
  return [f](const httplib::Request& req, httplib::Response& res) {
    try {
      f(req, res);
    } catch (const ApiError& e) {
      send_error(res, e);
    } catch (const std::exception& e) {
      send_error(res, ApiError{500, e.what(), "server_error", "", ""});
    }
  };
}

}  // namespace

void Api::Impl::generate(const httplib::Request& req, httplib::Response& res, bool chat) {
  if (draining.load()) throw ApiError{503, "the server is shutting down", "server_error", "", "shutting_down"};
  auto guard = std::make_shared<InflightGuard>(inflight);
  ReleaseAfterRequest release(req.body.size());
  auto body = std::make_shared<const ojson>(parse_body(req.body, generation_limits(eng.options().n_ctx, eng.tokenizer())));
  if (!opt.knowledge && body->contains("knowledge"))
    throw ApiError{400, "this server has no knowledge bases: start helix serve with --kb-dir DIR (or --kb)",
                   "invalid_request_error", "knowledge", "knowledge_not_enabled"};
  const std::string id = cat(chat ? "chatcmpl-" : "cmpl-", now_s(), "-", next_id.fetch_add(1));
  std::shared_ptr<Generation> g = pipeline.prepare(std::move(body), chat, random_seed(), id);
  std::shared_ptr<Channel> ch = pipeline.submit(*g);
  if (!ch) {
    res.set_header("Retry-After", "1");
    throw ApiError{429, "the server is busy: too many requests are waiting; retry shortly", "rate_limit_error", "",
                   "server_busy"};
  }
  if (!g->spec.stream) {
    send_json(res, pipeline.complete(*g, *ch));
    return;
  }
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, guard, g, ch](size_t, httplib::DataSink& sink) {
        const StreamSink out{[&sink](const std::string& s) { return sink.write(s.data(), s.size()); },
                             [&sink] { return sink.is_writable(); }};
        // The stream has begun: an error goes in it as an event, then the stream ends.
        auto fail = [&](const ApiError& err) {
          ch->cancel();
          out.write("data: " + dump(error_json(err)) + "\n\ndata: [DONE]\n\n");
        };
        try {
          if (!pipeline.stream(*g, ch, out)) return false;
        } catch (const ApiError& err) {
          fail(err);
        } catch (const std::exception& ex) {
          fail(ApiError{500, ex.what(), "server_error", "", ""});
        }
        sink.done();
        return true;
      },
      [ch](bool success) {
        if (!success) ch->cancel();
      });
}

void Api::Impl::embeddings(const httplib::Request& req, httplib::Response& res) {
  if (!opt.embedder)
    throw ApiError{404, "this server has no embedding model; start helix serve with --embed-model PATH (or --embeddings "
                        "for the installed all-MiniLM-L6-v2)",
                   "invalid_request_error", "model", "model_not_found"};
  if (draining.load()) throw ApiError{503, "the server is shutting down", "server_error", "", "shutting_down"};
  InflightGuard guard(inflight);
  ReleaseAfterRequest release(req.body.size());
  const ojson body = parse_body(req.body);
  const EmbeddingRequest er = parse_embedding_request(body, *opt.embedder);
  if (!er.model.empty() && er.model != opt.embed_model_id)
    throw ApiError{404, cat("The model '", er.model, "' does not exist; embeddings come from '", opt.embed_model_id, "'"),
                   "invalid_request_error", "model", "model_not_found"};
  std::vector<std::vector<float>> vectors;
  // The encoder shares the kernels' thread pool with generation: run it between engine steps.
  eng.run_between_steps([&] { vectors = opt.embedder->embed_tokens(er.inputs); });
  embedding_inputs += static_cast<int64_t>(er.inputs.size());
  for (const auto& ids : er.inputs) embedding_tokens += static_cast<int64_t>(ids.size());
  send_json(res, embedding_response(er, vectors, opt.embed_model_id));
}

// The /v1/kb routes (knowledge_api.h): parsing here, the work in KnowledgeService.
void Api::Impl::kb_routes() {
  svr.Get("/v1/kb", guarded([this](const httplib::Request&, httplib::Response& res) { send_json(res, kb().list()); }));
  svr.Post("/v1/kb", guarded([this](const httplib::Request& req, httplib::Response& res) {
             KnowledgeService& k = kb();
             res.status = 201;
             send_json(res, k.create(req.body));
           }));
  svr.Get("/v1/kb/([^/]+)/docs", guarded([this](const httplib::Request& req, httplib::Response& res) {
            send_json(res, kb().docs(req.matches[1]));
          }));
  svr.Post("/v1/kb/([^/]+)/docs", guarded([this](const httplib::Request& req, httplib::Response& res) {
             KnowledgeService& k = kb();
             InflightGuard guard(inflight);
             std::vector<std::pair<std::string, std::string>> files;
             if (req.is_multipart_form_data()) {
               for (const auto& [field, f] : req.files)
                 if (!f.filename.empty()) files.emplace_back(f.filename, f.content);
             } else {
               files = KnowledgeService::json_documents(req.body);
             }
             send_json(res, k.add(req.matches[1], files));
           }));
  svr.Delete("/v1/kb/([^/]+)/docs/(.+)", guarded([this](const httplib::Request& req, httplib::Response& res) {
               send_json(res, kb().remove(req.matches[1], req.matches[2]));
             }));
  svr.Post("/v1/kb/([^/]+)/query", guarded([this](const httplib::Request& req, httplib::Response& res) {
             send_json(res, kb().query(req.matches[1], req.body));
           }));
}

// GET /v1/adapters lists the named adapters; POST /v1/adapters {"name", "path"} loads a file under a
// name (new or replacing) while serving (adapters.h). Switching is an admin act: with API keys the
// pre-routing check already asked for one; without, only a client on this machine may switch.
void Api::Impl::adapter_routes() {
  svr.Get("/v1/adapters", guarded([this](const httplib::Request&, httplib::Response& res) {
            ojson data = ojson::array();
            if (opt.adapters)
              for (const auto& a : opt.adapters->all()) data.push_back(adapter_json(*a, opt.model_id));
            send_json(res, {{"object", "list"}, {"data", data}});
          }));
  svr.Post("/v1/adapters", guarded([this](const httplib::Request& req, httplib::Response& res) {
             const std::string& ip = req.remote_addr;
             const bool loopback = ip == "::1" || ip.rfind("127.", 0) == 0;
             if (opt.api_keys.empty() && !loopback)
               throw ApiError{403,
                              cat("switching adapters is refused from ", ip.empty() ? "another machine" : ip,
                                  ": this server has no API key, so only clients on its own machine (loopback) may switch; "
                                  "start helix serve with --api-key KEY to allow it with the key"),
                              "permission_error", "", "admin_forbidden"};
             if (!opt.adapters)
               throw ApiError{404, "this server has no adapter registry", "invalid_request_error", "", "not_found"};
             const auto [name, path] = parse_adapter_request(req.body);
             std::shared_ptr<const ServedAdapter> a;
             try {
               a = opt.adapters->load(name, path, "POST /v1/adapters");
             } catch (const Error& e) {
               throw ApiError{400, e.what(), "invalid_request_error", "path", "invalid_adapter"};
             }
             send_json(res, adapter_json(*a, opt.model_id));
           }));
}

ojson Api::Impl::model_card(const std::string& id) const {
  ojson card = {{"id", id}, {"object", "model"}, {"created", opt.model.created}, {"owned_by", "helix"}};
  if (id != opt.model_id) return card;
  const http::ModelFacts& m = opt.model;
  card["context_length"] = eng.options().n_ctx;
  card["quantization"] = m.quantization;
  card["parameters"] = m.n_params;
  card["size_bytes"] = m.file_size;
  // The same facts under llama-server's names, for clients written against it.
  card["meta"] = {{"n_ctx", eng.options().n_ctx}, {"n_ctx_train", m.n_ctx_train}, {"n_vocab", m.n_vocab},
                  {"n_embd", m.n_embd},          {"n_params", m.n_params},       {"size", m.file_size}};
  return card;
}

// CORS preflight: allowed origins get the methods and headers they ask for, without a key.
httplib::Server::HandlerResponse Api::Impl::preflight(const httplib::Request& req, httplib::Response& res) {
  const std::string origin = req.get_header_value("Origin");
  if (origin.empty()) {  // a plain OPTIONS, not from a browser
    res.status = 204;
    res.set_header("Allow", "GET, POST, OPTIONS");
    return httplib::Server::HandlerResponse::Handled;
  }
  if (!cors_allowed(origin)) {
    send_error(res, ApiError{403,
                             cat("cross-origin requests from '", origin, "' are not allowed; start helix serve with --cors ",
                                 origin, " to allow them"),
                             "invalid_request_error", "", "cors_origin_not_allowed"});
    return httplib::Server::HandlerResponse::Handled;
  }
  res.status = 204;
  res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
  const std::string asked = req.get_header_value("Access-Control-Request-Headers");
  res.set_header("Access-Control-Allow-Headers", asked.empty() ? "Authorization, Content-Type" : asked);
  res.set_header("Access-Control-Max-Age", "600");
  return httplib::Server::HandlerResponse::Handled;
}

void Api::Impl::logging() {
  if (opt.log_requests) {
    svr.set_request_logger([fmt = opt.log_format, verbose = opt.verbose](const http::RequestLog& r) {
      if (!verbose && r.status < 400 && (r.path == "/health" || r.path == "/metrics")) return;  // probes
      http::write_log_line(http::format_request_log(r, fmt, verbose, Clock::now()));
    });
  }
  if (opt.verbose) {
    svr.set_connection_logger([fmt = opt.log_format](const std::string& client, const std::string& what) {
      http::write_log_line(http::format_connection_log(client, what, fmt));
    });
  }
}

void Api::Impl::routes() {
  svr.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    ++http_requests;
    if (req.method == "OPTIONS") return preflight(req, res);
    if (draining.load() && req.path != "/health" && req.path != "/metrics") {
      send_error(res, ApiError{503, "the server is shutting down", "server_error", "", "shutting_down"});
      return httplib::Server::HandlerResponse::Handled;
    }
    if (opt.api_keys.empty() || req.path == "/health") return httplib::Server::HandlerResponse::Unhandled;
    std::string auth = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    std::string key = auth.rfind(prefix, 0) == 0 ? auth.substr(prefix.size()) : req.get_header_value("x-api-key");
    if (opt.api_keys.count(key)) return httplib::Server::HandlerResponse::Unhandled;
    send_error(res, ApiError{401, key.empty() ? "No API key provided (Authorization: Bearer KEY)" : "Incorrect API key provided",
                             "invalid_request_error", "", "invalid_api_key"});
    return httplib::Server::HandlerResponse::Handled;
  });
  // Responses to an allowed origin carry CORS headers (errors included, so a page can read them).
  svr.set_post_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    const std::string origin = req.get_header_value("Origin");
    if (!cors_allowed(origin) || res.has_header("Access-Control-Allow-Origin")) return;
    res.set_header("Access-Control-Allow-Origin", origin);
    res.set_header("Vary", "Origin");
  });
  svr.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string msg = res.status == 404 ? cat("no route ", req.method, " ", req.path)
                      : res.status == 413 ? std::string("the request body is too large")
                                          : cat("HTTP error ", res.status);
    send_error(res, ApiError{res.status, msg, "invalid_request_error", "",
                             res.status == 404 ? "not_found" : ""});
    return httplib::Server::HandlerResponse::Handled;
  }));
  svr.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    if (draining.load()) res.status = 503;  // load balancers stop sending here
    send_json(res, {{"status", draining.load() ? "draining" : "ok"}});
  });
  svr.Get("/v1/models", guarded([this](const httplib::Request&, httplib::Response& res) {
            ojson data = ojson::array({model_card(opt.model_id)});
            if (opt.adapters)
              for (const auto& a : opt.adapters->all()) data.push_back(model_card(opt.model_id + ":" + a->name));
            if (opt.embedder) data.push_back(model_card(opt.embed_model_id));
            send_json(res, {{"object", "list"}, {"data", data}});
          }));
  svr.Get("/v1/models/(.+)", guarded([this](const httplib::Request& req, httplib::Response& res) {
            const std::string id = req.matches[1];
            const bool adapter = id.rfind(opt.model_id + ":", 0) == 0 && opt.adapters &&
                                 opt.adapters->find(id.substr(opt.model_id.size() + 1));
            if (id != opt.model_id && !adapter && !(opt.embedder && id == opt.embed_model_id))
              throw ApiError{404, cat("The model '", id, "' does not exist"), "invalid_request_error", "model",
                             "model_not_found"};
            send_json(res, model_card(id));
          }));
  svr.Post("/v1/chat/completions", guarded([this](const httplib::Request& req, httplib::Response& res) { generate(req, res, true); }));
  svr.Post("/v1/completions", guarded([this](const httplib::Request& req, httplib::Response& res) { generate(req, res, false); }));
  svr.Post("/v1/feedback", guarded([this](const httplib::Request& req, httplib::Response& res) {
             send_json(res, post_feedback(opt.feedback.get(), req.body));
           }));
  adapter_routes();
  svr.Post("/v1/embeddings", guarded([this](const httplib::Request& req, httplib::Response& res) { embeddings(req, res); }));
  kb_routes();
  chatfile_routes = std::make_unique<ChatFileRoutes>(
      eng, ChatFileRoutesOptions{opt.files_dir, opt.chatfile_cache, opt.chat_template, opt.model_id, opt.embedder});
  chatfile_routes->add(svr, [](httplib::Server::Handler h) { return guarded(std::move(h)); });
  svr.Post("/tokenize", guarded([this](const httplib::Request& req, httplib::Response& res) {
             const ojson b = parse_body(req.body);
             if (!b.contains("content") || !b["content"].is_string())
               throw ApiError{400, "'content' must be a string", "invalid_request_error", "content", "invalid_value"};
             const bool add = b.contains("add_special") && b["add_special"].is_boolean() ? b["add_special"].get<bool>() : false;
             send_json(res, {{"tokens", eng.tokenizer().encode(b["content"].get<std::string>(), add, true)}});
           }));
  svr.Post("/detokenize", guarded([this](const httplib::Request& req, httplib::Response& res) {
             const ojson b = parse_body(req.body);
             std::vector<int32_t> ids;
             if (!b.contains("tokens") || !b["tokens"].is_array())
               throw ApiError{400, "'tokens' must be an array of token ids", "invalid_request_error", "tokens", "invalid_value"};
             for (const auto& x : b["tokens"]) {
               if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() >= eng.tokenizer().n_vocab())
                 throw ApiError{400, "'tokens' must hold valid token ids", "invalid_request_error", "tokens", "invalid_value"};
               ids.push_back(x.get<int32_t>());
             }
             send_json(res, {{"content", eng.tokenizer().decode(ids)}});
           }));
  add_mcp_routes(svr, mcp, [this](const std::string& origin) { return cors_allowed(origin); });
  svr.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    const EngineMetrics m = eng.metrics();
    std::string out;
    auto metric = [&](const char* name, const char* type, const char* help, int64_t v) {
      out += cat("# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n", name, " ", v, "\n");
    };
    metric("helix_http_requests_total", "counter", "HTTP requests received", http_requests.load());
    metric("helix_requests_total", "counter", "generation sequences accepted", m.requests);
    metric("helix_requests_rejected_total", "counter", "generation requests refused because the queue was full", m.rejected);
    metric("helix_request_errors_total", "counter", "sequences that failed", m.errors);
    metric("helix_prompt_tokens_total", "counter", "prompt tokens of admitted sequences", m.prompt_tokens);
    metric("helix_completion_tokens_total", "counter", "generated tokens", m.completion_tokens);
    metric("helix_prefix_cache_hits_total", "counter", "sequences that reused a cached prompt prefix", m.prefix_hits);
    metric("helix_prefix_cache_tokens_total", "counter", "prompt tokens reused from the prefix cache", m.prefix_tokens);
    metric("helix_embedding_inputs_total", "counter", "inputs embedded by /v1/embeddings", embedding_inputs.load());
    metric("helix_embedding_tokens_total", "counter", "tokens embedded by /v1/embeddings", embedding_tokens.load());
    metric("helix_engine_steps_total", "counter", "batched forward steps", m.steps);
    metric("helix_queue_length", "gauge", "sequences waiting for a slot", m.queued);
    metric("helix_running", "gauge", "sequences being generated", m.running);
    metric("helix_slots", "gauge", "sequences computed together at most", eng.options().n_parallel);
    const http::HttpServer::Stats cs = svr.stats();
    metric("helix_http_connections_open", "gauge", "client connections open", cs.open);
    metric("helix_http_connections_accepted_total", "counter", "client connections accepted", cs.accepted);
    metric("helix_http_connections_refused_total", "counter", "connections refused with 503 at the connection caps", cs.refused);
    metric("helix_http_connections_evicted_total", "counter", "waiting connections closed to make room at the caps", cs.evicted);
    metric("helix_http_request_timeouts_total", "counter", "requests that did not arrive within --request-timeout (408)", cs.timed_out);
    metric("helix_http_requests_malformed_total", "counter", "requests refused before routing (400, 413, 414, 431, 501)", cs.rejected);
    auto histogram = [&](const char* name, const char* help, const Histogram& h) {
      out += cat("# HELP ", name, " ", help, "\n# TYPE ", name, " histogram\n");
      int64_t below = 0;
      for (size_t i = 0; i < h.counts.size(); ++i) {
        below += h.counts[i];
        const std::string le = i < h.bounds.size() ? ojson(h.bounds[i]).dump() : "+Inf";
        out += cat(name, "_bucket{le=\"", le, "\"} ", below, "\n");
      }
      out += cat(name, "_sum ", ojson(h.sum).dump(), "\n", name, "_count ", h.count, "\n");
    };
    histogram("helix_time_to_first_token_seconds", "from a sequence's arrival to its first generated token", m.ttft);
    histogram("helix_time_per_output_token_seconds", "mean time per generated token after the first, per sequence", m.per_token);
    histogram("helix_request_duration_seconds", "from a sequence's arrival to its end", m.request);
    histogram("helix_engine_step_seconds", "one batched forward pass", m.step);
    res.set_content(out, "text/plain; version=0.0.4");
  });
}

Api::Api(Engine& engine, ApiOptions opt) : impl_(std::make_unique<Impl>(engine, std::move(opt))) {
  tune_allocator_for_serving();
  impl_->routes();
  impl_->logging();
}
Api::~Api() = default;

int Api::bind() {
  if (impl_->bound_port < 0) impl_->bound_port = impl_->svr.bind_listener(impl_->opt.host, impl_->opt.port);
  return impl_->bound_port;
}

void Api::run() {
  const int port = bind();
  const std::string& host = impl_->opt.host;
  const bool v6 = host.find(':') != std::string::npos;
  std::fprintf(stderr, "helix serve: listening on http://%s%s%s:%d (model '%s')\n", v6 ? "[" : "", host.c_str(),
               v6 ? "]" : "", port, impl_->opt.model_id.c_str());
  impl_->svr.serve();
}

void Api::drain_and_stop() {
  impl_->draining.store(true);
  impl_->svr.begin_drain();
  while (impl_->inflight.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  impl_->svr.stop_serving();
}

int Api::port() const { return impl_->bound_port >= 0 ? impl_->bound_port : impl_->opt.port; }

}  // namespace helix::server
