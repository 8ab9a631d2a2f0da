// The pre-tokenizer regex engine (see pre_regex.h): a parser from the pattern to a small
// program (alternatives of sequences of quantified nodes), and a backtracking matcher that
// walks it with explicit continuations, so that every quantifier can give back what it took.
#include "tokenizer/pre_regex.h"

#include <utility>
#include <vector>

#include "core/error.h"
#include "tokenizer/unicode.h"

namespace helix::tok {

namespace {

constexpr uint32_t kInf = 0xffffffffu;

// One property test: flags & any, and none of `none`.
struct Prop {
  uint16_t any;
  uint16_t none;
};

struct CharClass {
  bool negate = false;
  bool icase = false;
  std::vector<std::pair<uint32_t, uint32_t>> ranges;
  std::vector<Prop> props;
  std::vector<int> unions;         // nested classes, any of which matches
  std::vector<int> intersections;  // classes that must all match too (&&)
};

struct Node {
  enum Kind : uint8_t { kClass, kGroup, kAhead, kNotAhead, kEol, kWordBoundary };
  Kind kind = kClass;
  bool possessive = false;
  uint32_t min = 1, max = 1;
  int arg = 0;  // class index, or alternation index
};

using Seq = std::vector<Node>;

uint32_t ascii_upper(uint32_t c) { return c >= 'a' && c <= 'z' ? c - 32 : c; }

}  // namespace

struct PreRegex::Program {
  std::string pattern;
  std::vector<CharClass> classes;
  std::vector<std::vector<Seq>> alts;  // alts[0]: the whole pattern

  bool class_match(int k, uint32_t cp, uint16_t fl) const {
    const CharClass& c = classes[static_cast<size_t>(k)];
    bool m = false;
    for (const auto& [lo, hi] : c.ranges) {
      if ((cp >= lo && cp <= hi) ||
          (c.icase && ((to_lower(cp) >= lo && to_lower(cp) <= hi) ||
                       (ascii_upper(cp) >= lo && ascii_upper(cp) <= hi)))) {
        m = true;
        break;
      }
    }
    for (size_t i = 0; !m && i < c.props.size(); ++i)
      m = (fl & c.props[i].any) && !(fl & c.props[i].none);
    for (size_t i = 0; !m && i < c.unions.size(); ++i) m = class_match(c.unions[i], cp, fl);
    for (size_t i = 0; m && i < c.intersections.size(); ++i)
      m = class_match(c.intersections[i], cp, fl);
    return m != c.negate;
  }
};

namespace {

using Program = PreRegex::Program;

class Parser {
 public:
  Parser(std::string_view pattern, Program& p) : p_(p) {
    size_t i = 0;
    while (i < pattern.size()) s_.push_back(decode_utf8(pattern, i));
  }

  void parse() {
    p_.alts.emplace_back();
    parse_alt(0);
    if (i_ < s_.size()) fail("unbalanced ')'");
  }

 private:
  [[noreturn]] void fail(const char* what) const {
    const std::string& re = p_.pattern;
    throw Error(cat("pre-tokenizer regex '", re.size() > 80 ? re.substr(0, 77) + "..." : re, "': ",
                    what, " at character ", i_));
  }
  bool at(uint32_t c) const { return i_ < s_.size() && s_[i_] == c; }
  uint32_t next() {
    if (i_ >= s_.size()) fail("unexpected end");
    return s_[i_++];
  }

  void parse_alt(size_t a) {
    while (true) {
      Seq seq;
      while (i_ < s_.size() && !at('|') && !at(')')) seq.push_back(parse_quantified());
      p_.alts[a].push_back(std::move(seq));
      if (!at('|')) return;
      ++i_;
    }
  }

  int new_alt() {
    p_.alts.emplace_back();
    return static_cast<int>(p_.alts.size() - 1);
  }

  Node parse_quantified() {
    Node n = parse_atom();
    uint32_t lo = 0, hi = 1;
    if (at('?')) {
      ++i_;
    } else if (at('*') || at('+')) {
      lo = at('+') ? 1 : 0;
      hi = kInf;
      ++i_;
    } else if (at('{') && parse_braces(lo, hi)) {
      ++i_;  // '}'
    } else {
      return n;
    }
    if (n.kind != Node::kClass && n.kind != Node::kGroup) fail("quantified assertion");
    n.min = lo;
    n.max = hi;
    if (at('?')) fail("lazy quantifiers are not supported");
    if (at('+')) {
      if (n.kind != Node::kClass) fail("possessive groups are not supported");
      n.possessive = true;
      ++i_;
    }
    return n;
  }

  // {n} {n,} {n,m}: on success leaves i_ at the closing brace.
  bool parse_braces(uint32_t& lo, uint32_t& hi) {
    size_t j = i_ + 1;
    auto number = [&](uint32_t& v) {
      const size_t start = j;
      v = 0;
      while (j < s_.size() && s_[j] >= '0' && s_[j] <= '9') v = v * 10 + (s_[j++] - '0');
      return j > start;
    };
    if (!number(lo)) return false;
    hi = lo;
    if (j < s_.size() && s_[j] == ',') {
      ++j;
      if (!number(hi)) hi = kInf;
    }
    if (j >= s_.size() || s_[j] != '}' || hi < lo) return false;
    i_ = j;
    return true;
  }

  Node parse_atom() {
    Node n;
    const uint32_t c = next();
    if (c == '(') {
      bool saved = icase_;
      n.kind = Node::kGroup;
      if (at('?')) {
        ++i_;
        const uint32_t k = next();
        if (k == '=') n.kind = Node::kAhead;
        else if (k == '!') n.kind = Node::kNotAhead;
        else if (k == 'i' && at(':')) ++i_, icase_ = true;
        else if (k != ':') fail("unsupported group");
      }
      n.arg = new_alt();
      parse_alt(static_cast<size_t>(n.arg));
      if (!at(')')) fail("missing ')'");
      ++i_;
      icase_ = saved;
      return n;
    }
    if (c == '$') {
      n.kind = Node::kEol;
      return n;
    }
    if (c == '\\' && at('b')) {
      ++i_;
      n.kind = Node::kWordBoundary;
      return n;
    }
    if (c == '.' || c == '^' || c == ')' || c == '|' || c == '*' || c == '+' || c == '?')
      fail("unsupported syntax");
    CharClass cls;
    cls.icase = icase_;
    if (c == '[') {
      parse_class_body(cls);
      ++i_;  // ']'
    } else if (c == '\\') {
      uint32_t ch = 0;
      if (!class_escape(cls, ch)) cls.ranges.push_back({ch, ch});
    } else {
      cls.ranges.push_back({c, c});
    }
    n.arg = add_class(std::move(cls));
    return n;
  }

  int add_class(CharClass c) {
    p_.classes.push_back(std::move(c));
    return static_cast<int>(p_.classes.size() - 1);
  }

  // After '[': fills `c` up to (not including) the closing ']'.
  void parse_class_body(CharClass& c) {
    if (at('^')) c.negate = true, ++i_;
    while (!at(']')) {
      if (i_ >= s_.size()) fail("missing ']'");
      if (at('&') && i_ + 1 < s_.size() && s_[i_ + 1] == '&') {
        i_ += 2;
        CharClass rest;
        rest.icase = icase_;
        parse_class_body(rest);
        c.intersections.push_back(add_class(std::move(rest)));
        return;
      }
      const uint32_t x = next();
      if (x == '[') {
        CharClass inner;
        inner.icase = icase_;
        parse_class_body(inner);
        ++i_;
        c.unions.push_back(add_class(std::move(inner)));
        continue;
      }
      uint32_t lo = x;
      if (x == '\\' && class_escape(c, lo)) continue;
      uint32_t hi = lo;
      if (at('-') && i_ + 1 < s_.size() && s_[i_ + 1] != ']') {
        ++i_;
        hi = next();
        if (hi == '\\' && class_escape(c, hi)) fail("class escape as a range end");
        if (hi < lo) fail("bad range");
      }
      c.ranges.push_back({lo, hi});
    }
  }

  static uint32_t escaped_char(uint32_t e) {
    switch (e) {
      case 'r': return '\r';
      case 'n': return '\n';
      case 't': return '\t';
      case 'f': return '\f';
      case 'v': return '\v';
      default: return e;
    }
  }

  // After '\': adds a class escape (\s, \p{..}, ...) to `c` and returns true, or returns false
  // with the escaped character in `ch`.
  bool class_escape(CharClass& c, uint32_t& ch) {
    const uint32_t e = next();
    auto negated = [&](Prop p) {
      CharClass n;
      n.negate = true;
      n.props.push_back(p);
      c.unions.push_back(add_class(std::move(n)));
    };
    switch (e) {
      case 's': c.props.push_back({kWhitespaceBit, 0}); return true;
      case 'S': negated({kWhitespaceBit, 0}); return true;
      case 'd': c.props.push_back({kDigit, 0}); return true;
      case 'D': negated({kDigit, 0}); return true;
      case 'p':
      case 'P': {
        const Prop p = property();
        if (e == 'p') c.props.push_back(p);
        else negated(p);
        return true;
      }
      case 'x':
        ch = hex_code_point();
        return false;
      default: {
        const bool letter = (e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z');
        if ((letter && escaped_char(e) == e) || (e >= '0' && e <= '9')) fail("unsupported escape");
        ch = escaped_char(e);
        return false;
      }
    }
  }

  // After \x: {H...} or HH.
  uint32_t hex_code_point() {
    const bool braces = at('{');
    if (braces) ++i_;
    uint32_t v = 0;
    size_t n = 0;
    for (; i_ < s_.size() && (braces || n < 2); ++n) {
      const uint32_t h = s_[i_];
      const int d = h >= '0' && h <= '9' ? static_cast<int>(h - '0')
                    : (h | 32) >= 'a' && (h | 32) <= 'f' ? static_cast<int>((h | 32) - 'a' + 10)
                                                         : -1;
      if (d < 0) break;
      v = v * 16 + static_cast<uint32_t>(d);
      ++i_;
    }
    if (n == 0 || (braces && !at('}')) || v > 0x10ffff) fail("bad \\x escape");
    if (braces) ++i_;
    return v;
  }

  Prop property() {
    if (!at('{')) fail("expected '{' after \\p");
    ++i_;
    std::string name;
    while (!at('}')) name.push_back(static_cast<char>(next()));
    ++i_;
    static const std::pair<const char*, Prop> kProps[] = {
        {"L", {kLetter, 0}},    {"Lu", {kUpper, 0}},  {"Lt", {kUpper, 0}},
        {"Ll", {kLower, 0}},    {"Lm", {kLetter, kUpper | kLower}},
        {"Lo", {kLetter, kUpper | kLower}},           {"M", {kMark, 0}},
        {"N", {kNumber, 0}},    {"Nd", {kDigit, 0}},  {"P", {kPunct, 0}},
        {"S", {kSymbol, 0}},    {"Z", {kSeparator, 0}}, {"Han", {kHan, 0}},
    };
    for (const auto& [n, p] : kProps)
      if (name == n) return p;
    fail("unsupported property");
  }

  Program& p_;
  std::u32string s_;
  size_t i_ = 0;
  bool icase_ = false;
};

// Backtracking over the program with explicit continuations: a K says what to do after the
// current node succeeds (the rest of a sequence, another iteration of a group, or accept).
class Matcher {
 public:
  Matcher(const Program& p, const CpText& t, uint32_t b, uint32_t e) : p_(p), t_(t), b_(b), e_(e) {}

  int64_t match(uint32_t pos) {
    const K accept{K::kAccept, nullptr, 0, nullptr, 0, 0, nullptr};
    return alt(0, pos, &accept) ? static_cast<int64_t>(end_) : int64_t{-1};
  }

 private:
  struct K {
    enum Type : uint8_t { kAccept, kRest, kRepeat } type;
    const Seq* seq;
    size_t idx;
    const Node* node;
    uint32_t count;
    uint32_t start;
    const K* next;
  };

  bool word(uint32_t pos) const {
    return pos >= b_ && pos < e_ && is_word_char(t_.cp[pos], t_.fl[pos]);
  }

  bool cls(int k, uint32_t pos) const {
    return pos >= b_ && pos < e_ && p_.class_match(k, t_.cp[pos], t_.fl[pos]);
  }

  bool run(const K* k, uint32_t pos) {
    switch (k->type) {
      case K::kAccept:
        end_ = pos;
        return true;
      case K::kRest:
        return seq(*k->seq, k->idx, pos, k->next);
      case K::kRepeat:
        if (pos == k->start && k->count > k->node->min) return false;  // an empty iteration
        return repeat(*k->node, k->count, pos, k->next);
    }
    return false;
  }

  bool alt(int a, uint32_t pos, const K* k) {
    for (const Seq& s : p_.alts[static_cast<size_t>(a)])
      if (seq(s, 0, pos, k)) return true;
    return false;
  }

  // Each group iteration nests a few calls: a word long enough to exhaust the stack is refused.
  struct Depth {
    explicit Depth(Matcher& m) : m_(m) {
      if (++m_.depth_ > kMaxDepth)
        throw Error(cat("pre-tokenizer regex '", m_.p_.pattern.substr(0, 60),
                        "...': a word too long for its repeated group (about ", kMaxDepth / 2,
                        " code points at most)"));
    }
    ~Depth() { --m_.depth_; }
    Matcher& m_;
  };
  static constexpr int kMaxDepth = 4000;  // ~10 calls of ~150 bytes each per level

  bool repeat(const Node& n, uint32_t count, uint32_t pos, const K* k) {
    const Depth guard(*this);
    if (count < n.max) {
      const K again{K::kRepeat, nullptr, 0, &n, count + 1, pos, k};
      if (alt(n.arg, pos, &again)) return true;
    }
    return count >= n.min && run(k, pos);
  }

  bool seq(const Seq& s, size_t i, uint32_t pos, const K* k) {
    if (i == s.size()) return run(k, pos);
    const Node& n = s[i];
    switch (n.kind) {
      case Node::kClass: {
        uint32_t cnt = 0;
        while (cnt < n.max && cls(n.arg, pos + cnt)) ++cnt;
        if (cnt < n.min) return false;
        if (n.possessive) return seq(s, i + 1, pos + cnt, k);
        for (uint32_t c = cnt + 1; c-- > n.min;)
          if (seq(s, i + 1, pos + c, k)) return true;
        return false;
      }
      case Node::kGroup: {
        const K rest{K::kRest, &s, i + 1, nullptr, 0, 0, k};
        return repeat(n, 0, pos, &rest);
      }
      case Node::kAhead:
      case Node::kNotAhead: {
        const K accept{K::kAccept, nullptr, 0, nullptr, 0, 0, nullptr};
        const uint32_t saved = end_;
        const bool found = alt(n.arg, pos, &accept);
        end_ = saved;
        if (found != (n.kind == Node::kAhead)) return false;
        return seq(s, i + 1, pos, k);
      }
      case Node::kEol:
        if (pos != e_ && t_.cp[pos] != '\n') return false;
        return seq(s, i + 1, pos, k);
      case Node::kWordBoundary:
        if (word(pos - 1) == word(pos)) return false;
        return seq(s, i + 1, pos, k);
    }
    return false;
  }

  const Program& p_;
  const CpText& t_;
  uint32_t b_, e_;
  uint32_t end_ = 0;
  int depth_ = 0;
};

}  // namespace

PreRegex::PreRegex(std::string_view pattern) {
  auto p = std::make_shared<Program>();
  p->pattern = std::string(pattern);
  Parser(pattern, *p).parse();
  p_ = std::move(p);
}

int64_t PreRegex::match_at(const CpText& t, uint32_t b, uint32_t e, uint32_t pos) const {
  return Matcher(*p_, t, b, e).match(pos);
}

const std::string& PreRegex::pattern() const { return p_->pattern; }

}  // namespace helix::tok
