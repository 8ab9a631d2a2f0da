// A sequence's logits must not depend on what else is in the batch: the server promises that the
// same seed and prompt give the same text served alone or beside other streams. Checked bit for
// bit on tiny models at a context long enough (300 keys) for decode attention to split its keys
// across threads when a sequence runs alone.
#include <gtest/gtest.h>

#include <filesystem>

#include <unistd.h>

#include "core/error.h"
#include "model/batch.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "model/tiny.h"

namespace helix::model {
namespace {

constexpr int kSeqs = 8;
constexpr int64_t kPrompt = 300;

int32_t token(int seq, int64_t i, int64_t n_vocab) {
  return static_cast<int32_t>(3 + (seq * 131 + i * 17) % (n_vocab - 3));
}

void prefill(Model& m, KVCache& kv, int seq, std::vector<float>& logits) {
  Batch b;
  for (int64_t i = 0; i < kPrompt; ++i) b.add(token(seq, i, m.hparams().n_vocab), i, seq, i + 1 == kPrompt);
  m.forward(b, kv, logits);
}

class BatchInvariance : public ::testing::TestWithParam<std::tuple<std::string, DType>> {};

std::unique_ptr<Model> tiny_model(const std::string& arch, DType t) {
  TinySpec spec;
  spec.arch = arch;
  spec.weight_type = t;
  spec.n_swa = 128;  // gemma3: sliding layers see fewer keys than global ones
  const auto path = (std::filesystem::temp_directory_path() /
                     cat("helix_batch_inv_", ::getpid(), "_", arch, "_", dtype_name(t), ".gguf")).string();
  write_tiny_model(spec, path);
  auto m = load_model(path);
  std::filesystem::remove(path);
  return m;
}

TEST_P(BatchInvariance, DecodeAloneEqualsDecodeInABatch) {
  auto m = tiny_model(std::get<0>(GetParam()), std::get<1>(GetParam()));
  const int64_t V = m->hparams().n_vocab;
  std::vector<float> logits;

  KVCache alone(m->hparams(), 512, kSeqs);
  prefill(*m, alone, 0, logits);
  Batch b1;
  b1.add(token(0, kPrompt, V), kPrompt, 0, true);
  m->forward(b1, alone, logits);
  const std::vector<float> want(logits.begin(), logits.begin() + V);

  KVCache batched(m->hparams(), 512, kSeqs);
  for (int s = 0; s < kSeqs; ++s) prefill(*m, batched, s, logits);
  Batch b8;
  for (int s = 0; s < kSeqs; ++s) b8.add(token(s, kPrompt, V), kPrompt, s, true);
  m->forward(b8, batched, logits);
  for (int64_t i = 0; i < V; ++i) ASSERT_EQ(logits[static_cast<size_t>(i)], want[static_cast<size_t>(i)]) << "logit " << i;
}

// The server prefills a long prompt in chunks whose sizes depend on the other streams.
TEST_P(BatchInvariance, PrefillInChunksEqualsOneBatch) {
  auto m = tiny_model(std::get<0>(GetParam()), std::get<1>(GetParam()));
  const int64_t V = m->hparams().n_vocab;
  std::vector<float> logits;
  KVCache whole(m->hparams(), 512, 1);
  prefill(*m, whole, 0, logits);
  const std::vector<float> want(logits.begin(), logits.begin() + V);
  KVCache chunked(m->hparams(), 512, 1);
  for (auto [from, to] : {std::pair<int64_t, int64_t>{0, 64}, {64, 71}, {71, 200}, {200, kPrompt}}) {
    Batch b;
    for (int64_t i = from; i < to; ++i) b.add(token(0, i, V), i, 0, i + 1 == kPrompt);
    m->forward(b, chunked, logits);
  }
  for (int64_t i = 0; i < V; ++i) ASSERT_EQ(logits[static_cast<size_t>(i)], want[static_cast<size_t>(i)]) << "logit " << i;
}

INSTANTIATE_TEST_SUITE_P(Archs, BatchInvariance,
                         ::testing::Combine(::testing::Values("llama", "gemma3"),
                                            ::testing::Values(DType::F32, DType::Q8_0, DType::Q4_K)),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" + std::string(dtype_name(std::get<1>(info.param)));
                         });

}  // namespace
}  // namespace helix::model
