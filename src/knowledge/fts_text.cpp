// CJK bigrams for the full-text index (see fts_text.h).
#include "knowledge/fts_text.h"

#include <algorithm>
#include <cctype>

#include "docs/document.h"
#include "tokenizer/unicode.h"

namespace helix::knowledge {
namespace {

// Characters unicode61 treats as separators (approximately: ASCII non-alphanumerics, Latin-1
// punctuation, general punctuation, CJK symbols and fullwidth punctuation).
bool is_separator(char32_t c) {
  if (c < 0x80) return !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
  return (c >= 0x80 && c <= 0xBF) || (c >= 0x2000 && c <= 0x206F) || (c >= 0x3000 && c <= 0x303F) ||
         (c >= 0xFF00 && c <= 0xFF0F) || (c >= 0xFF1A && c <= 0xFF20) || (c >= 0xFF3B && c <= 0xFF40) ||
         (c >= 0xFF5B && c <= 0xFF65) || c == 0xFFFD;
}

}  // namespace

std::string fts_body(std::string_view text) {
  std::string out;
  out.reserve(text.size() * 2);
  std::vector<char32_t> run;
  auto flush = [&] {
    if (run.empty()) return;
    out += ' ';
    if (run.size() == 1) tok::append_utf8(out, run[0]);
    for (size_t i = 0; i + 1 < run.size(); ++i) {
      if (i) out += ' ';
      tok::append_utf8(out, run[i]);
      tok::append_utf8(out, run[i + 1]);
    }
    out += ' ';
    run.clear();
  };
  for (size_t i = 0; i < text.size();) {
    const size_t at = i;
    const char32_t c = tok::decode_utf8(text, i);
    if (docs::is_cjk(c)) {
      run.push_back(c);
      continue;
    }
    flush();
    out.append(text.substr(at, i - at));
  }
  flush();
  return out;
}

std::vector<std::string> query_terms(std::string_view query) {
  const std::string body = fts_body(query);
  std::vector<std::string> terms;
  std::string cur;
  auto push = [&] {
    if (!cur.empty() && std::find(terms.begin(), terms.end(), cur) == terms.end()) terms.push_back(cur);
    cur.clear();
  };
  for (size_t i = 0; i < body.size();) {
    const size_t at = i;
    const char32_t c = tok::decode_utf8(body, i);
    if (is_separator(c)) {
      push();
    } else if (c < 0x80) {
      cur += static_cast<char>(std::tolower(static_cast<int>(c)));
    } else {
      cur.append(body.substr(at, i - at));
    }
  }
  push();
  return terms;
}

std::string fts_match(const std::vector<std::string>& terms) {
  std::string m;
  for (const auto& t : terms) {
    if (!m.empty()) m += " OR ";
    m += '"';
    for (char c : t) m += c == '"' ? std::string("\"\"") : std::string(1, c);
    m += '"';
  }
  return m;
}

}  // namespace helix::knowledge
