// The knowledge-point path, grounded prompts and citation checks (see grounding.h).
#include "knowledge/grounding.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "core/error.h"
#include "docs/chunker.h"
#include "docs/document.h"
#include "knowledge/fts_text.h"
#include "knowledge/store.h"
#include "model/bert.h"

namespace helix::knowledge {

using ojson = nlohmann::ordered_json;

namespace {

struct Candidate {
  Hit hit;
  double fused = 0;
  double question = 0;       // the question's own lists' share of `fused`
  std::vector<int> points;   // points whose lists hold it
  std::map<int, int> best;   // point -> its best rank in that point's lists
  size_t identifiers = 0;    // how many of the question's identifiers its text holds
};

// One query's ranked lists added into the candidates with the query's weight w (retrieval.h's
// fusion: the same list weights, the CJK one among them, and the same reciprocal rank terms).
void fuse(std::map<int64_t, Candidate>& c, const RankedLists& lists, double w, int point, double rrf_k) {
  fuse_lists(lists, w, rrf_k, [&](int64_t id, bool is_bm25, int rank, double score, double term) {
    Candidate& x = c[id];
    x.hit.chunk_id = id;
    x.fused += term;
    if (point < 0) {  // the question's own lists give the hit its retriever scores
      x.question += term;
      if (is_bm25) x.hit.bm25 = score, x.hit.bm25_rank = rank;
      else x.hit.vector = score, x.hit.vector_rank = rank;
      return;
    }
    if (std::find(x.points.begin(), x.points.end(), point) == x.points.end()) x.points.push_back(point);
    auto [it, fresh] = x.best.emplace(point, rank);
    if (!fresh) it->second = std::min(it->second, rank);
  });
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

// The share of the points whose search terms the passage's text contains (each point counts its
// terms found / its terms).
double point_overlap(const Hit& h, const std::vector<std::vector<std::string>>& terms) {
  if (terms.empty()) return 0;
  const std::vector<std::string> have = query_terms(h.text);
  const std::set<std::string> in(have.begin(), have.end());
  double sum = 0;
  for (const auto& t : terms) {
    if (t.empty()) continue;
    size_t found = 0;
    for (const auto& w : t) found += in.count(w);
    sum += static_cast<double>(found) / static_cast<double>(t.size());
  }
  return sum / static_cast<double>(terms.size());
}

void rerank(KnowledgeBase& kb, const std::vector<float>* qv, const Analysis& a, std::vector<Candidate*>& order) {
  std::vector<std::vector<std::string>> terms;
  for (const auto& p : a.points) terms.push_back(query_terms(p.text));
  Stmt emb(kb.db(), "SELECT embedding FROM chunks WHERE id = ?");
  const double top = order.empty() ? 1 : order.front()->fused;
  std::map<const Candidate*, double> score;
  for (Candidate* c : order) {
    double cos = 0;
    if (qv) {
      emb.bind(1, c->hit.chunk_id);
      if (emb.step()) cos = cosine(*qv, emb.floats(0));
      emb.reset();
    }
    score[c] = 0.5 * cos + 0.3 * point_overlap(c->hit, terms) + 0.2 * (top > 0 ? c->fused / top : 0);
  }
  std::stable_sort(order.begin(), order.end(), [&](Candidate* x, Candidate* y) { return score[x] > score[y]; });
  for (Candidate* c : order) c->hit.score = score[c];
}

size_t default_tokens(const std::string& s) { return (s.size() + 3) / 4; }

}  // namespace

std::vector<Passage> retrieve_points(KnowledgeBase& kb, model::BertEncoder* enc, const Analysis& a,
                                     const PointQueryOptions& opts) {
  HELIX_CHECK(opts.k > 0, "the number of passages must be at least 1");
  QueryOptions qo;
  qo.k = opts.k;
  qo.candidates = opts.candidates;
  qo.mode = enc ? RetrievalMode::Hybrid : RetrievalMode::Bm25;
  qo.cjk_vector_weight = opts.cjk_vector_weight;
  qo.ef_search = opts.ef_search;
  std::vector<std::string> queries = {a.question};
  for (const auto& p : a.points) queries.push_back(p.text);
  std::vector<std::vector<float>> qvs;
  if (enc) {
    std::vector<std::vector<int32_t>> toks;
    for (const auto& q : queries) toks.push_back(enc->tokenize(q));
    qvs = enc->embed_tokens(toks);
  }
  std::map<int64_t, Candidate> cands;
  for (size_t i = 0; i < queries.size(); ++i) {
    const int point = static_cast<int>(i) - 1;
    const double w = point < 0 ? 1.0 : opts.point_weight;
    fuse(cands, rank_query(kb, enc, queries[i], qo, enc ? &qvs[i] : nullptr), w, point, opts.rrf_k);
  }
  std::vector<Candidate*> order;
  for (auto& [id, c] : cands) order.push_back(&c);
  std::stable_sort(order.begin(), order.end(), [](const Candidate* x, const Candidate* y) {
    if (x->fused != y->fused) return x->fused > y->fused;
    return x->hit.chunk_id < y->hit.chunk_id;
  });
  auto holders_first = [&] {
    std::stable_sort(order.begin(), order.end(),
                     [](const Candidate* x, const Candidate* y) { return x->identifiers > y->identifiers; });
  };
  const std::vector<std::string> ids = opts.exact_identifiers ? identifier_terms(a.question) : std::vector<std::string>{};
  if (!ids.empty()) {
    // Candidates holding more of the question's identifiers first; the fused order within.
    for (Candidate* c : order) {
      load_hit(kb, c->hit);
      for (const auto& t : ids) c->identifiers += holds_identifier(c->hit.text, t);
    }
    holders_first();
  }
  // Enough candidates to fill k after duplicates and reranking.
  if (order.size() > 3 * opts.k) order.resize(3 * opts.k);
  for (Candidate* c : order) {
    if (ids.empty()) load_hit(kb, c->hit);
    c->hit.score = c->fused;
  }
  if (opts.rerank) {
    rerank(kb, enc ? &qvs[0] : nullptr, a, order);
    holders_first();
  }
  std::vector<Candidate*> picked;
  auto take = [&](Candidate* c) {
    if (picked.size() >= opts.k || std::find(picked.begin(), picked.end(), c) != picked.end()) return;
    for (const Candidate* p : picked)
      if (duplicate(p->hit, c->hit)) return;
    picked.push_back(c);
  };
  // Coverage first: the question's best passage, then each point's (sub-questions, entities,
  // facts; by the point's own rank), then the rest in order.
  auto best_for = [&](int p) {
    Candidate* best = nullptr;
    for (Candidate* c : order) {
      if (p < 0) {
        if (c->question > 0 && (!best || c->question > best->question)) best = c;
        continue;
      }
      auto it = c->best.find(p);
      if (it != c->best.end() && (!best || it->second < best->best.at(p))) best = c;
    }
    return best;
  };
  if (Candidate* b = best_for(-1)) take(b);
  for (const auto kind : {KnowledgePoint::SubQuestion, KnowledgePoint::Entity, KnowledgePoint::Fact})
    for (size_t p = 0; p < a.points.size(); ++p)
      if (a.points[p].kind == kind)
        if (Candidate* b = best_for(static_cast<int>(p))) take(b);
  for (Candidate* c : order) take(c);
  // Passages in rank order, as many as fit the budget.
  std::vector<Candidate*> ranked;
  for (Candidate* c : order)
    if (std::find(picked.begin(), picked.end(), c) != picked.end()) ranked.push_back(c);
  std::vector<Passage> out;
  size_t used = 0;
  for (Candidate* c : ranked) {
    if (opts.token_budget) {
      const size_t t = (opts.count_tokens ? opts.count_tokens : default_tokens)(c->hit.text) + 16;  // + its header
      if (used + t > opts.token_budget) continue;
      used += t;
    }
    Passage p;
    p.n = static_cast<int>(out.size() + 1);
    p.hit = c->hit;
    p.points = c->points;
    std::sort(p.points.begin(), p.points.end());
    p.rerank = opts.rerank ? c->hit.score : 0;
    out.push_back(std::move(p));
  }
  return out;
}

std::string passage_source(const Hit& h) {
  std::string s = std::filesystem::path(h.doc).filename().string();
  if (h.page > 0) s += cat(", page ", h.page);
  if (!h.section.empty()) s += ", section " + h.section;
  return s;
}

std::string passages_block(const std::vector<Passage>& ps) {
  std::string out;
  for (const auto& p : ps) out += cat("[", p.n, "] ", passage_source(p.hit), "\n", p.hit.text, "\n\n");
  return out;
}

std::string passage_label(const Hit& h) {
  const std::string title = h.title.empty() ? std::filesystem::path(h.doc).stem().string() : h.title;
  std::string label = h.section.empty() || h.section == title ? title
                      : h.section.starts_with(title + " > ") || title.empty() ? h.section
                                                                               : title + " > " + h.section;
  std::replace(label.begin(), label.end(), '\n', ' ');
  return label;
}

// The wording and layout of the assistant recipe's grounded stage (scripts/assistant_grounded_real.py
// ask_prompt), so the assistant adapter sees what it was trained on: one passage per line as
// "[n] (label) text".
std::string grounded_prompt(const std::string& question, const std::vector<Passage>& ps) {
  std::string body;
  for (const auto& p : ps) {
    std::string text = p.hit.text;
    std::replace(text.begin(), text.end(), '\n', ' ');
    const std::string label = passage_label(p.hit);
    body += cat(body.empty() ? "" : "\n", "[", p.n, "] ", label.empty() ? "" : "(" + label + ") ", text);
  }
  if (docs::mostly_cjk(question)) return "只根据下面编号的段落回答问题，并用 [n] 标注所用段落。\n\n" + body + "\n\n问题：" + question;
  return "Answer the question using only the numbered passages below. Cite the passages you use as [n].\n\n" + body +
         "\n\nQuestion: " + question;
}

CitationCheck check_citations(const std::string& answer, const std::vector<Passage>& ps) {
  auto find = [&](int n) -> const Passage* {
    for (const auto& p : ps)
      if (p.n == n) return &p;
    return nullptr;
  };
  CitationMarks m = scan_citations(answer, [&](int n) { return find(n) != nullptr; });
  CitationCheck c;
  c.answer = std::move(m.text);
  for (int n : m.kept) c.cited.push_back({n, find(n)});
  c.unresolved = std::move(m.dropped);
  return c;
}

namespace {

double support(const std::vector<std::string>& terms, const std::set<std::string>& in) {
  size_t found = 0;
  for (const auto& t : terms) found += in.count(t);
  return terms.empty() ? 0 : static_cast<double>(found) / static_cast<double>(terms.size());
}

// The sentence without its markers, with " [n]" before its closing punctuation.
std::string recite(const std::string& sentence, int n) {
  std::string bare = scan_citations(sentence, [](int) { return false; }).text;
  size_t end = bare.size();
  while (end > 0 && bare[end - 1] == ' ') --end;
  static const std::vector<std::string> stops = {".", "!", "?", ";", ":", "\xE3\x80\x82", "\xEF\xBC\x81",
                                                 "\xEF\xBC\x9F", "\xEF\xBC\x9B"};  // 。！？；
  for (const auto& p : stops)
    if (end >= p.size() && bare.compare(end - p.size(), p.size(), p) == 0) {
      std::string head = bare.substr(0, end - p.size());
      while (!head.empty() && head.back() == ' ') head.pop_back();
      return head + cat(" [", n, "]") + p + bare.substr(end);
    }
  return bare.substr(0, end) + cat(" [", n, "]") + bare.substr(end);
}

}  // namespace

AlignedCitations align_citations(const std::string& answer, const std::vector<Passage>& ps, double min_support,
                                 double margin) {
  AlignedCitations out;
  std::vector<std::set<std::string>> terms;
  for (const auto& p : ps) {
    const auto t = query_terms(p.hit.text);
    terms.emplace_back(t.begin(), t.end());
  }
  size_t at = 0;
  for (const auto& [b, e] : docs::split_sentences(answer)) {
    out.answer += answer.substr(at, b - at);
    at = e;
    const std::string sentence = answer.substr(b, e - b);
    const CitationMarks marks = scan_citations(sentence, [](int) { return true; });
    const std::vector<std::string> words = query_terms(marks.text);
    size_t best = ps.size();
    double best_s = 0, cited_s = 0;
    for (size_t i = 0; i < ps.size(); ++i) {
      const double s = support(words, terms[i]);
      if (std::find(marks.kept.begin(), marks.kept.end(), ps[i].n) != marks.kept.end()) cited_s = std::max(cited_s, s);
      if (s > best_s) best_s = s, best = i;
    }
    if (words.size() < 3 || best == ps.size() || best_s < min_support || best_s < cited_s + margin) {
      out.answer += sentence;
      continue;
    }
    out.answer += recite(sentence, ps[best].n);
    out.moves.push_back({marks.kept, ps[best].n, best_s});
  }
  out.answer += answer.substr(std::min(at, answer.size()));
  return out;
}

ojson citation_moves_json(const std::vector<CitationMove>& moves) {
  ojson out = ojson::array();
  for (const auto& m : moves) out.push_back({{"from", m.from}, {"to", m.to}, {"support", m.support}});
  return out;
}

namespace {

// Where a passage is and what it says: the fields a citation and a passage share.
ojson place_json(int n, const Hit& h) {
  return {{"n", n},
          {"doc", h.doc},
          {"title", h.title},
          {"section", h.section},
          {"page", h.page},
          {"char_start", h.char_begin},
          {"char_end", h.char_end},
          {"text", h.text}};
}

}  // namespace

ojson passage_json(const Passage& p, const Analysis* a) {
  const Hit& h = p.hit;
  ojson j = place_json(p.n, h);
  j["score"] = h.score;
  j["bm25"] = h.bm25;
  j["vector"] = h.vector;
  j["chunk_id"] = h.chunk_id;
  if (a) {
    ojson pts = ojson::array();
    for (int i : p.points)
      if (i >= 0 && static_cast<size_t>(i) < a->points.size()) pts.push_back(a->points[static_cast<size_t>(i)].text);
    j["points"] = pts;
  }
  return j;
}

ojson citations_json(const CitationCheck& c) {
  ojson out = ojson::array();
  for (const auto& x : c.cited) out.push_back(place_json(x.n, x.passage->hit));
  return out;
}

}  // namespace helix::knowledge
