// Structured output through the serving engine and the sampler on a tiny random llama: whatever
// its random weights prefer, every finished reply is valid under the schema, greedy and sampled,
// each choice keeps its own grammar position, and a reply cut by max_tokens ends with "length".
#include <gtest/gtest.h>

#include <filesystem>

#include <unistd.h>

#include "grammar/matcher.h"
#include "io/gguf.h"
#include "model/model.h"
#include "model/tiny.h"
#include "runtime/sampler.h"
#include "server/engine.h"
#include "tokenizer/tokenizer.h"

namespace helix::grammar {
namespace {

struct Tiny {
  std::shared_ptr<model::Model> model;
  std::shared_ptr<tok::Tokenizer> tok;
};

const Tiny& tiny() {
  static Tiny t = [] {
    const auto path = (std::filesystem::temp_directory_path() / cat("helix_grammar_tiny_", ::getpid(), ".gguf")).string();
    model::write_tiny_model(model::TinySpec{}, path);
    auto file = std::make_shared<const gguf::GGUFFile>(gguf::GGUFFile::open(path));
    Tiny r;
    r.tok = std::shared_ptr<tok::Tokenizer>(tok::Tokenizer::from_gguf(*file));
    r.model = std::shared_ptr<model::Model>(model::load_model(file));
    std::filesystem::remove(path);
    return r;
  }();
  return t;
}

constexpr const char* kSchema = R"({"type":"object","properties":{
    "kind":{"enum":["cat","dog"]},"n":{"type":"integer","minimum":0,"maximum":99},
    "tags":{"type":"array","items":{"type":"string","maxLength":4},"maxItems":2},"ok":{"type":"boolean"}},
    "required":["kind","n","ok"]})";

struct Reply {
  std::string text, finish;
};

std::vector<Reply> run(server::GenParams p, int n) {
  server::EngineOptions o;
  o.n_ctx = 512;
  o.n_parallel = 4;
  server::Engine eng(tiny().model, tiny().tok, o);
  auto ch = std::make_shared<server::Channel>();
  for (int i = 0; i < n; ++i) {
    server::GenParams g = p;
    g.sampling.seed += static_cast<uint64_t>(i);
    EXPECT_TRUE(eng.submit(g, i, ch));
  }
  std::vector<Reply> out(static_cast<size_t>(n));
  for (int left = n; left > 0;) {
    server::Event e;
    if (!ch->pop(e, std::chrono::milliseconds(100))) continue;
    out[static_cast<size_t>(e.index)].text += e.text;
    if (e.done) {
      out[static_cast<size_t>(e.index)].finish = e.finish_reason;
      --left;
    }
  }
  return out;
}

bool valid(const Grammar& g, const std::string& text) {
  Matcher m(g);
  State s = m.start();
  return m.advance(s, text) && m.complete(s);
}

TEST(GrammarEngine, EveryFinishedReplyIsValid) {
  const auto g = Grammar::from_json_schema_text(kSchema);
  server::GenParams p;
  p.prompt = tiny().tok->encode("the cat", true, false);
  p.max_tokens = 300;
  p.grammar = g;
  for (const float temp : {0.0f, 1.0f}) {
    p.sampling.temperature = temp;
    const auto replies = run(p, 4);
    for (const auto& r : replies) {
      EXPECT_EQ(r.finish, "stop") << r.text;
      EXPECT_TRUE(valid(*g, r.text)) << r.text;
      EXPECT_TRUE(ojson::accept(r.text)) << r.text;
    }
    if (temp > 0) {  // different seeds, different replies (each choice has its own matcher)
      bool differ = false;
      for (const auto& r : replies) differ = differ || r.text != replies[0].text;
      EXPECT_TRUE(differ);
    }
  }
}

TEST(GrammarEngine, CutByMaxTokensIsLength) {
  server::GenParams p;
  p.prompt = tiny().tok->encode("the cat", true, false);
  p.max_tokens = 3;
  p.grammar = Grammar::from_json_schema_text(kSchema);
  p.sampling.temperature = 0;
  const auto r = run(p, 1)[0];
  EXPECT_EQ(r.finish, "length");
  EXPECT_FALSE(valid(*p.grammar, r.text));
}

TEST(GrammarSampler, MasksBeforeTheChainAndAdvances) {
  // A vocabulary of byte tokens 0..255 plus an end token 256; logits prefer 'z' (not allowed).
  std::vector<std::string> pieces;
  for (int b = 0; b < 256; ++b) pieces.emplace_back(1, static_cast<char>(b));
  pieces.emplace_back("");
  runtime::SamplingParams sp;
  sp.temperature = 0;
  sp.constraint = std::make_shared<Constraint>(Constraint{Grammar::from_json_schema_text(R"({"enum":["no","yes"]})"),
                                                          std::make_shared<Vocabulary>(pieces, std::vector<int32_t>{256})});
  runtime::Sampler s(sp);
  std::vector<float> logits(257, 0.0f);
  logits['z'] = 10;
  logits['"'] = 1;
  logits['n'] = 3;
  std::string text;
  for (int i = 0; i < 10; ++i) {
    const int32_t id = s.sample(logits.data(), 257, {});
    if (id == 256) break;
    text += static_cast<char>(id);
  }
  EXPECT_EQ(text, "\"no\"");  // then the end token: nothing else may follow
  EXPECT_TRUE(s.matcher()->done());
}

}  // namespace
}  // namespace helix::grammar
