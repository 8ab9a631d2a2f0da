// A chat request's tools: checked, the conversation prepared for the template, and the grammar
// of a forced call (see tools.h).
#include <random>

#include "grammar/matcher.h"
#include "tools/parse_util.h"

namespace helix::tools {

namespace {

const ojson* field(const ojson& b, const char* key) {
  auto it = b.find(key);
  if (it == b.end() || it->is_null()) return nullptr;
  return &*it;
}

// `w` in `s` as a word of its own (not inside tool_calls or is_tool).
bool has_word(std::string_view s, std::string_view w) {
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  for (size_t at = s.find(w); at != std::string_view::npos; at = s.find(w, at + 1))
    if ((at == 0 || !word(s[at - 1])) && (at + w.size() >= s.size() || !word(s[at + w.size()]))) return true;
  return false;
}

// DeepSeek R1 / V3 write "function<｜tool▁sep｜>NAME\n```json ...```"; V3.1 "NAME<｜tool▁sep｜>{...}".
bool deepseek_r1_style(std::string_view src) {
  return detail::has(src, "'<｜tool▁sep｜>' + tool['function']['name'] + '\\n'");
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

// The other way round: arguments given as objects become JSON strings.
ojson string_arguments(ojson calls) {
  for (auto& c : calls)
    if (c["function"].contains("arguments") && !c["function"]["arguments"].is_string())
      c["function"]["arguments"] = c["function"]["arguments"].dump();
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

// A template of a family with a call syntax that never shows the tools themselves (DeepSeek R1's):
// the tools and the family's syntax in a system message, as llama.cpp's fixed R1 template does.
std::string family_instructions(const ojson& tools, const std::string& example) {
  return "You can call any of the following function tools to satisfy the user's requests: " + tool_spec(tools).dump(2) +
         "\n\nExample function tool call syntax:\n\n" + example + "\n";
}

// Templates without tool support: the tools in a system message (the server's rendering turns
// calls and results into text turns for such templates).
ojson with_tools_system_message(ojson msgs, const Plan& p, const std::string& sys) {
  if (!msgs.empty() && msgs[0]["role"] == "system" && msgs[0]["content"].is_string())
    msgs[0]["content"] = msgs[0]["content"].get<std::string>() + "\n\n" + sys;
  else
    msgs.insert(msgs.begin(), ojson{{"role", "system"}, {"content", sys}});
  return msgs;
}

// Whether the template prints call arguments as they are, into text (functionary v3.2's
// `arguments }}`, DeepSeek R1's `arguments + '\n'`) and never through tojson: such templates get
// the JSON strings OpenAI sends; the others get objects, which they print with tojson.
bool template_wants_string_arguments(std::string_view src) {
  bool raw = false;
  for (size_t at = src.find("arguments"); at != std::string_view::npos; at = src.find("arguments", at + 1)) {
    size_t i = at + 9;
    while (i < src.size() && (src[i] == '\'' || src[i] == '"' || src[i] == ']' || src[i] == ' ')) ++i;
    if (i >= src.size()) break;
    if (src[i] == '|') {
      size_t j = i + 1;
      while (j < src.size() && src[j] == ' ') ++j;
      if (src.substr(j, 6) == "tojson") return false;
    }
    raw = raw || src[i] == '+' || src.substr(i, 2) == "}}";
  }
  return raw;
}

ojson prepare_messages(const ojson& msgs, const Plan& p, std::string_view src) {
  const bool objects = !template_wants_string_arguments(src) || p.family == Family::kGeneric;
  ojson out = ojson::array();
  for (size_t i = 0; i < msgs.size(); ++i) {
    ojson m = msgs[i];
    if (const ojson* calls = field(m, "tool_calls"); calls && calls->is_array()) {
      m["tool_calls"] = objects ? object_arguments(*calls) : string_arguments(*calls);
      if (p.family == Family::kMistral)
        for (auto& c : m["tool_calls"])
          if (field(c, "id") && c["id"].is_string()) c["id"] = mistral_id(c["id"].get<std::string>());
    }
    if (p.family == Family::kMistral && m["role"] == "tool" && field(m, "tool_call_id") && m["tool_call_id"].is_string())
      m["tool_call_id"] = mistral_id(m["tool_call_id"].get<std::string>());
    out.push_back(m);
  }
  if (p.choice == Choice::kNone) return out;
  if (p.family == Family::kGeneric) return with_tools_system_message(out, p, generic_instructions(p.tools, p.choice));
  if (!has_word(src, "tools") && p.family == Family::kDeepSeek) {
    const std::string example =
        deepseek_r1_style(src) ? "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>example_function_name\n"
                                 "```json\n{\"arg1\": \"some_value\"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>"
                               : "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>example_function_name<｜tool▁sep｜>"
                                 "{\"arg1\": \"some_value\"}<｜tool▁call▁end｜><｜tool▁calls▁end｜>";
    return with_tools_system_message(out, p, family_instructions(p.tools, example));
  }
  return out;
}

ojson call_schema(const ojson& tool, const char* args_key) {
  const ojson& f = tool["function"];
  ojson params = field(f, "parameters") ? f["parameters"] : ojson{{"type", "object"}};
  return {{"type", "object"},
          {"properties", {{"name", {{"const", f["name"]}}}, {args_key, params}}},
          {"required", {"name", args_key}}};
}

ojson tool_params(const ojson& tool) {
  return field(tool["function"], "parameters") ? tool["function"]["parameters"] : ojson{{"type", "object"}};
}

// A forced call of one known tool in the families that write the name outside the JSON: the
// text before the arguments (the reply starts with it), the grammar then covers the arguments.
std::string named_call_opening(Family f, const std::string& name, std::string_view src) {
  switch (f) {
    case Family::kFunctionaryV31: return "<function=" + name + ">";
    case Family::kFunctionaryV32: return name + "\n";  // the prompt ends with ">>>"
    case Family::kGptOss: return "<|channel|>commentary to=functions." + name + " <|constrain|>json<|message|>";
    case Family::kDeepSeek: {
      // R1's prompt opens <think>: close it first. R1 / V3 write the type and a ```json block.
      std::string s = detail::has(src, "<｜Assistant｜><think>\\n") ? "</think>\n\n" : "";
      s += "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>";
      if (deepseek_r1_style(src)) return s + "function<｜tool▁sep｜>" + name + "\n```json\n";
      return s + name + "<｜tool▁sep｜>";
    }
    default: return "";
  }
}

// The grammar of the calls: forced from the reply's first token (after the prefill), or for
// "auto" lazily, once the model starts a call: after the opening tag (Hermes, Mistral, Command R+)
// or, where the call is the whole reply (Llama 3.x, generic), when the reply starts with "{".
void call_grammar(Plan& p, std::string_view src) {
  const bool forced = p.choice == Choice::kRequired || p.choice == Choice::kNamed;
  ojson alts = ojson::array();
  const bool r7b = detail::has(src, "<|START_ACTION|>");
  const char* key = p.family == Family::kLlama3 || p.family == Family::kCommandR ? "parameters" : "arguments";
  for (const auto& t : p.tools)
    if (p.choice != Choice::kNamed || t["function"]["name"] == p.named) {
      ojson c = call_schema(t, key);
      if (p.family == Family::kCommandR) {  // {"tool_call_id" (R7B), "tool_name", "parameters"}
        ojson props = ojson::object();
        if (r7b) props["tool_call_id"] = {{"type", "string"}, {"maxLength", 8}};
        props["tool_name"] = c["properties"]["name"];
        props["parameters"] = c["properties"][key];
        c["properties"] = props;
        c["required"] = r7b ? ojson{"tool_call_id", "tool_name", "parameters"} : ojson{"tool_name", "parameters"};
      }
      alts.push_back(c);
    }
  ojson one = alts.size() == 1 ? alts[0] : ojson{{"anyOf", alts}};
  // Parallel calls: at most one per tool offered, so a small model cannot repeat calls forever.
  ojson many = {{"type", "array"}, {"items", one}, {"minItems", 1}, {"maxItems", p.tools.size()}};
  if (!p.parallel || p.choice == Choice::kNamed) many["maxItems"] = 1;
  const ojson generic = {{"type", "object"}, {"properties", {{"tool_calls", many}}}, {"required", {"tool_calls"}}};
  ojson schema;
  switch (p.family) {
    case Family::kHermes: (forced ? p.prefill = "<tool_call>\n" : p.trigger = "<tool_call>"), schema = one; break;
    case Family::kLlama3:
      schema = one;
      if (!forced) p.trigger = "{", p.trigger_at_start = true;
      break;
    case Family::kMistral: (forced ? p.prefill : p.trigger) = "[TOOL_CALLS]", schema = many; break;
    case Family::kCommandR:  // R7B's <|START_ACTION|> is a control token, which no lazy trigger sees
      schema = many;
      if (forced) p.prefill = r7b ? "<|START_ACTION|>" : "Action:\n```json\n";
      else if (!r7b) p.trigger = "```json";
      break;
    case Family::kFunctionaryV31:
    case Family::kFunctionaryV32:
    case Family::kDeepSeek:
    case Family::kGptOss: {
      if (!forced) return;  // the name comes before the JSON: the call is parsed as written
      const ojson* only = p.choice == Choice::kNamed ? nullptr : p.tools.size() == 1 ? &p.tools[0] : nullptr;
      for (const auto& t : p.tools)
        if (p.choice == Choice::kNamed && t["function"]["name"] == p.named) only = &t;
      if (only) {
        p.prefill = named_call_opening(p.family, (*only)["function"]["name"].get<std::string>(), src);
        schema = tool_params(*only);
      } else {  // which tool is the model's choice: Helix's generic JSON form carries the name
        p.forced_generic = true;
        schema = generic;
      }
      break;
    }
    case Family::kGeneric:
      schema = generic;
      if (!forced) {
        schema = {{"anyOf", {generic, {{"type", "object"}, {"properties", {{"response", {{"type", "string"}}}}}, {"required", {"response"}}}}}};
        p.trigger = "{", p.trigger_at_start = true;
      }
      break;
  }
  if (!forced && p.trigger.empty()) return;
  try {
    p.grammar = grammar::Grammar::from_json_schema(schema);
  } catch (const grammar::SchemaError& e) {
    p.trigger.clear(), p.trigger_at_start = false;
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
  p.messages = prepare_messages(messages, p, template_source);
  p.parse = p.choice != Choice::kNone;
  // Templates with tool support see the tools even under "none" (some cannot render without
  // them); the reply is then not read for calls.
  if (!p.tools.empty() && p.family != Family::kGeneric) p.template_tools = p.tools;
  if (p.choice != Choice::kNone) call_grammar(p, template_source);
  // Markers that are control tokens in these families' vocabularies must reach the parser.
  p.render_special = p.family == Family::kGptOss || p.family == Family::kDeepSeek || p.family == Family::kCommandR;
  p.think_open = p.family == Family::kDeepSeek && detail::has(template_source, "<｜Assistant｜><think>\\n");
  return p;
}

CallSampling call_sampling(const Plan& plan, bool other_grammar) {
  CallSampling s;
  s.render_special = plan.parse && plan.render_special;
  if (plan.grammar && (plan.trigger.empty() || !other_grammar)) {
    s.grammar = plan.grammar;
    s.trigger = plan.trigger;
    s.trigger_at_start = plan.trigger_at_start;
  }
  return s;
}

// The text the family's parser reads: the prefill and the reply (R1: with its reasoning's opening
// tag, which the prompt wrote).
std::string detail::parse_text(const Plan& plan, std::string_view text) {
  std::string t(text);
  if (plan.think_open && !plan.forced_generic && t.find("</think>") == std::string::npos && t.find("<think>") == std::string::npos) t = "<think>" + t;
  return t;
}

ojson assistant_message(const Plan& plan, const std::string& text, std::string& finish) {
  if (!plan.parse) return {{"role", "assistant"}, {"content", text}};
  Parsed r = parse_output(plan, plan.prefill + text);
  ojson m = {{"role", "assistant"}};
  if (r.calls.empty()) {
    m["content"] = r.content;
  } else {
    if (finish == "stop") finish = "tool_calls";
    m["content"] = r.content.empty() ? ojson(nullptr) : ojson(r.content);
    m["tool_calls"] = tool_calls_json(r.calls);
  }
  if (!r.reasoning.empty()) m["reasoning_content"] = r.reasoning;
  return m;
}

Parsed parse_output(const Plan& plan, std::string_view with_prefill) {
  const std::string text = detail::parse_text(plan, with_prefill);
  Parsed r = plan.forced_generic ? detail::parse_generic(text) : parse_tool_calls(plan.family, text);
  std::vector<ToolCall> kept;
  for (auto& c : r.calls) {
    bool offered = false;
    for (const auto& t : plan.tools) offered = offered || t["function"]["name"] == c.name;
    if (offered) kept.push_back(std::move(c));
  }
  if (kept.size() != r.calls.size()) return Parsed{detail::trim(text), {}, {}};
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
