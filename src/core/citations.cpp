// The citation-marker scanner (see citations.h).
#include "core/citations.h"

#include <algorithm>

#include "core/error.h"

namespace helix {

CitationMarks scan_citations(const std::string& text, const std::function<bool(int)>& keep) {
  CitationMarks c;
  auto note = [&](int n) {
    const bool ok = keep(n);
    auto& list = ok ? c.kept : c.dropped;
    if (std::find(list.begin(), list.end(), n) == list.end()) list.push_back(n);
    return ok;
  };
  static const std::string open2 = "\xE3\x80\x90", close2 = "\xE3\x80\x91";  // 【 】
  size_t i = 0;
  while (i < text.size()) {
    const bool ascii = text[i] == '[';
    const bool wide = text.compare(i, open2.size(), open2) == 0;
    if (!ascii && !wide) {
      c.text += text[i++];
      continue;
    }
    // A marker: numbers separated by ',', '-', ' ' up to the closing bracket.
    size_t j = i + (ascii ? 1 : open2.size());
    std::vector<int> nums;
    std::string num;
    bool range = false;
    for (; j < text.size(); ++j) {
      const char ch = text[j];
      if (ch >= '0' && ch <= '9' && num.size() < 4) {
        num += ch;
        continue;
      }
      if (!num.empty()) {
        const int v = std::stoi(num);
        if (range && !nums.empty())
          for (int x = nums.back() + 1; x <= v && x - nums.back() <= 20; ++x) nums.push_back(x);
        else nums.push_back(v);
        num.clear();
        range = false;
      }
      if (ch == ',' || ch == ' ') continue;
      if (ch == '-') {
        range = true;
        continue;
      }
      break;
    }
    const size_t close_len = ascii ? 1 : close2.size();
    const bool ok = !nums.empty() && j < text.size() && (ascii ? text[j] == ']' : text.compare(j, close2.size(), close2) == 0);
    if (!ok) {  // not a citation: copy the bracket as text
      c.text += text.substr(i, ascii ? 1 : open2.size());
      i += ascii ? 1 : open2.size();
      continue;
    }
    std::vector<int> good;
    for (int v : nums)
      if (note(v)) good.push_back(v);
    if (!good.empty()) {
      std::string m = "[";
      for (size_t k = 0; k < good.size(); ++k) m += cat(k ? ", " : "", good[k]);
      c.text += m + "]";
    } else {
      while (!c.text.empty() && (c.text.back() == ' ' || c.text.back() == '\t')) c.text.pop_back();  // "text [9]." -> "text."
    }
    i = j + close_len;
  }
  return c;
}

std::string strip_citations(const std::string& text) {
  return scan_citations(text, [](int) { return false; }).text;
}

std::vector<int> cited_numbers(const std::string& text) {
  return scan_citations(text, [](int) { return true; }).kept;
}

}  // namespace helix
