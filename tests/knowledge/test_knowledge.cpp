// The knowledge store with the real embedding model (all-MiniLM-L6-v2 as installed by
// scripts/setup.sh): CJK bigrams, ingest/replace/remove, the vector index kept in line with
// SQLite after a simulated kill, and retrieval.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/error.h"
#include "knowledge/fts_text.h"
#include "knowledge/retrieval.h"
#include "knowledge/store.h"
#include "model/bert.h"

namespace fs = std::filesystem;
using namespace helix::knowledge;

namespace {

const std::string kData = std::string(HELIX_SOURCE_DIR) + "/tests/docs/data/";

std::string embed_model_dir() {
  if (const char* m = std::getenv("HELIX_EMBED_MODEL"); m && *m) return m;
  const char* x = std::getenv("XDG_DATA_HOME");
  const std::string base = x && *x ? std::string(x) : std::string(std::getenv("HOME")) + "/.local/share";
  return base + "/helix/models/embed";
}

helix::model::BertEncoder& encoder() {
  static auto enc = helix::model::BertEncoder::load(embed_model_dir());
  return *enc;
}

class Store : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("helix_kb_test_" + std::to_string(::getpid()) + "_" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    KnowledgeBase::create(root_.string(), "t", encoder());
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
};

}  // namespace

TEST(FtsText, IdentifierTerms) {
  using V = std::vector<std::string>;
  EXPECT_EQ(identifier_terms("What does the --force option of rm do?"), V{"--force"});
  EXPECT_EQ(identifier_terms("Which option of df would use the output format defined by FIELD_LIST?"), V{"FIELD_LIST"});
  EXPECT_EQ(identifier_terms("passwd 命令的 --quiet 选项有什么作用？"), V{"--quiet"});
  EXPECT_EQ(identifier_terms("Set keygen.name, then run with -f. Or --no-dereference."),
            (V{"keygen.name", "-f", "--no-dereference"}));
  EXPECT_EQ(identifier_terms("Is getLine faster?"), V{"getLine"});
  // Prose is not an identifier: hyphenated words, abbreviations, numbers, a lone dash, a version.
  EXPECT_TRUE(identifier_terms("A well-known e.g. i.e. rule - 3.5 or -5 -- GPL-3 v2.0 x").empty());
}

TEST(FtsText, HoldsIdentifier) {
  EXPECT_TRUE(holds_identifier("-f, --force ignore nonexistent files", "--force"));
  EXPECT_TRUE(holds_identifier("use --force.", "--force"));
  EXPECT_FALSE(holds_identifier("--forceful", "--force"));
  EXPECT_FALSE(holds_identifier("--no-force", "--force"));
  EXPECT_FALSE(holds_identifier("the force option", "--force"));
  EXPECT_TRUE(holds_identifier("keygen.name 请输入", "keygen.name"));
  EXPECT_FALSE(holds_identifier("keygen.name.comment", "keygen.name"));
  EXPECT_FALSE(holds_identifier("anything", ""));
}

TEST(FtsText, CjkBigrams) {
  EXPECT_EQ(fts_body("Helix知识库ok"), "Helix 知识 识库 ok");
  EXPECT_EQ(fts_body("茶"), " 茶 ");
  EXPECT_EQ(query_terms("Green TEA, 普洱茶?"), (std::vector<std::string>{"green", "tea", "普洱", "洱茶"}));
  EXPECT_EQ(fts_match({"a\"b", "c"}), "\"a\"\"b\" OR \"c\"");
  EXPECT_TRUE(query_terms(" ,。！ ").empty());
}

TEST_F(Store, AddUnchangedReplacedRemoved) {
  auto kb = KnowledgeBase::open(root_.string(), "t");
  const fs::path copy = root_ / "notes.md";
  fs::copy_file(kData + "tomatoes.md", copy);
  auto r = kb->add_file(copy.string(), encoder());
  EXPECT_EQ(r.status, AddResult::Added);
  EXPECT_GT(r.chunks, 0u);
  EXPECT_EQ(kb->add_file(copy.string(), encoder()).status, AddResult::Unchanged);
  const auto before = bm25_search(*kb, "blossom end rot", 5);
  ASSERT_FALSE(before.empty());

  std::ofstream(copy, std::ios::app) << "\n## Harvest\n\nPick the fruit when it turns deep red and gives slightly.\n";
  r = kb->add_file(copy.string(), encoder());
  EXPECT_EQ(r.status, AddResult::Replaced);
  EXPECT_EQ(kb->docs().size(), 1u);
  EXPECT_EQ(kb->chunk_count(), static_cast<int64_t>(r.chunks));
  const auto after = bm25_search(*kb, "blossom end rot", 5);
  ASSERT_FALSE(after.empty());
  EXPECT_NE(after[0].first, before[0].first);  // the old chunks are gone, new ids
  EXPECT_EQ(kb->vectors().size(), r.chunks);
  EXPECT_FALSE(bm25_search(*kb, "deep red", 5).empty());

  kb->remove_doc(kb->find_doc("notes.md").id);
  EXPECT_EQ(kb->chunk_count(), 0);
  EXPECT_EQ(kb->vectors().size(), 0u);
  EXPECT_TRUE(bm25_search(*kb, "blossom", 5).empty());
}

TEST_F(Store, DamagedFileLeavesBaseUnchanged) {
  auto kb = KnowledgeBase::open(root_.string(), "t");
  EXPECT_THROW(kb->add_file(kData + "broken.pdf", encoder()), helix::Error);
  EXPECT_TRUE(kb->docs().empty());
}

TEST_F(Store, VectorIndexResyncedAfterKill) {
  {
    auto kb = KnowledgeBase::open(root_.string(), "t");
    kb->add_file(kData + "coffee.txt", encoder());
    kb->save();
    kb->add_file(kData + "tea_zh.txt", encoder());
    // no save(): as if killed after the SQLite commit, before the index was written
  }
  auto kb = KnowledgeBase::open(root_.string(), "t");
  EXPECT_EQ(kb->vectors().size(), static_cast<size_t>(kb->chunk_count()));
  const auto v = vector_search(*kb, encoder(), "普洱茶可以存放很多年", 1);
  ASSERT_EQ(v.size(), 1u);
  QueryOptions o;
  o.k = 1;
  const auto h = retrieve(*kb, &encoder(), "普洱茶可以存放很多年", o);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_NE(h[0].doc.find("tea_zh.txt"), std::string::npos);
  EXPECT_GT(h[0].bm25_rank, 0);
  EXPECT_GT(h[0].vector_rank, 0);

  // A removed document whose removal never reached the index file is dropped on open.
  kb->remove_doc(kb->find_doc("tea_zh.txt").id);
  kb.reset();
  kb = KnowledgeBase::open(root_.string(), "t");
  EXPECT_EQ(kb->vectors().size(), static_cast<size_t>(kb->chunk_count()));
  for (const auto& [id, sim] : vector_search(*kb, encoder(), "tea", 10)) {
    helix::knowledge::Stmt q(kb->db(), "SELECT COUNT(*) FROM chunks WHERE id = ?");
    q.bind(1, id).step();
    EXPECT_EQ(q.i64(0), 1) << "vector index returned deleted chunk " << id;
  }
  // A damaged index file is rebuilt from SQLite.
  kb.reset();
  std::ofstream(root_ / "t" / "vectors.hnsw", std::ios::trunc) << "garbage";
  kb = KnowledgeBase::open(root_.string(), "t");
  EXPECT_EQ(kb->vectors().size(), static_cast<size_t>(kb->chunk_count()));
}

// An index file built with another graph degree (an older Helix, or other settings) is rebuilt from
// SQLite with the current settings when the base is opened; ef_search is set per search.
TEST_F(Store, VectorIndexRebuiltForOtherSettings) {
  std::vector<int64_t> ids;
  std::map<int64_t, std::vector<float>> emb;
  {
    auto kb = KnowledgeBase::open(root_.string(), "t");
    for (const char* f : {"coffee.txt", "tomatoes.md", "bread.html"}) kb->add_file(kData + f, encoder());
    kb->save();
    helix::knowledge::Stmt q(kb->db(), "SELECT id, embedding FROM chunks");
    while (q.step()) ids.push_back(q.i64(0)), emb[q.i64(0)] = q.floats(1);
  }
  const std::string file = (root_ / "t" / "vectors.hnsw").string();
  const auto fetch = [&](int64_t id) { return emb.at(id); };
  HnswParams other;
  other.m = HnswParams{}.m / 2;
  {
    VectorIndex v(file, encoder().dim(), other);
    EXPECT_EQ(v.sync(ids, fetch), ids.size());  // the default-built file is rebuilt with M / 2
    v.save();
    VectorIndex same(file, encoder().dim(), other);
    EXPECT_EQ(same.sync(ids, fetch), 0u);  // and then kept
  }
  auto kb = KnowledgeBase::open(root_.string(), "t");  // default settings: rebuilt again
  EXPECT_EQ(kb->vectors().size(), ids.size());
  VectorIndex after(file, encoder().dim());
  EXPECT_EQ(after.sync(ids, fetch), 0u);  // the file now holds the default settings
  const auto top = vector_search(*kb, encoder(), "espresso", 3, 500);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_GE(top[0].second, top[2].second);
}

TEST_F(Store, HybridFindsEnglishAndChinese) {
  auto kb = KnowledgeBase::open(root_.string(), "t");
  for (const char* f : {"tomatoes.md", "bread.html", "coffee.txt", "tea_zh.txt", "bicycle.pdf", "astronomy.docx"})
    kb->add_file(kData + f, encoder());
  QueryOptions o;
  o.k = 3;
  auto top = [&](const std::string& q, RetrievalMode m) {
    o.mode = m;
    const auto h = retrieve(*kb, &encoder(), q, o);
    return h.empty() ? std::string() : fs::path(h[0].doc).filename().string();
  };
  EXPECT_EQ(top("how often should I lubricate my chain", RetrievalMode::Hybrid), "bicycle.pdf");
  EXPECT_EQ(top("chain lubricate", RetrievalMode::Bm25), "bicycle.pdf");
  EXPECT_EQ(top("which telescope should a beginner buy", RetrievalMode::Vector), "astronomy.docx");
  EXPECT_EQ(top("乌龙茶产自哪里", RetrievalMode::Bm25), "tea_zh.txt");
  EXPECT_EQ(top("water temperature for coffee", RetrievalMode::Hybrid), "coffee.txt");
  o.mode = RetrievalMode::Hybrid;
  o.k = 50;
  const auto all = retrieve(*kb, &encoder(), "water", o);
  for (size_t i = 1; i < all.size(); ++i) {
    EXPECT_GE(all[i - 1].score, all[i].score);
    for (size_t j = 0; j < i; ++j) EXPECT_NE(all[i].text, all[j].text);
  }
  const auto pdf = retrieve(*kb, &encoder(), "disc brake pads millimetre", o);
  ASSERT_FALSE(pdf.empty());
  EXPECT_EQ(pdf[0].page, 2);
  EXPECT_NE(pdf[0].section.find("Brakes"), std::string::npos);
}
