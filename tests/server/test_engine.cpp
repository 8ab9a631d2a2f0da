// Tests of the serving engine on a tiny random llama: the scheduler's plan and slot choice,
// batched greedy results equal to results computed alone, the prefix cache, stop strings,
// cancellation, queue limits and long prompts chunked next to running streams.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <thread>

#include <unistd.h>

#include "core/error.h"
#include "io/gguf.h"
#include "model/model.h"
#include "model/tiny.h"
#include "server/engine.h"
#include "server/scheduler.h"
#include "tokenizer/tokenizer.h"

namespace helix::server {
namespace {

struct Loaded {
  std::shared_ptr<model::Model> model;
  std::shared_ptr<tok::Tokenizer> tok;
};

const Loaded& tiny() {
  static Loaded l = [] {
    const auto path = (std::filesystem::temp_directory_path() / cat("helix_server_tiny_", ::getpid(), ".gguf")).string();
    model::TinySpec spec;
    model::write_tiny_model(spec, path);
    auto file = std::make_shared<const gguf::GGUFFile>(gguf::GGUFFile::open(path));
    Loaded r;
    r.tok = std::shared_ptr<tok::Tokenizer>(tok::Tokenizer::from_gguf(*file));
    r.model = std::shared_ptr<model::Model>(model::load_model(file));
    return r;
  }();
  return l;
}

EngineOptions opts(int64_t n_ctx, int n_parallel) {
  EngineOptions o;
  o.n_ctx = n_ctx;
  o.n_parallel = n_parallel;
  return o;
}

struct Result {
  std::string text;
  std::vector<int32_t> ids;
  std::string finish;
  int64_t cached = 0, completion = 0;
};

GenParams greedy(const std::string& prompt, int64_t max_tokens) {
  GenParams p;
  p.prompt = tiny().tok->encode(prompt, true, false);
  p.max_tokens = max_tokens;
  p.sampling.temperature = 0;
  p.top_logprobs = 0;  // to see the token ids
  for (int32_t id = 0; id < 3; ++id) p.sampling.logit_bias[id] = -INFINITY;  // no early end
  return p;
}

// Collects the events of one channel holding `n` sequences.
std::vector<Result> collect(Channel& ch, int n) {
  std::vector<Result> out(static_cast<size_t>(n));
  int left = n;
  while (left > 0) {
    Event e;
    if (!ch.pop(e, std::chrono::milliseconds(100))) continue;
    auto& r = out[static_cast<size_t>(e.index)];
    r.text += e.text;
    for (const auto& lp : e.logprobs) r.ids.push_back(lp.id);
    if (e.done) {
      --left;
      r.finish = e.finish_reason;
      r.cached = e.cached_tokens;
      r.completion = e.completion_tokens;
    }
  }
  return out;
}

Result run_alone(const GenParams& p) {
  Engine eng(tiny().model, tiny().tok, opts(512, 1));
  auto ch = std::make_shared<Channel>();
  EXPECT_TRUE(eng.submit(p, 0, ch));
  return collect(*ch, 1)[0];
}

TEST(Scheduler, PlanRunsDecodesAndSharesPrefillBudget) {
  // seq 0 decodes, seq 1 has 300 prompt tokens left, seq 2 has 50, seq 3 decodes.
  auto items = Scheduler::plan({10, 0, 0, 7}, {11, 300, 50, 8}, 256);
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].index, 0);
  EXPECT_TRUE(items[0].logits);
  EXPECT_EQ(items[1].index, 1);
  EXPECT_EQ(items[1].to - items[1].from, 256);
  EXPECT_FALSE(items[1].logits);
  EXPECT_EQ(items[2].index, 3);  // seq 2 waits for the budget
  items = Scheduler::plan({256, 0}, {300, 50}, 256);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_TRUE(items[0].logits);
  EXPECT_EQ(items[1].to, 50);
}

TEST(Scheduler, PicksLongestCachedPrefix) {
  Scheduler s(3);
  s.acquire(0);
  s.release(0, {1, 2, 3, 4});
  s.acquire(1);
  s.release(1, {1, 2, 9});
  auto p = s.pick({1, 2, 3, 4, 5});
  EXPECT_EQ(p.slot, 0);
  EXPECT_EQ(p.reuse, 4);
  p = s.pick({1, 2, 3, 4});  // the last token is always recomputed
  EXPECT_EQ(p.slot, 0);
  EXPECT_EQ(p.reuse, 3);
  s.acquire(0);
  p = s.pick({1, 2, 3, 4, 5});
  EXPECT_EQ(p.slot, 1);
  EXPECT_EQ(p.reuse, 2);
  s.acquire(1);
  s.acquire(2);
  EXPECT_EQ(s.pick({1}).slot, -1);
}

TEST(Engine, BatchedGreedyEqualsAlone) {
  const std::vector<std::string> prompts = {"hello world", "the cat sat on", "a", "one two three four five six"};
  std::vector<Result> alone;
  for (const auto& p : prompts) alone.push_back(run_alone(greedy(p, 12)));
  Engine eng(tiny().model, tiny().tok, opts(512, 4));
  std::vector<std::shared_ptr<Channel>> chs;
  for (const auto& p : prompts) {
    chs.push_back(std::make_shared<Channel>());
    ASSERT_TRUE(eng.submit(greedy(p, 12), 0, chs.back()));
  }
  for (size_t i = 0; i < prompts.size(); ++i) {
    const Result r = collect(*chs[i], 1)[0];
    EXPECT_EQ(r.ids, alone[i].ids) << prompts[i];
    EXPECT_EQ(r.text, alone[i].text) << prompts[i];
    EXPECT_EQ(r.finish, "length");
    EXPECT_EQ(r.completion, 12);
  }
  EXPECT_GT(eng.metrics().steps, 0);
}

TEST(Engine, LongPromptIsChunkedBesideRunningStream) {
  std::string long_prompt;
  for (int i = 0; i < 40; ++i) long_prompt += "word ";  // ~200 byte tokens: several chunks
  const Result a1 = run_alone(greedy("short one", 20));
  const Result a2 = run_alone(greedy(long_prompt, 5));
  EngineOptions eo = opts(1024, 2);
  eo.prefill_chunk = 64;
  Engine eng(tiny().model, tiny().tok, eo);
  auto c1 = std::make_shared<Channel>(), c2 = std::make_shared<Channel>();
  ASSERT_TRUE(eng.submit(greedy("short one", 20), 0, c1));
  ASSERT_TRUE(eng.submit(greedy(long_prompt, 5), 0, c2));
  EXPECT_EQ(collect(*c1, 1)[0].ids, a1.ids);
  EXPECT_EQ(collect(*c2, 1)[0].ids, a2.ids);
}

TEST(Engine, NChoicesAndPrefixCache) {
  Engine eng(tiny().model, tiny().tok, opts(512, 2));
  auto ch = std::make_shared<Channel>();
  const GenParams p = greedy("the same prompt again and again", 8);
  ASSERT_TRUE(eng.submit(p, 0, ch));
  const Result first = collect(*ch, 1)[0];
  EXPECT_EQ(first.cached, 0);
  ASSERT_TRUE(eng.submit(p, 0, ch));
  const Result second = collect(*ch, 1)[0];
  EXPECT_EQ(second.ids, first.ids);
  EXPECT_EQ(second.cached, static_cast<int64_t>(p.prompt.size()) - 1);
  const auto m = eng.metrics();
  EXPECT_EQ(m.prefix_hits, 1);
  EXPECT_EQ(m.prefix_tokens, second.cached);
  // Two choices of one request come back tagged with their index.
  ASSERT_TRUE(eng.submit(p, 0, ch));
  ASSERT_TRUE(eng.submit(p, 1, ch));
  const auto both = collect(*ch, 2);
  EXPECT_EQ(both[0].ids, first.ids);
  EXPECT_EQ(both[1].ids, first.ids);
}

TEST(Engine, StopStringCutsText) {
  const Result full = run_alone(greedy("stop test", 16));
  ASSERT_GE(full.text.size(), 4u);
  GenParams p = greedy("stop test", 16);
  const std::string stop = full.text.substr(full.text.size() / 2, 2);
  p.stop = {stop};
  const Result r = run_alone(p);
  EXPECT_EQ(r.finish, "stop");
  EXPECT_EQ(r.text, full.text.substr(0, full.text.find(stop)));
}

TEST(Engine, SeededSamplingIsReproducible) {
  GenParams p = greedy("random", 10);
  p.sampling.temperature = 1.0f;
  p.sampling.seed = 42;
  EXPECT_EQ(run_alone(p).ids, run_alone(p).ids);
}

TEST(Engine, CancelFreesTheSlotAndQueueLimitRefuses) {
  EngineOptions eo = opts(512, 1);
  eo.max_queue = 1;
  Engine eng(tiny().model, tiny().tok, eo);
  auto c1 = std::make_shared<Channel>();
  ASSERT_TRUE(eng.submit(greedy("endless", 400), 0, c1));
  // Wait for it to start running so the queue is empty again.
  for (int i = 0; i < 200 && eng.metrics().running == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto c2 = std::make_shared<Channel>();
  ASSERT_TRUE(eng.submit(greedy("waiting", 4), 0, c2));
  auto c3 = std::make_shared<Channel>();
  EXPECT_FALSE(eng.submit(greedy("refused", 4), 0, c3));
  EXPECT_EQ(eng.metrics().rejected, 1);
  c1->cancel();
  const Result r1 = collect(*c1, 1)[0];
  EXPECT_EQ(r1.finish, "cancelled");
  EXPECT_LT(r1.completion, 400);
  EXPECT_EQ(collect(*c2, 1)[0].finish, "length");
}

TEST(Engine, RefusesPromptLongerThanContext) {
  Engine eng(tiny().model, tiny().tok, opts(16, 1));
  auto ch = std::make_shared<Channel>();
  EXPECT_THROW(eng.submit(greedy("this prompt is certainly longer than sixteen tokens of bytes", 4), 0, ch), Error);
}

TEST(Engine, StopsAtFullContext) {
  Engine eng(tiny().model, tiny().tok, opts(24, 1));
  auto ch = std::make_shared<Channel>();
  GenParams p = greedy("abc", -1);
  ASSERT_TRUE(eng.submit(p, 0, ch));
  const Result r = collect(*ch, 1)[0];
  EXPECT_EQ(r.finish, "length");
  EXPECT_EQ(static_cast<int64_t>(p.prompt.size()) + r.completion, 25);
}

// A request that throws inside generation (the fault hook stands for a failing detokenizer or
// parser) fails alone with its message; the streams running beside it finish as if it had not been
// there, and the engine takes the next request. Without the engine's per-request guards the throw
// escapes the engine thread and ends the process.
TEST(Engine, ThrowingRequestFailsAloneAndOthersFinish) {
  const GenParams a = greedy("first stream", 12), b = greedy("second stream", 12);
  const Result alone_a = run_alone(a), alone_b = run_alone(b);
  EngineOptions eo = opts(512, 3);
  const std::vector<int32_t> bad_prompt = greedy("faulty request", 1).prompt;
  eo.fault = [bad_prompt](const GenParams& p, int64_t produced) {
    if (p.prompt == bad_prompt && produced == 3) throw Error("detokenizer exploded");
  };
  Engine eng(tiny().model, tiny().tok, eo);
  auto ca = std::make_shared<Channel>(), cb = std::make_shared<Channel>(), cbad = std::make_shared<Channel>();
  ASSERT_TRUE(eng.submit(a, 0, ca));
  ASSERT_TRUE(eng.submit(greedy("faulty request", 12), 0, cbad));
  ASSERT_TRUE(eng.submit(b, 0, cb));
  Event e;
  std::string error, finish;
  while (cbad->pop(e, std::chrono::milliseconds(5000)))
    if (e.done) {
      error = e.error, finish = e.finish_reason;
      break;
    }
  EXPECT_EQ(finish, "error");
  EXPECT_EQ(error, "detokenizer exploded");
  const Result ra = collect(*ca, 1)[0], rb = collect(*cb, 1)[0];
  EXPECT_EQ(ra.ids, alone_a.ids);
  EXPECT_EQ(rb.ids, alone_b.ids);
  EXPECT_EQ(ra.finish, "length");
  EXPECT_EQ(eng.metrics().errors, 1);
  auto cnext = std::make_shared<Channel>();  // the failed request's slot is free again
  ASSERT_TRUE(eng.submit(greedy("faulty request", 2), 0, cnext));
  EXPECT_EQ(collect(*cnext, 1)[0].finish, "length");
}

// A request whose sampler cannot be built fails at admission, alone.
TEST(Engine, RequestThatCannotStartFailsAlone) {
  Engine eng(tiny().model, tiny().tok, opts(512, 2));
  GenParams bad = greedy("grammar", 4);
  bad.sampling.constraint = std::make_shared<grammar::Constraint>();  // no grammar: the matcher refuses it
  auto cbad = std::make_shared<Channel>(), cok = std::make_shared<Channel>();
  ASSERT_TRUE(eng.submit(bad, 0, cbad));
  ASSERT_TRUE(eng.submit(greedy("fine", 4), 0, cok));
  const Result rbad = collect(*cbad, 1)[0];
  EXPECT_EQ(rbad.finish, "error");
  EXPECT_EQ(collect(*cok, 1)[0].finish, "length");
}

}  // namespace
}  // namespace helix::server
