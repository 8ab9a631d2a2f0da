// SentencePiece's unigram tokenizer (`tokenizer.ggml.model` = t5; internal to the tokenizer
// module): the normalizer of a precompiled character map, and the model's parts that encode_ugm
// (vocab.h) uses.
//
// The character map is what SentencePiece's nmt_nfkc / nfkc / nfkc_cf normalization rules store
// in a model (`normalizer_spec.precompiled_charsmap`, copied into GGUF as
// `tokenizer.ggml.precompiled_charsmap`): a little-endian uint32 byte count, that many bytes of a
// darts-clone double array (uint32 units) whose keys are input byte strings and whose values are
// offsets into the rest of the blob, a run of NUL-terminated replacement strings. The
// normalizer replaces, at each point, the longest key that starts there.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.h"

namespace helix::tok {

class CharsMap {
 public:
  // Parses and checks a blob (every value the trie reaches must name a replacement string in
  // it). Throws helix::Error saying what is wrong. An empty blob is the identity.
  static CharsMap parse(std::string_view blob);
  bool empty() const { return units_.empty(); }
  // Length of the longest key that s[i, ...) starts with (0: none) and its replacement.
  size_t match(std::string_view s, size_t i, std::string_view& replacement) const;
  size_t n_keys() const { return n_keys_; }

 private:
  std::vector<uint32_t> units_;
  std::string strings_;  // NUL-terminated replacement strings
  size_t n_keys_ = 0;
};

struct UgmModel {
  CharsMap charsmap;
  bool remove_extra_whitespaces = false;
  bool byte_fallback = false;             // all 256 <0xXX> byte tokens are present
  std::array<int32_t, 256> byte_token{};  // <0xXX> per byte (byte fallback)
  SpecialTrie pieces;                     // normal and user-defined tokens
  SpecialTrie user_defined;               // passed through the normalizer unchanged
  float min_score = 0;                    // over normal tokens
  float unk_score = 0;                    // min_score - 10, as SentencePiece
};

// Built after the vocabulary's texts, attributes and special ids are set. Throws helix::Error
// for a corrupt character map or a vocabulary without an unknown token.
std::shared_ptr<const UgmModel> build_ugm(const Vocab& v, std::string_view charsmap,
                                          bool remove_extra_whitespaces);

// SentencePiece's Normalizer::Normalize: the character map applied, user-defined tokens kept
// as they are, whitespace runs merged and trimmed (remove_extra_whitespaces), U+2581 for each
// space and one in front when add_prefix.
std::string normalize_ugm(const UgmModel& m, bool add_prefix, std::string_view text);

}  // namespace helix::tok
