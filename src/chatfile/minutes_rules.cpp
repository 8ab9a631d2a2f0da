#include "chatfile/minutes_rules.h"

#include <algorithm>
#include <regex>

#include "docs/chunker.h"

namespace helix::chatfile {

namespace {

// A transcript line's speaker prefix ("[09:01:19] 张伟：", "Anna Lee: "): the name, and where the
// words begin (0 and "" when the line has none).
std::pair<std::string, size_t> speaker_of(const std::string& line) {
  size_t i = line.find_first_not_of(" \t");
  if (i == std::string::npos) return {"", 0};
  if (line[i] == '[') {
    const size_t close = line.find(']', i);
    if (close == std::string::npos || close - i > 16) return {"", 0};
    i = line.find_first_not_of(' ', close + 1);
    if (i == std::string::npos) return {"", 0};
  }
  size_t colon = std::string::npos, len = 0;
  for (const char* c : {"\xEF\xBC\x9A", ":"}) {  // ： or :
    const size_t at = line.find(c, i);
    if (at != std::string::npos && at < colon) colon = at, len = std::string(c).size();
  }
  if (colon == std::string::npos || colon == i || colon - i > 30) return {"", 0};
  const std::string name = line.substr(i, colon - i);
  if (name.find_first_of(",.;!?\xE3\xEF") != std::string::npos && name.find("\xE3\x80") != std::string::npos) return {"", 0};
  if (std::count(name.begin(), name.end(), ' ') > 2) return {"", 0};
  const size_t words = line.find_first_not_of(' ', colon + len);
  return {name, words == std::string::npos ? line.size() : words};
}

const char* kDecisionZh[] = {"决定", "定了", "批准", "通过了", "一致认为"};
const char* kDecisionEn[] = {"decided", "decision", "agreed", "approved", "resolved", "we will go with"};
const char* kActionZh[] = {"负责", "请你", "之前完成", "截止", "跟进"};
const char* kActionEn[] = {"responsible for", "action item", "will send", "will prepare", "will draft", "please ",
                           "to do:", "by next", "by the end"};

bool has_any(const std::string& s, const char* const* cues, size_t n, bool fold) {
  std::string t = s;
  if (fold) std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (size_t i = 0; i < n; ++i)
    if (t.find(cues[i]) != std::string::npos) return true;
  return false;
}

std::vector<std::string> dates_in(const std::string& s) {
  static const std::regex zh(
      "((一|二|三|四|五|六|七|八|九|十|[0-9])+月(一|二|三|四|五|六|七|八|九|十|[0-9])+(日|号)|"
      "下周(一|二|三|四|五|六|日)|本周(一|二|三|四|五|六|日)|月底|年底|明天|后天)");
  static const std::regex en(
      R"(((by |before |on )?(\d{1,2} (January|February|March|April|May|June|July|August|September|October|November|December)|(January|February|March|April|May|June|July|August|September|October|November|December) \d{1,2}(st|nd|rd|th)?|next (Monday|Tuesday|Wednesday|Thursday|Friday|week|month)|the end of (the )?(week|month|quarter|year)|\d{4}-\d{2}-\d{2})))");
  std::vector<std::string> out;
  for (const auto* re : {&zh, &en})
    for (auto it = std::sregex_iterator(s.begin(), s.end(), *re); it != std::sregex_iterator(); ++it) {
      std::string d = it->str();
      for (const char* p : {"by ", "before ", "on "})
        if (d.rfind(p, 0) == 0) d = d.substr(std::string(p).size());
      if (std::find(out.begin(), out.end(), d) == out.end()) out.push_back(d);
    }
  return out;
}

std::string strip_end(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '.')) s.pop_back();
  for (const char* p : {"\xE3\x80\x82", "\xEF\xBC\x8C"})  // 。，
    if (s.size() >= 3 && s.compare(s.size() - 3, 3, p) == 0) s.resize(s.size() - 3);
  return s;
}

}  // namespace

MinutesCues find_minutes_cues(const std::string& raw) {
  // Parsers join a plain-text transcript's lines into paragraphs: each timestamp starts a turn again.
  static const std::regex stamp(R"(\s*(\[\d{1,2}:\d{2}(:\d{2})?\]))");
  const std::string text = std::regex_replace(raw, stamp, "\n$1");
  MinutesCues c;
  for (size_t at = 0; at < text.size();) {  // the speakers first: a task may name one who speaks later
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(at, end - at);
    const auto [who, from] = speaker_of(line);
    if (!who.empty() && std::find(c.speakers.begin(), c.speakers.end(), who) == c.speakers.end())
      c.speakers.push_back(who);
    at = end + 1;
  }
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(at, end - at);
    at = end + 1;
    line = line.substr(speaker_of(line).second);
    std::smatch m;
    if (line.empty()) continue;
    // Topic titles: "议题：X。", "next item: X", "Topic 3: X".
    static const std::regex topic_zh("议题(：|:)\\s*(.+?)(。|，|；|$)");
    static const std::regex topic_en(R"((?:next item|next topic|agenda item|topic)( \d+)?\s*[:\-]\s*([^.;]+))", std::regex::icase);
    if (std::regex_search(line, m, topic_zh) || std::regex_search(line, m, topic_en)) {
      const std::string t = strip_end(m[2].str());
      if (!t.empty() && docs::count_chars(t) <= 40 && std::find(c.topics.begin(), c.topics.end(), t) == c.topics.end())
        c.topics.push_back(t);
    }
    for (const auto& [b, e] : docs::split_sentences(line)) {
      const std::string s = line.substr(b, e - b);
      if (has_any(s, kDecisionZh, std::size(kDecisionZh), false) || has_any(s, kDecisionEn, std::size(kDecisionEn), true)) {
        std::string d = s;
        static const std::regex lead("^(那我们就这么定了|我们就这么定了|那就这么定了)(：|:)\\s*");
        d = std::regex_replace(d, lead, "");
        c.decisions.push_back(strip_end(d));
      }
      if (has_any(s, kActionZh, std::size(kActionZh), false) || has_any(s, kActionEn, std::size(kActionEn), true)) {
        ActionCue a;
        a.task = strip_end(s);
        for (const auto& sp : c.speakers)
          if (s.find(sp) != std::string::npos) a.owners.push_back(sp);
        static const std::regex name(R"(\b([A-Z][a-z]+(?: [A-Z][a-z]+)?)\b)");
        for (auto it = std::sregex_iterator(s.begin(), s.end(), name); it != std::sregex_iterator(); ++it)
          if (it->position() > 0 && std::find(a.owners.begin(), a.owners.end(), it->str()) == a.owners.end())
            a.owners.push_back(it->str());
        std::sort(a.owners.begin(), a.owners.end(),
                  [&](const std::string& x, const std::string& y) { return s.find(x) < s.find(y); });
        a.dates = dates_in(s);
        c.actions.push_back(std::move(a));
      }
    }
  }
  return c;
}

}  // namespace helix::chatfile
