// Row and elementwise ops: the AVX2 row kernels against the scalar ones, the scalar ones against
// formulas evaluated in double, rope against the rotation written out, get_rows against the
// reference dequantizer, and the tensor wrappers' broadcasting and checks.
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
  gelu(x, y);
  silu(x, y2);
  layernorm(x, Tensor(), Tensor(), y, 1e-5f);
  EXPECT_THROW(rmsnorm(x, random_f32({639}, rng), y, 1e-6f), Error);
}

// rope written out in double: theta_i = pos * scale * base^(-2i/n_dims).
void rope_expect(std::vector<double>& v, int head_dim, int n_dims, double theta_pos, double base,
                 RopeMode mode) {
  (void)head_dim;
  for (int i = 0; i < n_dims / 2; ++i) {
    const double th = theta_pos * std::pow(base, -2.0 * i / n_dims);
    const int a = mode == RopeMode::Neox ? i : 2 * i;
    const int b = mode == RopeMode::Neox ? i + n_dims / 2 : 2 * i + 1;
    const double x0 = v[a], x1 = v[b];
    v[a] = x0 * std::cos(th) - x1 * std::sin(th);
    v[b] = x0 * std::sin(th) + x1 * std::cos(th);
  }
}

TEST(TensorOps, RopeRotatesPairs) {
  std::mt19937 rng(9);
  const int head_dim = 64, n_head = 3, n_tok = 5;
  for (RopeMode mode : {RopeMode::Normal, RopeMode::Neox}) {
    for (int n_dims : {64, 32}) {
      Tensor x = random_f32({head_dim, n_head, n_tok}, rng);
      const Tensor x0 = random_f32({head_dim, n_head, n_tok}, rng);
      std::memcpy(x.data(), x0.data(), x.nbytes());
      Tensor pos = Tensor::empty(DType::I32, {n_tok});
      const int32_t ps[] = {0, 1, 7, 100, 4000};
      std::memcpy(pos.data(), ps, sizeof ps);
      RopeParams p;
      p.n_dims = n_dims;
      p.freq_base = 10000.0f;
      p.freq_scale = 0.5f;
      p.mode = mode;
      rope(x, pos, p);
      for (int t = 0; t < n_tok; ++t)
        for (int h = 0; h < n_head; ++h) {
          const float* in = reinterpret_cast<const float*>(x0.row(h, t));
          const float* out = reinterpret_cast<const float*>(x.row(h, t));
          std::vector<double> v(in, in + head_dim);
          rope_expect(v, head_dim, n_dims, ps[t] * 0.5, 10000.0, mode);
          // f32 angles: error grows with pos * |theta| * 2^-24.
          for (int i = 0; i < head_dim; ++i)
            ASSERT_NEAR(out[i], v[i], 1e-5 + 2e-7 * ps[t]) << "t " << t << " i " << i;
        }
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
