// Chat-template tokenizer (see lexer.h). Follows the order of Jinja2's rules: in the text state
// the earliest tag start wins (a {% raw %} tag before a plain block); inside a tag the end
// delimiter is tried first but only when no bracket is open; then whitespace, float, integer,
// name, string and operator.
#include "chat/lexer.h"

#include <cmath>
#include <cstdlib>

#include "chat/pystr.h"
#include "core/error.h"

namespace helix::chat {

namespace {

[[noreturn]] void fail(int line, const std::string& msg) {
  throw Error(cat("template line ", line, ": ", msg));
}

int count_newlines(std::string_view s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

class Lexer {
 public:
  explicit Lexer(std::string src) : src_(std::move(src)) {}

  std::vector<Token> run() {
    while (pos_ < src_.size()) text_state();
    push(Tok::Eof, "");
    return std::move(out_);
  }

 private:
  std::string src_;
  size_t pos_ = 0;
  int line_ = 1;
  bool line_starting_ = true;
  std::vector<Token> out_;

  void push(Tok t, std::string text, int line = -1) {
    Token tok;
    tok.type = t;
    tok.text = std::move(text);
    tok.line = line < 0 ? line_ : line;
    out_.push_back(std::move(tok));
  }

  // Unicode whitespace run starting at p; returns its end.
  size_t skip_ws(size_t p) const {
    while (p < src_.size()) {
      size_t q = p;
      if (!py::isspace(py::decode_at(src_, q))) break;
      p = q;
    }
    return p;
  }

  // The suffix after a block or comment end delimiter: '+' keeps everything, '-' eats all
  // whitespace, otherwise trim_blocks eats one newline. Returns the new position.
  size_t block_suffix(size_t after, char sign) const {
    if (sign == '-') return skip_ws(after);
    if (sign == '+') return after;
    return (after < src_.size() && src_[after] == '\n') ? after + 1 : after;
  }

  void emit_text(std::string text, char sign, bool lstrip_ok) {
    const int start_line = line_;
    const int nl = count_newlines(text);
    if (sign == '-') {
      text = py::strip(text, std::nullopt, false, true);
    } else if (sign != '+' && lstrip_ok) {
      const size_t nlpos = text.rfind('\n');
      const size_t l_pos = nlpos == std::string::npos ? 0 : nlpos + 1;
      if ((l_pos > 0 || line_starting_) && l_pos < text.size()) {
        const std::string tail = text.substr(l_pos);
        if (py::strip(tail, std::nullopt, true, false).empty()) text.resize(l_pos);
      }
    }
    if (!text.empty()) push(Tok::Data, std::move(text), start_line);
    line_ += nl;
  }

  // Matches {%(-|+|)\s*raw\s*(-%}\s*|%}) at p; returns the end or npos.
  size_t match_raw_begin(size_t p, char& sign) const {
    size_t q = p + 2;
    sign = 0;
    if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) sign = src_[q++];
    q = skip_ws(q);
    if (src_.compare(q, 3, "raw") != 0) return std::string::npos;
    q = skip_ws(q + 3);
    if (src_.compare(q, 3, "-%}") == 0) return skip_ws(q + 3);
    if (src_.compare(q, 2, "%}") == 0) return q + 2;
    return std::string::npos;
  }

  void text_state() {
    // Find the earliest tag start.
    size_t p = pos_;
    while (true) {
      p = src_.find('{', p);
      if (p == std::string::npos || p + 1 >= src_.size()) {
        emit_text(src_.substr(pos_), 0, false);
        pos_ = src_.size();
        return;
      }
      const char c = src_[p + 1];
      if (c == '{' || c == '%' || c == '#') break;
      ++p;
    }
    const char kind = src_[p + 1];
    const std::string text = src_.substr(pos_, p - pos_);
    char sign = 0;
    if (kind == '%') {
      const size_t raw_end = match_raw_begin(p, sign);
      if (raw_end != std::string::npos) {
        emit_text(text, sign, true);
        line_ += count_newlines(std::string_view(src_).substr(p, raw_end - p));
        line_starting_ = raw_end > 0 && src_[raw_end - 1] == '\n';
        pos_ = raw_end;
        raw_state();
        return;
      }
    }
    size_t q = p + 2;
    if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) sign = src_[q++];
    emit_text(text, sign, kind != '{');
    line_starting_ = false;
    pos_ = q;
    if (kind == '#')
      comment_state();
    else
      tag_state(kind == '{');
  }

  void comment_state() {
    const int start = line_;
    size_t k = src_.find("#}", pos_);
    if (k == std::string::npos) fail(start, "Missing end of comment tag");
    char sign = 0;
    if (k > pos_ && (src_[k - 1] == '-' || src_[k - 1] == '+')) sign = src_[k - 1];
    const size_t end = block_suffix(k + 2, sign);
    line_ += count_newlines(std::string_view(src_).substr(pos_, end - pos_));
    line_starting_ = end > 0 && src_[end - 1] == '\n';
    pos_ = end;
  }

  void raw_state() {
    // (.*?)({%(-|+|)\s*endraw\s*(+%}|-%}\s*|%}\n?))
    size_t p = pos_;
    while (true) {
      p = src_.find("{%", p);
      if (p == std::string::npos) fail(line_, "Missing end of raw directive");
      size_t q = p + 2;
      char sign = 0;
      if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) sign = src_[q++];
      q = skip_ws(q);
      if (src_.compare(q, 6, "endraw") != 0) {
        ++p;
        continue;
      }
      q = skip_ws(q + 6);
      char end_sign = 0;
      if (src_.compare(q, 3, "+%}") == 0 || src_.compare(q, 3, "-%}") == 0) {
        end_sign = src_[q];
        q += 3;
      } else if (src_.compare(q, 2, "%}") == 0) {
        q += 2;
      } else {
        ++p;
        continue;
      }
      const size_t end = block_suffix(q, end_sign);
      emit_text(src_.substr(pos_, p - pos_), sign, true);
      line_ += count_newlines(std::string_view(src_).substr(p, end - p));
      line_starting_ = end > 0 && src_[end - 1] == '\n';
      pos_ = end;
      return;
    }
  }

  void tag_state(bool variable) {
    push(variable ? Tok::VarBegin : Tok::BlockBegin, "");
    std::string balance;  // expected closing brackets
    while (pos_ < src_.size()) {
      const char c = src_[pos_];
      if (balance.empty()) {  // end delimiter
        const char close = variable ? '}' : '%';
        size_t q = pos_;
        char sign = 0;
        if ((c == '-' || (!variable && c == '+')) && q + 1 < src_.size() && src_[q + 1] == close) {
          sign = c;
          ++q;
        }
        if (src_[q] == close && q + 1 < src_.size() && src_[q + 1] == '}') {
          size_t end = q + 2;
          if (variable)
            end = sign == '-' ? skip_ws(end) : end;
          else
            end = block_suffix(end, sign);
          push(variable ? Tok::VarEnd : Tok::BlockEnd, "");
          line_ += count_newlines(std::string_view(src_).substr(pos_, end - pos_));
          line_starting_ = src_[end - 1] == '\n';
          pos_ = end;
          return;
        }
      }
      const size_t ws = skip_ws(pos_);
      if (ws != pos_) {
        line_ += count_newlines(std::string_view(src_).substr(pos_, ws - pos_));
        pos_ = ws;
        continue;
      }
      if (lex_number()) continue;
      if (lex_name()) continue;
      if (c == '\'' || c == '"') {
        lex_string();
        continue;
      }
      lex_operator(balance);
    }
  }

  // (\d+_)*\d+ at p: returns the end or p when absent.
  size_t digits(size_t p) const {
    size_t q = p;
    while (true) {
      size_t r = q;
      while (r < src_.size() && is_digit(src_[r])) ++r;
      if (r == q) return q == p ? p : q - 1;  // a trailing '_' is not part of it
      q = r;
      if (q < src_.size() && src_[q] == '_' && q + 1 < src_.size() && is_digit(src_[q + 1])) {
        ++q;
        continue;
      }
      return q;
    }
  }

  bool lex_number() {
    const char c = src_[pos_];
    if (!is_digit(c)) return false;
    // Float: not directly after a '.', digits then (.digits)?e[+-]?digits or .digits
    if (pos_ == 0 || src_[pos_ - 1] != '.') {
      const size_t a = digits(pos_);
      size_t q = a;
      bool frac = false;
      if (q < src_.size() && src_[q] == '.') {
        const size_t f = digits(q + 1);
        if (f != q + 1) {
          q = f;
          frac = true;
        }
      }
      bool expo = false;
      if (q < src_.size() && (src_[q] == 'e' || src_[q] == 'E')) {
        size_t r = q + 1;
        if (r < src_.size() && (src_[r] == '+' || src_[r] == '-')) ++r;
        const size_t e = digits(r);
        if (e != r) {
          q = e;
          expo = true;
        }
      }
      if (frac || expo) {
        std::string t;
        for (size_t i = pos_; i < q; ++i)
          if (src_[i] != '_') t.push_back(src_[i]);
        Token tok;
        tok.type = Tok::Float;
        tok.line = line_;
        tok.text = t;
        tok.fval = std::strtod(t.c_str(), nullptr);
        out_.push_back(std::move(tok));
        pos_ = q;
        return true;
      }
    }
    // Integer: 0b / 0o / 0x prefixes, [1-9](_?\d)*, 0(_?0)*
    int base = 10;
    size_t q = pos_;
    std::string t;
    auto is_base_digit = [&](char d) {
      const char l = static_cast<char>(d | 0x20);
      if (base == 2) return d == '0' || d == '1';
      if (base == 8) return d >= '0' && d <= '7';
      if (base == 16) return is_digit(d) || (l >= 'a' && l <= 'f');
      return is_digit(d);
    };
    if (c == '0' && q + 1 < src_.size()) {
      const char x = static_cast<char>(src_[q + 1] | 0x20);
      base = x == 'b' ? 2 : x == 'o' ? 8 : x == 'x' ? 16 : 10;
      if (base != 10) {
        size_t r = q + 2;
        while (r < src_.size()) {
          if (src_[r] == '_' && r + 1 < src_.size() && is_base_digit(src_[r + 1])) ++r;
          if (r < src_.size() && is_base_digit(src_[r])) {
            t.push_back(src_[r++]);
          } else {
            break;
          }
        }
        if (t.empty())
          base = 10;
        else
          q = r;
      }
    }
    if (base == 10) {
      t.clear();
      t.push_back(c);
      size_t r = q + 1;
      const bool zero = c == '0';
      while (r < src_.size()) {
        if (src_[r] == '_' && r + 1 < src_.size() &&
            (zero ? src_[r + 1] == '0' : is_digit(src_[r + 1])))
          ++r;
        if (r < src_.size() && (zero ? src_[r] == '0' : is_digit(src_[r]))) {
          t.push_back(src_[r++]);
        } else {
          break;
        }
      }
      q = r;
    }
    Token tok;
    tok.type = Tok::Int;
    tok.line = line_;
    tok.text = src_.substr(pos_, q - pos_);
    errno = 0;
    char* endp = nullptr;
    const unsigned long long v = std::strtoull(t.c_str(), &endp, base);
    if (errno == ERANGE || v > static_cast<unsigned long long>(INT64_MAX)) {
      tok.type = Tok::Float;  // beyond int64: kept as a float (Python would keep a big int)
      tok.fval = base == 10 ? std::strtod(t.c_str(), nullptr) : static_cast<double>(v);
    } else {
      tok.ival = static_cast<int64_t>(v);
    }
    out_.push_back(std::move(tok));
    pos_ = q;
    return true;
  }

  bool lex_name() {
    size_t q = pos_;
    while (q < src_.size()) {
      size_t r = q;
      const char32_t c = py::decode_at(src_, r);
      if (c != '_' && !py::isalnum(c)) break;
      q = r;
    }
    if (q == pos_) return false;
    if (is_digit(src_[pos_])) fail(line_, "Invalid character in identifier");
    push(Tok::Name, src_.substr(pos_, q - pos_));
    pos_ = q;
    return true;
  }

  void lex_string() {
    const char quote = src_[pos_];
    const int start_line = line_;
    size_t q = pos_ + 1;
    while (q < src_.size() && src_[q] != quote) q += src_[q] == '\\' ? 2 : 1;
    if (q >= src_.size())
      fail(start_line, cat("unexpected char ", quote == '\'' ? "\"'\"" : "'\"'", " at ", pos_));
    const std::string raw = src_.substr(pos_ + 1, q - pos_ - 1);
    push(Tok::String, unescape(raw, start_line), start_line);
    line_ += count_newlines(raw);
    pos_ = q + 1;
  }

  // Python's unicode-escape decoding of an ASCII-backslash-replaced literal.
  static std::string unescape(const std::string& raw, int line) {
    std::string out;
    const std::u32string u = py::decode(raw);
    for (size_t i = 0; i < u.size(); ++i) {
      const char32_t c = u[i];
      if (c != '\\') {
        py::append_utf8(out, c);
        continue;
      }
      if (i + 1 >= u.size()) fail(line, "\\ at end of string");
      const char32_t e = u[++i];
      auto hex = [&](int n) -> char32_t {
        char32_t v = 0;
        for (int k = 0; k < n; ++k) {
          if (i + 1 >= u.size()) fail(line, "truncated escape");
          const char32_t h = u[++i];
          int d = -1;
          if (h >= '0' && h <= '9')
            d = static_cast<int>(h - '0');
          else if ((h | 0x20) >= 'a' && (h | 0x20) <= 'f')
            d = static_cast<int>((h | 0x20) - 'a' + 10);
          if (d < 0) fail(line, "truncated escape");
          v = v * 16 + static_cast<char32_t>(d);
        }
        return v;
      };
      switch (e) {
        case '\n':
          break;
        case '\\':
          out += '\\';
          break;
        case '\'':
          out += '\'';
          break;
        case '"':
          out += '"';
          break;
        case 'a':
          out += '\a';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'v':
          out += '\v';
          break;
        case 'x':
          py::append_utf8(out, hex(2));
          break;
        case 'u':
          py::append_utf8(out, hex(4));
          break;
        case 'U': {
          const char32_t v = hex(8);
          if (v > 0x10FFFF) fail(line, "illegal Unicode character");
          py::append_utf8(out, v);
          break;
        }
        case 'N':
          fail(line, "named Unicode escapes (\\N{...}) are not supported");
        default:
          if (e >= '0' && e <= '7') {
            char32_t v = e - '0';
            for (int k = 0; k < 2 && i + 1 < u.size() && u[i + 1] >= '0' && u[i + 1] <= '7'; ++k)
              v = v * 8 + (u[++i] - '0');
            py::append_utf8(out, v);
          } else if (e >= 0x80) {
            // backslashreplace turned the character into an escape, whose backslash the
            // literal's backslash then escaped: the text of the escape remains.
            char buf[16];
            if (e < 0x100)
              std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(e));
            else if (e < 0x10000)
              std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(e));
            else
              std::snprintf(buf, sizeof buf, "\\U%08x", static_cast<unsigned>(e));
            out += buf;
          } else {
            out += '\\';
            py::append_utf8(out, e);
          }
      }
    }
    return out;
  }

  void lex_operator(std::string& balance) {
    static const char* const two[] = {"//", "**", "==", "!=", ">=", "<="};
    for (const char* op : two) {
      if (src_.compare(pos_, 2, op) == 0) {
        push(Tok::Op, op);
        pos_ += 2;
        return;
      }
    }
    const char c = src_[pos_];
    static const std::string one = "+-/*%~[](){}=><.:|,;";
    if (one.find(c) == std::string::npos) {
      size_t q = pos_;
      const char32_t bad = py::decode_at(src_, q);
      fail(line_,
           cat("unexpected char ", py::repr(py::encode(std::u32string(1, bad))), " at ", pos_));
    }
    if (c == '(' || c == '[' || c == '{') {
      balance.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
    } else if (c == ')' || c == ']' || c == '}') {
      if (balance.empty()) fail(line_, cat("unexpected '", c, "'"));
      const char expected = balance.back();
      balance.pop_back();
      if (expected != c) fail(line_, cat("unexpected '", c, "', expected '", expected, "'"));
    }
    push(Tok::Op, std::string(1, c));
    ++pos_;
  }
};

}  // namespace

std::vector<Token> tokenize(std::string_view source) {
  if (!py::valid_utf8(source)) throw Error("template is not valid UTF-8");
  // Newlines normalized to \n; one trailing newline dropped (keep_trailing_newline=False).
  std::string src;
  src.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      src.push_back('\n');
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      src.push_back(source[i]);
    }
  }
  if (!src.empty() && src.back() == '\n') src.pop_back();
  return Lexer(std::move(src)).run();
}

const char* describe(const Token& t) {
  switch (t.type) {
    case Tok::Data:
      return "template data";
    case Tok::VarBegin:
      return "begin of print statement";
    case Tok::VarEnd:
      return "end of print statement";
    case Tok::BlockBegin:
      return "begin of statement block";
    case Tok::BlockEnd:
      return "end of statement block";
    case Tok::Name:
      return "name";
    case Tok::String:
      return "string";
    case Tok::Int:
      return "integer";
    case Tok::Float:
      return "float";
    case Tok::Op:
      return "operator";
    case Tok::Eof:
      return "end of template";
  }
  return "token";
}

}  // namespace helix::chat
