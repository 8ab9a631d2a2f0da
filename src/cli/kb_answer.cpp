// Shared by helix ask and helix kb query --points (see kb_answer.h).
#include "cli/kb_answer.h"

#include <cstdio>
#include <cstdlib>

#include "cli/default_model.h"
#include "core/error.h"
#include "grammar/grammar.h"
#include "grammar/token_matcher.h"

namespace helix::cli {

std::string default_kb_dir() {
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) return std::string(x) + "/helix/kb";
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.local/share/helix/kb";
}

AnswerModel load_answer_model(GenOptions o, bool use_adapter) {
  AnswerModel m;
  const std::string installed = use_installed_adapter(o.lora, use_adapter);
  if (!o.lora.empty()) m.adapter = o.lora.front();
  m.loaded = load_for_generation(o);
  if (!installed.empty())
    std::fprintf(stderr, "using the assistant adapter %s (--no-adapter: without it)\n", installed.c_str());
  m.chat_template = chat_template_of(o, m.loaded);
  m.session = std::make_unique<runtime::Session>(m.loaded.model, m.loaded.tokenizer, o.n_ctx, o.n_batch);
  return m;
}

std::string chat_once(AnswerModel& m, const std::string& user, const runtime::GenerateOptions& gen,
                      const std::function<void(const std::string&)>& on_text) {
  const nlohmann::ordered_json messages = nlohmann::ordered_json::array({{{"role", "user"}, {"content", user}}});
  const std::vector<int32_t> ids = encode_chat(m.chat_template, messages, *m.loaded.tokenizer);
  const int64_t n_ctx = m.session->n_ctx();
  const int64_t room = gen.max_tokens > 0 ? gen.max_tokens : 64;
  HELIX_CHECK(static_cast<int64_t>(ids.size()) + room <= n_ctx, "the prompt has ", ids.size(),
              " tokens and the answer needs room for ", room, " in a context of ", n_ctx,
              "; give fewer or shorter passages (-k, --budget) or a larger context (-c)");
  m.session->set_tokens(ids);
  std::string out;
  m.session->generate(gen, [&](const std::string& t) {
    out += t;
    if (on_text) on_text(t);
  });
  return out;
}

knowledge::GenerateJson json_generator(AnswerModel& m) {
  return [&m](const std::string& prompt, const nlohmann::ordered_json& schema) {
    runtime::GenerateOptions gen;
    gen.max_tokens = 200;
    gen.sampling.temperature = 0;
    gen.sampling.constraint = std::make_shared<grammar::Constraint>(grammar::Constraint{
        grammar::Grammar::from_json_schema(schema), std::make_shared<grammar::Vocabulary>(*m.loaded.tokenizer)});
    return chat_once(m, prompt, gen);
  };
}

knowledge::Analysis analyse_question(const std::string& question, const std::string& analyser, AnswerModel* m) {
  if (analyser == "rules") return knowledge::analyse_rules(question);
  HELIX_CHECK(analyser == "model", "unknown analyser '", analyser, "' (use rules or model)");
  HELIX_CHECK(m, "the model analyser needs the generative model");
  return knowledge::analyse_with_model(question, json_generator(*m));
}

}  // namespace helix::cli
