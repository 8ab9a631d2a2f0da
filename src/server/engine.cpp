// Engine: the continuous-batching loop (see engine.h).
#include "server/engine.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "core/thread_pool.h"

namespace helix::server {

void Channel::push(Event e) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    q_.push_back(std::move(e));
  }
  cv_.notify_all();
}

bool Channel::pop(Event& out, std::chrono::milliseconds wait) {
  std::unique_lock<std::mutex> lk(mu_);
  if (!cv_.wait_for(lk, wait, [&] { return !q_.empty(); })) return false;
  out = std::move(q_.front());
  q_.pop_front();
  return true;
}

void Histogram::observe(double seconds) {
  const size_t i = static_cast<size_t>(std::lower_bound(bounds.begin(), bounds.end(), seconds) - bounds.begin());
  ++counts[i];
  sum += seconds;
  ++count;
}

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Holds back generated text that may be the beginning of a stop string; cuts at a match.
class StopFilter {
 public:
  explicit StopFilter(const std::vector<std::string>& stops) : stops_(stops) {}
  // Adds text; returns what is final now. Sets `stopped` when a stop string appeared.
  std::string push(const std::string& piece, bool& stopped) {
    held_ += piece;
    stopped = false;
    size_t cut = std::string::npos;
    for (const auto& s : stops_) {
      if (s.empty()) continue;
      const size_t at = held_.find(s);
      if (at != std::string::npos) cut = std::min(cut, at);
    }
    if (cut != std::string::npos) {
      stopped = true;
      std::string out = held_.substr(0, cut);
      held_.clear();
      return out;
    }
    // Keep the longest tail that is a proper prefix of some stop string.
    size_t keep = 0;
    for (const auto& s : stops_) {
      for (size_t k = std::min(s.size() > 0 ? s.size() - 1 : 0, held_.size()); k > keep; --k) {
        if (held_.compare(held_.size() - k, k, s, 0, k) == 0) {
          keep = k;
          break;
        }
      }
    }
    std::string out = held_.substr(0, held_.size() - keep);
    held_.erase(0, held_.size() - keep);
    return out;
  }
  std::string flush() {
    std::string out;
    out.swap(held_);
    return out;
  }

 private:
  const std::vector<std::string>& stops_;
  std::string held_;
};

}  // namespace

struct Engine::Seq {
  GenParams p;
  int index = 0;
  std::shared_ptr<Channel> ch;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  std::chrono::steady_clock::time_point submitted, first_token;
  int slot = -1;
  std::vector<int32_t> toks;  // prompt + sampled tokens that are (or will be) in the cache
  int64_t stored = 0;         // how many of toks the cache holds
  int64_t produced = 0;
  int64_t cached = 0;
  bool done = false;
  std::unique_ptr<runtime::Sampler> sampler;
  std::unique_ptr<tok::StreamDecoder> dec;
  std::unique_ptr<StopFilter> stop;
};

Engine::Engine(std::shared_ptr<model::Model> model, std::shared_ptr<tok::Tokenizer> tok, EngineOptions opt)
    : model_(std::move(model)), tok_(std::move(tok)), opt_(opt), kv_(model_->hparams(), opt.n_ctx, opt.n_parallel, opt.prefill_chunk + 1, /*keep_window_blocks=*/true),
      sched_(opt.n_parallel) {
  HELIX_CHECK(opt_.prefill_chunk > 0, "prefill chunk must be positive");
  slot_lora_.assign(static_cast<size_t>(opt_.n_parallel), -1);
  thread_ = std::thread([this] { loop(); });
}

Engine::~Engine() { drain(); }

bool Engine::submit(GenParams p, int index, std::shared_ptr<Channel> ch) {
  HELIX_CHECK(!p.prompt.empty(), "the prompt is empty");
  HELIX_CHECK(static_cast<int64_t>(p.prompt.size()) < opt_.n_ctx, "the prompt has ", p.prompt.size(),
              " tokens but the context holds ", opt_.n_ctx, " (leaving room for at least one generated token)");
  // Structured output binds its grammar to the vocabulary here, on the caller's thread: the first
  // such request prepares the vocabulary (~0.4 s for 262k tokens) without stalling the engine.
  if (p.grammar && !p.sampling.constraint)
    p.sampling.constraint = std::make_shared<grammar::Constraint>(grammar::Constraint{p.grammar, grammar_vocab()});
  auto s = std::make_unique<Seq>();
  s->submitted = Clock::now();
  s->index = index;
  s->ch = std::move(ch);
  if (p.timeout_s > 0)
    s->deadline = std::chrono::steady_clock::now() +
                  std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(p.timeout_s));
  s->p = std::move(p);
  {
    std::lock_guard<std::mutex> lk(mu_);
    // Room: the queue limit plus the slots that are free right now.
    const int64_t room = opt_.max_queue + std::max<int64_t>(0, opt_.n_parallel - m_.running);
    if (stop_ || static_cast<int64_t>(waiting_.size()) >= room) {
      ++m_.rejected;
      return false;
    }
    ++m_.requests;
    waiting_.push_back(std::move(s));
  }
  cv_.notify_all();
  return true;
}

void Engine::drain() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Engine::run_between_steps(std::function<void()> fn) {
  std::packaged_task<void()> task(std::move(fn));
  std::future<void> done = task.get_future();
  {
    std::lock_guard<std::mutex> lk(mu_);
    HELIX_CHECK(!stop_, "the server is shutting down");
    tasks_.push_back(std::move(task));
  }
  cv_.notify_all();
  done.get();
}

EngineMetrics Engine::metrics() const {
  std::lock_guard<std::mutex> lk(mu_);
  return m_;
}

bool Engine::idle() const {
  std::lock_guard<std::mutex> lk(mu_);
  return waiting_.empty() && m_.running == 0;
}

void Engine::loop() {
  for (;;) {
    std::deque<std::packaged_task<void()>> tasks;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] { return stop_ || !waiting_.empty() || !active_.empty() || !tasks_.empty(); });
      tasks.swap(tasks_);
      if (stop_ && waiting_.empty() && active_.empty() && tasks.empty()) return;
      while (!waiting_.empty() && sched_.has_free()) {
        auto s = std::move(waiting_.front());
        waiting_.pop_front();
        admit(std::move(s));
      }
      m_.queued = static_cast<int64_t>(waiting_.size());
    }
    for (auto& t : tasks) t();  // exceptions reach the waiting caller through its future
    if (!active_.empty()) {
      try {
        step();
      } catch (const std::exception& ex) {  // not one request's: the per-request guards are inside
        fail_all(ex.what());
      }
    }
    std::lock_guard<std::mutex> lk(mu_);
    m_.running = static_cast<int64_t>(active_.size());
  }
}

// Called with mu_ held.
void Engine::admit(std::unique_ptr<Seq> s) {
  if (s->ch->cancelled()) {
    Event e;
    e.index = s->index;
    e.done = true;
    e.finish_reason = "cancelled";
    s->ch->push(std::move(e));
    return;
  }
  // What may throw for this request comes first, before it holds a slot: a failure answers it alone.
  try {
    s->sampler = std::make_unique<runtime::Sampler>(s->p.sampling);
    s->dec = std::make_unique<tok::StreamDecoder>(*tok_, s->p.render_special);
    s->stop = std::make_unique<StopFilter>(s->p.stop);
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "helix serve: a request failed to start: %s\n", ex.what());
    Event e;
    e.index = s->index;
    e.done = true;
    e.finish_reason = "error";
    e.error = ex.what();
    e.prompt_tokens = static_cast<int64_t>(s->p.prompt.size());
    ++m_.errors;
    s->ch->push(std::move(e));
    return;
  }
  const auto pick = sched_.pick(s->p.prompt);
  int64_t reuse = pick.reuse;
  if (reuse > 0 && !kv_.can_resume_at(pick.slot, reuse)) reuse = 0;
  if (!opt_.prefix_cache) reuse = 0;
  // A cached prefix is reusable only under the adapter that computed it.
  if (slot_lora_[static_cast<size_t>(pick.slot)] != s->p.lora_set) reuse = 0;
  slot_lora_[static_cast<size_t>(pick.slot)] = s->p.lora_set;
  model_->set_seq_lora(pick.slot, s->p.lora_set);
  sched_.acquire(pick.slot);
  kv_.truncate(pick.slot, reuse);
  if (reuse > 0) {
    ++m_.prefix_hits;
    m_.prefix_tokens += reuse;
  }
  m_.prompt_tokens += static_cast<int64_t>(s->p.prompt.size());
  s->slot = pick.slot;
  s->toks = s->p.prompt;
  s->stored = reuse;
  s->cached = reuse;
  active_.push_back(std::move(s));
  m_.running = static_cast<int64_t>(active_.size());
}

std::shared_ptr<const grammar::Vocabulary> Engine::grammar_vocab() {
  std::call_once(gvocab_once_, [&] { gvocab_ = std::make_shared<grammar::Vocabulary>(*tok_); });
  return gvocab_;
}

void Engine::finish(Seq& s, const std::string& reason, const std::string& error) {
  if (s.done) return;
  s.done = true;
  Event e;
  e.index = s.index;
  e.finish_reason = reason;
  e.error = error;
  if (s.stop) {  // reset when a stop string already cut the text
    try {
      bool stopped = false;
      e.text = s.stop->push(s.dec->finish(), stopped);
      if (!stopped) e.text += s.stop->flush();
    } catch (const std::exception& ex) {  // the request still ends, with its error
      e.text.clear();
      e.finish_reason = "error";
      e.error = ex.what();
    }
  }
  e.done = true;
  e.prompt_tokens = static_cast<int64_t>(s.p.prompt.size());
  e.completion_tokens = s.produced;
  e.cached_tokens = s.cached;
  {
    std::lock_guard<std::mutex> lk(mu_);
    m_.completion_tokens += s.produced;
    if (!e.error.empty()) ++m_.errors;
    m_.request.observe(seconds_since(s.submitted));
    if (s.produced > 1)
      m_.per_token.observe(seconds_since(s.first_token) / static_cast<double>(s.produced - 1));
  }
  if (reason == "cancelled" || !e.error.empty()) {
    kv_.truncate(s.slot, 0);
    sched_.release(s.slot, {});
  } else {
    kv_.truncate(s.slot, s.stored);
    sched_.release(s.slot, std::vector<int32_t>(s.toks.begin(), s.toks.begin() + s.stored));
  }
  s.ch->push(std::move(e));
}

void Engine::fail(Seq& s, const std::string& error) {
  std::fprintf(stderr, "helix serve: a request failed while generating: %s\n", error.c_str());
  s.stop.reset();  // its held text is not flushed: the decoder may be what threw
  finish(s, "error", error);
}

void Engine::fail_all(const std::string& error) {
  std::fprintf(stderr, "helix serve: generation step failed: %s\n", error.c_str());
  for (auto& s : active_) {
    s->stop.reset();
    finish(*s, "error", error);
  }
  active_.clear();
}

void Engine::on_logits(Seq& s, const float* row, int32_t id) {
  const int64_t V = model_->hparams().n_vocab;
  if (++s.produced == 1) {
    s.first_token = Clock::now();
    std::lock_guard<std::mutex> lk(mu_);
    m_.ttft.observe(std::chrono::duration<double>(s.first_token - s.submitted).count());
  }
  if (tok_->is_eog(id)) {
    finish(s, "stop");
    return;
  }
  Event e;
  e.index = s.index;
  if (s.p.top_logprobs >= 0) {
    float mx = -INFINITY;
    for (int64_t i = 0; i < V; ++i) mx = std::max(mx, row[i]);
    double sum = 0;
    for (int64_t i = 0; i < V; ++i) sum += std::exp(static_cast<double>(row[i] - mx));
    const float lse = mx + static_cast<float>(std::log(sum));
    TokenLogprob lp;
    lp.id = id;
    lp.logprob = row[id] - lse;
    const int k = std::min<int>(s.p.top_logprobs, static_cast<int>(V));
    if (k > 0) {
      std::vector<int32_t> idx(static_cast<size_t>(V));
      for (int64_t i = 0; i < V; ++i) idx[static_cast<size_t>(i)] = static_cast<int32_t>(i);
      std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int32_t a, int32_t b) {
        return row[a] > row[b] || (row[a] == row[b] && a < b);
      });
      for (int i = 0; i < k; ++i) lp.top.emplace_back(idx[static_cast<size_t>(i)], row[idx[static_cast<size_t>(i)]] - lse);
    }
    e.logprobs.push_back(std::move(lp));
  }
  if (opt_.fault) opt_.fault(s.p, s.produced);
  bool stopped = false;
  e.text = s.stop->push(s.dec->push(id), stopped);
  if (!e.text.empty() || !e.logprobs.empty()) s.ch->push(std::move(e));
  if (stopped) {
    s.stop.reset();  // nothing more to flush
    finish(s, "stop");
    return;
  }
  if (s.p.max_tokens >= 0 && s.produced >= s.p.max_tokens) {
    finish(s, "length");
    return;
  }
  if (static_cast<int64_t>(s.toks.size()) >= opt_.n_ctx) {
    finish(s, "length");
    return;
  }
  s.toks.push_back(id);
}

void Engine::step() {
  const auto now = std::chrono::steady_clock::now();
  for (auto& s : active_) {
    if (s->ch->cancelled()) finish(*s, "cancelled");
    else if (now > s->deadline) finish(*s, "timeout");
  }
  std::erase_if(active_, [](const std::unique_ptr<Seq>& s) { return s->done; });
  if (active_.empty()) return;

  std::vector<int64_t> stored, total;
  for (const auto& s : active_) {
    stored.push_back(s->stored);
    total.push_back(static_cast<int64_t>(s->toks.size()));
  }
  const auto items = Scheduler::plan(stored, total, opt_.prefill_chunk);
  model::Batch b;
  for (const auto& it : items) {
    const Seq& s = *active_[static_cast<size_t>(it.index)];
    for (int64_t pos = it.from; pos < it.to; ++pos)
      b.add(s.toks[static_cast<size_t>(pos)], pos, s.slot, it.logits && pos + 1 == it.to);
  }
  if (b.size() == 0) return;
  const auto t_step = Clock::now();
  try {
    model_->forward(b, kv_, logits_);
  } catch (const std::exception& ex) {  // the batch's: every sequence in it fails
    fail_all(cat("forward failed: ", ex.what()));
    return;
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    ++m_.steps;
    m_.step.observe(seconds_since(t_step));
  }
  // Sampling: each sequence's own sampler on its own row, so the rows are sampled in parallel
  // (a 262k-entry row takes a while to scan); the rest of a token's handling stays in order.
  const size_t V = static_cast<size_t>(model_->hparams().n_vocab);
  std::vector<Seq*> rows;
  for (const auto& it : items) {
    Seq& s = *active_[static_cast<size_t>(it.index)];
    s.stored = it.to;
    if (it.logits) rows.push_back(&s);
  }
  std::vector<int32_t> ids(rows.size());
  std::vector<std::string> errors(rows.size());
  ThreadPool::global().parallel_for(static_cast<int64_t>(rows.size()), 1, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const auto i = static_cast<size_t>(r);
      try {
        ids[i] = rows[i]->sampler->sample(logits_.data() + i * V, static_cast<int64_t>(V), rows[i]->toks);
      } catch (const std::exception& ex) {  // e.g. every token banned by logit_bias
        errors[i] = ex.what();
      }
    }
  });
  for (size_t i = 0; i < rows.size(); ++i) {
    if (!errors[i].empty()) {
      fail(*rows[i], errors[i]);
      continue;
    }
    try {  // decoding, stop strings, logprobs: a throw fails this request alone
      on_logits(*rows[i], logits_.data() + i * V, ids[i]);
    } catch (const std::exception& ex) {
      fail(*rows[i], ex.what());
    }
  }
  std::erase_if(active_, [](const std::unique_ptr<Seq>& s) { return s->done; });
}

}  // namespace helix::server
