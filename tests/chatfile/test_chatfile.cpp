// ChatFile's library without a model: a scripted backend stands in for the engine so the
// map-reduce tree, the resume-from-cache path, the grounding filters, the minutes cues and the
// citation parser are checked exactly. The real model runs in tests/python/test_chatfile.py.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "chatfile/mapreduce.h"
#include "chatfile/minutes_rules.h"
#include "chatfile/qa.h"
#include "chatfile/salient.h"
#include "docs/chunker.h"

namespace helix::chatfile {
namespace {

// Replies with the first salient sentence of the prompt's text (a model that copies), or `fail_after`
// throws after that many replies (a killed run).
class CopyBackend : public Backend {
 public:
  size_t calls = 0, fail_after = 1u << 30;
  bool list_instruction = false;  // JSON replies list the prompt's own words (as the assistant adapter did)
  void run(const std::vector<Request>& reqs, const std::function<void(size_t, const Reply&)>& on_done) override {
    for (size_t i = 0; i < reqs.size(); ++i) {
      if (calls >= fail_after) throw std::runtime_error("killed");
      ++calls;
      const std::string p = reqs[i].messages[0]["content"].get<std::string>();
      Reply r;
      if (reqs[i].grammar && list_instruction) {
        r.text = R"({"key_points": ["facts", "figures", "names", "dates", "decisions"]})";
      } else if (reqs[i].grammar) {
        r.text = R"({"key_points": ["Revenue was 96.4 million dollars.", "The moon is made of 7 cheeses."]})";
      } else {
        // Copy every sentence with a figure, plus one invented sentence that must be filtered.
        for (const auto& [b, e] : docs::split_sentences(p))
          if (p.substr(b, e - b).find_first_of("0123456789") != std::string::npos) r.text += p.substr(b, e - b) + " ";
        r.text += "The company was founded in 1986 by John Smith.";
      }
      r.prompt_tokens = 100;
      r.completion_tokens = 10;
      on_done(i, r);
    }
  }
  size_t count_tokens(std::string_view t) const override { return docs::estimate_tokens(t); }
  size_t prompt_tokens(const ojson& m) const override { return m.dump().size() / 4; }
  std::string model_id() const override { return "copy-model"; }
  int64_t context() const override { return 8192; }
};

std::string long_report(int sections) {
  std::string s = "# Report\n\n";
  for (int i = 0; i < sections; ++i) {
    s += "## Section " + std::to_string(i) + "\n\n";
    for (int k = 0; k < 12; ++k) s += "The team continued to review the maintenance schedules across the regions. ";
    s += "\n\nThe plant in section " + std::to_string(i) + " produced " + std::to_string(1000 + i) + " units.\n\n";
  }
  return s;
}

TEST(ChatFile, SummaryMapReduceKeepsFiguresAndDropsInventions) {
  Corpus c = load_corpus_data({{"report.md", long_report(12)}}, {.unit_tokens = 200});
  ASSERT_GT(c.units.size(), 4u);
  CopyBackend b;
  JobOptions o;
  o.reduce_input_tokens = 60;  // several reduce levels
  Result r = run_task(b, c, Task::Summary, o);
  EXPECT_GE(r.levels, 2u);
  EXPECT_EQ(r.parts, b.calls);
  EXPECT_EQ(r.summary.find("1986"), std::string::npos) << r.summary;  // invented: not in the source
  EXPECT_NE(r.summary.find("1000 units"), std::string::npos) << r.summary;
}

TEST(ChatFile, KilledRunResumesFromTheCache) {
  const std::string root = testing::TempDir() + "/chatfile_cache_" + std::to_string(::getpid());
  std::filesystem::remove_all(root);
  Corpus c = load_corpus_data({{"report.md", long_report(10)}}, {.unit_tokens = 200});
  PartCache cache(root, key_of({"job"}));
  JobOptions o;
  o.cache = &cache;
  CopyBackend dying;
  dying.fail_after = 3;
  EXPECT_THROW(run_task(dying, c, Task::Summary, o), std::runtime_error);
  CopyBackend again;
  Result r = run_task(again, c, Task::Summary, o);
  EXPECT_EQ(r.cached_parts, 3u);               // the three finished parts came from disk
  EXPECT_EQ(again.calls, r.parts - 3);         // only the rest was computed
  CopyBackend third;
  Result r3 = run_task(third, c, Task::Summary, o);
  EXPECT_EQ(third.calls, 0u);
  EXPECT_EQ(r3.summary, r.summary);
  std::filesystem::remove_all(root);
}

TEST(ChatFile, KeyPointsKeepOnlyWhatTheTextSays) {
  Corpus c = load_corpus_data({{"r.md", "# R\n\nRevenue was 96.4 million dollars in the year.\n"}}, {});
  CopyBackend b;
  Result r = run_task(b, c, Task::KeyPoints, {});
  ASSERT_EQ(r.key_points.size(), 1u) << r.key_points.dump();
  EXPECT_EQ(r.key_points[0]["text"], "Revenue was 96.4 million dollars.");
}

TEST(ChatFile, KeyPointsFallBackToTheTextWhenTheModelGivesNothingItSupports) {
  Corpus c = load_corpus_data({{"r.md", "# R\n\nRevenue was 96.4 million dollars in the year.\n"}}, {});
  CopyBackend b;
  b.list_instruction = true;
  Result r = run_task(b, c, Task::KeyPoints, {});
  ASSERT_EQ(r.key_points.size(), 1u) << r.key_points.dump();
  EXPECT_EQ(r.key_points[0]["text"], "Revenue was 96.4 million dollars in the year.");
}

TEST(ChatFile, GroundingRejectsChangedFigures) {
  const auto src = source_grams("The authority served 412,600 customer accounts.");
  EXPECT_TRUE(grounded("The authority served 412,600 accounts.", src, 0.6));
  EXPECT_FALSE(grounded("The authority served 38,600 customer accounts.", src, 0.6));
  EXPECT_FALSE(grounded("The workforce numbered 1,3", source_grams("The workforce numbered 1,306."), 0.6));
}

TEST(ChatFile, MinutesCuesChinese) {
  const std::string t =
      "[09:01:19] 张伟：下面讨论第一个议题：第三季度预算调整。 [09:02:00] 李娜：我觉得可以。 "
      "[09:04:28] 张伟：那我们就这么定了：市场部第三季度预算削减百分之十五。 "
      "[09:05:18] 张伟：王强，请你负责重新编制第三季度市场预算表，十月十五日之前完成。 [09:05:30] 王强：好的。";
  const auto c = find_minutes_cues(t);
  ASSERT_EQ(c.topics.size(), 1u);
  EXPECT_EQ(c.topics[0], "第三季度预算调整");
  ASSERT_EQ(c.decisions.size(), 1u);
  EXPECT_EQ(c.decisions[0], "市场部第三季度预算削减百分之十五");
  ASSERT_EQ(c.actions.size(), 1u);
  EXPECT_EQ(c.actions[0].owners.at(0), "王强");
  EXPECT_EQ(c.actions[0].dates.at(0), "十月十五日");
  EXPECT_EQ(c.speakers.size(), 3u);
}

TEST(ChatFile, MinutesCuesEnglish) {
  const auto c = find_minutes_cues(
      "Anna: Next item: office move.\nBen: We agreed to move in January.\n"
      "Anna: Ben is responsible for the lease, due by 30 November.\n");
  ASSERT_EQ(c.topics.size(), 1u);
  EXPECT_EQ(c.topics[0], "office move");
  EXPECT_EQ(c.decisions.size(), 1u);
  ASSERT_EQ(c.actions.size(), 1u);
  EXPECT_EQ(c.actions[0].owners.at(0), "Ben");
  EXPECT_EQ(c.actions[0].dates.at(0), "30 November");
}

TEST(ChatFile, CompressKeepsSalientSentencesInOrder) {
  std::string t;
  for (int i = 0; i < 40; ++i) t += "The team kept working on the plan. ";
  t += "Revenue rose to 5.2 million dollars. ";
  for (int i = 0; i < 40; ++i) t += "The team kept working on the plan. ";
  t += "The board approved a new budget on 3 May.";
  const std::string c = compress(t, 40);
  EXPECT_LT(c.size(), t.size() / 4);
  const size_t a = c.find("5.2 million"), b = c.find("3 May");
  ASSERT_NE(a, std::string::npos);
  ASSERT_NE(b, std::string::npos);
  EXPECT_LT(a, b);
}

TEST(ChatFile, Citations) {
  EXPECT_EQ(citations_in("Yes [2]. Also [1, 3] and [3]【4】 but not [x]."), (std::vector<int>{2, 1, 3, 4}));
  EXPECT_TRUE(citations_in("none here").empty());
}

TEST(ChatFile, LanguageAndWhere) {
  EXPECT_EQ(detect_lang("今天的会议讨论预算。We also met."), Lang::Zh);
  EXPECT_EQ(detect_lang("An English text with one 字."), Lang::En);
  EXPECT_THROW(parse_lang("fr", ""), Error);
  EXPECT_EQ(where("a.pdf", 3, 4, "Results"), "a.pdf p. 3-4 \xC2\xB7 Results");
}

TEST(ChatFile, BadInputIsNamed) {
  EXPECT_THROW(load_corpus({"/nonexistent/file.txt"}, {}), Error);
  EXPECT_THROW(load_corpus({}, {}), Error);
  try {
    load_corpus_data({{"empty.txt", "   \n"}}, {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("empty.txt"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace helix::chatfile
