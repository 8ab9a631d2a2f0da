// The retrieval evaluation's scoring: relevance, recall@k, MRR, latency percentiles, the questions
// file's errors, and fusion weights for CJK questions. (The evaluation itself runs in
// tests/python/test_kb_eval.py over real documents.)
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "knowledge/eval.h"
#include "knowledge/points.h"
#include "knowledge/retrieval.h"

using namespace helix::knowledge;
namespace fs = std::filesystem;

namespace {

Hit hit(const std::string& doc, const std::string& text) {
  Hit h;
  h.doc = doc;
  h.text = text;
  return h;
}

std::string write_tmp(const std::string& name, const std::string& body) {
  const fs::path p = fs::temp_directory_path() / (name + "_" + std::to_string(::getpid()) + ".jsonl");
  std::ofstream(p) << body;
  return p.string();
}

}  // namespace

TEST(Eval, RelevantNeedsTheDocumentAndTheAnswerIgnoringWhitespace) {
  EvalQuestion q{"1", "what does -a do", "ls.1.txt", "-a, --all do not ignore", "en", ""};
  EXPECT_TRUE(relevant(hit("/x/man/ls.1.txt", "-a, --all\n       do  not ignore entries"), q));
  EXPECT_TRUE(relevant(hit("ls.1.txt", "-a,--all do not ignore"), q));
  EXPECT_FALSE(relevant(hit("/x/man/als.1.txt", "-a, --all do not ignore"), q));  // a suffix, not the file
  EXPECT_FALSE(relevant(hit("/x/man/ls.1.txt", "-A, --almost-all do not list"), q));
  EXPECT_FALSE(relevant(hit("/x/man/cp.1.txt", "-a, --all do not ignore"), q));
}

TEST(Eval, RecallMrrAndPercentiles) {
  EvalStats s;
  const int ranks[] = {1, 2, 6, 0, 10};
  for (int i = 0; i < 5; ++i) s.add(ranks[i], 10.0 * (i + 1));
  EXPECT_DOUBLE_EQ(s.recall_at(1), 0.2);
  EXPECT_DOUBLE_EQ(s.recall_at(5), 0.4);
  EXPECT_DOUBLE_EQ(s.recall_at(10), 0.8);
  EXPECT_DOUBLE_EQ(s.mrr(), (1 + 0.5 + 1.0 / 6 + 0 + 0.1) / 5);
  EXPECT_DOUBLE_EQ(s.latency_percentile(50), 30);
  EXPECT_DOUBLE_EQ(s.latency_percentile(99), 50);
  EXPECT_DOUBLE_EQ(s.latency_percentile(0), 10);
}

TEST(Eval, EvaluateFindsTheFirstRelevantRankWithinK) {
  const std::vector<EvalQuestion> qs = {{"1", "a", "d.txt", "alpha", "en", ""}, {"2", "b", "d.txt", "beta", "zh", ""}};
  const auto r = evaluate(qs, [](const std::string& q, size_t) {
    std::vector<Hit> hits = {hit("d.txt", "nothing"), hit("e.txt", "alpha beta"), hit("d.txt", "alpha")};
    if (q == "b") hits.push_back(hit("d.txt", "beta"));
    return hits;
  }, 3);
  EXPECT_EQ(r.all.ranks, (std::vector<int>{3, 0}));  // beta only at rank 4, past k = 3
  EXPECT_EQ(r.by_lang.at("en").ranks, std::vector<int>{3});
  EXPECT_EQ(r.by_lang.at("zh").ranks, std::vector<int>{0});
}

TEST(Eval, QuestionFileErrorsNameTheLine) {
  const auto good = load_questions(write_tmp("q_good", "{\"q\": \"x\", \"doc\": \"d\", \"answer\": \"y\"}\n\n"));
  ASSERT_EQ(good.size(), 1u);
  EXPECT_EQ(good[0].id, "1");
  try {
    load_questions(write_tmp("q_bad", "{\"q\": \"x\", \"doc\": \"d\", \"answer\": \"y\"}\n{\"q\": \"x\", \"doc\": \"d\"}\n"));
    FAIL();
  } catch (const helix::Error& e) {
    EXPECT_NE(std::string(e.what()).find(":2: no \"answer\""), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_questions(write_tmp("q_json", "not json\n")), helix::Error);
  EXPECT_THROW(load_questions(write_tmp("q_empty", "\n")), helix::Error);
}

// A question of the evaluation set ("-#", an option of gzip) made the rule analyser push empty
// words forever (std::bad_alloc): a word of only trailing punctuation is now a separator.
TEST(Eval, RuleAnalyserTakesOptionsOfOnlyPunctuation) {
  const Analysis a = analyse_rules("What does the -# option of gzip do?");
  EXPECT_FALSE(a.points.empty());
  EXPECT_FALSE(analyse_rules("- -- -. #").question.empty());
}
