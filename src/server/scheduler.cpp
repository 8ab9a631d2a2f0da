// Scheduler: slot choice for the prefix cache and the per-step token plan (see scheduler.h).
#include "server/scheduler.h"

#include <algorithm>

#include "core/error.h"

namespace helix::server {

Scheduler::Scheduler(int n_slots) {
  HELIX_CHECK(n_slots > 0, "the scheduler needs at least one slot");
  slots_.resize(static_cast<size_t>(n_slots));
}

int Scheduler::n_busy() const {
  int n = 0;
  for (const auto& s : slots_) n += s.busy ? 1 : 0;
  return n;
}

Scheduler::Pick Scheduler::pick(const std::vector<int32_t>& prompt) const {
  Pick best;
  uint64_t best_used = 0;
  const size_t limit = prompt.empty() ? 0 : prompt.size() - 1;
  for (size_t i = 0; i < slots_.size(); ++i) {
    const Slot& s = slots_[i];
    if (s.busy) continue;
    size_t common = 0;
    const size_t n = std::min(limit, s.cached.size());
    while (common < n && s.cached[common] == prompt[common]) ++common;
    const auto reuse = static_cast<int64_t>(common);
    if (best.slot < 0 || reuse > best.reuse || (reuse == best.reuse && s.last_used < best_used)) {
      best.slot = static_cast<int>(i);
      best.reuse = reuse;
      best_used = s.last_used;
    }
  }
  return best;
}

void Scheduler::acquire(int slot) {
  Slot& s = slots_.at(static_cast<size_t>(slot));
  HELIX_CHECK(!s.busy, "slot ", slot, " is already busy");
  s.busy = true;
  s.last_used = ++clock_;
}

void Scheduler::release(int slot, std::vector<int32_t> cached) {
  Slot& s = slots_.at(static_cast<size_t>(slot));
  s.busy = false;
  s.cached = std::move(cached);
  s.last_used = ++clock_;
}

std::vector<Scheduler::Item> Scheduler::plan(const std::vector<int64_t>& stored, const std::vector<int64_t>& total,
                                             int64_t prefill_budget) {
  std::vector<Item> items;
  int64_t budget = std::max<int64_t>(0, prefill_budget);
  for (size_t i = 0; i < stored.size(); ++i) {
    const int64_t left = total[i] - stored[i];
    if (left <= 0) continue;
    if (left == 1) {
      items.push_back({static_cast<int>(i), stored[i], total[i], true});
      continue;
    }
    if (budget <= 0) continue;
    const int64_t take = std::min(left, budget);
    budget -= take;
    items.push_back({static_cast<int>(i), stored[i], stored[i] + take, take == left});
  }
  return items;
}

}  // namespace helix::server
