#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/arena.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/fp16.h"
#include "core/op.h"
#include "core/tensor.h"
#include "core/thread_pool.h"

namespace helix {
namespace {

TEST(DType, TraitsMatchGgml) {
  EXPECT_EQ(dtype_type_size(DType::Q4_K), 144u);
  EXPECT_EQ(dtype_type_size(DType::Q6_K), 210u);
  EXPECT_EQ(dtype_type_size(DType::Q5_0), 22u);
  EXPECT_EQ(dtype_type_size(DType::Q8_0), 34u);
  EXPECT_EQ(dtype_type_size(DType::Q2_K), 84u);
  EXPECT_EQ(dtype_type_size(DType::Q3_K), 110u);
  EXPECT_EQ(dtype_type_size(DType::Q5_K), 176u);
  EXPECT_EQ(dtype_block_size(DType::Q4_K), 256);
  EXPECT_EQ(dtype_from_name("q4_k"), DType::Q4_K);
  EXPECT_FALSE(dtype_traits_of(4).has_value());  // ids 4 and 5 were removed from ggml
  EXPECT_FALSE(dtype_from_name("Q9_9").has_value());
}

TEST(Fp16, RoundTripsEveryHalf) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_f16(f), h) << h;
  }
}

TEST(Fp16, RoundsToNearestEven) {
  EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);     // rounds up to inf
  EXPECT_EQ(f32_to_f16(65519.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(5.9604645e-08f), 0x0001);  // smallest subnormal
  EXPECT_EQ(f32_to_f16(2.9802322e-08f), 0x0000);  // half of it ties to even (0)
  EXPECT_EQ(f32_to_f16(1.0f + 1.0f / 2048), 0x3c00);  // tie -> even
  EXPECT_EQ(f32_to_f16(1.0f + 3.0f / 2048), 0x3c02);
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
}

TEST(Tensor, ViewsShareStorage) {
  Tensor t = Tensor::empty(DType::F32, {4, 3});
  float* d = t.data_as<float>();
  for (int i = 0; i < 12; ++i) d[i] = static_cast<float>(i);
  Tensor v = t.view_rows(1, 2);
  EXPECT_EQ(v.ne(1), 2);
  EXPECT_EQ(reinterpret_cast<const float*>(v.row(0))[0], 4.0f);
  EXPECT_EQ(v.storage(), t.storage());
  Tensor p = t.permute(1, 0, 2, 3);
  EXPECT_FALSE(p.is_contiguous());
  EXPECT_EQ(p.ne(0), 3);
  Tensor r = t.reshape({12});
  EXPECT_EQ(r.ne(0), 12);
  EXPECT_THROW(t.reshape({5}), Error);
  EXPECT_THROW(t.view_rows(2, 2), Error);
}

TEST(Tensor, QuantizedRowsAreBlocks) {
  Tensor t = Tensor::empty(DType::Q4_K, {512, 2});
  EXPECT_EQ(t.row_bytes(), 2u * 144u);
  EXPECT_EQ(t.nbytes(), 4u * 144u);
  EXPECT_THROW(Tensor::empty(DType::Q4_K, {100, 2}), Error);
}

TEST(Arena, CarvesAndResets) {
  Arena a(1 << 12);
  Tensor x = a.alloc(DType::F32, {10});
  Tensor y = a.alloc(DType::F32, {10});
  EXPECT_NE(x.data(), y.data());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(y.data()) % 64, 0u);
  EXPECT_THROW(a.alloc(DType::F32, {4096}), Error);
  a.reset();
  EXPECT_EQ(a.alloc(DType::F32, {10}).data(), x.data());
}

TEST(ThreadPool, ParallelForCoversEveryIndexOnce) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> hits(10007);
  for (int rep = 0; rep < 50; ++rep) {
    pool.parallel_for(static_cast<int64_t>(hits.size()), 7, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
    });
  }
  for (auto& h : hits) ASSERT_EQ(h.load(), 50);
}

int twice(int x) { return 2 * x; }

TEST(Op, DispatchesPerDeviceAndExplainsMissing) {
  Op<int(int)> op("twice");
  op.set(Device::CPU, twice);
  EXPECT_EQ(op(Device::CPU, 21), 42);
  EXPECT_FALSE(op.has(Device::CUDA));
  try {
    op(Device::CUDA, 1);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("twice"), std::string::npos);
  }
}

}  // namespace
}  // namespace helix
