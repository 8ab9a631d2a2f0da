// The generation pipeline (see pipeline.h): request -> hooks -> template -> engine -> response.
#include "server/pipeline.h"

#include <cstdio>

#include "core/error.h"
#include "server/adapters.h"
#include "server/chat_messages.h"
#include "server/feedback.h"
#include "server/http_log.h"

namespace helix::server {

namespace {

using Clock = std::chrono::steady_clock;

int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

std::string finish_name(const std::string& r) { return r == "timeout" ? std::string("length") : r; }

}  // namespace

std::vector<int32_t> Pipeline::chat_prompt(Generation& g) {
  try {
    g.plan = tools::plan_tools(g.chat_template, *g.request, g.messages);
  } catch (const tools::RequestError& e) {
    throw ApiError{400, e.what(), "invalid_request_error", e.param(), "invalid_value"};
  }
  return encode_chat_prompt(eng_.tokenizer(), g.chat_template, g.plan.messages, g.plan.template_tools, g.plan.prefill);
}

std::vector<int32_t> encode_chat_prompt(const tok::Tokenizer& tok, const std::string& tmpl, const ojson& messages,
                                        const ojson& tools, const std::string& prefill) {
  const std::string bos = tok.bos() >= 0 ? tok.token_text(tok.bos()) : "";
  const std::string eos = tok.eos() >= 0 ? tok.token_text(tok.eos()) : "";
  auto ids = tok.encode(render_chat_messages(tmpl, messages, tools, bos, eos) + prefill, false, true);
  if (tok.add_bos() && tok.bos() >= 0 && (ids.empty() || ids[0] != tok.bos())) ids.insert(ids.begin(), tok.bos());
  return ids;
}

std::vector<int32_t> Pipeline::completion_prompt(const ojson& body) const {
  auto it = body.find("prompt");
  const auto& tok = eng_.tokenizer();
  auto wrong = [] {
    return ApiError{400, "'prompt' must be a string, an array of token ids, or an array holding one string",
                    "invalid_request_error", "prompt", "invalid_value"};
  };
  if (it == body.end() || it->is_null()) throw wrong();
  if (it->is_string()) return tok.encode(it->get<std::string>(), true, true);
  if (!it->is_array() || it->empty()) throw wrong();
  if ((*it)[0].is_string()) {
    if (it->size() != 1) throw ApiError{400, "only one prompt per request is supported", "invalid_request_error", "prompt", "invalid_value"};
    return tok.encode((*it)[0].get<std::string>(), true, true);
  }
  std::vector<int32_t> ids;
  for (const auto& x : *it) {
    if (!x.is_number_integer()) throw wrong();
    const int64_t id = x.get<int64_t>();
    if (id < 0 || id >= tok.n_vocab()) throw ApiError{400, cat("token id ", id, " is out of range"), "invalid_request_error", "prompt", "invalid_value"};
    ids.push_back(static_cast<int32_t>(id));
  }
  return ids;
}

std::shared_ptr<Generation> Pipeline::prepare(std::shared_ptr<const ojson> body, bool chat, uint64_t seed,
                                              const std::string& id, bool hooks) {
  auto g = std::make_shared<Generation>();
  g->pipeline = this;
  g->hooks = hooks;
  g->request = std::move(body);
  g->chat = chat;
  g->id = id;
  g->created = now_s();
  // Any model name is answered by the one model served (clients such as LangChain send a
  // default name), as llama-server does; the response names the model that answered.
  g->spec = parse_spec(*g->request, chat, false, seed, eng_.tokenizer().n_vocab());
  RequestSpec& spec = g->spec;
  g->best_of = parse_best_of(*g->request, opt_.reward_models, spec.n);
  if (g->best_of.n > 0) spec.n = g->best_of.n;  // the candidates; rerank() keeps the n best
  g->model = opt_.model_id;
  g->chat_template = opt_.chat_template;
  if (const size_t c = spec.model.rfind(':'); c != std::string::npos && opt_.adapters && !opt_.adapters->empty()) {
    // The adapter is resolved once: the request keeps this one to its end, even if it is switched.
    const std::string name = spec.model.substr(c + 1);
    g->adapter = opt_.adapters->find(name);
    if (!g->adapter) {
      std::string names;
      for (const auto& a : opt_.adapters->all()) names += (names.empty() ? "" : ", ") + opt_.model_id + ":" + a->name;
      throw ApiError{404, cat("The model '", spec.model, "' does not exist: no adapter '", name, "' is served; use one of ",
                              names, " or '", opt_.model_id, "'"),
                     "invalid_request_error", "model", "model_not_found"};
    }
    spec.gen.lora_set = g->adapter->set;
    spec.gen.hold = g->adapter;
    if (!opt_.chat_template_forced && !g->adapter->chat_template.empty()) g->chat_template = g->adapter->chat_template;
    g->model = opt_.model_id + ":" + name;
  }
  if (chat) g->messages = chat_messages(*g->request);
  if (hooks)
    for (const auto& h : hooks_) h->before_template(*g);
  spec.gen.prompt = chat ? chat_prompt(*g) : completion_prompt(*g->request);
  // Tool calls: forced from the first token, or lazily after their trigger (unless response_format
  // already constrains the reply).
  const tools::CallSampling cs = tools::call_sampling(g->plan, spec.gen.grammar != nullptr);
  if (cs.grammar) {
    spec.gen.grammar = cs.grammar;
    spec.gen.sampling.grammar_trigger = cs.trigger;
    spec.gen.sampling.grammar_trigger_at_start = cs.trigger_at_start;
  }
  spec.gen.render_special = cs.render_special;
  const int64_t n_ctx = eng_.options().n_ctx;
  g->n_prompt = static_cast<int64_t>(spec.gen.prompt.size());
  http::RequestLog* log = http::current_request_log();
  if (log) log->prompt_tokens = g->n_prompt, log->completion_tokens = 0;
  g->start = log ? log->start : Clock::now();
  const char* param = chat ? "messages" : "prompt";
  if (g->n_prompt == 0) throw ApiError{400, "the prompt is empty", "invalid_request_error", param, "invalid_value"};
  if (g->n_prompt >= n_ctx)
    throw ApiError{400,
                   cat("This model's maximum context length is ", n_ctx, " tokens, but the prompt has ", g->n_prompt,
                       " tokens (at least one must be left for the completion)"),
                   "invalid_request_error", param, "context_length_exceeded"};
  check_completion_budget(spec, n_ctx, g->n_prompt, chat);
  spec.gen.timeout_s = opt_.timeout_s;
  g->texts.assign(static_cast<size_t>(spec.n), "");
  return g;
}

std::shared_ptr<Channel> Pipeline::submit(const Generation& g) {
  auto ch = std::make_shared<Channel>();
  for (int i = 0; i < g.spec.n; ++i) {
    GenParams p = g.spec.gen;
    p.sampling.seed += static_cast<uint64_t>(i);
    if (!eng_.submit(std::move(p), i, ch)) {
      ch->cancel();
      return nullptr;
    }
  }
  return ch;
}

void Pipeline::finish(Generation& g) {
  if (!g.hooks) return;
  for (const auto& h : hooks_) h->after_generation(g);
}

ojson Pipeline::reply(const ojson& body, uint64_t seed) {
  auto g = prepare(std::make_shared<const ojson>(body), true, seed, "step", /*hooks=*/false);
  std::shared_ptr<Channel> ch = submit(*g);
  if (!ch) throw ApiError{429, "the server is busy: too many requests are waiting; retry shortly", "rate_limit_error", "", "server_busy"};
  return complete(*g, *ch)["choices"][0]["message"];
}

ojson Pipeline::complete(Generation& g, Channel& generated) {
  std::shared_ptr<Channel> best = g.best_of.n > 0 ? rerank(g, generated, {}) : nullptr;
  Channel& ch = best ? *best : generated;
  const RequestSpec& spec = g.spec;
  const tok::Tokenizer& tok = eng_.tokenizer();
  std::vector<std::vector<TokenLogprob>> lps(static_cast<size_t>(spec.n));
  std::vector<std::string> reasons(static_cast<size_t>(spec.n));
  int64_t completion = 0, cached = 0;
  int left = spec.n;
  std::string error;
  http::RequestLog* log = http::current_request_log();
  while (left > 0) {
    Event e;
    if (!ch.pop(e, std::chrono::milliseconds(200))) continue;
    const auto k = static_cast<size_t>(e.index);
    if (log && log->ttft_ms < 0 && (!e.text.empty() || e.completion_tokens > 0 || e.done)) log->ttft_ms = ms_since(g.start);
    g.texts[k] += e.text;
    for (auto& lp : e.logprobs) lps[k].push_back(std::move(lp));
    if (e.done) {
      --left;
      reasons[k] = finish_name(e.finish_reason);
      completion += e.completion_tokens;
      cached = std::max(cached, e.cached_tokens);
      if (!e.error.empty()) error = e.error;
    }
  }
  if (log) log->completion_tokens = completion;
  if (!error.empty()) throw ApiError{500, cat("generation failed: ", error), "server_error", "", ""};
  finish(g);
  ojson choices = ojson::array();
  for (size_t k = 0; k < g.texts.size(); ++k) {
    ojson c = {{"index", k}};
    if (g.chat) {
      c["message"] = tools::assistant_message(g.plan, g.texts[k], reasons[k]);
      c["logprobs"] = spec.logprobs ? chat_logprobs(tok, lps[k]) : ojson(nullptr);
    } else {
      c["text"] = g.texts[k];
      c["logprobs"] = spec.logprobs ? completion_logprobs(tok, lps[k], 0) : ojson(nullptr);
    }
    c["finish_reason"] = reasons[k];
    if (k < g.choice_fields.size()) c.update(g.choice_fields[k]);
    choices.push_back(c);
  }
  ojson out = {{"id", g.id},
               {"object", g.chat ? "chat.completion" : "text_completion"},
               {"created", g.created},
               {"model", g.model},
               {"choices", choices},
               {"usage", usage_json(g.n_prompt, completion, cached)}};
  for (auto it = g.extra.begin(); it != g.extra.end(); ++it) out[it.key()] = it.value();
  return out;
}

bool Pipeline::stream(Generation& g, const std::shared_ptr<Channel>& generated, const StreamSink& sink) {
  // best_of: the winner streams once every candidate is generated and scored.
  const std::shared_ptr<Channel> ch = g.best_of.n > 0 ? rerank(g, *generated, sink.writable) : generated;
  if (!ch) return false;
  const tok::Tokenizer& tok = eng_.tokenizer();
  const int n = g.spec.n;
  const bool chat = g.chat, want_lp = g.spec.logprobs;
  auto send = [&](const ojson& j) { return sink.write("data: " + dump(j) + "\n\n"); };
  auto chunk = [&](ojson choice) {
    return ojson{{"id", g.id},
                 {"object", chat ? "chat.completion.chunk" : "text_completion"},
                 {"created", g.created},
                 {"model", g.model},
                 {"choices", ojson::array({std::move(choice)})}};
  };
  auto gone = [&] {
    ch->cancel();
    return false;
  };
  if (chat) {
    for (int i = 0; i < n; ++i)
      if (!send(chunk({{"index", i}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"logprobs", nullptr},
                       {"finish_reason", nullptr}})))
        return gone();
  }
  std::vector<size_t> offsets(static_cast<size_t>(n), 0);
  std::vector<tools::CallStream> calls(static_cast<size_t>(n), tools::CallStream(g.plan));  // replies that may call tools
  auto send_deltas = [&](int index, const std::vector<ojson>& deltas) {
    for (const ojson& d : deltas)
      if (!send(chunk({{"index", index}, {"delta", d}, {"logprobs", nullptr}, {"finish_reason", nullptr}}))) return false;
    return true;
  };
  int left = n;
  int64_t completion = 0, cached = 0;
  while (left > 0) {
    Event e;
    if (!ch->pop(e, std::chrono::milliseconds(200))) {
      if (!sink.writable()) return gone();
      continue;
    }
    const auto k = static_cast<size_t>(e.index);
    // The stream is written on the request's worker thread: its log record is this thread's.
    http::RequestLog* rl = http::current_request_log();
    if (rl && rl->ttft_ms < 0) rl->ttft_ms = ms_since(g.start);
    g.texts[k] += e.text;
    if (g.plan.parse && !e.text.empty() && !send_deltas(e.index, calls[k].update(g.texts[k]))) return gone();
    if (!g.plan.parse && (!e.text.empty() || !e.logprobs.empty())) {
      ojson c = {{"index", e.index}};
      if (chat) {
        c["delta"] = {{"content", e.text}};
        c["logprobs"] = want_lp ? chat_logprobs(tok, e.logprobs) : ojson(nullptr);
      } else {
        c["text"] = e.text;
        c["logprobs"] = want_lp ? completion_logprobs(tok, e.logprobs, offsets[k]) : ojson(nullptr);
      }
      c["finish_reason"] = nullptr;
      offsets[k] += e.text.size();
      if (!send(chunk(c))) return gone();
    }
    if (!e.done) continue;
    --left;
    completion += e.completion_tokens;
    if (rl) rl->completion_tokens = completion;
    cached = std::max(cached, e.cached_tokens);
    if (!e.error.empty()) send(error_json(ApiError{500, cat("generation failed: ", e.error), "server_error", "", ""}));
    std::string finish_reason = finish_name(e.finish_reason);
    if (g.plan.parse && !send_deltas(e.index, calls[k].finish(tools::assistant_message(g.plan, g.texts[k], finish_reason))))
      return gone();
    ojson c = {{"index", e.index}};
    if (chat) c["delta"] = ojson::object();
    else c["text"] = "";
    c["logprobs"] = nullptr;
    c["finish_reason"] = finish_reason;
    if (k < g.choice_fields.size()) c.update(g.choice_fields[k]);
    ojson last = chunk(c);
    if (left == 0) {
      try {
        finish(g);
      } catch (const ApiError& err) {  // the stream has begun: the error goes in it
        send(error_json(err));
      } catch (const std::exception& err) {
        send(error_json(ApiError{500, err.what(), "server_error", "", ""}));
      }
      for (auto it = g.extra.begin(); it != g.extra.end(); ++it) last[it.key()] = it.value();
    }
    if (!send(last)) return gone();
  }
  if (g.spec.include_usage) {
    ojson u = chunk(nullptr);
    u["choices"] = ojson::array();
    u["usage"] = usage_json(g.n_prompt, completion, cached);
    send(u);
  }
  sink.write("data: [DONE]\n\n");
  return true;
}

void FeedbackHook::after_generation(Generation& g) {
  if (!store_) return;
  const ojson& body = *g.request;
  try {
    const std::string requested = body.contains("model") && body["model"].is_string() ? body["model"].get<std::string>() : "";
    store_->record_response({.id = g.id, .kind = g.chat ? "chat" : "completion", .model = g.model,
                             .requested_model = requested,
                             .adapters = g.adapter ? cat(g.adapter->path, " (sha256 ", g.adapter->sha256, ")") : "",
                             .request = body, .choices = g.texts,
                             .created = g.created});
  } catch (const std::exception& e) {
    std::fprintf(stderr, "helix serve: warning: feedback store: answer %s not recorded: %s\n", g.id.c_str(), e.what());
  }
}

}  // namespace helix::server
