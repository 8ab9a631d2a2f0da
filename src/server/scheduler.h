// Scheduler: the bookkeeping half of the serving engine, free of any model so it can be tested
// alone. It tracks which KV-cache slots are busy and which tokens each idle slot still caches
// (the prefix cache: a new prompt goes to the idle slot sharing its longest prefix), and plans
// one forward step: every sequence with one token left to feed (decode) gets it, and sequences
// with more (prefill) share a token budget in arrival order, so a long prompt never stalls the
// running streams for longer than one chunk.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace helix::server {

class Scheduler {
 public:
  explicit Scheduler(int n_slots);

  int n_slots() const { return static_cast<int>(slots_.size()); }
  int n_busy() const;
  bool has_free() const { return n_busy() < n_slots(); }

  struct Pick {
    int slot = -1;       // -1: every slot is busy
    int64_t reuse = 0;   // leading prompt tokens already cached in that slot
  };
  // The idle slot whose cached tokens share the longest prefix with `prompt` (ties: the least
  // recently used). At most prompt.size()-1 tokens are reused: the last one is always fed
  // again to get its logits.
  Pick pick(const std::vector<int32_t>& prompt) const;
  // Marks a slot busy (after pick).
  void acquire(int slot);
  // Marks a slot idle, remembering the tokens its cache now holds (empty: nothing cached).
  void release(int slot, std::vector<int32_t> cached);
  const std::vector<int32_t>& cached(int slot) const { return slots_.at(static_cast<size_t>(slot)).cached; }

  // One piece of the next forward step: tokens [from, to) of sequence `index`.
  struct Item {
    int index = 0;
    int64_t from = 0, to = 0;
    bool logits = false;  // the piece reaches the sequence's last token
  };
  // Plans a step for sequences (in arrival order) that have `pending[i]` tokens stored and
  // `total[i]` tokens in all. Sequences with one token left always run; the others share
  // `prefill_budget` tokens. Sequences with nothing to feed are skipped.
  static std::vector<Item> plan(const std::vector<int64_t>& stored, const std::vector<int64_t>& total,
                                int64_t prefill_budget);

 private:
  struct Slot {
    bool busy = false;
    uint64_t last_used = 0;
    std::vector<int32_t> cached;
  };
  std::vector<Slot> slots_;
  uint64_t clock_ = 0;
};

}  // namespace helix::server
