// The common document model every parser fills: a title and a flat list of blocks (headings,
// paragraphs, list items, tables, code), each with the heading path above it and, for PDF, its
// page. The document's extracted text is the blocks' texts joined by blank lines; each block
// knows its byte span in that text, so chunks and citations can point back into it.
//
//   helix::docs::Document d = helix::docs::parse_file("manual.pdf");   // throws naming the file
//   for (const auto& b : d.blocks) ...
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace helix::docs {

enum class BlockKind { Heading, Paragraph, ListItem, Table, Code };
const char* block_kind_name(BlockKind k);

struct Block {
  BlockKind kind = BlockKind::Paragraph;
  std::string text;
  int level = 0;  // heading level 1..6 (headings only)
  int page = 0;   // 1-based page (PDF), 0 when the format has no pages
  std::vector<std::string> heading_path;  // enclosing headings, outermost first (a heading includes itself)
  size_t begin = 0;  // byte span [begin, end) in Document::text
  size_t end = 0;
};

struct Document {
  std::string path;
  std::string format;  // "text", "markdown", "html", "pdf", "docx"
  std::string title;
  int pages = 0;  // PDF page count, else 0
  std::vector<Block> blocks;
  std::string text;  // the blocks' texts joined by "\n\n"
};

// Builds a Document block by block, keeping the heading path and the text spans.
class DocumentBuilder {
 public:
  DocumentBuilder(std::string path, std::string format);
  void heading(int level, std::string_view text, int page = 0);
  // Adds a block; whitespace-only text is dropped. Paragraph/list/heading text has its runs of
  // whitespace collapsed; code and tables keep their lines.
  void add(BlockKind kind, std::string_view text, int page = 0);
  void set_title(std::string_view title);
  void set_pages(int n) { doc_.pages = n; }
  // The document; the title defaults to the first level-1 heading, else the file's stem.
  Document finish();

 private:
  Document doc_;
  std::vector<std::pair<int, std::string>> stack_;  // open headings (level, text)
};

// The file formats parse_file() reads, by extension (.txt .text .md .markdown .html .htm .pdf .docx;
// files without an extension, or with a number as one (Apache-2.0), are read as text).
bool is_supported(const std::string& path);
// Parses a file by its extension. Throws helix::Error naming the file when it is unreadable,
// damaged or of an unsupported type.
Document parse_file(const std::string& path);
// The same for a file's bytes already read (`path` gives the type by extension and names errors).
Document parse_data(std::string_view data, const std::string& path);

// The parsers (data = the file's bytes; `path` names the source in errors and the title).
Document parse_text(std::string_view data, const std::string& path);
Document parse_markdown(std::string_view data, const std::string& path);
Document parse_html(std::string_view data, const std::string& path);
Document parse_pdf(std::string_view data, const std::string& path);
Document parse_docx(std::string_view data, const std::string& path);

// Text helpers shared by the parsers and the chunker.
// Throws naming `path` when data holds NUL bytes or invalid UTF-8 (with the byte offset).
void check_utf8_text(std::string_view data, const std::string& path);
// Collapses runs of whitespace to one space and trims both ends.
std::string collapse_spaces(std::string_view s);
// Han, Hiragana, Katakana, Hangul and CJK compatibility ideographs.
bool is_cjk(char32_t c);
// The share of a text's letters (Unicode letters, CJK characters among them) that are CJK, 0 to 1.
double cjk_share(std::string_view text);
// True when at least a fifth of the letters are CJK (a CJK character carries about a word, an English
// word about five letters): Chinese wording for prompts, answers and ChatFile, and the lower vector
// weight in retrieval.
bool mostly_cjk(std::string_view text);
// The number of Unicode characters in s (UTF-8).
size_t count_chars(std::string_view s);

}  // namespace helix::docs
