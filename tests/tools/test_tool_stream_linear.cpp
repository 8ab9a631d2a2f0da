// tools::CallStream::update is incremental: a long reply (20 KB of content or reasoning before a
// call whose arguments hold 50 KB) fed one character at a time costs the same per character at its
// end as near its start, for every call syntax, and the stream still adds up to the whole reply's
// message. Measured in this thread's CPU time (the machine may be loaded): the mean time per
// character over the ninth tenth of the reply (inside the arguments) against the second tenth (the
// first holds the warm-up; the last, the closing markers, where the reply is read again). A stream
// that reads the whole reply at every character takes ~5.7x longer per character in the ninth
// tenth than in the second (the mean positions' ratio, 0.85 / 0.15); the bound is 3.5x. (A bound
// on the first and last tenths, as the issue suggested, would pass a quadratic stream: their
// mean positions are only 19x apart.)
#include <gtest/gtest.h>

#include <time.h>

#include <functional>
#include <random>
#include <string>
#include <vector>

#include "tools/tools.h"
#include "tool_test_util.h"

namespace tools = helix::tools;
using helix::tools::ojson;

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

using namespace helix::tools::test;  // NOLINT: the shared fixtures

double cpu_now() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// 50 KB of a JSON string's inside: words, digits, escaped quotes and newlines, no markers.
std::string long_string() {
  std::string s;
  for (int i = 0; s.size() < 50000; ++i) s += "word" + std::to_string(i) + (i % 7 == 0 ? " \\\"q\\\" " : i % 11 == 0 ? "\\n" : " ");
  return s;
}

// 20 KB of prose (as a model writes content before a call).
std::string long_prose() {
  std::string s;
  for (int i = 0; s.size() < 20000; ++i) s += "the weather in town number " + std::to_string(i) + " is mild today. ";
  return s;
}

struct Case {
  const char* name;
  std::string tmpl;
  std::string reply;
};

void check_linear(const Case& c) {
  SCOPED_TRACE(c.name);
  const ojson msgs = ojson::array({{{"role", "user"}, {"content", "Weather?"}}});
  const tools::Plan plan = tools::plan_tools(c.tmpl, {{"messages", msgs}, {"tools", kTools}}, msgs);
  tools::CallStream cs(plan);
  std::string text, content, reasoning, args;
  const size_t n = c.reply.size(), tenth = n / 10;
  double second = 0, ninth = 0;
  auto take = [&](const std::vector<ojson>& deltas) {
    for (const auto& d : deltas) {
      if (d.contains("content")) content += d["content"].get<std::string>();
      if (d.contains("reasoning_content")) reasoning += d["reasoning_content"].get<std::string>();
      if (d.contains("tool_calls") && d["tool_calls"][0]["function"].contains("arguments"))
        args += d["tool_calls"][0]["function"]["arguments"].get<std::string>();
    }
  };
  for (size_t i = 0; i < n; ++i) {
    text += c.reply[i];
    const double t0 = cpu_now();
    const std::vector<ojson> deltas = cs.update(text);
    const double dt = cpu_now() - t0;
    if (i >= tenth && i < 2 * tenth) second += dt;
    if (i >= 8 * tenth && i < 9 * tenth) ninth += dt;
    take(deltas);
  }
  const size_t before_end = args.size();
  std::string finish = "stop";
  const ojson whole = tools::assistant_message(plan, text, finish);
  take(cs.finish(whole));
  ASSERT_TRUE(whole.contains("tool_calls"));
  EXPECT_EQ(args, whole["tool_calls"][0]["function"]["arguments"]);
  EXPECT_GT(before_end, 40000u);  // the arguments streamed while the reply was written
  EXPECT_EQ(content, whole["content"].is_string() ? whole["content"].get<std::string>() : "");
  EXPECT_EQ(reasoning, whole.value("reasoning_content", ""));
  std::printf("  %-14s %zu chars: %.2f us/char in the second tenth, %.2f in the ninth (x%.2f)\n", c.name, n,
              1e6 * second / static_cast<double>(tenth), 1e6 * ninth / static_cast<double>(tenth), ninth / second);
  // The bound is for the optimised build: under AddressSanitizer every byte the argument scanner
  // touches is checked, which slows the ninth tenth (inside the arguments) ~3.5x more than the
  // second (prose), whatever the length (fresh-clone CI, 4 Dec: x3.46 to x3.62 at a flat
  // 14-15 us/char). The sanitizer build still checks the stream's memory and its message.
  if (!kSanitized) {
    EXPECT_LT(ninth, 3.5 * second) << "time per character grows with the reply's length";
  }
}

TEST(ToolStreamLinear, LongRepliesOneCharacterAtATime) {
  const std::string s = long_string(), prose = long_prose();
  const std::string args = "{\"city\": \"" + s + "\"}";
  const std::vector<Case> cases = {
      {"hermes", shared_template("Qwen-Qwen2.5-7B-Instruct"),
       prose + "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": " + args + "}\n</tool_call>"},
      {"llama3", shared_template("meta-llama-Llama-3.1-8B-Instruct"),
       "{\"name\": \"get_weather\", \"parameters\": " + args + "}"},
      {"mistral", shared_template("mistralai-Mistral-Nemo-Instruct-2407"),
       prose + "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": " + args + "}]"},
      {"generic", shared_template("google-gemma-2-2b-it"),
       "{\"tool_calls\": [{\"name\": \"get_weather\", \"arguments\": " + args + "}]}"},
      {"functionary31", own_template("meetkai-functionary-medium-v3.1"), prose + "<function=get_weather>" + args + "</function>"},
      {"functionary32", own_template("meetkai-functionary-medium-v3.2"), "all\n" + prose + ">>>get_weather\n" + args},
      {"deepseek", own_template("deepseek-ai-DeepSeek-V3.1"),
       prose + "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>" + args + "<｜tool▁call▁end｜><｜tool▁calls▁end｜>"},
      {"deepseek-r1", own_template("deepseek-ai-DeepSeek-R1-Distill-Llama-8B"),
       prose + "</think>\n\n<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n" + args +
           "\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>"},
      {"command-r", own_template("CohereForAI-c4ai-command-r-plus-tool_use"),
       prose + "\nAction: ```json\n[{\"tool_name\": \"get_weather\", \"parameters\": " + args + "}]\n```"},
      {"gpt-oss", own_template("openai-gpt-oss-120b"),
       "<|channel|>analysis<|message|>" + prose + "<|end|><|start|>assistant<|channel|>commentary to=functions.get_weather "
       "<|constrain|>json<|message|>" + args + "<|call|>"},
  };
  for (const Case& c : cases) check_linear(c);
}

// The incremental update against the whole reply's message on many random replies: content and
// arguments with spaces, newlines, escapes and marker characters ('<', '>', '[', 'A') in them,
// cut into random pieces; what the stream sends adds up to assistant_message() every time.
TEST(ToolStreamLinear, RandomRepliesAddUpToTheWholeMessage) {
  std::mt19937 rng(7);
  const std::vector<std::string> bits = {"a", "b c", " ", "  ", "\n", "<", ">", "[", "A", "Action", "x<y", "1 > 0", "{", "}"};
  auto text = [&](int n, bool json) {
    std::string t;
    for (int i = 0; i < n; ++i) {
      std::string b = bits[rng() % bits.size()];
      if (json && (b == "{" || b == "}")) b = "\\\"";  // inside a JSON string: an escaped quote instead
      if (json && b == "\n") b = "\\n";                // and an escaped newline
      t += b;
    }
    return t;
  };
  struct Shape {
    std::string tmpl;
    std::function<std::string(const std::string&, const std::string&)> reply;  // (content, arguments)
  };
  const std::vector<Shape> shapes = {
      {shared_template("Qwen-Qwen2.5-7B-Instruct"),
       [](const std::string& c, const std::string& a) { return c + "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": " + a + "}\n</tool_call>"; }},
      {shared_template("meta-llama-Llama-3.1-8B-Instruct"),
       [](const std::string&, const std::string& a) { return "{\"name\": \"get_weather\", \"parameters\": " + a + "}"; }},
      {shared_template("mistralai-Mistral-Nemo-Instruct-2407"),
       [](const std::string& c, const std::string& a) { return c + "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": " + a + "}]"; }},
      {shared_template("google-gemma-2-2b-it"),
       [](const std::string&, const std::string& a) { return "{\"tool_calls\": [{\"name\": \"get_weather\", \"arguments\": " + a + "}]}"; }},
      {own_template("meetkai-functionary-medium-v3.1"),
       [](const std::string& c, const std::string& a) { return c + "<function=get_weather>" + a + "</function>"; }},
      {own_template("meetkai-functionary-medium-v3.2"),
       // (content ending in '>' right before ">>>" is read differently by the stream and the whole
       // parse, with or without the incremental update: left out here)
       [](const std::string& c, const std::string& a) { return "all\n" + c + "\n>>>get_weather\n" + a; }},
      {own_template("deepseek-ai-DeepSeek-V3.1"),
       [](const std::string& c, const std::string& a) {
         return c + "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>" + a + "<｜tool▁call▁end｜><｜tool▁calls▁end｜>";
       }},
      {own_template("deepseek-ai-DeepSeek-R1-Distill-Llama-8B"),
       [](const std::string& c, const std::string& a) {
         return c + "</think>\n\n" + c + "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n" + a +
                "\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>";
       }},
      {own_template("CohereForAI-c4ai-command-r-plus-tool_use"),
       [](const std::string& c, const std::string& a) { return c + "\nAction: ```json\n[{\"tool_name\": \"get_weather\", \"parameters\": " + a + "}]\n```"; }},
      {own_template("openai-gpt-oss-120b"),
       [](const std::string& c, const std::string& a) {
         return "<|channel|>analysis<|message|>" + c + "<|end|><|start|>assistant<|channel|>commentary to=functions.get_weather "
                "<|constrain|>json<|message|>" + a + "<|call|>";
       }},
  };
  const ojson msgs = ojson::array({{{"role", "user"}, {"content", "Weather?"}}});
  for (size_t f = 0; f < shapes.size(); ++f) {
    const tools::Plan plan = tools::plan_tools(shapes[f].tmpl, {{"messages", msgs}, {"tools", kTools}}, msgs);
    for (int round = 0; round < 60; ++round) {
      const std::string args = "{\"city\": \"" + text(static_cast<int>(rng() % 12), true) + "\", \"n\": [1, {\"k\": \"" +
                               text(static_cast<int>(rng() % 6), true) + "\"}]}";
      const std::string reply = shapes[f].reply(round % 3 == 0 ? "" : text(static_cast<int>(rng() % 12), false), args);
      SCOPED_TRACE(testing::Message() << "shape " << f << ": " << reply);
      tools::CallStream cs(plan);
      std::string so_far, content, reasoning, streamed_args;
      auto take = [&](const std::vector<ojson>& deltas) {
        for (const auto& d : deltas) {
          if (d.contains("content")) content += d["content"].get<std::string>();
          if (d.contains("reasoning_content")) reasoning += d["reasoning_content"].get<std::string>();
          if (d.contains("tool_calls") && d["tool_calls"][0]["function"].contains("arguments"))
            streamed_args += d["tool_calls"][0]["function"]["arguments"].get<std::string>();
        }
      };
      for (size_t i = 0; i < reply.size();) {
        size_t k = std::min(reply.size() - i, static_cast<size_t>(1 + rng() % 5));
        while (i + k < reply.size() && (static_cast<unsigned char>(reply[i + k]) & 0xC0) == 0x80) ++k;  // whole characters
        so_far += reply.substr(i, k);
        i += k;
        take(cs.update(so_far));
      }
      std::string finish = "stop";
      const ojson whole = tools::assistant_message(plan, so_far, finish);
      take(cs.finish(whole));
      EXPECT_EQ(content, whole["content"].is_string() ? whole["content"].get<std::string>() : "");
      EXPECT_EQ(reasoning, whole.value("reasoning_content", ""));
      const std::string want = whole.contains("tool_calls") ? whole["tool_calls"][0]["function"]["arguments"].get<std::string>() : "";
      EXPECT_EQ(streamed_args, want);
    }
  }
}

}  // namespace
