// KV cache: keys and values of every layer for many sequences, in fixed-size blocks of
// kBlockTokens positions drawn from one pool. Each (sequence, layer) has its own block table, so
// sliding-window layers give back blocks that fell out of their window while global layers keep
// everything, and blocks can later be shared between sequences with a common prefix (the
// serving engine's prefix cache) by reference counting. Entries are f16, as in llama.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/tensor.h"
#include "model/hparams.h"

namespace helix::model {

class KVCache {
 public:
  static constexpr int64_t kBlockTokens = 32;

  // Room for n_seq_max sequences of up to n_ctx positions each, written at most n_batch
  // positions per sequence per forward call (a sliding-window layer holds its window plus the
  // batch being written).
  // keep_window_blocks: sliding-window layers keep every block instead of giving back those
  // that fell out of their window, so that any stored prefix can be resumed (the serving
  // engine's prefix cache) at the cost of global-layer memory for those layers.
  KVCache(const HParams& hp, int64_t n_ctx, int n_seq_max, int64_t n_batch = 512, bool keep_window_blocks = false);

  int64_t n_ctx() const { return n_ctx_; }
  int n_seq_max() const { return static_cast<int>(seqs_.size()); }
  int64_t kv_dim() const { return kv_dim_; }
  // Number of positions stored for a sequence (the next position to write).
  int64_t seq_len(int seq) const { return seqs_.at(static_cast<size_t>(seq)).len; }

  // Makes positions [seq_len, pos_end) writable for every layer and lets sliding-window layers
  // drop blocks wholly below `min_query_pos - window + 1`. Throws when the context is full.
  void prepare(int seq, int64_t pos_end, int64_t min_query_pos);
  // Marks positions below pos_end as stored (call after the forward pass wrote them).
  void commit(int seq, int64_t pos_end);
  // Forgets a sequence's positions from pos on (pos = 0 clears it) and frees their blocks.
  void truncate(int seq, int64_t pos);

  // Whether a sequence truncated to `pos` positions still holds every key a query at `pos` can
  // see (a sliding-window layer may have dropped them); if not, recompute from the start.
  bool can_resume_at(int seq, int64_t pos) const;

  // [kv_dim] f16 entries of one position; nullptr if that block was dropped (outside a window).
  uint16_t* k(int layer, int seq, int64_t pos) { return entry(layer, seq, pos, 0); }
  uint16_t* v(int layer, int seq, int64_t pos) { return entry(layer, seq, pos, 1); }
  // Oldest position a query at `pos` may attend to in this layer.
  int64_t first_visible(int layer, int64_t pos) const {
    const int64_t w = window_[static_cast<size_t>(layer)];
    return (w > 0 && pos - w + 1 > 0) ? pos - w + 1 : 0;
  }

  size_t bytes_allocated() const { return storage_->size(); }
  int64_t blocks_free() const { return static_cast<int64_t>(free_.size()); }

 private:
  struct Seq {
    int64_t len = 0;
    std::vector<std::vector<int32_t>> tables;  // [layer][block index] -> pool block or -1
  };
  uint16_t* entry(int layer, int seq, int64_t pos, int kv);
  int32_t take_block();
  void give_block(int32_t b);

  int64_t n_ctx_;
  int64_t n_batch_;
  bool keep_window_blocks_;
  int64_t kv_dim_;
  std::vector<int64_t> window_;  // per layer, 0 = global
  std::vector<Seq> seqs_;
  std::vector<int32_t> free_;
  std::vector<int32_t> refs_;
  std::shared_ptr<HeapStorage> storage_;
  size_t block_bytes_ = 0;  // K and V of one block
};

}  // namespace helix::model
