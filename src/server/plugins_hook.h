// The plugins stage of the pipeline: a chat request with the extension field
//   "plugins": ["weather", "calculator"]   (optional "max_plugin_steps": 1-16, default 4)
// has Helix run the tool loop itself (plugins/loop.h) before the answer: the model is offered the
// plugins' tools (the request's tool_choice applies to the first step), Helix runs each call and
// appends the results as tool messages, until the model answers without calling or the steps run
// out. The answer is then generated as usual (streamed if asked) from the conversation with the
// tool turns, and the response carries "plugin_calls": [{id, plugin, tool, arguments, ok,
// result, seconds}]. A step that answers without calling is generated again as the answer (one
// extra short generation, so that the answer goes through the normal path and can stream).
//
// Plugins are the manifests installed for the server's user (helix plugin add); each set of
// plugins is connected once and kept (an MCP stdio server stays running).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "plugins/plugin.h"
#include "server/pipeline.h"

namespace helix::plugins {
class Toolbox;
}

namespace helix::server {

class PluginsHook : public PipelineHook {
 public:
  // control_tokens: the model's control-token texts (plugins::control_token_texts).
  PluginsHook(std::string plugins_dir, plugins::Context ctx, std::vector<std::string> control_tokens);
  ~PluginsHook() override;
  void before_template(Generation& g) override;

 private:
  std::shared_ptr<plugins::Toolbox> toolbox(const std::vector<std::string>& names);

  std::string dir_;
  plugins::Context ctx_;
  std::vector<std::string> control_tokens_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<plugins::Toolbox>> boxes_;  // by the names joined
};

}  // namespace helix::server
