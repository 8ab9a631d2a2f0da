// Knowledge points: the rule-based analyser (English and Chinese), the model analyser's schema and
// reply reading, the knowledge-point retrieval over a real base (real embedding model), and the
// citation check.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "docs/document.h"
#include "knowledge/grounding.h"
#include "knowledge/points.h"
#include "knowledge/store.h"
#include "model/bert.h"

namespace fs = std::filesystem;
using namespace helix::knowledge;

namespace {

const std::string kData = std::string(HELIX_SOURCE_DIR) + "/tests/docs/data/";

std::vector<std::string> texts(const Analysis& a, KnowledgePoint::Kind k) {
  std::vector<std::string> out;
  for (const auto& p : a.points)
    if (p.kind == k) out.push_back(p.text);
  return out;
}

bool has(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

std::string embed_model_dir() {
  if (const char* m = std::getenv("HELIX_EMBED_MODEL"); m && *m) return m;
  const char* x = std::getenv("XDG_DATA_HOME");
  const std::string base = x && *x ? std::string(x) : std::string(std::getenv("HOME")) + "/.local/share";
  return base + "/helix/models/embed";
}

Passage passage(int n, const std::string& doc, const std::string& text) {
  Passage p;
  p.n = n;
  p.hit.doc = doc;
  p.hit.text = text;
  return p;
}

}  // namespace

TEST(Points, RulesEnglish) {
  const Analysis a = analyse_rules("What does the GPL say about software patents and how do I apply the Apache License?");
  EXPECT_EQ(a.analyser, "rules");
  const auto ent = texts(a, KnowledgePoint::Entity);
  EXPECT_TRUE(has(ent, "GPL"));
  EXPECT_TRUE(has(ent, "Apache License"));
  const auto sub = texts(a, KnowledgePoint::SubQuestion);
  ASSERT_EQ(sub.size(), 2u);
  EXPECT_EQ(sub[0], "What does the GPL say about software patents");
  EXPECT_EQ(sub[1], "how do I apply the Apache License");
  EXPECT_TRUE(has(texts(a, KnowledgePoint::Fact), "software patents"));  // a phrase, not two words
  // Quoted phrases, identifiers and versions are entities; the first word of a sentence is not.
  const Analysis b = analyse_rules("Where is \"blossom end rot\" explained in sources.list for Python 3.12?");
  const auto eb = texts(b, KnowledgePoint::Entity);
  EXPECT_TRUE(has(eb, "blossom end rot"));
  EXPECT_TRUE(has(eb, "sources.list"));
  EXPECT_TRUE(has(eb, "Python 3.12"));
  EXPECT_FALSE(has(eb, "Where"));
  EXPECT_TRUE(texts(b, KnowledgePoint::SubQuestion).empty());  // one clause: the question itself
}

TEST(Points, RulesChinese) {
  const Analysis a = analyse_rules("《中国茶》里普洱茶产自哪里？冲泡绿茶的水温应该是多少？");
  EXPECT_TRUE(has(texts(a, KnowledgePoint::Entity), "中国茶"));
  const auto facts = texts(a, KnowledgePoint::Fact);
  EXPECT_TRUE(has(facts, "普洱茶产自"));
  EXPECT_TRUE(has(facts, "冲泡绿茶"));
  EXPECT_TRUE(has(facts, "水温"));
  EXPECT_EQ(texts(a, KnowledgePoint::SubQuestion).size(), 2u);
  EXPECT_TRUE(helix::docs::mostly_cjk(a.question));
  EXPECT_FALSE(helix::docs::mostly_cjk("What is 普洱 tea and where does it come from?"));
  EXPECT_LE(analyse_rules("a b c d e f g h i j k l m n o p q r s t u v w x y z alpha beta gamma delta epsilon zeta "
                          "eta theta iota kappa", 4).points.size(), 4u);
}

TEST(Points, ModelReply) {
  const auto& s = analysis_schema();
  EXPECT_EQ(s["properties"]["entities"]["type"], "array");
  EXPECT_NE(analysis_prompt("普洱茶产自哪里？").find("问题：普洱茶产自哪里？"), std::string::npos);
  const Analysis a = parse_model_analysis(
      "q", R"({"entities":["GPL"," GPL "],"facts":["patent licence"],"sub_questions":["what does it grant?"]})");
  EXPECT_EQ(a.analyser, "model");
  ASSERT_EQ(a.points.size(), 3u);  // the duplicate entity dropped
  EXPECT_EQ(a.points[0].kind, KnowledgePoint::Entity);
  EXPECT_EQ(a.points[1].kind, KnowledgePoint::SubQuestion);
  EXPECT_THROW(parse_model_analysis("q", "[1]"), helix::Error);
  EXPECT_THROW(parse_model_analysis("q", R"({"entities":[3]})"), helix::Error);
  // The analyser passes the schema to the model and falls back to rules on an unusable reply.
  const Analysis m = analyse_with_model("How hot should green tea water be?", [](const std::string& prompt, const auto& schema) {
    EXPECT_NE(prompt.find("green tea"), std::string::npos);
    EXPECT_TRUE(schema.contains("properties"));
    return std::string(R"({"entities":[],"facts":["green tea water temperature"],"sub_questions":[]})");
  });
  EXPECT_EQ(m.analyser, "model");
  EXPECT_EQ(m.points.at(0).text, "green tea water temperature");
  const Analysis f = analyse_with_model("How hot should green tea water be?", [](const std::string&, const auto&) {
    return std::string("not json");
  });
  EXPECT_EQ(f.analyser, "rules (model reply unusable)");
  EXPECT_FALSE(f.points.empty());
}

TEST(Citations, ResolvedDroppedAndFlagged) {
  const std::vector<Passage> ps = {passage(1, "/d/a.md", "alpha"), passage(2, "/d/b.pdf", "beta")};
  const CitationCheck c = check_citations("Alpha is first [1]. Beta [2][1] and [1, 2]. Gamma [7]. Ranges [1-3]; 【2】 [x]", ps);
  EXPECT_EQ(c.answer, "Alpha is first [1]. Beta [2][1] and [1, 2]. Gamma. Ranges [1, 2]; [2] [x]");
  ASSERT_EQ(c.cited.size(), 2u);
  EXPECT_EQ(c.cited[0].n, 1);
  EXPECT_EQ(c.cited[1].passage->hit.doc, "/d/b.pdf");
  EXPECT_EQ(c.unresolved, (std::vector<int>{7, 3}));
  const auto j = citations_json(c);
  EXPECT_EQ(j[1]["text"], "beta");
  EXPECT_TRUE(check_citations("no citations here", ps).cited.empty());
}

TEST(Grounding, PointsCoverEachNeed) {
  const fs::path root = fs::temp_directory_path() / ("helix_points_test_" + std::to_string(::getpid()));
  fs::remove_all(root);
  auto enc = helix::model::BertEncoder::load(embed_model_dir());
  KnowledgeBase::create(root.string(), "t", *enc);
  auto kb = KnowledgeBase::open(root.string(), "t");
  for (const char* f : {"tomatoes.md", "coffee.txt", "tea_zh.txt", "bicycle.pdf", "astronomy.docx"})
    kb->add_file(kData + f, *enc);
  // Two needs in two documents: each point's best passage is kept even with k = 2.
  const Analysis a = analyse_rules("How often should I water tomatoes and what pressure do road tyres need?");
  ASSERT_EQ(texts(a, KnowledgePoint::SubQuestion).size(), 2u);
  for (bool rerank : {false, true}) {
    const auto ps = retrieve_points(*kb, enc.get(), a, {.k = 2, .rerank = rerank});
    ASSERT_EQ(ps.size(), 2u);
    std::vector<std::string> docs = {fs::path(ps[0].hit.doc).filename(), fs::path(ps[1].hit.doc).filename()};
    std::sort(docs.begin(), docs.end());
    EXPECT_EQ(docs, (std::vector<std::string>{"bicycle.pdf", "tomatoes.md"})) << "rerank " << rerank;
    EXPECT_EQ(ps[0].n, 1);
    EXPECT_EQ(ps[1].n, 2);
  }
  // Chinese, and a token budget that leaves room for one passage only.
  const Analysis z = analyse_rules("普洱茶产自哪里？");
  const auto pz = retrieve_points(*kb, enc.get(), z, {.k = 4, .token_budget = 150});
  ASSERT_EQ(pz.size(), 1u);
  EXPECT_EQ(fs::path(pz[0].hit.doc).filename(), "tea_zh.txt");
  EXPECT_NE(pz[0].hit.text.find("云南"), std::string::npos);
  const std::string prompt = grounded_prompt(z.question, pz);
  EXPECT_NE(prompt.find("\n\n[1] (tea_zh) "), std::string::npos);  // a .txt file's title is its stem
  EXPECT_NE(prompt.find("只根据下面编号的段落回答问题"), std::string::npos);
  EXPECT_EQ(prompt.substr(prompt.size() - z.question.size()), z.question);
  EXPECT_NE(passages_block(pz).find("[1] tea_zh.txt\n"), std::string::npos);
  fs::remove_all(root);
}

// The label names what a passage is about: title and heading path, without saying the title twice.
TEST(Grounding, PassageLabel) {
  Hit h;
  h.doc = "/kb/docs/bicycle.pdf";
  EXPECT_EQ(passage_label(h), "bicycle");
  h.title = "Bicycle Maintenance";
  EXPECT_EQ(passage_label(h), "Bicycle Maintenance");
  h.section = "Chain";
  EXPECT_EQ(passage_label(h), "Bicycle Maintenance > Chain");
  h.title = "Growing Tomatoes";
  h.section = "Growing Tomatoes > Watering";
  EXPECT_EQ(passage_label(h), "Growing Tomatoes > Watering");
  h.section = "Growing Tomatoes";
  EXPECT_EQ(passage_label(h), "Growing Tomatoes");
  h.title = "Two\nlines";
  h.section = "";
  EXPECT_EQ(passage_label(h), "Two lines");
  Passage p;
  p.n = 1;
  p.hit = h;
  p.hit.text = "Water deeply\ntwice a week.";
  EXPECT_EQ(grounded_prompt("How often?", {p}),
            "Answer the question using only the numbered passages below. Cite the passages you use as [n].\n\n"
            "[1] (Two lines) Water deeply twice a week.\n\nQuestion: How often?");
}

// A question naming an option: the passage that holds "--force" verbatim comes before one that
// says "force" and "rm" more often (the index sees "--force" as the word "force").
TEST(Grounding, ExactIdentifiersFirst) {
  const fs::path root = fs::temp_directory_path() / ("helix_exact_test_" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "docs");
  std::ofstream(root / "docs" / "about.md")
      << "# rm\n\nThe rm command removes files. Use rm with force and care: rm by force removes files, and "
         "force is what rm needs when files are write-protected. The rm force option of rm.\n";
  std::ofstream(root / "docs" / "options.md") << "# Options\n\n-i prompt before every removal\n\n"
                                                 "-f, --force ignore nonexistent files and arguments, never prompt\n";
  auto enc = helix::model::BertEncoder::load(embed_model_dir());
  KnowledgeBase::create(root.string(), "t", *enc);
  auto kb = KnowledgeBase::open(root.string(), "t");
  kb->add_file((root / "docs" / "about.md").string(), *enc);
  kb->add_file((root / "docs" / "options.md").string(), *enc);
  const Analysis a = analyse_rules("What does the --force option of rm do?");
  const auto on = retrieve_points(*kb, enc.get(), a, {.k = 2});
  ASSERT_EQ(on.size(), 2u);
  EXPECT_EQ(fs::path(on[0].hit.doc).filename(), "options.md");
  const auto off = retrieve_points(*kb, enc.get(), a, {.k = 2, .exact_identifiers = false});
  ASSERT_EQ(off.size(), 2u);
  EXPECT_EQ(fs::path(off[0].hit.doc).filename(), "about.md") << "the case the exact list is for no longer arises";
  fs::remove_all(root);
}
