// Chat request messages: checks, normalisation and rendering with fallbacks (see chat_messages.h).
#include "server/chat_messages.h"

#include "chat/template.h"
#include "core/error.h"

namespace helix::server {
namespace {

ApiError bad_message(size_t i, const std::string& what) {
  return ApiError{400, cat("messages[", i, "]", what), "invalid_request_error", "messages", "invalid_value"};
}

// A message's content as one string (or null), from a string, null or an array of text parts.
ojson content_text(const ojson& c, size_t i) {
  if (c.is_null() || c.is_string()) return c;
  if (!c.is_array()) throw bad_message(i, ".content must be a string, null or an array of content parts");
  std::string text;
  for (size_t k = 0; k < c.size(); ++k) {
    const ojson& part = c[k];
    if (!part.is_object() || !part.contains("type") || !part["type"].is_string())
      throw bad_message(i, cat(".content[", k, "] must be an object with a string 'type'"));
    const std::string type = part["type"].get<std::string>();
    if (type != "text")
      throw bad_message(i, cat(".content[", k, "] is a '", type, "' part; this server's model reads text only, so only ",
                               "parts of type 'text' are accepted"));
    if (!part.contains("text") || !part["text"].is_string())
      throw bad_message(i, cat(".content[", k, "] (type 'text') needs a string 'text'"));
    if (k > 0) text += "\n";
    text += part["text"].get<std::string>();
  }
  return text;
}

void check_tool_calls(const ojson& calls, size_t i) {
  if (!calls.is_array()) throw bad_message(i, ".tool_calls must be an array");
  for (size_t k = 0; k < calls.size(); ++k) {
    const ojson& c = calls[k];
    const ojson* fn = c.is_object() && c.contains("function") ? &c["function"] : nullptr;
    if (!fn || !fn->is_object() || !fn->contains("name") || !(*fn)["name"].is_string())
      throw bad_message(i, cat(".tool_calls[", k, "] must be an object with a 'function' holding a string 'name'"));
    if (fn->contains("arguments") && !((*fn)["arguments"].is_string() || (*fn)["arguments"].is_object()))
      throw bad_message(i, cat(".tool_calls[", k, "].function.arguments must be a JSON string or an object"));
  }
}

// null content -> "" (templates that concatenate or search content need a string).
ojson without_null_content(ojson msgs) {
  for (auto& m : msgs)
    if (!m.contains("content") || m["content"].is_null()) m["content"] = "";
  return msgs;
}

// For templates that know neither tool calls nor tool results: the calls as JSON in the
// assistant's content, each result as a user turn (consecutive results in one turn).
ojson tools_as_text(const ojson& msgs) {
  ojson out = ojson::array();
  for (const auto& m : msgs) {
    const std::string role = m["role"].get<std::string>();
    if (role == "assistant" && m.contains("tool_calls")) {
      ojson calls = ojson::array();
      for (const auto& c : m["tool_calls"]) {
        ojson fn = c["function"];
        if (fn.contains("arguments") && fn["arguments"].is_string()) {
          try {
            fn["arguments"] = ojson::parse(fn["arguments"].get<std::string>());
          } catch (const std::exception&) {  // not JSON: kept as the string it is
          }
        }
        calls.push_back(fn);
      }
      std::string content = m.value("content", ojson("")).is_string() ? m["content"].get<std::string>() : "";
      if (!content.empty()) content += "\n";
      content += ojson{{"tool_calls", calls}}.dump();
      out.push_back({{"role", "assistant"}, {"content", content}});
    } else if (role == "tool") {
      ojson r = {{"content", m["content"]}};
      if (m.contains("name")) r["name"] = m["name"];
      if (m.contains("tool_call_id")) r["tool_call_id"] = m["tool_call_id"];
      const std::string text = ojson{{"tool_response", r}}.dump();
      if (!out.empty() && out.back()["role"] == "user" && out.back().value("from_tool", false)) {
        out.back()["content"] = out.back()["content"].get<std::string>() + "\n" + text;
      } else {
        out.push_back({{"role", "user"}, {"content", text}, {"from_tool", true}});
      }
    } else {
      out.push_back(m);
    }
  }
  for (auto& m : out) m.erase("from_tool");
  return out;
}

// Whether a template shows tool calls and tool results at all: renders a small conversation with
// marker names and looks for them (as llama.cpp probes a template's capabilities). A template
// that raises for it, or leaves the markers out (Phi 3.5 drops tool turns silently), does not.
bool template_takes_tools(const std::string& tmpl, const ojson& tools, const std::string& bos, const std::string& eos) {
  static const ojson probe = ojson::parse(R"([
    {"role": "user", "content": "hi"},
    {"role": "assistant", "content": "", "tool_calls": [{"id": "call00001", "type": "function",
      "function": {"name": "helixprobefn", "arguments": "{\"x\": 1}"}}]},
    {"role": "tool", "tool_call_id": "call00001", "name": "helixprobefn", "content": "helixproberesult"}])");
  try {
    const std::string out = chat::render_chat(tmpl, probe, tools, true, bos, eos);
    return out.find("helixprobefn") != std::string::npos && out.find("helixproberesult") != std::string::npos;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

ojson chat_messages(const ojson& body) {
  auto it = body.find("messages");
  if (it == body.end() || !it->is_array() || it->empty())
    throw ApiError{400, "'messages' must be a non-empty array", "invalid_request_error", "messages", "invalid_value"};
  ojson out = ojson::array();
  for (size_t i = 0; i < it->size(); ++i) {
    const ojson& m = (*it)[i];
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
      throw bad_message(i, " must be an object with a string 'role'");
    std::string role = m["role"].get<std::string>();
    if (role == "developer") role = "system";
    if (role != "system" && role != "user" && role != "assistant" && role != "tool")
      throw bad_message(i, cat(".role '", role, "' is not a known role; use system, developer, user, assistant or tool"));
    ojson n = m;
    n["role"] = role;
    n["content"] = content_text(m.value("content", ojson(nullptr)), i);
    if (m.contains("tool_calls") && !m["tool_calls"].is_null()) {
      if (role != "assistant") throw bad_message(i, ": only assistant messages carry 'tool_calls'");
      check_tool_calls(m["tool_calls"], i);
    } else {
      n.erase("tool_calls");
      if (role != "assistant" && n["content"].is_null())
        throw bad_message(i, cat(" (", role, ") needs 'content'"));
    }
    out.push_back(std::move(n));
  }
  return out;
}

std::string render_chat_messages(const std::string& tmpl, const ojson& messages, const ojson& tools,
                                 const std::string& bos, const std::string& eos) {
  bool has_tools = false;
  for (const auto& m : messages) has_tools = has_tools || m["role"] == "tool" || m.contains("tool_calls");
  const ojson msgs = has_tools && !template_takes_tools(tmpl, tools, bos, eos) ? tools_as_text(messages) : messages;
  auto render = [&](const ojson& m) { return chat::render_chat(tmpl, m, tools, true, bos, eos); };
  std::string first_error;
  try {
    return render(msgs);
  } catch (const std::exception& e) {
    first_error = e.what();
  }
  bool has_null = false;
  for (const auto& m : msgs) has_null = has_null || m["content"].is_null();
  if (has_null) {
    try {
      return render(without_null_content(msgs));
    } catch (const std::exception&) {
    }
  }
  throw ApiError{400, cat("the chat template could not render these messages: ", first_error), "invalid_request_error",
                 "messages", "invalid_value"};
}

}  // namespace helix::server
