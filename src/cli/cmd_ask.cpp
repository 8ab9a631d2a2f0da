// helix ask: a cited answer from a knowledge base. The question is analysed into knowledge points,
// each point retrieved (knowledge/grounding.h), the passages numbered [1]..[n] within a token
// budget, and the model answers from them citing [n]; every citation is resolved to its document,
// page or section and text, and citations that point nowhere are removed and reported.
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/default_model.h"
#include "cli/gen_options.h"
#include "cli/kb_answer.h"
#include "core/error.h"
#include "docs/document.h"
#include "knowledge/store.h"
#include "model/bert.h"

namespace helix::cli {
namespace {

using ojson = nlohmann::ordered_json;

constexpr const char* kUsage =
    "usage: helix ask --kb NAME \"question\" [options]\n"
    "  --kb NAME             the knowledge base to answer from (helix kb create/add)\n"
    "  --kb-dir DIR          where bases live (default $XDG_DATA_HOME/helix/kb)\n"
    "  -k N                  passages at most (default 3: knowledge/grounding.h, kAnswerPassages)\n"
    "  --analyser rules|model  how the question is split into knowledge points (default rules;\n"
    "                        model: the model itself, under a JSON Schema)\n"
    "  --show-points         print the knowledge points first\n"
    "  --rerank              rerank passages (embedding cosine with the question + point overlap)\n"
    "  --budget N            tokens of passages at most (default: a third of the context, <= 1500)\n"
    "  --json                one JSON object: answer, citations, unresolved_citations, points, passages\n"
    "  --model-citations     keep the model's [n] as written (default: a sentence whose words another\n"
    "                        passage clearly holds better is re-cited to it; --json lists the moves)\n"
    "  --no-adapter          do not apply the installed assistant adapter\n"
    "  --embed-model PATH    embedding model (default: the installed all-MiniLM-L6-v2)\n"
    "  -m MODEL -n N -c N -t N --temp T --seed S --lora FILE ...  as for helix run (default: the\n"
    "                        installed default model, greedy, at most 400 tokens)\n";

struct AskArgs {
  std::string kb, kb_dir = default_kb_dir(), analyser = "rules", embed_model;
  size_t k = knowledge::kAnswerPassages, budget = 0;
  bool json = false, show_points = false, rerank = false, adapter = true, temp_given = false, n_given = false;
  bool align = true;
};

// Takes ask's own flags out of argv; the rest are generation options.
std::vector<char*> take_ask_flags(int argc, char** argv, AskArgs& a) {
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string s = argv[i];
    auto val = [&]() -> std::string {
      HELIX_CHECK(i + 1 < argc, "option ", s, " needs a value (see --help)");
      return argv[++i];
    };
    if (s == "--kb") a.kb = val();
    else if (s == "--kb-dir") a.kb_dir = val();
    else if (s == "-k") a.k = static_cast<size_t>(int_flag(s, val(), 1, 100));
    else if (s == "--analyser" || s == "--analyzer") a.analyser = val();
    else if (s == "--budget") a.budget = static_cast<size_t>(int_flag(s, val(), 64, 1 << 20));
    else if (s == "--embed-model") a.embed_model = val();
    else if (s == "--json") a.json = true;
    else if (s == "--show-points") a.show_points = true;
    else if (s == "--rerank") a.rerank = true;
    else if (s == "--no-adapter") a.adapter = false;
    else if (s == "--model-citations") a.align = false;
    else {
      a.temp_given |= s == "--temp";
      a.n_given |= s == "-n" || s == "--n-predict";
      rest.push_back(argv[i]);
    }
  }
  HELIX_CHECK(a.analyser == "rules" || a.analyser == "model", "unknown analyser '", a.analyser, "' (use rules or model)");
  return rest;
}

void print_text(const knowledge::Analysis& an, const std::vector<knowledge::Passage>& ps,
                const knowledge::CitationCheck& c, bool show_points) {
  if (show_points) {
    std::printf("Knowledge points (%s):\n", an.analyser.c_str());
    for (const auto& p : an.points) std::printf("  %-12s %s\n", knowledge::point_kind_name(p.kind), p.text.c_str());
    std::printf("\n");
  }
  std::printf("%s\n", c.answer.c_str());
  if (!c.cited.empty()) std::printf("\nSources:\n");
  for (const auto& x : c.cited) {
    const knowledge::Hit& h = x.passage->hit;
    std::string text = h.text.substr(0, 160);
    while (!text.empty() && (static_cast<unsigned char>(text.back()) & 0xC0) == 0x80) text.pop_back();
    if (!text.empty() && static_cast<unsigned char>(text.back()) >= 0xC0) text.pop_back();
    for (char& ch : text) ch = ch == '\n' ? ' ' : ch;
    std::printf("  [%d] %s (chars %lld-%lld)\n      \"%s%s\"\n", x.n, knowledge::passage_source(h).c_str(),
                static_cast<long long>(h.char_begin), static_cast<long long>(h.char_end), text.c_str(),
                text.size() < h.text.size() ? "..." : "");
  }
  for (int n : c.unresolved)
    std::fprintf(stderr, "note: the answer cited [%d], which is not one of the %zu passages; it was removed\n", n, ps.size());
  if (c.cited.empty() && !ps.empty()) std::fprintf(stderr, "note: the answer cites no passage\n");
}

}  // namespace

int cmd_ask(int argc, char** argv) {
  AskArgs a;
  std::vector<char*> rest = take_ask_flags(argc, argv, a);
  GenOptions o;
  if (!parse_gen_options(static_cast<int>(rest.size()), rest.data(), o, kUsage)) return 0;
  HELIX_CHECK(!a.kb.empty(), "no knowledge base: give --kb NAME (helix kb list shows them; see --help)");
  std::string question;
  for (const auto& r : o.rest) question += (question.empty() ? "" : " ") + r;
  HELIX_CHECK(!question.empty(), "no question: helix ask --kb ", a.kb, " \"your question\" (see --help)");
  if (!a.temp_given) o.gen.sampling.temperature = 0;  // grounded answers: greedy unless asked
  if (!a.n_given) o.gen.max_tokens = 400;

  auto kb = knowledge::KnowledgeBase::open(a.kb_dir, a.kb);
  auto enc = model::BertEncoder::load(resolve_embed_model_path(a.embed_model));
  kb->check_encoder(*enc);
  AnswerModel m = load_answer_model(o, a.adapter);
  if (m.adapter.empty() && a.adapter && o.model.empty())
    std::fprintf(stderr, "note: no assistant adapter is installed (%s); the small default model tends to repeat the "
                         "passages rather than answer from them (make the adapter with recipes/assistant)\n",
                 assistant_adapter_install_path().c_str());
  const knowledge::Analysis an = analyse_question(question, a.analyser, &m);
  knowledge::PointQueryOptions q;
  q.k = a.k;
  q.rerank = a.rerank;
  q.token_budget = a.budget ? a.budget : static_cast<size_t>(std::min<int64_t>(1500, o.n_ctx / 3));
  const tok::Tokenizer& tok = *m.loaded.tokenizer;
  q.count_tokens = [&tok](const std::string& s) { return tok.encode(s, false, false).size(); };
  const std::vector<knowledge::Passage> ps = knowledge::retrieve_points(*kb, enc.get(), an, q);

  std::string answer;
  if (ps.empty()) {
    answer = docs::mostly_cjk(question) ? "知识库中没有与这个问题相关的资料。"
                                              : "No passage in the knowledge base matches the question.";
  } else {
    std::fprintf(stderr, "answering from %zu passages ...\n", ps.size());
    answer = chat_once(m, knowledge::grounded_prompt(question, ps), o.gen);
  }
  knowledge::AlignedCitations aligned{answer, {}};
  if (a.align && !ps.empty()) aligned = knowledge::align_citations(answer, ps);
  for (const auto& mv : aligned.moves)
    if (!a.json) std::fprintf(stderr, "note: passage [%d] holds a sentence the model cited %s; it cites [%d] now\n", mv.to,
                              mv.from.empty() ? "nothing for" : cat("as [", mv.from[0], "]").c_str(), mv.to);
  const knowledge::CitationCheck c = knowledge::check_citations(aligned.answer, ps);
  if (!a.json) {
    print_text(an, ps, c, a.show_points);
    return 0;
  }
  ojson passages = ojson::array();
  for (const auto& p : ps) passages.push_back(knowledge::passage_json(p, &an));
  ojson out = {{"question", question},
               {"answer", c.answer},
               {"citations", knowledge::citations_json(c)},
               {"unresolved_citations", c.unresolved},
               {"raw_answer", answer},
               {"citation_moves", knowledge::citation_moves_json(aligned.moves)},
               {"kb", a.kb},
               {"model", m.loaded.path},
               {"adapter", m.adapter.empty() ? ojson(nullptr) : ojson(m.adapter)},
               {"analysis", knowledge::analysis_json(an)},
               {"passages", passages}};
  std::printf("%s\n", out.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace).c_str());
  return 0;
}

}  // namespace helix::cli
