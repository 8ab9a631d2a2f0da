// Batch: the tokens of one forward pass, drawn from one or more sequences. Prefill and decode
// are the same call: a prompt is many tokens of one sequence, a decode step one token of each
// running sequence. Tokens of one sequence must appear in increasing position order.
#pragma once

#include <cstdint>
#include <vector>

namespace helix::model {

struct Batch {
  std::vector<int32_t> tokens;
  std::vector<int64_t> pos;
  std::vector<int32_t> seq;
  std::vector<uint8_t> want_logits;  // 1: return this token's logits

  void add(int32_t token, int64_t position, int32_t sequence, bool logits) {
    tokens.push_back(token);
    pos.push_back(position);
    seq.push_back(sequence);
    want_logits.push_back(logits ? 1 : 0);
  }
  void clear() {
    tokens.clear();
    pos.clear();
    seq.clear();
    want_logits.clear();
  }
  int64_t size() const { return static_cast<int64_t>(tokens.size()); }
  int64_t n_logits() const {
    int64_t n = 0;
    for (uint8_t w : want_logits) n += w;
    return n;
  }
};

}  // namespace helix::model
