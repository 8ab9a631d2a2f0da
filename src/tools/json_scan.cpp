// JSON read as it is being written (see parse_util.h): where each member or element of an
// unfinished object or array starts and ends, the minified text of a prefix, and the decoded
// text so far of an unfinished string.
#include "tools/parse_util.h"

namespace helix::tools::detail {

namespace {

constexpr size_t npos = std::string_view::npos;

// The end of the string literal at s[pos] ('"'), npos when the text ends first.
size_t string_end(std::string_view s, size_t pos) {
  for (size_t i = pos + 1; i < s.size(); ++i) {
    if (s[i] == '\\') ++i;
    else if (s[i] == '"') return i + 1;
  }
  return npos;
}

bool scalar_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '-' || c == '+' || c == '.' || c == 'E';
}

}  // namespace

size_t JsonScan::feed(std::string_view d, std::string& mini) {
  for (size_t i = 0; i < d.size(); ++i) {
    const char c = d[i];
    if (in_str) {
      if (esc) esc = false;
      else if (c == '\\') esc = true;
      else if (c == '"') in_str = false;
      mini += c;
      continue;
    }
    if (is_space(c)) continue;
    mini += c;
    if (c == '"') in_str = true;
    else if (c == '{' || c == '[') ++depth;
    else if ((c == '}' || c == ']') && --depth == 0) return i + 1;
  }
  return d.size();
}

std::string minify_json(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  JsonScan sc;
  for (size_t i = 0; i < s.size();) i += sc.feed(s.substr(i), out);
  return out;
}

size_t value_end(std::string_view s, size_t pos, bool& bad) {
  bad = false;
  if (pos >= s.size()) return npos;
  const char c = s[pos];
  if (c == '{' || c == '[') return json_end(s, pos);
  if (c == '"') return string_end(s, pos);
  size_t i = pos;
  while (i < s.size() && scalar_char(s[i])) ++i;
  if (i == pos) bad = true;
  return i < s.size() && !bad ? i : npos;  // a scalar that reaches the text's end may go on
}

Scan scan_object(std::string_view s, size_t pos) {
  Scan r;
  size_t i = pos + 1;
  for (bool first = true;; first = false) {
    i = skip_space(s, i);
    if (i >= s.size()) return r;
    if (s[i] == '}' && first) {
      r.end = i + 1;
      return r;
    }
    if (s[i] != '"') return r.bad = true, r;
    const size_t key_end = string_end(s, i);
    if (key_end == npos) return r;
    const ojson key = ojson::parse(s.substr(i, key_end - i), nullptr, false);
    if (!key.is_string()) return r.bad = true, r;
    i = skip_space(s, key_end);
    if (i >= s.size()) return r;
    if (s[i] != ':') return r.bad = true, r;
    i = skip_space(s, i + 1);
    if (i >= s.size()) return r;
    Member m{key.get<std::string>(), i, npos};
    bool bad = false;
    m.end = value_end(s, i, bad);
    if (bad) return r.bad = true, r;
    r.members.push_back(m);
    if (m.end == npos) return r;
    i = skip_space(s, m.end);
    if (i >= s.size()) return r;
    if (s[i] == '}') {
      r.end = i + 1;
      return r;
    }
    if (s[i] != ',') return r.bad = true, r;
    ++i;
  }
}

Scan scan_array(std::string_view s, size_t pos) {
  Scan r;
  size_t i = pos + 1;
  for (bool first = true;; first = false) {
    i = skip_space(s, i);
    if (i >= s.size()) return r;
    if (s[i] == ']' && first) {
      r.end = i + 1;
      return r;
    }
    bool bad = false;
    const size_t e = value_end(s, i, bad);
    if (bad) return r.bad = true, r;
    r.items.emplace_back(i, e);
    if (e == npos) return r;
    i = skip_space(s, e);
    if (i >= s.size()) return r;
    if (s[i] == ']') {
      r.end = i + 1;
      return r;
    }
    if (s[i] != ',') return r.bad = true, r;
    ++i;
  }
}

std::string partial_string(std::string_view s) {
  // The literal up to its last whole character or escape ("\u" + 4 hex digits; a high surrogate
  // with its low half), closed and decoded.
  size_t safe = 1, i = 1;
  while (i < s.size() && s[i] != '"') {
    if (s[i] != '\\') {
      safe = ++i;
      continue;
    }
    if (i + 1 >= s.size()) break;
    size_t n = s[i + 1] == 'u' ? 6 : 2;
    if (n == 6 && i + 6 <= s.size()) {
      const std::string_view hex = s.substr(i + 2, 4);
      const char h = hex[1];
      if ((hex[0] == 'd' || hex[0] == 'D') && (h == '8' || h == '9' || h == 'a' || h == 'b' || h == 'A' || h == 'B')) n = 12;
    }
    if (i + n > s.size()) break;
    safe = i += n;
  }
  const ojson j = ojson::parse(std::string(s.substr(0, safe)) + "\"", nullptr, false);
  return j.is_string() ? j.get<std::string>() : std::string();
}

}  // namespace helix::tools::detail
