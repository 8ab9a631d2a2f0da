// Tokenizers built from a model's own vocabulary: SentencePiece-style BPE with scores and byte
// fallback (`tokenizer.ggml.model` = llama; Llama 2, Phi-3, Gemma, ERNIE 4.5), byte-level BPE with
// merges and a named pre-tokenizer (gpt2; every type of llama.cpp's loader: GPT-2, Llama 3, Qwen2,
// DeepSeek, Falcon, StarCoder, GPT-4o, Tekken, Kimi-K2, ..., see pretokenize.h), WordPiece
// (bert), SentencePiece's unigram model with its normalizer (t5; T5, mT5, UMT5, FLAN-T5),
// RWKV's greedy longest-match tokenizer (rwkv), PLaMo 2's best-scoring segmentation (plamo2),
// BPE over whitespace-separated words (whitespace; jina-embeddings-v2-base-zh), BPE with DNA
// k-mers between <dna> tags (hybriddna), and models without a vocabulary (none: they take
// token ids only; encoding text is an error).
// Built from GGUF metadata or from a Hugging Face tokenizer.json. Token ids match Hugging
// Face tokenizers for the same vocabulary, and llama.cpp's tokenizer where it agrees with them.
//
//   auto tok = Tokenizer::from_gguf(gguf::GGUFFile::open(path));
//   std::vector<int32_t> ids = tok->encode("Hello", /*add_special=*/true, /*parse_special=*/false);
//   std::string text = tok->decode(ids);
//
// A Tokenizer is immutable after construction; encode/decode may run on many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace helix::gguf {
class GGUFFile;
}

namespace helix::tok {

enum class VocabType { kSpm, kBpe, kWpm, kUgm, kRwkv, kPlamo2, kNone };

struct Vocab;

// Everything a tokenizer is built from, as GGUF stores it (`tokenizer.ggml.*`). Unset optional
// fields take the defaults of the model family, as llama.cpp does.
struct VocabSpec {
  // "llama", "gpt2", "gemma4", "bert", "t5", "rwkv", "plamo2", "whitespace", "hybriddna", "none"
  std::string model;
  std::string pre;    // pre-tokenizer name (BPE models), e.g. "llama-bpe", "qwen2"
  std::string name;   // general.name: some models get per-token attributes by name (Phi-3)
  std::vector<std::string> tokens;
  std::vector<float> scores;        // empty: all 0
  std::vector<int32_t> types;       // empty: all normal (1); 2 unknown 3 control 4 user 5 unused 6 byte
  std::vector<std::string> merges;  // "left right" in rank order (gpt2)
  std::optional<int64_t> bos, eos, unk, sep, pad, mask, eot, eom;
  std::optional<bool> add_bos, add_eos, add_sep, add_space_prefix, lowercase, strip_accents;
  std::optional<bool> ignore_merges;           // default: from the pre-tokenizer name
  std::optional<int64_t> max_input_chars_per_word;  // WordPiece (default 100, as BERT)
  std::vector<int32_t> lstrip_ids, rstrip_ids;  // special tokens that eat whitespace beside them
  // Unigram (t5): SentencePiece's normalizer, as `tokenizer.ggml.precompiled_charsmap` stores it
  // (empty: no normalization) and `tokenizer.ggml.remove_extra_whitespaces`.
  std::string precompiled_charsmap;
  std::optional<bool> remove_extra_whitespaces;
  int64_t vocab_size = 0;  // model "none": the number of token ids (`<arch>.vocab_size`)
};

// Reads the `tokenizer.ggml.*` keys of a GGUF file; throws helix::Error when they are missing
// or malformed.
VocabSpec vocab_spec_from_gguf(const gguf::GGUFFile& f);

class Tokenizer {
 public:
  static std::unique_ptr<Tokenizer> from_gguf(const gguf::GGUFFile& f);
  static std::unique_ptr<Tokenizer> from_spec(const VocabSpec& spec);
  // A Hugging Face tokenizer.json (byte-level BPE or WordPiece), as text or from a file.
  static std::unique_ptr<Tokenizer> from_hf_json(std::string_view json_text);
  static std::unique_ptr<Tokenizer> from_hf_json_file(const std::string& path);
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Tokenizes `text` (any bytes; invalid UTF-8 never fails: SentencePiece falls back to byte
  // tokens, byte-level BPE and WordPiece read each invalid byte as U+FFFD, as llama.cpp does).
  // add_special: add BOS/EOS (WordPiece: CLS/SEP) as the vocabulary's flags say.
  // A model without a vocabulary (none) throws helix::Error: it takes token ids only.
  // parse_special: text that spells a control token becomes that token; otherwise it is plain
  // text. User-defined tokens are always matched before the model's algorithm runs.
  std::vector<int32_t> encode(std::string_view text, bool add_special = true,
                              bool parse_special = false) const;

  // The text of one token: byte tokens give their byte, SentencePiece's U+2581 becomes a space,
  // byte-level BPE is decoded to bytes. Control and unknown tokens give their text only when
  // render_special (else ""). Throws for an id out of range.
  std::string token_to_piece(int32_t id, bool render_special = true) const;
  // The inverse of encode: pieces concatenated, control tokens dropped unless render_special,
  // and the space that add_space_prefix put in front of the text removed.
  std::string decode(const std::vector<int32_t>& ids, bool render_special = false) const;

  VocabType type() const;
  // The tokenizer model and pre-tokenizer as the file names them, e.g. "gpt2 (pre-tokenizer
  // qwen2)", "plamo2", "none (no vocabulary: token ids only)".
  std::string describe() const;
  int32_t n_vocab() const;
  int32_t bos() const;  // -1 when the vocabulary has none
  int32_t eos() const;
  int32_t eot() const;
  int32_t unk() const;
  int32_t sep() const;
  int32_t pad() const;
  bool add_bos() const;
  bool add_eos() const;
  bool add_space_prefix() const;
  bool is_eog(int32_t id) const;      // ends generation (EOS, EOT, <end_of_turn>, ...)
  bool is_control(int32_t id) const;  // control or unknown: not shown as text by default
  const std::string& token_text(int32_t id) const;  // the vocabulary entry as stored
  int32_t find_token(std::string_view text) const;  // id of a vocabulary entry, -1 if absent

 private:
  explicit Tokenizer(std::unique_ptr<Vocab> v);
  std::unique_ptr<Vocab> v_;
};

// Turns a stream of token ids into text that never splits a UTF-8 character: bytes of an
// incomplete character are held back until the token that completes it arrives. A sequence that
// can never complete is emitted as U+FFFD.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok, bool render_special = false);
  std::string push(int32_t id);  // text that became complete with this token (maybe empty)
  std::string finish();          // what is still held back (as U+FFFD), then resets
  void reset();

 private:
  const Tokenizer& tok_;
  bool render_special_;
  std::string pending_;
};

}  // namespace helix::tok
