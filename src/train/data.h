// Training data: samples rendered with the model's chat template into token ids with a loss
// mask (loss on assistant tokens only), from JSONL conversations or prompt/completion pairs.
// The trainer (src/train) consumes Samples; it does not care which file format they came from.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace helix::train {

struct Sample {
  std::vector<int32_t> tokens;  // the whole rendered sample, BOS included where the model adds one
  std::vector<uint8_t> loss;    // loss[i] = 1: tokens[i] is a target (predicted from tokens[0..i-1])
  std::string type;             // data type it came from ("instruction", "dialogue", "tools", ...)
  std::string file;             // source file and 1-based line, for messages about bad data
  int64_t line = 0;
};

}  // namespace helix::train
