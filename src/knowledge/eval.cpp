// Retrieval evaluation (see eval.h).
#include "knowledge/eval.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <queue>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/files.h"
#include "knowledge/store.h"

namespace helix::knowledge {
namespace {

std::string without_space(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s)
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v') out += c;
  return out;
}

std::string field(const nlohmann::json& j, const char* key, bool required, const std::string& where) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    HELIX_CHECK(!required, where, ": no \"", key, "\" (each line needs \"q\", \"doc\" and \"answer\")");
    return "";
  }
  return it->is_string() ? it->get<std::string>() : it->dump();
}

}  // namespace

std::vector<EvalQuestion> load_questions(const std::string& path) {
  const std::string text = read_file(path, "questions file");
  std::istringstream in(text);
  std::vector<EvalQuestion> out;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = cat(path, ":", n);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const std::exception& e) {
      throw Error(cat(where, ": not JSON (", e.what(), ")"));
    }
    HELIX_CHECK(j.is_object(), where, ": each line must be a JSON object");
    EvalQuestion q;
    q.q = field(j, "q", true, where);
    q.doc = field(j, "doc", true, where);
    q.answer = field(j, "answer", true, where);
    q.id = field(j, "id", false, where);
    q.lang = field(j, "lang", false, where);
    q.kind = field(j, "kind", false, where);
    if (q.id.empty()) q.id = std::to_string(out.size() + 1);
    HELIX_CHECK(!without_space(q.answer).empty(), where, ": \"answer\" is empty");
    out.push_back(std::move(q));
  }
  HELIX_CHECK(!out.empty(), path, ": no questions");
  return out;
}

bool relevant(const Hit& h, const EvalQuestion& q) {
  const bool same_doc = h.doc == q.doc || (h.doc.size() > q.doc.size() && h.doc.compare(h.doc.size() - q.doc.size(),
                                                                                           q.doc.size(), q.doc) == 0 &&
                                           h.doc[h.doc.size() - q.doc.size() - 1] == '/');
  return same_doc && without_space(h.text).find(without_space(q.answer)) != std::string::npos;
}

void EvalStats::add(int rank, double ms) {
  ranks.push_back(rank);
  latency_ms.push_back(ms);
}

double EvalStats::recall_at(int k) const {
  if (ranks.empty()) return 0;
  const auto n = std::count_if(ranks.begin(), ranks.end(), [&](int r) { return r > 0 && r <= k; });
  return static_cast<double>(n) / static_cast<double>(ranks.size());
}

double EvalStats::mrr() const {
  if (ranks.empty()) return 0;
  double s = 0;
  for (int r : ranks) s += r > 0 ? 1.0 / r : 0;
  return s / static_cast<double>(ranks.size());
}

double EvalStats::latency_percentile(double p) const {
  if (latency_ms.empty()) return 0;
  std::vector<double> v = latency_ms;
  std::sort(v.begin(), v.end());
  const double rank = std::ceil(p / 100.0 * static_cast<double>(v.size()));
  const size_t i = static_cast<size_t>(std::clamp(rank, 1.0, static_cast<double>(v.size()))) - 1;
  return v[i];
}

EvalResult evaluate(const std::vector<EvalQuestion>& questions, const Retriever& retriever, size_t k) {
  EvalResult r;
  for (const auto& q : questions) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<Hit> hits = retriever(q.q, k);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    int rank = 0;
    for (size_t i = 0; i < hits.size() && i < k && !rank; ++i)
      if (relevant(hits[i], q)) rank = static_cast<int>(i + 1);
    r.all.add(rank, ms);
    r.by_lang[q.lang].add(rank, ms);
  }
  return r;
}

double ann_recall(KnowledgeBase& kb, const std::vector<std::vector<float>>& queries, size_t k, size_t ef) {
  if (queries.empty() || k == 0) return 0;
  std::vector<int64_t> ids;
  std::vector<float> all;
  size_t dim = 0;
  Stmt q(kb.db(), "SELECT id, embedding FROM chunks");
  while (q.step()) {
    const std::vector<float> v = q.floats(1);
    if (!dim) dim = v.size();
    HELIX_CHECK(v.size() == dim, "chunk ", q.i64(0), " has a ", v.size(), "-value embedding, the others ", dim);
    ids.push_back(q.i64(0));
    all.insert(all.end(), v.begin(), v.end());
  }
  double sum = 0;
  for (const auto& qv : queries) {
    HELIX_CHECK(qv.size() == dim, "query embedding has ", qv.size(), " values, the base ", dim);
    // exact: the k largest inner products (embeddings are L2-normalized, so cosine)
    using Entry = std::pair<float, int64_t>;
    std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> best;
    for (size_t i = 0; i < ids.size(); ++i) {
      const float* e = all.data() + i * dim;
      float s = 0;
      for (size_t d = 0; d < dim; ++d) s += e[d] * qv[d];
      best.emplace(s, ids[i]);
      if (best.size() > k) best.pop();
    }
    std::vector<int64_t> exact;
    for (; !best.empty(); best.pop()) exact.push_back(best.top().second);
    const auto approx = kb.vectors().search(qv, k, ef);
    size_t found = 0;
    for (const auto& [id, sim] : approx) found += std::count(exact.begin(), exact.end(), id);
    sum += exact.empty() ? 1.0 : static_cast<double>(found) / static_cast<double>(exact.size());
  }
  return sum / static_cast<double>(queries.size());
}

}  // namespace helix::knowledge
