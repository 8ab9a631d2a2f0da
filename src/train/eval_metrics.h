// Metrics for held-out evaluation sets (recipe.h names them): a generated answer is scored
// against the reference answer of its record and the record's `meta`:
//   format_valid      the answer has the form meta.format asks for:
//                       "json" (one JSON value), "list" (lines starting "- "), "number" (one number),
//                       "label" (one of meta.labels), "citations" (text with at least one [n], or
//                       meta.citations empty), "tool_call" (<tool_call>{"name", "arguments"}</tool_call>
//                       with a name from meta.tools when given), "regex" (the whole answer, trimmed,
//                       matches meta.pattern, ECMAScript syntax), "text" (non-empty)
//   exact_match       the answer equals the reference after normalisation (trim, collapse
//                       whitespace, ASCII case, a final "." or "。"); "json" compares parsed values,
//                       "tool_call" compares the parsed calls (names and arguments), "citations"
//                       compares the text with its [n] markers removed
//   citation_correct  the set of [n] cited equals meta.citations (all within 1..meta.n_passages);
//                       an empty gold set means the answer must cite nothing
// `loss` (mean loss on the eval set's assistant tokens) is the trainer's, not computed here.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace helix::train {

std::string normalize_answer(const std::string& s);
// The tool calls in a model's answer: [{"name": ..., "arguments": {...}}, ...]; null when the
// answer is not (only) tool calls. Also reads a JSON array of such objects (a reference).
nlohmann::ordered_json parse_tool_calls(const std::string& text);

bool format_valid(const std::string& answer, const nlohmann::ordered_json& meta);
bool exact_match(const std::string& answer, const std::string& reference, const nlohmann::ordered_json& meta);
bool citation_correct(const std::string& answer, const nlohmann::ordered_json& meta);

// Sums of per-answer scores for one eval set; report() gives {"metric": fraction, ..., "n": N}.
class MetricTotals {
 public:
  explicit MetricTotals(std::vector<std::string> metrics) : metrics_(std::move(metrics)) {}
  void add(const std::string& answer, const std::string& reference, const nlohmann::ordered_json& meta);
  nlohmann::ordered_json report() const;

 private:
  std::vector<std::string> metrics_;
  int64_t n_ = 0, fmt_ = 0, exact_ = 0, cite_ = 0, cite_n_ = 0;
};

class SampleRenderer;
struct EvalSet;

// Generates an answer for prompt tokens (greedy, at most max_new_tokens, stopping at end of turn)
// and returns its text without the end-of-turn token: the trainer's or the runtime's generator.
using GenerateFn = std::function<std::string(const std::vector<int32_t>& prompt, int64_t max_new_tokens)>;

// Scores an eval set's answer metrics (all but `loss`): for the first max_samples records of
// set.path (0: all), the prompt is the conversation before its last assistant turn and the
// reference is that turn (rendered by `r`). Returns MetricTotals::report(); an unreadable file or
// a bad record throws helix::Error naming file and line.
nlohmann::ordered_json evaluate_answers(const EvalSet& set, const SampleRenderer& r, const GenerateFn& generate);
// The same in two parts, so that a caller evaluating many times reads and renders the set once:
// the prompts, references and metas of the first max_samples records, then their scores.
struct AnswerItem {
  std::vector<int32_t> prompt;
  std::string reference;
  nlohmann::ordered_json meta;
};
std::vector<AnswerItem> load_answer_items(const EvalSet& set, const SampleRenderer& r);
nlohmann::ordered_json score_answers(const EvalSet& set, const std::vector<AnswerItem>& items, const GenerateFn& generate);

}  // namespace helix::train
