// Pre-tokenizers for byte-level BPE: split text into words before merging. Each is a
// hand-written scanner over Unicode categories that reproduces the regex (or the sequence of
// regexes) of its model family exactly, with the semantics of the reference implementations
// (leftmost match, ordered alternation, greedy quantifiers; llama.cpp's splitting where each
// regex of a sequence splits the pieces left by the previous one into matches and gaps).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace helix::tok {

enum class PreType {
  kDefault,      // llama.cpp's fallback sequence for BPE without a known pre-tokenizer
  kGpt2,         // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  kLlama3,       // (?i:'s|...)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|...
  kQwen2,        // as llama3 with \p{N} (one digit per word)
  kDeepseekLlm,  // [\r\n] / \s?[Latin...]+ / \s?[punct]+ / \s+$ / [CJK]+ / \p{N}+
  kFalcon,       // [\p{P}$+<=>^~|`]+ / gpt2 / [0-9][0-9][0-9]
};

// Maps a `tokenizer.ggml.pre` name to its pre-tokenizer; throws helix::Error for names this
// implementation does not know (so a model is never silently mis-tokenized).
PreType pre_type_from_name(const std::string& name);
// Flags llama.cpp attaches to a pre-tokenizer name: whether whole words found in the vocabulary
// bypass merging (llama3 family).
bool pre_ignores_merges(const std::string& name);

// A word: a byte range of the input.
struct Span {
  uint32_t begin;
  uint32_t end;
};

// Splits `text` (which must already be canonical UTF-8, see sanitize_utf8) into words, appended
// to `out` in order; together they cover the text exactly.
void pretokenize(PreType type, std::string_view text, std::vector<Span>& out);

}  // namespace helix::tok
