// The document model's builder, the format dispatch and the UTF-8 helpers.
#include "docs/document.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/error.h"
#include "tokenizer/unicode.h"

namespace helix::docs {

const char* block_kind_name(BlockKind k) {
  switch (k) {
    case BlockKind::Heading: return "heading";
    case BlockKind::Paragraph: return "paragraph";
    case BlockKind::ListItem: return "list";
    case BlockKind::Table: return "table";
    case BlockKind::Code: return "code";
  }
  return "?";
}

DocumentBuilder::DocumentBuilder(std::string path, std::string format) {
  doc_.path = std::move(path);
  doc_.format = std::move(format);
}

void DocumentBuilder::heading(int level, std::string_view text, int page) {
  std::string t = collapse_spaces(text);
  if (t.empty()) return;
  level = std::clamp(level, 1, 9);
  while (!stack_.empty() && stack_.back().first >= level) stack_.pop_back();
  stack_.emplace_back(level, t);
  add(BlockKind::Heading, t, page);
  doc_.blocks.back().level = level;
}

void DocumentBuilder::add(BlockKind kind, std::string_view text, int page) {
  std::string t;
  if (kind == BlockKind::Code || kind == BlockKind::Table) {
    // Keep lines; drop trailing spaces and surrounding blank lines.
    size_t b = text.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos) return;
    b = text.rfind('\n', b);
    b = b == std::string_view::npos ? 0 : b + 1;
    size_t e = text.find_last_not_of(" \t\r\n");
    t.assign(text.substr(b, e + 1 - b));
  } else {
    t = collapse_spaces(text);
  }
  if (t.empty()) return;
  Block blk;
  blk.kind = kind;
  blk.text = std::move(t);
  blk.page = page;
  for (const auto& h : stack_) blk.heading_path.push_back(h.second);
  if (!doc_.text.empty()) doc_.text += "\n\n";
  blk.begin = doc_.text.size();
  doc_.text += blk.text;
  blk.end = doc_.text.size();
  doc_.blocks.push_back(std::move(blk));
}

void DocumentBuilder::set_title(std::string_view title) { doc_.title = collapse_spaces(title); }

Document DocumentBuilder::finish() {
  if (doc_.title.empty()) {
    for (const auto& b : doc_.blocks)
      if (b.kind == BlockKind::Heading && b.level == 1) {
        doc_.title = b.text;
        break;
      }
  }
  if (doc_.title.empty()) {  // the file name without its type (but "Apache-2.0" keeps its version)
    const std::filesystem::path p(doc_.path);
    doc_.title = is_supported(p.filename().string()) && p.extension().string().find_first_not_of(".0123456789") ==
                                                            std::string::npos
                     ? p.filename().string()
                     : p.stem().string();
  }
  return std::move(doc_);
}

namespace {

std::string lower_ext(const std::string& path) {
  std::string e = std::filesystem::path(path).extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return e;
}

}  // namespace

bool is_supported(const std::string& path) {
  static const char* kExt[] = {"", ".txt", ".text", ".md", ".markdown", ".html", ".htm", ".xhtml", ".pdf", ".docx"};
  const std::string e = lower_ext(path);
  // A version suffix (LICENSE-2.0, GPL-3, Apache-2.0) is no file type: read as text.
  if (e.size() > 1 && e.find_first_not_of("0123456789", 1) == std::string::npos) return true;
  return std::any_of(std::begin(kExt), std::end(kExt), [&](const char* k) { return e == k; });
}

Document parse_file(const std::string& path) {
  const std::string e = lower_ext(path);
  HELIX_CHECK(is_supported(path), path, ": unsupported file type '", e,
              "' (supported: .txt .md .html .htm .pdf .docx, or no extension for text)");
  std::ifstream in(path, std::ios::binary);
  HELIX_CHECK(in, path, ": cannot open the file");
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  HELIX_CHECK(!in.bad(), path, ": read error");
  return parse_data(data, path);
}

Document parse_data(std::string_view data, const std::string& path) {
  const std::string e = lower_ext(path);
  HELIX_CHECK(is_supported(path), path, ": unsupported file type '", e,
              "' (supported: .txt .md .html .htm .pdf .docx, or no extension for text)");
  if (e == ".md" || e == ".markdown") return parse_markdown(data, path);
  if (e == ".html" || e == ".htm" || e == ".xhtml") return parse_html(data, path);
  if (e == ".pdf") return parse_pdf(data, path);
  if (e == ".docx") return parse_docx(data, path);
  return parse_text(data, path);
}

void check_utf8_text(std::string_view data, const std::string& path) {
  const size_t nul = data.find('\0');
  HELIX_CHECK(nul == std::string_view::npos, path, ": looks like a binary file (NUL byte at offset ", nul,
              "); only text, Markdown, HTML, PDF and DOCX are read");
  if (tok::is_valid_utf8(data)) return;
  size_t at = 0;  // the first byte that does not decode (or the start of an overlong/surrogate form)
  for (size_t i = 0; i < data.size();) {
    at = i;
    const bool literal = data.compare(i, 3, "\xEF\xBF\xBD") == 0;
    if (tok::decode_utf8(data, i) == 0xFFFD && !literal) break;
    if (!tok::is_valid_utf8(data.substr(at, i - at))) break;
  }
  throw Error(cat(path, ": not valid UTF-8 (bad byte at offset ", at,
                  "); convert it to UTF-8 first, e.g. iconv -f LATIN1 -t UTF-8"));
}

std::string collapse_spaces(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

bool is_cjk(char32_t c) {
  return (c >= 0x3040 && c <= 0x30FF) ||    // Hiragana, Katakana
         (c >= 0x3400 && c <= 0x4DBF) ||    // CJK extension A
         (c >= 0x4E00 && c <= 0x9FFF) ||    // CJK unified ideographs
         (c >= 0xAC00 && c <= 0xD7AF) ||    // Hangul syllables
         (c >= 0xF900 && c <= 0xFAFF) ||    // compatibility ideographs
         (c >= 0x20000 && c <= 0x2FA1F);    // extensions B..F, compatibility supplement
}

double cjk_share(std::string_view text) {
  size_t cjk = 0, letters = 0;
  for (size_t i = 0; i < text.size();) {
    const char32_t c = tok::decode_utf8(text, i);
    if (is_cjk(c)) ++cjk, ++letters;
    else if (tok::is_letter(c)) ++letters;
  }
  return letters ? static_cast<double>(cjk) / static_cast<double>(letters) : 0.0;
}

bool mostly_cjk(std::string_view text) { return cjk_share(text) >= 0.2; }

size_t count_chars(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

}  // namespace helix::docs
