// Best-of-N with a reward model (see rerank.h): the request's fields, and the pipeline step that
// waits for the N candidates, scores them between engine steps and passes the best on.
#include "server/rerank.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"
#include "server/pipeline.h"

namespace helix::server {

namespace {

ApiError bad(const char* param, const std::string& msg) {
  return ApiError{400, msg, "invalid_request_error", param, "invalid_value"};
}

std::string names_of(const ReplyScorers& s) {
  std::string out;
  for (const auto& [name, sc] : s) out += (out.empty() ? "'" : ", '") + name + "'";
  return out;
}

}  // namespace

BestOf parse_best_of(const ojson& body, const ReplyScorers& scorers, int n) {
  BestOf b;
  auto get = [&](const char* key) -> const ojson* {
    auto it = body.find(key);
    return it == body.end() || it->is_null() ? nullptr : &*it;
  };
  const ojson *v = get("best_of"), *rm = get("reward_model"), *w = get("aspect_weights");
  if (!v) {
    if (rm || w) throw bad(rm ? "reward_model" : "aspect_weights", "goes with 'best_of': N (the replies to rerank)");
    return b;
  }
  if (!v->is_number_integer() || v->get<int64_t>() < 1 || v->get<int64_t>() > 16)
    throw bad("best_of", cat("must be an integer from 1 to 16, got ", v->dump()));
  if (v->get<int64_t>() == 1 && !rm && !w) return b;  // one sample: nothing to rerank (OpenAI's default)
  if (scorers.empty())
    throw bad("best_of", "this server has no reward model to rerank with; start helix serve with --rm NAME=FILE "
                         "(a reward model made by helix rm train)");
  if (rm && !rm->is_string()) throw bad("reward_model", "must be a string naming a reward model");
  if (!rm && scorers.size() > 1)
    throw bad("reward_model", cat("this server has several reward models; name one of ", names_of(scorers)));
  b.rm = rm ? rm->get<std::string>() : scorers.begin()->first;
  auto it = scorers.find(b.rm);
  if (it == scorers.end())
    throw bad("reward_model", cat("no reward model '", b.rm, "' is loaded; this server has ", names_of(scorers)));
  b.scorer = it->second;
  b.n = static_cast<int>(v->get<int64_t>());
  b.choices = n;
  if (n > b.n) throw bad("n", cat("'n' (", n, ") must not exceed 'best_of' (", b.n, "): the n best of best_of are returned"));
  if (w) {
    if (!w->is_object() || w->empty()) throw bad("aspect_weights", "must be an object of aspect: weight");
    const auto aspects = b.scorer->response_aspects();
    double sum = 0;
    for (const auto& [aspect, x] : w->items()) {
      if (std::find(aspects.begin(), aspects.end(), aspect) == aspects.end()) {
        std::string known;
        for (const auto& a : aspects) known += (known.empty() ? "" : ", ") + a;
        throw bad("aspect_weights", cat("reward model '", b.rm, "' has no response-level aspect '", aspect,
                                        "'; its aspects are: ", known));
      }
      if (!x.is_number() || !(x.get<double>() >= 0) || !std::isfinite(x.get<double>()))
        throw bad("aspect_weights", cat("the weight of '", aspect, "' must be a number >= 0"));
      b.weights[aspect] = x.get<double>();
      sum += x.get<double>();
    }
    if (!(sum > 0)) throw bad("aspect_weights", "at least one weight must be above 0");
  }
  return b;
}

double rank_score(const BestOf& b, const ReplyScorer& s, const ojson& scores) {
  double sum = 0, wsum = 0;
  for (const auto& a : s.response_aspects()) {
    const double w = b.weights.empty() ? 1.0 : (b.weights.count(a) ? b.weights.at(a) : 0.0);
    if (w == 0 || !scores.contains(a) || !scores[a].is_number()) continue;
    sum += w * scores[a].get<double>();
    wsum += w;
  }
  return wsum > 0 ? sum / wsum : -std::numeric_limits<double>::infinity();
}

std::shared_ptr<Channel> Pipeline::rerank(Generation& g, Channel& ch, const std::function<bool()>& alive) {
  const BestOf& b = g.best_of;
  const auto N = static_cast<size_t>(g.spec.n);
  std::vector<Event> ends(N);
  std::vector<std::string> texts(N);
  std::vector<std::vector<TokenLogprob>> lps(N);
  for (size_t left = N; left > 0;) {
    Event e;
    if (!ch.pop(e, std::chrono::milliseconds(200))) {
      if (alive && !alive()) {
        ch.cancel();
        return nullptr;
      }
      continue;
    }
    const auto k = static_cast<size_t>(e.index);
    texts[k] += e.text;
    for (auto& lp : e.logprobs) lps[k].push_back(std::move(lp));
    if (e.done) ends[k] = std::move(e), --left;
  }
  auto out = std::make_shared<Channel>();
  const int n = b.choices;
  g.spec.n = n;
  g.texts.assign(static_cast<size_t>(n), "");
  int64_t all_tokens = 0;
  for (const Event& e : ends) all_tokens += e.completion_tokens;
  for (const Event& e : ends)
    if (!e.error.empty()) {  // a failed candidate fails the request, as a failed choice does
      for (int i = 0; i < n; ++i) {
        Event f = e;
        f.index = i;
        f.completion_tokens = i == 0 ? all_tokens : 0;
        out->push(std::move(f));
      }
      return out;
    }
  // The record the reward model reads: the conversation the model answered (after the hooks), or
  // the completion prompt as a user turn.
  ojson record;
  if (g.chat) {
    record = {{"messages", g.messages}};
  } else {
    const ojson& p = (*g.request)["prompt"];
    record = {{"prompt", p.is_string() ? p.get<std::string>() : eng_.tokenizer().decode(g.spec.gen.prompt)}};
  }
  std::vector<ojson> scores(N);
  std::vector<double> rank(N, -std::numeric_limits<double>::infinity());
  for (size_t k = 0; k < N; ++k) {
    if (texts[k].find_first_not_of(" \t\r\n") == std::string::npos) continue;  // nothing to score
    try {  // one candidate per turn: running streams get a step between two candidates
      eng_.run_between_steps([&] { scores[k] = b.scorer->score(record, texts[k]); });
    } catch (const std::exception& ex) {
      throw ApiError{500, cat("reward model '", b.rm, "' failed to score candidate ", k, ": ", ex.what()), "server_error",
                     "", ""};
    }
    rank[k] = rank_score(b, *b.scorer, scores[k]);
  }
  std::vector<size_t> order(N);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t c) { return rank[a] > rank[c]; });
  ojson cands = ojson::array(), chosen = ojson::array();
  for (size_t k = 0; k < N; ++k) {
    const std::string& r = ends[k].finish_reason;
    cands.push_back({{"index", k},
                     {"text", texts[k]},
                     {"finish_reason", r == "timeout" ? std::string("length") : r},
                     {"score", std::isfinite(rank[k]) ? ojson(rank[k]) : ojson(nullptr)},
                     {"scores", scores[k].is_null() ? ojson(nullptr) : scores[k]}});
  }
  g.choice_fields.assign(static_cast<size_t>(n), ojson::object());
  for (int i = 0; i < n; ++i) {
    const size_t k = order[static_cast<size_t>(i)];
    chosen.push_back(k);
    g.choice_fields[static_cast<size_t>(i)]["scores"] = scores[k].is_null() ? ojson(nullptr) : scores[k];
    Event e = ends[k];
    e.index = i;
    e.text = texts[k];
    e.logprobs = std::move(lps[k]);
    e.completion_tokens = i == 0 ? all_tokens : 0;  // usage counts every candidate generated
    out->push(std::move(e));
  }
  g.extra["best_of"] = {{"reward_model", b.rm}, {"chosen", chosen}, {"candidates", cands}};
  return out;
}

}  // namespace helix::server
