// Token masks (trie walk + string tables) against brute force over every token of a synthetic
// vocabulary: byte tokens, JSON fragments, words, partial UTF-8 pieces, control tokens (no bytes)
// and end-of-generation tokens. Random walks pick allowed tokens at random, so the comparison
// covers positions inside keys, strings with length limits, numbers, literals and alternatives.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "grammar/token_matcher.h"
#include "grammar_test_util.h"

namespace helix::grammar {
namespace {

std::shared_ptr<const Vocabulary> synthetic_vocab(uint64_t seed) {
  std::vector<std::string> pieces;
  pieces.push_back("");  // 0: control token (no bytes)
  pieces.push_back("");  // 1: end of generation
  pieces.push_back("");  // 2: another end of generation
  for (int b = 0; b < 256; ++b) pieces.emplace_back(1, static_cast<char>(b));
  const std::vector<std::string> frags = {
      "{", "}", "{\"", "\":", "\": ", "\",", "\", \"", "\"}", "\"]", "\"},", "}]", "]}", "}}", "},{", ", ", ",\n",
      "\n  ", "\n    ", "\n", "  ", " ", "\t", "\"name", "\"name\"", "name", "\"age\": ", "age", "\"kind\":\"",
      "cat", "\"cat\"", "dog", "true", "false", "null", "tru", "nu", "0", "1", "12", "123", "-", "-1", ".", ".5",
      "e", "E+", "e-3", "1e5", "\\", "\\n", "\\\"", "\\u", "\\u00", "e9", "00e9", "\xC3", "\xA9", "\xC3\xA9", "\xE2\x82",
      "\x82\xAC", "\xAC\"", "\xF0\x9F", "\x98\x80", "\xF0\x9F\x98\x80", " the", " a", "hello", "Hello world", "x\"",
      "ab\":", "ab", "a", "b", "\"a", "\"ab", "\"b\": {\"c\": ", "[", "[\"", "[{\"", "[1,", "[]", "{}", "\"\"",
      "\"x", "v", "\"v\":", "kids", "\"kids\":[", "\"}\n", "\"\n}", "7", ",\"", "\"tags\": [\"", "ok", "\": true"};
  for (const auto& f : frags) pieces.push_back(f);
  // Random combinations of fragments.
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 300; ++i) {
    std::string p;
    const int n = std::uniform_int_distribution<int>(2, 3)(rng);
    for (int k = 0; k < n; ++k) p += frags[std::uniform_int_distribution<size_t>(0, frags.size() - 1)(rng)];
    pieces.push_back(p);
  }
  pieces.push_back("cat");  // a duplicate piece: both ids must be allowed together
  return std::make_shared<Vocabulary>(pieces, std::vector<int32_t>{1, 2});
}

// What the mask must be, token by token.
std::vector<bool> brute_force(const Matcher& m, const State& s, const Vocabulary& v, bool done) {
  std::vector<bool> ok(static_cast<size_t>(v.size()), false);
  bool any = false;
  if (!done) {
    for (int32_t id = 0; id < v.size(); ++id) {
      if (v.piece(id).empty()) continue;
      State t = s;
      ok[static_cast<size_t>(id)] = m.advance(t, v.piece(id));
      any = any || ok[static_cast<size_t>(id)];
    }
  }
  if (done || m.complete(s) || !any)
    for (const int32_t id : v.eog()) ok[static_cast<size_t>(id)] = true;
  return ok;
}

const char* kSchemas[] = {
    R"({"type":"object","properties":{"name":{"type":"string","maxLength":5},"age":{"type":"integer","minimum":0,"maximum":99},
        "tags":{"type":"array","items":{"type":"string","minLength":1},"maxItems":2},"ok":{"type":"boolean"}},"required":["name","age"]})",
    R"({"type":"array","items":{"type":"object","properties":{"kind":{"enum":["cat","dog"]},"n":{"type":"number"}},
        "required":["kind"]},"minItems":1,"maxItems":3})",
    R"({"anyOf":[{"type":"string","minLength":2,"maxLength":4},{"type":"string","maxLength":1},{"type":"integer"},{"type":"null"},
                 {"type":"object","properties":{"a":{"type":"integer"},"ab":{"type":"string"}},"required":["ab"]}]})",
    R"({"type":"object","properties":{"v":{"type":"integer"},"kids":{"type":"array","items":{"$ref":"#"}}},"required":["v"]})",
    R"({"type":"object"})",
    R"({"type":"string"})",
};

TEST(GrammarTokenMask, EqualsBruteForceOnRandomWalks) {
  const auto vocab = synthetic_vocab(7);
  for (size_t k = 0; k < std::size(kSchemas); ++k) {
    const auto c = std::make_shared<Constraint>(Constraint{testing::compile(kSchemas[k]), vocab});
    const Matcher m(*c->grammar);
    std::mt19937_64 rng(100 + k);
    int steps = 0, completed = 0;
    for (int walk = 0; walk < 12; ++walk) {
      TokenMatcher tm(c);
      std::string text;
      for (int step = 0; step < 40; ++step) {
        const auto want = brute_force(m, tm.state(), *vocab, tm.done());
        std::vector<int32_t> allowed;
        for (int32_t id = 0; id < vocab->size(); ++id) {
          ASSERT_EQ(tm.allowed(id), want[static_cast<size_t>(id)])
              << "schema " << k << " after '" << text << "': token " << id << " '" << vocab->piece(id) << "'";
          if (want[static_cast<size_t>(id)]) allowed.push_back(id);
        }
        ++steps;
        if (tm.done()) break;
        ASSERT_FALSE(allowed.empty());
        // Prefer text tokens so walks get somewhere; end when the value is complete sometimes.
        const int32_t id = allowed[std::uniform_int_distribution<size_t>(0, allowed.size() - 1)(rng)];
        ASSERT_TRUE(tm.accept(id));
        if (vocab->is_eog(id)) {
          EXPECT_TRUE(m.complete(tm.state()));
          ++completed;
        } else {
          text += vocab->piece(id);
        }
      }
    }
    EXPECT_GT(steps, 60) << "schema " << k;
    (void)completed;
  }
}

TEST(GrammarTokenMask, ApplySetsDisallowedLogitsToMinusInfinity) {
  const auto vocab = synthetic_vocab(3);
  const auto c = std::make_shared<Constraint>(Constraint{testing::compile(R"({"type":"boolean"})"), vocab});
  TokenMatcher tm(c);
  std::vector<float> logits(static_cast<size_t>(vocab->size()) + 5, 1.0f);  // the model's rows may be longer
  tm.apply(logits.data(), static_cast<int64_t>(logits.size()));
  for (size_t id = 0; id < logits.size(); ++id) {
    const bool ok = static_cast<int64_t>(id) < vocab->size() && tm.allowed(static_cast<int32_t>(id));
    EXPECT_EQ(std::isinf(logits[id]), !ok) << id;
  }
  // "t", "tru", "true" and "f", "false"; nothing after a complete value but the end.
  EXPECT_TRUE(tm.allowed(3 + 't'));
  EXPECT_FALSE(tm.allowed(1));
  const auto find = [&](const std::string& p) {
    for (int32_t id = 0; id < vocab->size(); ++id)
      if (vocab->piece(id) == p) return id;
    return -1;
  };
  ASSERT_TRUE(tm.accept(find("true")));
  EXPECT_TRUE(tm.complete());
  EXPECT_TRUE(tm.allowed(1));
  EXPECT_FALSE(tm.allowed(find(" ")));  // nothing after the value
  EXPECT_FALSE(tm.allowed(find("1")));
  EXPECT_FALSE(tm.accept(find("1")));
  ASSERT_TRUE(tm.accept(1));
  EXPECT_TRUE(tm.done());
}

TEST(GrammarTokenMask, TrieHoldsEveryPiece) {
  std::vector<std::pair<std::string, int32_t>> entries = {{"ab", 0}, {"a", 1}, {"abc", 2}, {"b", 3}, {"ab", 4}, {"", 5}};
  const Trie t = Trie::build(entries);
  // Walk the whole trie and rebuild each value's string.
  std::vector<std::string> got(6);
  std::function<void(uint32_t, std::string)> walk = [&](uint32_t node, std::string prefix) {
    for (uint32_t k = t.nodes[node].first; k < t.nodes[node].first + t.nodes[node].count; ++k)
      got[static_cast<size_t>(t.values[k])] = prefix;
    for (uint32_t ch = node + 1; ch < t.nodes[node].end; ch = t.nodes[ch].end)
      walk(ch, prefix + static_cast<char>(t.nodes[ch].byte));
  };
  walk(0, "");
  EXPECT_EQ(got, (std::vector<std::string>{"ab", "a", "abc", "b", "ab", ""}));
  EXPECT_EQ(t.nodes.size(), 5u);  // root, a, ab, abc, b
  EXPECT_EQ(t.max_depth, 3u);
}

}  // namespace
}  // namespace helix::grammar
