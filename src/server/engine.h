// Engine: the serving loop. One thread owns the model and a KV cache with one slot per
// concurrent sequence; requests join and leave the running batch at token boundaries
// (continuous batching). Each step is ONE forward call holding a decode token for every running
// sequence plus a chunk of prefill from newer requests (Scheduler::plan). Every request has its
// own seeded sampler, stop strings, token limit, optional logprobs, deadline and cancel flag;
// results flow back through a Channel as events. Idle slots keep their tokens, so a prompt
// that shares a prefix with an earlier one only computes the rest (the prefix cache).
//
//   Engine eng(model, tok, {.n_ctx = 2048, .n_parallel = 4});
//   auto ch = std::make_shared<Channel>();
//   eng.submit(params, /*index=*/0, ch);
//   Event e; while (ch->pop(e, 100ms) ...) { ... if (e.done) break; }
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "model/model.h"
#include "runtime/sampler.h"
#include "server/scheduler.h"
#include "tokenizer/tokenizer.h"

namespace helix::server {

struct GenParams {
  std::vector<int32_t> prompt;
  int64_t max_tokens = -1;  // -1: until end of generation or a full context
  std::vector<std::string> stop;
  runtime::SamplingParams sampling;
  int top_logprobs = -1;  // -1: no logprobs; else how many alternatives per token (0..20)
  double timeout_s = 0;   // 0: none
  // Structured output: the reply must match this grammar (null: free text). The engine binds it
  // to the model's vocabulary and gives each sequence its own matcher.
  std::shared_ptr<const grammar::Grammar> grammar;
  int lora_set = -1;  // LoRA adapter set (model::Model::add_lora_set) for this sequence; -1: the default
  bool render_special = false;  // control tokens come out as their text (tool-call markers of some families)
  // Kept alive until the sequence finishes: the served adapter whose lora_set it uses (adapters.h),
  // so that switching an adapter never pulls it from under a running request.
  std::shared_ptr<const void> hold;
};

struct TokenLogprob {
  int32_t id = 0;
  float logprob = 0;
  std::vector<std::pair<int32_t, float>> top;
};

struct Event {
  int index = 0;  // the choice this event belongs to
  std::string text;
  std::vector<TokenLogprob> logprobs;
  bool done = false;
  std::string finish_reason;  // when done: stop, length, cancelled, timeout, error
  std::string error;
  int64_t prompt_tokens = 0, completion_tokens = 0, cached_tokens = 0;
};

// A thread-safe queue of events from the engine to one HTTP request (all its choices).
class Channel {
 public:
  void push(Event e);
  // Waits up to `wait` for an event; false on timeout.
  bool pop(Event& out, std::chrono::milliseconds wait);
  void cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> q_;
  std::atomic<bool> cancelled_{false};
};

struct EngineOptions {
  int64_t n_ctx = 4096;       // per sequence
  int n_parallel = 4;         // sequences computed together (KV-cache slots)
  int max_queue = 64;         // requests waiting for a slot before submit() refuses
  int64_t prefill_chunk = 256;  // prompt tokens per step, shared by waiting requests
  bool prefix_cache = true;     // false: every prompt is computed from its first token (for measuring)
  // Fault injection for tests: called on the engine thread for every generated token (after its
  // sampling, before its decoding); what it throws fails that request alone, as any per-request
  // failure inside generation does. Unset in production (helix serve sets it only from the
  // HELIX_SERVE_FAULT environment variable, for the crash tests).
  std::function<void(const GenParams&, int64_t produced)> fault;
};

// A latency distribution in Prometheus' histogram shape: counts per bucket (upper bounds in
// seconds, the last bucket unbounded), their sum and count.
struct Histogram {
  std::vector<double> bounds;
  std::vector<int64_t> counts;  // bounds.size() + 1 entries, not cumulative
  double sum = 0;
  int64_t count = 0;

  explicit Histogram(std::vector<double> b = {}) : bounds(std::move(b)), counts(bounds.size() + 1, 0) {}
  void observe(double seconds);
};

struct EngineMetrics {
  int64_t requests = 0, rejected = 0, prompt_tokens = 0, completion_tokens = 0;
  int64_t prefix_hits = 0, prefix_tokens = 0, steps = 0, errors = 0;
  int64_t queued = 0, running = 0;
  Histogram ttft{{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}};        // submit -> first token
  Histogram per_token{{0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3, 0.5, 1}};  // after the first
  Histogram request{{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}};             // submit -> finished
  Histogram step{{0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.25, 0.5, 1, 2.5}};  // one forward pass
};

class Engine {
 public:
  Engine(std::shared_ptr<model::Model> model, std::shared_ptr<tok::Tokenizer> tok, EngineOptions opt);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Queues a request whose events go to `ch` tagged with `index`. False (and nothing queued)
  // when the queue is full or the engine is stopping. Throws for a prompt that is empty or does
  // not fit the context.
  bool submit(GenParams p, int index, std::shared_ptr<Channel> ch);
  // Finishes everything queued and running, then stops the loop thread.
  void drain();
  EngineMetrics metrics() const;
  // Runs fn on the engine thread between two forward steps and waits for it, rethrowing what
  // it throws: work that needs the model's thread pool (embeddings) takes turns with
  // generation instead of racing it. Throws when the engine is stopping.
  void run_between_steps(std::function<void()> fn);
  bool idle() const;
  const EngineOptions& options() const { return opt_; }
  const tok::Tokenizer& tokenizer() const { return *tok_; }

 private:
  struct Seq;
  void loop();
  void admit(std::unique_ptr<Seq> s);
  void step();
  void on_logits(Seq& s, const float* row, int32_t id);  // id: the token sampled from row
  void finish(Seq& s, const std::string& reason, const std::string& error = "");
  // A request that threw while it generated: it ends alone with finish_reason "error" and the
  // message; its slot is freed and every other request goes on.
  void fail(Seq& s, const std::string& error);
  // What a throw escaped the per-request guards (a bug): every running request fails, the loop goes on.
  void fail_all(const std::string& error);
  std::shared_ptr<const grammar::Vocabulary> grammar_vocab();

  std::shared_ptr<model::Model> model_;
  std::shared_ptr<tok::Tokenizer> tok_;
  EngineOptions opt_;
  model::KVCache kv_;
  Scheduler sched_;
  std::vector<int> slot_lora_;  // the adapter set each slot's cached tokens were computed under
  std::vector<std::unique_ptr<Seq>> active_;  // engine thread only
  std::vector<float> logits_;
  std::once_flag gvocab_once_;
  std::shared_ptr<const grammar::Vocabulary> gvocab_;  // built on the first structured request

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Seq>> waiting_;
  std::deque<std::packaged_task<void()>> tasks_;
  bool stop_ = false;
  EngineMetrics m_;
  std::thread thread_;
};

}  // namespace helix::server
