// Plain text (paragraphs between blank lines) and Markdown (ATX and setext headings, fenced
// code, lists, pipe tables, paragraphs) into the document model.
#include <string>
#include <vector>

#include "core/error.h"
#include "docs/document.h"

namespace helix::docs {
namespace {

std::vector<std::string_view> split_lines(std::string_view data) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start <= data.size()) {
    size_t nl = data.find('\n', start);
    if (nl == std::string_view::npos) nl = data.size();
    std::string_view line = data.substr(start, nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    start = nl + 1;
  }
  return lines;
}

bool blank(std::string_view l) { return l.find_first_not_of(" \t") == std::string_view::npos; }

std::string_view ltrim(std::string_view l) {
  const size_t b = l.find_first_not_of(" \t");
  return b == std::string_view::npos ? std::string_view() : l.substr(b);
}

// "# Title" -> level 1 and "Title"; 0 when the line is no ATX heading.
int atx_heading(std::string_view l, std::string_view& text) {
  l = ltrim(l);
  int level = 0;
  while (level < static_cast<int>(l.size()) && l[level] == '#') ++level;
  if (level == 0 || level > 6 || (level < static_cast<int>(l.size()) && l[level] != ' ' && l[level] != '\t'))
    return 0;
  text = l.substr(level);
  while (!text.empty() && (text.back() == '#' || text.back() == ' ')) text.remove_suffix(1);
  return level;
}

// "- item", "* item", "+ item", "12. item", "3) item": the item's text, or false.
bool list_item(std::string_view l, std::string_view& text) {
  l = ltrim(l);
  if (l.size() >= 2 && (l[0] == '-' || l[0] == '*' || l[0] == '+') && l[1] == ' ') {
    text = l.substr(2);
    return true;
  }
  size_t d = 0;
  while (d < l.size() && d < 9 && l[d] >= '0' && l[d] <= '9') ++d;
  if (d > 0 && d + 1 < l.size() && (l[d] == '.' || l[d] == ')') && l[d + 1] == ' ') {
    text = l.substr(d + 2);
    return true;
  }
  return false;
}

bool fence(std::string_view l) {
  l = ltrim(l);
  return l.substr(0, 3) == "```" || l.substr(0, 3) == "~~~";
}

bool setext_underline(std::string_view l, char c) {
  l = ltrim(l);
  while (!l.empty() && l.back() == ' ') l.remove_suffix(1);
  return l.size() >= 2 && l.find_first_not_of(c) == std::string_view::npos;
}

}  // namespace

Document parse_text(std::string_view data, const std::string& path) {
  check_utf8_text(data, path);
  DocumentBuilder b(path, "text");
  std::string para;
  for (std::string_view line : split_lines(data)) {
    if (blank(line)) {
      b.add(BlockKind::Paragraph, para);
      para.clear();
    } else {
      para.append(line).push_back('\n');
    }
  }
  b.add(BlockKind::Paragraph, para);
  return b.finish();
}

Document parse_markdown(std::string_view data, const std::string& path) {
  check_utf8_text(data, path);
  DocumentBuilder b(path, "markdown");
  const std::vector<std::string_view> lines = split_lines(data);
  std::string para, item, table;
  auto flush = [&] {
    b.add(BlockKind::Paragraph, para);
    b.add(BlockKind::ListItem, item);
    b.add(BlockKind::Table, table);
    para.clear();
    item.clear();
    table.clear();
  };
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string_view l = lines[i];
    std::string_view text;
    if (fence(l)) {
      flush();
      std::string code;
      for (++i; i < lines.size() && !fence(lines[i]); ++i) code.append(lines[i]).push_back('\n');
      b.add(BlockKind::Code, code);
    } else if (blank(l) || (para.empty() && (setext_underline(l, '-') || setext_underline(l, '*')))) {
      flush();  // a blank line or a thematic break (---, ***)
    } else if (const int level = atx_heading(l, text)) {
      flush();
      b.heading(level, text);
    } else if (!para.empty() && item.empty() && (setext_underline(l, '=') || setext_underline(l, '-'))) {
      const std::string h = para;
      para.clear();
      b.heading(ltrim(l)[0] == '=' ? 1 : 2, h);
    } else if (ltrim(l).substr(0, 1) == "|") {
      b.add(BlockKind::Paragraph, para);
      b.add(BlockKind::ListItem, item);
      para.clear();
      item.clear();
      // Skip the |---|:---| delimiter row; keep the others as lines.
      if (ltrim(l).find_first_not_of("|-: \t") != std::string_view::npos) table.append(ltrim(l)).push_back('\n');
    } else if (list_item(l, text)) {
      flush();
      item.assign(text);
    } else if (!item.empty() && (l[0] == ' ' || l[0] == '\t')) {
      item.append(" ").append(ltrim(l));  // continuation of a list item
    } else {
      b.add(BlockKind::ListItem, item);
      b.add(BlockKind::Table, table);
      item.clear();
      table.clear();
      para.append(l).push_back('\n');
    }
  }
  flush();
  return b.finish();
}

}  // namespace helix::docs
