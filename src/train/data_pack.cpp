// Batches (samples laid end to end, positions restarting per sample) and the seeded mix of
// several data sets by declared ratios, drawn into rows of whole samples (see data.h).
#include <algorithm>
#include <cmath>

#include "train/data.h"

namespace helix::train {

namespace {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

int64_t TrainBatch::n_targets() const {
  int64_t n = 0;
  for (int32_t t : targets) n += t >= 0;
  return n;
}

TrainBatch make_batch(const std::vector<const Sample*>& samples) {
  TrainBatch b;
  for (const Sample* s : samples) {
    const int64_t n = static_cast<int64_t>(s->tokens.size());
    HELIX_CHECK(s->loss.size() == s->tokens.size(), "sample from ", s->file, ":", s->line, " has ", n,
                " tokens but ", s->loss.size(), " loss flags");
    HELIX_CHECK(s->split >= 0 && s->split < n, "sample from ", s->file, ":", s->line, " splits at ", s->split, " of ", n);
    const int32_t start = static_cast<int32_t>(b.tokens.size());
    for (int64_t i = 0; i < n; ++i) {
      const bool second = s->split > 0 && i >= s->split;  // a pair's rejected half: a sample of its own
      const int64_t end = s->split > 0 && !second ? s->split : n, first = second ? s->split : 0;
      b.tokens.push_back(s->tokens[static_cast<size_t>(i)]);
      b.targets.push_back(i + 1 < end && s->loss[static_cast<size_t>(i + 1)] ? s->tokens[static_cast<size_t>(i + 1)] : -1);
      b.pos.push_back(static_cast<int32_t>(i - first));
      b.start.push_back(start + static_cast<int32_t>(first));
    }
  }
  return b;
}

std::vector<uint32_t> seeded_permutation(size_t n, uint64_t seed) {
  std::vector<uint32_t> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint32_t>(i);
  uint64_t st = seed;
  for (size_t i = n; i > 1; --i) {
    const size_t j = static_cast<size_t>(splitmix64(st) % i);
    std::swap(p[i - 1], p[j]);
  }
  return p;
}

MixStream::MixStream(std::vector<const std::vector<Sample>*> sets, std::vector<double> ratios, uint64_t seed)
    : sets_(std::move(sets)), ratios_(std::move(ratios)), seed_(seed) {
  HELIX_CHECK(!sets_.empty(), "a data mix needs at least one data set");
  HELIX_CHECK(sets_.size() == ratios_.size(), "a data mix needs one ratio per data set");
  double sum = 0;
  for (size_t i = 0; i < sets_.size(); ++i) {
    HELIX_CHECK(sets_[i] && !sets_[i]->empty(), "data set ", i + 1, " of the mix has no samples");
    HELIX_CHECK(std::isfinite(ratios_[i]) && ratios_[i] > 0, "data set ", i + 1, " of the mix has ratio ", ratios_[i],
                "; ratios must be positive");
    sum += ratios_[i];
  }
  for (double& r : ratios_) r /= sum;
  seek(0);
}

void MixStream::reshuffle(size_t s) {
  order_[s] = seeded_permutation(sets_[s]->size(), seed_ ^ (0x51ED270B7A3D1F5Bull * (s + 1)) ^
                                                      (static_cast<uint64_t>(epoch_[s]) << 32));
  cursor_[s] = 0;
}

void MixStream::seek(int64_t n) {
  const size_t k = sets_.size();
  drawn_ = 0;
  taken_.assign(k, 0);
  epoch_.assign(k, 0);
  cursor_.assign(k, 0);
  order_.assign(k, {});
  for (size_t s = 0; s < k; ++s) reshuffle(s);
  for (int64_t i = 0; i < n; ++i) next();
}

size_t MixStream::pick() const {
  // The set whose share of the draws so far lags its ratio the most (deficit rounding).
  size_t best = 0;
  double best_gap = -1e300;
  for (size_t s = 0; s < sets_.size(); ++s) {
    const double gap = ratios_[s] * static_cast<double>(drawn_ + 1) - static_cast<double>(taken_[s]);
    if (gap > best_gap + 1e-12) {
      best_gap = gap;
      best = s;
    }
  }
  return best;
}

const Sample& MixStream::next() {
  const size_t best = pick();
  if (cursor_[best] == static_cast<int64_t>(order_[best].size())) {
    ++epoch_[best];
    reshuffle(best);
  }
  const Sample& out = (*sets_[best])[order_[best][cursor_[best]++]];
  ++taken_[best];
  ++drawn_;
  return out;
}

const Sample& MixStream::peek() const {
  MixStream copy = *this;
  return copy.next();  // the sets are shared, so the reference stays valid
}

std::vector<std::vector<const Sample*>> draw_rows(MixStream& mix, int64_t rows, int64_t seq_len) {
  HELIX_CHECK(rows > 0 && seq_len > 0, "draw_rows: rows and seq_len must be positive");
  std::vector<std::vector<const Sample*>> out;
  std::vector<int64_t> used;
  for (;;) {
    const Sample& s = mix.peek();
    const int64_t n = static_cast<int64_t>(s.tokens.size());
    HELIX_CHECK(n > 0 && n <= seq_len, s.file, ":", s.line, ": the sample is ", n, " tokens; it must have 1 to seq_len (",
                seq_len, ") tokens");
    size_t r = 0;
    while (r < out.size() && used[r] + n > seq_len) ++r;
    if (r == out.size()) {
      if (static_cast<int64_t>(out.size()) == rows) break;
      out.emplace_back();
      used.push_back(0);
    }
    out[r].push_back(&mix.next());
    used[r] += n;
  }
  return out;
}

}  // namespace helix::train
