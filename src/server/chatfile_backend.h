// ChatFile's model backend on the serving engine: each request is rendered with the model's chat
// template and submitted as its own sequence, so the engine runs several of them per forward
// step (as many as it has slots) and reuses cached prompt prefixes. Used by `helix chatfile`
// (its own in-process engine) and by the server's /v1/chatfile route (the server's engine).
#pragma once

#include <memory>
#include <string>

#include "chatfile/backend.h"
#include "server/engine.h"

namespace helix::server {

class EngineBackend : public chatfile::Backend {
 public:
  // model_id names the model (and adapter) for ChatFile's cache keys.
  EngineBackend(Engine& engine, std::string chat_template, std::string model_id, int lora_set = -1);

  void run(const std::vector<chatfile::Request>& reqs,
           const std::function<void(size_t, const chatfile::Reply&)>& on_done) override;
  size_t count_tokens(std::string_view text) const override;
  size_t prompt_tokens(const chatfile::ojson& messages) const override;
  std::string model_id() const override { return model_id_; }
  int64_t context() const override { return engine_.options().n_ctx; }

  // Sampling of every request (greedy by default: the same document gives the same result,
  // which the on-disk cache of partial results relies on).
  runtime::SamplingParams sampling;

 private:
  std::vector<int32_t> encode(const chatfile::ojson& messages) const;

  Engine& engine_;
  std::string tmpl_, model_id_;
  int lora_set_;
};

}  // namespace helix::server
