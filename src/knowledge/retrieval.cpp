// BM25, vector and hybrid retrieval (see retrieval.h).
#include "knowledge/retrieval.h"

#include <algorithm>
#include <map>
#include <unordered_set>

#include "core/error.h"
#include "docs/document.h"
#include "knowledge/fts_text.h"
#include "knowledge/store.h"
#include "model/bert.h"

namespace helix::knowledge {

RetrievalMode parse_retrieval_mode(const std::string& s) {
  if (s == "hybrid") return RetrievalMode::Hybrid;
  if (s == "bm25") return RetrievalMode::Bm25;
  if (s == "vector") return RetrievalMode::Vector;
  throw Error(cat("unknown retrieval mode '", s, "' (use hybrid, bm25 or vector)"));
}

std::vector<std::pair<int64_t, double>> bm25_search(KnowledgeBase& kb, const std::string& query, size_t n) {
  std::vector<std::pair<int64_t, double>> out;
  const std::string match = fts_match(query_terms(query));
  if (match.empty()) return out;
  Stmt q(kb.db(), "SELECT rowid, bm25(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY bm25(chunks_fts) "
                  "LIMIT ?");
  q.bind(1, match).bind(2, static_cast<int64_t>(n));
  while (q.step()) out.emplace_back(q.i64(0), -q.f64(1));
  return out;
}

std::vector<std::pair<int64_t, double>> vector_search(KnowledgeBase& kb, const std::vector<float>& qv, size_t n,
                                                      size_t ef) {
  std::vector<std::pair<int64_t, double>> out;
  for (const auto& [id, sim] : kb.vectors().search(qv, n, ef)) out.emplace_back(id, sim);
  return out;
}

std::vector<std::pair<int64_t, double>> vector_search(KnowledgeBase& kb, model::BertEncoder& enc,
                                                      const std::string& query, size_t n, size_t ef) {
  return vector_search(kb, enc.embed_tokens({enc.tokenize(query)})[0], n, ef);
}

double vector_weight(const std::string& query, double cjk_vector_weight) {
  return 1.0 - docs::cjk_share(query) * (1.0 - cjk_vector_weight);
}

RankedLists rank_query(KnowledgeBase& kb, model::BertEncoder* enc, const std::string& query, const QueryOptions& o,
                       const std::vector<float>* qv) {
  const size_t n = std::max(o.candidates, o.k);
  RankedLists l;
  if (o.mode != RetrievalMode::Vector) l.bm25 = bm25_search(kb, query, n);
  if (o.mode != RetrievalMode::Bm25) {
    HELIX_CHECK(enc || qv, "vector retrieval needs the embedding model");
    l.vector = qv ? vector_search(kb, *qv, n, o.ef_search) : vector_search(kb, *enc, query, n, o.ef_search);
    l.vector_weight = vector_weight(query, o.cjk_vector_weight);
  }
  return l;
}

void fuse_lists(const RankedLists& l, double weight, double rrf_k, const FusionSink& add) {
  for (const bool bm25 : {true, false}) {
    const auto& list = bm25 ? l.bm25 : l.vector;
    const double w = weight * (bm25 ? l.bm25_weight : l.vector_weight);
    for (size_t i = 0; i < list.size(); ++i) {
      const int rank = static_cast<int>(i + 1);
      add(list[i].first, bm25, rank, list[i].second, w / (rrf_k + rank));
    }
  }
}

void load_hit(KnowledgeBase& kb, Hit& h) {
  Stmt q(kb.db(), "SELECT c.doc_id, d.path, d.title, c.section, c.text, c.page, c.char_begin, c.char_end "
                  "FROM chunks c JOIN docs d ON d.id = c.doc_id WHERE c.id = ?");
  q.bind(1, h.chunk_id);
  HELIX_CHECK(q.step(), "chunk ", h.chunk_id, " is in the index but not in the database");
  h.doc_id = q.i64(0);
  h.doc = q.str(1);
  h.title = q.str(2);
  h.section = q.str(3);
  h.text = q.str(4);
  h.page = q.i64(5);
  h.char_begin = q.i64(6);
  h.char_end = q.i64(7);
}

// True when b is a near-copy of a: the same text, or mostly the same span of the same document.
bool duplicate(const Hit& a, const Hit& b) {
  if (a.text == b.text) return true;
  if (a.doc_id != b.doc_id) return false;
  const int64_t overlap = std::min(a.char_end, b.char_end) - std::max(a.char_begin, b.char_begin);
  const int64_t shorter = std::min(a.char_end - a.char_begin, b.char_end - b.char_begin);
  return shorter > 0 && overlap * 2 > shorter;
}

std::vector<Hit> retrieve(KnowledgeBase& kb, model::BertEncoder* enc, const std::string& query,
                          const QueryOptions& opts) {
  std::map<int64_t, Hit> by_id;
  fuse_lists(rank_query(kb, enc, query, opts), 1.0, opts.rrf_k, [&](int64_t id, bool bm25, int rank, double score, double term) {
    Hit& h = by_id[id];
    h.chunk_id = id;
    (bm25 ? h.bm25 : h.vector) = score;
    (bm25 ? h.bm25_rank : h.vector_rank) = rank;
    if (opts.mode == RetrievalMode::Hybrid) h.score += term;
    else h.score = score;  // one retriever: its own score
  });
  std::vector<Hit> hits;
  for (auto& [id, h] : by_id) hits.push_back(std::move(h));
  std::stable_sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.chunk_id < b.chunk_id;
  });
  std::vector<Hit> out;
  for (auto& h : hits) {
    if (out.size() == opts.k) break;
    load_hit(kb, h);
    if (std::none_of(out.begin(), out.end(), [&](const Hit& o) { return duplicate(o, h); })) out.push_back(std::move(h));
  }
  return out;
}

}  // namespace helix::knowledge
