// Knowledge-point analysers (see points.h).
#include "knowledge/points.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "core/error.h"
#include "docs/document.h"
#include "tokenizer/unicode.h"

namespace helix::knowledge {

using ojson = nlohmann::ordered_json;

const char* point_kind_name(KnowledgePoint::Kind k) {
  switch (k) {
    case KnowledgePoint::Entity: return "entity";
    case KnowledgePoint::Fact: return "fact";
    case KnowledgePoint::SubQuestion: return "sub_question";
  }
  return "fact";
}

namespace {

// English words that carry no content of their own in a question.
const std::set<std::string>& stop_words() {
  static const std::set<std::string> s = {
      "a", "an", "the", "and", "or", "but", "if", "of", "to", "in", "on", "at", "by", "for", "with", "about",
      "from", "into", "onto", "over", "under", "as", "is", "are", "was", "were", "be", "been", "being", "am",
      "do", "does", "did", "done", "have", "has", "had", "having", "can", "could", "may", "might", "must",
      "shall", "should", "will", "would", "what", "which", "who", "whom", "whose", "when", "where", "why", "how",
      "this", "that", "these", "those", "it", "its", "i", "me", "my", "we", "our", "you", "your", "he", "she",
      "they", "them", "their", "there", "here", "any", "some", "all", "each", "every", "no", "not", "so", "than",
      "then", "also", "too", "very", "just", "only", "please", "tell", "explain", "describe", "say", "says",
      "according", "between", "there", "get", "use", "used", "using", "make", "need", "want", "know", "give",
      "much", "many", "more", "most", "other", "such", "own", "same", "both", "either", "whether", "up", "out"};
  return s;
}

// Words that open a question (a clause starting with one asks something of its own).
bool question_word(const std::string& w) {
  static const std::set<std::string> s = {"what", "which", "who", "whom", "whose", "when", "where", "why", "how",
                                          "is", "are", "was", "were", "do", "does", "did", "can", "could",
                                          "should", "will", "would", "may", "has", "have", "list", "name"};
  return s.count(w) > 0;
}

// Chinese question and function words: CJK runs are cut at them (longest first).
const std::vector<std::u32string>& zh_stop() {
  static const std::vector<std::u32string> s = [] {
    std::vector<std::u32string> v = {
        U"为什么", U"怎么样", U"是什么", U"有哪些", U"是否", U"什么", U"怎么", U"怎样", U"如何", U"哪些", U"哪个",
        U"哪里", U"多少", U"请问", U"一下", U"可以", U"能否", U"能够", U"需要", U"应该", U"关于", U"以及", U"还有",
        U"并且", U"而且", U"或者", U"告诉", U"介绍", U"说明", U"我们", U"你们", U"他们", U"这个", U"那个", U"这些",
        U"那些", U"之间", U"有关", U"的", U"了", U"吗", U"呢", U"吧", U"是", U"在", U"有", U"和", U"与", U"及",
        U"或", U"把", U"被", U"对", U"从", U"向", U"给", U"我", U"你", U"他", U"她", U"它", U"哪", U"谁", U"要",
        U"会", U"能", U"就", U"都", U"也", U"还", U"又", U"很", U"最", U"请", U"中", U"上", U"下", U"里"};
    std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
    return v;
  }();
  return s;
}

// Words that make a Chinese clause a question.
bool zh_question(const std::u32string& s) {
  for (const char32_t* w : {U"什么", U"怎么", U"怎样", U"如何", U"为什么", U"哪", U"谁", U"多少", U"是否", U"吗",
                            U"呢", U"几"})
    if (s.find(w) != std::u32string::npos) return true;
  return false;
}

std::u32string to_u32(const std::string& s) {
  std::u32string out;
  for (size_t i = 0; i < s.size();) out += tok::decode_utf8(s, i);
  return out;
}

std::string to_utf8(const std::u32string& s) {
  std::string out;
  for (char32_t c : s) tok::append_utf8(out, c);
  return out;
}

bool latin_word_char(char32_t c) {
  return (c < 0x80 && (std::isalnum(static_cast<int>(c)) || c == '-' || c == '_' || c == '.' || c == '/' || c == '+')) ||
         (c >= 0xC0 && c < 0x250);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(std::string s) {
  const char* ws = " \t\r\n,.;:!?";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

// A word of the question: its text, and whether a clause boundary (punctuation) precedes it.
struct Word {
  std::string text;
  bool boundary_before = false;
  bool cjk = false;
};

// Splits into Latin words (with . - _ / + inside identifiers) and CJK runs; punctuation marks a
// boundary; quoted or titled spans (“” "" 《》 「」) become entities.
std::vector<Word> split_words(const std::u32string& q, std::vector<std::string>& quoted) {
  std::vector<Word> words;
  bool boundary = true;
  for (size_t i = 0; i < q.size();) {
    const char32_t c = q[i];
    const char32_t close = c == U'"' ? U'"' : c == U'“' ? U'”' : c == U'《' ? U'》' : c == U'「' ? U'」' : 0;
    if (close) {
      const size_t e = q.find(close, i + 1);
      if (e != std::u32string::npos && e > i + 1 && e - i < 80) {
        quoted.push_back(to_utf8(q.substr(i + 1, e - i - 1)));
        words.push_back({quoted.back(), boundary, false});
        boundary = false;
        i = e + 1;
        continue;
      }
    }
    if (docs::is_cjk(c)) {
      size_t e = i;
      while (e < q.size() && docs::is_cjk(q[e])) ++e;
      words.push_back({to_utf8(q.substr(i, e - i)), boundary, true});
      boundary = false;
      i = e;
    } else if (latin_word_char(c) && c != '.' && c != '/') {
      size_t e = i;
      while (e < q.size() && latin_word_char(q[e])) ++e;
      while (e > i && (q[e - 1] == '.' || q[e - 1] == '-' || q[e - 1] == '/')) --e;  // sentence end
      if (e == i) {  // only trailing punctuation ("-#"): a separator, not an empty word (looped forever)
        boundary = true;
        ++i;
        continue;
      }
      words.push_back({to_utf8(q.substr(i, e - i)), boundary, false});
      boundary = false;
      i = e;
    } else {
      if (c != ' ' && c != '\t' && c != '\'' && c != 0x2019) boundary = true;
      ++i;
    }
  }
  return words;
}

bool is_entity_word(const std::string& w, bool first) {
  if (w.empty()) return false;
  const auto u = static_cast<unsigned char>(w[0]);
  size_t upper = 0, digits = 0;
  for (unsigned char c : w) upper += std::isupper(c) != 0, digits += std::isdigit(c) != 0;
  if (upper >= 2 && w.size() >= 2) return true;                                 // GPL, DOCX, OpenSSL
  if (digits > 0 && digits < w.size()) return true;                              // v3, ISO-8859-1
  if (w.find_first_of("._/") != std::string::npos && w.size() > 2) return true;  // sources.list, apt_get
  return !first && std::isupper(u) && !stop_words().count(lower(w));             // Debian (not at the start)
}

// CJK run -> content segments: cut at Chinese question/function words.
std::vector<std::string> zh_segments(const std::u32string& run) {
  std::vector<std::string> out;
  std::u32string cur;
  for (size_t i = 0; i < run.size();) {
    bool cut = false;
    for (const auto& w : zh_stop()) {
      if (run.compare(i, w.size(), w) == 0) {
        if (cur.size() >= 2) out.push_back(to_utf8(cur));
        cur.clear();
        i += w.size();
        cut = true;
        break;
      }
    }
    if (!cut) cur += run[i++];
  }
  if (cur.size() >= 2) out.push_back(to_utf8(cur));
  return out;
}

// Sub-questions: clauses (split at ? ; and at "and"/commas that start a new question, or at
// Chinese punctuation) that ask something of their own.
std::vector<std::string> sub_questions(const std::u32string& q) {
  std::vector<std::u32string> clauses;
  std::u32string cur;
  auto flush = [&] {
    clauses.push_back(cur);
    cur.clear();
  };
  for (size_t i = 0; i < q.size(); ++i) {
    const char32_t c = q[i];
    if (c == U'?' || c == U'？' || c == U';' || c == U'；' || c == U'。' || c == U'，' || c == U',' || c == U'、') {
      flush();
      continue;
    }
    // " and " followed by a question word starts a new clause.
    if (q.compare(i, 5, U" and ") == 0) {
      size_t e = i + 5;
      while (e < q.size() && (q[e] < 0x80 && std::isalpha(static_cast<int>(q[e])))) ++e;
      if (question_word(lower(to_utf8(q.substr(i + 5, e - i - 5))))) {
        flush();
        i += 4;
        continue;
      }
    }
    cur += c;
  }
  flush();
  std::vector<std::string> out;
  for (const auto& c : clauses) {
    const std::string s = trim(to_utf8(c));
    if (s.empty()) continue;
    std::string first = lower(s.substr(0, s.find(' ')));
    const bool asks = question_word(first) || zh_question(c);
    if (asks && (to_u32(s).size() >= 6)) out.push_back(s);
  }
  if (out.size() < 2) out.clear();  // one clause: the question itself, retrieved anyway
  return out;
}

void add_point(Analysis& a, KnowledgePoint::Kind kind, const std::string& text, size_t max_points) {
  const std::string t = trim(text);
  if (t.empty() || a.points.size() >= max_points) return;
  for (const auto& p : a.points)
    if (lower(p.text) == lower(t)) return;
  a.points.push_back({kind, t});
}

}  // namespace

Analysis analyse_rules(const std::string& question, size_t max_points) {
  Analysis a{question, "rules", {}};
  const std::u32string q = to_u32(question);
  std::vector<std::string> quoted;
  const std::vector<Word> words = split_words(q, quoted);
  std::vector<std::string> entities(quoted.begin(), quoted.end()), facts;
  // Entities: capitalised runs ("GNU General Public License"), acronyms, versions, identifiers.
  std::string run;
  auto end_run = [&] {
    if (!run.empty()) entities.push_back(run);
    run.clear();
  };
  std::string phrase;  // content words between stop words (Latin), lowercased
  auto end_phrase = [&] {
    if (!phrase.empty()) facts.push_back(phrase);
    phrase.clear();
  };
  for (size_t i = 0; i < words.size(); ++i) {
    const Word& w = words[i];
    if (std::find(quoted.begin(), quoted.end(), w.text) != quoted.end()) {
      end_run();
      end_phrase();
      continue;
    }
    if (w.cjk) {
      end_run();
      end_phrase();
      for (auto& s : zh_segments(to_u32(w.text))) facts.push_back(s);
      continue;
    }
    const bool first = i == 0 || w.boundary_before;
    const std::string lw = lower(w.text);
    if (is_entity_word(w.text, first)) {
      run += (run.empty() ? "" : " ") + w.text;
    } else if (!run.empty() && lw == "of" && std::isupper(static_cast<unsigned char>(run[0])) && i + 1 < words.size() &&
               std::isupper(static_cast<unsigned char>(words[i + 1].text[0]))) {
      run += " " + w.text;  // "Bank of England", "Department of Energy"
    } else {
      end_run();
    }
    if (w.boundary_before) end_phrase();
    if (stop_words().count(lw) || lw.size() < 2) {
      end_phrase();
    } else {
      phrase += (phrase.empty() ? "" : " ") + lw;
    }
  }
  end_run();
  end_phrase();
  for (const auto& e : entities) add_point(a, KnowledgePoint::Entity, e, max_points);
  // Sub-questions before the facts when there are several: each is a whole need of its own.
  for (const auto& s : sub_questions(q)) add_point(a, KnowledgePoint::SubQuestion, s, max_points);
  for (const auto& f : facts) add_point(a, KnowledgePoint::Fact, f, max_points);
  return a;
}

const ojson& analysis_schema() {
  static const ojson s = [] {
    auto list = [](int n) {
      return ojson{{"type", "array"}, {"items", {{"type", "string"}, {"minLength", 1}, {"maxLength", 80}}},
                   {"maxItems", n}};
    };
    return ojson{{"type", "object"},
                 {"properties", {{"entities", list(4)}, {"facts", list(4)}, {"sub_questions", list(3)}}},
                 {"required", {"entities", "facts", "sub_questions"}}};
  }();
  return s;
}

std::string analysis_prompt(const std::string& question) {
  if (docs::mostly_cjk(question))
    return "分析下面的问题，列出回答它所需要的知识点：问题中提到的实体（名称、术语），需要查找的事实（简短的检索词），"
           "以及可以分别回答的子问题。只输出 JSON。\n\n问题：" + question;
  return "Analyse the question below into the knowledge points its answer needs: the entities it names (names, terms), "
         "the facts to look up (short search phrases), and the sub-questions that can be answered separately. "
         "Reply with JSON only.\n\nQuestion: " + question;
}

Analysis parse_model_analysis(const std::string& question, const std::string& json_text, size_t max_points) {
  ojson j;
  try {
    j = ojson::parse(json_text);
  } catch (const std::exception& e) {
    throw Error(cat("the model's analysis is not JSON: ", e.what()));
  }
  HELIX_CHECK(j.is_object(), "the model's analysis is not a JSON object");
  Analysis a{question, "model", {}};
  const std::pair<const char*, KnowledgePoint::Kind> fields[] = {
      {"entities", KnowledgePoint::Entity}, {"sub_questions", KnowledgePoint::SubQuestion}, {"facts", KnowledgePoint::Fact}};
  for (const auto& [key, kind] : fields) {
    if (!j.contains(key)) continue;
    HELIX_CHECK(j[key].is_array(), "the model's analysis: '", key, "' is not a list");
    for (const auto& v : j[key]) {
      HELIX_CHECK(v.is_string(), "the model's analysis: '", key, "' holds a value that is not a string");
      add_point(a, kind, v.get<std::string>(), max_points);
    }
  }
  return a;
}

Analysis analyse_with_model(const std::string& question, const GenerateJson& generate, size_t max_points) {
  try {
    Analysis a = parse_model_analysis(question, generate(analysis_prompt(question), analysis_schema()), max_points);
    if (!a.points.empty()) return a;
  } catch (const Error&) {
  }
  Analysis a = analyse_rules(question, max_points);
  a.analyser = "rules (model reply unusable)";
  return a;
}

ojson analysis_json(const Analysis& a) {
  ojson points = ojson::array();
  for (const auto& p : a.points) points.push_back({{"kind", point_kind_name(p.kind)}, {"text", p.text}});
  return {{"question", a.question}, {"analyser", a.analyser}, {"points", points}};
}

}  // namespace helix::knowledge
