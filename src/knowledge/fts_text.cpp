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

// A character that continues an identifier: ASCII letters, digits, '_' and '-'.
bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; }

bool is_identifier(std::string_view t) {
  auto alpha = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; };
  size_t dashes = 0;
  while (dashes < t.size() && dashes < 2 && t[dashes] == '-') ++dashes;
  if (dashes > 0) return t.size() > dashes && alpha(t[dashes]);  // -f, --force
  if (t.size() < 3 || !alpha(t.front()) || !std::isalnum(static_cast<unsigned char>(t.back()))) return false;
  for (size_t i = 1; i + 1 < t.size(); ++i) {
    if (t[i] == '_' && std::isalnum(static_cast<unsigned char>(t[i + 1]))) return true;
    // a dotted name: word characters on both sides, two at least ("keygen.name"; not "e.g", "i.e")
    if (t[i] == '.' && i >= 2 && i + 2 < t.size() && word_char(t[i - 2]) && word_char(t[i + 2])) return true;
    if (std::islower(static_cast<unsigned char>(t[i - 1])) && std::isupper(static_cast<unsigned char>(t[i])))
      return true;  // camelCase
  }
  return false;
}

}  // namespace

std::vector<std::string> identifier_terms(std::string_view query) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < query.size()) {
    // A candidate: a run of ASCII letters, digits and "_-." (other bytes, CJK included, end it).
    const char c = query[i];
    if (!(word_char(c) || c == '.') || (i > 0 && (word_char(query[i - 1]) || query[i - 1] == '.'))) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < query.size() && (word_char(query[j]) || query[j] == '.')) ++j;
    std::string_view t = query.substr(i, j - i);
    while (!t.empty() && (t.back() == '.' || t.back() == '-')) t.remove_suffix(1);  // "of --all." -> "--all"
    if (is_identifier(t) && std::find(out.begin(), out.end(), t) == out.end()) out.emplace_back(t);
    i = j;
  }
  return out;
}

bool holds_identifier(std::string_view text, std::string_view term) {
  if (term.empty()) return false;
  for (size_t at = text.find(term); at != std::string_view::npos; at = text.find(term, at + 1)) {
    const size_t end = at + term.size();
    const bool left = at == 0 || !word_char(text[at - 1]);
    // After the term: not a word character, and not a '.' that goes on with a word ("a.b" in "a.b.c").
    const bool right = end == text.size() || (!word_char(text[end]) &&
                                              !(text[end] == '.' && end + 1 < text.size() && word_char(text[end + 1])));
    if (left && right) return true;
  }
  return false;
}

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
