// Structured output, part 2: a byte-level pushdown matcher for a Grammar. A State holds every
// way the bytes read so far can continue: usually one stack of frames (document, object, array,
// string, ...), several while anyOf alternatives are undecided. advance() reads one byte; a
// State with no stack left means the bytes can never become valid JSON for the schema.
//
// Whitespace between tokens is bounded so a model cannot emit it forever: each gap (after '{',
// '[', ',', ':', before ',', ':', '}', ']', and before the whole value) takes at most one run,
// either one space or tab, or one newline followed by up to kMaxIndent spaces or tabs. Nothing
// follows the complete value, so generation ends right after it.
//
//   Matcher m(*grammar);
//   State s = m.start(), t;
//   for (char c : text) { if (!m.advance(s, c, t)) break; std::swap(s, t); }
//   bool ok = m.complete(s);
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "grammar/grammar.h"

namespace helix::grammar {

constexpr int kMaxIndent = 20;
constexpr size_t kMaxStacks = 64;  // alternatives kept at once; more are dropped (never invalid)
constexpr size_t kMaxDepth = 64;   // values nested at most this deep (json_object, recursive schemas)

struct Frame {
  int32_t node = -1;  // -1: the document, at the bottom of every stack
  uint8_t phase = 0;
  uint8_t ws = 0;     // whitespace read in the current gap (see take_ws)
  uint8_t sub = 0;    // string / number scanner state
  uint8_t neg = 0;    // number: a minus sign was read
  int32_t a = 0;      // object: property index; array: items done; literal: candidate
  int32_t b = 0;      // key / literal: bytes matched; string: characters; number: digits
  int64_t v = 0;      // integer: magnitude so far (for ranges)
  bool operator==(const Frame&) const = default;
};

struct State {
  std::vector<Frame> frames;   // every stack, one after another
  std::vector<uint32_t> ends;  // stack i is frames[i ? ends[i-1] : 0, ends[i])
  size_t n_stacks() const { return ends.size(); }
  size_t begin_of(size_t i) const { return i ? ends[i - 1] : 0; }
  bool empty() const { return ends.empty(); }
  void clear() {
    frames.clear();
    ends.clear();
  }
  bool operator==(const State&) const = default;
};

// The scanner inside JSON strings: valid UTF-8 (no overlongs, no surrogates), escapes, no raw
// control characters. Exposed for the vocabulary's fast path (token_matcher.cpp).
namespace strscan {
constexpr uint8_t kNormal = 0;   // between characters
constexpr uint8_t kClose = 254;  // the closing quote
constexpr uint8_t kDead = 255;
uint8_t next(uint8_t state, uint8_t c);
}  // namespace strscan

class Matcher {
 public:
  explicit Matcher(const Grammar& g) : g_(g) {}

  State start() const;
  // out = in after byte c; false (out empty) when nothing survives. `out` must not be `in`.
  bool advance(const State& in, uint8_t c, State& out) const;
  // In place over several bytes; false (and s empty) when a byte is refused.
  bool advance(State& s, std::string_view bytes) const;
  // The bytes read so far form a complete value of the schema (trailing whitespace included).
  bool complete(const State& s) const;

  const Grammar& grammar() const { return g_; }

 private:
  enum class R { kDead, kAlive, kForked };
  R feed(State& out, size_t base, uint8_t c) const;
  R push(State& out, size_t base, int32_t node, uint8_t c) const;
  void settle(State& out, size_t base, R r) const;
  void pop_done(State& out) const;
  bool int_feasible(const Node& n, const Frame& f) const;
  bool may_end(const Frame& f) const;

  const Grammar& g_;
};

}  // namespace helix::grammar
