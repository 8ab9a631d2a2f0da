// Row and elementwise ops: the AVX2 row kernels against the scalar ones, the scalar ones and the
// tensor functions (the fastest kernels) against formulas evaluated in double, get_rows against
// the reference dequantizer, and the tensor wrappers' broadcasting and checks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/error.h"
#include "kernel_test_util.h"
#include "kernels/ops.h"
#include "quant/quant.h"

namespace helix::kernels {
namespace {

using testing::random_f32;
using testing::random_weights;

std::vector<float> randv(int64_t n, std::mt19937& rng, float lo, float hi) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = u(rng);
  return v;
}

const int64_t kSizes[] = {1, 3, 7, 8, 9, 15, 16, 17, 33, 640, 1001};

// |a - b| <= rel * |b| + abs, element by element.
void expect_close(const std::vector<float>& a, const std::vector<float>& b, double rel, double abs,
                  const char* what, int64_t n) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    ASSERT_NEAR(a[i], b[i], rel * std::fabs(b[i]) + abs) << what << " n=" << n << " i=" << i;
}

class RowOpsAvx2 : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!isa_available(Isa::Avx2)) GTEST_SKIP() << "no AVX2+FMA+F16C (or HELIX_FORCE_SCALAR)";
  }
  const RowOps& ref = row_ops(Isa::Scalar);
  const RowOps& fast() { return row_ops(Isa::Avx2); }
};

TEST_F(RowOpsAvx2, NormsMatchScalar) {
  std::mt19937 rng(1);
  for (int64_t n : kSizes) {
    const auto x = randv(n, rng, -3, 3), w = randv(n, rng, 0.5f, 1.5f), b = randv(n, rng, -1, 1);
    std::vector<float> a(n), c(n);
    ref.rmsnorm(x.data(), w.data(), a.data(), n, 1e-6f);
    fast().rmsnorm(x.data(), w.data(), c.data(), n, 1e-6f);
    expect_close(c, a, 1e-5, 1e-6, "rmsnorm", n);
    ref.rmsnorm(x.data(), nullptr, a.data(), n, 1e-6f);
    fast().rmsnorm(x.data(), nullptr, c.data(), n, 1e-6f);
    expect_close(c, a, 1e-5, 1e-6, "rmsnorm (no weight)", n);
    ref.layernorm(x.data(), w.data(), b.data(), a.data(), n, 1e-5f);
    fast().layernorm(x.data(), w.data(), b.data(), c.data(), n, 1e-5f);
    expect_close(c, a, 1e-5, 1e-5, "layernorm", n);
  }
}

TEST_F(RowOpsAvx2, ActivationsMatchScalar) {
  std::mt19937 rng(2);
  for (int64_t n : kSizes) {
    for (float range : {3.0f, 30.0f, 200.0f}) {
      const auto x = randv(n, rng, -range, range);
      std::vector<float> a(n), c(n);
      ref.gelu(x.data(), a.data(), n);
      fast().gelu(x.data(), c.data(), n);
      expect_close(c, a, 2e-6, 1e-7, "gelu", n);
      ref.silu(x.data(), a.data(), n);
      fast().silu(x.data(), c.data(), n);
      expect_close(c, a, 2e-6, 1e-7, "silu", n);
    }
  }
}

TEST_F(RowOpsAvx2, SoftmaxMatchesScalar) {
  std::mt19937 rng(3);
  for (int64_t n : kSizes) {
    auto x = randv(n, rng, -20, 20);
    if (n > 2) x[1] = -std::numeric_limits<float>::infinity();  // a masked entry
    std::vector<float> a(n), c(n);
    ref.softmax(x.data(), a.data(), n, 0.5f);
    fast().softmax(x.data(), c.data(), n, 0.5f);
    expect_close(c, a, 2e-6, 1e-9, "softmax", n);
    if (n > 2) {
      EXPECT_EQ(c[1], 0.0f);
    }
  }
  std::vector<float> all_masked(9, -std::numeric_limits<float>::infinity()), y(9, 1.0f);
  fast().softmax(all_masked.data(), y.data(), 9, 1.0f);
  for (float v : y) EXPECT_EQ(v, 0.0f);
}

TEST_F(RowOpsAvx2, AddMulMatchScalarExactly) {
  std::mt19937 rng(4);
  for (int64_t n : kSizes) {
    const auto p = randv(n, rng, -5, 5), q = randv(n, rng, -5, 5);
    std::vector<float> a(n), c(n);
    ref.add(p.data(), q.data(), a.data(), n);
    fast().add(p.data(), q.data(), c.data(), n);
    EXPECT_EQ(a, c);
    ref.mul(p.data(), q.data(), a.data(), n);
    fast().mul(p.data(), q.data(), c.data(), n);
    EXPECT_EQ(a, c);
  }
}

TEST_F(RowOpsAvx2, InPlace) {
  std::mt19937 rng(5);
  auto x = randv(37, rng, -4, 4);
  std::vector<float> expect(37);
  fast().silu(x.data(), expect.data(), 37);
  fast().silu(x.data(), x.data(), 37);
  EXPECT_EQ(x, expect);
}

// The scalar kernels against the formulas in double.
TEST(RowOpsScalar, MatchFormulasInDouble) {
  std::mt19937 rng(6);
  const RowOps& ops = row_ops(Isa::Scalar);
  const int64_t n = 300;
  const auto x = randv(n, rng, -6, 6), w = randv(n, rng, 0.5f, 1.5f);
  std::vector<float> y(n);
  double ss = 0, mean = 0, var = 0, mx = -1e30, se = 0;
  for (float v : x) ss += double(v) * v, mean += v, mx = std::max(mx, double(v));
  mean /= n;
  for (float v : x) var += (v - mean) * (v - mean), se += std::exp(v - mx);
  ops.rmsnorm(x.data(), w.data(), y.data(), n, 1e-5f);
  for (int i = 0; i < n; ++i) EXPECT_NEAR(y[i], x[i] / std::sqrt(ss / n + 1e-5) * w[i], 1e-5);
  ops.layernorm(x.data(), nullptr, w.data(), y.data(), n, 1e-5f);
  for (int i = 0; i < n; ++i)
    EXPECT_NEAR(y[i], (x[i] - mean) / std::sqrt(var / n + 1e-5) + w[i], 1e-5);
  ops.softmax(x.data(), y.data(), n, 1.0f);
  for (int i = 0; i < n; ++i) EXPECT_NEAR(y[i], std::exp(x[i] - mx) / se, 1e-7);
  ops.gelu(x.data(), y.data(), n);
  for (int i = 0; i < n; ++i) {
    const double v = x[i];
    EXPECT_NEAR(y[i], 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))),
                1e-5);
  }
  ops.silu(x.data(), y.data(), n);
  for (int i = 0; i < n; ++i) EXPECT_NEAR(y[i], x[i] / (1 + std::exp(-double(x[i]))), 1e-5);
}

// ---- tensor ops ---------------------------------------------------------------------------------

TEST(TensorOps, AddBroadcastsOneRow) {
  std::mt19937 rng(7);
  const Tensor a = random_f32({19, 3, 2}, rng);
  const Tensor b = random_f32({19}, rng);
  Tensor y = Tensor::empty(DType::F32, {19, 3, 2});
  add(a, b, y);
  for (int64_t r = 0; r < 6; ++r)
    for (int i = 0; i < 19; ++i)
      EXPECT_EQ(y.data_as<float>()[r * 19 + i],
                a.data_as<float>()[r * 19 + i] + b.data_as<float>()[i]);
  mul(a, a, y);
  for (int64_t i = 0; i < a.numel(); ++i)
    EXPECT_EQ(y.data_as<float>()[i], a.data_as<float>()[i] * a.data_as<float>()[i]);
  const Tensor bad = random_f32({19, 2}, rng);
  EXPECT_THROW(add(a, bad, y), Error);
}

TEST(TensorOps, NormsAndActivationsUseRowOps) {
  std::mt19937 rng(8);
  const Tensor x = random_f32({640, 40}, rng, -3, 3);  // big enough to go through the pool
  const Tensor w = random_f32({640}, rng, 0.5f, 1.5f);
  Tensor y = Tensor::empty(DType::F32, {640, 40});
  rmsnorm(x, w, y, 1e-6f);
  std::vector<float> expect(640);
  for (int64_t r = 0; r < 40; ++r) {
    row_ops().rmsnorm(x.data_as<float>() + r * 640, w.data_as<float>(), expect.data(), 640, 1e-6f);
    ASSERT_EQ(0, std::memcmp(expect.data(), y.data_as<float>() + r * 640, 640 * 4)) << r;
  }
  Tensor y2 = Tensor::empty(DType::F32, {640, 40});
  softmax(x, y2, 0.125f);
  for (int64_t r = 0; r < 40; ++r) {
    double s = 0;
    for (int i = 0; i < 640; ++i) s += y2.data_as<float>()[r * 640 + i];
    EXPECT_NEAR(s, 1.0, 1e-5);
  }
  EXPECT_THROW(rmsnorm(x, random_f32({639}, rng), y, 1e-6f), Error);
}

// gelu, silu and layernorm through the tensor functions (the fastest kernels this CPU runs, on
// the pool) against the formulas in double, over inputs from tiny to saturating.
double gelu_ref(double v) { return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))); }
double silu_ref(double v) { return v / (1 + std::exp(-v)); }

TEST(TensorOps, ActivationsMatchDouble) {
  std::mt19937 rng(11);
  for (float range : {0.01f, 4.0f, 40.0f}) {
    const Tensor x = random_f32({1001, 9}, rng, -range, range);
    Tensor y = Tensor::empty(DType::F32, {1001, 9});
    const float* xp = x.data_as<float>();
    gelu(x, y);
    for (int64_t i = 0; i < x.numel(); ++i)
      ASSERT_NEAR(y.data_as<float>()[i], gelu_ref(xp[i]), 2e-6 * std::fabs(gelu_ref(xp[i])) + 1e-6) << "gelu x=" << xp[i];
    silu(x, y);
    for (int64_t i = 0; i < x.numel(); ++i)
      ASSERT_NEAR(y.data_as<float>()[i], silu_ref(xp[i]), 2e-6 * std::fabs(silu_ref(xp[i])) + 1e-6) << "silu x=" << xp[i];
  }
  // Exact points: gelu(0) = silu(0) = 0, both tend to x for large x and to 0 for very negative x.
  Tensor x = Tensor::empty(DType::F32, {4}), y = Tensor::empty(DType::F32, {4});
  const float pts[] = {0.0f, 30.0f, -30.0f, 1.0f};
  std::memcpy(x.data(), pts, sizeof pts);
  gelu(x, y);
  EXPECT_EQ(y.data_as<float>()[0], 0.0f);
  EXPECT_FLOAT_EQ(y.data_as<float>()[1], 30.0f);
  EXPECT_NEAR(y.data_as<float>()[2], 0.0f, 1e-6);
  EXPECT_NEAR(y.data_as<float>()[3], 0.841192, 1e-6);
  silu(x, y);
  EXPECT_EQ(y.data_as<float>()[0], 0.0f);
  EXPECT_FLOAT_EQ(y.data_as<float>()[1], 30.0f);
  EXPECT_NEAR(y.data_as<float>()[2], -30.0 / (1 + std::exp(30.0)), 1e-9);
  EXPECT_NEAR(y.data_as<float>()[3], 0.731059, 1e-6);
}

TEST(TensorOps, LayernormMatchesDouble) {
  std::mt19937 rng(12);
  for (int64_t n : {7, 384, 1001}) {
    const int64_t rows = 13;
    const Tensor x = random_f32({n, rows}, rng, -3, 5);  // a mean far from 0
    const Tensor w = random_f32({n}, rng, 0.5f, 1.5f), b = random_f32({n}, rng, -1, 1);
    Tensor y = Tensor::empty(DType::F32, {n, rows}), y0 = Tensor::empty(DType::F32, {n, rows});
    layernorm(x, w, b, y, 1e-5f);
    layernorm(x, Tensor(), Tensor(), y0, 1e-12f);
    for (int64_t r = 0; r < rows; ++r) {
      const float* xr = x.data_as<float>() + r * n;
      double mean = 0, var = 0;
      for (int64_t i = 0; i < n; ++i) mean += xr[i];
      mean /= static_cast<double>(n);
      for (int64_t i = 0; i < n; ++i) var += (xr[i] - mean) * (xr[i] - mean);
      var /= static_cast<double>(n);
      double s0 = 0, s1 = 0;
      for (int64_t i = 0; i < n; ++i) {
        const double z = (xr[i] - mean) / std::sqrt(var + 1e-5);
        const double expect = z * w.data_as<float>()[i] + b.data_as<float>()[i];
        ASSERT_NEAR(y.data_as<float>()[r * n + i], expect, 1e-5 * std::fabs(expect) + 1e-5) << "n " << n << " row " << r;
        const double u = y0.data_as<float>()[r * n + i];
        s0 += u, s1 += u * u;
      }
      // Without weight and bias each row has mean 0 and variance 1.
      EXPECT_NEAR(s0 / static_cast<double>(n), 0.0, 1e-5);
      EXPECT_NEAR(s1 / static_cast<double>(n), 1.0, 1e-4);
    }
  }
}

TEST(TensorOps, GetRowsDequantizesTheChosenRows) {
  std::mt19937 rng(10);
  for (DType t : {DType::Q8_0, DType::Q5_0, DType::Q4_K, DType::Q6_K, DType::F16, DType::F32}) {
    const Tensor table = random_weights(t, 512, 50, rng);
    Tensor ids = Tensor::empty(DType::I32, {4});
    const int32_t id[] = {49, 0, 7, 7};
    std::memcpy(ids.data(), id, sizeof id);
    Tensor out = Tensor::empty(DType::F32, {512, 4});
    get_rows(table, ids, out);
    for (int i = 0; i < 4; ++i) {
      const auto expect = testing::dequant_row(table, id[i]);
      EXPECT_EQ(0, std::memcmp(expect.data(), out.data_as<float>() + i * 512, 512 * 4))
          << dtype_name(t);
    }
    reinterpret_cast<int32_t*>(ids.data())[2] = 50;
    EXPECT_THROW(get_rows(table, ids, out), Error);
  }
}

}  // namespace
}  // namespace helix::kernels
