// Pre-tokenizer scanners (see pretokenize.h). Text is decoded once into code points with their
// category flags; each stage turns a list of pieces (code point ranges) into a finer list.
// The gpt2 and llama3 scanners follow the alternation order of their regexes branch by branch;
// the generic stages emulate a regex iterator: the leftmost match, then the next search after
// it, with the unmatched gaps kept as pieces of their own.
#include "tokenizer/pretokenize.h"

#include <algorithm>
#include <iterator>

#include "core/error.h"
#include "tokenizer/unicode.h"

namespace helix::tok {
namespace {

struct Piece {
  uint32_t b;
  uint32_t e;
};

struct Ctx {
  std::vector<uint32_t> cp;
  std::vector<uint16_t> fl;
  std::vector<uint32_t> off;  // byte offset of each code point, plus the text size
  std::vector<Piece> a;
  std::vector<Piece> b;

  void decode(std::string_view text) {
    cp.clear();
    fl.clear();
    off.clear();
    size_t i = 0;
    while (i < text.size()) {
      off.push_back(static_cast<uint32_t>(i));
      const uint32_t c = decode_utf8(text, i);
      cp.push_back(c);
      fl.push_back(cp_flags(c));
    }
    off.push_back(static_cast<uint32_t>(text.size()));
  }
};

constexpr uint16_t kWs = kWhitespaceBit;
constexpr uint32_t kOutOfRange = 0xffffffffu;

// A scanner works on one piece [b, e); code points outside it read as "nothing".
struct View {
  const Ctx& c;
  size_t b, e;
  uint32_t cp(size_t p) const { return p >= b && p < e ? c.cp[p] : kOutOfRange; }
  uint16_t fl(size_t p) const { return p >= b && p < e ? c.fl[p] : 0; }
};

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
void scan_gpt2(const Ctx& c, Piece pc, std::vector<Piece>& out) {
  const View v{c, pc.b, pc.e};
  size_t prev = pc.b;
  auto add = [&](size_t end) {
    if (end > prev) out.push_back({static_cast<uint32_t>(prev), static_cast<uint32_t>(end)});
    prev = end;
  };
  for (size_t pos = pc.b; pos < pc.e;) {
    const uint32_t cpt = v.cp(pos);
    const uint16_t f = v.fl(pos);
    if (cpt == '\'' && pos + 1 < pc.e) {
      const uint32_t n1 = v.cp(pos + 1);
      if (n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd') {
        add(pos += 2);
        continue;
      }
      if (pos + 2 < pc.e) {
        const uint32_t n2 = v.cp(pos + 2);
        if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l')) {
          add(pos += 3);
          continue;
        }
      }
    }
    uint16_t f2 = cpt == ' ' ? v.fl(pos + 1) : f;
    if (f2 & kLetter) {
      pos += (cpt == ' ');
      while (f2 & kLetter) f2 = v.fl(++pos);
      add(pos);
      continue;
    }
    if (f2 & kNumber) {
      pos += (cpt == ' ');
      while (f2 & kNumber) f2 = v.fl(++pos);
      add(pos);
      continue;
    }
    if (!(f2 & (kWs | kLetter | kNumber)) && f2) {
      pos += (cpt == ' ');
      while (!(f2 & (kWs | kLetter | kNumber)) && f2) f2 = v.fl(++pos);
      add(pos);
      continue;
    }
    size_t nws = 0;
    while (v.fl(pos + nws) & kWs) ++nws;
    if (nws > 1 && pos + nws < pc.e) {  // \s+(?!\S): leave the last space to the next word
      add(pos += nws - 1);
      continue;
    }
    if (nws > 0) {
      add(pos += nws);
      continue;
    }
    add(++pos);
  }
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,D}| ?[^\s\p{L}\p{N}]+[\r\n]*|
// \s*[\r\n]+|\s+(?!\S)|\s+   with D = max_digits (3 for llama3, 1 for qwen2)
void scan_llama3(const Ctx& c, Piece pc, size_t max_digits, std::vector<Piece>& out) {
  const View v{c, pc.b, pc.e};
  size_t prev = pc.b;
  auto add = [&](size_t end) {
    if (end > prev) out.push_back({static_cast<uint32_t>(prev), static_cast<uint32_t>(end)});
    prev = end;
  };
  for (size_t pos = pc.b; pos < pc.e;) {
    const uint32_t cpt = v.cp(pos);
    const uint16_t f = v.fl(pos);
    if (cpt == '\'' && pos + 1 < pc.e) {
      const uint32_t n1 = to_lower(v.cp(pos + 1));
      if (n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd') {
        add(pos += 2);
        continue;
      }
      if (pos + 2 < pc.e) {
        const uint32_t n2 = to_lower(v.cp(pos + 2));
        if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l')) {
          add(pos += 3);
          continue;
        }
      }
    }
    if (!(cpt == '\r' || cpt == '\n' || (f & kNumber))) {
      if ((f & kLetter) || (v.fl(pos + 1) & kLetter)) {
        ++pos;
        while (v.fl(pos) & kLetter) ++pos;
        add(pos);
        continue;
      }
    }
    if (f & kNumber) {
      size_t ini = pos;
      while (v.fl(pos) & kNumber) {
        if (++pos - ini >= max_digits) {
          add(pos);
          ini = pos;
        }
      }
      add(pos);
      continue;
    }
    uint16_t f2 = cpt == ' ' ? v.fl(pos + 1) : f;
    if (!(f2 & (kWs | kLetter | kNumber)) && f) {
      pos += (cpt == ' ');
      while (!(f2 & (kWs | kLetter | kNumber)) && f2) f2 = v.fl(++pos);
      uint32_t c2 = v.cp(pos);
      while (c2 == '\r' || c2 == '\n') c2 = v.cp(++pos);
      add(pos);
      continue;
    }
    size_t nws = 0;
    size_t last_rn = 0;
    while (v.fl(pos + nws) & kWs) {
      const uint32_t c2 = v.cp(pos + nws);
      if (c2 == '\r' || c2 == '\n') last_rn = pos + nws + 1;
      ++nws;
    }
    if (last_rn > 0) {  // \s*[\r\n]+
      add(pos = last_rn);
      continue;
    }
    if (nws > 1 && pos + nws < pc.e) {
      add(pos += nws - 1);
      continue;
    }
    if (nws > 0) {
      add(pos += nws);
      continue;
    }
    add(++pos);
  }
}

// Regex-iterator emulation: `match(p, e)` returns the end of the match that starts at p (0 if
// none); matches and the gaps between them become pieces.
template <class Match>
void split_matches(const std::vector<Piece>& in, std::vector<Piece>& out, Match match) {
  for (const Piece pc : in) {
    uint32_t gap = pc.b;
    for (uint32_t p = pc.b; p < pc.e;) {
      const uint32_t m = match(p, pc.e);
      if (m > p) {
        if (p > gap) out.push_back({gap, p});
        out.push_back({p, m});
        p = gap = m;
      } else {
        ++p;
      }
    }
    if (gap < pc.e) out.push_back({gap, pc.e});
  }
}

// [class]+ where class(i) tests code point index i.
template <class Cls>
auto run_of(Cls cls) {
  return [cls](uint32_t p, uint32_t e) -> uint32_t {
    if (!cls(p)) return 0;
    while (p < e && cls(p)) ++p;
    return p;
  };
}

// \s?[class]+ (greedy optional whitespace, as a backtracking regex engine takes it).
template <class Cls>
auto space_then_run_of(const Ctx& c, Cls cls) {
  return [&c, cls](uint32_t p, uint32_t e) -> uint32_t {
    uint32_t q = p;
    if ((c.fl[p] & kWs) && p + 1 < e && cls(p + 1)) q = p + 1;
    if (!cls(q)) return 0;
    while (q < e && cls(q)) ++q;
    return q;
  };
}

// \s+$ : the whitespace that ends a piece.
void split_trailing_space(const Ctx& c, const std::vector<Piece>& in, std::vector<Piece>& out) {
  for (const Piece pc : in) {
    uint32_t t = pc.e;
    while (t > pc.b && (c.fl[t - 1] & kWs)) --t;
    if (t < pc.e && t > pc.b) out.push_back({pc.b, t});
    out.push_back({t < pc.e ? t : pc.b, pc.e});
  }
}

struct Range {
  uint32_t lo, hi;
};

bool in_ranges(uint32_t cp, const Range* r, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (cp >= r[i].lo && cp <= r[i].hi) return true;
  return false;
}

// DeepSeek LLM's letter class (from its tokenizer.json; cased letters of many scripts).
constexpr Range kDeepseekLetters[] = {
    {0x41, 0x5a}, {0x61, 0x7a}, {0xb5, 0xb5}, {0xc0, 0xd6}, {0xd8, 0xf6}, {0xf8, 0x1ba},
    {0x1bc, 0x1bf}, {0x1c4, 0x293}, {0x295, 0x2af}, {0x370, 0x373}, {0x376, 0x377},
    {0x37b, 0x37d}, {0x37f, 0x37f}, {0x386, 0x386}, {0x388, 0x38a}, {0x38c, 0x38c},
    {0x38e, 0x3a1}, {0x3a3, 0x3f5}, {0x3f7, 0x481}, {0x48a, 0x52f}, {0x531, 0x556},
    {0x10a0, 0x10c5}, {0x13a0, 0x13f5}, {0x13f8, 0x13fd}, {0x1c90, 0x1cba}, {0x1cbd, 0x1cbf},
    {0x1d00, 0x1d2b}, {0x1d6b, 0x1d77}, {0x1d79, 0x1d9a}, {0x1e00, 0x1f15}, {0x1f18, 0x1f1d},
    {0x1f20, 0x1f45}, {0x1f48, 0x1f4d}, {0x1f50, 0x1f57}, {0x1f59, 0x1f59}, {0x1f5b, 0x1f5b},
    {0x1f5d, 0x1f5d}, {0x1f5f, 0x1f7d}, {0x1f80, 0x1fb4}, {0x1fb6, 0x1fbc}, {0x1fbe, 0x1fbe},
    {0x1fc2, 0x1fc4}, {0x1fc6, 0x1fcc}, {0x1fd0, 0x1fd3}, {0x1fd6, 0x1fdb}, {0x1fe0, 0x1fec},
    {0x1ff2, 0x1ff4}, {0x1ff6, 0x1ffc}, {0x2102, 0x2102}, {0x2107, 0x2107}, {0x210a, 0x2113},
    {0x2115, 0x2115}, {0x2119, 0x211d}, {0x2124, 0x2124}, {0x2126, 0x2126}, {0x2128, 0x2128},
    {0x212a, 0x212d}, {0x212f, 0x2134}, {0x2139, 0x2139}, {0x213c, 0x213f}, {0x2145, 0x2149},
    {0x214e, 0x214e}, {0x2183, 0x2184}, {0x2c00, 0x2c7b}, {0x2c7e, 0x2ce4}, {0x2ceb, 0x2cee},
    {0x2cf2, 0x2cf3}, {0xa640, 0xa66d}, {0xa680, 0xa69b}, {0xa722, 0xa76f}, {0xa771, 0xa787},
    {0xa78b, 0xa78e}, {0xab70, 0xabbf}, {0xfb00, 0xfb06}, {0xfb13, 0xfb17}, {0xff21, 0xff3a},
    {0xff41, 0xff5a}, {0x10400, 0x1044f}, {0x104b0, 0x104d3}, {0x104d8, 0x104fb},
    {0x10c80, 0x10cb2}, {0x10cc0, 0x10cf2}, {0x118a0, 0x118df}, {0x1e900, 0x1e943},
};
// [!-/:-~！-／：-～‘-‟　-。]
constexpr Range kDeepseekPunct[] = {{0x21, 0x2f},     {0x3a, 0x7e},     {0xff01, 0xff0f},
                                    {0xff1a, 0xff5e}, {0x2018, 0x201f}, {0x3000, 0x3002}};
// [一-龥ࠀ-一가-퟿]
constexpr Range kDeepseekCjk[] = {{0x4e00, 0x9fa5}, {0x800, 0x4e00}, {0xac00, 0xd7ff}};

// ASCII members of llama.cpp's \p{P} stand-in, !-#%-*,-/:-;?-@[-]_{}
bool ascii_punct(uint32_t cp) {
  return (cp >= 0x21 && cp <= 0x23) || (cp >= 0x25 && cp <= 0x2a) || (cp >= 0x2c && cp <= 0x2f) ||
         cp == 0x3a || cp == 0x3b || cp == 0x3f || cp == 0x40 || (cp >= 0x5b && cp <= 0x5d) ||
         cp == 0x5f || cp == 0x7b || cp == 0x7d;
}

// Code point class tests the way llama.cpp's regex fallback sees them: non-ASCII whitespace
// stands in as \v, other non-ASCII code points as their category.
struct Classes {
  const Ctx& c;
  bool ws(uint32_t i) const { return c.fl[i] & kWs; }
  bool wide(uint32_t i, const Range* r, size_t n) const {  // std::wregex class on the text
    return !(c.cp[i] > 0x7f && ws(i)) && in_ranges(c.cp[i], r, n);
  }
  bool number(uint32_t i) const {  // \p{N}
    const uint32_t x = c.cp[i];
    return x < 0x80 ? (x >= '0' && x <= '9') : (!ws(i) && (c.fl[i] & kNumber));
  }
  bool punct(uint32_t i, bool with_backtick) const {  // [\p{P}\$\+<=>\^~\|] (+ `)
    const uint32_t x = c.cp[i];
    if (x >= 0x80) return !ws(i) && (c.fl[i] & kPunct);
    return ascii_punct(x) || x == '$' || x == '+' || x == '<' || x == '=' || x == '>' ||
           x == '^' || x == '~' || x == '|' || (with_backtick && x == '`');
  }
  bool ascii_digit(uint32_t i) const { return c.cp[i] >= '0' && c.cp[i] <= '9'; }
};

void stage_gpt2(const Ctx& c, const std::vector<Piece>& in, std::vector<Piece>& out) {
  for (const Piece pc : in) scan_gpt2(c, pc, out);
}

void stage_three_digits(const Ctx& c, const std::vector<Piece>& in, std::vector<Piece>& out) {
  const Classes k{c};
  split_matches(in, out, [&](uint32_t p, uint32_t e) -> uint32_t {
    return p + 3 <= e && k.ascii_digit(p) && k.ascii_digit(p + 1) && k.ascii_digit(p + 2) ? p + 3 : 0;
  });
}


}  // namespace

PreType pre_type_from_name(const std::string& n) {
  if (n.empty() || n == "default") return PreType::kDefault;
  for (const char* s : {"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral",
                        "midm-2.0", "lfm2", "dbrx", "smaug-bpe", "glm4", "chatglm-bpe"})
    if (n == s) return PreType::kLlama3;
  for (const char* s : {"qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "stablelm2", "hunyuan",
                        "solar-open", "grok-2"})
    if (n == s) return PreType::kQwen2;
  for (const char* s : {"gpt-2", "gpt2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es",
                        "jina-v2-de", "a.x-4.0", "mellum", "modern-bert", "jina-v1-en",
                        "jina-v2-code", "roberta-bpe", "mpt", "olmo", "jais", "trillion",
                        "granite-docling"})
    if (n == s) return PreType::kGpt2;
  if (n == "deepseek-llm") return PreType::kDeepseekLlm;
  if (n == "falcon") return PreType::kFalcon;
  throw Error(cat("unsupported pre-tokenizer '", n,
                  "' (known: default, gpt2 family, llama3 family, qwen2 family, deepseek-llm, falcon)"));
}

bool pre_ignores_merges(const std::string& n) {
  for (const char* s : {"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral",
                        "midm-2.0", "lfm2"})
    if (n == s) return true;
  return false;
}

void pretokenize(PreType type, std::string_view text, std::vector<Span>& out) {
  if (text.empty()) return;
  thread_local Ctx c;
  c.decode(text);
  const auto n = static_cast<uint32_t>(c.cp.size());
  std::vector<Piece>& a = c.a;
  std::vector<Piece>& b = c.b;
  a.clear();
  b.clear();
  const Piece whole{0, n};
  const Classes k{c};
  auto next = [&]() {  // the output of a stage becomes the input of the next
    a.swap(b);
    b.clear();
  };
  switch (type) {
    case PreType::kGpt2:
      scan_gpt2(c, whole, a);
      break;
    case PreType::kLlama3:
      scan_llama3(c, whole, 3, a);
      break;
    case PreType::kQwen2:
      scan_llama3(c, whole, 1, a);
      break;
    case PreType::kDefault:
      a.push_back(whole);
      split_matches(a, b, run_of([&](uint32_t i) { return k.punct(i, false); }));
      next();
      stage_gpt2(c, a, b);
      next();
      split_matches(a, b, run_of([&](uint32_t i) { return k.number(i); }));
      next();
      stage_three_digits(c, a, b);
      next();
      break;
    case PreType::kFalcon:
      a.push_back(whole);
      split_matches(a, b, run_of([&](uint32_t i) { return k.punct(i, true); }));
      next();
      stage_gpt2(c, a, b);
      next();
      stage_three_digits(c, a, b);
      next();
      break;
    case PreType::kDeepseekLlm:
      a.push_back(whole);
      split_matches(a, b, [&](uint32_t p, uint32_t) -> uint32_t {
        return c.cp[p] == '\r' || c.cp[p] == '\n' ? p + 1 : 0;
      });
      next();
      split_matches(a, b, space_then_run_of(c, [&](uint32_t i) {
                      return k.wide(i, kDeepseekLetters, std::size(kDeepseekLetters));
                    }));
      next();
      split_matches(a, b, space_then_run_of(c, [&](uint32_t i) {
                      return k.wide(i, kDeepseekPunct, std::size(kDeepseekPunct));
                    }));
      next();
      split_trailing_space(c, a, b);
      next();
      split_matches(a, b, run_of([&](uint32_t i) {
                      return k.wide(i, kDeepseekCjk, std::size(kDeepseekCjk));
                    }));
      next();
      split_matches(a, b, run_of([&](uint32_t i) { return k.number(i); }));
      next();
      break;
  }
  out.reserve(out.size() + a.size());
  for (const Piece pc : a) out.push_back({c.off[pc.b], c.off[pc.e]});
}

}  // namespace helix::tok
