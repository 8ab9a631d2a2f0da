// Parsers and chunking on the committed corpus (tests/docs/data, made by make_test_data.py with
// reportlab and python-docx) and on small inline texts.
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "docs/chunker.h"
#include "docs/document.h"
#include "tokenizer/unicode.h"

using namespace helix::docs;

namespace {

const std::string kData = std::string(HELIX_SOURCE_DIR) + "/tests/docs/data/";

const Block* find_block(const Document& d, const std::string& needle) {
  for (const auto& b : d.blocks)
    if (b.text.find(needle) != std::string::npos) return &b;
  return nullptr;
}

std::string error_of(const std::string& path) {
  try {
    parse_file(path);
  } catch (const helix::Error& e) {
    return e.what();
  }
  return "";
}

bool valid_utf8(const std::string& s) { return helix::tok::is_valid_utf8(s); }

void expect_spans(const Document& d) {
  for (const auto& b : d.blocks) EXPECT_EQ(d.text.substr(b.begin, b.end - b.begin), b.text);
}

}  // namespace

TEST(Markdown, HeadingsListsTablesCode) {
  const Document d = parse_file(kData + "tomatoes.md");
  EXPECT_EQ(d.format, "markdown");
  EXPECT_EQ(d.title, "Growing Tomatoes");
  const Block* item = find_block(d, "Mulch with straw");
  ASSERT_TRUE(item);
  EXPECT_EQ(item->kind, BlockKind::ListItem);
  EXPECT_EQ(item->text, "Mulch with straw to keep moisture in.");
  EXPECT_EQ(item->heading_path, (std::vector<std::string>{"Growing Tomatoes", "Watering"}));
  const Block* table = find_block(d, "Cherokee Purple");
  ASSERT_TRUE(table);
  EXPECT_EQ(table->kind, BlockKind::Table);
  EXPECT_EQ(table->text.find("---"), std::string::npos);  // the delimiter row is dropped
  const Block* code = find_block(d, "s.pinch()");
  ASSERT_TRUE(code);
  EXPECT_EQ(code->kind, BlockKind::Code);
  EXPECT_NE(code->text.find("\nfor s in"), std::string::npos);  // lines kept
  const Block* para = find_block(d, "eight hours");
  ASSERT_TRUE(para);
  EXPECT_EQ(para->kind, BlockKind::Paragraph);
  EXPECT_NE(para->text.find("frost, when"), std::string::npos);  // soft line break joined
  expect_spans(d);
}

TEST(Markdown, SetextHeadingsAndNesting) {
  const Document d = parse_markdown("Top\n===\n\nintro\n\nSub\n---\n\n### Deep\n\ntext\n\n## Next\n\nmore\n", "x.md");
  EXPECT_EQ(d.title, "Top");
  const Block* t = find_block(d, "text");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->heading_path, (std::vector<std::string>{"Top", "Sub", "Deep"}));
  const Block* m = find_block(d, "more");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->heading_path, (std::vector<std::string>{"Top", "Next"}));
}

TEST(Html, StructureWithoutScripts) {
  const Document d = parse_file(kData + "bread.html");
  EXPECT_EQ(d.title, "Sourdough Basics");
  EXPECT_EQ(d.text.find("must not be indexed"), std::string::npos);
  EXPECT_EQ(d.text.find("color: red"), std::string::npos);
  const Block* p = find_block(d, "seventy-five percent");  // inline <b> joined into the paragraph
  ASSERT_TRUE(p);
  EXPECT_EQ(p->kind, BlockKind::Paragraph);
  EXPECT_EQ(p->heading_path, (std::vector<std::string>{"Sourdough Bread", "Hydration"}));
  const Block* li = find_block(d, "twelve percent protein");
  ASSERT_TRUE(li);
  EXPECT_EQ(li->kind, BlockKind::ListItem);
  const Block* tab = find_block(d, "Bulk fermentation");
  ASSERT_TRUE(tab);
  EXPECT_EQ(tab->kind, BlockKind::Table);
  EXPECT_NE(tab->text.find("Bulk fermentation | 5 hours"), std::string::npos);
  const Block* pre = find_block(d, "levain");
  ASSERT_TRUE(pre);
  EXPECT_EQ(pre->kind, BlockKind::Code);
  expect_spans(d);
}

TEST(Pdf, PagesHeadingsParagraphs) {
  const Document d = parse_file(kData + "bicycle.pdf");
  EXPECT_EQ(d.format, "pdf");
  EXPECT_EQ(d.title, "Bicycle Maintenance");
  EXPECT_EQ(d.pages, 2);
  const Block* chain = find_block(d, "lubricate the chain");
  ASSERT_TRUE(chain);
  EXPECT_EQ(chain->page, 2);
  ASSERT_FALSE(chain->heading_path.empty());
  EXPECT_EQ(chain->heading_path.back(), "Chain");
  const Block* tyre = find_block(d, "pinch flats");
  ASSERT_TRUE(tyre);
  EXPECT_EQ(tyre->page, 1);
  EXPECT_EQ(tyre->heading_path.back(), "Tyres");
  // Two paragraphs under Tyres stay two blocks (split at the vertical gap).
  const Block* punct = find_block(d, "To fix a puncture");
  ASSERT_TRUE(punct);
  EXPECT_NE(punct, tyre);
  expect_spans(d);
}

TEST(Docx, StylesListsTables) {
  const Document d = parse_file(kData + "astronomy.docx");
  EXPECT_EQ(d.format, "docx");
  EXPECT_EQ(d.title, "Amateur Astronomy");
  const Block* li = find_block(d, "Dobsonian");
  ASSERT_TRUE(li);
  EXPECT_EQ(li->kind, BlockKind::ListItem);
  EXPECT_EQ(li->heading_path.back(), "Telescopes");
  const Block* tab = find_block(d, "Jupiter | 10 mm");
  ASSERT_TRUE(tab);
  EXPECT_EQ(tab->kind, BlockKind::Table);
  EXPECT_EQ(tab->heading_path.back(), "Planets");
  expect_spans(d);
}

TEST(Errors, DamagedAndUnsupportedFilesNamed) {
  std::string e = error_of(kData + "broken.pdf");
  EXPECT_NE(e.find("broken.pdf"), std::string::npos) << e;
  EXPECT_NE(e.find("damaged PDF"), std::string::npos) << e;
  e = error_of(kData + "broken.docx");
  EXPECT_NE(e.find("broken.docx"), std::string::npos) << e;
  EXPECT_NE(e.find("damaged DOCX"), std::string::npos) << e;
  e = error_of(kData + "VERSIONS.xlsx");
  EXPECT_NE(e.find("unsupported file type '.xlsx'"), std::string::npos) << e;
  e = error_of(kData + "missing.txt");
  EXPECT_NE(e.find("missing.txt: cannot open"), std::string::npos) << e;
  try {
    parse_text("caf\xE9 au lait", "latin1.txt");
    ADD_FAILURE() << "latin-1 bytes accepted";
  } catch (const helix::Error& ex) {
    EXPECT_NE(std::string(ex.what()).find("latin1.txt: not valid UTF-8 (bad byte at offset 3)"), std::string::npos)
        << ex.what();
  }
}

TEST(Formats, ByExtension) {
  for (const char* p : {"a.md", "b.PDF", "c.docx", "d.htm", "README", "Apache-2.0", "GPL-3", "x.txt"})
    EXPECT_TRUE(is_supported(p)) << p;
  for (const char* p : {"a.xlsx", "b.png", "c.doc", "LICENSE-2.0a"}) EXPECT_FALSE(is_supported(p)) << p;
  EXPECT_EQ(parse_text("x\n", "/d/Apache-2.0").title, "Apache-2.0");
  EXPECT_EQ(parse_text("x\n", "/d/notes.txt").title, "notes");
}

TEST(Chunker, SpansBudgetAndHeadings) {
  const Document d = parse_file(kData + "tomatoes.md");
  ChunkOptions o;
  o.max_tokens = 40;
  o.overlap_tokens = 10;
  const auto chunks = chunk_document(d, o);
  ASSERT_GT(chunks.size(), 3u);
  for (const auto& c : chunks) {
    EXPECT_EQ(d.text.substr(c.begin, c.end - c.begin), c.text);
    EXPECT_EQ(c.char_end - c.char_begin, count_chars(c.text));
    EXPECT_LE(c.tokens, o.max_tokens + 2) << c.text;  // + separators between units
    EXPECT_TRUE(valid_utf8(c.text));
  }
  for (const auto& c : chunks)
    if (c.text.find("Roma") != std::string::npos) {
      EXPECT_EQ(c.heading_path.back(), "Varieties");
    }
  // With room for it, the Varieties heading starts a chunk and stays with its table.
  o.max_tokens = 200;
  bool found = false;
  for (const auto& c : chunk_document(d, o))
    if (c.text.rfind("Varieties", 0) == 0) {
      found = true;
      EXPECT_NE(c.text.find("Roma"), std::string::npos);
      EXPECT_EQ(c.text.find("Pruning"), std::string::npos);
    }
  EXPECT_TRUE(found);
}

TEST(Chunker, CjkSplitsAtSentenceEndsOnly) {
  std::string zh;
  for (int i = 0; i < 12; ++i) zh += "绿茶是不发酵的茶，冲泡的水温应该在八十度左右。乌龙茶是半发酵的茶！";
  const Document d = parse_text(zh, "zh.txt");
  ChunkOptions o;
  o.max_tokens = 60;
  o.overlap_tokens = 30;
  const auto chunks = chunk_document(d, o);
  ASSERT_GT(chunks.size(), 3u);
  for (size_t i = 0; i < chunks.size(); ++i) {
    const auto& c = chunks[i];
    EXPECT_TRUE(valid_utf8(c.text));
    EXPECT_LE(c.tokens, o.max_tokens);
    const std::string end = c.text.substr(c.text.size() - 3);
    EXPECT_TRUE(end == "。" || end == "！") << "chunk " << i << " ends mid-sentence: " << c.text;
    if (i > 0) {
      EXPECT_LT(c.begin, chunks[i - 1].end) << "no overlap between chunks " << i - 1 << " and " << i;
    }
  }
  EXPECT_EQ(chunks.back().end, d.text.size());
}

TEST(Chunker, UnpunctuatedRunCutBetweenCharacters) {
  std::string s;
  for (int i = 0; i < 300; ++i) s += "字";
  const Document d = parse_text(s + "\n", "run.txt");
  ChunkOptions o;
  o.max_tokens = 50;
  o.overlap_tokens = 0;
  const auto chunks = chunk_document(d, o);
  ASSERT_EQ(chunks.size(), 6u);
  for (const auto& c : chunks) {
    EXPECT_TRUE(valid_utf8(c.text));
    EXPECT_EQ(c.tokens, 50u);
  }
}

TEST(Chunker, SentencesSplitLatinAndCjk) {
  const std::string s = "One. Two? \"Three!\" 四。五！六";
  const auto sent = split_sentences(s);
  std::vector<std::string> got;
  for (auto [b, e] : sent) got.push_back(s.substr(b, e - b));
  EXPECT_EQ(got, (std::vector<std::string>{"One.", "Two?", "\"Three!\"", "四。", "五！", "六"}));
}

// The one CJK detector (retrieval's vector weight, the knowledge prompts, ChatFile's language).
TEST(Cjk, ShareAndMostly) {
  EXPECT_DOUBLE_EQ(cjk_share("what does --all do"), 0.0);
  EXPECT_DOUBLE_EQ(cjk_share("怎样删除一整行？"), 1.0);
  EXPECT_NEAR(cjk_share("passwd 命令"), 2.0 / 8.0, 1e-12);
  EXPECT_NEAR(cjk_share("café 茶"), 1.0 / 5.0, 1e-12);  // é is a letter too
  EXPECT_DOUBLE_EQ(cjk_share("123 ?"), 0.0);
  EXPECT_TRUE(mostly_cjk("今天的会议讨论预算。We also met."));
  EXPECT_TRUE(mostly_cjk("passwd 命令"));
  EXPECT_FALSE(mostly_cjk("What is 普洱 tea and where does it come from?"));
  EXPECT_FALSE(mostly_cjk("An English text with one 字."));
  EXPECT_FALSE(mostly_cjk(""));
}
