#include "train/step_profile.h"

#include <time.h>

#include <array>
#include <cstdio>
#include <cstdlib>

namespace helix::train::stepprof {
namespace {

struct State {
  std::array<int64_t, kParts> total{};
  Part cur = kParts;
  int64_t tokens = 0;
  int64_t since = 0;
};
State& state() {
  static State s;
  return s;
}

int64_t cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace

bool enabled() {
  static const bool on = [] {
    const char* e = std::getenv("HELIX_PROFILE");
    return e && e[0] != '\0' && e[0] != '0';
  }();
  return on;
}

void to(Part p) {
  if (!enabled()) return;
  State& s = state();
  const int64_t now = cpu_ns();
  if (s.cur != kParts) s.total[static_cast<size_t>(s.cur)] += now - s.since;
  s.cur = p;
  s.since = now;
}

void count_tokens(int64_t n) {
  if (enabled()) state().tokens += n;
}

void report() {
  if (!enabled()) return;
  static const char* const kNames[kParts] = {"embedding",      "rmsnorm (+recompute)", "projections fwd",
                                             "LoRA fwd",       "attention fwd",        "act, rope, residual",
                                             "LM head + loss", "projections bwd (dx)", "LoRA bwd",
                                             "attention bwd"};
  State& s = state();
  int64_t sum = 0;
  for (int64_t t : s.total) sum += t;
  if (sum == 0) return;
  std::fprintf(stderr, "training step profile (process CPU seconds, all threads)\n");
  for (int i = 0; i < kParts; ++i) {
    const int64_t v = s.total[static_cast<size_t>(i)];
    s.total[static_cast<size_t>(i)] = 0;
    std::fprintf(stderr, "  %-22s %8.2f s  %5.1f%%\n", kNames[i], static_cast<double>(v) * 1e-9,
                 100.0 * static_cast<double>(v) / static_cast<double>(sum));
  }
  std::fprintf(stderr, "  %-22s %8.2f s\n", "total", static_cast<double>(sum) * 1e-9);
  if (s.tokens > 0)
    std::fprintf(stderr, "  %lld tokens trained, %.1f tokens per CPU-second\n", static_cast<long long>(s.tokens),
                 static_cast<double>(s.tokens) / (static_cast<double>(sum) * 1e-9));
  s.tokens = 0;
}

}  // namespace helix::train::stepprof
