// A chat request's tools: checked, the conversation prepared for the template, and the grammar
// of a forced call (see tools.h).
#include <random>

#include "grammar/matcher.h"
#include "tools/tools.h"

namespace helix::tools {

namespace {

const ojson* field(const ojson& b, const char* key) {
  auto it = b.find(key);
  if (it == b.end() || it->is_null()) return nullptr;
  return &*it;
}

bool valid_name(const std::string& n) {
  if (n.empty() || n.size() > 64) return false;
  for (char c : n)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  return true;
}

ojson read_tools(const ojson& body) {
  const ojson* t = field(body, "tools");
  if (!t) return ojson::array();
  if (!t->is_array()) throw RequestError("tools", "'tools' must be an array of {\"type\": \"function\", \"function\": {...}}");
  ojson out = ojson::array();
  for (size_t i = 0; i < t->size(); ++i) {
    const ojson& x = (*t)[i];
    const std::string where = cat("tools[", i, "]");
    if (!x.is_object() || !x.contains("type") || x["type"] != "function")
      throw RequestError("tools", cat(where, " must have \"type\": \"function\" (the only tool type supported)"));
    const ojson* f = field(x, "function");
    if (!f || !f->is_object()) throw RequestError("tools", cat(where, " needs a 'function' object"));
    const ojson* n = field(*f, "name");
    if (!n || !n->is_string() || !valid_name(n->get<std::string>()))
      throw RequestError("tools", cat(where, ".function.name must be 1 to 64 letters, digits, '_' or '-'"));
    if (const ojson* d = field(*f, "description"); d && !d->is_string())
      throw RequestError("tools", cat(where, ".function.description must be a string"));
    if (const ojson* p = field(*f, "parameters"); p && !p->is_object())
      throw RequestError("tools", cat(where, ".function.parameters must be a JSON Schema object"));
    for (const auto& prev : out)
      if (prev["function"]["name"] == *n) throw RequestError("tools", cat("two tools are named '", n->get<std::string>(), "'"));
    out.push_back(x);
  }
  return out;
}

void read_choice(const ojson& body, Plan& p) {
  const ojson* c = field(body, "tool_choice");
  if (const ojson* par = field(body, "parallel_tool_calls")) {
    if (!par->is_boolean()) throw RequestError("parallel_tool_calls", "'parallel_tool_calls' must be a boolean");
    p.parallel = par->get<bool>();
  }
  p.choice = p.tools.empty() ? Choice::kNone : Choice::kAuto;
  if (!c) return;
  if (c->is_string()) {
    const std::string s = c->get<std::string>();
    if (s == "none") p.choice = Choice::kNone;
    else if (s == "auto") p.choice = p.tools.empty() ? Choice::kNone : Choice::kAuto;
    else if (s == "required") p.choice = Choice::kRequired;
    else throw RequestError("tool_choice", cat("'tool_choice' '", s, "' is not one of 'none', 'auto', 'required'"));
  } else if (c->is_object() && field(*c, "function") && (*c)["function"].is_object() &&
             field((*c)["function"], "name") && (*c)["function"]["name"].is_string()) {
    p.choice = Choice::kNamed;
    p.named = (*c)["function"]["name"].get<std::string>();
  } else {
    throw RequestError("tool_choice",
                       "'tool_choice' must be 'none', 'auto', 'required' or {\"type\": \"function\", \"function\": {\"name\": ...}}");
  }
  if ((p.choice == Choice::kRequired || p.choice == Choice::kNamed) && p.tools.empty())
    throw RequestError("tool_choice", "'tool_choice' asks for a tool call but the request has no 'tools'");
  if (p.choice == Choice::kNamed) {
    bool found = false;
    for (const auto& t : p.tools) found = found || t["function"]["name"] == p.named;
    if (!found) throw RequestError("tool_choice", cat("'tool_choice' names '", p.named, "', which is not among the 'tools'"));
  }
}

// Mistral's templates want call ids of exactly 9 letters and digits: a stable digest of the id.
std::string mistral_id(const std::string& id) {
  static constexpr char digits[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  uint64_t h = 1469598103934665603ull;
  for (char c : id) h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ull;
  std::string out;
  for (int i = 0; i < 9; ++i, h /= 62) out += digits[h % 62];
  return out;
}

// Assistant tool_calls (already checked by the server) with arguments given as JSON strings
// parsed into objects, as templates print them with tojson (a string that is not JSON stays).
ojson object_arguments(ojson calls) {
  for (auto& c : calls) {
    ojson& f = c["function"];
    if (!f.contains("arguments") || !f["arguments"].is_string()) continue;
    ojson a = ojson::parse(f["arguments"].get<std::string>(), nullptr, false);
    if (a.is_object()) f["arguments"] = a;
  }
  return calls;
}

ojson tool_spec(const ojson& tools) {
  ojson out = ojson::array();
  for (const auto& t : tools) {
    ojson f = {{"name", t["function"]["name"]}};
    if (t["function"].contains("description")) f["description"] = t["function"]["description"];
    f["parameters"] = field(t["function"], "parameters") ? t["function"]["parameters"] : ojson{{"type", "object"}};
    out.push_back(f);
  }
  return out;
}

std::string generic_instructions(const ojson& tools, Choice choice) {
  std::string s =
      "You can call these tools (their parameters as JSON Schema):\n" + tool_spec(tools).dump(2) +
      "\n\nTo call tools, reply with only a JSON object of the form "
      "{\"tool_calls\": [{\"name\": \"<tool name>\", \"arguments\": {<arguments>}}]}";
  if (choice == Choice::kAuto) s += "; otherwise answer normally";
  return s + ". A tool's result comes back in a message holding {\"tool_response\": ...}.";
}

// Templates without tool support: the tools in a system message (the server's rendering turns
// calls and results into text turns for such templates).
ojson with_tools_system_message(ojson msgs, const Plan& p) {
  const std::string sys = generic_instructions(p.tools, p.choice);
  if (!msgs.empty() && msgs[0]["role"] == "system" && msgs[0]["content"].is_string())
    msgs[0]["content"] = msgs[0]["content"].get<std::string>() + "\n\n" + sys;
  else
    msgs.insert(msgs.begin(), ojson{{"role", "system"}, {"content", sys}});
  return msgs;
}

ojson prepare_messages(const ojson& msgs, const Plan& p) {
  ojson out = ojson::array();
  for (size_t i = 0; i < msgs.size(); ++i) {
    ojson m = msgs[i];
    if (const ojson* calls = field(m, "tool_calls"); calls && calls->is_array()) {
      m["tool_calls"] = object_arguments(*calls);
      if (p.family == Family::kMistral)
        for (auto& c : m["tool_calls"])
          if (field(c, "id") && c["id"].is_string()) c["id"] = mistral_id(c["id"].get<std::string>());
    }
    if (p.family == Family::kMistral && m["role"] == "tool" && field(m, "tool_call_id") && m["tool_call_id"].is_string())
      m["tool_call_id"] = mistral_id(m["tool_call_id"].get<std::string>());
    out.push_back(m);
  }
  return p.family == Family::kGeneric && p.choice != Choice::kNone ? with_tools_system_message(out, p) : out;
}

ojson call_schema(const ojson& tool, const char* args_key) {
  const ojson& f = tool["function"];
  ojson params = field(f, "parameters") ? f["parameters"] : ojson{{"type", "object"}};
  return {{"type", "object"},
          {"properties", {{"name", {{"const", f["name"]}}}, {args_key, params}}},
          {"required", {"name", args_key}}};
}

// The grammar of the calls: forced from the reply's first token (after the prefill), or for
// "auto" in the Hermes and Mistral families lazily, once the model writes the call's opening tag.
void call_grammar(Plan& p) {
  const bool forced = p.choice == Choice::kRequired || p.choice == Choice::kNamed;
  ojson alts = ojson::array();
  const char* key = p.family == Family::kLlama3 ? "parameters" : "arguments";
  for (const auto& t : p.tools)
    if (p.choice != Choice::kNamed || t["function"]["name"] == p.named) alts.push_back(call_schema(t, key));
  ojson one = alts.size() == 1 ? alts[0] : ojson{{"anyOf", alts}};
  // Parallel calls: at most one per tool offered, so a small model cannot repeat calls forever.
  ojson many = {{"type", "array"}, {"items", one}, {"minItems", 1}, {"maxItems", p.tools.size()}};
  if (!p.parallel || p.choice == Choice::kNamed) many["maxItems"] = 1;
  ojson schema;
  switch (p.family) {
    case Family::kHermes: (forced ? p.prefill = "<tool_call>\n" : p.trigger = "<tool_call>"), schema = one; break;
    case Family::kLlama3: schema = one; break;
    case Family::kMistral: (forced ? p.prefill : p.trigger) = "[TOOL_CALLS]", schema = many; break;
    case Family::kGeneric:
      schema = {{"type", "object"}, {"properties", {{"tool_calls", many}}}, {"required", {"tool_calls"}}};
      break;
  }
  if (!forced && p.trigger.empty()) return;  // Llama 3.x and generic replies have no opening tag
  try {
    p.grammar = grammar::Grammar::from_json_schema(schema);
  } catch (const grammar::SchemaError& e) {
    if (!forced) return;  // "auto": the call is then free text, parsed as written
    throw RequestError("tools", cat("a function's parameters cannot be used to force a call: ", e.what()));
  }
}

}  // namespace

Plan plan_tools(std::string_view template_source, const ojson& body, const ojson& messages) {
  Plan p;
  p.family = detect_family(template_source);
  p.tools = read_tools(body);
  read_choice(body, p);
  p.messages = prepare_messages(messages, p);
  p.parse = p.choice != Choice::kNone;
  // Templates with tool support see the tools even under "none" (some cannot render without
  // them); the reply is then not read for calls.
  if (!p.tools.empty() && p.family != Family::kGeneric) p.template_tools = p.tools;
  if (p.choice != Choice::kNone) call_grammar(p);
  return p;
}

Parsed parse_output(const Plan& plan, std::string_view text) {
  Parsed r = parse_tool_calls(plan.family, text);
  std::vector<ToolCall> kept;
  for (auto& c : r.calls) {
    bool offered = false;
    for (const auto& t : plan.tools) offered = offered || t["function"]["name"] == c.name;
    if (offered) kept.push_back(std::move(c));
  }
  if (kept.size() != r.calls.size()) return Parsed{std::string(text), {}};
  r.calls = std::move(kept);
  return r;
}

std::string new_call_id() {
  static constexpr char digits[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string id = "call_";
  for (int i = 0; i < 24; ++i) id += digits[rng() % 62];
  return id;
}

ojson tool_calls_json(const std::vector<ToolCall>& calls) {
  ojson out = ojson::array();
  for (const auto& c : calls)
    out.push_back({{"id", new_call_id()}, {"type", "function"}, {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
  return out;
}

bool arguments_match(const ojson& parameters, std::string_view arguments) {
  const auto g = grammar::Grammar::from_json_schema(parameters);
  grammar::Matcher m(*g);
  grammar::State s = m.start();
  return m.advance(s, arguments) && m.complete(s);
}

}  // namespace helix::tools
