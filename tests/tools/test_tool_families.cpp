// The call syntaxes of functionary v3.1/v3.2, DeepSeek R1/V3.1, Command R+/R7B and gpt-oss:
// detection, each real template (tests/tools/templates, from llama.cpp b11434's models/templates)
// rendering a conversation with two calls, and the family's parser reading what the template
// wrote back; forced calls (prefill + grammar) per family; lazy triggers of Llama 3.x / generic.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "chat/template.h"
#include "grammar/matcher.h"
#include "grammar/token_matcher.h"
#include "runtime/sampler.h"
#include "tools/tools.h"
#include "tool_test_util.h"

using helix::tools::Family;
using helix::tools::ojson;
namespace tools = helix::tools;

namespace {

using namespace helix::tools::test;  // NOLINT: the shared fixtures

ojson request(const ojson& extra = ojson::object()) {
  ojson b = {{"messages", ojson::array({{{"role", "user"}, {"content", "Weather in Paris, and 2+3?"}}})}, {"tools", kTools}};
  for (const auto& [k, v] : extra.items()) b[k] = v;
  return b;
}

ojson two_calls() {
  return ojson::parse(R"([
    {"id": "call_abc123", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
    {"id": "call_def456", "type": "function", "function": {"name": "add", "arguments": "{\"a\":2,\"b\":3}"}}])");
}

struct Case {
  const char* name;
  Family family;
  std::string opening;  // what the template writes before the reply (its generation prompt's end)
  size_t calls;         // calls the template writes (gpt-oss: the first only)
  ojson content;        // the assistant content the template needs with calls (R1: null)
};

const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      {"meetkai-functionary-medium-v3.1", Family::kFunctionaryV31, "<|start_header_id|>assistant<|end_header_id|>\n\n", 2, ""},
      {"meetkai-functionary-medium-v3.2", Family::kFunctionaryV32, "<|start_header_id|>assistant<|end_header_id|>\n\n>>>", 2, ""},
      {"deepseek-ai-DeepSeek-R1-Distill-Llama-8B", Family::kDeepSeek, "<｜Assistant｜>", 2, nullptr},
      {"deepseek-ai-DeepSeek-V3.1", Family::kDeepSeek, "<｜Assistant｜><think></think>", 2, ""},
      {"CohereForAI-c4ai-command-r-plus-tool_use", Family::kCommandR, "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>", 2, ""},
      {"CohereForAI-c4ai-command-r7b-12-2024-tool_use", Family::kCommandR, "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>", 2, ""},
      {"openai-gpt-oss-120b", Family::kGptOss, "<|start|>assistant", 1, ""},
  };
  return c;
}

std::string strip_end(std::string s) {
  for (bool again = true; again;) {
    again = false;
    for (const std::string end : {"<|eot_id|>", "<|eom_id|>", "<｜end▁of▁sentence｜>", "<|END_OF_TURN_TOKEN|>", "<|call|>", "\n"})
      if (s.size() >= end.size() && s.substr(s.size() - end.size()) == end) s.resize(s.size() - end.size()), again = true;
  }
  return s;
}

// The reply as the model would write it after the generation prompt: the conversation with the
// calls rendered, from the assistant turn's opening after the user's message to the end of the
// turn (Command R+ follows it with a system turn of instructions).
std::string rendered_calls(const Case& c, const std::string& tmpl) {
  ojson body = request();
  body["messages"].push_back({{"role", "assistant"}, {"content", c.content}, {"tool_calls", two_calls()}});
  const tools::Plan p = tools::plan_tools(tmpl, body, body["messages"]);
  EXPECT_EQ(p.family, c.family);
  const std::string all = helix::chat::render_chat(tmpl, p.messages, p.template_tools, false, "<s>", "</s>");
  const size_t user = all.find("2+3?");
  const size_t at = all.find(c.opening, user);
  EXPECT_NE(at, std::string::npos) << all;
  std::string out = all.substr(at + c.opening.size());
  if (const size_t next = out.find("<|START_OF_TURN_TOKEN|>"); next != std::string::npos) out.resize(next);
  return strip_end(out);
}

void expect_calls(const tools::Parsed& r, size_t n) {
  ASSERT_EQ(r.calls.size(), n);
  EXPECT_EQ(r.calls[0].name, "get_weather");
  EXPECT_EQ(ojson::parse(r.calls[0].arguments), ojson::parse(R"({"city":"Paris"})"));
  if (n > 1) {
    EXPECT_EQ(r.calls[1].name, "add");
    EXPECT_EQ(ojson::parse(r.calls[1].arguments), ojson::parse(R"({"a":2,"b":3})"));
  }
}

}  // namespace

TEST(ToolFamilies, DetectedFromRealTemplates) {
  for (const auto& c : cases()) EXPECT_EQ(tools::detect_family(own_template(c.name)), c.family) << c.name;
}

TEST(ToolFamilies, RealTemplateOutputsParseBack) {
  for (const auto& c : cases()) {
    const std::string t = own_template(c.name);
    const std::string out = rendered_calls(c, t);
    SCOPED_TRACE(c.name + std::string(": ") + out);
    const tools::Parsed r = tools::parse_tool_calls(c.family, out);
    expect_calls(r, c.calls);
    EXPECT_EQ(r.content.find("function"), std::string::npos) << r.content;
    EXPECT_EQ(r.content.find("tool"), std::string::npos) << r.content;
    EXPECT_EQ(r.content.find("Action"), std::string::npos) << r.content;
  }
}

// Text, reasoning and calls together, as these models write them (llama.cpp's parser tests use
// the same shapes).
TEST(ToolFamilies, ContentReasoningAndMalformedCalls) {
  auto r = tools::parse_tool_calls(Family::kFunctionaryV31,
                                   "Let me look.<function=get_weather>{\"city\": \"Paris\"}</function>\n<function=add>{\"a\": 2, \"b\": 3}");
  expect_calls(r, 2);
  EXPECT_EQ(r.content, "Let me look.");
  r = tools::parse_tool_calls(Family::kFunctionaryV31, "<function=get_weather>{\"city\": \"Par");
  EXPECT_TRUE(r.calls.empty());
  r = tools::parse_tool_calls(Family::kFunctionaryV31, "<|python_tag|>print(2+3)");
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].name, "python");
  EXPECT_EQ(ojson::parse(r.calls[0].arguments)["code"], "print(2+3)");

  r = tools::parse_tool_calls(Family::kFunctionaryV32, "all\nChecking.>>>get_weather\n{\"city\": \"Paris\"}>>>add\n{\"a\": 2, \"b\": 3}");
  expect_calls(r, 2);
  EXPECT_EQ(r.content, "Checking.");
  r = tools::parse_tool_calls(Family::kFunctionaryV32, "all\nIt is sunny in Paris.");
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.content, "It is sunny in Paris.");
  r = tools::parse_tool_calls(Family::kFunctionaryV32, "It is sunny.");  // no recipient line
  EXPECT_EQ(r.content, "It is sunny.");

  r = tools::parse_tool_calls(Family::kDeepSeek,
                              "I should call the tool.\n</think>\n\n<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>"
                              "get_weather\n```json\n{\"city\": \"Paris\"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>");
  expect_calls(r, 1);
  EXPECT_EQ(r.reasoning, "I should call the tool.");
  EXPECT_EQ(r.content, "");
  r = tools::parse_tool_calls(Family::kDeepSeek, "<think>hmm</think>The answer is 5.");
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.reasoning, "hmm");
  EXPECT_EQ(r.content, "The answer is 5.");
  r = tools::parse_tool_calls(Family::kDeepSeek, "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{\"city\": ");
  EXPECT_TRUE(r.calls.empty());

  r = tools::parse_tool_calls(Family::kCommandR, "Action: ```json\n[{\"tool_name\": \"directly-answer\", \"parameters\": {}}]\n```");
  EXPECT_TRUE(r.calls.empty());
  r = tools::parse_tool_calls(Family::kCommandR,
                              "<|START_THINKING|>Need the weather.<|END_THINKING|><|START_ACTION|>[{\"tool_call_id\": \"0\", "
                              "\"tool_name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}]<|END_ACTION|>");
  expect_calls(r, 1);
  EXPECT_EQ(r.reasoning, "Need the weather.");
  r = tools::parse_tool_calls(Family::kCommandR, "<|START_RESPONSE|>It is 18 C.<|END_RESPONSE|>");
  EXPECT_EQ(r.content, "It is 18 C.");

  r = tools::parse_tool_calls(Family::kGptOss,
                              "<|channel|>analysis<|message|>Need weather.<|end|><|start|>assistant<|channel|>commentary "
                              "to=functions.get_weather <|constrain|>json<|message|>{\"city\": \"Paris\"}<|call|>");
  expect_calls(r, 1);
  EXPECT_EQ(r.reasoning, "Need weather.");
  r = tools::parse_tool_calls(Family::kGptOss,
                              "<|channel|>analysis<|message|>Easy.<|end|><|start|>assistant<|channel|>final<|message|>5<|return|>");
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.content, "5");
  EXPECT_EQ(r.reasoning, "Easy.");
  r = tools::parse_tool_calls(Family::kGptOss, "<|channel|>commentary to=functions.add json<|message|>{\"a\": 2,");
  EXPECT_TRUE(r.calls.empty());
}

// The follow-up turn (content null, arguments as JSON strings, then tool results) renders with
// every new family's template, arguments as JSON (not a quoted string) where the template prints
// them with tojson, and as the string where it concatenates them.
TEST(ToolFamilies, FollowUpTurnRenders) {
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.name);
    ojson msgs = request()["messages"];
    msgs.push_back({{"role", "assistant"}, {"content", c.content}, {"tool_calls", two_calls()}});
    msgs.push_back({{"role", "tool"}, {"tool_call_id", "call_abc123"}, {"content", "18 C"}});
    const std::string t = own_template(c.name);
    const tools::Plan p = tools::plan_tools(t, {{"messages", msgs}, {"tools", kTools}}, msgs);
    std::string out;
    ASSERT_NO_THROW(out = helix::chat::render_chat(t, p.messages, p.template_tools, true, "<s>", "</s>"));
    EXPECT_NE(out.find("18 C"), std::string::npos);
    EXPECT_NE(out.find("Paris"), std::string::npos);
    EXPECT_EQ(out.find("\\\"city"), std::string::npos);
  }
}

// A forced call: the reply starts with the family's opening for the named tool and the grammar
// holds the arguments; prefill + a valid continuation parses to the call. With several tools to
// choose from, families that write the name outside the JSON use the generic JSON form.
TEST(ToolFamilies, ForcedCalls) {
  const ojson named = {{"type", "function"}, {"function", {{"name", "get_weather"}}}};
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.name);
    const std::string t = own_template(c.name);
    const tools::Plan p = tools::plan_tools(t, request({{"tool_choice", named}}), request()["messages"]);
    ASSERT_NE(p.grammar, nullptr);
    EXPECT_FALSE(p.prefill.empty());
    const std::string args = c.family == Family::kCommandR
                                 ? (std::string(c.name).find("r7b") != std::string::npos
                                        ? R"([{"tool_call_id": "0", "tool_name": "get_weather", "parameters": {"city": "Paris"}}])"
                                        : R"([{"tool_name": "get_weather", "parameters": {"city": "Paris"}}])")
                                 : R"({"city": "Paris"})";
    helix::grammar::Matcher m(*p.grammar);
    helix::grammar::State s = m.start();
    EXPECT_TRUE(m.advance(s, args) && m.complete(s));
    s = m.start();
    EXPECT_FALSE(m.advance(s, R"({"town": "Paris"})") && m.complete(s));
    expect_calls(tools::parse_output(p, p.prefill + args), 1);

    const tools::Plan any = tools::plan_tools(t, request({{"tool_choice", "required"}}), request()["messages"]);
    ASSERT_NE(any.grammar, nullptr);
    const bool generic = c.family != Family::kCommandR;
    EXPECT_EQ(any.forced_generic, generic);
    if (generic) {
      const std::string text = R"({"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "add", "arguments": {"a": 2, "b": 3}}]})";
      helix::grammar::Matcher g(*any.grammar);
      s = g.start();
      EXPECT_TRUE(g.advance(s, text) && g.complete(s));
      expect_calls(tools::parse_output(any, text), 2);
    }
  }
}

// "auto": Llama 3.x and generic replies are the call itself, so the trigger is "{" at the reply's
// start and the grammar covers it; Command R+ switches on after ```json; the families whose
// call names sit outside the JSON parse what the model wrote.
TEST(ToolFamilies, LazyTriggers) {
  const std::string shared = std::string(HELIX_TESTDATA) + "/chat-templates/";
  auto read = [](const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  };
  const tools::Plan llama = tools::plan_tools(read(shared + "meta-llama-Llama-3.1-8B-Instruct.jinja"), request(), request()["messages"]);
  EXPECT_EQ(llama.trigger, "{");
  EXPECT_TRUE(llama.trigger_at_start);
  ASSERT_NE(llama.grammar, nullptr);
  const tools::Plan gen = tools::plan_tools(read(shared + "google-gemma-2-2b-it.jinja"), request(), request()["messages"]);
  EXPECT_EQ(gen.trigger, "{");
  EXPECT_TRUE(gen.trigger_at_start);
  helix::grammar::Matcher m(*gen.grammar);
  helix::grammar::State s = m.start();
  EXPECT_TRUE(m.advance(s, R"({"response": "It is sunny."})") && m.complete(s));
  const tools::Plan r = tools::plan_tools(own_template("CohereForAI-c4ai-command-r-plus-tool_use"), request(), request()["messages"]);
  EXPECT_EQ(r.trigger, "```json");
  EXPECT_FALSE(r.trigger_at_start);
  const tools::Plan oss = tools::plan_tools(own_template("openai-gpt-oss-120b"), request(), request()["messages"]);
  EXPECT_TRUE(oss.render_special);
  EXPECT_EQ(oss.grammar, nullptr);
}

// DeepSeek R1's own template never shows the tools: a system message describes them in the
// family's syntax.
TEST(ToolFamilies, DeepSeekR1GetsTheToolsInASystemMessage) {
  const tools::Plan p = tools::plan_tools(own_template("deepseek-ai-DeepSeek-R1-Distill-Llama-8B"), request(), request()["messages"]);
  ASSERT_EQ(p.messages[0]["role"], "system");
  const std::string sys = p.messages[0]["content"];
  EXPECT_NE(sys.find("get_weather"), std::string::npos);
  EXPECT_NE(sys.find("<｜tool▁call▁begin｜>function<｜tool▁sep｜>"), std::string::npos);
  EXPECT_EQ(tools::parse_tool_calls(Family::kDeepSeek, sys.substr(sys.find("<｜tool▁calls▁begin｜>"))).calls.size(), 1u);
  const tools::Plan v31 = tools::plan_tools(own_template("deepseek-ai-DeepSeek-V3.1"), request(), request()["messages"]);
  const std::string sys31 = v31.messages[0]["content"];
  EXPECT_NE(sys31.find("<｜tool▁call▁begin｜>example_function_name<｜tool▁sep｜>{"), std::string::npos);
  EXPECT_EQ(tools::parse_tool_calls(Family::kDeepSeek, sys31.substr(sys31.find("<｜tool▁calls▁begin｜>"))).calls.size(), 1u);
}

// The sampler's at-start trigger: a reply that starts with "{" is held to the grammar from that
// "{" on; a reply that starts otherwise stays free even when "{" comes later.
TEST(ToolFamilies, TriggerAtStartOfTheReply) {
  const std::vector<std::string> pieces = {"</s>", "x", " {", "\"a\":", "1", "}", "Hi"};
  auto vocab = std::make_shared<helix::grammar::Vocabulary>(pieces, std::vector<int32_t>{0});
  auto g = helix::grammar::Grammar::from_json_schema_text(
      R"({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]})");
  // Per step: the token the test makes the model want most (an id), then the others it ranks.
  auto run = [&](const std::vector<std::vector<int32_t>>& prefs) {
    helix::runtime::SamplingParams sp;
    sp.temperature = 0;
    sp.constraint = std::make_shared<helix::grammar::Constraint>(helix::grammar::Constraint{g, vocab});
    sp.grammar_trigger = "{";
    sp.grammar_trigger_at_start = true;
    helix::runtime::Sampler smp(sp);
    std::vector<int32_t> out;
    for (const auto& pref : prefs) {
      std::vector<float> logits(pieces.size(), -10.0f);
      float v = 5.0f;
      for (int32_t id : pref) logits[static_cast<size_t>(id)] = v--;
      out.push_back(smp.sample(logits.data(), static_cast<int64_t>(logits.size()), out));
    }
    return out;
  };
  // " {" starts the reply: after it "x" is masked, the call goes on, and only the end follows "}".
  EXPECT_EQ(run({{2}, {1, 3}, {1, 4}, {1, 5}, {1, 0}}), (std::vector<int32_t>{2, 3, 4, 5, 0}));
  // "Hi" first: the later " {" starts no grammar, so "x" stays allowed.
  EXPECT_EQ(run({{6}, {2}, {1, 3}}), (std::vector<int32_t>{6, 2, 1}));
}
