// helix run --best-of N --rm RM.gguf: N sampled replies to the chat prompt (seeds S, S+1, ...),
// each scored by a reward model (src/train/reward.h); the best reply goes to stdout and every
// sample's scores to stderr. The ranking score is the head named by --rm-aspect, else the mean of
// the model's response-level heads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cli/gen_options.h"

namespace helix::cli {

struct BestOf {
  int64_t n = 0;  // 0: off
  std::string rm, aspect;
};

// Takes --best-of N, --rm FILE and --rm-aspect NAME out of args (before the generation options are
// parsed); throws for a missing or bad value.
void take_best_of_flags(std::vector<char*>& args, BestOf& b);
// Samples, scores and prints; `ids` is the rendered chat prompt of the user turn `prompt`.
void run_best_of(const GenOptions& o, const Loaded& l, const std::vector<int32_t>& ids, const std::string& prompt,
                 const BestOf& b);

}  // namespace helix::cli
