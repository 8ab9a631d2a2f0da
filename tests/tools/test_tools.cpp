// Tool calling: family detection and the call parsers over what the real templates (from
// llama.cpp's models/templates, in the shared testdata) write for a call; request checks; the
// conversation prepared for templates (Mistral ids, templates without tool support); the
// grammar of forced calls.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "chat/template.h"
#include "grammar/matcher.h"
#include "grammar/token_matcher.h"
#include "runtime/sampler.h"
#include "tools/tools.h"

using helix::tools::Family;
using helix::tools::ojson;
namespace tools = helix::tools;

namespace {

std::string read_template(const std::string& name) {
  std::ifstream f(std::string(HELIX_TESTDATA) + "/chat-templates/" + name + ".jinja");
  EXPECT_TRUE(f.good()) << name;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

const ojson kTools = ojson::parse(R"([
  {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
   "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
                  "required": ["city"]}}},
  {"type": "function", "function": {"name": "add", "description": "Adds", "parameters": {"type": "object",
   "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"]}}}])");

tools::Plan plan(const std::string& tmpl, const ojson& body) { return tools::plan_tools(tmpl, body, body["messages"]); }

ojson request(const ojson& extra) {
  ojson b = {{"messages", ojson::array({{{"role", "user"}, {"content", "Weather in Paris, and 2+3?"}}})}, {"tools", kTools}};
  for (const auto& [k, v] : extra.items()) b[k] = v;
  return b;
}

ojson two_calls() {
  return ojson::parse(R"([
    {"id": "call_abc123", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
    {"id": "call_def456", "type": "function", "function": {"name": "add", "arguments": "{\"a\":2,\"b\":3}"}}])");
}

// What the template writes for the assistant's calls: the conversation with them rendered,
// less the conversation up to the generation prompt, less the end-of-turn marker.
std::string rendered_calls(const std::string& tmpl, Family fam, const ojson& calls) {
  ojson body = request({});
  const ojson user = body["messages"];
  // Content "" rather than null: Qwen3's template tests `'</think>' in message.content` (null
  // content is normalised for templates by the server's rendering, not here).
  body["messages"].push_back({{"role", "assistant"}, {"content", ""}, {"tool_calls", calls}});
  const tools::Plan p = plan(tmpl, body);
  EXPECT_EQ(p.family, fam);
  ojson upto = ojson::array({p.messages[0]});
  const std::string head = helix::chat::render_chat(tmpl, upto, p.template_tools, true, "<s>", "</s>");
  std::string all = helix::chat::render_chat(tmpl, p.messages, p.template_tools, false, "<s>", "</s>");
  EXPECT_EQ(all.substr(0, head.size()), head);
  all = all.substr(head.size());
  for (const std::string end : {"<|im_end|>\n", "<|eot_id|>", "</s>"})
    if (all.size() >= end.size() && all.substr(all.size() - end.size()) == end) all.resize(all.size() - end.size());
  return all;
}

void expect_two_calls(const tools::Parsed& r, size_t n = 2) {
  ASSERT_EQ(r.calls.size(), n);
  EXPECT_EQ(r.calls[0].name, "get_weather");
  EXPECT_EQ(ojson::parse(r.calls[0].arguments), ojson::parse(R"({"city":"Paris"})"));
  if (n > 1) {
    EXPECT_EQ(r.calls[1].name, "add");
    EXPECT_EQ(ojson::parse(r.calls[1].arguments), ojson::parse(R"({"a":2,"b":3})"));
  }
}

}  // namespace

TEST(ToolFamily, DetectedFromRealTemplates) {
  EXPECT_EQ(tools::detect_family(read_template("Qwen-Qwen2.5-7B-Instruct")), Family::kHermes);
  EXPECT_EQ(tools::detect_family(read_template("Qwen-Qwen3-0.6B")), Family::kHermes);
  EXPECT_EQ(tools::detect_family(read_template("NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use")), Family::kHermes);
  EXPECT_EQ(tools::detect_family(read_template("meta-llama-Llama-3.1-8B-Instruct")), Family::kLlama3);
  EXPECT_EQ(tools::detect_family(read_template("meta-llama-Llama-3.2-3B-Instruct")), Family::kLlama3);
  EXPECT_EQ(tools::detect_family(read_template("mistralai-Mistral-Nemo-Instruct-2407")), Family::kMistral);
  EXPECT_EQ(tools::detect_family(read_template("google-gemma-2-2b-it")), Family::kGeneric);
  EXPECT_EQ(tools::detect_family(read_template("microsoft-Phi-3.5-mini-instruct")), Family::kGeneric);
  EXPECT_EQ(tools::detect_family(helix::chat::fallback_chat_template()), Family::kHermes);
}

TEST(ToolParse, RealTemplateOutputsParseBack) {
  for (const char* name : {"Qwen-Qwen2.5-7B-Instruct", "Qwen-Qwen3-0.6B", "NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use",
                           "mistralai-Mistral-Nemo-Instruct-2407"}) {
    const std::string t = read_template(name);
    const std::string out = rendered_calls(t, tools::detect_family(t), two_calls());
    SCOPED_TRACE(name + std::string(": ") + out);
    const tools::Parsed r = tools::parse_tool_calls(tools::detect_family(t), out);
    expect_two_calls(r);
    EXPECT_EQ(r.content.find("tool_call"), std::string::npos);  // Qwen3 leaves its empty <think></think>
  }
  // Llama 3.1 writes exactly one call per assistant turn.
  const std::string llama = read_template("meta-llama-Llama-3.1-8B-Instruct");
  ojson one = two_calls();
  one.erase(1);
  const std::string out = rendered_calls(llama, Family::kLlama3, one);
  SCOPED_TRACE(out);
  expect_two_calls(tools::parse_tool_calls(Family::kLlama3, out), 1);
}

TEST(ToolParse, ContentAroundCallsAndMalformedCalls) {
  auto r = tools::parse_tool_calls(Family::kHermes, "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
                                                    "{\"city\": \"Paris\"}}\n</tool_call>\n<tool_call>{\"name\": \"add\", "
                                                    "\"arguments\": {\"a\": 2, \"b\": 3}}");  // unclosed at the end
  expect_two_calls(r);
  EXPECT_EQ(r.content, "Let me check.");
  r = tools::parse_tool_calls(Family::kHermes, "<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Par");
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.content, "<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Par");
  r = tools::parse_tool_calls(Family::kLlama3, "<|python_tag|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}; "
                                               "{\"name\": \"add\", \"parameters\": {\"a\": 2, \"b\": 3}}");
  expect_two_calls(r);
  r = tools::parse_tool_calls(Family::kLlama3, "The answer is {\"name\": 1}");
  EXPECT_TRUE(r.calls.empty());
  r = tools::parse_tool_calls(Family::kMistral, "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}, "
                                                "\"id\": \"abcdefghi\"}, {\"name\": \"add\", \"arguments\": \"{\\\"a\\\":2,\\\"b\\\":3}\"}]");
  expect_two_calls(r);
  r = tools::parse_tool_calls(Family::kGeneric, " {\"tool_calls\": [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}, "
                                                "{\"name\": \"add\", \"arguments\": {\"a\": 2, \"b\": 3}}]}\n");
  expect_two_calls(r);
  r = tools::parse_tool_calls(Family::kGeneric, "{\"response\": \"It is sunny.\"}");
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.content, "It is sunny.");
  r = tools::parse_tool_calls(Family::kGeneric, "{\"tool_calls\": [{\"name\": \"add\"}] } and more");
  EXPECT_TRUE(r.calls.empty());
}

TEST(ToolPlan, CallsToToolsNotOfferedStayContent) {
  const tools::Plan p = plan(read_template("Qwen-Qwen2.5-7B-Instruct"), request({}));
  const std::string text = "<tool_call>{\"name\": \"rm_rf\", \"arguments\": {}}</tool_call>";
  const tools::Parsed r = tools::parse_output(p, text);
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.content, text);
}

TEST(ToolPlan, RequestErrorsNameTheField) {
  const std::string t = read_template("Qwen-Qwen2.5-7B-Instruct");
  auto param_of = [&](const ojson& extra) {
    try {
      plan(t, request(extra));
    } catch (const tools::RequestError& e) {
      return e.param();
    }
    return std::string("no error");
  };
  EXPECT_EQ(param_of({{"tool_choice", "sometimes"}}), "tool_choice");
  EXPECT_EQ(param_of({{"tool_choice", {{"type", "function"}, {"function", {{"name", "nope"}}}}}}), "tool_choice");
  EXPECT_EQ(param_of({{"tools", ojson::array()}, {"tool_choice", "required"}}), "tool_choice");
  EXPECT_EQ(param_of({{"tools", {{{"type", "retrieval"}}}}}), "tools");
  EXPECT_EQ(param_of({{"tools", {{{"type", "function"}, {"function", {{"name", "bad name!"}}}}}}}), "tools");
  EXPECT_EQ(param_of({{"parallel_tool_calls", "yes"}}), "parallel_tool_calls");
  EXPECT_EQ(param_of({{"tool_choice", "required"},
                      {"tools", {{{"type", "function"}, {"function", {{"name", "f"}, {"parameters", {{"type", "string"}, {"pattern", "a+"}}}}}}}}}),
            "tools");
  EXPECT_EQ(param_of({{"tool_choice", "none"}}), "no error");
}

TEST(ToolPlan, NoneParsesNothing) {
  const tools::Plan p = plan(read_template("Qwen-Qwen2.5-7B-Instruct"), request({{"tool_choice", "none"}}));
  EXPECT_FALSE(p.parse);
  EXPECT_EQ(p.grammar, nullptr);
  const tools::Plan g = plan(read_template("google-gemma-2-2b-it"), request({{"tool_choice", "none"}}));
  EXPECT_TRUE(g.template_tools.is_null());
  EXPECT_EQ(g.messages.size(), 1u);  // no system message describing tools
}

// The follow-up turn (assistant content null with tool_calls as OpenAI sends them, arguments as
// JSON strings, then tool results) renders with each family's template, Mistral's with its
// 9-character ids. (Templates without tool support get the server's text polyfill, tested there.)
TEST(ToolPlan, FollowUpTurnRendersInEveryFamily) {
  ojson msgs = request({})["messages"];
  msgs.push_back({{"role", "assistant"}, {"content", nullptr}, {"tool_calls", two_calls()}});
  msgs.push_back({{"role", "tool"}, {"tool_call_id", "call_abc123"}, {"content", "18 C"}});
  msgs.push_back({{"role", "tool"}, {"tool_call_id", "call_def456"}, {"content", "5"}});
  for (const char* name : {"Qwen-Qwen2.5-7B-Instruct", "mistralai-Mistral-Nemo-Instruct-2407",
                           "NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use"}) {
    SCOPED_TRACE(name);
    const std::string t = read_template(name);
    const tools::Plan p = plan(t, {{"messages", msgs}, {"tools", kTools}, {"tool_choice", "none"}});
    std::string out;
    ASSERT_NO_THROW(out = helix::chat::render_chat(t, p.messages, p.template_tools, true, "<s>", "</s>"));
    EXPECT_NE(out.find("18 C"), std::string::npos);
    EXPECT_NE(out.find("Paris"), std::string::npos);
    EXPECT_EQ(out.find("\\\"city"), std::string::npos);  // arguments as an object, not a quoted string
  }
}

TEST(ToolPlan, GenericFamilyDescribesToolsInASystemMessage) {
  const std::string t = read_template("microsoft-Phi-3.5-mini-instruct");
  const tools::Plan p = plan(t, request({}));
  ASSERT_EQ(p.family, Family::kGeneric);
  EXPECT_TRUE(p.template_tools.is_null());
  ASSERT_EQ(p.messages[0]["role"], "system");
  EXPECT_NE(p.messages[0]["content"].get<std::string>().find("get_weather"), std::string::npos);
  EXPECT_NE(p.messages[0]["content"].get<std::string>().find("\"tool_calls\""), std::string::npos);
}

// A forced call's grammar accepts exactly the family's call syntax with valid arguments.
TEST(ToolPlan, ForcedCallGrammarPerFamily) {
  struct Case {
    const char* tmpl;
    ojson choice;
    std::string good, bad;
  };
  const std::vector<Case> cases = {
      {"Qwen-Qwen2.5-7B-Instruct", "required", R"({"name": "add", "arguments": {"a": 2, "b": 3}})",
       R"({"name": "add", "arguments": {"a": "2", "b": 3}})"},
      {"meta-llama-Llama-3.1-8B-Instruct", {{"type", "function"}, {"function", {{"name", "get_weather"}}}},
       R"({"name": "get_weather", "parameters": {"city": "Paris", "unit": "c"}})",
       R"({"name": "add", "parameters": {"a": 2, "b": 3}})"},
      {"mistralai-Mistral-Nemo-Instruct-2407", "required",
       R"([{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "add", "arguments": {"a": 2, "b": 3}}])",
       R"([{"name": "get_weather", "arguments": {"unit": "c"}}])"},
      {"microsoft-Phi-3.5-mini-instruct", "required", R"({"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 2}}]})",
       R"({"tool_calls": []})"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.tmpl);
    const std::string t = read_template(c.tmpl);
    const tools::Plan p = plan(t, request({{"tool_choice", c.choice}}));
    ASSERT_NE(p.grammar, nullptr);
    helix::grammar::Matcher m(*p.grammar);
    helix::grammar::State s = m.start();
    EXPECT_TRUE(m.advance(s, c.good) && m.complete(s));
    s = m.start();
    EXPECT_FALSE(m.advance(s, c.bad) && m.complete(s));
    EXPECT_FALSE(tools::parse_output(p, p.prefill + c.good).calls.empty());
  }
  EXPECT_TRUE(tools::arguments_match(kTools[1]["function"]["parameters"], R"({"a":1,"b":2})"));
  EXPECT_FALSE(tools::arguments_match(kTools[1]["function"]["parameters"], R"({"a":1})"));
}

TEST(ToolCalls, OpenAIShape) {
  const ojson j = tools::tool_calls_json({{"add", R"({"a":1})"}});
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["type"], "function");
  EXPECT_EQ(j[0]["function"]["name"], "add");
  EXPECT_EQ(j[0]["function"]["arguments"], R"({"a":1})");
  EXPECT_EQ(j[0]["id"].get<std::string>().rfind("call_", 0), 0u);
  EXPECT_NE(tools::new_call_id(), tools::new_call_id());
}

// "auto": the call's grammar is switched on lazily, once the generated text holds the trigger.
// A tiny vocabulary whose logits always prefer "x": before the trigger "x" is drawn; after it the
// grammar masks "x" and the next-best tokens that continue the call are drawn, then the end.
TEST(ToolLazyGrammar, AppliesOnlyAfterTheTrigger) {
  const std::vector<std::string> pieces = {"</s>", "x", " <tool", "_call>", "{\"a\":", "1", "}", "_call>\n{", "\"a\": 2}"};
  auto vocab = std::make_shared<helix::grammar::Vocabulary>(pieces, std::vector<int32_t>{0});
  auto g = helix::grammar::Grammar::from_json_schema_text(
      R"({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]})");
  auto run = [&](std::vector<std::vector<int32_t>> prefs) {  // per step: token ids from best to worst (after "x")
    helix::runtime::SamplingParams sp;
    sp.temperature = 0;
    sp.constraint = std::make_shared<helix::grammar::Constraint>(helix::grammar::Constraint{g, vocab});
    sp.grammar_trigger = "<tool_call>";
    helix::runtime::Sampler s(sp);
    std::vector<int32_t> out;
    for (const auto& pref : prefs) {
      std::vector<float> logits(pieces.size(), -10.0f);
      logits[1] = 10.0f;  // "x" is always the model's favourite
      float v = 5.0f;
      for (int32_t id : pref) logits[static_cast<size_t>(id)] = v--;
      out.push_back(s.sample(logits.data(), static_cast<int64_t>(logits.size()), out));
    }
    return out;
  };
  // Free text first ("x" wins), then the trigger is written (the test prefers it over "x" by
  // giving "x" nothing better: the sampler is greedy, so the trigger pieces are forced below).
  EXPECT_EQ(run({{}, {}}), (std::vector<int32_t>{1, 1}));
  auto forced_trigger = [&](std::vector<std::vector<int32_t>> rest) {
    helix::runtime::SamplingParams sp;
    sp.temperature = 0;
    sp.constraint = std::make_shared<helix::grammar::Constraint>(helix::grammar::Constraint{g, vocab});
    sp.grammar_trigger = "<tool_call>";
    sp.logit_bias = {{1, -100.0f}};  // no "x" while the trigger is written
    helix::runtime::Sampler s(sp);
    std::vector<int32_t> out;
    for (size_t step = 0; step < rest.size(); ++step) {
      std::vector<float> logits(pieces.size(), -10.0f);
      logits[1] = step < 2 ? -1000.0f : 1000.0f;  // after the trigger "x" would win again, unless masked
      float v = 5.0f;
      for (int32_t id : rest[step]) logits[static_cast<size_t>(id)] = v--;
      out.push_back(s.sample(logits.data(), static_cast<int64_t>(logits.size()), out));
    }
    return out;
  };
  // " <tool" "_call>" then the grammar: "{\"a\":" "1" "}" and only the end may follow.
  EXPECT_EQ(forced_trigger({{2}, {3}, {4}, {5}, {6}, {8}}), (std::vector<int32_t>{2, 3, 4, 5, 6, 0}));
  // A token holding the trigger and more ("_call>\n{"): the grammar starts from its tail.
  EXPECT_EQ(forced_trigger({{2}, {7}, {4, 8}, {0}}), (std::vector<int32_t>{2, 7, 8, 0}));
}
