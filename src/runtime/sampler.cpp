#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace helix::runtime {

Sampler::Sampler(SamplingParams p)
    : p_(std::move(p)),
      matcher_(p_.constraint && p_.grammar_trigger.empty() ? std::make_unique<grammar::TokenMatcher>(p_.constraint) : nullptr),
      rng_(p_.seed) {}

int32_t Sampler::sample(const float* logits, int64_t n_vocab, const std::vector<int32_t>& history) {
  HELIX_CHECK(n_vocab > 0, "sampling from an empty vocabulary");
  const bool penalties = p_.repeat_penalty != 1.0f || p_.presence_penalty != 0.0f || p_.frequency_penalty != 0.0f;
  if (!matcher_ && p_.logit_bias.empty() && !penalties) {  // nothing to change
    const int32_t id = pick(logits, n_vocab);
    if (p_.constraint) watch(id);
    return id;
  }
  work_.assign(logits, logits + n_vocab);
  if (matcher_) matcher_->apply(work_.data(), n_vocab);
  for (const auto& [id, bias] : p_.logit_bias)
    if (id >= 0 && id < n_vocab) work_[static_cast<size_t>(id)] += bias;

  // Penalties over the recent window.
  if (penalties) {
    const size_t n = history.size();
    const size_t window = p_.repeat_last_n < 0 ? n : std::min<size_t>(n, static_cast<size_t>(p_.repeat_last_n));
    std::unordered_map<int32_t, int> counts;
    for (size_t i = n - window; i < n; ++i) counts[history[i]]++;
    for (const auto& [id, c] : counts) {
      if (id < 0 || id >= n_vocab) continue;
      float& l = work_[static_cast<size_t>(id)];
      if (p_.repeat_penalty != 1.0f) l = l > 0 ? l / p_.repeat_penalty : l * p_.repeat_penalty;
      l -= static_cast<float>(c) * p_.frequency_penalty + (c > 0 ? p_.presence_penalty : 0.0f);
    }
  }
  const int32_t id = pick(work_.data(), n_vocab);
  if (matcher_) HELIX_CHECK(matcher_->accept(id), "token ", id, " is not allowed by the grammar (a logit bias of +inf?)");
  else if (p_.constraint) watch(id);
  return id;
}

void Sampler::watch(int32_t id) {
  const auto& vocab = *p_.constraint->vocab;
  if (id < 0 || id >= vocab.size()) return;
  if (p_.grammar_trigger_at_start && trigger_done_) return;  // decided at the reply's start: nothing to watch
  tail_ += vocab.piece(id);
  const std::string& trig = p_.grammar_trigger;
  if (trig.empty()) return;
  if (p_.grammar_trigger_at_start) {
    watch_start(trig);
    return;
  }
  const size_t at = tail_.find(trig);
  if (at != std::string::npos) {
    auto m = std::make_unique<grammar::TokenMatcher>(p_.constraint);
    // Bytes after the trigger in the same token that the grammar refuses: stay free.
    if (m->accept_bytes(std::string_view(tail_).substr(at + trig.size()))) matcher_ = std::move(m);
    tail_.clear();
    return;
  }
  if (tail_.size() >= trig.size()) tail_.erase(0, tail_.size() - (trig.size() - 1));
}

void Sampler::watch_start(const std::string& trig) {
  if (trigger_done_) return;
  size_t a = 0;
  while (a < tail_.size() && (tail_[a] == ' ' || tail_[a] == '\n' || tail_[a] == '\t' || tail_[a] == '\r')) ++a;
  const std::string_view text = std::string_view(tail_).substr(a);
  const size_t n = std::min(text.size(), trig.size());
  if (text.substr(0, n) != std::string_view(trig).substr(0, n)) {  // the reply starts otherwise
    trigger_done_ = true;
    tail_.clear();
    return;
  }
  if (text.size() < trig.size()) return;
  auto m = std::make_unique<grammar::TokenMatcher>(p_.constraint);
  if (m->accept_bytes(text)) matcher_ = std::move(m);  // the grammar covers the trigger and what followed it
  trigger_done_ = true;
  tail_.clear();
}

int32_t Sampler::pick(const float* l, int64_t n_vocab) {
  if (p_.temperature <= 0.0f) {  // greedy: first index of the maximum
    const float* it = std::max_element(l, l + n_vocab);
    const auto id = static_cast<int32_t>(it - l);
    cands_.assign(1, Candidate{id, *it, 1.0f});
    return id;
  }

  // Candidates sorted by logit, cut by top-k.
  cands_.clear();
  cands_.reserve(static_cast<size_t>(n_vocab));
  for (int64_t i = 0; i < n_vocab; ++i)
    if (l[i] > -std::numeric_limits<float>::infinity()) cands_.push_back({static_cast<int32_t>(i), l[i], 0.0f});
  HELIX_CHECK(!cands_.empty(), "every token is banned by logit_bias");
  const auto by_logit = [](const Candidate& a, const Candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  };
  size_t k = cands_.size();
  if (p_.top_k > 0) k = std::min(k, static_cast<size_t>(p_.top_k));
  std::partial_sort(cands_.begin(), cands_.begin() + static_cast<std::ptrdiff_t>(k), cands_.end(), by_logit);
  cands_.resize(k);

  auto softmax = [&](float temp) {
    const float mx = cands_.front().logit;
    double sum = 0;
    for (auto& c : cands_) sum += (c.p = std::exp((c.logit - mx) / temp));
    for (auto& c : cands_) c.p = static_cast<float>(c.p / sum);
  };
  softmax(1.0f);
  if (p_.top_p < 1.0f) {
    double cum = 0;
    size_t keep = cands_.size();
    for (size_t i = 0; i < cands_.size(); ++i) {
      cum += cands_[i].p;
      if (cum >= p_.top_p) {
        keep = i + 1;
        break;
      }
    }
    cands_.resize(keep);
  }
  if (p_.min_p > 0.0f) {
    const float floor = cands_.front().p * p_.min_p;
    size_t keep = 1;
    while (keep < cands_.size() && cands_[keep].p >= floor) ++keep;
    cands_.resize(keep);
  }
  softmax(p_.temperature);

  std::uniform_real_distribution<double> u(0.0, 1.0);
  const double r = u(rng_);
  double cum = 0;
  for (const auto& c : cands_) {
    cum += c.p;
    if (r < cum) return c.id;
  }
  return cands_.back().id;
}

}  // namespace helix::runtime
