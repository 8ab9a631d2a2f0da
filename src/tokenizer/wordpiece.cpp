// WordPiece (`tokenizer.ggml.model` = bert), as Hugging Face's BertNormalizer, BertPreTokenizer
// and WordPiece model do it (the reference BERT models are run with; llama.cpp differs):
//   clean_text     drop U+0000, U+FFFD and control characters (Cc Cf Co Cs except tab, LF,
//                  CR, which are whitespace like the other White_Space characters);
//   CJK            each character of BERT's CJK ideograph ranges is a word of its own;
//   strip_accents  NFD, then drop nonspacing marks (Mn only: vowel signs (Mc) stay; Hangul
//                  syllables become jamo), with the canonical reordering of what remains;
//   lowercase      after accent stripping (HF's order; strip_accents defaults to lowercase);
//   pre-tokenizer  split at whitespace, each punctuation character (ASCII symbols and P*) a
//                  word of its own.
// Then greedy longest-match per word; a word longer than max_input_chars_per_word characters,
// or one that cannot be covered, becomes the unknown token. Vocabulary entries that start a word
// carry a U+2581 prefix (the GGUF convention; a Hugging Face vocabulary is converted to it),
// continuations carry none. Character classes: the kBert* flags of unicode.h.
#include <algorithm>
#include <utility>

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

// The normalised, pre-tokenised text: a list of words.
class Words {
 public:
  explicit Words(std::vector<std::string>& w) : w_(w) {
    w_.clear();
    w_.emplace_back();
  }

  void split() {
    if (!w_.back().empty()) w_.emplace_back();
    run_.clear();
  }

  // A code point of the normalised text with its canonical combining class (0 outside NFD).
  void add(uint32_t cp, uint8_t ccc) {
    const uint16_t f = cp_flags(cp);
    if (f & kWhitespaceBit) {
      split();
    } else if (f & kBertPunct) {
      split();
      append_utf8(w_.back(), cp);
      split();
    } else if (ccc == 0) {
      run_.clear();
      append_utf8(w_.back(), cp);
    } else {
      // Canonical ordering: the non-starters that follow one another (marks dropped in between
      // or not) are sorted by combining class, stably. The kept ones end the current word.
      if (run_.empty()) run_pos_ = w_.back().size();
      auto it = std::upper_bound(
          run_.begin(), run_.end(), ccc,
          [](uint8_t c, const std::pair<uint8_t, uint32_t>& e) { return c < e.first; });
      const bool last = it == run_.end();
      run_.insert(it, {ccc, cp});
      if (last) {
        append_utf8(w_.back(), cp);
      } else {
        w_.back().resize(run_pos_);
        for (const auto& e : run_) append_utf8(w_.back(), e.second);
      }
    }
  }

  // A dropped code point of the NFD text: a starter still ends the run of non-starters.
  void drop(uint8_t ccc) {
    if (ccc == 0) run_.clear();
  }

  void finish() {
    if (w_.back().empty()) w_.pop_back();
  }

 private:
  std::vector<std::string>& w_;
  std::vector<std::pair<uint8_t, uint32_t>> run_;  // kept non-starters since the last starter
  size_t run_pos_ = 0;                             // where they start in the current word
};

void normalize(const Vocab& v, std::string_view text, Words& words) {
  uint32_t d[3];
  for (size_t i = 0; i < text.size();) {
    const uint32_t cp = decode_utf8(text, i);
    const uint16_t f = cp_flags(cp);
    if (f & kBertControl) continue;
    if (f & kWhitespaceBit) {
      words.split();
      continue;
    }
    const bool cjk = is_chinese(cp);
    if (cjk) words.split();
    if (!v.strip_accents) {
      if (v.lowercase && cp == 0x130) {  // İ: the one lowercase mapping of two code points
        words.add('i', 0);
        words.add(0x307, 0);
      } else {
        words.add(v.lowercase ? to_lower(cp) : cp, 0);
      }
    } else {
      const size_t n = nfd_bert(cp, d);
      for (size_t k = 0; k < n; ++k) {
        const uint16_t fk = cp_flags(d[k]);
        const uint8_t ccc = (fk & kMark) ? combining_class(d[k]) : 0;
        if (fk & kBertNonspacing)
          words.drop(ccc);
        else
          words.add(v.lowercase ? to_lower(d[k]) : d[k], ccc);
      }
    }
    if (cjk) words.split();
  }
  words.finish();
}

size_t utf8_chars(std::string_view s) {
  size_t n = 0;
  for (const char c : s) n += (static_cast<uint8_t>(c) & 0xc0) != 0x80;
  return n;
}

}  // namespace

void encode_wpm(const Vocab& v, std::string_view text, std::vector<int32_t>& out) {
  thread_local std::vector<std::string> list;
  Words words(list);
  normalize(v, text, words);

  std::string w1;
  for (const std::string& word : list) {
    if (word.empty()) continue;
    const size_t before = out.size();
    if (utf8_chars(word) <= v.max_input_chars_per_word) {
      w1 = "\xe2\x96\x81";
      w1 += word;
      const size_t n = w1.size();
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
    }
    if (out.size() == before && v.unk >= 0) out.push_back(v.unk);
  }
}

}  // namespace helix::tok
