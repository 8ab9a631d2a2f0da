// Evaluation metrics: format validity, exact match and citation correctness on hand-made answers.
#include "train/eval_metrics.h"

#include <gtest/gtest.h>

#include "core/citations.h"

namespace helix::train {
namespace {

using ojson = nlohmann::ordered_json;

ojson fmt(const char* f) { return ojson{{"format", f}}; }

TEST(TrainEvalMetrics, Normalize) {
  EXPECT_EQ(normalize_answer("  The  Answer\nis 42. "), "the answer is 42");
  EXPECT_EQ(normalize_answer("八十四。"), "八十四");
  EXPECT_EQ(normalize_answer(""), "");
}

TEST(TrainEvalMetrics, FormatValid) {
  EXPECT_TRUE(format_valid("{\"a\": 1}", fmt("json")));
  EXPECT_FALSE(format_valid("{\"a\": 1", fmt("json")));
  EXPECT_FALSE(format_valid("Sure! {\"a\": 1}", fmt("json")));
  // with keys: an object with exactly those keys (a list of the key names parses, and is not one)
  const auto keyed = ojson{{"format", "json"}, {"keys", {"city", "country"}}};
  EXPECT_TRUE(format_valid("{\"country\": \"Chile\", \"city\": \"Coyhaique\"}", keyed));
  EXPECT_FALSE(format_valid("[\"city\", \"country\"]", keyed));
  EXPECT_FALSE(format_valid("{\"city\": \"Coyhaique\"}", keyed));
  EXPECT_FALSE(format_valid("{\"city\": 1, \"country\": 2, \"tz\": 3}", keyed));
  EXPECT_TRUE(format_valid("- red\n- green\n", fmt("list")));
  EXPECT_FALSE(format_valid("- red\ngreen", fmt("list")));
  EXPECT_FALSE(format_valid("", fmt("list")));
  EXPECT_TRUE(format_valid("-12.5", fmt("number")));
  EXPECT_FALSE(format_valid("12 apples", fmt("number")));
  EXPECT_FALSE(format_valid("12.", fmt("number")));
  nlohmann::ordered_json rx = {{"format", "regex"}, {"pattern", "Answer: [\\s\\S]+"}};
  EXPECT_TRUE(format_valid(" Answer: Lima\nPeru ", rx));  // trimmed, whole answer
  EXPECT_FALSE(format_valid("The answer: Lima", rx));
  rx["pattern"] = "([";
  EXPECT_FALSE(format_valid("anything", rx)) << "a broken pattern matches nothing";
  const ojson lab = {{"format", "label"}, {"labels", {"positive", "negative"}}};
  EXPECT_TRUE(format_valid("Positive.", lab));
  EXPECT_FALSE(format_valid("neutral", lab));
  const ojson cite = {{"format", "citations"}, {"citations", {2}}, {"n_passages", 3}};
  EXPECT_TRUE(format_valid("Iron's number is 26 [2].", cite));
  EXPECT_FALSE(format_valid("Iron's number is 26.", cite));
  EXPECT_FALSE(format_valid("Iron's number is 26 [4].", cite));
  const ojson none = {{"format", "citations"}, {"citations", ojson::array()}, {"n_passages", 3}};
  EXPECT_TRUE(format_valid("The passages do not say.", none));
  const ojson tool = {{"format", "tool_call"}, {"tools", {"get_weather"}}};
  EXPECT_TRUE(format_valid("<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}</tool_call>", tool));
  EXPECT_FALSE(format_valid("<tool_call>{\"name\": \"get_time\", \"arguments\": {}}</tool_call>", tool));
  EXPECT_FALSE(format_valid("I will call get_weather", tool));
  EXPECT_FALSE(format_valid("<tool_call>{\"name\": \"get_weather\"", tool));
  EXPECT_TRUE(format_valid("anything", ojson()));
  EXPECT_FALSE(format_valid("  ", ojson()));
}

TEST(TrainEvalMetrics, ExactMatch) {
  EXPECT_TRUE(exact_match("42", "42", fmt("number")));
  EXPECT_FALSE(exact_match("43", "42", fmt("number")));
  EXPECT_TRUE(exact_match("Positive.", "positive", fmt("label")));
  EXPECT_TRUE(exact_match("{\"b\": 2, \"a\": 1}", "{\"a\":1,\"b\":2}", fmt("json")));
  EXPECT_FALSE(exact_match("{\"a\": 1}", "{\"a\": 2}", fmt("json")));
  EXPECT_TRUE(exact_match("It is 26 [2].", "It is 26 [1].", fmt("citations")));  // the text; citations apart
  const char* call = "<tool_call>{\"name\": \"f\", \"arguments\": {\"x\": 1, \"y\": \"a\"}}</tool_call>";
  EXPECT_TRUE(exact_match(call, "[{\"name\": \"f\", \"arguments\": {\"y\": \"a\", \"x\": 1}}]", fmt("tool_call")));
  EXPECT_FALSE(exact_match(call, "[{\"name\": \"f\", \"arguments\": {\"x\": 2, \"y\": \"a\"}}]", fmt("tool_call")));
}

TEST(TrainEvalMetrics, Citations) {
  EXPECT_EQ(helix::cited_numbers("a [2] b [1, 3] c [2] d [x] e [12]"), (std::vector<int>{2, 1, 3, 12}));
  const ojson m = {{"citations", {1, 3}}, {"n_passages", 4}};
  EXPECT_TRUE(citation_correct("A [1] and B [3].", m));
  EXPECT_TRUE(citation_correct("A and B [3][1].", m));
  EXPECT_FALSE(citation_correct("A [1].", m));
  EXPECT_FALSE(citation_correct("A [1][3][5].", m));
  EXPECT_FALSE(citation_correct("A [1][2][3].", m));
  EXPECT_TRUE(citation_correct("Not stated.", ojson{{"citations", ojson::array()}, {"n_passages", 2}}));
  // The markers helix ask accepts count here too (one scanner, core/citations.h): 【n】 and ranges.
  EXPECT_TRUE(citation_correct("A【1】和 B【3】。", m));
  EXPECT_FALSE(citation_correct("A [1-3].", m));  // 1, 2 and 3
  EXPECT_TRUE(exact_match("It is 26【2】.", "It is 26 [1-2].", ojson{{"format", "citations"}}));
  EXPECT_EQ(parse_tool_calls("<tool_call>{\"name\": \"a\", \"arguments\": \"{\\\"k\\\": 1}\"}</tool_call>\n"
                             "<tool_call>{\"name\": \"b\", \"arguments\": {}}</tool_call>")
                .dump(),
            R"([{"name":"a","arguments":{"k":1}},{"name":"b","arguments":{}}])");
  EXPECT_TRUE(parse_tool_calls("<tool_call>{}</tool_call>").is_null());
  EXPECT_TRUE(parse_tool_calls("text <tool_call>{\"name\": \"a\"}</tool_call>").is_null());
}

TEST(TrainEvalMetrics, Totals) {
  MetricTotals t({"loss", "format_valid", "exact_match", "citation_correct"});
  const ojson m = {{"format", "citations"}, {"citations", {1}}, {"n_passages", 2}};
  t.add("X is 5 [1].", "X is 5 [1].", m);
  t.add("X is 6 [2].", "X is 5 [1].", m);
  t.add("X is 5.", "X is 5 [1].", m);
  t.add("7", "7", fmt("number"));
  const ojson r = t.report();
  EXPECT_DOUBLE_EQ(r["format_valid"].get<double>(), 3.0 / 4);
  EXPECT_DOUBLE_EQ(r["exact_match"].get<double>(), 3.0 / 4);
  EXPECT_DOUBLE_EQ(r["citation_correct"].get<double>(), 1.0 / 3);
  EXPECT_EQ(r["n"], 4);
  EXPECT_FALSE(r.contains("loss"));
}

}  // namespace
}  // namespace helix::train
