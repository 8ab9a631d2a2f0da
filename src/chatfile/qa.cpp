#include "chatfile/qa.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "chatfile/cache.h"
#include "chatfile/mapreduce.h"
#include "chatfile/salient.h"
#include "chatfile/prompts.h"
#include "core/citations.h"
#include "core/error.h"
#include "model/bert.h"
#include "docs/chunker.h"
#include "knowledge/grounding.h"

namespace helix::chatfile {

namespace {

std::string file_name(const std::string& path) { return std::filesystem::path(path).filename().string(); }

// The start of a text, cut at a sentence end within about `budget` estimated tokens.
std::string head(const std::string& text, size_t budget) {
  if (docs::estimate_tokens(text) <= budget) return text;
  size_t end = 0;
  for (const auto& [a, b] : docs::split_sentences(text)) {
    if (docs::estimate_tokens(std::string_view(text).substr(0, b)) > budget) break;
    end = b;
  }
  if (end == 0) {  // one long sentence: cut at a character boundary
    end = std::min(text.size(), budget * 3);
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  }
  return text.substr(0, end);
}

std::string render(const std::vector<Passage>& ps) {
  std::string s;
  for (const auto& p : ps) s += cat("[", p.n, "] (", p.where, ")\n", p.text, "\n\n");
  return s;
}

// Gram overlap of a sentence with a text (the share of the sentence's grams found there).
double overlap(const std::string& sentence, const std::set<std::string>& text) {
  const auto g = source_grams(sentence);
  if (g.empty()) return 0;
  size_t in = 0;
  for (const auto& w : g) in += text.count(w);
  return static_cast<double>(in) / static_cast<double>(g.size());
}

// The answer made safe: the model's sentences that the passages support (invented or echoed ones
// go), each cited; when none is left, the passage sentence that best matches the question.
std::string ground_answer(const std::string& raw, const std::string& question, const std::string& instructions,
                          const std::vector<Passage>& ps, Lang lang) {
  std::vector<std::set<std::string>> pg;
  std::vector<knowledge::Passage> kps;  // for align_citations
  std::string all;
  for (const auto& p : ps) {
    pg.push_back(source_grams(p.text)), all += p.text + "\n";
    kps.emplace_back().n = p.n;
    kps.back().hit.text = p.text;
  }
  const auto allg = source_grams(all), instr = source_grams(instructions);
  std::string out;
  for (const auto& [b, e] : docs::split_sentences(raw)) {
    const std::string s = raw.substr(b, e - b);
    const std::string bare = strip_citations(s);
    if (docs::count_chars(bare) < 6 || !grounded(bare, allg, 0.6) || overlap(bare, instr) > 0.5) continue;
    if (out.find(bare) != std::string::npos) continue;
    // a cited sentence whose words another passage clearly holds is re-cited to it (the adapter often
    // cites the neighbour of the passage it copies from)
    std::string cited = knowledge::align_citations(s, kps).answer;
    if (citations_in(s).empty()) {
      size_t best = 0;
      for (size_t i = 1; i < ps.size(); ++i)
        if (overlap(bare, pg[i]) > overlap(bare, pg[best])) best = i;
      cited = bare + cat(" [", ps[best].n, "]");
    }
    out += (out.empty() ? "" : " ") + cited;
    if (out.size() > 1200) break;
  }
  if (!out.empty()) return out;
  // Extractive answer: the sentence sharing most words with the question (ties: the more salient).
  const auto qg = source_grams(question);
  double best = 0;
  for (const auto& p : ps)
    for (const auto& [b, e] : docs::split_sentences(p.text)) {
      const std::string s = p.text.substr(b, e - b);
      const auto sg = source_grams(s);
      size_t shared = 0;
      for (const auto& w : qg) shared += sg.count(w);
      const double score = static_cast<double>(shared) + 0.1 * salience(s);
      if (shared > 0 && score > best) best = score, out = s + cat(" [", p.n, "]");
    }
  return out.empty() ? qa_not_found(lang) : out;
}

}  // namespace

std::vector<int> citations_in(const std::string& text) { return cited_numbers(text); }

std::unique_ptr<knowledge::KnowledgeBase> open_index(const std::string& root, const Corpus& c,
                                                     model::BertEncoder& enc,
                                                     const std::function<void(size_t, size_t)>& on_embed) {
  std::vector<std::string> key = {"chatfile-index-v1", enc.source()};
  for (const auto& s : c.sha256) key.push_back(s);
  const std::string name = "doc-" + key_of(key).substr(0, 24);
  std::error_code ec;
  std::filesystem::create_directories(root, ec);
  HELIX_CHECK(!ec, "cannot create the index folder ", root, ": ", ec.message());
  const auto existing = knowledge::KnowledgeBase::list(root);
  if (std::find(existing.begin(), existing.end(), name) == existing.end())
    knowledge::KnowledgeBase::create(root, name, enc);
  auto kb = knowledge::KnowledgeBase::open(root, name);
  for (const auto& d : c.docs) kb->add_file(d.path, enc, on_embed);  // unchanged files are skipped
  kb->save();
  return kb;
}

DocQA::DocQA(Backend& b, const Corpus& c, knowledge::KnowledgeBase& kb, model::BertEncoder* enc, QaOptions o)
    : b_(b), c_(c), kb_(kb), enc_(enc), o_(o) {
  for (const auto& d : c.docs) {
    if (d.blocks.empty()) continue;
    Passage p;
    p.n = static_cast<int>(pinned_.size()) + 1;
    p.pinned = true;
    const auto& first = d.blocks.front();
    p.where = where(file_name(d.path), first.page, first.page, first.heading_path.empty() ? "" : first.heading_path[0]);
    p.text = head(d.text, o_.pinned_tokens);
    pinned_.push_back(std::move(p));
  }
  prefix_ = qa_instructions(c.lang, c.docs.size() == 1 ? c.docs[0].title : "") + "\n\n" + render(pinned_);
}

Answer DocQA::ask(const std::string& question, const std::function<void(const std::string&)>& on_text) {
  HELIX_CHECK(!question.empty(), "the question is empty");
  Answer a;
  a.question = question;
  a.passages = pinned_;
  const std::string query = history_.empty() ? question : history_.back().first + " " + question;
  knowledge::QueryOptions qo;
  qo.k = o_.k + pinned_.size();
  qo.mode = enc_ ? o_.mode : knowledge::RetrievalMode::Bm25;
  std::vector<knowledge::Hit> hits;
  const auto retrieve = [&] { hits = knowledge::retrieve(kb_, enc_, query, qo); };
  if (o_.run_retrieval) o_.run_retrieval(retrieve);
  else retrieve();
  std::vector<Passage> fresh;
  for (const auto& h : hits) {
    if (fresh.size() >= o_.k) break;
    const bool in_pinned = std::any_of(pinned_.begin(), pinned_.end(), [&](const Passage& p) {
      return p.text.find(h.text.substr(0, std::min<size_t>(h.text.size(), 200))) != std::string::npos;
    });
    if (in_pinned) continue;
    Passage p;
    p.n = static_cast<int>(pinned_.size() + fresh.size()) + 1;
    p.where = where(file_name(h.doc), static_cast<int>(h.page), static_cast<int>(h.page), h.section);
    p.text = h.text;
    fresh.push_back(std::move(p));
  }
  a.passages.insert(a.passages.end(), fresh.begin(), fresh.end());

  // [instructions + pinned + first question] [answer] [question] ... [passages + this question]
  ojson msgs = ojson::array();
  const std::string ask_now = qa_question(c_.lang, render(fresh), question);
  if (history_.empty()) {
    msgs.push_back(user_message(prefix_ + ask_now));
  } else {
    for (size_t i = 0; i < history_.size(); ++i) {
      msgs.push_back(user_message(i == 0 ? prefix_ + qa_question(c_.lang, "", history_[i].first) : history_[i].first));
      msgs.push_back({{"role", "assistant"}, {"content", history_[i].second}});
    }
    msgs.push_back(user_message(ask_now));
  }
  Request r;
  r.messages = std::move(msgs);
  r.max_tokens = o_.answer_tokens;
  r.on_text = on_text;
  r.stop = {"\n\n[", "\n[", "Question:", "\xE9\x97\xAE\xE9\xA2\x98\xEF\xBC\x9A"};  // an echoed passage or question (问题：)
  b_.run({r}, [&](size_t, const Reply& rep) { a.reply = rep; });
  HELIX_CHECK(a.reply.error.empty(), "the model failed: ", a.reply.error);
  a.raw = a.reply.text;
  a.text = ground_answer(a.raw, question, qa_instructions(c_.lang, ""), a.passages, c_.lang);
  const auto marks = scan_citations(a.text, [&](int n) { return n >= 1 && n <= static_cast<int>(a.passages.size()); });
  a.cited = marks.kept;
  a.invalid = marks.dropped;
  history_.emplace_back(question, strip_citations(a.text));
  if (history_.size() > o_.history_turns) history_.erase(history_.begin());
  return a;
}

ojson Answer::to_json() const {
  ojson ps = ojson::array();
  for (const auto& p : passages)
    ps.push_back({{"n", p.n}, {"where", p.where}, {"pinned", p.pinned}, {"cited", std::find(cited.begin(), cited.end(), p.n) != cited.end()}, {"text", p.text}});
  return {{"question", question},
          {"answer", text},
          {"model_text", raw},
          {"citations", cited},
          {"invalid_citations", invalid},
          {"passages", ps},
          {"usage",
           {{"prompt_tokens", reply.prompt_tokens},
            {"cached_tokens", reply.cached_tokens},
            {"completion_tokens", reply.completion_tokens},
            {"first_token_s", reply.first_token_s},
            {"seconds", reply.seconds}}}};
}

}  // namespace helix::chatfile
