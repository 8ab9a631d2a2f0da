// Streaming of tool calls (tools::CallStream): for every call syntax, a reply fed piece by piece
// (1, 2, 3, 7 characters at a time and whole) gives deltas that, accumulated as the openai client
// accumulates them, equal the message read from the whole reply (assistant_message); the call's
// name comes before its arguments, the arguments come in several pieces while the model writes
// them, and text before a call streams as content before the call starts.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tools/parse_util.h"
#include "tools/tools.h"
#include "tool_test_util.h"

namespace tools = helix::tools;
using helix::tools::ojson;

namespace {

using namespace helix::tools::test;  // NOLINT: the shared fixtures

tools::Plan plan_for(const std::string& tmpl, const ojson& choice = "auto") {
  const ojson msgs = ojson::array({{{"role", "user"}, {"content", "Weather in Paris, and 2+3?"}}});
  return tools::plan_tools(tmpl, {{"messages", msgs}, {"tools", kTools}, {"tool_choice", choice}}, msgs);
}

// What the client ends up with, and how the stream went.
struct Accumulated {
  std::string content, reasoning;
  std::vector<std::pair<std::string, std::string>> calls;  // name, arguments
  size_t arg_pieces = 0;      // deltas carrying arguments
  bool named_first = true;    // every call's name came before its arguments
  long content_before_call = -1;  // the piece index of the first content, of the first call (below)
  long first_call = -1;
  long first_args = -1;       // the piece at which arguments first arrived
};

void accumulate(Accumulated& a, const std::vector<ojson>& deltas, long piece) {
  for (const auto& d : deltas) {
    if (d.contains("content")) {
      a.content += d["content"].get<std::string>();
      if (a.content_before_call < 0) a.content_before_call = piece;
    }
    if (d.contains("reasoning_content")) a.reasoning += d["reasoning_content"].get<std::string>();
    if (!d.contains("tool_calls")) continue;
    for (const auto& tc : d["tool_calls"]) {
      const size_t i = tc["index"];
      if (i >= a.calls.size()) {
        EXPECT_EQ(i, a.calls.size());
        EXPECT_TRUE(tc.contains("id") && tc["id"].get<std::string>().rfind("call_", 0) == 0);
        EXPECT_EQ(tc["type"], "function");
        a.calls.emplace_back("", "");
        if (a.first_call < 0) a.first_call = piece;
      }
      const ojson& f = tc["function"];
      if (f.contains("name")) a.calls[i].first += f["name"].get<std::string>();
      if (f.contains("arguments") && !f["arguments"].get<std::string>().empty()) {
        if (a.calls[i].first.empty()) a.named_first = false;
        a.calls[i].second += f["arguments"].get<std::string>();
        ++a.arg_pieces;
        if (a.first_args < 0) a.first_args = piece;
      }
    }
  }
}

// Splits into pieces of n characters (whole UTF-8 characters, as the engine sends text).
std::vector<std::string> pieces(const std::string& s, size_t n) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    std::string p;
    for (size_t k = 0; k < n && i < s.size(); ++k) {
      size_t len = 1;
      const auto c = static_cast<unsigned char>(s[i]);
      if (c >= 0xF0) len = 4;
      else if (c >= 0xE0) len = 3;
      else if (c >= 0xC0) len = 2;
      p += s.substr(i, len);
      i += len;
    }
    out.push_back(p);
  }
  return out;
}

Accumulated stream(const tools::Plan& plan, const std::string& reply, size_t n, ojson& whole) {
  tools::CallStream cs(plan);
  Accumulated a;
  std::string text;
  long k = 0;
  for (const auto& p : pieces(reply, n)) {
    text += p;
    accumulate(a, cs.update(text), k++);
  }
  std::string finish = "stop";
  whole = tools::assistant_message(plan, text, finish);
  accumulate(a, cs.finish(whole), k);
  return a;
}

// The stream adds up to the whole reply's message, however the reply is cut.
Accumulated check(const tools::Plan& plan, const std::string& reply, size_t want_calls) {
  Accumulated last;
  for (size_t n : {1, 2, 3, 7, 100000}) {
    SCOPED_TRACE(testing::Message() << "pieces of " << n << ": " << reply);
    ojson m;
    const Accumulated a = stream(plan, reply, n, m);
    EXPECT_EQ(a.content, m["content"].is_string() ? m["content"].get<std::string>() : "");
    EXPECT_EQ(a.reasoning, m.value("reasoning_content", ""));
    const size_t n_calls = m.contains("tool_calls") ? m["tool_calls"].size() : 0;
    EXPECT_EQ(n_calls, want_calls);
    EXPECT_EQ(a.calls.size(), n_calls);
    for (size_t i = 0; i < std::min(n_calls, a.calls.size()); ++i) {
      EXPECT_EQ(a.calls[i].first, m["tool_calls"][i]["function"]["name"]);
      EXPECT_EQ(a.calls[i].second, m["tool_calls"][i]["function"]["arguments"]);
      EXPECT_TRUE(ojson::accept(a.calls[i].second));
    }
    EXPECT_TRUE(a.named_first);
    if (n == 1) last = a;
  }
  return last;
}

// Streamed one character at a time, the call's arguments come in several pieces, the first of
// them before the reply's end.
void expect_incremental(const Accumulated& a, size_t reply_chars) {
  EXPECT_GT(a.arg_pieces, 2u);
  EXPECT_GE(a.first_args, 0);
  EXPECT_LT(a.first_args, static_cast<long>(reply_chars) - 3);
}

size_t chars(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

TEST(ToolStream, HermesContentThenCallsByPieces) {
  const auto plan = plan_for(shared_template("Qwen-Qwen2.5-7B-Instruct"));
  const std::string r = "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n"
                        "<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 2, \"b\": 3}}\n</tool_call>";
  const Accumulated a = check(plan, r, 2);
  expect_incremental(a, chars(r));
  EXPECT_GE(a.content_before_call, 0);
  EXPECT_LT(a.content_before_call, a.first_call);  // "Let me check." streamed before the call began
  EXPECT_EQ(a.calls[1].second, R"({"a":2,"b":3})");  // the model's JSON, minified
  check(plan, "It is sunny in Paris.", 0);
  check(plan, "  A <tool_c and more text", 0);  // a marker's beginning that stays text
}

TEST(ToolStream, Llama3Mistral) {
  const auto llama = plan_for(shared_template("meta-llama-Llama-3.1-8B-Instruct"));
  const std::string call = "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}";
  expect_incremental(check(llama, call, 1), chars(call));
  check(llama, "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}; {\"name\": \"add\", \"parameters\": {\"a\": 2, \"b\": 3}}", 2);
  check(llama, "<|python_tag|>{\"name\": \"add\", \"parameters\": {\"a\": 2, \"b\": 3}}", 1);
  check(llama, "It is sunny.", 0);
  const auto mistral = plan_for(shared_template("mistralai-Mistral-Nemo-Instruct-2407"));
  const std::string m = "Checking.[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}, "
                        "{\"name\": \"add\", \"arguments\": {\"a\": 2, \"b\": 3}, \"id\": \"abcdefghi\"}]";
  expect_incremental(check(mistral, m, 2), chars(m));
  check(mistral, "[TOOL_CALLS][{\"name\": \"add\", \"arguments\": \"{\\\"a\\\":2,\\\"b\\\":3}\"}]", 1);  // a string: whole at the end
}

TEST(ToolStream, GenericForm) {
  const auto plan = plan_for(shared_template("google-gemma-2-2b-it"));
  const std::string r = " {\"tool_calls\": [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}, "
                        "{\"name\": \"add\", \"arguments\": {\"a\": 2, \"b\": 3}}]}\n";
  expect_incremental(check(plan, r, 2), chars(r));
  const Accumulated a = check(plan, "{\"response\": \"It is sunny, \\\"18 \\u00b0C\\\".\"}", 0);
  EXPECT_EQ(a.content, "It is sunny, \"18 °C\".");
  EXPECT_LT(a.content_before_call, 25);  // the answer streams while it is written
  check(plan, "Plain text.", 0);
  check(plan, "{\"tool_calls\": [{\"name\": \"rm_rf\", \"arguments\": {}}]}", 0);  // not offered: content
  // A forced call in the generic form (functionary with several tools, "required").
  const auto forced = plan_for(own_template("meetkai-functionary-medium-v3.1"), "required");
  ASSERT_TRUE(forced.forced_generic);
  check(forced, r, 2);
}

TEST(ToolStream, Functionary) {
  const auto v31 = plan_for(own_template("meetkai-functionary-medium-v3.1"));
  const std::string r = "Let me look.<function=get_weather>{\"city\": \"Paris\"}</function>\n<function=add>{\"a\": 2, \"b\": 3}";
  const Accumulated a = check(v31, r, 2);
  expect_incremental(a, chars(r));
  EXPECT_LT(a.content_before_call, a.first_call);
  check(v31, "<|python_tag|>print(2+3)", 0);  // "python" is not among the tools: the reply is content
  const auto v32 = plan_for(own_template("meetkai-functionary-medium-v3.2"));
  const std::string r32 = "all\nChecking.>>>get_weather\n{\"city\": \"Paris\"}>>>add\n{\"a\": 2, \"b\": 3}";
  expect_incremental(check(v32, r32, 2), chars(r32));
  check(v32, "all\nIt is sunny in Paris.", 0);
  // Forced, named: the reply starts inside the call (the prefill holds its name).
  const auto named = plan_for(own_template("meetkai-functionary-medium-v3.2"), {{"type", "function"}, {"function", {{"name", "add"}}}});
  ASSERT_FALSE(named.prefill.empty());
  const Accumulated f = check(named, "{\"a\": 2, \"b\": 3}", 1);
  EXPECT_EQ(f.first_call, 0);
}

TEST(ToolStream, DeepSeekReasoningAndCalls) {
  const auto r1 = plan_for(own_template("deepseek-ai-DeepSeek-R1-Distill-Llama-8B"));
  ASSERT_TRUE(r1.think_open);
  const std::string r = "I should call the tool.\n</think>\n\n<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>"
                        "get_weather\n```json\n{\"city\": \"Paris\"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>";
  const Accumulated a = check(r1, r, 1);
  expect_incremental(a, chars(r));
  EXPECT_EQ(a.reasoning, "I should call the tool.");
  EXPECT_EQ(check(r1, "Thinking, cut short by max_tokens", 0).reasoning, "Thinking, cut short by max_tokens");
  const auto v31 = plan_for(own_template("deepseek-ai-DeepSeek-V3.1"));
  EXPECT_FALSE(v31.think_open);
  const std::string r31 = "Sure.<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{\"city\": \"Paris\"}<｜tool▁call▁end｜>"
                          "<｜tool▁call▁begin｜>add<｜tool▁sep｜>{\"a\": 2, \"b\": 3}<｜tool▁call▁end｜><｜tool▁calls▁end｜>";
  expect_incremental(check(v31, r31, 2), chars(r31));
  const Accumulated t = check(v31, "<think>hmm</think>The answer is 5.", 0);
  EXPECT_EQ(t.reasoning, "hmm");
  EXPECT_EQ(t.content, "The answer is 5.");
}

TEST(ToolStream, CommandR) {
  const auto r7b = plan_for(own_template("CohereForAI-c4ai-command-r7b-12-2024-tool_use"));
  const std::string r = "<|START_THINKING|>Need the weather.<|END_THINKING|><|START_ACTION|>[{\"tool_call_id\": \"0\", "
                        "\"tool_name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}, {\"tool_call_id\": \"1\", "
                        "\"tool_name\": \"directly-answer\", \"parameters\": {}}]<|END_ACTION|>";
  const Accumulated a = check(r7b, r, 1);
  expect_incremental(a, chars(r));
  EXPECT_EQ(a.reasoning, "Need the weather.");
  EXPECT_EQ(check(r7b, "<|START_THINKING|>Easy.<|END_THINKING|><|START_RESPONSE|>It is 18 C.<|END_RESPONSE|>", 0).content, "It is 18 C.");
  const auto plus = plan_for(own_template("CohereForAI-c4ai-command-r-plus-tool_use"));
  const std::string rp = "Let me see.\nAction: ```json\n[{\"tool_name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}]\n```";
  const Accumulated b = check(plus, rp, 1);
  expect_incremental(b, chars(rp));
  EXPECT_LT(b.content_before_call, b.first_call);
  check(plus, "Nothing to do.", 0);
}

TEST(ToolStream, GptOssHarmony) {
  const auto plan = plan_for(own_template("openai-gpt-oss-120b"));
  const std::string r = "<|channel|>analysis<|message|>Need weather.<|end|><|start|>assistant<|channel|>commentary "
                        "to=functions.get_weather <|constrain|>json<|message|>{\"city\": \"Paris\"}<|call|>";
  const Accumulated a = check(plan, r, 1);
  expect_incremental(a, chars(r));
  EXPECT_EQ(a.reasoning, "Need weather.");
  const Accumulated f = check(plan, "<|channel|>analysis<|message|>Easy.<|end|><|start|>assistant<|channel|>final<|message|>5<|return|>", 0);
  EXPECT_EQ(f.content, "5");
}

TEST(ToolStream, JsonPrefixHelpers) {
  namespace d = tools::detail;
  EXPECT_EQ(d::minify_json("{ \"a b\" : [1, 2],\n \"c\": \"x  y\" }"), R"({"a b":[1,2],"c":"x  y"})");
  EXPECT_EQ(d::partial_string(R"("ab\u00)"), "ab");
  EXPECT_EQ(d::partial_string(R"("ab\)"), "ab");
  EXPECT_EQ(d::partial_string(R"("a\ud83d)"), "a");
  EXPECT_EQ(d::partial_string(R"("a\ud83d\ude00)"), "a\xF0\x9F\x98\x80");
  EXPECT_EQ(d::partial_string(R"("a\"b")"), "a\"b");
  const d::Scan s = d::scan_object(R"({"name": "x", "arguments": {"a": [1, {"b": "}"}]}, "z": 12)", 0);
  ASSERT_EQ(s.members.size(), 3u);
  EXPECT_EQ(s.members[1].key, "arguments");
  EXPECT_NE(s.members[1].end, std::string_view::npos);
  EXPECT_EQ(s.members[2].end, std::string_view::npos);  // "12" may go on
  EXPECT_TRUE(d::scan_object("{\"a\" 1}", 0).bad);
}
