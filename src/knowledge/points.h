// Knowledge points: a question analysed into what its answer needs — the entities it names, the
// facts to look up, and its sub-questions — so that each can be retrieved on its own (see
// grounding.h). Two analysers:
//   - rules (no model): quoted phrases, titles (《》), capitalised runs, acronyms, versions and
//     identifiers as entities; runs of content words between stop words as facts; clauses that
//     ask something of their own as sub-questions. English and Chinese (CJK runs split at
//     question and function words).
//   - model: the model writes the analysis as JSON under a JSON Schema (the grammar engine makes
//     it valid by construction); the caller runs the model, this file builds the prompt and the
//     schema and reads the reply.
//
//   Analysis a = analyse_rules("What does the GPL say about patents and how do I comply?");
//   // entities: GPL; facts: "gpl", "patents", "comply"; sub-questions: "What does the GPL say
//   // about patents", "how do I comply"
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace helix::knowledge {

struct KnowledgePoint {
  enum Kind { Entity, Fact, SubQuestion } kind = Fact;
  std::string text;
};
const char* point_kind_name(KnowledgePoint::Kind k);  // "entity", "fact", "sub_question"

struct Analysis {
  std::string question;
  std::string analyser;  // "rules" or "model"
  std::vector<KnowledgePoint> points;
};

// The rule-based analyser (English, Chinese and mixed text). At most `max_points` points.
Analysis analyse_rules(const std::string& question, size_t max_points = 8);

// The model-based analyser. `generate(prompt, schema)` runs the model on the user message
// `prompt` (through its chat template) with output constrained to the JSON Schema `schema`,
// and returns the JSON text. A reply that cannot be read (or names no point) falls back to the
// rule-based analysis, with analyser "rules (model reply unusable)".
using GenerateJson = std::function<std::string(const std::string& prompt, const nlohmann::ordered_json& schema)>;
Analysis analyse_with_model(const std::string& question, const GenerateJson& generate, size_t max_points = 8);
// Its parts, for tests and for callers that run the model themselves.
const nlohmann::ordered_json& analysis_schema();
std::string analysis_prompt(const std::string& question);
// Reads the model's JSON reply; throws helix::Error when it is not an object of the schema.
Analysis parse_model_analysis(const std::string& question, const std::string& json_text, size_t max_points = 8);

// {"question", "analyser", "points": [{"kind", "text"}]}
nlohmann::ordered_json analysis_json(const Analysis& a);

}  // namespace helix::knowledge
