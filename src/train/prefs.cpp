// Preference pairs and the preference objective (see prefs.h).
#include "train/prefs.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "io/gguf.h"

namespace helix::train {

using ojson = nlohmann::ordered_json;

namespace {

// An answer as a list of messages: text, one assistant message, or a list ending with the assistant.
ojson answer_messages(const ojson& v, const char* key) {
  if (v.is_string()) {
    if (v.get<std::string>().find_first_not_of(" \t\r\n") == std::string::npos) throw BadData(cat("'", key, "' is empty"));
    const ojson msg = {{"role", "assistant"}, {"content", v}};
    return ojson::array({msg});
  }
  ojson m = v.is_object() ? ojson::array({v}) : v;
  if (!m.is_array() || m.empty())
    throw BadData(cat("'", key, "' must be the answer's text, an assistant message or a list of messages"));
  if (!m.back().is_object() || m.back().value("role", "") != "assistant")
    throw BadData(cat("'", key, "' must end with an assistant message"));
  return m;
}

// Keeps the loss on the sample's last assistant turn only (earlier turns belong to the prompt).
void keep_last_answer(Sample& s) {
  size_t j = s.loss.size();
  while (j > 0 && !s.loss[j - 1]) --j;
  while (j > 0 && s.loss[j - 1]) --j;
  std::fill(s.loss.begin(), s.loss.begin() + static_cast<std::ptrdiff_t>(j), 0);
}

double softplus(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }
double sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x)); }

std::string fnv1a(const std::vector<std::vector<float>>& vs) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const auto& v : vs) {
    const auto* p = reinterpret_cast<const unsigned char*>(v.data());
    for (size_t i = 0; i < v.size() * sizeof(float); ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  }
  return cat(h);
}

}  // namespace

ojson pair_conversation(const ojson& rec, const ojson& answer, const char* key, bool require_prompt) {
  if (!rec.is_object()) throw BadData("a preference or reward record must be a JSON object");
  if (rec.contains("prompt") && rec.contains("messages")) throw BadData("give 'prompt' or 'messages', not both");
  const bool implicit = !rec.contains("prompt") && !rec.contains("messages");
  if (implicit && require_prompt) throw BadData("the record needs \"prompt\" or \"messages\" (the turns before the reply)");
  ojson conv = ojson::array();
  if (rec.contains("system")) {
    if (!rec["system"].is_string()) throw BadData("'system' must be a string");
    conv.push_back({{"role", "system"}, {"content", rec["system"]}});
  }
  if (rec.contains("prompt")) {
    if (!rec["prompt"].is_string()) throw BadData("'prompt' must be a string (or use 'messages')");
    conv.push_back({{"role", "user"}, {"content", rec["prompt"]}});
  } else if (rec.contains("messages")) {
    if (!rec["messages"].is_array() || rec["messages"].empty()) throw BadData("'messages' must be a non-empty array");
    for (const auto& m : rec["messages"]) conv.push_back(m);
  }
  const ojson ans = answer_messages(answer, key);
  if (implicit && ans.size() < 2) throw BadData(cat("without 'prompt' or 'messages', '", key, "' must be a whole conversation"));
  for (const auto& m : ans) conv.push_back(m);
  ojson one = {{"messages", conv}};
  if (rec.contains("tools")) one["tools"] = rec["tools"];
  return one;
}

Sample render_pair(const SampleRenderer& r, const ojson& rec) {
  if (!rec.is_object()) throw BadData("a preference pair must be a JSON object");
  for (const char* k : {"chosen", "rejected"})
    if (!rec.contains(k)) throw BadData(cat("a preference pair needs '", k, "'"));
  Sample half[2];
  const char* keys[2] = {"chosen", "rejected"};
  for (int i = 0; i < 2; ++i) {
    const ojson one = pair_conversation(rec, rec[keys[i]], keys[i], false);
    try {
      half[i] = r.render(one);
    } catch (const BadData& e) {
      throw BadData(cat(keys[i], ": ", e.what()));
    }
    keep_last_answer(half[i]);
  }
  if (half[0].tokens == half[1].tokens) throw BadData("'chosen' and 'rejected' are the same answer");
  Sample s = std::move(half[0]);
  s.split = static_cast<int64_t>(s.tokens.size());
  s.tokens.insert(s.tokens.end(), half[1].tokens.begin(), half[1].tokens.end());
  s.loss.insert(s.loss.end(), half[1].loss.begin(), half[1].loss.end());
  if (rec.contains("meta")) s.meta = rec["meta"];
  return s;
}

LoadResult load_pairs(const std::string& path, const std::string& type, const SampleRenderer& r, const LoadOptions& opt) {
  return load_jsonl(path, type, [&](const ojson& rec) { return render_pair(r, rec); }, opt);
}

PairTerm dpo_term(const PairLogps& p, double beta, double eps) {
  const double h = beta * ((p.chosen - p.ref_chosen) - (p.rejected - p.ref_rejected));
  PairTerm t;
  t.loss = (1 - eps) * softplus(-h) + eps * softplus(h);  // −(1−ε)·log σ(h) − ε·log σ(−h)
  const double dh = -(1 - eps) * sigmoid(-h) + eps * sigmoid(h);
  t.d_chosen = beta * dh;
  t.d_rejected = -beta * dh;
  return t;
}

PairTerm ipo_term(const PairLogps& p, double beta) {
  const double nc = static_cast<double>(std::max<int64_t>(1, p.n_chosen));
  const double nr = static_cast<double>(std::max<int64_t>(1, p.n_rejected));
  const double h = (p.chosen - p.ref_chosen) / nc - (p.rejected - p.ref_rejected) / nr, d = h - 1 / (2 * beta);
  return {d * d, 2 * d / nc, -2 * d / nr};
}

std::pair<double, double> rm_pair_weights(double s_chosen, double s_rejected, double tau) {
  const double qc = sigmoid((s_chosen - s_rejected) / tau);
  return {qc, 1 - qc};
}

void PairStats::add(const PairLogps& p) {
  ++n_;
  dpo_ += dpo_term(p, s_.beta, s_.label_smoothing).loss;
  ipo_ += ipo_term(p, s_.beta).loss;
  const double c = s_.beta * (p.chosen - p.ref_chosen), r = s_.beta * (p.rejected - p.ref_rejected);
  chosen_ += c;
  rejected_ += r;
  correct_ += c > r ? 1 : 0;
}

ojson PairStats::json() const {
  const double n = static_cast<double>(std::max<int64_t>(1, n_));
  return {{"pairs", n_}, {"reward_accuracy", correct_ / n}, {"margin", (chosen_ - rejected_) / n},
          {"chosen_reward", chosen_ / n}, {"rejected_reward", rejected_ / n}, {"dpo", dpo_ / n}, {"ipo", ipo_ / n}};
}

// ---- the objective ------------------------------------------------------------------------------

PrefObjective::PrefObjective(TrainModel& m, const PrefSettings& s, const std::vector<const std::vector<Sample>*>& sets,
                             const std::vector<Sample>* heldout, std::string cache_path, int64_t eval_tokens,
                             PairScorer rm)
    : s_(s), rm_scorer_(std::move(rm)), cache_path_(std::move(cache_path)), eval_tokens_(eval_tokens) {
  HELIX_CHECK(!s_.find("rm") || rm_scorer_.score, "the rm loss term needs a reward model (rm = \"RM.gguf\")");
  int64_t k = 0, tokens = 0;
  for (const auto* set : sets)
    for (const Sample& x : *set) id_[&x] = k++, tokens += static_cast<int64_t>(x.tokens.size());
  if (heldout)
    for (const Sample& x : *heldout) id_[&x] = k++, heldout_.push_back(&x), tokens += static_cast<int64_t>(x.tokens.size());
  for (const auto& [x, id] : id_)
    HELIX_CHECK(x->split > 0, x->file, ":", x->line, ": a preference stage needs pairs (chosen and rejected)");
  for (Param* p : m.trainable()) {
    ref_values_.push_back(p->value);
    const bool lora_b = p->name.size() > 7 && p->name.compare(p->name.size() - 7, 7, ".lora_b") == 0;
    if (s_.reference == "base" && lora_b) std::fill(ref_values_.back().begin(), ref_values_.back().end(), 0.0f);
  }
  fingerprint_ = cat("pairs ", k, ", tokens ", tokens, ", reference ", s_.reference, " ", fnv1a(ref_values_));
  load_cache();
}

void PrefObjective::load_cache() {
  if (cache_path_.empty() || !std::filesystem::exists(cache_path_)) return;
  const gguf::GGUFFile f = gguf::GGUFFile::open(cache_path_);
  if (f.get_string("general.type", "") != "helix-dpo-reference" || f.get_string("ref.fingerprint", "") != fingerprint_)
    return;  // made for other data or another reference: recomputed and overwritten
  const Tensor ids = f.tensor("ref.ids"), counts = f.tensor("ref.counts"), vals = f.tensor("ref.values");
  const float* v = vals.data_as<float>();
  for (int64_t i = 0, off = 0; i < ids.numel(); ++i) {
    const int32_t n = counts.data_as<int32_t>()[i];
    ref_[ids.data_as<int32_t>()[i]] = std::vector<float>(v + off, v + off + n);
    off += n;
  }
  // The rm term's scores, when they came from this reward model with these weights.
  if (!rm_scorer_.score || f.get_string("rm.fingerprint", "") != rm_scorer_.fingerprint || !f.find_tensor("rm.ids")) return;
  const Tensor rids = f.tensor("rm.ids"), rs = f.tensor("rm.scores");
  for (int64_t i = 0; i < rids.numel(); ++i)
    rm_[rids.data_as<int32_t>()[i]] = {rs.data_as<float>()[2 * i], rs.data_as<float>()[2 * i + 1]};
}

void PrefObjective::save() {
  if (!dirty_ || cache_path_.empty() || ref_.empty()) return;
  std::vector<int32_t> ids, counts;
  std::vector<float> vals;
  for (const auto& [id, v] : ref_) {
    ids.push_back(static_cast<int32_t>(id));
    counts.push_back(static_cast<int32_t>(v.size()));
    vals.insert(vals.end(), v.begin(), v.end());
  }
  if (vals.empty()) vals.push_back(0);
  gguf::GGUFWriter w;
  w.set("general.type", gguf::Value::string("helix-dpo-reference"));
  w.set("ref.fingerprint", gguf::Value::string(fingerprint_));
  w.add_tensor("ref.ids", DType::I32, Shape{static_cast<int64_t>(ids.size()), 1, 1, 1}, 1, ids.data());
  w.add_tensor("ref.counts", DType::I32, Shape{static_cast<int64_t>(counts.size()), 1, 1, 1}, 1, counts.data());
  w.add_tensor("ref.values", DType::F32, Shape{static_cast<int64_t>(vals.size()), 1, 1, 1}, 1, vals.data());
  std::vector<int32_t> rids;
  std::vector<float> rs;
  for (const auto& [id, sc] : rm_) rids.push_back(static_cast<int32_t>(id)), rs.push_back(sc.first), rs.push_back(sc.second);
  if (!rids.empty()) {
    w.set("rm.fingerprint", gguf::Value::string(rm_scorer_.fingerprint));
    w.add_tensor("rm.ids", DType::I32, Shape{static_cast<int64_t>(rids.size()), 1, 1, 1}, 1, rids.data());
    w.add_tensor("rm.scores", DType::F32, Shape{static_cast<int64_t>(rs.size()), 1, 1, 1}, 1, rs.data());
  }
  w.write(cache_path_);
  dirty_ = false;
}

std::vector<PrefObjective::Span> PrefObjective::spans(const TrainBatch& b, const std::vector<const Sample*>& pairs) const {
  std::vector<Span> out;
  int64_t off = 0;
  for (const Sample* x : pairs) {
    Span sp;
    const int64_t n = static_cast<int64_t>(x->tokens.size());
    for (int64_t t = off; t < off + n; ++t)
      if (b.targets[static_cast<size_t>(t)] >= 0) (t < off + x->split ? sp.chosen : sp.rejected).push_back(t);
    HELIX_CHECK(sp.chosen.size() >= 2 && sp.rejected.size() >= 2, x->file, ":", x->line,
                ": a pair answer has no tokens before its end of turn");
    out.push_back(std::move(sp));
    off += n;
  }
  HELIX_CHECK(off == b.size(), "preference batch: the pairs hold ", off, " tokens, the batch ", b.size());
  return out;
}

PairLogps PrefObjective::pair_logps(const Span& sp, const std::vector<float>& loss, const std::vector<float>& ref) {
  PairLogps p;
  // Each answer's last token (its end of turn) is left out: see prefs.h.
  p.n_chosen = static_cast<int64_t>(sp.chosen.size()) - 1;
  p.n_rejected = static_cast<int64_t>(sp.rejected.size()) - 1;
  for (size_t k = 0; k + 1 < sp.chosen.size(); ++k)
    p.chosen -= loss[static_cast<size_t>(sp.chosen[k])], p.ref_chosen += ref[k];
  for (size_t k = 0; k + 1 < sp.rejected.size(); ++k)
    p.rejected -= loss[static_cast<size_t>(sp.rejected[k])], p.ref_rejected += ref[sp.chosen.size() + k];
  return p;
}

void PrefObjective::swap_reference(TrainModel& m) {
  const std::vector<Param*> ps = m.trainable();
  for (size_t i = 0; i < ps.size(); ++i) std::swap(ps[i]->value, ref_values_[i]);
}

// The reference's log-probabilities of the pairs of batch b that the cache lacks: one forward of
// the whole batch (its arena is the training step's, so nothing is re-planned) with the
// reference's values swapped in.
void PrefObjective::ensure_reference(TrainModel& m, const TrainBatch& b, const std::vector<const Sample*>& pairs) {
  bool missing = false;
  for (const Sample* x : pairs) missing |= !ref_.count(id_.at(x));
  if (!missing) return;
  std::vector<float> loss;
  swap_reference(m);
  try {
    m.evaluate_positions(b, loss);
  } catch (...) {
    swap_reference(m);
    throw;
  }
  swap_reference(m);
  const std::vector<Span> sp = spans(b, pairs);
  for (size_t k = 0; k < pairs.size(); ++k) {
    if (ref_.count(id_.at(pairs[k]))) continue;
    std::vector<float>& v = ref_[id_.at(pairs[k])];
    for (const auto* half : {&sp[k].chosen, &sp[k].rejected})
      for (int64_t t : *half) v.push_back(-loss[static_cast<size_t>(t)]);
  }
  dirty_ = true;
}

// The reward model's scores of the pairs of batch b that the cache lacks: one forward of the
// batch, each half scored at its answer's last token (the end of turn, as reward models score).
void PrefObjective::ensure_rm(const TrainBatch& b, const std::vector<const Sample*>& pairs) {
  bool missing = false;
  for (const Sample* x : pairs) missing |= !rm_.count(id_.at(x));
  if (!missing) return;
  const std::vector<Span> sp = spans(b, pairs);
  std::vector<int64_t> pos;
  for (const Span& q : sp) pos.push_back(q.chosen.back() + 1), pos.push_back(q.rejected.back() + 1);
  const std::vector<float> sc = rm_scorer_.score(b, pos);
  HELIX_CHECK(sc.size() == pos.size(), "the reward model returned ", sc.size(), " scores for ", pos.size(), " answers");
  for (size_t k = 0; k < pairs.size(); ++k) rm_.emplace(id_.at(pairs[k]), std::make_pair(sc[2 * k], sc[2 * k + 1]));
  dirty_ = true;
}

double PrefObjective::accumulate(TrainModel& m, const std::vector<TrainBatch>& mbs,
                                 const std::vector<std::vector<const Sample*>>& samples, int64_t step, int64_t steps,
                                 ojson& entry) {
  auto weight = [&](const char* name) {
    const LossTerm* t = s_.find(name);
    return t ? t->at(step, steps) : 0.0;
  };
  const double w_dpo = weight("dpo"), w_ipo = weight("ipo"), w_sft = weight("sft"), w_kl = weight("kl");
  const double w_rm = weight("rm");
  std::vector<std::vector<Span>> sps;
  double n_pairs = 0, n_chosen = 0, n_answer = 0;
  for (size_t i = 0; i < mbs.size(); ++i) {
    ensure_reference(m, mbs[i], samples[i]);
    if (s_.find("rm") && !samples[i].empty()) ensure_rm(mbs[i], samples[i]);
    sps.push_back(spans(mbs[i], samples[i]));
    for (const Span& sp : sps.back()) {
      n_pairs += 1;
      n_chosen += static_cast<double>(sp.chosen.size());
      n_answer += static_cast<double>(sp.chosen.size() + sp.rejected.size());
    }
  }
  PairStats stats(s_);
  double sum_dpo = 0, sum_ipo = 0, sum_sft = 0, sum_kl = 0, sum_rm = 0, sum_rm_margin = 0;
  for (size_t i = 0; i < mbs.size(); ++i) {
    if (samples[i].empty()) continue;
    m.forward_backward_weighted(mbs[i], [&](const std::vector<float>& loss, std::vector<float>& w) {
      for (size_t k = 0; k < samples[i].size(); ++k) {
        const Span& sp = sps[i][k];
        const std::vector<float>& ref = ref_.at(id_.at(samples[i][k]));
        const PairLogps p = pair_logps(sp, loss, ref);
        stats.add(p);
        double dc = 0, dr = 0;  // d(step objective)/d log π(chosen), d/d log π(rejected)
        if (w_dpo > 0) {
          const PairTerm t = dpo_term(p, s_.beta, s_.label_smoothing);
          sum_dpo += t.loss, dc += w_dpo * t.d_chosen / n_pairs, dr += w_dpo * t.d_rejected / n_pairs;
        }
        if (w_ipo > 0) {
          const PairTerm t = ipo_term(p, s_.beta);
          sum_ipo += t.loss, dc += w_ipo * t.d_chosen / n_pairs, dr += w_ipo * t.d_rejected / n_pairs;
        }
        if (s_.find("rm")) {  // −[q_c·log π(c)/|c| + q_r·log π(r)/|r|]
          const auto [sc, sr] = rm_.at(id_.at(samples[i][k]));
          const auto [qc, qr] = rm_pair_weights(sc, sr, s_.rm_tau);
          const double nc = static_cast<double>(p.n_chosen), nr = static_cast<double>(p.n_rejected);
          sum_rm += -qc * p.chosen / nc - qr * p.rejected / nr;
          sum_rm_margin += static_cast<double>(sc) - sr;
          dc -= w_rm * qc / (n_pairs * nc), dr -= w_rm * qr / (n_pairs * nr);
        }
        // loss_t = −log p(y_t), so d/d loss_t = −d/d log p(y_t).
        // The pair terms leave each answer's end of turn to the sft and kl terms (prefs.h).
        for (int64_t t : sp.chosen) w[static_cast<size_t>(t)] = static_cast<float>((t == sp.chosen.back() ? 0 : -dc) + w_sft / n_chosen);
        for (int64_t t : sp.rejected) w[static_cast<size_t>(t)] = static_cast<float>(t == sp.rejected.back() ? 0 : -dr);
        for (int64_t t : sp.chosen) sum_sft += loss[static_cast<size_t>(t)];
        size_t j = 0;
        for (const auto* half : {&sp.chosen, &sp.rejected})
          for (int64_t t : *half) {
            const double d = -static_cast<double>(loss[static_cast<size_t>(t)]) - ref[j++];
            sum_kl += 0.5 * d * d;
            w[static_cast<size_t>(t)] -= static_cast<float>(w_kl * d / n_answer);
          }
      }
    });
  }
  const double dpo = sum_dpo / std::max(1.0, n_pairs), ipo = sum_ipo / std::max(1.0, n_pairs);
  const double sft = sum_sft / std::max(1.0, n_chosen), kl = sum_kl / std::max(1.0, n_answer);
  const double rm = sum_rm / std::max(1.0, n_pairs);
  const std::map<std::string, double> value = {{"dpo", dpo}, {"ipo", ipo}, {"sft", sft}, {"kl", kl}, {"rm", rm}};
  ojson losses = ojson::object(), weights = ojson::object();
  for (const LossTerm& t : s_.losses) {
    losses[t.name] = value.at(t.name);
    weights[t.name] = t.at(step, steps);
  }
  entry["losses"] = losses;
  entry["weights"] = weights;
  if (s_.find("rm")) entry["rm_margin"] = sum_rm_margin / std::max(1.0, n_pairs);  // mean s(c) − s(r)
  const ojson st = stats.json();
  for (const char* k : {"reward_accuracy", "margin", "chosen_reward", "rejected_reward"}) entry[k] = st[k];
  return w_dpo * dpo + w_ipo * ipo + w_sft * sft + w_kl * kl + w_rm * rm;
}

ojson PrefObjective::evaluate_heldout(TrainModel& m) {
  if (heldout_.empty()) return nullptr;
  PairStats stats(s_);
  for (size_t i = 0; i < heldout_.size();) {
    std::vector<const Sample*> part;
    int64_t n = 0;
    while (i < heldout_.size() && (part.empty() || n + static_cast<int64_t>(heldout_[i]->tokens.size()) <= eval_tokens_))
      n += static_cast<int64_t>(heldout_[i]->tokens.size()), part.push_back(heldout_[i++]);
    const TrainBatch b = make_batch(part);
    ensure_reference(m, b, part);
    std::vector<float> loss;
    m.evaluate_positions(b, loss);
    const std::vector<Span> sp = spans(b, part);
    for (size_t k = 0; k < part.size(); ++k) {
      stats.add(pair_logps(sp[k], loss, ref_.at(id_.at(part[k]))));
    }
  }
  return stats.json();
}

}  // namespace helix::train
