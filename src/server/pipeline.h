// The generation pipeline: everything a completion request goes through between its HTTP route
// (which only reads and bounds the body) and the Engine:
//
//   request -> spec (sampling, adapter) -> hooks' before_template (retrieval, plugins: edit the
//   messages) -> chat template + tool plan -> prompt checks -> engine -> hooks' after_generation
//   (citations, the feedback record) -> response (tool calls read out of the text)
//
//   Pipeline p(engine, {.model_id = "m", .chat_template = tmpl});
//   p.add_hook(std::make_shared<MyRetrieval>());
//   auto g = p.prepare(std::move(body), /*chat=*/true, seed, id);  // throws ApiError (4xx)
//   auto ch = p.submit(*g);                   // null: the queue is full (answer 429)
//   ojson reply = p.complete(*g, *ch);        // or: p.stream(*g, ch, sink) for SSE
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "server/api_json.h"
#include "server/engine.h"
#include "server/rerank.h"
#include "tools/tools.h"

namespace helix::server {

class FeedbackStore;
class Pipeline;
class ServedAdapters;
struct ServedAdapter;

// One completion request on its way through the pipeline; hooks read it and may edit the parts
// their stage names.
struct Generation {
  std::shared_ptr<const ojson> request;  // the body as the client sent it
  bool chat = true;
  RequestSpec spec;
  std::string model;                     // the name the response gives: MODEL_ID or MODEL_ID:ADAPTER
  std::shared_ptr<const ServedAdapter> adapter;  // the named adapter that answers (null: none)
  std::string chat_template;             // the template it renders with: the adapter's, else the server's
  ojson messages;                        // chat: the checked conversation; before_template may edit it
  tools::Plan plan;                      // chat: the tool offers, planned after before_template
  int64_t n_prompt = 0;
  std::string id;
  int64_t created = 0;
  std::chrono::steady_clock::time_point start;
  std::vector<std::string> texts;        // each choice's generated text, once finished
  ojson extra = ojson::object();         // top-level fields hooks add to the response (streamed: to
                                         // the chunk with the last finish_reason), e.g. citations
  BestOf best_of;                        // best_of with a reward model (rerank.h); n 0: off
  std::vector<ojson> choice_fields;      // fields added to each choice (best_of: its "scores")
  std::map<const void*, std::shared_ptr<void>> hook_state;  // what a hook keeps per request (key: the hook)
  Pipeline* pipeline = nullptr;          // the pipeline it goes through (hooks may ask it for reply())
  bool hooks = true;                     // false: a step inside a hook (Pipeline::reply), no hooks run
};

// A stage around the engine (retrieval, tools, plugins, the feedback record). Hooks run in the
// order they were added; either method may throw ApiError to refuse the request.
class PipelineHook {
 public:
  virtual ~PipelineHook() = default;
  // Before the chat template (and for /v1/completions before tokenizing): may edit g.messages.
  virtual void before_template(Generation& g) { (void)g; }
  // Once every choice has finished, before the client sees the response's end: may add fields to
  // g.extra. Not streamed, g.texts may also be edited (the reply is built from them after this).
  virtual void after_generation(Generation& g) { (void)g; }
};

struct PipelineOptions {
  std::string model_id;
  // Named adapters ("MODEL_ID:NAME"; adapters.h), switchable while serving; null: none.
  std::shared_ptr<ServedAdapters> adapters;
  std::string chat_template;             // Jinja source
  // true: chat_template was given (--chat-template) and overrides the template a named adapter
  // was trained with; false: a request that picks an adapter renders with the adapter's own.
  bool chat_template_forced = false;
  double timeout_s = 600;                // per request
  ReplyScorers reward_models;            // NAME -> reward model for best_of (helix serve --rm)
};

// Where a streamed response goes: write one piece of text (false: the client has gone), and
// whether the connection can still be written to.
struct StreamSink {
  std::function<bool(const std::string&)> write;
  std::function<bool()> writable;
};

class Pipeline {
 public:
  Pipeline(Engine& eng, PipelineOptions opt) : eng_(eng), opt_(std::move(opt)) {}
  void add_hook(std::shared_ptr<PipelineHook> hook) { hooks_.push_back(std::move(hook)); }

  // Reads the request's spec, resolves the adapter, runs before_template, renders and tokenizes
  // the prompt and checks it against the context. Throws ApiError for a bad request.
  std::shared_ptr<Generation> prepare(std::shared_ptr<const ojson> body, bool chat, uint64_t seed,
                                      const std::string& id, bool hooks = true);
  // Queues the request's n choices; null when the engine's queue is full (nothing is queued).
  std::shared_ptr<Channel> submit(const Generation& g);
  // Not streamed: waits for every choice and returns the response object.
  ojson complete(Generation& g, Channel& ch);
  // Streamed: writes the SSE stream (role, deltas, finish, usage, [DONE]) to `sink` until every
  // choice has finished. False when the client went away (the channel is cancelled).
  bool stream(Generation& g, const std::shared_ptr<Channel>& ch, const StreamSink& sink);

  // One chat reply for `body` without running the hooks: a step inside a hook (the plugins' tool
  // loop). Returns choice 0's message (with tool_calls when the body offered tools); throws
  // ApiError (429 when the engine's queue is full).
  ojson reply(const ojson& body, uint64_t seed);

  const PipelineOptions& options() const { return opt_; }

 private:
  std::vector<int32_t> chat_prompt(Generation& g);
  // best_of: waits for the candidates, scores and ranks them (rerank.cpp) and returns a channel
  // holding the n best as finished choices; null when `alive` says the client went away.
  std::shared_ptr<Channel> rerank(Generation& g, Channel& ch, const std::function<bool()>& alive);
  std::vector<int32_t> completion_prompt(const ojson& body) const;
  void finish(Generation& g);  // runs after_generation

  Engine& eng_;
  PipelineOptions opt_;
  std::vector<std::shared_ptr<PipelineHook>> hooks_;
};

// The prompt of a checked conversation: rendered through the chat template (with `tools` and the
// generation prompt), `prefill` appended, tokenized; the beginning-of-text token added where the
// template did not write it. Throws ApiError 400 when no form of the conversation renders.
std::vector<int32_t> encode_chat_prompt(const tok::Tokenizer& tok, const std::string& tmpl, const ojson& messages,
                                        const ojson& tools = nullptr, const std::string& prefill = "");

// The flywheel's hook: records every completed answer with its request before the client sees
// its id (a failed write is logged on stderr; the answer is still sent).
class FeedbackHook : public PipelineHook {
 public:
  explicit FeedbackHook(std::shared_ptr<FeedbackStore> store) : store_(std::move(store)) {}
  void after_generation(Generation& g) override;

 private:
  std::shared_ptr<FeedbackStore> store_;
};

}  // namespace helix::server
