#include "chatfile/salient.h"

#include <algorithm>
#include <cctype>
#include <vector>

#include "chatfile/mapreduce.h"
#include "docs/chunker.h"

namespace helix::chatfile {

namespace {

const char* kCuesEn[] = {"decided", "decision", "agreed", "approved", "announced", "will ", "plans", "must",
                         "responsible", "deadline", "due", "by the end", "increase", "fell", "rose", "reached",
                         "total", "percent", "million", "billion", "first"};
const char* kCuesZh[] = {"决定", "定了", "同意", "批准", "负责", "之前完成", "截止", "议题", "计划", "推迟",
                         "增加", "减少", "削减", "百分之", "万元", "亿", "月", "日", "一律", "必须", "确认"};

size_t count(std::string_view s, std::string_view w) {
  size_t n = 0;
  for (size_t at = s.find(w); at != std::string_view::npos; at = s.find(w, at + w.size())) ++n;
  return n;
}

}  // namespace

double salience(std::string_view s) {
  double score = 0;
  bool in_number = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const bool digit = std::isdigit(c) != 0;
    if (digit && !in_number) score += 2;  // each number
    in_number = digit || (in_number && (c == ',' || c == '.'));
    // A capitalised word inside the sentence: a name.
    if (i > 1 && std::isupper(c) && s[i - 1] == ' ' && s[i - 2] != '.') score += 1;
  }
  std::string lower(s);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* w : kCuesEn) score += 1.5 * static_cast<double>(count(lower, w));
  for (const char* w : kCuesZh) score += 1.5 * static_cast<double>(count(s, w));
  return score;
}

std::string compress(const std::string& text, size_t budget) {
  if (docs::estimate_tokens(text) <= budget) return text;
  // Sentences, also split at line ends (transcript turns, list items).
  std::vector<std::pair<size_t, size_t>> spans;
  size_t line = 0;
  while (line < text.size()) {
    size_t end = text.find('\n', line);
    if (end == std::string::npos) end = text.size();
    for (const auto& [b, e] : docs::split_sentences(std::string_view(text).substr(line, end - line)))
      spans.emplace_back(line + b, line + e);
    line = end + 1;
  }
  struct Scored {
    size_t i;
    double score;
  };
  std::vector<Scored> sc;
  std::vector<std::string> seen;
  for (size_t i = 0; i < spans.size(); ++i) {
    const std::string s = text.substr(spans[i].first, spans[i].second - spans[i].first);
    double v = salience(s);
    for (const auto& p : seen)
      if (similarity(p, s) >= 0.6) { v = 0; break; }
    if (v > 0) seen.push_back(s);
    if (seen.size() > 400) seen.erase(seen.begin());
    sc.push_back({i, v});
  }
  std::stable_sort(sc.begin(), sc.end(), [](const Scored& a, const Scored& b) { return a.score > b.score; });
  std::vector<size_t> keep;
  size_t used = 0;
  for (const auto& s : sc) {
    if (s.score <= 0) break;
    const size_t t = docs::estimate_tokens(std::string_view(text).substr(spans[s.i].first, spans[s.i].second - spans[s.i].first));
    if (used + t > budget) continue;
    keep.push_back(s.i);
    used += t;
  }
  if (keep.empty()) return text.substr(0, spans.empty() ? 0 : spans[0].second);  // all filler: its first sentence
  std::sort(keep.begin(), keep.end());
  std::string out;
  for (size_t k : keep) {
    const std::string s = text.substr(spans[k].first, spans[k].second - spans[k].first);
    out += out.empty() ? s : "\n" + s;
  }
  return out;
}

}  // namespace helix::chatfile
