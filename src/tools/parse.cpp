// Template families and the parsers of their call syntax (see tools.h).
#include "tools/parse_util.h"

namespace helix::tools {

namespace detail {

std::string trim(std::string_view s) {
  size_t a = 0, b = s.size();
  while (a < b && is_space(s[a])) ++a;
  while (b > a && is_space(s[b - 1])) --b;
  return std::string(s.substr(a, b - a));
}

size_t json_end(std::string_view s, size_t pos) {
  int depth = 0;
  bool in_str = false, esc = false;
  for (size_t i = pos; i < s.size(); ++i) {
    const char c = s[i];
    if (in_str) {
      if (esc) esc = false;
      else if (c == '\\') esc = true;
      else if (c == '"') in_str = false;
      continue;
    }
    if (c == '"') in_str = true;
    else if (c == '{' || c == '[') ++depth;
    else if ((c == '}' || c == ']') && --depth == 0) return i + 1;
  }
  return std::string_view::npos;
}

ojson json_at(std::string_view s, size_t pos, size_t& end) {
  end = json_end(s, pos);
  if (end == std::string_view::npos) return nullptr;
  ojson j = ojson::parse(s.substr(pos, end - pos), nullptr, false);
  return j.is_discarded() ? ojson(nullptr) : j;
}

namespace {
// Arguments given as an object, or as a JSON string holding one.
bool object_args(ojson a, std::string& out) {
  if (a.is_string()) a = ojson::parse(a.get<std::string>(), nullptr, false);
  if (!a.is_object()) return false;
  out = a.dump();
  return true;
}
}  // namespace

bool call_from(const ojson& j, ToolCall& out, const char* name_key, std::string_view raw) {
  if (!j.is_object()) return false;
  auto n = j.find(name_key);
  if (n == j.end() || !n->is_string()) return false;
  const ojson* args = nullptr;
  const char* args_key = nullptr;
  for (const char* k : {"arguments", "parameters"})
    if (auto a = j.find(k); a != j.end()) args = &*a, args_key = k;
  if (!object_args(args ? *args : ojson::object(), out.arguments)) return false;
  out.name = n->get<std::string>();
  if (args && args->is_object() && !raw.empty()) {  // the object as written, minified
    const Scan s = scan_object(raw, 0);
    for (const auto& m : s.members)
      if (m.key == args_key && m.end != std::string_view::npos && raw[m.at] == '{')
        out.arguments = minify_json(raw.substr(m.at, m.end - m.at));
  }
  return true;
}

bool calls_in_array(std::string_view text, size_t pos, size_t& end, std::vector<ToolCall>& out, const char* name_key) {
  const ojson arr = pos < text.size() && text[pos] == '[' ? json_at(text, pos, end) : ojson(nullptr);
  if (!arr.is_array()) return false;
  const Scan s = scan_array(text, pos);
  if (s.items.size() != arr.size()) return false;
  for (size_t i = 0; i < arr.size(); ++i) {
    ToolCall c;
    const auto [a, b] = s.items[i];
    if (!call_from(arr[i], c, name_key, text.substr(a, b - a))) return false;
    out.push_back(std::move(c));
  }
  return true;
}

bool call_with_args_at(std::string name, std::string_view text, size_t pos, size_t& end, ToolCall& out) {
  pos = skip_space(text, pos);
  if (pos >= text.size()) return false;
  ojson a;
  if (text[pos] == '{') {
    a = json_at(text, pos, end);
    if (a.is_object() && !name.empty()) {  // the object as written, minified
      out.name = std::move(name);
      out.arguments = minify_json(text.substr(pos, end - pos));
      return true;
    }
  } else if (text[pos] == '"') {  // a JSON string holding the object (a template that printed a string with tojson)
    size_t i = pos + 1;
    for (bool esc = false; i < text.size() && (esc || text[i] != '"'); ++i) esc = !esc && text[i] == '\\';
    if (i >= text.size()) return false;
    end = i + 1;
    a = ojson::parse(text.substr(pos, end - pos), nullptr, false);
  }
  if (name.empty() || !object_args(a, out.arguments)) return false;
  out.name = std::move(name);
  return true;
}

}  // namespace detail

namespace {

using namespace detail;

Parsed parse_hermes(std::string_view text) {
  static constexpr std::string_view open = "<tool_call>", close = "</tool_call>";
  Parsed r;
  std::string rest;
  size_t pos = 0;
  while (true) {
    const size_t at = text.find(open, pos);
    if (at == std::string_view::npos) break;
    size_t j = at + open.size();
    while (j < text.size() && is_space(text[j])) ++j;
    size_t end = 0;
    ToolCall c;
    if (j >= text.size() || text[j] != '{') break;
    const ojson obj = json_at(text, j, end);
    if (!call_from(obj, c, "name", obj.is_null() ? std::string_view() : text.substr(j, end - j))) break;
    rest += text.substr(pos, at - pos);
    r.calls.push_back(std::move(c));
    while (end < text.size() && is_space(text[end])) ++end;
    if (text.substr(end, close.size()) == close) end += close.size();  // missing at the very end: tolerated
    pos = end;
  }
  rest += text.substr(pos);
  r.content = trim(rest);
  return r;
}

// One or more JSON calls making up the whole reply, separated by whitespace or ';' (Llama 3.x),
// optionally after <|python_tag|>.
Parsed parse_llama3(std::string_view text) {
  Parsed r;
  std::string_view t = text;
  while (!t.empty() && is_space(t.front())) t.remove_prefix(1);
  if (t.substr(0, 14) == "<|python_tag|>") t.remove_prefix(14);
  size_t pos = 0;
  while (true) {
    while (pos < t.size() && (is_space(t[pos]) || t[pos] == ';')) ++pos;
    if (pos >= t.size()) break;
    size_t end = 0;
    ToolCall c;
    if (t[pos] != '{') return Parsed{trim(text), {}, {}};
    const ojson obj = json_at(t, pos, end);
    if (!call_from(obj, c, "name", obj.is_null() ? std::string_view() : t.substr(pos, end - pos))) return Parsed{trim(text), {}, {}};
    r.calls.push_back(std::move(c));
    pos = end;
  }
  if (r.calls.empty()) r.content = trim(text);
  return r;
}

Parsed parse_mistral(std::string_view text) {
  static constexpr std::string_view tag = "[TOOL_CALLS]";
  const size_t at = text.find(tag);
  if (at == std::string_view::npos) return Parsed{trim(text), {}, {}};
  size_t j = at + tag.size();
  while (j < text.size() && is_space(text[j])) ++j;
  size_t end = 0;
  Parsed r;
  if (!calls_in_array(text, j, end, r.calls)) return Parsed{trim(text), {}, {}};
  r.content = trim(std::string(text.substr(0, at)) + std::string(text.substr(end)));
  return r;
}

}  // namespace

namespace detail {

// The whole reply is {"tool_calls": [...]} (or {"tool_call": {...}}, or {"response": "text"}).
Parsed parse_generic(std::string_view text) {
  const std::string t = trim(text);
  Parsed plain{t, {}, {}};
  if (t.empty() || t[0] != '{') return plain;
  size_t end = 0;
  const ojson j = json_at(t, 0, end);
  if (!j.is_object() || end != t.size()) return plain;
  Parsed r;
  const Scan s = scan_object(t, 0);  // the members' text, for the arguments as written
  auto raw = [&](const char* key) {
    for (const auto& m : s.members)
      if (m.key == key && m.end != std::string_view::npos) return std::string_view(t).substr(m.at, m.end - m.at);
    return std::string_view();
  };
  if (auto it = j.find("tool_calls"); it != j.end() && it->is_array() && !it->empty()) {
    const std::string_view arr = raw("tool_calls");
    size_t arr_end = 0;
    if (arr.empty() || !calls_in_array(arr, 0, arr_end, r.calls)) return plain;
    return r;
  }
  ToolCall c;
  if (auto it = j.find("tool_call"); it != j.end() && call_from(*it, c, "name", raw("tool_call"))) {
    r.calls.push_back(std::move(c));
    return r;
  }
  if (auto it = j.find("response"); it != j.end() && it->is_string() && j.size() == 1) return Parsed{trim(it->get<std::string>()), {}, {}};
  return plain;
}

}  // namespace detail

const char* family_name(Family f) {
  switch (f) {
    case Family::kHermes: return "hermes";
    case Family::kLlama3: return "llama3";
    case Family::kMistral: return "mistral";
    case Family::kFunctionaryV31: return "functionary-v3.1";
    case Family::kFunctionaryV32: return "functionary-v3.2";
    case Family::kDeepSeek: return "deepseek";
    case Family::kCommandR: return "command-r";
    case Family::kGptOss: return "gpt-oss";
    case Family::kGeneric: break;
  }
  return "generic";
}

// From the markers each family's template writes (checked on the real templates in tests/tools).
Family detect_family(std::string_view src) {
  if (has(src, "<tool_call>")) return Family::kHermes;
  if (has(src, "[TOOL_CALLS]")) return Family::kMistral;
  if (has(src, "<function=")) return Family::kFunctionaryV31;
  if (has(src, ">>>") && has(src, "recipient")) return Family::kFunctionaryV32;
  if (has(src, "tool▁call▁begin")) return Family::kDeepSeek;
  if (has(src, "<|START_ACTION|>") || (has(src, "Action:") && has(src, "tool_name"))) return Family::kCommandR;
  if (has(src, "<|channel|>") && has(src, "functions.")) return Family::kGptOss;
  if (has(src, "<|start_header_id|>") && has(src, "\"parameters\"") && has(src, "tool_calls")) return Family::kLlama3;
  return Family::kGeneric;
}

Parsed parse_tool_calls(Family f, std::string_view text) {
  switch (f) {
    case Family::kHermes: return parse_hermes(text);
    case Family::kLlama3: return parse_llama3(text);
    case Family::kMistral: return parse_mistral(text);
    case Family::kFunctionaryV31: return parse_functionary_v31(text);
    case Family::kFunctionaryV32: return parse_functionary_v32(text);
    case Family::kDeepSeek: return parse_deepseek(text);
    case Family::kCommandR: return parse_command_r(text);
    case Family::kGptOss: return parse_gpt_oss(text);
    case Family::kGeneric: break;
  }
  return parse_generic(text);
}

}  // namespace helix::tools
