// Token masks on the default model's real vocabulary (Gemma 3: 262,144 tokens): the mask at each
// position of a tokenized JSON reply allows the next token, equals brute force at sampled
// positions, and costs little next to a decode step (timings printed). Skipped when the default
// model is not installed.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "grammar/token_matcher.h"
#include "io/gguf.h"
#include "tokenizer/tokenizer.h"

namespace helix::grammar {
namespace {

std::string default_model() {
  if (const char* m = std::getenv("HELIX_MODEL")) return m;
  const char* xdg = std::getenv("XDG_DATA_HOME");
  const char* home = std::getenv("HOME");
  const std::string base = xdg ? xdg : (home ? std::string(home) + "/.local/share" : "");
  return base + "/helix/models/default.gguf";
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Walks the tokens of `reply` through the grammar: each must be allowed; every `brute_every`
// positions the mask is compared with brute force over the whole vocabulary. Prints timings;
// returns the median mask time in ms.
double walk(const tok::Tokenizer& tok, const std::shared_ptr<const Vocabulary>& vocab,
            std::shared_ptr<const Grammar> g, const std::string& reply, const char* label, size_t brute_every) {
  const auto ids = tok.encode(reply, false, false);
  EXPECT_GT(ids.size(), 40u);
  TokenMatcher tm(std::make_shared<Constraint>(Constraint{g, vocab}));
  const Matcher m(*g);
  std::vector<double> times;
  std::vector<float> logits(static_cast<size_t>(vocab->size()), 0.0f);
  double apply_ms = 0;
  for (size_t i = 0; i <= ids.size(); ++i) {
    const State before = tm.state();
    auto t0 = std::chrono::steady_clock::now();
    const auto& mask = tm.mask();
    times.push_back(ms_since(t0));
    t0 = std::chrono::steady_clock::now();
    tm.apply(logits.data(), static_cast<int64_t>(logits.size()));
    apply_ms += ms_since(t0);
    if (brute_every > 0 && (i % brute_every == brute_every / 2 || i == ids.size())) {
      size_t differ = 0, allowed = 0;
      const bool complete = m.complete(before);
      for (int32_t id = 0; id < vocab->size(); ++id) {
        bool ok = false;
        if (vocab->is_eog(id)) {
          ok = complete;
        } else if (!vocab->piece(id).empty()) {
          State t = before;
          ok = m.advance(t, vocab->piece(id));
        }
        const bool got = (mask[static_cast<size_t>(id) >> 6] >> (id & 63)) & 1;
        differ += ok != got;
        allowed += ok;
      }
      EXPECT_EQ(differ, 0u) << label << " at token " << i;
      EXPECT_GT(allowed, 0u);
    }
    if (i == ids.size()) {
      EXPECT_TRUE(tm.complete()) << label;
      EXPECT_TRUE(tm.allowed(tok.eos()));
      break;
    }
    if (!tm.allowed(ids[i])) {
      ADD_FAILURE() << label << ": token " << i << " '" << tok.token_to_piece(ids[i]) << "' refused";
      return 0;
    }
    EXPECT_TRUE(tm.accept(ids[i]));
  }
  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  double sum = 0;
  for (double t : times) sum += t;
  std::printf("[ grammar ] %s, mask over %zu positions: mean %.3f ms, median %.3f ms, p90 %.3f ms, max %.3f ms; "
              "apply to logits %.3f ms mean\n",
              label, times.size(), sum / static_cast<double>(times.size()), sorted[sorted.size() / 2],
              sorted[sorted.size() * 9 / 10], sorted.back(), apply_ms / static_cast<double>(times.size()));
  return sorted[sorted.size() / 2];
}

TEST(GrammarDefaultVocab, MaskCostAndCorrectness) {
  const std::string path = default_model();
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no default model at " << path;
  const auto tok = tok::Tokenizer::from_gguf(gguf::GGUFFile::open(path));
  const auto t0 = std::chrono::steady_clock::now();
  const auto vocab = std::make_shared<Vocabulary>(*tok);
  std::printf("[ grammar ] vocabulary %d tokens, trie %zu nodes, built in %.1f ms (string table included)\n",
              vocab->size(), vocab->trie().nodes.size(), ms_since(t0));

  const auto schema = Grammar::from_json_schema_text(R"({
    "type": "object",
    "properties": {
      "name": {"type": "string", "maxLength": 40},
      "age": {"type": "integer", "minimum": 0, "maximum": 150},
      "email": {"type": "string"},
      "pets": {"type": "array", "maxItems": 4, "items": {"type": "object",
               "properties": {"kind": {"enum": ["cat", "dog", "fish"]}, "name": {"type": "string"}},
               "required": ["kind", "name"]}},
      "verified": {"type": "boolean"},
      "note": {"anyOf": [{"type": "string"}, {"type": "null"}]}
    },
    "required": ["name", "age", "pets"]})");
  const std::string reply =
      "{\n  \"name\": \"Zoë Hernández\",\n  \"age\": 34,\n  \"email\": \"zoe@example.com\",\n  \"pets\": [\n"
      "    {\"kind\": \"cat\", \"name\": \"Miso — the \\\"boss\\\" 🐈\"},\n    {\"kind\": \"dog\", \"name\": \"Rex\"}\n  ],\n"
      "  \"verified\": true,\n  \"note\": null\n}";
  // Generous bounds (shared, slow CI machines): the typical step must stay far below a decode step.
  EXPECT_LT(walk(*tok, vocab, schema, reply, "schema", 9), 20.0);
  EXPECT_LT(walk(*tok, vocab, Grammar::any_object(), reply, "json_object", 0), 20.0);
}

}  // namespace
}  // namespace helix::grammar
