// Python str semantics on UTF-8 strings (see pystr.h). Case mapping and character classes
// beyond ASCII come from the C library's C.UTF-8 locale; Python's few multi-character case
// mappings that templates could meet (ß, İ) are special-cased.
#include "chat/pystr.h"

#include <locale.h>
#include <wctype.h>

#include <charconv>
#include <cmath>
#include <cstdio>

#include "core/error.h"

namespace helix::chat::py {

namespace {

locale_t utf8_locale() {
  static locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
  return loc;
}

char32_t decode_one(std::string_view s, size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  int n = 0;
  char32_t c = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 1;
    c = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 2;
    c = b0 & 0x0F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 3;
    c = b0 & 0x07;
  } else {
    ++i;
    return 0xDC00 + b0;
  }
  if (i + static_cast<size_t>(n) >= s.size()) {  // truncated sequence
    ++i;
    return 0xDC00 + b0;
  }
  for (int k = 1; k <= n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) {
      ++i;
      return 0xDC00 + b0;
    }
    c = (c << 6) | (b & 0x3F);
  }
  // Reject overlong forms, surrogates and values past U+10FFFF.
  if ((n == 2 && c < 0x800) || (n == 3 && (c < 0x10000 || c > 0x10FFFF)) ||
      (c >= 0xD800 && c <= 0xDFFF)) {
    ++i;
    return 0xDC00 + b0;
  }
  i += static_cast<size_t>(n) + 1;
  return c;
}

bool is_escaped_byte(char32_t c) { return c >= 0xDC80 && c <= 0xDCFF; }

std::u32string to_set(const std::string& chars) { return decode(chars); }

bool in_set(const std::u32string& set, char32_t c) { return set.find(c) != std::u32string::npos; }

// Python slice-style adjustment of optional [start, end) bounds to [0, n].
void adjust_bounds(int64_t n, std::optional<int64_t> start, std::optional<int64_t> end, int64_t& s,
                   int64_t& e) {
  s = start.value_or(0);
  e = end.value_or(n);
  if (s < 0) s = std::max<int64_t>(0, s + n);
  if (e < 0) e = std::max<int64_t>(0, e + n);
  if (e > n) e = n;
}

bool is_line_break(char32_t c) {
  return c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E ||
         c == 0x85 || c == 0x2028 || c == 0x2029;
}

}  // namespace

char32_t decode_at(std::string_view s, size_t& i) { return decode_one(s, i); }

bool is_ascii(std::string_view s) {
  for (char ch : s)
    if (static_cast<unsigned char>(ch) >= 0x80) return false;
  return true;
}

std::u32string decode(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) out.push_back(decode_one(s, i));
  return out;
}

void append_utf8(std::string& out, char32_t c) {
  if (is_escaped_byte(c)) {
    out.push_back(static_cast<char>(c - 0xDC00));
  } else if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

std::string encode(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) append_utf8(out, c);
  return out;
}

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size())
    if (is_escaped_byte(decode_one(s, i))) return false;
  return true;
}

size_t length(std::string_view s) {
  if (is_ascii(s)) return s.size();
  size_t i = 0, n = 0;
  while (i < s.size()) {
    decode_one(s, i);
    ++n;
  }
  return n;
}

bool isspace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

bool isprintable(char32_t c) {
  if (c < 0x20 || (c >= 0x7F && c <= 0xA0)) return false;
  if (c < 0x7F) return true;
  if (isspace(c)) return false;  // Zs (other than ' '), Zl, Zp
  if (c == 0xAD || (c >= 0x600 && c <= 0x605) || c == 0x61C || c == 0x6DD || c == 0x70F ||
      c == 0x8E2 || c == 0x180E || (c >= 0x200B && c <= 0x200F) || (c >= 0x202A && c <= 0x202E) ||
      (c >= 0x2060 && c <= 0x206F) || c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFB) || c == 0xFFFE ||
      c == 0xFFFF)
    return false;                                // Cf and noncharacters
  if (c >= 0xD800 && c <= 0xF8FF) return false;  // surrogates, private use
  if (c >= 0xE0000) return false;                // tags, private use planes
  return c <= 0x10FFFF;
}

bool isalpha(char32_t c) {
  if (c < 0x80) return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
  locale_t l = utf8_locale();
  return l && !is_escaped_byte(c) && iswalpha_l(static_cast<wint_t>(c), l);
}

bool isdigit(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  locale_t l = utf8_locale();
  return l && !is_escaped_byte(c) && iswalnum_l(static_cast<wint_t>(c), l) &&
         !iswalpha_l(static_cast<wint_t>(c), l);
}

bool isalnum(char32_t c) { return isalpha(c) || isdigit(c); }

bool isupper(char32_t c) {
  if (c < 0x80) return c >= 'A' && c <= 'Z';
  locale_t l = utf8_locale();
  return l && !is_escaped_byte(c) && iswupper_l(static_cast<wint_t>(c), l);
}

bool islower(char32_t c) {
  if (c < 0x80) return c >= 'a' && c <= 'z';
  locale_t l = utf8_locale();
  return l && !is_escaped_byte(c) && iswlower_l(static_cast<wint_t>(c), l);
}

bool iscased(char32_t c) { return isupper(c) || islower(c); }

char32_t toupper(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') ? c - 32 : c;
  locale_t l = utf8_locale();
  if (!l || is_escaped_byte(c)) return c;
  return static_cast<char32_t>(towupper_l(static_cast<wint_t>(c), l));
}

char32_t tolower(char32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  locale_t l = utf8_locale();
  if (!l || is_escaped_byte(c)) return c;
  return static_cast<char32_t>(towlower_l(static_cast<wint_t>(c), l));
}

namespace {

void put_upper(std::string& out, char32_t c) {
  if (c == 0xDF) {
    out += "SS";
    return;
  }
  append_utf8(out, toupper(c));
}

void put_lower(std::string& out, char32_t c) {
  if (c == 0x130) {
    out += "i\xCC\x87";
    return;
  }
  append_utf8(out, tolower(c));
}

}  // namespace

std::string upper(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : decode(s)) put_upper(out, c);
  return out;
}

std::string lower(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : decode(s)) put_lower(out, c);
  return out;
}

std::string swapcase(std::string_view s) {
  std::string out;
  for (char32_t c : decode(s)) {
    if (isupper(c))
      put_lower(out, c);
    else if (islower(c))
      put_upper(out, c);
    else
      append_utf8(out, c);
  }
  return out;
}

std::string capitalize(std::string_view s) {
  std::string out;
  bool first = true;
  for (char32_t c : decode(s)) {
    if (first)
      put_upper(out, c);
    else
      put_lower(out, c);
    first = false;
  }
  return out;
}

std::string title(std::string_view s) {
  std::string out;
  bool prev_cased = false;
  for (char32_t c : decode(s)) {
    if (prev_cased)
      put_lower(out, c);
    else
      put_upper(out, c);
    prev_cased = iscased(c);
  }
  return out;
}

std::string jinja_title(std::string_view s) {
  std::string out;
  bool word_start = true;
  for (char32_t c : decode(s)) {
    const bool sep = c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || isspace(c);
    if (word_start)
      put_upper(out, c);
    else
      put_lower(out, c);
    word_start = sep;
  }
  return out;
}

std::string strip(std::string_view s, const std::optional<std::string>& chars, bool left,
                  bool right) {
  const std::u32string u = decode(s);
  const std::u32string set = chars ? to_set(*chars) : std::u32string();
  auto strip_it = [&](char32_t c) { return chars ? in_set(set, c) : isspace(c); };
  size_t b = 0, e = u.size();
  if (left)
    while (b < e && strip_it(u[b])) ++b;
  if (right)
    while (e > b && strip_it(u[e - 1])) --e;
  return encode(std::u32string_view(u).substr(b, e - b));
}

std::vector<std::string> split(std::string_view s, const std::optional<std::string>& sep,
                               int64_t maxsplit) {
  std::vector<std::string> out;
  if (maxsplit < 0) maxsplit = INT64_MAX;
  if (sep) {
    if (sep->empty()) throw Error("empty separator");
    size_t pos = 0;
    while (maxsplit-- > 0) {
      const size_t f = s.find(*sep, pos);
      if (f == std::string_view::npos) break;
      out.emplace_back(s.substr(pos, f - pos));
      pos = f + sep->size();
    }
    out.emplace_back(s.substr(pos));
    return out;
  }
  const std::u32string u = decode(s);
  size_t i = 0;
  while (true) {
    while (i < u.size() && isspace(u[i])) ++i;
    if (i >= u.size()) break;
    if (maxsplit-- <= 0) {
      size_t e = u.size();
      while (e > i && isspace(u[e - 1])) --e;
      out.push_back(encode(std::u32string_view(u).substr(i, e - i)));
      break;
    }
    size_t j = i;
    while (j < u.size() && !isspace(u[j])) ++j;
    out.push_back(encode(std::u32string_view(u).substr(i, j - i)));
    i = j;
  }
  return out;
}

std::vector<std::string> rsplit(std::string_view s, const std::optional<std::string>& sep,
                                int64_t maxsplit) {
  std::vector<std::string> out;
  if (maxsplit < 0) return split(s, sep, maxsplit);
  if (sep) {
    if (sep->empty()) throw Error("empty separator");
    size_t end = s.size();
    while (maxsplit-- > 0) {
      if (end < sep->size()) break;
      const size_t f = s.rfind(*sep, end - sep->size());
      if (f == std::string_view::npos) break;
      out.emplace_back(s.substr(f + sep->size(), end - f - sep->size()));
      end = f;
    }
    out.emplace_back(s.substr(0, end));
  } else {
    const std::u32string u = decode(s);
    size_t e = u.size();
    while (true) {
      while (e > 0 && isspace(u[e - 1])) --e;
      if (e == 0) break;
      if (maxsplit-- <= 0) {
        size_t b = 0;
        while (b < e && isspace(u[b])) ++b;
        out.push_back(encode(std::u32string_view(u).substr(b, e - b)));
        break;
      }
      size_t b = e;
      while (b > 0 && !isspace(u[b - 1])) --b;
      out.push_back(encode(std::u32string_view(u).substr(b, e - b)));
      e = b;
    }
  }
  return {out.rbegin(), out.rend()};
}

std::vector<std::string> splitlines(std::string_view s, bool keepends) {
  std::vector<std::string> out;
  const std::u32string u = decode(s);
  size_t i = 0;
  while (i < u.size()) {
    size_t j = i;
    while (j < u.size() && !is_line_break(u[j])) ++j;
    size_t eol = j;
    if (j < u.size()) {
      eol = (u[j] == '\r' && j + 1 < u.size() && u[j + 1] == '\n') ? j + 2 : j + 1;
    }
    out.push_back(encode(std::u32string_view(u).substr(i, (keepends ? eol : j) - i)));
    i = eol;
  }
  return out;
}

std::string replace(std::string_view s, std::string_view old, std::string_view repl,
                    int64_t count) {
  if (count < 0) count = INT64_MAX;
  std::string out;
  if (old.empty()) {
    const std::u32string u = decode(s);
    for (char32_t c : u) {
      if (count > 0) {
        out += repl;
        --count;
      }
      append_utf8(out, c);
    }
    if (count > 0) out += repl;
    return out;
  }
  size_t pos = 0;
  while (count > 0) {
    const size_t f = s.find(old, pos);
    if (f == std::string_view::npos) break;
    out.append(s.substr(pos, f - pos));
    out.append(repl);
    pos = f + old.size();
    --count;
  }
  out.append(s.substr(pos));
  return out;
}

int64_t find(std::string_view s, std::string_view sub, std::optional<int64_t> start,
             std::optional<int64_t> end, bool reverse) {
  const std::u32string u = decode(s), w = decode(sub);
  const auto n = static_cast<int64_t>(u.size());
  int64_t b = 0, e = 0;
  adjust_bounds(n, start, end, b, e);
  if (b > n || e - b < static_cast<int64_t>(w.size())) return -1;
  const std::u32string_view hay = std::u32string_view(u).substr(b, e - b);
  const size_t f = reverse ? hay.rfind(w) : hay.find(w);
  return f == std::u32string_view::npos ? -1 : static_cast<int64_t>(f) + b;
}

int64_t count(std::string_view s, std::string_view sub, std::optional<int64_t> start,
              std::optional<int64_t> end) {
  const std::u32string u = decode(s), w = decode(sub);
  const auto n = static_cast<int64_t>(u.size());
  int64_t b = 0, e = 0;
  adjust_bounds(n, start, end, b, e);
  if (b > n || e < b) return 0;
  if (w.empty()) return e - b + 1;
  const std::u32string_view hay = std::u32string_view(u).substr(b, e - b);
  int64_t k = 0;
  size_t pos = 0;
  while ((pos = hay.find(w, pos)) != std::u32string_view::npos) {
    ++k;
    pos += w.size();
  }
  return k;
}

namespace {

// Removes '_' that sit between two digits (hex digits when `hex`); nullopt for any other '_'.
std::optional<std::string> strip_underscores(std::string_view s, bool hex) {
  auto is_d = [&](char c) {
    return (c >= '0' && c <= '9') || (hex && (c | 0x20) >= 'a' && (c | 0x20) <= 'f');
  };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_') {
      if (i == 0 || i + 1 >= s.size() || !is_d(s[i - 1]) || !is_d(s[i + 1])) return std::nullopt;
      continue;
    }
    out.push_back(s[i]);
  }
  return out;
}

}  // namespace

std::optional<double> parse_float(std::string_view s) {
  const std::string t = strip(s, std::nullopt, true, true);
  const auto clean = strip_underscores(t, false);
  if (!clean || clean->empty()) return std::nullopt;
  const std::string& c = *clean;
  size_t i = 0;
  if (c[i] == '+' || c[i] == '-') ++i;
  const std::string word = lower(c.substr(i));
  if (word == "inf" || word == "infinity" || word == "nan") {
    const double v = word == "nan" ? std::nan("") : INFINITY;
    return c[0] == '-' ? -v : v;
  }
  size_t digits = 0;
  while (i < c.size() && c[i] >= '0' && c[i] <= '9') ++i, ++digits;
  if (i < c.size() && c[i] == '.') {
    ++i;
    while (i < c.size() && c[i] >= '0' && c[i] <= '9') ++i, ++digits;
  }
  if (digits == 0) return std::nullopt;
  if (i < c.size() && (c[i] == 'e' || c[i] == 'E')) {
    ++i;
    if (i < c.size() && (c[i] == '+' || c[i] == '-')) ++i;
    size_t e = 0;
    while (i < c.size() && c[i] >= '0' && c[i] <= '9') ++i, ++e;
    if (e == 0) return std::nullopt;
  }
  if (i != c.size()) return std::nullopt;
  return std::strtod(c.c_str(), nullptr);
}

std::optional<int64_t> parse_int(std::string_view s, int base) {
  std::string t = strip(s, std::nullopt, true, true);
  bool neg = false;
  size_t i = 0;
  if (!t.empty() && (t[0] == '+' || t[0] == '-')) {
    neg = t[0] == '-';
    i = 1;
  }
  std::string body = t.substr(i);
  auto prefix = [&](char p, int b) {
    if (body.size() >= 2 && body[0] == '0' && (body[1] | 0x20) == p && (base == b || base == 0)) {
      body = body.substr(2);
      if (!body.empty() && body[0] == '_') body = body.substr(1);
      base = b;
      return true;
    }
    return false;
  };
  if (!prefix('x', 16) && !prefix('o', 8) && !prefix('b', 2) && base == 0) {
    base = 10;
    if (body.size() > 1 && body[0] == '0' && body.find_first_not_of("0_") != std::string::npos)
      return std::nullopt;  // int('010', 0) is an error
  }
  if (base < 2 || base > 36) return std::nullopt;
  const auto clean = strip_underscores(body, true);
  if (!clean || clean->empty()) return std::nullopt;
  uint64_t v = 0;
  for (char ch : *clean) {
    int d = -1;
    if (ch >= '0' && ch <= '9')
      d = ch - '0';
    else if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z')
      d = (ch | 0x20) - 'a' + 10;
    if (d < 0 || d >= base) return std::nullopt;
    if (v > (static_cast<uint64_t>(INT64_MAX) + 1 - static_cast<uint64_t>(d)) /
                static_cast<uint64_t>(base))
      return std::nullopt;  // beyond 64 bits
    v = v * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
  }
  if (!neg && v > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  return neg ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
}

std::string repr(std::string_view s) {
  const std::u32string u = decode(s);
  const bool has_single = u.find(U'\'') != std::u32string::npos;
  const bool has_double = u.find(U'"') != std::u32string::npos;
  const char q = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, q);
  char buf[16];
  for (char32_t c : u) {
    if (c == static_cast<char32_t>(q) || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (isprintable(c)) {
      append_utf8(out, c);
    } else {
      if (c < 0x100)
        std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(c));
      else if (c < 0x10000)
        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      else
        std::snprintf(buf, sizeof buf, "\\U%08x", static_cast<unsigned>(c));
      out += buf;
    }
  }
  out.push_back(q);
  return out;
}

std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string s(buf, r.ptr);
  std::string out;
  if (s[0] == '-') {
    out = "-";
    s.erase(0, 1);
  }
  const size_t epos = s.find('e');
  const int exp = std::stoi(s.substr(epos + 1));
  std::string digits;
  for (size_t i = 0; i < epos; ++i)
    if (s[i] != '.') digits.push_back(s[i]);
  if (exp >= -4 && exp < 16) {
    if (exp >= 0) {
      const auto ip = static_cast<size_t>(exp) + 1;
      if (digits.size() <= ip) {
        out += digits + std::string(ip - digits.size(), '0') + ".0";
      } else {
        out += digits.substr(0, ip) + "." + digits.substr(ip);
      }
    } else {
      out += "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  std::snprintf(buf, sizeof buf, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
  return out + buf;
}

std::vector<int64_t> slice_indices(int64_t n, std::optional<int64_t> start,
                                   std::optional<int64_t> stop, std::optional<int64_t> step) {
  const int64_t st = step.value_or(1);
  if (st == 0) throw Error("slice step cannot be zero");
  auto adjust = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t x = *v;
    if (x < 0) {
      x += n;
      if (x < 0) x = st < 0 ? -1 : 0;
    } else if (x >= n) {
      x = st < 0 ? n - 1 : n;
    }
    return x;
  };
  const int64_t b = adjust(start, st < 0 ? n - 1 : 0);
  const int64_t e = adjust(stop, st < 0 ? -1 : n);
  std::vector<int64_t> out;
  if (st > 0)
    for (int64_t i = b; i < e; i += st) out.push_back(i);
  else
    for (int64_t i = b; i > e; i += st) out.push_back(i);
  return out;
}

}  // namespace helix::chat::py
