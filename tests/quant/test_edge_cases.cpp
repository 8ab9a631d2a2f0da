// Edge cases of the reference quantizers: zeros, constants, extreme magnitudes, non-finite
// input, hand-built blocks with known values, the tensor-level API and its errors.
//
// Documented behaviour for non-finite input: F32/F16/BF16 keep NaN and infinities; the block
// formats have f16 scales and no encoding for them, so a block holding NaN or an infinity
// dequantizes to meaningless values - but only that block: every other block is unaffected, and
// nothing crashes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"
#include "quant/quant.h"

namespace helix::quant {
namespace {

const DType kBlockTypes[] = {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0,
                             DType::Q8_1, DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K,
                             DType::Q6_K, DType::Q8_K};
const DType kAllTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0, DType::Q4_1,
                           DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q8_1, DType::Q2_K,
                           DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::Q8_K};

std::vector<float> roundtrip(DType t, const std::vector<float>& x) {
  const auto n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> q(dtype_row_bytes(t, n));
  quantize_row(t, x.data(), q.data(), n);
  std::vector<float> y(x.size());
  dequantize_row(t, q.data(), y.data(), n);
  return y;
}

double max_abs_err(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(double(a[i]) - b[i]));
  return m;
}

std::vector<float> gaussian(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d;
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

TEST(QuantEdge, ZerosStayZero) {
  const std::vector<float> z(512, 0.0f);
  for (DType t : kAllTypes) {
    const auto y = roundtrip(t, z);
    for (float v : y) ASSERT_EQ(v, 0.0f) << dtype_name(t);
  }
}

// A constant row is reproduced closely: exactly by the formats with a min, and within one step
// of the symmetric ones (whose largest level is the constant itself, scaled by an f16). (Much
// smaller constants cost more: the K-quants' super-scales, about c/1000, become f16 subnormals.)
TEST(QuantEdge, ConstantRows) {
  for (const float c : {0.75f, -3.5f, 0.1f}) {
    const std::vector<float> x(512, c);
    for (DType t : kAllTypes) {
      const auto y = roundtrip(t, x);
      EXPECT_LE(max_abs_err(x, y), std::fabs(c) * 2e-3 + 1e-7) << dtype_name(t) << " c=" << c;
    }
  }
}

// Large magnitudes whose scales still fit in f16 keep their relative error; tiny ones lose to
// f16's range (scales underflow) but never produce anything larger than the input.
TEST(QuantEdge, HugeAndTinyMagnitudes) {
  auto x = gaussian(1024, 5);
  auto big = x;
  for (auto& v : big) v *= 1000.0f;  // |x| up to ~4000: scales below f16's 65504
  for (DType t : kAllTypes) {
    const auto y = roundtrip(t, big);
    double s = 0;
    for (size_t i = 0; i < y.size(); ++i) s += (y[i] - big[i]) * double(y[i] - big[i]);
    EXPECT_LT(std::sqrt(s / y.size()) / 1000.0, 0.35) << dtype_name(t);
    for (float v : y) EXPECT_TRUE(std::isfinite(v)) << dtype_name(t);
  }
  auto tiny = x;
  for (auto& v : tiny) v *= 1e-9f;
  for (DType t : kBlockTypes) {
    const auto y = roundtrip(t, tiny);
    for (size_t i = 0; i < y.size(); ++i) {
      ASSERT_TRUE(std::isfinite(y[i])) << dtype_name(t);
      ASSERT_LE(std::fabs(y[i] - tiny[i]), 3 * 4.0e-9) << dtype_name(t) << " at " << i;
    }
  }
}

TEST(QuantEdge, FloatFormatsKeepNonFinite) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> x = {std::nanf(""), inf, -inf, 1e6f, -0.0f, 65504.0f, 65520.0f, 1.0f};
  auto y = roundtrip(DType::F16, x);
  EXPECT_TRUE(std::isnan(y[0]));
  EXPECT_EQ(y[1], inf);
  EXPECT_EQ(y[2], -inf);
  EXPECT_EQ(y[3], inf);  // beyond f16's range
  EXPECT_TRUE(std::signbit(y[4]));
  EXPECT_EQ(y[5], 65504.0f);
  EXPECT_EQ(y[6], inf);  // the halfway point to the next (nonexistent) step rounds up to inf
  y = roundtrip(DType::BF16, x);
  EXPECT_TRUE(std::isnan(y[0]));
  EXPECT_EQ(y[1], inf);
  EXPECT_EQ(y[2], -inf);
  EXPECT_TRUE(std::signbit(y[4]));
}

// NaN or infinity in one block of a block format: defined output, other blocks untouched.
TEST(QuantEdge, NonFiniteOnlyAffectsItsBlock) {
  const auto x = gaussian(1024, 9);
  for (const float bad : {std::nanf(""), std::numeric_limits<float>::infinity()}) {
    for (DType t : kBlockTypes) {
      const int64_t bs = dtype_block_size(t);
      auto poisoned = x;
      poisoned[static_cast<size_t>(bs + 3)] = bad;  // in the second block
      const auto clean = roundtrip(t, x);
      const auto y = roundtrip(t, poisoned);
      for (size_t i = 0; i < y.size(); ++i) {
        if (static_cast<int64_t>(i) / bs == 1) continue;
        ASSERT_EQ(f32_to_bits(y[i]), f32_to_bits(clean[i])) << dtype_name(t) << " at " << i;
      }
    }
  }
}

// Hand-built blocks with known contents.
TEST(QuantEdge, KnownBlocks) {
  {
    BlockQ4_0 b{};
    b.d = f32_to_f16(0.5f);
    for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
    float y[32];
    dequantize_row_q4_0(&b, y, 32);
    EXPECT_EQ(y[0], -4.0f);    // (0 - 8) * 0.5
    EXPECT_EQ(y[15], 3.5f);    // (15 - 8) * 0.5
    EXPECT_EQ(y[16], 3.5f);    // high nibble of qs[0] = 15
    EXPECT_EQ(y[31], -4.0f);
  }
  {
    BlockQ5_0 b{};
    b.d = f32_to_f16(1.0f);
    b.qh[0] = 0x01;  // fifth bit of element 0
    b.qh[2] = 0x01;  // fifth bit of element 16
    b.qs[0] = 0x2F;  // element 0 low nibble 15, element 16 low nibble 2
    float y[32];
    dequantize_row_q5_0(&b, y, 32);
    EXPECT_EQ(y[0], 15.0f);  // 31 - 16
    EXPECT_EQ(y[16], 2.0f);  // 18 - 16
    EXPECT_EQ(y[1], -16.0f);
  }
  {
    BlockQ4_K b{};
    b.d = f32_to_f16(0.25f);
    b.dmin = f32_to_f16(1.0f);
    const uint8_t ls[8] = {1, 2, 3, 4, 63, 40, 17, 33}, lm[8] = {0, 1, 2, 3, 4, 5, 6, 63};
    // Pack by the documented layout and check that unpacking gives the values back.
    uint8_t* p = b.scales;
    for (int j = 0; j < 4; ++j) {
      p[j] = static_cast<uint8_t>(ls[j] | ((ls[j + 4] >> 4) << 6));
      p[j + 4] = static_cast<uint8_t>(lm[j] | ((lm[j + 4] >> 4) << 6));
      p[j + 8] = static_cast<uint8_t>((ls[j + 4] & 0xF) | ((lm[j + 4] & 0xF) << 4));
    }
    for (int j = 0; j < 8; ++j) {
      uint8_t s, m;
      unpack_scale_min_k4(p, j, s, m);
      EXPECT_EQ(s, ls[j]);
      EXPECT_EQ(m, lm[j]);
    }
    for (int c = 0; c < 4; ++c) b.qs[32 * c] = 0x5A;  // low nibble 10, high nibble 5
    float y[256];
    dequantize_row_q4_k(&b, y, 256);
    EXPECT_EQ(y[0], 0.25f * 1 * 10 - 0.0f);
    EXPECT_EQ(y[32], 0.25f * 2 * 5 - 1.0f);
    EXPECT_EQ(y[224], 0.25f * 33 * 5 - 63.0f);
    EXPECT_EQ(y[225], -63.0f);
  }
  {
    BlockQ6_K b{};
    b.d = f32_to_f16(2.0f);
    for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<int8_t>(j - 8);
    std::memset(b.ql, 0xFF, sizeof(b.ql));
    std::memset(b.qh, 0xFF, sizeof(b.qh));  // every level 63 -> q = 31
    float y[256];
    dequantize_row_q6_k(&b, y, 256);
    for (int e = 0; e < 256; ++e) ASSERT_EQ(y[e], 2.0f * float(e / 16 - 8) * 31.0f) << e;
  }
}

TEST(QuantEdge, Q8Sums) {
  const auto x = gaussian(512, 13);
  std::vector<BlockQ8_1> q1(512 / 32);
  quantize_row_q8_1(x.data(), q1.data(), 512);
  for (const auto& b : q1) {
    int sum = 0;
    for (int8_t v : b.qs) sum += v;
    EXPECT_NEAR(f16_to_f32(b.s), sum * f16_to_f32(b.d), std::fabs(sum * f16_to_f32(b.d)) * 2e-3 + 1e-6);
  }
  std::vector<BlockQ8_K> qk(2);
  quantize_row_q8_k(x.data(), qk.data(), 512);
  for (const auto& b : qk)
    for (int g = 0; g < 16; ++g) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += b.qs[16 * g + l];
      EXPECT_EQ(b.bsums[g], sum);
    }
}

TEST(QuantEdge, TensorApi) {
  const auto x = gaussian(256 * 6, 17);
  Tensor src = Tensor::empty(DType::F32, {256, 3, 2});
  std::memcpy(src.data(), x.data(), x.size() * sizeof(float));
  for (DType t : {DType::Q4_K, DType::Q8_0, DType::F16}) {
    const Tensor q = quantize(src, t);
    EXPECT_EQ(q.dtype(), t);
    EXPECT_EQ(q.shape(), src.shape());
    const Tensor y = dequantize(q);
    ASSERT_EQ(y.dtype(), DType::F32);
    EXPECT_EQ(y.shape(), src.shape());
    // Row by row, the tensor API agrees with the row API.
    std::vector<float> row(256);
    for (int64_t r = 0; r < 6; ++r) {
      dequantize_row(t, q.row(r % 3, r / 3), row.data(), 256);
      ASSERT_EQ(0, std::memcmp(row.data(), y.data_as<float>() + r * 256, 256 * sizeof(float))) << r;
    }
    // A view of some rows dequantizes to those rows.
    const Tensor part = dequantize(q.reshape({256, 6}).view_rows(2, 3));
    ASSERT_EQ(part.ne(1), 3);
    EXPECT_EQ(0, std::memcmp(part.data(), y.data_as<float>() + 2 * 256, 3 * 256 * sizeof(float)));
  }
}

TEST(QuantEdge, Errors) {
  float buf[64] = {};
  uint8_t out[1024];
  EXPECT_TRUE(can_quantize(DType::Q4_K));
  EXPECT_FALSE(can_quantize(DType::IQ2_XXS));
  EXPECT_FALSE(can_dequantize(DType::IQ4_NL));
  EXPECT_THROW(quantize_row(DType::IQ2_XXS, buf, out, 256), Error);
  EXPECT_THROW(dequantize_row(DType::TQ1_0, out, buf, 256), Error);
  EXPECT_THROW(quantize_row(DType::Q4_0, buf, out, 31), Error);
  EXPECT_THROW(quantize_row(DType::Q4_K, buf, out, 32), Error);
  try {
    quantize_row(DType::Q6_K, buf, out, 64);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("block size 256"), std::string::npos) << e.what();
  }
  const Tensor i32 = Tensor::empty(DType::F16, {32, 2});
  EXPECT_THROW(quantize(i32, DType::Q8_0), Error);  // the source must be F32
  const Tensor f = Tensor::empty(DType::F32, {48, 2});
  EXPECT_THROW(quantize(f, DType::Q8_0), Error);  // 48 is not a multiple of 32
}

}  // namespace
}  // namespace helix::quant
