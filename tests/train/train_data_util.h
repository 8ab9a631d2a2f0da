// Test helpers for the training-data tests: a public test vocabulary with a model family's
// control tokens added, so that turn markers are single tokens as in the real models.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "tokenizer/tokenizer.h"

namespace helix::train::test_util {

// A public test vocabulary plus a family's control tokens (so turn markers are single tokens, as
// in the real models); `bos` names the control token used as BOS.
inline std::unique_ptr<tok::Tokenizer> vocab_with(const std::string& base, std::vector<std::string> controls,
                                           const std::string& bos, bool space_prefix) {
  auto spec = tok::vocab_spec_from_gguf(
      gguf::GGUFFile::open(std::string(HELIX_TESTDATA) + "/tokenizer/ggml-vocab-" + base + ".gguf"));
  if (spec.types.empty()) spec.types.assign(spec.tokens.size(), 1);
  if (!spec.scores.empty()) spec.scores.resize(spec.tokens.size(), 0.f);
  for (const auto& c : controls) {
    if (c == bos) spec.bos = static_cast<int64_t>(spec.tokens.size());
    spec.tokens.push_back(c);
    spec.types.push_back(3);
    if (!spec.scores.empty()) spec.scores.push_back(0.f);
  }
  spec.add_bos = !bos.empty();
  if (spec.model == "llama") spec.add_space_prefix = space_prefix;
  return tok::Tokenizer::from_spec(spec);
}

}  // namespace helix::train::test_util
