// The showcase's realistic grounded data (recipes/assistant/data/grounded_real.*.jsonl, made by
// scripts/assistant_grounded_real.py) is what Helix really sends: each "ask" record's user message is
// byte for byte knowledge::grounded_prompt of its question and passages (helix ask), each "chatfile"
// record's is ChatFile's Q&A layout (qa_instructions, "[n] (where)" passages, qa_question); and each
// cited passage holds the fact its answer states.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "chatfile/prompts.h"
#include "knowledge/grounding.h"

namespace helix::train {
namespace {

using ojson = nlohmann::ordered_json;

std::vector<ojson> records(const std::string& name, size_t max) {
  std::ifstream in(std::string(HELIX_SOURCE_DIR) + "/recipes/assistant/data/" + name);
  std::vector<ojson> out;
  std::string line;
  while (out.size() < max && std::getline(in, line)) out.push_back(ojson::parse(line));
  return out;
}

// "[1] (label) text\n[2] (label) text\n\nQuestion: q" after the instruction: the passages' titles
// (their labels, from the record's meta) and texts, one per line.
std::vector<knowledge::Passage> ask_passages(const std::string& user, const ojson& labels) {
  std::vector<knowledge::Passage> ps;
  const int n = static_cast<int>(labels.size());
  size_t at = user.find("\n\n") + 2;
  for (int k = 1; k <= n && at < user.size(); ++k) {
    const std::string label = labels[k - 1];
    const std::string head = "[" + std::to_string(k) + "] (" + label + ") ";
    EXPECT_EQ(user.compare(at, head.size(), head), 0) << "passage " << k;
    const size_t end = k < n ? user.find("\n[" + std::to_string(k + 1) + "] ", at) : user.rfind("\n\n");
    if (end == std::string::npos || end < at + head.size()) break;
    knowledge::Passage p;
    p.n = k;
    p.hit.title = label;
    p.hit.text = user.substr(at + head.size(), end - at - head.size());
    ps.push_back(p);
    at = end + 1;
  }
  return ps;
}

// Every grounded set in helix ask's shape (man pages, invented facts, how-to documents).
TEST(TrainRecipeGroundedReal, AskPromptsOfEveryGroundedSetAreWhatHelixSends) {
  for (const char* set : {"grounded_real", "grounded_facts", "grounded_docs"}) {
    size_t ask = 0;
    for (const char* split : {".eval.jsonl", ".train.jsonl"}) {
      for (const ojson& r : records(std::string(set) + split, 200)) {
        const ojson& meta = r["meta"];
        if (meta["shape"] != "ask") continue;
        ++ask;
        ASSERT_EQ(meta["labels"].size(), meta["n_passages"].get<size_t>());
        const std::string user = r["messages"][0]["content"], q = meta["question"];
        EXPECT_EQ(knowledge::grounded_prompt(q, ask_passages(user, meta["labels"])), user) << q;
      }
    }
    EXPECT_GT(ask, 100u) << set;
  }
}

TEST(TrainRecipeGroundedReal, PromptsAreWhatHelixSends) {
  size_t ask = 0, chatfile = 0, zh = 0;
  for (const char* file : {"grounded_real.eval.jsonl", "grounded_real.train.jsonl"}) {
    for (const ojson& r : records(file, 200)) {
      const ojson& meta = r["meta"];
      const std::string user = r["messages"][0]["content"], q = meta["question"];
      const int n = meta["n_passages"];
      zh += meta["lang"] == "zh";
      if (meta["shape"] == "ask") {
        ++ask;
        continue;
      }
      ++chatfile;
      const auto lang = meta["prompt_lang"] == "zh" ? chatfile::Lang::Zh : chatfile::Lang::En;
      const std::string head = chatfile::qa_instructions(lang, meta["title"]) + "\n\n[1] (";
      const std::string tail = chatfile::qa_question(lang, "", q);
      EXPECT_EQ(user.compare(0, head.size(), head), 0) << user.substr(0, head.size());
      ASSERT_GT(user.size(), tail.size() + 2);
      EXPECT_EQ(user.substr(user.size() - tail.size() - 2), "\n\n" + tail);
      size_t at = 0;
      for (int k = 1; k <= n; ++k) {  // "text\n\n[k] (where)\n" in order
        at = user.find("\n\n[" + std::to_string(k) + "] (", at);
        ASSERT_NE(at, std::string::npos) << "passage " << k << " of " << q;
        ++at;
      }
    }
  }
  EXPECT_GT(ask, 100u);
  EXPECT_GT(chatfile, 30u);
  EXPECT_GT(zh, 60u);
}

TEST(TrainRecipeGroundedReal, CitedPassagesHoldTheFact) {
  size_t unanswerable = 0, two = 0, n = 0;
  for (const ojson& r : records("grounded_real.train.jsonl", 1000)) {
    const ojson& meta = r["meta"];
    const std::string user = r["messages"][0]["content"], answer = r["messages"][1]["content"];
    ++n;
    unanswerable += meta["citations"].empty();
    two += meta["citations"].size() == 2;
    if (meta["citations"].empty()) EXPECT_TRUE(meta["evidence"].empty());
    else EXPECT_GE(meta["evidence"].size(), 1u);
    for (const ojson& e : meta["evidence"]) {
      const int k = e[0];
      const std::string fact = e[1];
      // the passage [k]: from its marker to the next one (ask joins a chunk's lines with spaces)
      const std::string open = "\n[" + std::to_string(k) + "] ", next = "\n[" + std::to_string(k + 1) + "] ";
      const size_t a = user.find(open), b = user.find(next, a);
      ASSERT_NE(a, std::string::npos);
      std::string passage = user.substr(a, b == std::string::npos ? std::string::npos : b - a), flat = fact;
      if (meta["shape"] == "ask") std::replace(flat.begin(), flat.end(), '\n', ' ');
      EXPECT_NE(passage.find(flat), std::string::npos) << "[" << k << "] does not hold: " << fact;
      EXPECT_NE(answer.find("[" + std::to_string(k) + "]"), std::string::npos) << answer;
    }
  }
  // about a tenth unanswerable, a fifth needing two passages
  EXPECT_GT(unanswerable, n / 20);
  EXPECT_LT(unanswerable, n / 5);
  EXPECT_GT(two, n / 10);
}

}  // namespace
}  // namespace helix::train
