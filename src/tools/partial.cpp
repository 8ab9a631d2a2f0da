// Replies read while the model writes them (parse_partial, see parse_util.h): for each family,
// the content, reasoning and calls that are certain in a prefix of the reply. Each follows its
// family's full parser (parse.cpp, parse_families.cpp) step by step, waits where the text so far
// could still become a marker, and holds (stops reading) where the full parser would give up on
// the call syntax, so that what the stream says is what the full parse of the whole reply says.
#include <algorithm>
#include <initializer_list>

#include "tools/parse_util.h"

namespace helix::tools::detail {

namespace {

constexpr size_t npos = std::string_view::npos;

bool starts_with(std::string_view s, size_t pos, std::string_view what) { return pos <= s.size() && s.substr(pos, what.size()) == what; }
// The text from `pos` is a proper beginning of `what`: it may still become it.
bool may_become(std::string_view s, size_t pos, std::string_view what) {
  const std::string_view rest = s.substr(std::min(pos, s.size()));
  return rest.size() < what.size() && what.substr(0, rest.size()) == rest;
}

// `s` without its end where that end may be the beginning of one of the markers.
std::string_view before_markers(std::string_view s, std::initializer_list<std::string_view> markers) {
  size_t cut = 0;
  for (std::string_view m : markers)
    for (size_t k = std::min(m.size() - 1, s.size()); k > cut; --k)
      if (s.substr(s.size() - k) == m.substr(0, k)) {
        cut = k;
        break;
      }
  return s.substr(0, s.size() - cut);
}

// Content up to the text's end, without a possible marker at its end: the text ends in content
// when nothing was held back.
void content_to_end(Partial& p, std::string_view s, std::initializer_list<std::string_view> markers) {
  const std::string_view c = before_markers(s, markers);
  p.content += c;
  p.tail = c.size() == s.size() ? Partial::Tail::kContent : Partial::Tail::kOther;
}

// The last call's arguments are an object still open at the text's end.
Partial& args_to_end(Partial& p) {
  const PartialCall& c = p.calls.back();
  if (c.streamable && !c.args.empty() && c.args[0] == '{') p.tail = Partial::Tail::kArgs;
  return p;
}

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}
// The name at s[pos]; false while the text ends inside it.
bool name_at(std::string_view s, size_t pos, std::string& name, size_t& end) {
  end = pos;
  while (end < s.size() && name_char(s[end])) ++end;
  name = std::string(s.substr(pos, end - pos));
  return end < s.size();
}

// The arguments at s[pos] of a call whose name is known: an object streams; a JSON string comes
// whole at the end. `end`: past them (npos: not finished). False: not arguments (hold).
bool args_at(std::string_view s, size_t pos, PartialCall& c, size_t& end) {
  pos = skip_space(s, pos);
  end = npos;
  if (pos >= s.size()) return true;
  bool bad = false;
  end = value_end(s, pos, bad);
  if (s[pos] == '"') c.streamable = false;
  else if (s[pos] != '{' || bad) return false;
  else c.args = std::string(s.substr(pos, end == npos ? npos : end - pos));
  return true;
}

// A call object {"name": ..., "arguments": {...}} at s[pos] ('{'). The call is listed once its
// name is known; its arguments stream when they follow the name as an object. `end`: past the
// object (npos: not finished). False: not a call (hold).
bool object_call(std::string_view s, size_t pos, const char* name_key, Partial& p, size_t& end) {
  const Scan sc = scan_object(s, pos);
  end = sc.end;
  if (sc.bad) return false;
  PartialCall c;
  bool named = false, open_args = false;
  for (const auto& m : sc.members) {
    if (m.key == name_key) {
      if (m.end == npos) break;
      const ojson n = ojson::parse(s.substr(m.at, m.end - m.at), nullptr, false);
      if (!n.is_string()) return false;
      c.name = n.get<std::string>();
      named = true;
    } else if (m.key == "arguments" || m.key == "parameters") {
      if (!named || s[m.at] != '{') c.streamable = false;
      else c.args = std::string(s.substr(m.at, m.end == npos ? npos : m.end - m.at));
      open_args = named && s[m.at] == '{' && m.end == npos;
    }
  }
  if (named) p.calls.push_back(std::move(c));
  if (named && open_args) args_to_end(p);
  return named || end == npos;
}

// An array of call objects at s[pos] ('['); `end` past it (npos: not finished).
bool array_calls(std::string_view s, size_t pos, const char* name_key, Partial& p, size_t& end) {
  const Scan sc = scan_array(s, pos);
  end = sc.end;
  if (sc.bad) return false;
  for (const auto& [a, b] : sc.items) {
    size_t e = 0;
    if (s[a] != '{' || !object_call(s, a, name_key, p, e)) return false;
  }
  return true;
}

Partial held(Partial p) {
  p.hold = true;
  return p;
}

Partial partial_hermes(std::string_view t) {
  static constexpr std::string_view open = "<tool_call>", close = "</tool_call>";
  Partial p;
  size_t pos = 0;
  while (true) {
    const size_t at = t.find(open, pos);
    if (at == npos) {
      content_to_end(p, t.substr(pos), {open});
      return p;
    }
    p.content += t.substr(pos, at - pos);
    const size_t j = skip_space(t, at + open.size());
    if (j >= t.size()) return p;
    size_t end = 0;
    if (t[j] != '{' || !object_call(t, j, "name", p, end)) return held(p);
    if (end == npos) return p;
    const size_t k = skip_space(t, end);
    if (may_become(t, k, close)) return p;
    pos = starts_with(t, k, close) ? k + close.size() : k;
  }
}

Partial partial_llama3(std::string_view text) {
  static constexpr std::string_view tag = "<|python_tag|>";
  Partial p;
  const size_t a = skip_space(text, 0);
  std::string_view t = text.substr(a);
  if (t.empty() || may_become(t, 0, tag)) return p;
  const bool python = starts_with(t, 0, tag);
  if (python) t.remove_prefix(tag.size());
  for (size_t pos = 0;;) {
    while (pos < t.size() && (is_space(t[pos]) || t[pos] == ';')) ++pos;
    if (pos >= t.size()) return p;
    if (t[pos] != '{') {
      if (!p.calls.empty() || python) return held(p);
      p.content = std::string(text);  // not a call: the whole reply is content
      p.tail = Partial::Tail::kContent;
      return p;
    }
    size_t end = 0;
    if (!object_call(t, pos, "name", p, end)) return held(p);
    if (end == npos) return p;
    pos = end;
  }
}

Partial partial_mistral(std::string_view t) {
  static constexpr std::string_view tag = "[TOOL_CALLS]";
  Partial p;
  const size_t at = t.find(tag);
  if (at == npos) {
    content_to_end(p, t, {tag});
    return p;
  }
  p.content = t.substr(0, at);
  const size_t j = skip_space(t, at + tag.size());
  if (j >= t.size()) return p;
  size_t end = 0;
  if (t[j] != '[' || !array_calls(t, j, "name", p, end)) return held(p);
  if (end != npos) content_to_end(p, t.substr(end), {});  // after the calls, everything is content
  return p;
}

// {"tool_calls": [...]}, {"tool_call": {...}} or {"response": "..."} as the whole reply.
Partial partial_generic(std::string_view t) {
  Partial p;
  const size_t a = skip_space(t, 0);
  if (a >= t.size()) return p;
  if (t[a] != '{') {
    p.content = t;
    p.tail = Partial::Tail::kContent;
    return p;
  }
  const Scan sc = scan_object(t, a);
  if (sc.bad) return held(p);
  if (sc.members.empty()) return p;
  if (sc.members.size() > 1 || (sc.end != npos && skip_space(t, sc.end) < t.size())) return held(p);
  const Member& m = sc.members[0];
  size_t end = 0;
  if (m.key == "tool_calls") {
    if (t[m.at] != '[' || !array_calls(t, m.at, "name", p, end)) return held(p);
  } else if (m.key == "tool_call") {
    if (t[m.at] != '{' || !object_call(t, m.at, "name", p, end)) return held(p);
  } else if (m.key == "response" && t[m.at] == '"') {
    p.content = partial_string(t.substr(m.at));
  } else {
    return held(p);
  }
  return p;
}

Partial partial_functionary_v31(std::string_view t) {
  static constexpr std::string_view open = "<function=", close = "</function>", python = "<|python_tag|>";
  Partial p;
  size_t pos = 0;
  while (true) {
    const size_t at = t.find(open, pos), py = t.find(python, pos);
    if (py != npos && (at == npos || py < at)) {  // code for the python tool: whole, at the end
      p.content += t.substr(pos, py - pos);
      return held(p);
    }
    if (at == npos) {
      content_to_end(p, t.substr(pos), {open, python});
      return p;
    }
    p.content += t.substr(pos, at - pos);
    PartialCall c;
    size_t end = 0;
    if (!name_at(t, at + open.size(), c.name, end)) return p;
    if (t[end] != '>' || c.name.empty()) return held(p);
    if (!args_at(t, end + 1, c, end)) return held(p);
    p.calls.push_back(std::move(c));
    if (end == npos) return args_to_end(p);
    const size_t k = skip_space(t, end);
    if (may_become(t, k, close)) return p;
    pos = starts_with(t, k, close) ? k + close.size() : k;
  }
}

Partial partial_functionary_v32(std::string_view t) {
  Partial p;
  size_t pos = starts_with(t, 0, ">>>") ? 3 : 0;
  while (pos < t.size()) {
    std::string who;
    size_t end = 0;
    if (!name_at(t, pos, who, end)) return p;
    if (who.empty() || t[end] != '\n') return held(p);
    if (who == "all") {
      const size_t next = t.find(">>>", end + 1);
      if (next == npos) {
        content_to_end(p, t.substr(end + 1), {">>>"});
        return p;
      }
      p.content += t.substr(end + 1, next - end - 1);
      pos = next + 3;
      continue;
    }
    PartialCall c;
    c.name = who;
    if (!args_at(t, end + 1, c, end)) return held(p);
    p.calls.push_back(std::move(c));
    if (end == npos) return args_to_end(p);
    pos = skip_space(t, end);
    if (may_become(t, pos, ">>>")) return p;
    if (!starts_with(t, pos, ">>>")) return held(p);
    pos += 3;
  }
  return p;
}

Partial partial_deepseek(std::string_view text) {
  static constexpr std::string_view calls_begin = "<｜tool▁calls▁begin｜>", call_begin = "<｜tool▁call▁begin｜>",
                                    sep = "<｜tool▁sep｜>", call_end = "<｜tool▁call▁end｜>",
                                    calls_end = "<｜tool▁calls▁end｜>";
  Partial p;
  std::string_view t = text;
  const size_t a = skip_space(t, 0), close = t.find("</think>");
  if (may_become(t, a, "<think>")) return p;
  if (starts_with(t, a, "<think>") || close != npos) {
    const size_t from = starts_with(t, a, "<think>") ? a + 7 : 0;
    if (close == npos) {
      const std::string_view r = t.substr(from);
      p.reasoning = before_markers(r, {"</think>"});
      if (p.reasoning.size() == r.size()) p.tail = Partial::Tail::kReasoning;
      return p;
    }
    p.reasoning = t.substr(from, close - from);
    t = t.substr(close + 8);
  }
  size_t first = t.find(calls_begin);
  if (first == npos) first = t.find(call_begin);
  if (first == npos) {
    content_to_end(p, t, {calls_begin, call_begin, "</think>"});
    return p;
  }
  p.content = t.substr(0, first);
  size_t pos = starts_with(t, first, calls_begin) ? first + calls_begin.size() : first;
  while (true) {
    pos = skip_space(t, pos);
    if (may_become(t, pos, call_begin)) return p;
    if (!starts_with(t, pos, call_begin)) break;
    const size_t s = t.find(sep, pos + call_begin.size());
    if (s == npos) return p;
    PartialCall c;
    c.name = trim(t.substr(pos + call_begin.size(), s - pos - call_begin.size()));
    size_t at = s + sep.size(), end = 0;
    if (c.name == "function") {  // R1 / V3: the name on its own line, then a ```json block
      if (!name_at(t, at, c.name, end)) return p;
      at = skip_space(t, end);
      if (may_become(t, at, "```json")) return p;
      if (starts_with(t, at, "```json")) at += 7;
    }
    if (c.name.empty() || !args_at(t, at, c, end)) return held(p);
    p.calls.push_back(std::move(c));
    if (end == npos) return args_to_end(p);
    pos = skip_space(t, end);
    if (may_become(t, pos, "```")) return p;
    if (starts_with(t, pos, "```")) pos = skip_space(t, pos + 3);
    if (may_become(t, pos, call_end)) return p;
    if (starts_with(t, pos, call_end)) pos += call_end.size();
  }
  if (may_become(t, pos, calls_end)) return p;
  if (starts_with(t, pos, calls_end)) pos += calls_end.size();
  content_to_end(p, t.substr(pos), {});
  return p;
}

// Command R+ ("Action:" + a ```json list) and R7B (<|START_THINKING|>, <|START_RESPONSE|>,
// <|START_ACTION|> blocks: then only the response block is content while the reply runs).
Partial partial_command_r(std::string_view text) {
  Partial p;
  std::string u(text);
  const bool r7b = u.find("<|START_") != std::string::npos;
  if (const size_t th = u.find("<|START_THINKING|>"); th != npos) {
    const size_t e = u.find("<|END_THINKING|>", th);
    p.reasoning = e == npos ? std::string(before_markers(std::string_view(u).substr(th + 18), {"<|END_THINKING|>"}))
                            : u.substr(th + 18, e - th - 18);
    if (e == npos) return p;
    u.erase(th, e + 16 - th);
  }
  const std::string_view t = u;
  if (const size_t rs = t.find("<|START_RESPONSE|>"); rs != npos) {
    const size_t e = t.find("<|END_RESPONSE|>", rs);
    p.content = e == npos ? before_markers(t.substr(rs + 18), {"<|END_RESPONSE|>"}) : t.substr(rs + 18, e - rs - 18);
  }
  size_t at = t.find("<|START_ACTION|>"), list = 0;
  if (at == npos) at = t.find("Action:");
  if (at == npos) {
    if (!r7b) content_to_end(p, t, {"Action:", "<|START_"});
    return p;
  }
  if (!r7b) p.content = t.substr(0, at);
  if (starts_with(t, at, "<|START_ACTION|>")) {
    list = skip_space(t, at + 16);
  } else {
    list = skip_space(t, at + 7);
    if (may_become(t, list, "```json")) return p;
    if (starts_with(t, list, "```json")) list = skip_space(t, list + 7);
    else if (starts_with(t, list, "```")) list = skip_space(t, list + 3);
  }
  const bool response = t.find("<|START_RESPONSE|>") != npos;
  if (list >= t.size()) return p;
  size_t end = 0;
  if (t[list] != '[' || !array_calls(t, list, "tool_name", p, end)) return held(p);
  const size_t n_calls = p.calls.size();
  std::erase_if(p.calls, [](const PartialCall& c) { return c.name == "directly-answer" || c.name == "directly_answer"; });
  if (p.calls.size() != n_calls) p.tail = Partial::Tail::kOther;  // the open call may be the one dropped
  if (end == npos || r7b || response) return p;
  size_t after = skip_space(t, end);
  if (may_become(t, after, "```")) return p;
  if (starts_with(t, after, "```")) after += 3;
  p.content += before_markers(t.substr(after), {"Action:"});
  return p;
}

// Harmony: each message's header is read whole; its body streams as reasoning (analysis),
// content, or the arguments of a call (to=functions.NAME).
Partial partial_gpt_oss(std::string_view t) {
  static constexpr std::string_view msg = "<|message|>";
  Partial p;
  size_t pos = 0;
  while (pos < t.size()) {
    const size_t m = t.find(msg, pos);
    if (m == npos) return p;
    const std::string_view header = t.substr(pos, m - pos);
    const size_t body_at = m + msg.size();
    size_t body_end = npos;
    for (std::string_view stop : {"<|end|>", "<|call|>", "<|return|>", "<|start|>"})
      body_end = std::min(body_end, t.find(stop, body_at));
    const bool open = body_end == npos;
    std::string_view body = t.substr(body_at, open ? npos : body_end - body_at);
    const size_t whole = body.size();
    if (open) body = before_markers(body, {"<|end|>", "<|call|>", "<|return|>", "<|start|>"});
    const bool to_end = open && body.size() == whole;  // the body reaches the text's end
    std::string channel;
    size_t e = 0;
    if (const size_t c = header.find("<|channel|>"); c != npos) name_at(header, c + 11, channel, e);
    if (const size_t to = header.find("to=functions."); to != npos) {
      PartialCall c;
      name_at(header, to + 13, c.name, e);
      size_t end = 0;
      if (c.name.empty() || !args_at(body, 0, c, end)) return held(p);
      p.calls.push_back(std::move(c));
      if (end != npos && skip_space(body, end) < body.size()) return held(p);
      if (end == npos && to_end) args_to_end(p);
    } else if (channel == "analysis") {
      p.reasoning += body;
      if (to_end) p.tail = Partial::Tail::kReasoning;
    } else {
      p.content += body;
      if (to_end) p.tail = Partial::Tail::kContent;
    }
    if (open) return p;
    pos = body_end;
    for (std::string_view stop : {"<|end|>", "<|call|>", "<|return|>"})
      if (starts_with(t, pos, stop)) pos += stop.size();
    if (starts_with(t, pos, "<|start|>")) pos += 9;
  }
  return p;
}

}  // namespace

Partial parse_partial(Family f, bool forced_generic, std::string_view text) {
  if (forced_generic) return partial_generic(text);
  switch (f) {
    case Family::kHermes: return partial_hermes(text);
    case Family::kLlama3: return partial_llama3(text);
    case Family::kMistral: return partial_mistral(text);
    case Family::kFunctionaryV31: return partial_functionary_v31(text);
    case Family::kFunctionaryV32: return partial_functionary_v32(text);
    case Family::kDeepSeek: return partial_deepseek(text);
    case Family::kCommandR: return partial_command_r(text);
    case Family::kGptOss: return partial_gpt_oss(text);
    case Family::kGeneric: break;
  }
  return partial_generic(text);
}

}  // namespace helix::tools::detail
