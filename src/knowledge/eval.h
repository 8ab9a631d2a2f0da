// Retrieval evaluation: a set of questions, each with the document and a piece of text its answer
// passage contains, run through a retriever; reports recall@5, recall@10, mean reciprocal rank and
// per-query latency, overall and per language. Also the approximate vector index's recall@k
// against exact (brute-force) search over the same embeddings.
//
//   auto qs = load_questions("questions.jsonl");
//   EvalResult r = evaluate(qs, [&](const std::string& q, size_t k) { return retrieve(kb, &enc, q, {k}); });
//   r.all.recall_at(5);  r.all.mrr();  r.all.latency_percentile(99);
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "knowledge/retrieval.h"

namespace helix::knowledge {

class KnowledgeBase;

// One line of a questions file (JSON Lines): {"id", "q", "doc", "answer", optional "lang", "kind"}.
// `doc` is the file name (or a path suffix) of the document holding the answer; `answer` is a piece
// of text the relevant passage contains (compared with all whitespace removed).
struct EvalQuestion {
  std::string id, q, doc, answer, lang, kind;
};
// Reads a questions file; throws naming file:line and the missing field on a bad line.
std::vector<EvalQuestion> load_questions(const std::string& path);

// True when the passage comes from the question's document and contains its answer.
bool relevant(const Hit& h, const EvalQuestion& q);

// The outcome over a set of questions: the rank of the first relevant passage per question (0 when
// none among the k retrieved) and the time each retrieval took.
struct EvalStats {
  std::vector<int> ranks;
  std::vector<double> latency_ms;
  size_t size() const { return ranks.size(); }
  double recall_at(int k) const;  // share of questions with a relevant passage in the top k
  double mrr() const;             // mean of 1 / rank (0 when not found)
  double latency_percentile(double p) const;  // p in [0, 100], nearest rank
  void add(int rank, double ms);
};

struct EvalResult {
  EvalStats all;
  std::map<std::string, EvalStats> by_lang;  // keyed by the questions' "lang" ("" when unset)
};

// Runs every question through `retriever(question, k)` (passages best first) and scores it.
using Retriever = std::function<std::vector<Hit>(const std::string& question, size_t k)>;
EvalResult evaluate(const std::vector<EvalQuestion>& questions, const Retriever& retriever, size_t k = 10);

// The share of the exact k nearest chunks (brute force over every embedding stored in the base)
// that the approximate index returns, averaged over the query embeddings; ef as QueryOptions::ef_search.
double ann_recall(KnowledgeBase& kb, const std::vector<std::vector<float>>& queries, size_t k, size_t ef = 0);

}  // namespace helix::knowledge
