// Long documents through a short context: hierarchical map-reduce. The map step runs one prompt
// per unit of the corpus (all of them handed to the backend at once, which runs several
// sequences per forward step); for summaries the reduce step then combines partial summaries in
// groups that fit a token budget, level after level, until one is left. Topics, key points and
// minutes are JSON per unit (grammar-constrained, so every reply parses) merged in code: similar
// topics are joined, repeated points, decisions and action items dropped; their overall summary
// is a reduce over the per-unit topic summaries.
//
// Every finished part is stored in the PartCache as soon as it arrives, so a killed run
// resumes: the next run takes the stored parts and only computes the rest.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>

#include "chatfile/backend.h"
#include "chatfile/cache.h"
#include "chatfile/corpus.h"
#include "chatfile/prompts.h"

namespace helix::chatfile {

struct Progress {
  std::string phase;  // "map", "reduce 1", ...
  size_t done = 0, total = 0, cached = 0;  // parts of this phase (cached: taken from disk)
  double tokens_per_s = 0;  // prompt + generated tokens computed per second in this run
  double eta_s = -1;        // < 0: unknown yet
};

struct JobOptions {
  int64_t summary_tokens = 256;   // reply budget of each partial and of the final summary
  int64_t map_json_tokens = 512;  // reply budget of one unit's JSON
  size_t map_input_tokens = 500;      // a unit is cut to its most salient sentences within this (salient.h)
  size_t reduce_input_tokens = 2400;  // partial summaries per reduce prompt (estimated tokens)
  const PartCache* cache = nullptr;   // null: nothing kept
  std::function<void(const Progress&)> on_progress;
};

struct Result {
  Task task = Task::Summary;
  std::string title;
  Lang lang = Lang::En;
  std::string summary;
  ojson topics = ojson::array();        // [{title, summary, sources: [where]}]
  ojson key_points = ojson::array();    // [{text, source}]
  ojson decisions = ojson::array();     // [{text, source}]
  ojson action_items = ojson::array();  // [{task, owner, due, source}]
  // Work done.
  size_t units = 0, parts = 0, cached_parts = 0, levels = 0;
  int64_t prompt_tokens = 0, completion_tokens = 0;
  double seconds = 0;

  ojson to_json() const;  // minutes: matches schemas/minutes.schema.json
  std::string to_markdown() const;
};

Result run_task(Backend& b, const Corpus& c, Task t, const JobOptions& opt);

// The corpus's title: the first document's, or "N documents".
std::string corpus_title(const Corpus& c);
// A model's summary made presentable: at most max_sentences of its sentences, without markers
// and headings. A sentence counts when it is long enough, not a repeat, and grounded in `source` (at least
// 60% of its words / CJK character pairs occur there: invented facts and echoed instructions go).
std::string clean_summary(const std::string& text, const std::string& source, size_t max_sentences);
// The words and CJK character pairs of a text, and whether a sentence's are mostly among them.
std::set<std::string> source_grams(const std::string& text);
bool grounded(const std::string& sentence, const std::set<std::string>& source, double min_share);
// How alike two short texts are: Jaccard overlap of their character bigrams (case-folded,
// punctuation and spaces ignored), 0..1.
double similarity(const std::string& a, const std::string& b);

}  // namespace helix::chatfile
