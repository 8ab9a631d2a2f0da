// helix kb eval NAME QUESTIONS.jsonl: retrieval quality and latency of a knowledge base over a set of
// questions with known answer passages (see knowledge/eval.h), for each retrieval mode.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/default_model.h"
#include "cli/flags.h"
#include "cli/kb_answer.h"
#include "cli/gen_options.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "knowledge/eval.h"
#include "knowledge/grounding.h"
#include "knowledge/points.h"
#include "knowledge/store.h"
#include "model/bert.h"

namespace helix::cli {
namespace {

constexpr const char* kUsage =
               "usage: helix kb eval NAME QUESTIONS.jsonl [options]\n"
               "Runs each question through each retrieval mode and reports recall@5, recall@10, MRR\n"
               "and latency percentiles, overall and per language. QUESTIONS.jsonl: one JSON object per line,\n"
               "{\"q\": question, \"doc\": file name of the answer's document, \"answer\": text the answer passage\n"
               "contains, \"lang\": optional}. A passage is relevant when it is from doc and contains answer.\n"
               "options:\n"
               "  --modes LIST       comma-separated: bm25, vector, hybrid, points (the knowledge-point path\n"
               "                     with the rule analyser, as kb query --points), points-rerank\n"
               "                     (default: bm25,vector,hybrid,points)\n"
               "  -k N               passages retrieved per question (default 10)\n"
               "  --candidates N     per retriever before fusion (default 50)\n"
               "  --rrf-k X          reciprocal rank fusion constant (default 60)\n"
               "  --cjk-vector-weight W  the vectors' fusion weight for CJK questions (default 0.1)\n"
               "  --ef-search N      the vector index's candidate list per search (default 800)\n"
               "  --ann              also the vector index's recall@10 against exact search\n"
               "  --json             one JSON object (metrics, per-question ranks) on stdout\n"
               "  --kb-dir DIR, -m/--embed-model PATH, -t N   as for the other kb commands\n";

struct EvalArgs {
  std::string kb_dir = default_kb_dir(), model, name, questions;
  std::vector<std::string> modes{"bm25", "vector", "hybrid", "points"};
  size_t k = 10, candidates = 50, ef_search = 0;
  double rrf_k = 60, cjk_vector_weight = knowledge::QueryOptions{}.cjk_vector_weight;
  bool json = false, ann = false;
};

bool takes_value(const std::string& s) {
  return s == "--kb-dir" || s == "-m" || s == "--embed-model" || s == "-k" || s == "--mode" || s == "--modes" ||
         s == "--candidates" || s == "-t" || s == "--threads" || s == "--rrf-k" || s == "--cjk-vector-weight" || s == "--ef-search";
}

// Returns false after --help.
bool parse(int argc, char** argv, EvalArgs& a) {
  int64_t k = static_cast<int64_t>(a.k), candidates = static_cast<int64_t>(a.candidates), ef = 0;
  Flags f("helix kb eval", kUsage);
  f.value({"--kb-dir"}, a.kb_dir).value({"-m", "--embed-model"}, a.model).integer({"-k"}, k, 1, 1000);
  f.integer({"--candidates"}, candidates, 1, 100000).list({"--modes"}, a.modes).flag({"--json"}, a.json);
  f.integer({"--ef-search"}, ef, 1, 100000).flag({"--ann"}, a.ann).number({"--rrf-k"}, a.rrf_k, 0, 1e6).number({"--cjk-vector-weight"}, a.cjk_vector_weight, 0, 1);
  f.custom({"-t", "--threads"}, [](const std::string& flag, const std::string& v) {
    ThreadPool::set_global_threads(static_cast<int>(int_flag(flag, v, 1, 1024)));
  });
  if (!f.parse(argc, argv)) return false;
  a.k = static_cast<size_t>(k);
  a.candidates = static_cast<size_t>(candidates);
  a.ef_search = static_cast<size_t>(ef);
  HELIX_CHECK(!a.modes.empty(), "--modes needs at least one of bm25, vector, hybrid, points, points-rerank");
  for (const auto& m : a.modes)
    HELIX_CHECK(m == "bm25" || m == "vector" || m == "hybrid" || m == "points" || m == "points-rerank",
                "unknown mode '", m, "' in --modes (use bm25, vector, hybrid, points, points-rerank)");
  std::vector<std::string> pos = f.positional();
  if (!pos.empty() && pos[0] == "eval") pos.erase(pos.begin());
  HELIX_CHECK(pos.size() == 2, "kb eval takes NAME QUESTIONS.jsonl (see helix kb eval --help)");
  a.name = pos[0];
  a.questions = pos[1];
  return true;
}

// "[####....] mode 120/223  41.3 q/s  ETA 2 s" on a terminal, redrawn in place.
void progress(const std::string& mode, size_t done, size_t total, double seconds) {
  if (!isatty(STDERR_FILENO)) return;
  const int width = 20, fill = total ? static_cast<int>(width * done / total) : width;
  const double rate = seconds > 0 ? done / seconds : 0;
  std::fprintf(stderr, "\r\033[K[%s%s] %s %zu/%zu  %.1f q/s  ETA %.0f s", std::string(fill, '#').c_str(),
               std::string(width - fill, '.').c_str(), mode.c_str(), done, total, rate,
               rate > 0 ? (total - done) / rate : 0.0);
  if (done == total) std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
}

nlohmann::ordered_json stats_json(const knowledge::EvalStats& s) {
  return {{"questions", s.size()},          {"recall_at_5", s.recall_at(5)},
          {"recall_at_10", s.recall_at(10)}, {"mrr", s.mrr()},
          {"latency_ms_p50", s.latency_percentile(50)}, {"latency_ms_p99", s.latency_percentile(99)}};
}

void print_row(const std::string& label, const knowledge::EvalStats& s) {
  std::printf("%-14s %9zu %9.3f %9.3f %7.3f %9.1f %9.1f\n", label.c_str(), s.size(), s.recall_at(5), s.recall_at(10),
              s.mrr(), s.latency_percentile(50), s.latency_percentile(99));
}

}  // namespace

std::string kb_subcommand(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string s = argv[i];
    if (takes_value(s)) ++i;
    else if (s.empty() || s[0] != '-') return s;
  }
  return "";
}

int cmd_kb_eval(int argc, char** argv) {
  EvalArgs a;
  if (!parse(argc, argv, a)) return 0;
  const auto questions = knowledge::load_questions(a.questions);
  auto kb = knowledge::KnowledgeBase::open(a.kb_dir, a.name);
  auto enc = model::BertEncoder::load(resolve_embed_model_path(a.model));
  kb->check_encoder(*enc);

  nlohmann::ordered_json out = {{"kb", a.name}, {"chunks", kb->chunk_count()}, {"questions", questions.size()},
                                {"k", a.k}, {"modes", nlohmann::ordered_json::object()}};
  if (!a.json)
    std::printf("%-14s %9s %9s %9s %7s %9s %9s\n", "mode", "questions", "recall@5", "recall@10", "MRR", "p50 ms",
                "p99 ms");
  for (const auto& mode : a.modes) {
    const bool points = mode == "points" || mode == "points-rerank";
    knowledge::QueryOptions o;
    o.k = a.k;
    o.candidates = a.candidates;
    o.rrf_k = a.rrf_k;
    o.cjk_vector_weight = a.cjk_vector_weight;
    o.ef_search = a.ef_search;
    if (!points) o.mode = knowledge::parse_retrieval_mode(mode);
    knowledge::PointQueryOptions po;
    po.k = a.k;
    po.rrf_k = a.rrf_k;
    po.cjk_vector_weight = a.cjk_vector_weight;
    po.ef_search = a.ef_search;
    po.rerank = mode == "points-rerank";
    size_t done = 0;
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = knowledge::evaluate(questions, [&](const std::string& q, size_t) {
      std::vector<knowledge::Hit> hits;
      if (points) {
        for (auto& p : knowledge::retrieve_points(*kb, enc.get(), knowledge::analyse_rules(q), po))
          hits.push_back(std::move(p.hit));
      } else {
        hits = knowledge::retrieve(*kb, enc.get(), q, o);
      }
      progress(mode, ++done, questions.size(),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      return hits;
    }, a.k);
    nlohmann::ordered_json m = stats_json(r.all);
    m["by_lang"] = nlohmann::ordered_json::object();
    for (const auto& [lang, s] : r.by_lang) m["by_lang"][lang.empty() ? "-" : lang] = stats_json(s);
    m["ranks"] = r.all.ranks;
    out["modes"][mode] = m;
    if (a.json) continue;
    print_row(mode, r.all);
    if (r.by_lang.size() > 1)
      for (const auto& [lang, s] : r.by_lang) print_row("  " + (lang.empty() ? "-" : lang), s);
  }
  if (a.ann) {
    std::vector<std::vector<float>> qv;
    for (const auto& q : questions) qv.push_back(enc->embed_tokens({enc->tokenize(q.q)})[0]);
    const double recall = knowledge::ann_recall(*kb, qv, 10, a.ef_search);
    out["ann_recall_at_10"] = recall;
    out["ef_search"] = a.ef_search ? a.ef_search : kb->vectors().params().ef_search;
    if (!a.json) std::printf("vector index recall@10 against exact search: %.4f\n", recall);
  }
  if (a.json) std::printf("%s\n", out.dump(2).c_str());
  return 0;
}

}  // namespace helix::cli
