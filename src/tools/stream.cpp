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

}  // namespace

void CallStream::add_text(std::vector<ojson>& out, const char* key, std::string& sent, const std::string& now) {
  const std::string s = sendable(now);
  if (!starts(s, sent)) {  // the parse changed its mind: the rest comes at the end
    stuck_ = true;
    return;
  }
  if (s.size() == sent.size()) return;
  out.push_back({{key, s.substr(sent.size())}});
  sent = s;
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
  const detail::Partial p =
      detail::parse_partial(plan_->family, plan_->forced_generic, detail::parse_text(*plan_, plan_->prefill + text));
  add_text(out, "reasoning_content", reasoning_, p.reasoning);
  add_text(out, "content", content_, p.content);
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
