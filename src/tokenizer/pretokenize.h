// Pre-tokenizers for byte-level BPE: split text into words before merging. A GGUF file names
// its pre-tokenizer (`tokenizer.ggml.pre`); each name belongs to a family in a table, and a
// family is a sequence of regexes, the ones of the model's tokenizer.json. Each regex splits
// the pieces left by the previous one into its matches and the gaps between them (Hugging
// Face's Split(pattern, "isolated"); llama.cpp's unicode_regex_split), with Oniguruma's
// semantics. The common patterns (GPT-2's, Llama 3's, Qwen2's, digit grouping by thousands) run
// as hand-written scanners; the rest through the small regex engine of pre_regex.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/pre_regex.h"

namespace helix::tok {

struct PreStage {
  enum Kind : uint8_t { kGpt2, kLlama3, kThousands, kRegex };
  Kind kind = kRegex;
  uint32_t max_digits = 0;          // kLlama3: \p{N}{1,max_digits}
  std::shared_ptr<PreRegex> regex;  // kRegex
};

struct PreTokenizer {
  std::string family;                // the family's first name
  std::vector<std::string> regexes;  // the tokenizer.json patterns, in order
  std::vector<PreStage> stages;      // how they run
  bool ignore_merges = false;  // llama.cpp: whole words found in the vocabulary bypass merging
  bool add_bos = false;        // llama.cpp's default for add_bos_token
  bool no_bos = false;         // no BOS token unless the file names one (ChatGLM)
  // SentencePiece-style BPE (Gemma 4, Sarvam): merges over raw UTF-8 characters instead of
  // GPT-2's byte images, spaces escaped to U+2581 first, <0xXX> tokens for what no token spells.
  bool raw = false;
  bool keep_spaces = false;     // raw, but spaces stay spaces (whitespace: jina-v2-base-zh)
  bool newline_tokens = false;  // a word of newlines that is a token is taken whole (Gemma 4)
  bool force_bos = false;       // BOS even when the file says add_bos_token = false (Gemma 4)
};

// The pre-tokenizer of a `tokenizer.ggml.pre` name ("" and "default" are llama.cpp's fallback
// sequence). Throws helix::Error naming the type and listing the known names for any other.
const PreTokenizer& pre_tokenizer(const std::string& name);
// Every name pre_tokenizer() accepts, family by family (names of one family space-separated).
std::vector<std::string> pre_tokenizer_names();
// A pre-tokenizer for the given regex sequence; native = false runs every regex through the
// regex engine (tests compare the hand-written scanners with it).
PreTokenizer make_pre_tokenizer(const std::vector<std::string>& regexes, bool native = true);

// A word: a byte range of the input.
struct Span {
  uint32_t begin;
  uint32_t end;
};

// Splits `text` (which must already be canonical UTF-8, see sanitize_utf8) into words, appended
// to `out` in order; together they cover the text exactly.
void pretokenize(const PreTokenizer& pre, std::string_view text, std::vector<Span>& out);

}  // namespace helix::tok
