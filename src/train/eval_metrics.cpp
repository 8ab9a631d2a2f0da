// Evaluation metrics: format validity, exact match and citation correctness (see eval_metrics.h).
#include "train/eval_metrics.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <regex>
#include <set>

#include "core/citations.h"
#include "core/error.h"
#include "train/data.h"
#include "train/recipe.h"

namespace helix::train {

using ojson = nlohmann::ordered_json;

namespace {

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \t\r\n") - a + 1);
}

bool starts_with(const std::string& s, size_t at, const char* p) { return s.compare(at, std::char_traits<char>::length(p), p) == 0; }

// One call object {"name", "arguments"} (or OpenAI's {"function": {...}}), arguments as an object.
ojson call_of(const ojson& v) {
  const ojson& f = v.is_object() && v.contains("function") ? v["function"] : v;
  if (!f.is_object() || !f.contains("name") || !f["name"].is_string()) return nullptr;
  ojson args = f.contains("arguments") ? f["arguments"] : ojson::object();
  if (args.is_string()) {
    args = ojson::parse(args.get<std::string>(), nullptr, false);
    if (args.is_discarded()) return nullptr;
  }
  if (!args.is_object()) return nullptr;
  return ojson{{"name", f["name"]}, {"arguments", args}};
}

nlohmann::json plain(const ojson& v) { return nlohmann::json::parse(v.dump()); }  // order-free comparison

}  // namespace

std::string normalize_answer(const std::string& s) {
  std::string out;
  bool space = false;
  for (char c : trim(s)) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = true;
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (!out.empty() && out.back() == '.') out.pop_back();
  if (out.size() >= 3 && out.compare(out.size() - 3, 3, "\xe3\x80\x82") == 0) out.resize(out.size() - 3);  // 。
  return trim(out);
}

ojson parse_tool_calls(const std::string& text) {
  const std::string t = trim(text);
  ojson calls = ojson::array();
  if (!t.empty() && t[0] == '[') {
    const ojson v = ojson::parse(t, nullptr, false);
    if (v.is_discarded() || !v.is_array() || v.empty()) return nullptr;
    for (const auto& c : v) {
      ojson one = call_of(c);
      if (one.is_null()) return nullptr;
      calls.push_back(one);
    }
    return calls;
  }
  static const char* kOpen = "<tool_call>";
  static const char* kClose = "</tool_call>";
  size_t i = 0;
  while (i < t.size()) {
    if (!starts_with(t, i, kOpen)) return nullptr;
    const size_t body = i + 11;
    const size_t end = t.find(kClose, body);
    if (end == std::string::npos) return nullptr;
    const ojson v = ojson::parse(t.substr(body, end - body), nullptr, false);
    if (v.is_discarded()) return nullptr;
    ojson one = call_of(v);
    if (one.is_null()) return nullptr;
    calls.push_back(one);
    i = end + 12;
    while (i < t.size() && std::isspace(static_cast<unsigned char>(t[i]))) ++i;
  }
  if (calls.empty()) return nullptr;
  return calls;
}

bool format_valid(const std::string& answer, const ojson& meta) {
  const std::string fmt = meta.is_object() ? meta.value("format", "text") : "text";
  const std::string a = trim(answer);
  if (fmt == "json") {  // one JSON value; with meta.keys, an object with exactly those keys
    const ojson v = ojson::parse(a, nullptr, false);
    if (a.empty() || v.is_discarded()) return false;
    if (!meta.contains("keys") || !meta["keys"].is_array()) return true;
    if (!v.is_object() || v.size() != meta["keys"].size()) return false;
    for (const auto& k : meta["keys"])
      if (!k.is_string() || !v.contains(k.get<std::string>())) return false;
    return true;
  }
  if (fmt == "list") {
    size_t lines = 0, pos = 0;
    while (pos <= a.size() && !a.empty()) {
      size_t nl = a.find('\n', pos);
      if (nl == std::string::npos) nl = a.size();
      const std::string line = trim(a.substr(pos, nl - pos));
      if (!line.empty()) {
        if (line.rfind("- ", 0) != 0 || line.size() < 3) return false;
        ++lines;
      }
      pos = nl + 1;
    }
    return lines > 0;
  }
  if (fmt == "number") {
    size_t i = a.size() > 0 && a[0] == '-' ? 1 : 0, digits = 0, dots = 0;
    for (; i < a.size(); ++i) {
      if (std::isdigit(static_cast<unsigned char>(a[i]))) ++digits;
      else if (a[i] == '.' && dots == 0 && digits > 0) ++dots;
      else return false;
    }
    return digits > 0 && a.back() != '.';
  }
  if (fmt == "label") {
    if (!meta.contains("labels") || !meta["labels"].is_array()) return false;
    for (const auto& l : meta["labels"])
      if (l.is_string() && normalize_answer(l.get<std::string>()) == normalize_answer(a)) return true;
    return false;
  }
  if (fmt == "regex") {  // the whole answer matches meta.pattern (ECMAScript)
    if (!meta.contains("pattern") || !meta["pattern"].is_string()) return false;
    try {
      return std::regex_match(a, std::regex(meta["pattern"].get<std::string>()));
    } catch (const std::regex_error&) {
      return false;
    }
  }
  if (fmt == "citations") {
    const auto cited = cited_numbers(a);
    const int n = meta.value("n_passages", 0);
    for (int c : cited)
      if (c < 1 || (n > 0 && c > n)) return false;
    const bool gold_empty = !meta.contains("citations") || meta["citations"].empty();
    return !strip_citations(a).empty() && (gold_empty ? cited.empty() : !cited.empty());
  }
  if (fmt == "tool_call") {
    const ojson calls = parse_tool_calls(a);
    if (calls.is_null()) return false;
    if (meta.contains("tools") && meta["tools"].is_array())
      for (const auto& c : calls)
        if (std::find(meta["tools"].begin(), meta["tools"].end(), c["name"]) == meta["tools"].end()) return false;
    return true;
  }
  return !a.empty();
}

bool exact_match(const std::string& answer, const std::string& reference, const ojson& meta) {
  const std::string fmt = meta.is_object() ? meta.value("format", "text") : "text";
  if (fmt == "json") {
    const ojson a = ojson::parse(trim(answer), nullptr, false), r = ojson::parse(trim(reference), nullptr, false);
    return !a.is_discarded() && !r.is_discarded() && plain(a) == plain(r);
  }
  if (fmt == "tool_call") {
    const ojson a = parse_tool_calls(answer), r = parse_tool_calls(reference);
    return !a.is_null() && !r.is_null() && plain(a) == plain(r);
  }
  if (fmt == "citations") return normalize_answer(strip_citations(answer)) == normalize_answer(strip_citations(reference));
  return normalize_answer(answer) == normalize_answer(reference);
}

bool citation_correct(const std::string& answer, const ojson& meta) {
  std::set<int> gold;
  if (meta.is_object() && meta.contains("citations"))
    for (const auto& c : meta["citations"])
      if (c.is_number_integer()) gold.insert(c.get<int>());
  const int n = meta.is_object() ? meta.value("n_passages", 0) : 0;
  const auto cited = cited_numbers(answer);
  for (int c : cited)
    if (c < 1 || (n > 0 && c > n)) return false;
  return std::set<int>(cited.begin(), cited.end()) == gold;
}

void MetricTotals::add(const std::string& answer, const std::string& reference, const ojson& meta) {
  ++n_;
  fmt_ += format_valid(answer, meta);
  exact_ += exact_match(answer, reference, meta);
  if (meta.is_object() && meta.contains("citations")) {
    ++cite_n_;
    cite_ += citation_correct(answer, meta);
  }
}

ojson MetricTotals::report() const {
  ojson r = ojson::object();
  auto frac = [](int64_t a, int64_t b) { return b > 0 ? static_cast<double>(a) / static_cast<double>(b) : 0.0; };
  for (const auto& m : metrics_) {
    if (m == "format_valid") r[m] = frac(fmt_, n_);
    if (m == "exact_match") r[m] = frac(exact_, n_);
    if (m == "citation_correct") r[m] = frac(cite_, cite_n_);
  }
  r["n"] = n_;
  return r;
}

std::vector<AnswerItem> load_answer_items(const EvalSet& set, const SampleRenderer& r) {
  std::ifstream in(set.path, std::ios::binary);
  HELIX_CHECK(in, "cannot open the eval set ", set.path);
  std::vector<AnswerItem> items;
  std::string line;
  int64_t lineno = 0;
  while (std::getline(in, line) && (set.max_samples == 0 || static_cast<int64_t>(items.size()) < set.max_samples)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    AnswerItem it;
    ojson rec;
    try {
      rec = ojson::parse(line);
      it.prompt = r.prompt_tokens(rec, &it.reference);
    } catch (const std::exception& e) {
      throw Error(cat(set.path, ":", lineno, ": ", e.what()));
    }
    it.meta = rec.contains("meta") ? rec["meta"] : ojson(nullptr);
    items.push_back(std::move(it));
  }
  return items;
}

ojson score_answers(const EvalSet& set, const std::vector<AnswerItem>& items, const GenerateFn& generate) {
  MetricTotals totals(set.metrics);
  for (const AnswerItem& it : items) totals.add(generate(it.prompt, set.max_new_tokens), it.reference, it.meta);
  return totals.report();
}

ojson evaluate_answers(const EvalSet& set, const SampleRenderer& r, const GenerateFn& generate) {
  return score_answers(set, load_answer_items(set, r), generate);
}

}  // namespace helix::train
