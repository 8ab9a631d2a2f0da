// Retrieval over a knowledge base: BM25 (SQLite FTS5), vectors (hnswlib over the embedding
// model's sentence embeddings), and the hybrid of both fused by reciprocal rank fusion
// (score = sum over retrievers of 1 / (rrf_k + rank)), de-duplicated (the same text twice, or a
// chunk mostly overlapping a better one of the same document, is dropped).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace helix::model {
class BertEncoder;
}

namespace helix::knowledge {

class KnowledgeBase;

enum class RetrievalMode { Hybrid, Bm25, Vector };
RetrievalMode parse_retrieval_mode(const std::string& s);  // "hybrid", "bm25", "vector"

struct QueryOptions {
  size_t k = 10;
  RetrievalMode mode = RetrievalMode::Hybrid;
  size_t candidates = 50;  // per retriever, before fusion (at least k)
  double rrf_k = 60;
  // The vector retriever's weight in the fusion for a query written in CJK script (scaled by the
  // query's share of CJK characters; BM25's weight is 1). The default embedding model,
  // all-MiniLM-L6-v2, was trained on English: on the evaluation's Chinese questions its recall@10
  // is 0.53 against BM25's 0.87, and at equal weight its noise pushes BM25's good passages down
  // (hybrid MRR on them 0.48 at weight 1, 0.65 at 0.1; README, "Retrieval quality").
  double cjk_vector_weight = 0.1;
  size_t ef_search = 0;  // the vector index's candidate list (0: its default, HnswParams)
};

struct Hit {
  int64_t chunk_id = 0, doc_id = 0;
  std::string doc, title, section, text;
  int64_t page = 0, char_begin = 0, char_end = 0;
  double score = 0;                   // the fused score (or the single retriever's)
  double bm25 = 0, vector = 0;        // BM25 (higher is better) and cosine similarity
  int bm25_rank = 0, vector_rank = 0;  // 1-based rank in each retriever, 0 when not found by it
};

// BM25 over the FTS5 index: (chunk id, score), best first; score = -bm25() (higher is better).
std::vector<std::pair<int64_t, double>> bm25_search(KnowledgeBase& kb, const std::string& query, size_t n);
// Nearest chunks to a query embedding: (chunk id, cosine), best first; ef as QueryOptions::ef_search.
std::vector<std::pair<int64_t, double>> vector_search(KnowledgeBase& kb, const std::vector<float>& qv, size_t n,
                                                      size_t ef = 0);
// The same for a text, embedded by enc.
std::vector<std::pair<int64_t, double>> vector_search(KnowledgeBase& kb, model::BertEncoder& enc,
                                                      const std::string& query, size_t n, size_t ef = 0);

// The fusion, one path for retrieve() and the knowledge-point path (grounding.h): each query's
// BM25 and vector lists, each list weighted, summed by reciprocal rank fusion.
struct RankedLists {
  std::vector<std::pair<int64_t, double>> bm25, vector;  // (chunk id, retriever's score), best first
  double bm25_weight = 1, vector_weight = 1;
};
// The vector list's weight for a query: 1, lowered towards cjk_vector_weight by the query's share
// of CJK characters (docs::cjk_share).
double vector_weight(const std::string& query, double cjk_vector_weight);
// The lists of one query under o.mode (o.candidates, at least o.k, per retriever); qv: the query's
// embedding when already computed (else enc computes it; enc may be null for BM25 alone).
RankedLists rank_query(KnowledgeBase& kb, model::BertEncoder* enc, const std::string& query, const QueryOptions& o,
                       const std::vector<float>* qv = nullptr);
// Calls add(chunk id, is_bm25, 1-based rank, retriever's score, fusion term) for each entry of the
// lists; the term is weight * list weight / (rrf_k + rank).
using FusionSink = std::function<void(int64_t id, bool bm25, int rank, double score, double term)>;
void fuse_lists(const RankedLists& l, double weight, double rrf_k, const FusionSink& add);
// Fills a hit's document, title, section, page, span and text from its chunk id.
void load_hit(KnowledgeBase& kb, Hit& h);
// True when b is a near-copy of a: the same text, or mostly the same span of the same document.
bool duplicate(const Hit& a, const Hit& b);
// The passages for a query; enc may be null for BM25 alone.
std::vector<Hit> retrieve(KnowledgeBase& kb, model::BertEncoder* enc, const std::string& query,
                          const QueryOptions& opts);

}  // namespace helix::knowledge
