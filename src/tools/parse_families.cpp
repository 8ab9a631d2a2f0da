// Call parsers of the families whose call names sit outside the JSON: functionary v3.1 and v3.2,
// DeepSeek R1 / V3 / V3.1, Command R (R+ and R7B), gpt-oss (harmony). Each reads what its real
// template writes for a call (tests/tools render the templates and parse their output back) and
// what llama.cpp's parsers of the same families accept. A call that is not well formed leaves the
// whole reply as content, as the other families do.
#include <algorithm>

#include "tools/parse_util.h"

namespace helix::tools::detail {

namespace {

bool starts_with(std::string_view s, size_t pos, std::string_view what) { return s.substr(pos, what.size()) == what; }

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

// The name at text[pos] (tool-name characters), `end` after it.
std::string name_at(std::string_view text, size_t pos, size_t& end) {
  end = pos;
  while (end < text.size() && name_char(text[end])) ++end;
  return std::string(text.substr(pos, end - pos));
}

Parsed plain(std::string_view text) { return Parsed{trim(text), {}, {}}; }

// Reasoning in <think>...</think> before the answer (DeepSeek R1's prompt opens <think> itself,
// so the reply may hold only the closing tag).
// Reasoning that is opened and never closed (the reply was cut) is all reasoning.
std::string_view split_think(std::string_view text, std::string& reasoning) {
  size_t close = text.find("</think>");
  size_t a = skip_space(text, 0);
  const bool open = starts_with(text, a, "<think>");
  if (close == std::string_view::npos && !open) return text;
  if (open) a += 7;
  if (close == std::string_view::npos) {
    reasoning = trim(text.substr(a));
    return text.substr(text.size());
  }
  reasoning = trim(text.substr(a, close - a));
  return text.substr(close + 8);
}

}  // namespace

// <function=NAME>{...}</function> (any number, text around them is content); <|python_tag|>
// followed by code is a call of "python" with {"code": ...}.
Parsed parse_functionary_v31(std::string_view text) {
  static constexpr std::string_view open = "<function=", close = "</function>", python = "<|python_tag|>";
  Parsed r;
  std::string rest;
  size_t pos = 0;
  while (true) {
    const size_t at = text.find(open, pos);
    if (at == std::string_view::npos) break;
    size_t end = 0;
    std::string name = name_at(text, at + open.size(), end);
    ToolCall c;
    if (end >= text.size() || text[end] != '>' || !call_with_args_at(std::move(name), text, end + 1, end, c)) return plain(text);
    rest += text.substr(pos, at - pos);
    r.calls.push_back(std::move(c));
    end = skip_space(text, end);
    if (starts_with(text, end, close)) end += close.size();
    pos = end;
  }
  std::string_view tail = text.substr(pos);
  if (const size_t py = tail.find(python); py != std::string_view::npos) {
    r.calls.push_back({"python", ojson{{"code", std::string(tail.substr(py + python.size()))}}.dump()});
    tail = tail.substr(0, py);
  }
  rest += tail;
  r.content = trim(rest);
  return r;
}

// The prompt ends with ">>>", so the reply starts with a recipient line: "all" (text for the user)
// or a function name, then the arguments; further messages each start with ">>>".
Parsed parse_functionary_v32(std::string_view text) {
  Parsed r;
  size_t pos = starts_with(text, 0, ">>>") ? 3 : 0;
  while (pos < text.size()) {
    size_t end = 0;
    std::string who = name_at(text, pos, end);
    if (who.empty() || end >= text.size() || text[end] != '\n') return plain(text);  // no recipient line
    if (who == "all") {
      size_t next = text.find(">>>", end + 1);
      if (next == std::string_view::npos) next = text.size();
      r.content += text.substr(end + 1, next - end - 1);
      pos = next + (next < text.size() ? 3 : 0);
      continue;
    }
    ToolCall c;
    if (!call_with_args_at(std::move(who), text, end + 1, end, c)) return plain(text);
    r.calls.push_back(std::move(c));
    pos = skip_space(text, end);
    if (starts_with(text, pos, ">>>")) pos += 3;
    else if (pos < text.size()) return plain(text);
  }
  r.content = trim(r.content);
  return r;
}

Parsed parse_deepseek(std::string_view text) {
  static constexpr std::string_view calls_begin = "<｜tool▁calls▁begin｜>", call_begin = "<｜tool▁call▁begin｜>",
                                    sep = "<｜tool▁sep｜>", call_end = "<｜tool▁call▁end｜>",
                                    calls_end = "<｜tool▁calls▁end｜>";
  Parsed r;
  const std::string_view t = split_think(text, r.reasoning);
  size_t first = t.find(calls_begin);
  if (first == std::string_view::npos) first = t.find(call_begin);  // R1 sometimes leaves out the outer tag
  if (first == std::string_view::npos) return Parsed{trim(t), {}, r.reasoning};
  std::string content(t.substr(0, first));
  size_t pos = first;
  if (starts_with(t, pos, calls_begin)) pos += calls_begin.size();
  while (true) {
    pos = skip_space(t, pos);
    if (!starts_with(t, pos, call_begin)) break;
    pos += call_begin.size();
    const size_t s = t.find(sep, pos);
    if (s == std::string_view::npos) return plain(text);
    const std::string head = trim(t.substr(pos, s - pos));
    size_t at = s + sep.size(), end = 0;
    std::string name = head;
    if (head == "function") {  // R1 / V3: the type, then the name on its own line and the arguments in a ```json block
      name = name_at(t, at, end);
      at = skip_space(t, end);
      if (starts_with(t, at, "```json")) at += 7;
    }
    ToolCall c;
    if (!call_with_args_at(std::move(name), t, at, end, c)) return plain(text);
    r.calls.push_back(std::move(c));
    pos = skip_space(t, end);
    if (starts_with(t, pos, "```")) pos = skip_space(t, pos + 3);
    if (starts_with(t, pos, call_end)) pos += call_end.size();
  }
  if (starts_with(t, pos, calls_end)) pos += calls_end.size();
  content += t.substr(pos);
  r.content = trim(content);
  return r;
}

// R+: "Action:" then a ```json block holding [{"tool_name", "parameters"}, ...]. R7B: the same
// list between <|START_ACTION|> and <|END_ACTION|>, the answer in <|START_RESPONSE|>...
// <|END_RESPONSE|> and reasoning in <|START_THINKING|>...<|END_THINKING|>. Calls of the
// template's built-in "directly-answer" tool are no calls.
Parsed parse_command_r(std::string_view text) {
  Parsed r;
  std::string_view t = text;
  auto cut = [&](std::string_view open, std::string_view close, std::string* into) {
    const size_t a = t.find(open);
    if (a == std::string_view::npos) return false;
    size_t b = t.find(close, a + open.size());
    const size_t inner_end = b == std::string_view::npos ? t.size() : b;
    if (into) *into = trim(t.substr(a + open.size(), inner_end - a - open.size()));
    return true;
  };
  cut("<|START_THINKING|>", "<|END_THINKING|>", &r.reasoning);
  std::string response;
  const bool has_response = cut("<|START_RESPONSE|>", "<|END_RESPONSE|>", &response);
  size_t at = t.find("<|START_ACTION|>"), list = 0, end = 0;
  size_t after = 0;
  if (at != std::string_view::npos) {
    list = skip_space(t, at + 16);
  } else if ((at = t.find("Action:")) != std::string_view::npos) {
    list = skip_space(t, at + 7);
    if (starts_with(t, list, "```json")) list = skip_space(t, list + 7);
    else if (starts_with(t, list, "```")) list = skip_space(t, list + 3);
  } else {
    if (has_response) return Parsed{response, {}, r.reasoning};
    std::string rest(t);  // the text without its thinking block
    if (const size_t th = rest.find("<|START_THINKING|>"); th != std::string::npos) {
      const size_t e = rest.find("<|END_THINKING|>", th);
      rest.erase(th, e == std::string::npos ? std::string::npos : e + 16 - th);
    }
    return Parsed{trim(rest), {}, r.reasoning};
  }
  std::vector<ToolCall> calls;
  if (!calls_in_array(t, list, end, calls, "tool_name")) return plain(text);
  for (auto& c : calls)
    if (c.name != "directly-answer" && c.name != "directly_answer") r.calls.push_back(std::move(c));
  after = skip_space(t, end);
  if (starts_with(t, after, "```")) after += 3;
  if (starts_with(t, after, "<|END_ACTION|>")) after += 14;
  if (has_response) {
    r.content = response;
  } else {
    std::string before(t.substr(0, at));
    if (const size_t th = before.find("<|START_THINKING|>"); th != std::string::npos) before.resize(th);
    r.content = trim(before + std::string(t.substr(after)));
  }
  return r;
}

// Harmony messages: [<|start|>assistant][ to=functions.NAME]<|channel|>CHANNEL[ to=functions.NAME]
// [ <|constrain|>json| json]<|message|>BODY then <|end|>, <|call|> or <|return|>. A message to
// functions.NAME is a call; the analysis channel is reasoning; final (and commentary without a
// recipient) is content. The prompt ends with "<|start|>assistant", so the first header is short.
Parsed parse_gpt_oss(std::string_view text) {
  static constexpr std::string_view msg = "<|message|>";
  if (text.find(msg) == std::string_view::npos) return plain(text);
  Parsed r;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t m = text.find(msg, pos);
    if (m == std::string_view::npos) {
      r.content += text.substr(pos);
      break;
    }
    const std::string_view header = text.substr(pos, m - pos);
    const size_t body_at = m + msg.size();
    size_t body_end = text.size();
    for (std::string_view stop : {"<|end|>", "<|call|>", "<|return|>", "<|start|>"})
      body_end = std::min(body_end, text.find(stop, body_at));
    const std::string_view body = text.substr(body_at, body_end - body_at);
    std::string channel;
    if (const size_t c = header.find("<|channel|>"); c != std::string_view::npos) {
      size_t e = 0;
      channel = name_at(header, c + 11, e);
    }
    if (const size_t to = header.find("to=functions."); to != std::string_view::npos) {
      size_t e = 0;
      ToolCall call;
      std::string name = name_at(header, to + 13, e);
      if (!call_with_args_at(std::move(name), body, 0, e, call) || skip_space(body, e) != body.size()) return plain(text);
      r.calls.push_back(std::move(call));
    } else if (channel == "analysis") {
      r.reasoning += body;
    } else {
      r.content += body;
    }
    pos = body_end;
    for (std::string_view stop : {"<|end|>", "<|call|>", "<|return|>"})
      if (starts_with(text, pos, stop)) pos += stop.size();
    if (starts_with(text, pos, "<|start|>")) pos += 9;
  }
  r.content = trim(r.content);
  r.reasoning = trim(r.reasoning);
  return r;
}

}  // namespace helix::tools::detail
