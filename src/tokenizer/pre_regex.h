// A small backtracking regex engine over code points, for the pre-tokenizer patterns of
// tokenizer.json files (Hugging Face `tokenizers` runs them with Oniguruma). It supports the
// subset those patterns use, with Oniguruma's semantics (leftmost match, ordered alternation,
// greedy and possessive quantifiers, backtracking):
//   alternation |, groups ( ) (?: ) (?i: ) and lookaheads (?= ) (?! ), quantifiers ? * + {n}
//   {n,} {n,m} (a trailing + makes them possessive), $ (end of the piece or before \n), \b,
//   classes [...] [^...] with ranges, nested classes and intersections (&&), \s \S \d \D,
//   \p{X} \P{X} for X in L Lu Ll Lt Lm Lo M N Nd P S Z Han, \r \n \t \f \v, \xHH,
//   \x{H...} and escaped punctuation. Lm and Lo are one class here (letters that are neither upper nor lower case),
//   as are Lu and Lt; the patterns always name them together.
// Anything else is refused with a helix::Error when the pattern is compiled.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace helix::tok {

// A decoded text: code points and their cp_flags (unicode.h).
struct CpText {
  const uint32_t* cp;
  const uint16_t* fl;
};

class PreRegex {
 public:
  explicit PreRegex(std::string_view pattern);
  // The end of the match that starts exactly at `pos` inside the piece [b, e) (lookaheads and
  // $ see the piece as the whole text), or -1 if none does.
  int64_t match_at(const CpText& t, uint32_t b, uint32_t e, uint32_t pos) const;
  const std::string& pattern() const;

  struct Program;

 private:
  std::shared_ptr<const Program> p_;
};

}  // namespace helix::tok
