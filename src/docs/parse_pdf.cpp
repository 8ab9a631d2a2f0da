// PDF into the document model with poppler (poppler-cpp): words with their boxes and font sizes
// are grouped into lines, lines into paragraphs at vertical gaps, and lines set in a font clearly
// larger than the body text become headings (the largest size is level 1). Every block keeps its
// page number.
#include <poppler/cpp/poppler-document.h>
#include <poppler/cpp/poppler-global.h>
#include <poppler/cpp/poppler-page.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "docs/document.h"

namespace helix::docs {
namespace {

struct Line {
  std::string text;
  int page = 0;
  double top = 0, bottom = 0, font = 0;
};

std::string utf8(const poppler::ustring& s) {
  const poppler::byte_array b = s.to_utf8();
  return std::string(b.begin(), b.end());
}

void quiet_poppler(const std::string&, void*) {}  // poppler's own stderr chatter; we report errors ourselves

// The page's words grouped into lines (a new line when a word starts left of the previous one's
// end on a different baseline).
void page_lines(const poppler::page& pg, int page_no, std::vector<Line>& out) {
  const std::vector<poppler::text_box> words = pg.text_list(poppler::page::text_list_include_font);
  Line cur;
  bool open = false, space_after = false;
  for (const auto& w : words) {
    const poppler::rectf r = w.bbox();
    const double h = std::max(1.0, r.height());
    const bool same_line = open && std::fabs(r.top() - cur.top) < 0.5 * h;
    if (!same_line) {
      if (open) out.push_back(std::move(cur));
      cur = Line{};
      cur.page = page_no;
      cur.top = r.top();
      cur.bottom = r.bottom();
      open = true;
    } else if (space_after) {
      cur.text += ' ';
    }
    cur.text += utf8(w.text());
    cur.bottom = std::max(cur.bottom, r.bottom());
    cur.font = std::max(cur.font, w.has_font_info() ? w.get_font_size() : h);
    space_after = w.has_space_after();
  }
  if (open) out.push_back(std::move(cur));
}

// The font size most characters are set in.
double body_font(const std::vector<Line>& lines) {
  std::map<long, size_t> chars;
  for (const auto& l : lines) chars[std::lround(l.font * 2)] += l.text.size();
  long best = 0;
  size_t n = 0;
  for (const auto& [sz, c] : chars)
    if (c > n) n = c, best = sz;
  return best / 2.0;
}

void build_blocks(const std::vector<Line>& lines, DocumentBuilder& b) {
  const double body = body_font(lines);
  std::vector<long> sizes;  // heading sizes, largest first -> level
  for (const auto& l : lines)
    if (l.font > body * 1.15 && l.text.size() < 120) sizes.push_back(std::lround(l.font * 2));
  std::sort(sizes.begin(), sizes.end(), std::greater<>());
  sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
  std::string para;
  int para_page = 0;
  const Line* prev = nullptr;
  for (const auto& l : lines) {
    const long sz = std::lround(l.font * 2);
    const auto it = std::find(sizes.begin(), sizes.end(), sz);
    const bool heading = it != sizes.end();
    const double height = std::max(1.0, l.bottom - l.top);
    const bool gap = prev && (prev->page != l.page || l.top - prev->bottom > 0.6 * height ||
                              std::fabs(prev->font - l.font) > 0.5);
    if (heading || gap || !prev) {
      b.add(BlockKind::Paragraph, para, para_page);
      para.clear();
    }
    if (heading) {
      b.heading(static_cast<int>(it - sizes.begin()) + 1, l.text, l.page);
      prev = &l;
      continue;
    }
    if (para.empty()) para_page = l.page;
    // Join lines: a hyphen at a line end between letters is a break inside a word.
    if (!para.empty() && para.back() == '-' && para.size() >= 2 && std::isalpha(static_cast<unsigned char>(para[para.size() - 2])))
      para.pop_back();
    else if (!para.empty())
      para += ' ';
    para += l.text;
    prev = &l;
  }
  b.add(BlockKind::Paragraph, para, para_page);
}

}  // namespace

Document parse_pdf(std::string_view data, const std::string& path) {
  poppler::set_debug_error_function(quiet_poppler, nullptr);
  HELIX_CHECK(data.substr(0, 5) == "%PDF-", path, ": not a PDF file (no %PDF- header)");
  std::unique_ptr<poppler::document> doc(
      poppler::document::load_from_raw_data(data.data(), static_cast<int>(data.size())));
  HELIX_CHECK(doc, path, ": damaged PDF (poppler cannot read it)");
  HELIX_CHECK(!doc->is_locked(), path, ": the PDF is encrypted; decrypt it first (e.g. qpdf --decrypt)");
  DocumentBuilder b(path, "pdf");
  b.set_title(utf8(doc->info_key("Title")));
  const int n = doc->pages();
  b.set_pages(n);
  std::vector<Line> lines;
  for (int i = 0; i < n; ++i) {
    std::unique_ptr<poppler::page> pg(doc->create_page(i));
    if (pg) page_lines(*pg, i + 1, lines);
  }
  build_blocks(lines, b);
  Document d = b.finish();
  HELIX_CHECK(n > 0, path, ": damaged PDF (no pages)");
  return d;
}

}  // namespace helix::docs
