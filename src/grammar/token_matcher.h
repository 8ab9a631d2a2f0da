// Structured output, part 3: from bytes to tokens. Given the current matcher state, which token
// ids may come next? Trying every token's bytes each step is too slow for a 262k-token vocabulary,
// so the Vocabulary keeps
//   - a byte trie of all token pieces, walked depth-first with the matcher: a branch is dropped
//     at the first byte the grammar refuses, so structural positions ('{', ':', ',' ...) look at
//     a few hundred trie nodes;
//   - for positions inside a string (where most of the vocabulary fits), a table per string
//     scanner state built once: the tokens that stay inside the string (a ready bitset, plus
//     their character counts for maxLength), and the few that close it, whose bytes after the
//     quote are walked in a small trie of their own against the state after the string.
// End-of-generation tokens are allowed only when the value is complete. Tokens without bytes
// (control tokens) are never allowed.
//
//   auto vocab = std::make_shared<Vocabulary>(tokenizer);           // once per model
//   auto c = std::make_shared<Constraint>(Constraint{grammar, vocab});  // per request
//   TokenMatcher tm(c);                                             // per sequence
//   tm.apply(logits, n_vocab); id = sample(logits); tm.accept(id);
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "grammar/grammar.h"
#include "grammar/matcher.h"

namespace helix::tok {
class Tokenizer;
}

namespace helix::grammar {

// Byte strings in a preorder trie: node i's subtree is [i, nodes[i].end), its children start at
// i + 1 and follow each other by `end`. Each node lists the values whose string ends there.
struct Trie {
  struct Node {
    uint32_t end = 0;
    uint32_t first = 0;  // values[first, first + count)
    uint32_t count = 0;
    uint8_t byte = 0;
  };
  std::vector<Node> nodes;  // nodes[0] is the root (the empty string)
  std::vector<int32_t> values;
  size_t max_depth = 0;
  // Empty strings are left out.
  static Trie build(std::vector<std::pair<std::string, int32_t>> entries);
};

class Vocabulary {
 public:
  explicit Vocabulary(const tok::Tokenizer& tok);
  // pieces[id] are the bytes of token id ("" for tokens never generated as text).
  Vocabulary(std::vector<std::string> pieces, std::vector<int32_t> eog);

  int32_t size() const { return static_cast<int32_t>(pieces_.size()); }
  const std::string& piece(int32_t id) const { return pieces_[static_cast<size_t>(id)]; }
  const std::vector<int32_t>& eog() const { return eog_; }
  bool is_eog(int32_t id) const;
  const Trie& trie() const { return trie_; }

  // Every token read from a given string scanner state (see strscan).
  struct StringTable {
    std::vector<uint64_t> stay;                     // tokens wholly inside the string
    std::vector<std::pair<int32_t, int32_t>> stay_by_chars;  // (characters, id), ascending
    int32_t max_stay_chars = 0;
    std::vector<std::pair<int32_t, int32_t>> close_now;  // (characters before '"', id): '"' is the last byte
    Trie after_close;                                    // bytes after '"'; values index close_*
    std::vector<int32_t> close_chars, close_ids;
  };
  const StringTable& string_table(uint8_t scanner_state) const;

 private:
  void build();

  std::vector<std::string> pieces_;
  std::vector<int32_t> eog_;  // sorted
  Trie trie_;
  mutable std::mutex mu_;
  mutable std::array<std::unique_ptr<StringTable>, 16> tables_;
};

// A grammar bound to a vocabulary: immutable, shared by the sequences of a request.
struct Constraint {
  std::shared_ptr<const Grammar> grammar;
  std::shared_ptr<const Vocabulary> vocab;
};

// One sequence's position in the grammar.
class TokenMatcher {
 public:
  explicit TokenMatcher(std::shared_ptr<const Constraint> c);

  // Bit `id` set when token id may come next (computed once per position).
  const std::vector<uint64_t>& mask();
  bool allowed(int32_t id);
  // Sets the logits of tokens that may not come next to -inf (ids past the vocabulary too).
  void apply(float* logits, int64_t n_logits);
  // Moves past a token; false (and nothing changes) when the grammar does not allow it.
  bool accept(int32_t id);
  // Moves past bytes that were generated before the grammar applied (a lazy grammar's first
  // token may hold more than its trigger); false (and nothing changes) when they are refused.
  bool accept_bytes(std::string_view bytes);
  bool complete() const { return m_.complete(state_); }  // the text so far is a whole value
  bool done() const { return done_; }                    // an end-of-generation token was accepted
  const State& state() const { return state_; }

 private:
  void compute();
  template <typename Mark>
  void walk(const Trie& t, uint32_t node, size_t depth, Mark&& mark);  // states_[depth] is at `node`
  void string_stack(const State& one);

  std::shared_ptr<const Constraint> c_;
  Matcher m_;
  State state_;
  bool done_ = false;
  bool fresh_ = false;  // mask_ is for state_
  std::vector<uint64_t> mask_;
  std::vector<State> states_;  // walk scratch, one per trie depth
};

}  // namespace helix::grammar
