#include "server/chatfile_backend.h"

#include <chrono>

#include "core/error.h"
#include "server/chat_messages.h"

namespace helix::server {

EngineBackend::EngineBackend(Engine& engine, std::string chat_template, std::string model_id, int lora_set)
    : engine_(engine), tmpl_(std::move(chat_template)), model_id_(std::move(model_id)), lora_set_(lora_set) {
  sampling.temperature = 0;
  sampling.repeat_penalty = 1.1f;
}

std::vector<int32_t> EngineBackend::encode(const chatfile::ojson& messages) const {
  const auto& tok = engine_.tokenizer();
  const std::string bos = tok.bos() >= 0 ? tok.token_text(tok.bos()) : "";
  const std::string eos = tok.eos() >= 0 ? tok.token_text(tok.eos()) : "";
  const std::string text = render_chat_messages(tmpl_, messages, nullptr, bos, eos);
  const bool has_bos = !bos.empty() && text.rfind(bos, 0) == 0;
  return tok.encode(text, !has_bos, true);
}

size_t EngineBackend::count_tokens(std::string_view text) const {
  return engine_.tokenizer().encode(std::string(text), false, false).size();
}

size_t EngineBackend::prompt_tokens(const chatfile::ojson& messages) const { return encode(messages).size(); }

void EngineBackend::run(const std::vector<chatfile::Request>& reqs,
                        const std::function<void(size_t, const chatfile::Reply&)>& on_done) {
  using Clock = std::chrono::steady_clock;
  auto ch = std::make_shared<Channel>();
  const size_t window = static_cast<size_t>(engine_.options().n_parallel) * 2;  // in flight at once
  std::vector<chatfile::Reply> replies(reqs.size());
  std::vector<Clock::time_point> started(reqs.size());
  std::vector<bool> got_text(reqs.size(), false);
  size_t next = 0, running = 0, finished = 0;
  auto submit_more = [&] {
    while (next < reqs.size() && running < window) {
      const auto& r = reqs[next];
      GenParams p;
      p.prompt = encode(r.messages);
      const int64_t room = engine_.options().n_ctx - static_cast<int64_t>(p.prompt.size());
      HELIX_CHECK(room >= 16, "a ChatFile prompt of ", p.prompt.size(), " tokens does not fit the context of ",
                  engine_.options().n_ctx, " tokens: use a larger -c or a smaller --chunk-tokens");
      p.max_tokens = std::min<int64_t>(r.max_tokens, room);
      p.sampling = sampling;
      if (r.grammar) p.sampling.repeat_penalty = 1.0f;  // JSON repeats its punctuation by design
      p.grammar = r.grammar;
      p.stop = r.stop;
      p.lora_set = lora_set_;
      started[next] = Clock::now();
      HELIX_CHECK(engine_.submit(std::move(p), static_cast<int>(next), ch),
                  "the engine is busy or stopping (its queue is full); try again");
      ++next;
      ++running;
    }
  };
  try {
    submit_more();
    while (finished < reqs.size()) {
      Event e;
      if (!ch->pop(e, std::chrono::milliseconds(200))) continue;
      const auto i = static_cast<size_t>(e.index);
      auto& rep = replies[i];
      if (!e.text.empty()) {
        if (!got_text[i]) rep.first_token_s = std::chrono::duration<double>(Clock::now() - started[i]).count();
        got_text[i] = true;
        rep.text += e.text;
        if (reqs[i].on_text) reqs[i].on_text(e.text);
      }
      if (!e.done) continue;
      rep.finish_reason = e.finish_reason;
      rep.error = e.error;
      rep.prompt_tokens = e.prompt_tokens;
      rep.completion_tokens = e.completion_tokens;
      rep.cached_tokens = e.cached_tokens;
      rep.seconds = std::chrono::duration<double>(Clock::now() - started[i]).count();
      if (!got_text[i]) rep.first_token_s = rep.seconds;
      ++finished;
      --running;
      on_done(i, rep);
      submit_more();
    }
  } catch (...) {
    ch->cancel();  // the engine drops the rest at its next step
    throw;
  }
}

}  // namespace helix::server
