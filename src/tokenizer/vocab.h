// The vocabulary shared by the tokenizer families (internal to the tokenizer module): token
// texts, scores and attributes, a hash map from text to id, the special ids and flags with
// llama.cpp's defaults and per-model adjustments, the partition of input text around special
// and user-defined tokens, and the entry points of the encoders.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/pretokenize.h"
#include "tokenizer/tokenizer.h"

namespace helix::tok {

enum TokenAttr : uint32_t {
  kAttrUndefined = 0,
  kAttrUnknown = 1 << 0,
  kAttrUnused = 1 << 1,
  kAttrNormal = 1 << 2,
  kAttrControl = 1 << 3,
  kAttrUserDefined = 1 << 4,
  kAttrByte = 1 << 5,
  kAttrLstrip = 1 << 7,
  kAttrRstrip = 1 << 8,
};

// GGUF `tokenizer.ggml.token_type` values.
enum TokenType : int32_t {
  kTypeUndefined = 0,
  kTypeNormal = 1,
  kTypeUnknown = 2,
  kTypeControl = 3,
  kTypeUserDefined = 4,
  kTypeUnused = 5,
  kTypeByte = 6,
};

uint64_t hash_bytes(const char* p, size_t n);

// Open-addressing map from byte strings to ids; the keys are copied into one buffer.
class PieceMap {
 public:
  // keys[i] maps to i; empty keys are skipped and the first of duplicate keys wins.
  void build(const std::vector<std::string>& keys);
  void build(const std::vector<std::string>& keys, const std::vector<int32_t>& ids);
  int32_t find(std::string_view key) const;  // -1 if absent

 private:
  struct Slot {  // one cache line holds four; a hit touches the slot and the key bytes only
    uint32_t hash;
    int32_t id;    // -1: empty
    uint32_t off;  // key bytes in blob_
    uint32_t len;
  };
  std::string blob_;
  std::vector<Slot> slots_;
  uint64_t mask_ = 0;
};

// Open-addressing map from 64-bit keys to two int32 values (BPE merges: pair -> rank, result).
class PairMap {
 public:
  struct Value {
    int32_t rank;
    int32_t result;
  };
  void reserve(size_t n);
  bool insert(uint64_t key, Value v);  // keeps an existing entry (returns false)
  const Value* find(uint64_t key) const;

 private:
  std::vector<uint64_t> keys_;
  std::vector<Value> vals_;
  uint64_t mask_ = 0;
  size_t size_ = 0;
};

// Prefix trie over the special tokens' texts, used to find which of them occur in a text.
class SpecialTrie {
 public:
  void build(const std::vector<std::string>& text, const std::vector<int32_t>& ids);
  // Calls found(position, id) for every occurrence of every special token in `s`.
  template <class F>
  void scan(std::string_view s, F&& found) const;
  // Calls found(end, id) for every entry that s[i, end) spells, shortest first.
  template <class F>
  void prefixes(std::string_view s, size_t i, F&& found) const;
  bool empty() const { return nodes_.size() <= 1; }

 private:
  struct Node {
    uint32_t first_edge = 0;
    uint32_t n_edges = 0;
    int32_t token = -1;
  };
  struct Edge {
    uint8_t byte;
    uint32_t child;
  };
  std::vector<Node> nodes_;
  std::vector<Edge> edges_;
  std::array<uint32_t, 256> root_{};  // child of the root per byte, 0 = none
};

// A per-thread, direct-mapped cache of word -> token ids, shared by all vocabularies (entries
// carry the vocabulary's serial number, so tokenizers never see each other's words).
class WordCache {
 public:
  static constexpr size_t kMaxWord = 64;  // longer words are not cached
  const std::vector<int32_t>* get(uint64_t serial, std::string_view w, uint64_t h) const {
    const Entry& e = entries_[h & (kSize - 1)];
    if (e.serial == serial && e.hash == h && e.key == w) return &e.ids;
    return nullptr;
  }
  void put(uint64_t serial, std::string_view w, uint64_t h, const int32_t* ids, size_t n) {
    Entry& e = entries_[h & (kSize - 1)];
    e.serial = serial;
    e.hash = h;
    e.key.assign(w.data(), w.size());
    e.ids.assign(ids, ids + n);
  }
  static WordCache& local() {
    thread_local WordCache c;
    return c;
  }

 private:
  static constexpr size_t kSize = 1 << 14;
  struct Entry {
    uint64_t serial = 0;
    uint64_t hash = 0;
    std::string key;
    std::vector<int32_t> ids;
  };
  std::vector<Entry> entries_ = std::vector<Entry>(kSize);
};

struct UgmModel;     // ugm.h
struct Plamo2Model;  // plamo2.cpp

// Byte-level BPE variants (tokenizer.ggml.model gpt2, whitespace, hybriddna).
enum class BpeMode : uint8_t { kPlain, kWhitespace, kHybridDna };

struct Vocab {
  uint64_t serial = 0;  // unique per built vocabulary (for WordCache)
  VocabType type = VocabType::kSpm;
  std::string model;                  // tokenizer.ggml.model
  BpeMode bpe_mode = BpeMode::kPlain;
  const PreTokenizer* pre = nullptr;  // byte-level BPE
  std::string pre_name;
  std::vector<std::string> text;
  std::vector<float> score;
  std::vector<uint32_t> attr;
  PieceMap map;
  int32_t bos = -1, eos = -1, unk = -1, sep = -1, pad = -1, mask = -1, eot = -1, eom = -1;
  bool add_bos = false, add_eos = false, add_sep = false, add_space_prefix = false;
  bool ignore_merges = false, lowercase = true, strip_accents = true;
  size_t max_input_chars_per_word = 100;  // WordPiece: a longer word becomes the unknown token
  std::vector<int32_t> eog;       // sorted
  std::vector<int32_t> specials;  // control, user-defined and unknown tokens
  SpecialTrie special_trie;
  size_t max_token_len = 0;
  std::array<int32_t, 256> byte_token{};  // SPM: <0xXX> (or the byte itself) per byte, -1 none
  std::vector<std::string> pieces;        // token_to_piece(id, render_special = true)
  // SentencePiece: entries in which U+2581 follows another character. Text can be split into
  // words before each U+2581 that follows another character, except inside occurrences of these.
  std::vector<int32_t> spm_cross;

  // Byte-level BPE (see bpe.cpp). Symbols carry "string ids": vocab ids, or ids >= n_vocab for
  // merge parts/results that are not tokens.
  std::array<int32_t, 256> byte_sid{};
  std::array<std::array<int32_t, 2>, 256> byte_fallback{};  // tokens for a raw byte, -1 none
  PairMap merges;
  PieceMap raw_map;  // BPE: token text decoded to raw bytes -> id

  std::shared_ptr<const UgmModel> ugm;  // unigram (t5): normalizer, piece trie, scores
  SpecialTrie rwkv_trie;                // rwkv: every token's unescaped bytes
  std::shared_ptr<const Plamo2Model> plamo2;  // plamo2: piece trie and integer scores
  std::array<int32_t, 3> dna_tags{-1, -1, -1};  // hybriddna: <dna>, </dna>, <oov> (-1: absent)

  int32_t n_vocab() const { return static_cast<int32_t>(text.size()); }
  bool has(int32_t id) const { return id >= 0 && id < n_vocab(); }
};

Vocab build_vocab(const VocabSpec& spec);

// A piece of the input after special tokens are cut out: raw text [off, off + len), or token.
struct Fragment {
  uint32_t off;
  uint32_t len;
  int32_t token;  // -1 for raw text
};
// llama.cpp's partition: special tokens longest first, each cutting all its non-overlapping
// left-to-right occurrences out of the remaining raw text (with lstrip/rstrip). Control and
// unknown tokens take part only when parse_special; user-defined tokens always do.
void partition_specials(const Vocab& v, std::string_view text, bool parse_special,
                        std::vector<Fragment>& out);

void build_bpe(Vocab& v, const std::vector<std::string>& merges);
// `text` has spaces already escaped to U+2581 (and the prefix space added).
void encode_spm(const Vocab& v, std::string_view text, std::vector<int32_t>& out);
void encode_bpe(const Vocab& v, std::string_view text, std::vector<int32_t>& out);
void encode_wpm(const Vocab& v, std::string_view text, std::vector<int32_t>& out);
// Unigram: `text` is raw (normalized, escaped and prefixed here, as SentencePiece does).
void encode_ugm(const Vocab& v, std::string_view text, std::vector<int32_t>& out);
void encode_rwkv(const Vocab& v, std::string_view text, std::vector<int32_t>& out);
std::string unescape_rwkv(std::string_view token_text);  // \t \n \r \xNN \<c> -> bytes
// PLaMo 2: the lowest-cost segmentation into scored pieces, byte tokens for the rest.
std::shared_ptr<const Plamo2Model> build_plamo2(const Vocab& v);
void encode_plamo2(const Vocab& v, std::string_view text, std::vector<int32_t>& out);
// BPE over the words between whitespace (tokenizer.ggml.model = whitespace).
void encode_whitespace(const Vocab& v, std::string_view text, std::vector<int32_t>& out);
// HybriDNA: BPE, and fixed-length DNA k-mers between <dna> and </dna>.
void encode_hybriddna(const Vocab& v, std::string_view text, std::vector<int32_t>& out);
// HybriDNA's k-mers are stored with a marker suffix that keeps them apart from BPE tokens of
// the same text; their text and piece drop it (after the lookup map is built with it).
void prepare_hybriddna(Vocab& v);
// The piece of a token (render_special = true), as llama.cpp's token_to_piece.
std::string make_piece(const Vocab& v, int32_t id);

template <class F>
void SpecialTrie::scan(std::string_view s, F&& found) const {
  for (size_t i = 0; i < s.size(); ++i)
    prefixes(s, i, [&](size_t, int32_t id) { found(static_cast<uint32_t>(i), id); });
}

template <class F>
void SpecialTrie::prefixes(std::string_view s, size_t i, F&& found) const {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  if (i >= n) return;
  uint32_t node = root_[p[i]];
  size_t j = i + 1;
  while (node != 0) {
    const Node& nd = nodes_[node];
    if (nd.token >= 0) found(j, nd.token);
    if (j >= n || nd.n_edges == 0) break;
    const uint8_t c = p[j++];
    uint32_t next = 0;
    for (uint32_t k = nd.first_edge; k < nd.first_edge + nd.n_edges; ++k) {
      if (edges_[k].byte == c) {
        next = edges_[k].child;
        break;
      }
      if (edges_[k].byte > c) break;
    }
    node = next;
  }
}

}  // namespace helix::tok
