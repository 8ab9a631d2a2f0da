// A reply with tool calls streamed as OpenAI streams it (see CallStream in tools.h).
#include "tools/parse_util.h"

namespace helix::tools {

namespace {

bool starts(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

// Content and reasoning are trimmed at both ends: what may be sent is the text without its
// leading space and without a trailing run of space (which text after it may still need).
std::string sendable(const std::string& now) {
  size_t a = 0, b = now.size();
  while (a < b && detail::is_space(now[a])) ++a;
  while (b > a && detail::is_space(now[b - 1])) --b;
  return now.substr(a, b - a);
}

ojson call_delta(size_t i, ojson fields) {
  fields["index"] = i;
  return {{"tool_calls", ojson::array({std::move(fields)})}};
}

using Tail = detail::Partial::Tail;

// The characters that may begin one of the family's markers in content or reasoning: new text
// without them only extends the text it follows.
const char* marker_starts(const Plan& p) {
  if (p.forced_generic) return "";
  switch (p.family) {
    case Family::kHermes:
    case Family::kFunctionaryV31:
    case Family::kDeepSeek:
    case Family::kGptOss: return "<";
    case Family::kMistral: return "[";
    case Family::kFunctionaryV32: return ">";
    case Family::kCommandR: return "<A";  // <|START_...|>, Action:
    case Family::kLlama3:
    case Family::kGeneric: return "";  // content there is the whole reply
  }
  return "<>[";
}

// Families whose markers are searched anywhere in the reply, arguments included.
bool markers_anywhere(const Plan& p) {
  return !p.forced_generic && (p.family == Family::kDeepSeek || p.family == Family::kCommandR || p.family == Family::kGptOss);
}

}  // namespace

void CallStream::add_text(std::vector<ojson>& out, const char* key, std::string& sent, std::string& ws,
                          const std::string& now) {
  const std::string s = sendable(now);
  if (!starts(s, sent)) {  // the parse changed its mind: the rest comes at the end
    stuck_ = true;
    return;
  }
  size_t e = now.size();
  while (e > 0 && detail::is_space(now[e - 1])) --e;
  ws = s.empty() ? std::string() : now.substr(e);
  if (s.size() == sent.size()) return;
  out.push_back({{key, s.substr(sent.size())}});
  sent = s;
}

// As add_text with the text so far plus `d`: sendable(now + d) without reading `now` again.
void CallStream::extend_text(std::vector<ojson>& out, const char* key, std::string& sent, std::string& ws,
                             std::string_view d) {
  std::string piece = sent.empty() ? std::string(d.substr(detail::skip_space(d, 0))) : ws + std::string(d);
  size_t e = piece.size();
  while (e > 0 && detail::is_space(piece[e - 1])) --e;
  if (e == 0) {
    ws = sent.empty() ? std::string() : piece;
    return;
  }
  ws = piece.substr(e);
  piece.resize(e);
  sent += piece;
  out.push_back({{key, std::move(piece)}});
}

bool CallStream::extend(std::vector<ojson>& out, std::string_view d) {
  if (d.empty()) return true;
  const auto tail = static_cast<Tail>(tail_);
  if (tail == Tail::kContent || tail == Tail::kReasoning) {
    if (d.find_first_of(marker_starts(*plan_)) != std::string_view::npos) return false;
    if (tail == Tail::kContent) extend_text(out, "content", content_, content_ws_, d);
    else extend_text(out, "reasoning_content", reasoning_, reasoning_ws_, d);
    return true;
  }
  if (tail != Tail::kArgs || calls_.empty()) return false;
  if (markers_anywhere(*plan_) && d.find('<') != std::string_view::npos) return false;
  detail::JsonScan sc{depth_, in_str_, esc_};
  std::string mini;
  if (sc.feed(d, mini) < d.size() || sc.depth == 0) return false;  // the object closes: read it whole
  depth_ = sc.depth, in_str_ = sc.in_str, esc_ = sc.esc;
  if (mini.empty()) return true;
  calls_.back().args += mini;
  out.push_back(call_delta(calls_.size() - 1, {{"function", {{"arguments", std::move(mini)}}}}));
  return true;
}

void CallStream::add_call(std::vector<ojson>& out, size_t i, const std::string& name, const std::string& args) {
  if (i == calls_.size()) {
    out.push_back(call_delta(i, {{"id", new_call_id()}, {"type", "function"}, {"function", {{"name", name}, {"arguments", ""}}}}));
    calls_.push_back({name, ""});
  }
  Sent& c = calls_[i];
  if (c.name != name || !starts(args, c.args)) {
    stuck_ = true;
    return;
  }
  if (args.size() == c.args.size()) return;
  out.push_back(call_delta(i, {{"function", {{"arguments", args.substr(c.args.size())}}}}));
  c.args = args;
}

std::vector<ojson> CallStream::update(const std::string& text) {
  std::vector<ojson> out;
  if (stuck_ || !plan_->parse) return out;
  if (text.size() >= seen_ && seen_ > 0 && extend(out, std::string_view(text).substr(seen_))) {
    seen_ = text.size();
    return out;
  }
  out.clear();
  seen_ = text.size();
  const detail::Partial p =
      detail::parse_partial(plan_->family, plan_->forced_generic, detail::parse_text(*plan_, plan_->prefill + text));
  tail_ = static_cast<int>(p.tail);
  add_text(out, "reasoning_content", reasoning_, reasoning_ws_, p.reasoning);
  add_text(out, "content", content_, content_ws_, p.content);
  for (size_t i = 0; i < p.calls.size() && !stuck_; ++i) {
    const detail::PartialCall& c = p.calls[i];
    bool offered = false;
    for (const auto& t : plan_->tools) offered = offered || t["function"]["name"] == c.name;
    if (!offered) {  // the reply will be content as a whole
      stuck_ = true;
      break;
    }
    add_call(out, i, c.name, c.streamable ? detail::minify_json(c.args) : std::string());
  }
  if (p.hold) stuck_ = true;
  if (p.tail == Tail::kArgs && !stuck_) {  // the open object's state at the text's end
    detail::JsonScan sc;
    std::string mini;
    sc.feed(p.calls.back().args, mini);
    depth_ = sc.depth, in_str_ = sc.in_str, esc_ = sc.esc;
  }
  return out;
}

std::vector<ojson> CallStream::finish(const ojson& message) {
  std::vector<ojson> out;
  auto rest = [&](const char* key, const std::string& sent) {
    const ojson& v = message.contains(key) ? message[key] : ojson(nullptr);
    const std::string s = v.is_string() ? v.get<std::string>() : "";
    if (s.size() > sent.size() && starts(s, sent)) out.push_back({{key, s.substr(sent.size())}});
  };
  rest("reasoning_content", reasoning_);
  rest("content", content_);
  if (!message.contains("tool_calls")) return out;
  const ojson& calls = message["tool_calls"];
  for (size_t i = 0; i < calls.size(); ++i) {
    const std::string name = calls[i]["function"]["name"], args = calls[i]["function"]["arguments"];
    if (i >= calls_.size()) {
      out.push_back(call_delta(i, {{"id", calls[i]["id"]}, {"type", "function"}, {"function", {{"name", name}, {"arguments", ""}}}}));
      if (!args.empty()) out.push_back(call_delta(i, {{"function", {{"arguments", args}}}}));
    } else if (calls_[i].name == name && args.size() > calls_[i].args.size() && starts(args, calls_[i].args)) {
      out.push_back(call_delta(i, {{"function", {{"arguments", args.substr(calls_[i].args.size())}}}}));
    }
  }
  return out;
}

}  // namespace helix::tools
