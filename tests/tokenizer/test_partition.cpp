// The special-token partition against a direct transcription of llama.cpp's procedure (a list
// of fragments; for each special token, longest first, split every raw fragment at each
// left-to-right occurrence, with lstrip/rstrip), on random vocabularies and texts built from a
// tiny alphabet so that occurrences overlap a lot. Long texts exercise the fallback path.
#include <gtest/gtest.h>

#include <algorithm>
#include <list>
#include <random>

#include "tokenizer/vocab.h"

namespace {

using namespace helix::tok;

struct Frag {
  bool raw;
  size_t off, len;
  int32_t id;
  bool operator==(const Frag& o) const {
    return raw == o.raw && (raw ? (off == o.off && len == o.len) : id == o.id);
  }
};

std::vector<Frag> reference(const Vocab& v, const std::string& text, bool parse_special) {
  std::list<Frag> frags;
  if (!text.empty()) frags.push_back({true, 0, text.size(), -1});
  std::vector<int32_t> order = v.specials;
  std::stable_sort(order.begin(), order.end(),
                   [&](int32_t a, int32_t b) { return v.text[a].size() > v.text[b].size(); });
  for (const int32_t id : order) {
    const uint32_t a = v.attr[id];
    if (!parse_special && (a & (kAttrControl | kAttrUnknown))) continue;
    const std::string& t = v.text[id];
    for (auto it = frags.begin(); it != frags.end();) {
      if (!it->raw) {
        ++it;
        continue;
      }
      size_t base = it->off, end = it->off + it->len;
      auto pos = frags.erase(it);
      while (true) {
        const size_t m = std::string_view(text).substr(0, end).find(t, base);
        if (m == std::string::npos) {
          if (end > base) frags.insert(pos, {true, base, end - base, -1});
          break;
        }
        size_t left = m - base;
        if (a & kAttrLstrip)
          while (left > 0 && std::isspace(static_cast<unsigned char>(text[base + left - 1]))) --left;
        if (left > 0) frags.insert(pos, {true, base, left, -1});
        frags.insert(pos, {false, 0, 0, id});
        base = m + t.size();
        if (a & kAttrRstrip)
          while (base < end && std::isspace(static_cast<unsigned char>(text[base]))) ++base;
      }
      it = pos;
    }
  }
  return {frags.begin(), frags.end()};
}

std::vector<Frag> ours(const Vocab& v, const std::string& text, bool parse_special) {
  std::vector<Fragment> f;
  partition_specials(v, text, parse_special, f);
  std::vector<Frag> out;
  for (const Fragment& x : f) out.push_back({x.token < 0, x.off, x.len, x.token});
  return out;
}

std::string random_string(std::mt19937& rng, size_t n) {
  static const char alphabet[] = "ab <>";
  std::string s(n, ' ');
  for (char& c : s) c = alphabet[rng() % 5];
  return s;
}

TEST(Partition, MatchesLlamaCppProcedure) {
  std::mt19937 rng(11);
  for (int round = 0; round < 60; ++round) {
    VocabSpec s;
    s.model = "llama";
    s.tokens = {"<unk>", "<s>", "</s>"};
    s.types = {2, 3, 3};
    const int n_special = 3 + static_cast<int>(rng() % 10);
    for (int i = 0; i < n_special; ++i) {
      std::string t = random_string(rng, 1 + rng() % 4);
      if (std::find(s.tokens.begin(), s.tokens.end(), t) != s.tokens.end()) continue;
      s.tokens.push_back(t);
      s.types.push_back(rng() % 2 ? 3 : 4);
      if (rng() % 4 == 0) s.lstrip_ids.push_back(static_cast<int32_t>(s.tokens.size() - 1));
      if (rng() % 4 == 0) s.rstrip_ids.push_back(static_cast<int32_t>(s.tokens.size() - 1));
    }
    const Vocab v = build_vocab(s);
    for (int k = 0; k < 30; ++k) {
      // Mostly short texts (occurrence list); some long runs that exceed its budget.
      const size_t n = k < 25 ? rng() % 40 : 3000 + rng() % 2000;
      std::string text = random_string(rng, n);
      if (k >= 28) text = std::string(n, ' ') + text;
      for (const bool special : {false, true}) {
        ASSERT_EQ(ours(v, text, special), reference(v, text, special))
            << "round " << round << " text '" << text.substr(0, 80) << "' special " << special;
      }
    }
  }
}

TEST(Partition, ManyOverlappingOccurrences) {
  // Runs of spaces with five space-only tokens: more occurrences than the list keeps, so the
  // search-based path runs; its result must be the same.
  VocabSpec s;
  s.model = "llama";
  s.tokens = {"<unk>", "<s>", "</s>", " ", "  ", "   ", "    ", "     ", "a a", "<"};
  s.types = {2, 3, 3, 4, 4, 4, 4, 4, 4, 3};
  s.rstrip_ids = {9};
  const Vocab v = build_vocab(s);
  std::mt19937 rng(5);
  for (int k = 0; k < 20; ++k) {
    std::string text = std::string(500 + rng() % 3000, ' ') + random_string(rng, 200) + std::string(900, ' ');
    for (const bool special : {false, true}) ASSERT_EQ(ours(v, text, special), reference(v, text, special));
  }
}

}  // namespace
