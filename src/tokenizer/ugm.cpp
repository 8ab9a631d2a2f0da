// SentencePiece's unigram model (see ugm.h): the precompiled character map, the normalizer and
// Viterbi segmentation, as SentencePiece 0.2 (normalizer.cc, unigram_model.cc's optimized
// encoder, sentencepiece_processor.cc) does them, so that ids equal SentencePiece's.
//
// Segmentation: best[e] is the best-scoring segmentation of the normalized text's first e bytes.
// Walking start positions one character at a time, every vocabulary piece that starts there
// offers best[start] + score to best[start + length], and when no piece covers exactly the
// character at `start`, the unknown token offers best[start] + min_score - 10 for it. Ties keep the first offer. The path
// is read back from the end; a run of unknown characters becomes one unknown token, or their
// bytes as <0xXX> tokens when the vocabulary has all 256 (byte fallback).
//
// User-defined tokens: SentencePiece's own user-defined symbols reach a GGUF file as normal
// tokens (convert_hf_to_gguf.py writes their type as NORMAL, score 0), so they need nothing here.
// Tokens of type USER_DEFINED come from Hugging Face's added tokens, which HF cuts out of the
// text before the normalizer runs; Helix does the same (partition_specials, as llama.cpp), and
// like llama.cpp scores them 0 when a normalized text spells one.
#include "tokenizer/ugm.h"

#include <algorithm>
#include <cfloat>
#include <cstring>

#include "core/error.h"
#include "tokenizer/unicode.h"

namespace helix::tok {
namespace {

constexpr std::string_view kSpace = "\xe2\x96\x81";  // U+2581, SentencePiece's escaped space
constexpr std::string_view kReplacement = "\xef\xbf\xbd";
constexpr const char* kKey = "tokenizer.ggml.precompiled_charsmap";

// darts-clone's packed unit.
bool unit_has_leaf(uint32_t u) { return (u >> 8) & 1; }
uint32_t unit_value(uint32_t u) { return u & 0x7fffffffu; }
uint32_t unit_label(uint32_t u) { return u & 0x800000ffu; }
uint32_t unit_offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }

// Length of the well-formed UTF-8 character at s[i], 0 if the bytes there are not one.
size_t valid_char_len(std::string_view s, size_t i) {
  const auto lead = static_cast<uint8_t>(s[i]);
  if (lead < 0x80) return 1;
  const size_t n = utf8_len(lead);
  if (n == 1 || i + n > s.size()) return 0;
  return is_valid_utf8(s.substr(i, n)) ? n : 0;
}

}  // namespace

// ---- CharsMap ----------------------------------------------------------------------------

CharsMap CharsMap::parse(std::string_view blob) {
  CharsMap m;
  if (blob.empty()) return m;
  HELIX_CHECK(blob.size() > 4, kKey, " is corrupt: ", blob.size(),
              " bytes, too short for its header (re-convert the model)");
  uint32_t trie_bytes = 0;
  for (int k = 3; k >= 0; --k) trie_bytes = (trie_bytes << 8) | static_cast<uint8_t>(blob[k]);
  HELIX_CHECK(trie_bytes > 0 && trie_bytes % 4 == 0 && trie_bytes < blob.size() - 4, kKey,
              " is corrupt: its header gives ", trie_bytes, " bytes of trie in a blob of ",
              blob.size(), " bytes (re-convert the model)");
  m.units_.resize(trie_bytes / 4);
  for (size_t i = 0; i < m.units_.size(); ++i) {
    const auto* p = reinterpret_cast<const uint8_t*>(blob.data() + 4 + 4 * i);
    m.units_[i] = p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24);
  }
  m.strings_ = std::string(blob.substr(4 + trie_bytes));
  HELIX_CHECK(m.strings_.back() == '\0', kKey,
              " is corrupt: its replacement strings are not NUL-terminated (re-convert the model)");

  // Walk the whole trie once: every leaf must point at a string inside the blob. Each unit is
  // entered at most once, so a corrupt array with cycles still ends.
  std::vector<uint8_t> seen(m.units_.size(), 0);
  std::vector<uint32_t> stack{unit_offset(m.units_[0])};
  while (!stack.empty()) {
    const uint32_t base = stack.back();
    stack.pop_back();
    for (uint32_t c = 1; c < 256; ++c) {
      const uint32_t pos = base ^ c;
      if (pos >= m.units_.size() || seen[pos] || unit_label(m.units_[pos]) != c) continue;
      seen[pos] = 1;
      const uint32_t child = pos ^ unit_offset(m.units_[pos]);
      if (unit_has_leaf(m.units_[pos])) {
        HELIX_CHECK(child < m.units_.size() && unit_value(m.units_[child]) < m.strings_.size(),
                    kKey, " is corrupt: a key points outside the blob (re-convert the model)");
        ++m.n_keys_;
      }
      stack.push_back(child);
    }
  }
  HELIX_CHECK(m.n_keys_ > 0, kKey, " is corrupt: its trie holds no keys (re-convert the model)");
  return m;
}

size_t CharsMap::match(std::string_view s, size_t i, std::string_view& replacement) const {
  if (units_.empty()) return 0;
  size_t best = 0;
  uint32_t value = 0;
  uint32_t node = unit_offset(units_[0]);
  for (size_t j = i; j < s.size(); ++j) {
    const auto c = static_cast<uint8_t>(s[j]);
    if (c == 0) break;  // keys never hold NUL
    node ^= c;
    if (node >= units_.size() || unit_label(units_[node]) != c) break;
    const bool leaf = unit_has_leaf(units_[node]);
    node ^= unit_offset(units_[node]);
    if (leaf && node < units_.size()) {
      best = j - i + 1;
      value = unit_value(units_[node]);
    }
  }
  if (best > 0) replacement = std::string_view(strings_.c_str() + value);  // checked in parse
  return best;
}

// ---- model ---------------------------------------------------------------------------------

std::shared_ptr<const UgmModel> build_ugm(const Vocab& v, std::string_view charsmap,
                                          bool remove_extra_whitespaces) {
  HELIX_CHECK(v.unk >= 0, "tokenizer: the unigram (t5) vocabulary has no unknown token "
              "(tokenizer.ggml.unknown_token_id)");
  auto m = std::make_shared<UgmModel>();
  m->charsmap = CharsMap::parse(charsmap);
  m->remove_extra_whitespaces = remove_extra_whitespaces;
  std::vector<int32_t> pieces, user;
  m->min_score = FLT_MAX;
  for (int32_t id = 0; id < v.n_vocab(); ++id) {
    const uint32_t a = v.attr[id];
    if (a & kAttrUserDefined) {
      pieces.push_back(id);
      user.push_back(id);
    } else if (a & kAttrNormal) {
      pieces.push_back(id);
      m->min_score = std::min(m->min_score, v.score[id]);
    }
  }
  m->unk_score = m->min_score - 10.0f;
  m->pieces.build(v.text, pieces);
  m->user_defined.build(v.text, user);
  m->byte_fallback = true;
  static const char* hex = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    const char buf[7] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>', 0};
    const int32_t id = v.map.find(buf);
    m->byte_token[b] = id >= 0 && (v.attr[id] & kAttrByte) ? id : -1;
    if (m->byte_token[b] < 0) m->byte_fallback = false;
  }
  return m;
}

// ---- normalizer ----------------------------------------------------------------------------

namespace {

// SentencePiece's Normalizer::NormalizePrefix: the text that s[i, ...) starts with, normalized,
// and the number of bytes it takes.
std::string_view normalize_prefix(const UgmModel& m, std::string_view s, size_t i, size_t& used) {
  size_t longest = 0;
  m.user_defined.prefixes(s, i, [&](size_t end, int32_t) { longest = end - i; });
  if (longest > 0) {
    used = longest;
    return s.substr(i, longest);
  }
  std::string_view repl;
  used = m.charsmap.match(s, i, repl);
  if (used > 0) return repl;
  used = valid_char_len(s, i);
  if (used == 0) {
    used = 1;
    return kReplacement;
  }
  return s.substr(i, used);
}

}  // namespace

std::string normalize_ugm(const UgmModel& m, bool add_prefix, std::string_view text) {
  std::string out;
  size_t i = 0, used = 0;
  const bool squeeze = m.remove_extra_whitespaces;
  if (squeeze) {  // leading whitespace
    while (i < text.size() && normalize_prefix(m, text, i, used) == " ") i += used;
  }
  if (i == text.size()) return out;
  out.reserve(text.size() * 3 / 2 + 3);
  if (add_prefix) out += kSpace;
  bool prev_space = squeeze;
  while (i < text.size()) {
    std::string_view piece = normalize_prefix(m, text, i, used);
    i += used;
    if (prev_space)
      while (!piece.empty() && piece.front() == ' ') piece.remove_prefix(1);
    if (!piece.empty()) {
      for (const char c : piece) {
        if (c == ' ') out += kSpace;
        else out.push_back(c);
      }
      prev_space = piece.back() == ' ';
    }
    if (!squeeze) prev_space = false;
  }
  if (squeeze) {  // trailing whitespace
    while (out.size() >= kSpace.size() && out.compare(out.size() - kSpace.size(), kSpace.size(), kSpace) == 0)
      out.resize(out.size() - kSpace.size());
  }
  return out;
}

// ---- segmentation --------------------------------------------------------------------------

namespace {

struct Best {
  float score;
  int32_t start;  // -1: not reached yet
  int32_t id;
};

}  // namespace

void encode_ugm(const Vocab& v, std::string_view text, std::vector<int32_t>& out) {
  const UgmModel& m = *v.ugm;
  const std::string norm = normalize_ugm(m, v.add_space_prefix, text);
  const size_t n = norm.size();
  if (n == 0) return;
  HELIX_CHECK(n < (size_t{1} << 31), "tokenizer: normalized text too long (", n, " bytes)");
  thread_local std::vector<Best> best;
  best.assign(n + 1, Best{0.0f, -1, -1});
  best[0].start = 0;
  for (size_t start = 0; start < n;) {
    const float here = best[start].score;
    const size_t one = std::min(utf8_len(static_cast<uint8_t>(norm[start])), n - start);
    bool covered = false;
    m.pieces.prefixes(norm, start, [&](size_t end, int32_t id) {
      const size_t len = end - start;
      // Sums are floats, as SentencePiece's (ties between equal sums depend on their rounding).
      const float cand = ((v.attr[id] & kAttrUserDefined) ? 0.0f : v.score[id]) + here;
      Best& b = best[end];
      if (b.start < 0 || cand > b.score) b = Best{cand, static_cast<int32_t>(start), id};
      if (len == one) covered = true;
    });
    if (!covered) {
      const float cand = m.unk_score + here;
      Best& b = best[start + one];
      if (b.start < 0 || cand > b.score) b = Best{cand, static_cast<int32_t>(start), v.unk};
    }
    start += one;
  }

  const size_t first = out.size();
  bool prev_unk = false;
  for (size_t end = n; end > 0;) {  // read back, appending in reverse
    const Best& b = best[end];
    const auto start = static_cast<size_t>(b.start);
    if (b.id == v.unk && m.byte_fallback) {
      for (size_t k = end; k > start; --k) out.push_back(m.byte_token[static_cast<uint8_t>(norm[k - 1])]);
    } else if (!(b.id == v.unk && prev_unk)) {
      out.push_back(b.id);
    }
    prev_unk = b.id == v.unk;
    end = start;
  }
  std::reverse(out.begin() + static_cast<std::ptrdiff_t>(first), out.end());
}

}  // namespace helix::tok
