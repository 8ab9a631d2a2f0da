// WordPiece (`tokenizer.ggml.model` = bert): BERT's normalisation (lowercase, strip accents,
// drop control characters), split at whitespace, punctuation and CJK characters, then greedy
// longest-match per word. Vocabulary entries that start a word carry a U+2581 prefix (the GGUF
// convention; a Hugging Face vocabulary is converted to it), continuations carry none. A word
// that cannot be covered becomes the unknown token.
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace helix::tok {
namespace {

bool is_chinese(uint32_t cp) {
  return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) ||
         (cp >= 0x20000 && cp <= 0x2a6df) || (cp >= 0x2a700 && cp <= 0x2b73f) ||
         (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b920 && cp <= 0x2ceaf) ||
         (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);
}

}  // namespace

void encode_wpm(const Vocab& v, std::string_view text, std::vector<int32_t>& out) {
  thread_local std::vector<std::string> words;
  words.clear();
  words.emplace_back();
  auto add = [&](uint32_t cp) {
    const uint16_t f = cp_flags(cp);
    if (f & kWhitespaceBit) {
      if (!words.back().empty()) words.emplace_back();
      return;
    }
    if (cp == 0 || cp == 0xfffd || (f & kControl)) return;
    if (v.strip_accents && (f & kMark)) return;
    std::string s;
    append_utf8(s, v.lowercase ? to_lower(cp) : cp);
    if ((f & kPunct) || (cp < 0x7f && (f & kSymbol)) || is_chinese(cp)) {
      if (!words.back().empty()) words.emplace_back();
      words.back() = s;
      words.emplace_back();
    } else {
      words.back() += s;
    }
  };
  for (size_t i = 0; i < text.size();) {
    const uint32_t cp = decode_utf8(text, i);
    if (!v.strip_accents) {
      add(cp);
    } else if (cp >= 0xac00 && cp <= 0xd7a3) {
      // A Hangul syllable decomposes (NFD) into two or three jamo, all letters: BERT keeps them
      // all ('한' -> 'ᄒ' 'ᅡ' 'ᆫ'), as Hugging Face's normalizer does.
      const uint32_t s = cp - 0xac00;
      add(0x1100 + s / 588);
      add(0x1161 + (s % 588) / 28);
      if (s % 28) add(0x11a7 + s % 28);
    } else {
      add(nfd_first(cp));  // the base letter; the combining marks after it would be dropped
    }
  }
  if (words.back().empty()) words.pop_back();

  std::string w1;
  for (const std::string& word : words) {
    if (word.empty()) continue;
    w1 = "\xe2\x96\x81";
    w1 += word;
    const size_t n = w1.size();
    const size_t before = out.size();
    for (size_t i = 0; i < n; ++i) {
      bool match = false;
      for (size_t j = std::min(n, i + v.max_token_len + 1); j > i; --j) {
        const int32_t id = v.map.find(std::string_view(w1).substr(i, j - i));
        if (id >= 0) {
          out.push_back(id);
          match = true;
          i = j - 1;
          break;
        }
      }
      if (!match) {
        out.resize(before);
        break;
      }
    }
    if (out.size() == before && v.unk >= 0) out.push_back(v.unk);
  }
}

}  // namespace helix::tok
