// Round-trip error of every reference quantizer on gaussian data: quantize, dequantize, and bound
// the RMSE relative to the data's standard deviation. The bounds are the measured values (seeded
// data, so deterministic) plus about 5% headroom; they pin each format's known quality so that a
// regression in a scale search shows up as a failure.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "quant/quant.h"

namespace helix::quant {
namespace {

std::vector<float> gaussian(size_t n, float sigma, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

std::vector<float> roundtrip(DType t, const std::vector<float>& x) {
  const auto n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> q(dtype_row_bytes(t, n));
  quantize_row(t, x.data(), q.data(), n);
  std::vector<float> y(x.size());
  dequantize_row(t, q.data(), y.data(), n);
  return y;
}

double rmse(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  return std::sqrt(s / double(a.size()));
}

struct Bound {
  DType type;
  double rel_rmse;  // RMSE / sigma must stay below this
};

// Measured RMSE / sigma on 2^20 N(0, 1) values (seed 42), printed by the first test:
//   F16 2.08e-4  BF16 1.66e-3  Q8_0 5.36e-3  Q8_1 5.36e-3  Q8_K 6.97e-3  Q6_K 1.77e-2
//   Q5_1 3.79e-2  Q5_K 3.62e-2  Q5_0 4.27e-2  Q4_1 7.83e-2  Q4_K 7.14e-2  Q4_0 8.60e-2
//   Q3_K 1.51e-1  Q2_K 2.97e-1
// (Q8_0 is about d/sqrt(12) with d = max|x|/127 over 32 values; Q8_K's 256-value blocks give a
// coarser step. The K-quants beat the legacy formats of the same size: Q4_K < Q4_0 at 4.5 bits,
// Q5_K < Q5_0 at 5.5 bits.)
const Bound kBounds[] = {
    {DType::F16, 2.2e-4},   {DType::BF16, 1.75e-3}, {DType::Q8_0, 5.6e-3}, {DType::Q8_1, 5.6e-3},
    {DType::Q8_K, 7.3e-3},  {DType::Q6_K, 1.86e-2}, {DType::Q5_1, 3.98e-2}, {DType::Q5_K, 3.8e-2},
    {DType::Q5_0, 4.5e-2},  {DType::Q4_1, 8.2e-2},  {DType::Q4_K, 7.5e-2},  {DType::Q4_0, 9.0e-2},
    {DType::Q3_K, 1.59e-1}, {DType::Q2_K, 3.11e-1},
};

TEST(QuantRoundtrip, GaussianRmseWithinKnownBounds) {
  const auto x = gaussian(size_t{1} << 20, 1.0f, 42);
  std::printf("%-6s %12s %12s\n", "type", "rmse/sigma", "bound");
  for (const auto& b : kBounds) {
    const double r = rmse(x, roundtrip(b.type, x));
    std::printf("%-6s %12.4e %12.4e\n", std::string(dtype_name(b.type)).c_str(), r, b.rel_rmse);
    EXPECT_LT(r, b.rel_rmse) << dtype_name(b.type);
  }
}

// The error scales with the data: nearly the same bounds hold at sigma 1e-3 and 1e3. At 1e-3
// Q6_K's super-scale (about sigma / 2000) is an f16 subnormal and loses bits, which costs it ~17%.
TEST(QuantRoundtrip, ErrorIsRelativeToScale) {
  for (const float sigma : {1e-3f, 1e3f}) {
    const auto x = gaussian(size_t{1} << 16, sigma, 7);
    for (const auto& b : kBounds) {
      const double r = rmse(x, roundtrip(b.type, x)) / sigma;
      EXPECT_LT(r, b.rel_rmse * (b.type == DType::Q6_K ? 1.2 : 1.05)) << dtype_name(b.type) << " at sigma " << sigma;
    }
  }
}

// Quantization is a pure function of the input: running it twice gives the same bytes.
TEST(QuantRoundtrip, Deterministic) {
  const auto x = gaussian(4096, 1.0f, 3);
  for (const auto& b : kBounds) {
    std::vector<uint8_t> q1(dtype_row_bytes(b.type, 4096)), q2(q1.size());
    quantize_row(b.type, x.data(), q1.data(), 4096);
    quantize_row(b.type, x.data(), q2.data(), 4096);
    EXPECT_EQ(q1, q2) << dtype_name(b.type);
  }
}

// Heavy-tailed data (a few outliers per block) still round-trips within a few times the gaussian
// error: the outlier sets the scale, the rest lose precision but stay bounded.
TEST(QuantRoundtrip, OutliersStayBounded) {
  auto x = gaussian(size_t{1} << 16, 1.0f, 11);
  for (size_t i = 0; i < x.size(); i += 97) x[i] *= 20.0f;
  for (const auto& b : kBounds) {
    const double r = rmse(x, roundtrip(b.type, x));
    EXPECT_LT(r, b.rel_rmse * 12) << dtype_name(b.type);
  }
}

}  // namespace
}  // namespace helix::quant
