#include "model/kv_cache.h"

#include <algorithm>

#include "core/error.h"

namespace helix::model {

KVCache::KVCache(const HParams& hp, int64_t n_ctx, int n_seq_max, int64_t n_batch, bool keep_window_blocks)
    : n_ctx_(n_ctx), n_batch_(n_batch), keep_window_blocks_(keep_window_blocks), kv_dim_(hp.n_embd_kv()) {
  HELIX_CHECK(n_ctx > 0 && n_seq_max > 0 && n_batch > 0, "KV cache needs a positive context, sequence count and batch");
  const int64_t blocks_per_seq_global = (n_ctx + kBlockTokens - 1) / kBlockTokens;
  int64_t total = 0;
  window_.resize(static_cast<size_t>(hp.n_layer));
  for (int64_t il = 0; il < hp.n_layer; ++il) {
    const int64_t w = hp.is_swa(il) ? hp.n_swa : 0;
    window_[static_cast<size_t>(il)] = w;
    // While a batch of n positions is written, the oldest query still sees w - 1 positions
    // before it: w + n positions, spread over at most (w + n) / B + 2 blocks.
    const int64_t per_seq = w > 0 && !keep_window_blocks ? std::min(blocks_per_seq_global, (w + n_batch) / kBlockTokens + 2)
                                  : blocks_per_seq_global;
    total += per_seq * n_seq_max;
  }
  block_bytes_ = static_cast<size_t>(2 * kBlockTokens * kv_dim_) * sizeof(uint16_t);
  storage_ = std::make_shared<HeapStorage>(block_bytes_ * static_cast<size_t>(total));
  free_.reserve(static_cast<size_t>(total));
  for (int64_t b = total - 1; b >= 0; --b) free_.push_back(static_cast<int32_t>(b));
  refs_.assign(static_cast<size_t>(total), 0);
  seqs_.resize(static_cast<size_t>(n_seq_max));
  for (auto& s : seqs_) s.tables.resize(static_cast<size_t>(hp.n_layer));
}

int32_t KVCache::take_block() {
  HELIX_CHECK(!free_.empty(), "KV cache is out of blocks; use a larger context (-c)");
  const int32_t b = free_.back();
  free_.pop_back();
  refs_[static_cast<size_t>(b)] = 1;
  return b;
}

void KVCache::give_block(int32_t b) {
  if (b < 0) return;
  if (--refs_[static_cast<size_t>(b)] == 0) free_.push_back(b);
}

void KVCache::prepare(int seq, int64_t pos_end, int64_t min_query_pos) {
  HELIX_CHECK(seq >= 0 && seq < n_seq_max(), "sequence id ", seq, " is out of range");
  HELIX_CHECK(pos_end <= n_ctx_, "the context is full: ", pos_end, " positions asked, the context holds ",
              n_ctx_, "; start a new conversation or use a larger context (-c)");
  Seq& s = seqs_[static_cast<size_t>(seq)];
  HELIX_CHECK(pos_end - s.len <= n_batch_, "one forward call writes ", pos_end - s.len,
              " positions of a sequence; this KV cache was sized for batches of at most ", n_batch_);
  const int64_t need_blocks = (pos_end + kBlockTokens - 1) / kBlockTokens;
  for (size_t il = 0; il < s.tables.size(); ++il) {
    auto& table = s.tables[il];
    // Drop blocks no query from min_query_pos on can see.
    if (window_[il] > 0 && !keep_window_blocks_) {
      const int64_t lo = first_visible(static_cast<int>(il), min_query_pos);
      for (int64_t b = 0; b < std::min<int64_t>(lo / kBlockTokens, static_cast<int64_t>(table.size())); ++b) {
        give_block(table[static_cast<size_t>(b)]);
        table[static_cast<size_t>(b)] = -1;
      }
    }
    while (static_cast<int64_t>(table.size()) < need_blocks) {
      const int64_t b = static_cast<int64_t>(table.size());
      const bool visible = window_[il] == 0 || keep_window_blocks_ ||
                           (b + 1) * kBlockTokens > first_visible(static_cast<int>(il), min_query_pos);
      table.push_back(visible ? take_block() : -1);
    }
  }
}

void KVCache::commit(int seq, int64_t pos_end) {
  Seq& s = seqs_.at(static_cast<size_t>(seq));
  s.len = std::max(s.len, pos_end);
}

void KVCache::truncate(int seq, int64_t pos) {
  Seq& s = seqs_.at(static_cast<size_t>(seq));
  pos = std::max<int64_t>(0, pos);
  const int64_t keep_blocks = (pos + kBlockTokens - 1) / kBlockTokens;
  for (auto& table : s.tables) {
    while (static_cast<int64_t>(table.size()) > keep_blocks) {
      give_block(table.back());
      table.pop_back();
    }
  }
  s.len = std::min(s.len, pos);
  // A sliding-window layer may have dropped blocks that a shorter sequence needs again; the
  // caller then has to recompute from the start (truncate(seq, 0)), which entry() reports.
}

bool KVCache::can_resume_at(int seq, int64_t pos) const {
  const Seq& s = seqs_.at(static_cast<size_t>(seq));
  if (pos > s.len) return false;
  for (size_t il = 0; il < s.tables.size(); ++il) {
    const auto& table = s.tables[il];
    for (int64_t p = first_visible(static_cast<int>(il), pos); p < pos; p += kBlockTokens) {
      const int64_t bi = p / kBlockTokens;
      if (bi >= static_cast<int64_t>(table.size()) || table[static_cast<size_t>(bi)] < 0) return false;
    }
  }
  return true;
}

uint16_t* KVCache::entry(int layer, int seq, int64_t pos, int kv) {
  const Seq& s = seqs_[static_cast<size_t>(seq)];
  const auto& table = s.tables[static_cast<size_t>(layer)];
  const int64_t bi = pos / kBlockTokens;
  if (bi >= static_cast<int64_t>(table.size())) return nullptr;
  const int32_t b = table[static_cast<size_t>(bi)];
  if (b < 0) return nullptr;
  auto* base = static_cast<uint8_t*>(storage_->data()) + static_cast<size_t>(b) * block_bytes_;
  auto* half = reinterpret_cast<uint16_t*>(base);
  return half + (kv * kBlockTokens + pos % kBlockTokens) * kv_dim_;
}

}  // namespace helix::model
