// The byte-level pushdown matcher (see matcher.h). Each stack is processed as the last one in
// the output State, so frames can be pushed and popped at the end of the flat vector; an anyOf
// whose first byte fits several alternatives forks the stack, one copy per alternative.
#include "grammar/matcher.h"

#include <algorithm>
#include <array>

namespace helix::grammar {
namespace {

// Frame phases. Document (node -1):
constexpr uint8_t kDocStart = 0, kDocValue = 1, kDocEnd = 2;
// Every value frame starts in kStart, expecting its first byte.
constexpr uint8_t kStart = 0;
// Object.
constexpr uint8_t kObjFirst = 1,  // after '{': key or '}'
    kObjKey = 2,                  // after ',': key
    kObjInKey = 3,                // inside a listed key (a: candidate property, b: bytes matched)
    kObjKeyChild = 4,             // a free key (a String frame) is on top
    kObjColon = 5, kObjValue = 6,
    kObjValueChild = 7,           // the value frame is on top
    kObjAfter = 8;                // after a value: ',' or '}'
// Array (a: items completed).
constexpr uint8_t kArrFirst = 1, kArrItemChild = 2, kArrAfter = 3, kArrNext = 4;
// String, number, literal: one phase after the first byte.
constexpr uint8_t kIn = 1;
// Number scanner states (Frame::sub).
constexpr uint8_t kNumMinus = 1, kNumZero = 2, kNumInt = 3, kNumDot = 4, kNumFrac = 5, kNumE = 6, kNumESign = 7,
                  kNumExp = 8;

bool take_ws(Frame& f, uint8_t c) {
  if (f.ws == 0) {
    if (c == ' ' || c == '\t') return f.ws = 1, true;
    if (c == '\n') return f.ws = 2, true;
    return false;
  }
  if (f.ws >= 2 && f.ws < 2 + kMaxIndent && (c == ' ' || c == '\t')) return ++f.ws, true;
  return false;
}

bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

int64_t pow10(int k) {
  int64_t p = 1;
  while (k-- > 0) p *= 10;
  return p;
}

// String scanner states.
enum : uint8_t { kS = 0, kC1, kC2, kC3, kE0, kED, kF0, kF4, kEsc, kU1, kU2D, kU2, kU3, kU4, kNStates };

std::array<std::array<uint8_t, 256>, kNStates> build_string_table() {
  std::array<std::array<uint8_t, 256>, kNStates> t;
  for (auto& row : t) row.fill(strscan::kDead);
  auto range = [&](uint8_t s, int lo, int hi, uint8_t to) {
    for (int c = lo; c <= hi; ++c) t[s][static_cast<size_t>(c)] = to;
  };
  range(kS, 0x20, 0x7F, kS);
  t[kS]['"'] = strscan::kClose;
  t[kS]['\\'] = kEsc;
  range(kS, 0xC2, 0xDF, kC1);
  range(kS, 0xE0, 0xE0, kE0);
  range(kS, 0xE1, 0xEC, kC2);
  range(kS, 0xED, 0xED, kED);
  range(kS, 0xEE, 0xEF, kC2);
  range(kS, 0xF0, 0xF0, kF0);
  range(kS, 0xF1, 0xF3, kC3);
  range(kS, 0xF4, 0xF4, kF4);
  range(kC1, 0x80, 0xBF, kS);
  range(kC2, 0x80, 0xBF, kC1);
  range(kC3, 0x80, 0xBF, kC2);
  range(kE0, 0xA0, 0xBF, kC1);
  range(kED, 0x80, 0x9F, kC1);  // no UTF-16 surrogates
  range(kF0, 0x90, 0xBF, kC2);
  range(kF4, 0x80, 0x8F, kC2);
  for (uint8_t c : {'"', '\\', '/', 'b', 'f', 'n', 'r', 't'}) t[kEsc][c] = kS;
  t[kEsc]['u'] = kU1;
  auto hex = [&](uint8_t s, uint8_t to) {
    range(s, '0', '9', to);
    range(s, 'a', 'f', to);
    range(s, 'A', 'F', to);
  };
  hex(kU1, kU2);
  t[kU1]['d'] = t[kU1]['D'] = kU2D;  // \uD800-\uDFFF (surrogates) would count as two characters
  range(kU2D, '0', '7', kU3);
  hex(kU2, kU3);
  hex(kU3, kU4);
  hex(kU4, kS);
  return t;
}

const auto kStringTable = build_string_table();

}  // namespace

uint8_t strscan::next(uint8_t state, uint8_t c) { return state < kNStates ? kStringTable[state][c] : kDead; }

State Matcher::start() const {
  State s;
  s.frames.push_back(Frame{});
  s.ends.push_back(1);
  return s;
}

void Matcher::pop_done(State& out) const {
  out.frames.pop_back();
  Frame& p = out.frames.back();
  p.ws = 0;
  if (p.node < 0) {
    p.phase = kDocEnd;
    return;
  }
  const Node& n = g_.node(p.node);
  if (n.kind == Kind::kObject) {
    p.phase = p.phase == kObjKeyChild ? kObjColon : kObjAfter;
  } else {  // array
    p.phase = kArrAfter;
    ++p.a;
  }
}

// Whether an integer begun as `f` (sign, magnitude v with b digits, or just "-") can still be
// completed within the node's range.
bool Matcher::int_feasible(const Node& n, const Frame& f) const {
  if (f.sub == kNumMinus) return n.min_int <= 0;  // "-0" is 0
  if (f.sub == kNumZero) return n.min_int <= 0 && n.max_int >= 0;
  for (int j = 0; f.b + j <= kMaxIntDigits; ++j) {
    const int64_t p = pow10(j);
    int64_t lo = f.v * p, hi = f.v * p + (p - 1);
    if (f.neg) {
      const int64_t t = lo;
      lo = -hi;
      hi = -t;
    }
    if (hi >= n.min_int && lo <= n.max_int) return true;
  }
  return false;
}

// A number or literal frame that holds a complete value and ends when a byte does not continue it.
bool Matcher::may_end(const Frame& f) const {
  if (f.node < 0 || f.phase != kIn) return false;
  const Node& n = g_.node(f.node);
  if (n.kind == Kind::kLiteral) return n.literals[static_cast<size_t>(f.a)].size() == static_cast<size_t>(f.b);
  if (n.kind != Kind::kNumber) return false;
  if (f.sub != kNumZero && f.sub != kNumInt && f.sub != kNumFrac && f.sub != kNumExp) return false;
  if (!n.integer) return true;
  const int64_t v = f.neg ? -f.v : f.v;
  return v >= n.min_int && v <= n.max_int;
}

void Matcher::settle(State& out, size_t base, R r) const {
  if (r == R::kAlive) out.ends.push_back(static_cast<uint32_t>(out.frames.size()));
  else if (r == R::kDead) out.frames.resize(base);
}

Matcher::R Matcher::push(State& out, size_t base, int32_t id, uint8_t c) const {
  const Node& n = g_.node(id);
  if (!n.can_start(c)) return R::kDead;
  if (n.kind == Kind::kAnyOf) {
    int count = 0;
    int32_t only = -1;
    for (int32_t a : n.alts)
      if (g_.node(a).can_start(c)) ++count, only = a;
    if (count == 1) return push(out, base, only, c);
    // Several alternatives fit this byte: one copy of the stack for each.
    const std::vector<Frame> snap(out.frames.begin() + static_cast<std::ptrdiff_t>(base), out.frames.end());
    out.frames.resize(base);
    for (int32_t a : n.alts) {
      if (!g_.node(a).can_start(c)) continue;
      const size_t at = out.frames.size();
      out.frames.insert(out.frames.end(), snap.begin(), snap.end());
      settle(out, at, push(out, at, a, c));
    }
    return R::kForked;
  }
  if (out.frames.size() - base > kMaxDepth) return R::kDead;
  Frame f;
  f.node = id;
  out.frames.push_back(f);
  return feed(out, base, c);
}

Matcher::R Matcher::feed(State& out, size_t base, uint8_t c) const {
  for (;;) {
    Frame& f = out.frames.back();
    if (f.node < 0) {  // the document: whitespace before the value, nothing after it
      if (f.phase != kDocStart) return R::kDead;
      if (take_ws(f, c)) return R::kAlive;
      f.phase = kDocValue;
      f.ws = 0;
      return push(out, base, g_.root(), c);
    }
    const Node& n = g_.node(f.node);
    switch (n.kind) {
      case Kind::kObject: {
        const auto np = static_cast<int32_t>(n.props.size());
        switch (f.phase) {
          case kStart:
            if (c != '{') return R::kDead;
            f.phase = kObjFirst;
            return R::kAlive;
          case kObjFirst:
          case kObjKey:
            if (take_ws(f, c)) return R::kAlive;
            if (c == '}' && f.phase == kObjFirst) {
              if (!n.free_keys && n.next_required[0] != np) return R::kDead;
              pop_done(out);
              return R::kAlive;
            }
            if (c != '"') return R::kDead;
            f.ws = 0;
            if (n.free_keys) {
              f.phase = kObjKeyChild;
              return push(out, base, n.key, c);
            }
            if (f.a >= np) return R::kDead;
            f.phase = kObjInKey;  // every key starts with '"': f.a is the first candidate
            f.b = 1;
            return R::kAlive;
          case kObjInKey: {
            // Candidates: properties from f.a up to and including the first required one.
            const auto pos = static_cast<size_t>(f.b);
            const std::string& cur = n.props[static_cast<size_t>(f.a)].key;
            const int32_t last = std::min(n.next_required[static_cast<size_t>(f.a)], np - 1);
            for (int32_t j = f.a; j <= last; ++j) {
              const std::string& k = n.props[static_cast<size_t>(j)].key;
              if (k.size() > pos && static_cast<uint8_t>(k[pos]) == c && k.compare(0, pos, cur, 0, pos) == 0) {
                f.a = j;
                f.b = static_cast<int32_t>(pos + 1);
                if (k.size() == pos + 1) f.phase = kObjColon;
                return R::kAlive;
              }
            }
            return R::kDead;
          }
          case kObjColon:
            if (take_ws(f, c)) return R::kAlive;
            if (c != ':') return R::kDead;
            f.phase = kObjValue;
            f.ws = 0;
            return R::kAlive;
          case kObjValue:
            if (take_ws(f, c)) return R::kAlive;
            f.phase = kObjValueChild;
            f.ws = 0;
            return push(out, base, n.free_keys ? n.value : n.props[static_cast<size_t>(f.a)].value, c);
          case kObjAfter:
            if (take_ws(f, c)) return R::kAlive;
            if (c == ',') {
              if (!n.free_keys) {
                if (f.a + 1 >= np) return R::kDead;
                ++f.a;
              }
              f.phase = kObjKey;
              f.ws = 0;
              return R::kAlive;
            }
            if (c == '}') {
              if (!n.free_keys && n.next_required[static_cast<size_t>(f.a) + 1] != np) return R::kDead;
              pop_done(out);
              return R::kAlive;
            }
            return R::kDead;
          default:
            return R::kDead;
        }
      }
      case Kind::kArray: {
        auto item = [&](int32_t i) {
          return i < static_cast<int32_t>(n.prefix.size()) ? n.prefix[static_cast<size_t>(i)] : n.items;
        };
        switch (f.phase) {
          case kStart:
            if (c != '[') return R::kDead;
            f.phase = kArrFirst;
            return R::kAlive;
          case kArrFirst:
          case kArrNext:
            if (take_ws(f, c)) return R::kAlive;
            if (c == ']' && f.phase == kArrFirst) {
              if (n.min_items > 0) return R::kDead;
              pop_done(out);
              return R::kAlive;
            }
            if (f.a >= n.max_items) return R::kDead;
            f.phase = kArrItemChild;
            f.ws = 0;
            return push(out, base, item(f.a), c);
          case kArrAfter:
            if (take_ws(f, c)) return R::kAlive;
            if (c == ',' && f.a < n.max_items) {
              f.phase = kArrNext;
              f.ws = 0;
              return R::kAlive;
            }
            if (c == ']' && f.a >= n.min_items) {
              pop_done(out);
              return R::kAlive;
            }
            return R::kDead;
          default:
            return R::kDead;
        }
      }
      case Kind::kString: {
        if (f.phase == kStart) {
          if (c != '"') return R::kDead;
          f.phase = kIn;
          f.sub = strscan::kNormal;
          return R::kAlive;
        }
        const uint8_t nx = strscan::next(f.sub, c);
        if (nx == strscan::kClose) {
          if (f.b < n.min_len) return R::kDead;
          pop_done(out);
          return R::kAlive;
        }
        if (nx == strscan::kDead) return R::kDead;
        if (f.sub == strscan::kNormal) {  // a character starts
          if (f.b >= n.max_len) return R::kDead;
          ++f.b;
        }
        f.sub = nx;
        return R::kAlive;
      }
      case Kind::kNumber: {
        if (f.phase == kStart) f.phase = kIn;  // f.sub == 0: nothing read yet
        const bool digit = is_digit(c);
        bool took = true;
        switch (f.sub) {
          case 0:
            if (c == '-') f.sub = kNumMinus, f.neg = 1;
            else if (c == '0') f.sub = kNumZero;
            else if (digit) f.sub = kNumInt, f.v = c - '0', f.b = 1;
            else return R::kDead;
            break;
          case kNumMinus:
            if (c == '0') f.sub = kNumZero;
            else if (digit) f.sub = kNumInt, f.v = c - '0', f.b = 1;
            else return R::kDead;
            break;
          case kNumZero:
          case kNumInt:
            if (digit && f.sub == kNumInt && f.b < kMaxIntDigits) f.v = f.v * 10 + (c - '0'), ++f.b;
            else if (c == '.' && !n.integer) f.sub = kNumDot;
            else if ((c == 'e' || c == 'E') && !n.integer) f.sub = kNumE;
            else took = false;
            break;
          case kNumDot:
            if (!digit) return R::kDead;
            f.sub = kNumFrac, f.b = 1;
            break;
          case kNumFrac:
            if (digit && f.b < kMaxFracDigits) ++f.b;
            else if (c == 'e' || c == 'E') f.sub = kNumE;
            else took = false;
            break;
          case kNumE:
            if (c == '+' || c == '-') f.sub = kNumESign;
            else if (digit) f.sub = kNumExp, f.b = 1;
            else return R::kDead;
            break;
          case kNumESign:
            if (!digit) return R::kDead;
            f.sub = kNumExp, f.b = 1;
            break;
          case kNumExp:
            if (digit && f.b < kMaxExpDigits) ++f.b;
            else took = false;
            break;
          default:
            return R::kDead;
        }
        if (took) return (!n.integer || int_feasible(n, f)) ? R::kAlive : R::kDead;
        if (!may_end(f)) return R::kDead;
        pop_done(out);
        continue;  // the byte belongs to the enclosing frame
      }
      case Kind::kLiteral: {
        const auto pos = static_cast<size_t>(f.phase == kStart ? 0 : f.b);
        const std::string& cur = n.literals[static_cast<size_t>(f.a)];
        int32_t found = -1;
        for (size_t j = static_cast<size_t>(f.a); j < n.literals.size(); ++j) {
          const std::string& l = n.literals[j];
          if (l.size() > pos && static_cast<uint8_t>(l[pos]) == c && l.compare(0, pos, cur, 0, pos) == 0) {
            found = static_cast<int32_t>(j);
            break;
          }
        }
        if (found < 0) {
          if (!may_end(f)) return R::kDead;
          pop_done(out);
          continue;
        }
        f.phase = kIn;
        f.a = found;
        f.b = static_cast<int32_t>(pos + 1);
        const std::string& now = n.literals[static_cast<size_t>(found)];
        if (now.size() == pos + 1) {
          // Complete: end now unless a longer candidate shares these bytes (enum [1, 12]).
          bool longer = false;
          for (size_t j = static_cast<size_t>(found) + 1; j < n.literals.size() && !longer; ++j)
            longer = n.literals[j].size() > pos + 1 && n.literals[j].compare(0, pos + 1, now) == 0;
          if (!longer) pop_done(out);
        }
        return R::kAlive;
      }
      case Kind::kAnyOf:
        return R::kDead;  // never on a stack
    }
    return R::kDead;
  }
}

bool Matcher::advance(const State& in, uint8_t c, State& out) const {
  out.clear();
  for (size_t i = 0; i < in.ends.size(); ++i) {
    const size_t at = out.frames.size();
    out.frames.insert(out.frames.end(), in.frames.begin() + static_cast<std::ptrdiff_t>(in.begin_of(i)),
                      in.frames.begin() + static_cast<std::ptrdiff_t>(in.ends[i]));
    settle(out, at, feed(out, at, c));
  }
  if (out.ends.size() > 1) {
    // Drop stacks equal to an earlier one (alternatives that converged) and any beyond the cap.
    std::vector<Frame> frames;
    std::vector<uint32_t> ends;
    for (size_t i = 0; i < out.ends.size() && ends.size() < kMaxStacks; ++i) {
      const auto b = out.frames.begin() + static_cast<std::ptrdiff_t>(out.begin_of(i));
      const auto e = out.frames.begin() + static_cast<std::ptrdiff_t>(out.ends[i]);
      bool dup = false;
      for (size_t k = 0; k < ends.size() && !dup; ++k) {
        const auto kb = frames.begin() + static_cast<std::ptrdiff_t>(k ? ends[k - 1] : 0);
        const auto ke = frames.begin() + static_cast<std::ptrdiff_t>(ends[k]);
        dup = std::equal(b, e, kb, ke);
      }
      if (dup) continue;
      frames.insert(frames.end(), b, e);
      ends.push_back(static_cast<uint32_t>(frames.size()));
    }
    if (ends.size() != out.ends.size()) {
      out.frames.swap(frames);
      out.ends.swap(ends);
    }
  }
  return !out.ends.empty();
}

bool Matcher::advance(State& s, std::string_view bytes) const {
  State t;
  for (const char ch : bytes) {
    if (!advance(s, static_cast<uint8_t>(ch), t)) {
      s.clear();
      return false;
    }
    std::swap(s, t);
  }
  return !s.empty();
}

bool Matcher::complete(const State& s) const {
  for (size_t i = 0; i < s.ends.size(); ++i) {
    const size_t b = s.begin_of(i), e = s.ends[i];
    const Frame& top = s.frames[e - 1];
    if (top.node < 0 && top.phase == kDocEnd) return true;
    if (e - b == 2 && may_end(top)) return true;  // a number or literal directly in the document
  }
  return false;
}

}  // namespace helix::grammar
