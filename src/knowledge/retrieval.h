// Retrieval over a knowledge base: BM25 (SQLite FTS5), vectors (hnswlib over the embedding
// model's sentence embeddings), and the hybrid of both fused by reciprocal rank fusion
// (score = sum over retrievers of 1 / (rrf_k + rank)), de-duplicated (the same text twice, or a
// chunk mostly overlapping a better one of the same document, is dropped).
#pragma once

#include <cstdint>
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
};

// The share of a text's letters (Unicode letters and CJK characters) that are CJK, 0 to 1.
double cjk_share(const std::string& text);

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
// Nearest chunks to the query's embedding: (chunk id, cosine), best first.
std::vector<std::pair<int64_t, double>> vector_search(KnowledgeBase& kb, model::BertEncoder& enc,
                                                      const std::string& query, size_t n);
// Fills a hit's document, title, section, page, span and text from its chunk id.
void load_hit(KnowledgeBase& kb, Hit& h);
// True when b is a near-copy of a: the same text, or mostly the same span of the same document.
bool duplicate(const Hit& a, const Hit& b);
// The passages for a query; enc may be null for BM25 alone.
std::vector<Hit> retrieve(KnowledgeBase& kb, model::BertEncoder* enc, const std::string& query,
                          const QueryOptions& opts);

}  // namespace helix::knowledge
