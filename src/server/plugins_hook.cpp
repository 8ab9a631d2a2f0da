// The plugins stage of the pipeline (see plugins_hook.h).
#include "server/plugins_hook.h"

#include "core/error.h"
#include "plugins/loop.h"
#include "plugins/manifest.h"
#include "plugins/toolbox.h"

namespace helix::server {

PluginsHook::PluginsHook(std::string plugins_dir, plugins::Context ctx, std::vector<std::string> control_tokens)
    : dir_(std::move(plugins_dir)), ctx_(std::move(ctx)), control_tokens_(std::move(control_tokens)) {}
PluginsHook::~PluginsHook() = default;

std::shared_ptr<plugins::Toolbox> PluginsHook::toolbox(const std::vector<std::string>& names) {
  std::string key;
  for (const auto& n : names) key += n + "\n";
  std::lock_guard<std::mutex> lk(mu_);
  if (auto it = boxes_.find(key); it != boxes_.end()) return it->second;
  std::vector<plugins::Manifest> ms;
  for (const auto& n : names) {
    try {
      ms.push_back(plugins::find_manifest(dir_, n));
    } catch (const std::exception& e) {
      throw ApiError{400, e.what(), "invalid_request_error", "plugins", "plugin_not_found"};
    }
  }
  auto box = std::make_shared<plugins::Toolbox>(std::move(ms), ctx_);
  try {
    box->openai_tools();  // connect and list now, once
  } catch (const std::exception& e) {
    throw ApiError{502, cat("a plugin could not be used: ", e.what()), "server_error", "plugins", "plugin_unavailable"};
  }
  boxes_[key] = box;
  return box;
}

void PluginsHook::before_template(Generation& g) {
  const ojson& req = *g.request;
  auto it = req.find("plugins");
  if (it == req.end() || it->is_null()) return;
  auto bad = [](const std::string& what, const std::string& param = "plugins") {
    return ApiError{400, what, "invalid_request_error", param, "invalid_value"};
  };
  if (!it->is_array()) throw bad("'plugins' must be an array of plugin names (helix plugin list shows them)");
  if (it->empty()) return;
  if (!g.chat) throw bad("'plugins' works with /v1/chat/completions only");
  if (req.contains("tools") && !req["tools"].is_null())
    throw bad("a request gives either 'tools' (the client runs them) or 'plugins' (Helix runs them), not both");
  std::vector<std::string> names;
  for (const auto& n : *it) {
    if (!n.is_string()) throw bad("'plugins' must be an array of plugin names");
    names.push_back(n.get<std::string>());
  }
  if (g.spec.n != 1) throw bad("'plugins' needs n = 1 (the tool loop follows one conversation)", "n");
  plugins::LoopOptions opt;
  opt.max_steps = 4;
  if (auto s = req.find("max_plugin_steps"); s != req.end()) {
    if (!s->is_number_integer() || *s < 1 || *s > 16) throw bad("'max_plugin_steps' must be an integer from 1 to 16", "max_plugin_steps");
    opt.max_steps = s->get<int>();
  }
  opt.tool_choice = req.value("tool_choice", ojson("auto"));
  opt.control_tokens = control_tokens_;
  opt.leave_final = true;
  auto box = toolbox(names);

  // Each step is a short chat request of its own (the same model and sampling), without hooks.
  ojson step = ojson::object();
  for (const char* k : {"model", "temperature", "top_p", "top_k", "min_p", "seed", "stop"})
    if (req.contains(k)) step[k] = req[k];
  // The request's max_tokens is for the answer; a step is a call (or an answer that is discarded).
  step["max_tokens"] = 384;
  const uint64_t seed = g.spec.gen.sampling.seed;
  Pipeline* p = g.pipeline;
  plugins::LoopResult r = plugins::run_tool_loop(g.messages, *box, [&](const ojson& m, const ojson& t, const ojson& c) {
    ojson b = step;
    b["messages"] = m;
    b["tools"] = t;
    b["tool_choice"] = c;
    try {
      return p->reply(b, seed);
    } catch (const ApiError& e) {
      if (e.code != "context_length_exceeded" || e.message.find("Lower 'max_tokens'") == std::string::npos) throw;
      b.erase("max_tokens");  // less room than a step's budget: up to the end of the context
      return p->reply(b, seed);
    }
  }, opt);
  g.messages = r.messages;
  g.extra["plugin_calls"] = plugins::calls_json(r.calls);
  // The answer is generated without tools: the request's tool_choice was for the plugins.
  if (req.contains("tool_choice")) {
    auto body = std::make_shared<ojson>(req);
    body->erase("tool_choice");
    g.request = body;
  }
}

}  // namespace helix::server
