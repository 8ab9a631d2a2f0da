// Questions about a document set, answered from its own passages with [n] citations.
//
// Retrieval runs over a knowledge base (src/knowledge: FTS5 BM25 + MiniLM vectors, fused) built
// from the files once and kept in the cache folder, keyed by the files' hashes. Every prompt
// starts with the same text: the instructions and the pinned passages (the start of each
// document and its outline). The serving engine keeps the KV blocks of that prefix in its slot
// (the prefix cache), so a follow-up question computes only its own passages and question.
// Multi-turn: earlier questions and answers stay in the conversation (without their passages).
//
//   DocQA qa(backend, corpus, *kb, &encoder, {});
//   Answer a = qa.ask("What did the audit find?");   // a.text cites [n] -> a.passages[n-1]
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "chatfile/backend.h"
#include "chatfile/corpus.h"
#include "knowledge/retrieval.h"
#include "knowledge/store.h"

namespace helix::model {
class BertEncoder;
}

namespace helix::chatfile {

struct QaOptions {
  size_t k = 5;  // retrieved passages per question
  knowledge::RetrievalMode mode = knowledge::RetrievalMode::Hybrid;
  size_t pinned_tokens = 400;  // of each document's start (estimated tokens)
  int64_t answer_tokens = 256;
  size_t history_turns = 3;  // earlier question/answer pairs kept
  // Runs the retrieval (the server runs it between engine steps, as the embedding model shares the
  // kernels' threads with generation); default: here.
  std::function<void(const std::function<void()>&)> run_retrieval;
};

struct Passage {
  int n = 0;  // its [n]
  std::string where;  // file, page, section
  std::string text;
  bool pinned = false;
};

struct Answer {
  std::string question, text;  // text: the answer, grounded in the passages (see DocQA::ask)
  std::string raw;             // what the model wrote
  std::vector<Passage> passages;  // every passage the model was shown, by n
  std::vector<int> cited;         // the valid [n] in the text, in order of first use
  std::vector<int> invalid;       // [n] naming no passage
  Reply reply;                    // tokens and timing (cached_tokens: the reused prefix)
  ojson to_json() const;
};

class DocQA {
 public:
  DocQA(Backend& b, const Corpus& c, knowledge::KnowledgeBase& kb, model::BertEncoder* enc, QaOptions o = {});
  // Answers from the passages. The model's sentences are kept only when the passages support them
  // (each gets a citation); when none is left (small base models echo their prompt), the answer is
  // the passage sentence sharing most words with the question, cited. on_text streams the model.
  Answer ask(const std::string& question, const std::function<void(const std::string&)>& on_text = {});
  void reset() { history_.clear(); }
  // The prompt's fixed start: instructions + pinned passages.
  const std::string& prefix() const { return prefix_; }

 private:
  Backend& b_;
  const Corpus& c_;
  knowledge::KnowledgeBase& kb_;
  model::BertEncoder* enc_;
  QaOptions o_;
  std::string prefix_;
  std::vector<Passage> pinned_;
  std::vector<std::pair<std::string, std::string>> history_;  // (question, answer)
};

// The knowledge base of the corpus's files under root (created and filled on first use; the
// files' hashes name it, so a changed file gets a new one). on_file(i, n) reports progress.
std::unique_ptr<knowledge::KnowledgeBase> open_index(const std::string& root, const Corpus& c,
                                                     model::BertEncoder& enc,
                                                     const std::function<void(size_t, size_t)>& on_embed = {});

// The [n] citations in a text (also [1, 2], [1][2], [1-3] and full-width 【1】), in order of first
// use (scan_citations, core/citations.h).
std::vector<int> citations_in(const std::string& text);

}  // namespace helix::chatfile
