// What `helix ask` and `helix kb query --points` share: where knowledge bases live, the model that
// answers (default model, with the installed assistant adapter unless --no-adapter), the
// model-based knowledge-point analyser run on it, and the grounded answer itself.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "cli/gen_options.h"
#include "knowledge/grounding.h"
#include "knowledge/points.h"
#include "runtime/session.h"

namespace helix::cli {

// $XDG_DATA_HOME/helix/kb, i.e. ~/.local/share/helix/kb by default.
std::string default_kb_dir();

// The generative model for analysing and answering.
struct AnswerModel {
  Loaded loaded;
  std::string chat_template;
  std::string adapter;  // the assistant adapter applied ("" when none)
  std::unique_ptr<runtime::Session> session;
};
// Loads o.model (default: the installed default model). Adapters given with --lora are applied
// instead of the installed assistant adapter; without them and with use_adapter, the installed one
// (installed_assistant_adapter()) is applied when it exists. `adapter` names the first applied.
AnswerModel load_answer_model(GenOptions o, bool use_adapter);

// Runs the model on one user message (through its chat template); on_text gets the text as it
// becomes final. The message is cut to fit the context with room for gen.max_tokens.
std::string chat_once(AnswerModel& m, const std::string& user, const runtime::GenerateOptions& gen,
                      const std::function<void(const std::string&)>& on_text = {});

// The model-based analyser bound to `m`: greedy, at most 200 tokens, output under the schema.
knowledge::GenerateJson json_generator(AnswerModel& m);

// Analyses a question with "rules" or "model" (m must be loaded for "model").
knowledge::Analysis analyse_question(const std::string& question, const std::string& analyser, AnswerModel* m);

}  // namespace helix::cli
