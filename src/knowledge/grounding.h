// Grounded answers: the knowledge-point path from a question to numbered passages, the prompt
// that asks the model to answer from them citing [n], and the check of the answer's citations.
//
//   Analysis a = analyse_rules(q);
//   auto ps = retrieve_points(kb, &enc, a, {.k = 8, .token_budget = 1500});
//   std::string user = grounded_prompt(q, ps);         // -> the model -> answer
//   CitationCheck c = check_citations(answer, ps);     // every [n] resolved, or flagged
//
// Retrieval per point: the question itself and each point are retrieved by BM25 and by vector
// (retrieval.h); all these ranked lists are fused by retrieval.h's reciprocal rank fusion (the
// question's lists weigh 1, each point's lists `point_weight`, and within them the vector list of
// a CJK text weighs less, as in retrieve()). When the question names identifiers ("--force",
// "FIELD_LIST"), the candidates that hold them verbatim come first (`exact_identifiers`): the
// index sees "--force" as the word "force", so a manual page's title chunk outranked the chunk
// that documents the option (on 37 held-out questions of bench/ask_eval.py the fact was among the
// six passages for 0.86 of them before, 0.97 after). Then near-copies are dropped, the best passage of
// each point is kept (so every point is covered when it can be), the rest filled by fused score;
// optionally reranked; then cut to a token budget and numbered [1]..[n].
//
// The reranker is cheap and needs no extra model: the embedding model's cosine between the whole
// question and the passage (from the stored chunk embedding), plus the share of the points whose
// terms the passage contains, plus the fused score. No cross-encoder is available offline here.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/citations.h"
#include "knowledge/points.h"
#include "knowledge/retrieval.h"

namespace helix::knowledge {

// Passages given to the model for an answer unless the caller says otherwise (helix ask -k, the
// chat extension's "knowledge": {"k"}). Few, because the default 270M model reads few well: on 74
// held-out questions of bench/ask_eval.py (every 3rd), 3 passages gave faithful answers 0.51 of
// the time and 6 gave 0.30, although 6 held the fact more often (retrieval ceiling 0.96 vs 0.82).
inline constexpr size_t kAnswerPassages = 3;

struct PointQueryOptions {
  size_t k = 8;                 // passages at most
  size_t candidates = 30;       // per retriever and query, before fusion
  double rrf_k = 60;
  double point_weight = 0.5;    // weight of each point's lists against the question's
  // Passages that hold the question's identifiers verbatim (options and names, fts_text.h's
  // identifier_terms) come first, more of them first; the fused order within.
  bool exact_identifiers = true;
  double cjk_vector_weight = QueryOptions{}.cjk_vector_weight;  // as in QueryOptions
  size_t ef_search = 0;         // as in QueryOptions
  bool rerank = false;
  size_t token_budget = 0;      // 0: no budget; else passages whose tokens fit (in rank order)
  // Tokens of a passage as the answering model counts them (default: bytes / 4, rounded up).
  std::function<size_t(const std::string&)> count_tokens = {};
};

struct Passage {
  int n = 0;                 // its number in the prompt: [n]
  Hit hit;                   // document, title, section, page, span, text, scores
  std::vector<int> points;   // indexes of the points (in Analysis::points) that retrieved it
  double rerank = 0;         // the reranker's score (with rerank)
};

// The knowledge-point path. enc may be null (BM25 alone).
std::vector<Passage> retrieve_points(KnowledgeBase& kb, model::BertEncoder* enc, const Analysis& a,
                                     const PointQueryOptions& opts);

// "[1] doc.pdf, page 3, section Install > Linux\n<text>\n\n[2] ..."
std::string passages_block(const std::vector<Passage>& ps);
// Where a passage is: "guide.pdf, page 3, section Install > Linux" (file name, not the full path).
std::string passage_source(const Hit& h);
// What a passage is about, as its prompt line names it: the document's title and the section's
// heading path ("Growing Tomatoes > Watering", "Bicycle Maintenance > Chain", "chmod.1"); the
// section alone when it already starts with the title; the file's stem when there is no title.
std::string passage_label(const Hit& h);
// The user message: the instruction (English or Chinese, by the question's script), the passages
// one per line as "[n] (label) text", the question; as the assistant recipe's grounded data has it.
// The label carries what the chunk's own words may leave out ("Water deeply twice a week" under
// "Growing Tomatoes > Watering").
std::string grounded_prompt(const std::string& question, const std::vector<Passage>& ps);

struct Citation {
  int n = 0;
  const Passage* passage = nullptr;
};
struct CitationCheck {
  std::string answer;             // the answer with citations that point nowhere removed
  std::vector<Citation> cited;    // each valid [n] once, in order of first use
  std::vector<int> unresolved;    // numbers cited that are not a passage
};
// The markers of `answer` (helix::scan_citations, core/citations.h) resolved against the passages' numbers.
CitationCheck check_citations(const std::string& answer, const std::vector<Passage>& ps);

// The answer's citations moved to the passage that holds what the sentence says. A small model
// often copies the right passage's words and then cites its neighbour ("... newline counts [4]" when
// [5] holds it). For each sentence of the answer: its search terms (query_terms: words, CJK
// bigrams) are looked up in every passage; when the best passage holds at least `min_support` of
// them and clearly more (by `margin`) than every passage the sentence cites, the sentence's markers
// are replaced by the best passage's number (a sentence with no marker gets one). Sentences with
// fewer than 3 terms, or that no passage supports, keep their markers.
struct CitationMove {
  std::vector<int> from;  // the sentence's numbers as the model wrote them (empty: none)
  int to = 0;             // the passage that holds it
  double support = 0;     // the share of the sentence's terms in passage `to`
};
struct AlignedCitations {
  std::string answer;
  std::vector<CitationMove> moves;
};
AlignedCitations align_citations(const std::string& answer, const std::vector<Passage>& ps,
                                 double min_support = 0.6, double margin = 0.2);
nlohmann::ordered_json citation_moves_json(const std::vector<CitationMove>& moves);

// {"n", "doc", "title", "section", "page", "char_start", "char_end", "text", "score", "bm25", "vector",
// "chunk_id"} (the fields of `helix kb query --json`), and with `a` the texts of its points
nlohmann::ordered_json passage_json(const Passage& p, const Analysis* a = nullptr);
nlohmann::ordered_json citations_json(const CitationCheck& c);

}  // namespace helix::knowledge
