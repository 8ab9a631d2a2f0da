#include "kernels/profile.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace helix::prof {
namespace {

struct Counter {
  int64_t ns = 0;
  int64_t calls = 0;
};

struct State {
  bool on = false;
  Phase phase = Phase::Prefill;
  int layer = -1;
  std::mutex mu;
  // [phase] category -> counter, layer -> counter
  std::map<std::string, Counter> cat[2];
  std::map<int, Counter> layers[2];
  Counter passes[2];
  int64_t tokens[2] = {0, 0};
};

State& state() {
  static State* s = [] {
    auto* st = new State;  // never destroyed: usable from any static destructor
    if (const char* e = std::getenv("HELIX_PROFILE")) st->on = e[0] != '\0' && e[0] != '0';
    return st;
  }();
  return *s;
}

void clear(State& s) {
  for (int ph = 0; ph < 2; ++ph) {
    s.cat[ph].clear();
    s.layers[ph].clear();
    s.passes[ph] = {};
    s.tokens[ph] = 0;
  }
}

}  // namespace

bool enabled() {
  static State& s = state();
  return s.on;
}
void set_enabled(bool on) { state().on = on; }

void set_phase(Phase p, int64_t n_tokens) {
  State& s = state();
  s.phase = p;
  s.tokens[static_cast<int>(p)] += n_tokens;
}
void set_layer(int layer) { state().layer = layer; }

void add(const char* category, int64_t ns) {
  State& s = state();
  std::lock_guard<std::mutex> lk(s.mu);
  const int ph = static_cast<int>(s.phase);
  Counter& c = s.cat[ph][category];
  c.ns += ns;
  ++c.calls;
  if (s.layer >= 0) {
    Counter& l = s.layers[ph][s.layer];
    l.ns += ns;
    ++l.calls;
  }
}

void add_pass(int64_t ns) {
  State& s = state();
  std::lock_guard<std::mutex> lk(s.mu);
  Counter& c = s.passes[static_cast<int>(s.phase)];
  c.ns += ns;
  ++c.calls;
}

void report(bool reset) {
  State& s = state();
  std::lock_guard<std::mutex> lk(s.mu);
  static const char* kNames[2] = {"prefill", "decode"};
  for (int ph = 0; ph < 2; ++ph) {
    const Counter& p = s.passes[ph];
    if (p.calls == 0) continue;
    const double total_ms = static_cast<double>(p.ns) / 1e6;
    std::fprintf(stderr,
                 "\n== profile: %s: %lld passes, %lld tokens, %.1f ms (%.2f ms/pass, %.1f tok/s)\n",
                 kNames[ph], static_cast<long long>(p.calls), static_cast<long long>(s.tokens[ph]),
                 total_ms, total_ms / static_cast<double>(p.calls),
                 static_cast<double>(s.tokens[ph]) / (total_ms / 1e3));
    std::vector<std::pair<std::string, Counter>> rows(s.cat[ph].begin(), s.cat[ph].end());
    std::sort(rows.begin(), rows.end(),
              [](const auto& a, const auto& b) { return a.second.ns > b.second.ns; });
    std::fprintf(stderr, "%-24s %10s %8s %10s %7s\n", "op", "ms", "calls", "us/call", "%");
    int64_t covered = 0;
    for (const auto& [name, c] : rows) {
      covered += c.ns;
      std::fprintf(stderr, "%-24s %10.2f %8lld %10.2f %6.1f%%\n", name.c_str(),
                   static_cast<double>(c.ns) / 1e6, static_cast<long long>(c.calls),
                   static_cast<double>(c.ns) / 1e3 / static_cast<double>(c.calls),
                   100.0 * static_cast<double>(c.ns) / static_cast<double>(p.ns));
    }
    std::fprintf(stderr, "%-24s %10.2f %8s %10s %6.1f%%\n", "(other)",
                 static_cast<double>(p.ns - covered) / 1e6, "", "",
                 100.0 * static_cast<double>(p.ns - covered) / static_cast<double>(p.ns));
    std::fprintf(stderr, "per layer (ms/pass):");
    int k = 0;
    for (const auto& [l, c] : s.layers[ph]) {
      if (k++ % 9 == 0) std::fprintf(stderr, "\n ");
      std::fprintf(stderr, " %2d:%7.3f", l, static_cast<double>(c.ns) / 1e6 / static_cast<double>(p.calls));
    }
    std::fprintf(stderr, "\n");
  }
  if (reset) clear(s);
}

void reset() {
  State& s = state();
  std::lock_guard<std::mutex> lk(s.mu);
  clear(s);
}

}  // namespace helix::prof
