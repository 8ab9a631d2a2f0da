// KV cache block accounting: sliding-window layers keep their window plus the batch being
// written, global layers keep everything, and the limits are reported in words.
#include <gtest/gtest.h>

#include "core/error.h"
#include "model/kv_cache.h"

namespace helix::model {
namespace {

HParams swa_hparams(int64_t window) {
  HParams hp;
  hp.n_layer = 2;
  hp.n_head = 2;
  hp.n_head_kv = 1;
  hp.head_dim = 8;
  hp.n_swa = window;
  hp.swa_layers = {true, false};  // layer 0 slides, layer 1 is global
  return hp;
}

// Writes [from, to) of sequence `seq` in batches of `batch` positions, as a forward pass would.
void fill(KVCache& kv, int seq, int64_t from, int64_t to, int64_t batch) {
  for (int64_t s = from; s < to; s += batch) {
    const int64_t e = std::min(to, s + batch);
    kv.prepare(seq, e, s);
    kv.commit(seq, e);
  }
}

TEST(KVCache, LongContextInFullBatchesFitsTheWindowBudget) {
  // Gemma 3 270M's shape: a 512-position window, prefilled 1024+ positions 512 at a time.
  KVCache kv(swa_hparams(512), 1100, 1, 512);
  EXPECT_NO_THROW(fill(kv, 0, 0, 1100, 512));
  EXPECT_EQ(kv.seq_len(0), 1100);
  // Keys the window still covers are present, older ones were given back.
  EXPECT_NE(kv.k(0, 0, 1099 - 511), nullptr);
  EXPECT_EQ(kv.k(0, 0, 0), nullptr);
  EXPECT_NE(kv.k(1, 0, 0), nullptr);  // the global layer keeps everything
  EXPECT_FALSE(kv.can_resume_at(0, 1099 - 600));
}

TEST(KVCache, KeepingWindowBlocksLetsAnyPrefixResume) {
  KVCache kv(swa_hparams(64), 512, 1, 128, /*keep_window_blocks=*/true);
  fill(kv, 0, 0, 512, 128);
  EXPECT_NE(kv.k(0, 0, 0), nullptr);
  EXPECT_TRUE(kv.can_resume_at(0, 300));
  EXPECT_EQ(kv.first_visible(0, 511), 511 - 63);  // attention still sees only the window
}

TEST(KVCache, ManySequencesShareThePool) {
  KVCache kv(swa_hparams(64), 512, 3, 128);
  for (int seq = 0; seq < 3; ++seq) EXPECT_NO_THROW(fill(kv, seq, 0, 512, 128));
  kv.truncate(1, 0);
  EXPECT_EQ(kv.seq_len(1), 0);
  EXPECT_NO_THROW(fill(kv, 1, 0, 512, 128));
}

TEST(KVCache, LimitsAreExplained) {
  KVCache kv(swa_hparams(64), 256, 1, 64);
  try {
    kv.prepare(0, 128, 0);  // a batch larger than the cache was sized for
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("at most 64"), std::string::npos) << e.what();
  }
  fill(kv, 0, 0, 256, 64);
  try {
    kv.prepare(0, 257, 256);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("context is full"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace helix::model
