// Profile: wall time per op category and per layer, for prefill and decode separately, printed
// to stderr as a table. Off unless HELIX_PROFILE=1 (or set_enabled(true), e.g. `helix run
// --profile`); when off, a Scope costs one predictable branch.
//
// Scopes are timed on the calling thread (the one that drives the forward pass); multithreaded
// ops are timed as a whole. Categories are string literals (the pointer is the key).
#pragma once

#include <chrono>
#include <cstdint>

namespace helix::prof {

bool enabled();
void set_enabled(bool on);

// The phase the next scopes count towards (the decoder sets it per forward pass).
enum class Phase : uint8_t { Prefill, Decode };
void set_phase(Phase p, int64_t n_tokens);
// The layer the next scopes count towards (-1: outside the layers).
void set_layer(int layer);

void add(const char* category, int64_t ns);
// Counts one forward pass of the current phase, its wall time and its tokens.
void add_pass(int64_t ns);

// Prints the table (and resets the counters when reset is true).
void report(bool reset = true);
// Drops the counters.
void reset();

class Scope {
 public:
  explicit Scope(const char* category) : cat_(enabled() ? category : nullptr) {
    if (cat_) t0_ = std::chrono::steady_clock::now();
  }
  ~Scope() {
    if (cat_)
      add(cat_, std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::steady_clock::now() - t0_)
                    .count());
  }
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  const char* cat_;
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace helix::prof
