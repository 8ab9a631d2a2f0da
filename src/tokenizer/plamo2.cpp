// PLaMo 2's tokenizer (`tokenizer.ggml.model` = plamo2): every vocabulary entry except the 256
// <0xXX> byte tokens is a piece with a score, and a text is cut into the sequence of pieces with
// the highest total score, found by dynamic programming from the end of the text over a trie of
// the pieces. Scores count in integer units of 1e-4 (rounded), as PLaMo's own tokenizer and
// llama.cpp do; a character that no chosen piece covers costs 1000 units of score and becomes
// the byte tokens of its UTF-8 encoding. Ties go to the longer piece, and to a piece over the
// byte fallback. A leading U+FEFF (byte order mark) is dropped from each stretch of text.
//
// Known difference from llama.cpp: its table gives up early on a piece scored exactly -1000 (the
// [PADn] entries its converter adds), so text that spells such an entry can come out
// differently there; here every piece takes part.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "core/error.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace helix::tok {

struct Plamo2Model {
  SpecialTrie pieces;                // every entry but the byte tokens (equal texts: the last id)
  std::vector<int32_t> score;        // per id, in units of 1e-4; kCutoff or less: never used
  std::array<int32_t, 256> byte_token{};
};

namespace {

constexpr int32_t kCutoff = -20000000;        // a piece scored -2000 or less is not used
constexpr int64_t kUnknownCost = 10000000;    // a character left to the byte fallback

bool continuation(char c) { return (static_cast<uint8_t>(c) & 0xc0) == 0x80; }

int byte_of(const std::string& t) {  // "<0xXX>" -> XX, else -1
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>' || hex(t[3]) < 0 || hex(t[4]) < 0) return -1;
  return hex(t[3]) * 16 + hex(t[4]);
}

}  // namespace

std::shared_ptr<const Plamo2Model> build_plamo2(const Vocab& v) {
  auto m = std::make_shared<Plamo2Model>();
  m->byte_token.fill(-1);
  m->score.assign(v.text.size(), kCutoff);
  std::vector<int32_t> ids;  // last first, so that the last of equal texts wins
  for (int32_t id = v.n_vocab() - 1; id >= 0; --id) {
    if (v.attr[id] & kAttrByte) {
      const int b = byte_of(v.text[id]);
      if (b >= 0 && m->byte_token[b] < 0) m->byte_token[b] = id;
      continue;
    }
    ids.push_back(id);
    const double s = std::round(static_cast<double>(v.score[id]) * 1e4);
    if (std::isfinite(s)) m->score[id] = static_cast<int32_t>(std::clamp(s, double{kCutoff}, 2e9));
  }
  for (int b = 0; b < 256; ++b) {
    if (m->byte_token[b] >= 0) continue;
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    throw Error(cat("tokenizer: the plamo2 vocabulary has no byte token ", name,
                    " (a BYTE-type entry; PLaMo 2's byte fallback needs all 256)"));
  }
  m->pieces.build(v.text, ids);
  return m;
}

void encode_plamo2(const Vocab& v, std::string_view text, std::vector<int32_t>& out) {
  const Plamo2Model& m = *v.plamo2;
  thread_local std::string clean;
  std::string_view s = sanitize_utf8(text, clean);
  if (s.compare(0, 3, "\xef\xbb\xbf") == 0) s.remove_prefix(3);
  const size_t n = s.size();
  if (n == 0) return;

  // cost[i]: the least cost of s[i, n) (cost = minus the total score); len/tok: its first step.
  thread_local std::vector<int64_t> cost;
  thread_local std::vector<uint32_t> len;
  thread_local std::vector<int32_t> tok;
  thread_local std::vector<std::pair<size_t, int32_t>> found;
  cost.assign(n + 1, 0);
  len.assign(n + 1, 0);
  tok.assign(n + 1, -1);
  for (size_t i = n; i-- > 0;) {
    if (continuation(s[i])) continue;
    found.clear();
    m.pieces.prefixes(s, i, [&](size_t end, int32_t id) {
      if (end == n || !continuation(s[end])) found.emplace_back(end, id);
    });
    int64_t best = std::numeric_limits<int64_t>::max();
    for (size_t k = found.size(); k-- > 0;) {  // longest first: ties keep the longer piece
      const auto [end, id] = found[k];
      if (m.score[id] <= kCutoff) continue;
      const int64_t c = cost[end] - m.score[id];
      if (c < best) {
        best = c;
        len[i] = static_cast<uint32_t>(end - i);
        tok[i] = id;
      }
    }
    const size_t one = std::min(utf8_len(static_cast<uint8_t>(s[i])), n - i);
    if (cost[i + one] + kUnknownCost < best) {
      best = cost[i + one] + kUnknownCost;
      len[i] = static_cast<uint32_t>(one);
      tok[i] = -1;
    }
    cost[i] = best;
  }
  for (size_t i = 0; i < n; i += len[i]) {
    if (tok[i] >= 0) {
      out.push_back(tok[i]);
      continue;
    }
    for (size_t k = i; k < i + len[i]; ++k) out.push_back(m.byte_token[static_cast<uint8_t>(s[k])]);
  }
}

}  // namespace helix::tok
