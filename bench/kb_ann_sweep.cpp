// The vector index's settings against exact search (issue 15: recall@10 at least 0.95 on a
// 100,000-chunk base). Reads every chunk embedding of a knowledge base (kb.sqlite), embeds the
// evaluation's questions with Helix's encoder, finds each question's exact 10 nearest chunks by
// brute force (the peer, timed in the same run), then builds hnswlib indexes with each graph
// degree M and ef_construction given and, for each ef_search given, measures recall@10 against the
// exact neighbours (overall and per language) and the CPU time per query. The indexes are
// knowledge::VectorIndex, the class the bases use (hnswlib inside), never saved. Not a test.
//
//   build/kb_ann_sweep KB.sqlite QUESTIONS.jsonl EMBED_MODEL [--m 16,32] [--efc 200] [--ef 50,100,200,400]
//                      [--k 10] [--json OUT.json]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <queue>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "knowledge/eval.h"
#include "knowledge/sqlite.h"
#include "knowledge/vector_index.h"
#include "model/bert.h"

using namespace helix;
using ojson = nlohmann::ordered_json;

namespace {

std::vector<size_t> sizes(const std::string& list) {
  std::vector<size_t> out;
  std::stringstream ss(list);
  for (std::string x; std::getline(ss, x, ',');) out.push_back(std::stoul(x));
  HELIX_CHECK(!out.empty(), "empty list '", list, "'");
  return out;
}

double cpu_seconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }
double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Base {
  size_t dim = 0;
  std::vector<int64_t> ids;
  std::vector<float> vecs;  // ids.size() x dim
};

Base load_base(const std::string& path) {
  knowledge::Db db(path);
  knowledge::Stmt q(db, "SELECT id, embedding FROM chunks ORDER BY id");
  Base b;
  while (q.step()) {
    const std::vector<float> v = q.floats(1);
    if (!b.dim) b.dim = v.size();
    HELIX_CHECK(v.size() == b.dim, "chunk ", q.i64(0), " has ", v.size(), " values, the others ", b.dim);
    b.ids.push_back(q.i64(0));
    b.vecs.insert(b.vecs.end(), v.begin(), v.end());
  }
  HELIX_CHECK(!b.ids.empty(), path, ": no chunks");
  return b;
}

// The k largest inner products: indexes into the base.
std::vector<size_t> exact(const Base& b, const std::vector<float>& q, size_t k) {
  using E = std::pair<float, size_t>;
  std::priority_queue<E, std::vector<E>, std::greater<E>> best;
  for (size_t i = 0; i < b.ids.size(); ++i) {
    const float* e = b.vecs.data() + i * b.dim;
    float s = 0;
    for (size_t d = 0; d < b.dim; ++d) s += e[d] * q[d];
    best.emplace(s, i);
    if (best.size() > k) best.pop();
  }
  std::vector<size_t> out;
  for (; !best.empty(); best.pop()) out.push_back(best.top().second);
  return out;
}

}  // namespace

int main(int argc, char** argv) try {
  HELIX_CHECK(argc >= 4, "usage: kb_ann_sweep KB.sqlite QUESTIONS.jsonl EMBED_MODEL [--m 16,32] [--efc 200] "
                         "[--ef 50,100,200,400] [--k 10] [--json OUT]");
  std::vector<size_t> ms = {16, 32}, efcs = {200}, efs = {50, 100, 200, 400};
  size_t k = 10;
  std::string json_out;
  for (int i = 4; i + 1 < argc; i += 2) {
    const std::string f = argv[i], v = argv[i + 1];
    if (f == "--m") ms = sizes(v);
    else if (f == "--efc") efcs = sizes(v);
    else if (f == "--ef") efs = sizes(v);
    else if (f == "--k") k = std::stoul(v);
    else if (f == "--json") json_out = v;
    else throw Error(cat("unknown option ", f));
  }
  const Base b = load_base(argv[1]);
  const auto questions = knowledge::load_questions(argv[2]);
  auto enc = model::BertEncoder::load(argv[3]);
  std::fprintf(stderr, "%zu chunks of %zu values; embedding %zu questions ...\n", b.ids.size(), b.dim, questions.size());
  std::vector<std::vector<float>> qv;
  for (const auto& q : questions) qv.push_back(enc->embed_tokens({enc->tokenize(q.q)})[0]);

  double c0 = cpu_seconds();
  std::vector<std::vector<size_t>> truth;
  for (const auto& q : qv) truth.push_back(exact(b, q, k));
  const double exact_ms = (cpu_seconds() - c0) * 1000 / static_cast<double>(qv.size());
  std::fprintf(stderr, "exact search: %.2f ms CPU per query\n", exact_ms);

  ojson out = {{"chunks", b.ids.size()}, {"dim", b.dim}, {"questions", qv.size()}, {"k", k},
               {"exact_cpu_ms_per_query", exact_ms}, {"runs", ojson::array()}};
  std::printf("| M | ef_construction | build CPU s | ef_search | recall@%zu | English | Chinese | CPU ms/query | x exact |\n", k);
  std::printf("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  for (size_t m : ms)
    for (size_t efc : efcs) {
      knowledge::HnswParams hp;
      hp.m = m;
      hp.ef_construction = efc;
      knowledge::VectorIndex index("/nonexistent/kb_ann_sweep.hnsw", static_cast<int>(b.dim), hp);
      c0 = cpu_seconds();
      const double w0 = wall_seconds();
      for (size_t i = 0; i < b.ids.size(); ++i) {
        index.add(static_cast<int64_t>(i), std::vector<float>(b.vecs.begin() + static_cast<std::ptrdiff_t>(i * b.dim),
                                                            b.vecs.begin() + static_cast<std::ptrdiff_t>((i + 1) * b.dim)));
        if (i % 5000 == 4999 || i + 1 == b.ids.size())
          std::fprintf(stderr, "\rM %zu ef_construction %zu: %zu/%zu added, %.0f s", m, efc, i + 1, b.ids.size(),
                       wall_seconds() - w0);
      }
      const double build_s = cpu_seconds() - c0;
      std::fprintf(stderr, "\n");
      for (size_t ef : efs) {
        std::map<std::string, std::pair<double, size_t>> by_lang;  // sum of recalls, questions
        double sum = 0;
        c0 = cpu_seconds();
        std::vector<std::vector<size_t>> found(qv.size());
        for (size_t i = 0; i < qv.size(); ++i)
          for (const auto& [id, sim] : index.search(qv[i], k, ef)) found[i].push_back(static_cast<size_t>(id));
        const double ms_q = (cpu_seconds() - c0) * 1000 / static_cast<double>(qv.size());
        for (size_t i = 0; i < qv.size(); ++i) {
          size_t hit = 0;
          for (size_t x : found[i]) hit += std::count(truth[i].begin(), truth[i].end(), x);
          const double r = static_cast<double>(hit) / static_cast<double>(truth[i].size());
          sum += r;
          auto& l = by_lang[questions[i].lang];
          l.first += r, ++l.second;
        }
        const double recall = sum / static_cast<double>(qv.size());
        auto lang = [&](const char* code) {
          const auto it = by_lang.find(code);
          return it == by_lang.end() ? -1.0 : it->second.first / static_cast<double>(it->second.second);
        };
        std::printf("| %zu | %zu | %.0f | %zu | %.4f | %.4f | %.4f | %.3f | %.3f |\n", m, efc, build_s, ef, recall,
                    lang("en"), lang("zh"), ms_q, ms_q / exact_ms);
        std::fflush(stdout);
        out["runs"].push_back({{"m", m}, {"ef_construction", efc}, {"build_cpu_s", build_s}, {"ef_search", ef},
                               {"recall", recall}, {"recall_en", lang("en")}, {"recall_zh", lang("zh")},
                               {"cpu_ms_per_query", ms_q}, {"ratio_to_exact", ms_q / exact_ms}});
      }
    }
  if (!json_out.empty()) std::ofstream(json_out) << out.dump(2) << "\n";
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "kb_ann_sweep: %s\n", e.what());
  return 1;
}
