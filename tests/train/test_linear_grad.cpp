// Linear's backward (Wᵀ·dy on every weight type, dW on f32, LoRA dA/dB, biases) against float64
// references: matmul_backward_x against Wᵀ·dy computed in double from the dequantized weight,
// on the scalar and the AVX2 path; Linear against finite differences of a double forward.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "core/error.h"
#include "kernels/matmul_backward.h"
#include "quant/quant.h"
#include "train/linear.h"
#include "grad_test_util.h"

namespace helix::train {
namespace {

// A weight [n_in, n_out] of type t (quantized from random values) and its dequantized values.
struct Weight {
  std::vector<uint8_t> bytes;
  std::vector<float> deq;
  Tensor t;
};
Weight make_weight(DType type, int64_t n_in, int64_t n_out, uint64_t seed) {
  Weight w;
  const auto vals = randn(static_cast<size_t>(n_in * n_out), seed, 0.2f);
  const size_t rb = dtype_row_bytes(type, n_in);
  w.bytes.resize(rb * static_cast<size_t>(n_out));
  w.deq.resize(vals.size());
  for (int64_t r = 0; r < n_out; ++r) {
    quant::quantize_row(type, vals.data() + r * n_in, w.bytes.data() + r * rb, n_in);
    quant::dequantize_row(type, w.bytes.data() + r * rb, w.deq.data() + r * n_in, n_in);
  }
  w.t = Tensor::wrap(nullptr, w.bytes.data(), type, Shape{n_in, n_out, 1, 1}, 2);
  return w;
}

Tensor f32(std::vector<float>& v, int64_t ne0, int64_t ne1) {
  return Tensor::wrap(nullptr, v.data(), DType::F32, Shape{ne0, ne1, 1, 1}, 2);
}

class MatmulBackwardTypes : public ::testing::TestWithParam<DType> {};

// Two shapes: many tokens (threads split the tokens) and few tokens against many rows (threads
// split the rows into private sums, as for the LM head's chunks).
TEST_P(MatmulBackwardTypes, WTransposeDyMatchesDoubleOnEveryPath) {
  const DType type = GetParam();
  for (auto [n_out, n_tok] : {std::pair<int64_t, int64_t>{70, 301}, {300, 5}}) {
    const int64_t n_in = 512;  // rows and tokens not multiples of the 64-row / 4-token tiles
    const Weight w = make_weight(type, n_in, n_out, 1);
    auto dy = randn(static_cast<size_t>(n_out * n_tok), 2);
    Vec want(static_cast<size_t>(n_in * n_tok), 0.0);
    for (int64_t t = 0; t < n_tok; ++t)
      for (int64_t o = 0; o < n_out; ++o)
        for (int64_t i = 0; i < n_in; ++i) want[t * n_in + i] += static_cast<double>(w.deq[o * n_in + i]) * dy[t * n_out + o];
    for (kernels::Isa isa : {kernels::Isa::Scalar, kernels::Isa::Avx2}) {
      if (!kernels::isa_available(isa)) continue;
      const std::string what = std::string(kernels::isa_name(isa)) + " " + std::string(dtype_name(type)) + " " +
                               std::to_string(n_out) + "x" + std::to_string(n_tok);
      std::vector<float> dx(want.size(), 0.5f);
      Tensor dxt = f32(dx, n_in, n_tok);
      kernels::matmul_backward_x(w.t, f32(dy, n_out, n_tok), dxt, false, isa);
      expect_close(dx, want, 1e-5, what);
      kernels::matmul_backward_x(w.t, f32(dy, n_out, n_tok), dxt, true, isa);  // accumulate: twice
      Vec twice = want;
      for (auto& v : twice) v *= 2;
      expect_close(dx, twice, 1e-5, what + " accumulate");
    }
  }
}

TEST_P(MatmulBackwardTypes, DequantizedForwardMatchesDouble) {
  const DType type = GetParam();
  const int64_t n_in = 256, n_out = 70, n_tok = 5;
  const Weight w = make_weight(type, n_in, n_out, 3);
  auto x = randn(static_cast<size_t>(n_in * n_tok), 4);
  Vec want(static_cast<size_t>(n_out * n_tok), 0.0);
  for (int64_t t = 0; t < n_tok; ++t)
    for (int64_t o = 0; o < n_out; ++o)
      for (int64_t i = 0; i < n_in; ++i) want[t * n_out + o] += static_cast<double>(w.deq[o * n_in + i]) * x[t * n_in + i];
  for (kernels::Isa isa : {kernels::Isa::Scalar, kernels::Isa::Avx2}) {
    if (!kernels::isa_available(isa)) continue;
    std::vector<float> y(want.size());
    Tensor yt = f32(y, n_out, n_tok);
    kernels::matmul_dequant_f32(w.t, f32(x, n_in, n_tok), yt, isa);
    expect_close(y, want, 1e-5, std::string(kernels::isa_name(isa)) + " " + std::string(dtype_name(type)));
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, MatmulBackwardTypes,
                         ::testing::Values(DType::F32, DType::F16, DType::BF16, DType::Q4_0, DType::Q4_1, DType::Q5_0,
                                           DType::Q5_1, DType::Q8_0, DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K,
                                           DType::Q6_K),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

// Wᵀ·dy through the Q8_0 transpose (kernels::transpose_q8): 8-bit W and 8-bit dy, so a stated
// tolerance of 2% of the largest output for the worst element (measured: 0.7-0.9%). Two shapes: one column block
// (a projection) and three (4,096 + 4,096 + 64 rows, as the LM head's 64 blocks), with accumulate.
TEST(MatmulBackward, Q8TransposeMatchesDoubleWithinItsTolerance) {
  for (DType type : {DType::Q8_0, DType::Q4_K, DType::Q5_0, DType::Q6_K, DType::F32}) {
    for (auto [n_out, n_tok] : {std::pair<int64_t, int64_t>{96, 70}, {8256, 9}}) {
      const int64_t n_in = 256;
      const Weight w = make_weight(type, n_in, n_out, 5);
      auto dy = randn(static_cast<size_t>(n_out * n_tok), 6);
      Vec want(static_cast<size_t>(n_in * n_tok), 0.0);
      for (int64_t t = 0; t < n_tok; ++t)
        for (int64_t o = 0; o < n_out; ++o)
          for (int64_t i = 0; i < n_in; ++i) want[t * n_in + i] += static_cast<double>(w.deq[o * n_in + i]) * dy[t * n_out + o];
      const auto wt = kernels::transpose_q8(w.t);
      ASSERT_TRUE(wt) << dtype_name(type);
      EXPECT_EQ(static_cast<int64_t>(wt->parts.size()), (n_out + kernels::kTransposeBlock - 1) / kernels::kTransposeBlock);
      std::vector<float> dx(want.size(), 0.5f);
      Tensor dxt = f32(dx, n_in, n_tok);
      for (bool acc : {false, true}) {
        kernels::matmul_backward_x(*wt, f32(dy, n_out, n_tok), dxt, acc);
        double mx = 0, err = 0;
        for (size_t i = 0; i < want.size(); ++i) {
          mx = std::max(mx, std::abs(want[i]));
          err = std::max(err, std::abs(dx[i] - (acc ? 2 : 1) * want[i]));
        }
        EXPECT_LE(err, (acc ? 2 : 1) * 0.02 * mx) << dtype_name(type) << " " << n_out << "x" << n_tok << " acc " << acc;
        std::printf("%s %lldx%lld%s: relative error %.2e\n", dtype_name(type).data(), static_cast<long long>(n_out),
                    static_cast<long long>(n_tok), acc ? " accumulate" : "", err / mx / (acc ? 2 : 1));
      }
    }
  }
  // Output dimension not a multiple of 32: no transpose (callers keep the f32 path).
  EXPECT_FALSE(kernels::transpose_q8(make_weight(DType::Q8_0, 64, 40, 7).t));
}

// The AVX2 softmax cross-entropy and gated-activation backward against double formulas (the
// reference tests run whichever path the CPU has; this pins the vector one), over logits and
// activations wide enough to reach exp8's clamps (|x| up to 60).
TEST(MatmulBackward, Avx2SoftmaxXentAndGatedActMatchDouble) {
  if (!kernels::isa_available(kernels::Isa::Avx2)) GTEST_SKIP() << "no AVX2";
  const auto& k = kernels::backward_kernels(kernels::Isa::Avx2);
  const int64_t n = 1003;
  auto z = randn(static_cast<size_t>(n), 8, 6.0f);
  z[17] = 60.0f;
  z[18] = -60.0f;
  double m = -1e300, s = 0;
  for (float v : z) m = std::max(m, static_cast<double>(v));
  for (float v : z) s += std::exp(v - m);
  const int32_t y = 500;
  const double want_loss = m + std::log(s) - z[y];
  for (bool backward : {false, true}) {
    auto zz = z;
    EXPECT_NEAR(k.softmax_xent(zz.data(), n, y, 0.5f, backward), want_loss, 1e-5 * std::abs(want_loss));
    if (!backward) continue;
    for (int64_t i = 0; i < n; ++i)
      EXPECT_NEAR(zz[i], 0.5 * (std::exp(z[i] - m) / s - (i == y ? 1.0 : 0.0)), 1e-6) << i;
  }
  auto g = randn(static_cast<size_t>(n), 9, 3.0f), u = randn(static_cast<size_t>(n), 10), dm = randn(static_cast<size_t>(n), 11);
  g[5] = 40.0f;
  g[6] = -40.0f;
  for (bool gelu : {false, true}) {
    std::vector<float> dg(static_cast<size_t>(n)), du(static_cast<size_t>(n));
    k.gated_act(gelu, g.data(), u.data(), dm.data(), dg.data(), du.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      const double x = g[i];
      double a, da;
      if (!gelu) {
        const double sg = 1 / (1 + std::exp(-x));
        a = x * sg;
        da = sg * (1 + x * (1 - sg));
      } else {
        const double c = 0.7978845608028654, t = std::tanh(c * (x + 0.044715 * x * x * x));
        a = 0.5 * x * (1 + t);
        da = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x);
      }
      EXPECT_NEAR(du[i], dm[i] * a, 1e-5 * (1 + std::abs(dm[i] * a))) << (gelu ? "gelu " : "silu ") << x;
      EXPECT_NEAR(dg[i], dm[i] * u[i] * da, 1e-5 * (1 + std::abs(dm[i] * u[i] * da))) << (gelu ? "gelu " : "silu ") << x;
    }
  }
}

TEST(MatmulBackward, WeightGradientMatchesDouble) {
  const int64_t n_in = 45, n_out = 13, n_tok = 11;
  auto dy = randn(static_cast<size_t>(n_out * n_tok), 3), x = randn(static_cast<size_t>(n_in * n_tok), 4);
  for (kernels::Isa isa : {kernels::Isa::Scalar, kernels::Isa::Avx2}) {
    if (!kernels::isa_available(isa)) continue;
    std::vector<float> dw(static_cast<size_t>(n_in * n_out), 1.0f);
    Tensor dwt = f32(dw, n_in, n_out);
    kernels::matmul_backward_w(f32(dy, n_out, n_tok), f32(x, n_in, n_tok), dwt, isa);
    Vec want(dw.size(), 1.0);
    for (int64_t o = 0; o < n_out; ++o)
      for (int64_t i = 0; i < n_in; ++i)
        for (int64_t t = 0; t < n_tok; ++t) want[o * n_in + i] += static_cast<double>(dy[t * n_out + o]) * x[t * n_in + i];
    expect_close(dw, want, 1e-5, kernels::isa_name(isa));
  }
}

TEST(MatmulBackward, RejectsMismatchedShapes) {
  const Weight w = make_weight(DType::F32, 32, 8, 5);
  std::vector<float> dy(8 * 3), dx(31 * 3);
  Tensor dxt = f32(dx, 31, 3);
  EXPECT_THROW(kernels::matmul_backward_x(w.t, f32(dy, 8, 3), dxt, false), Error);
}

// Linear in double: y = W x + b + s·B(A x).
struct LinRef {
  int64_t n_in, n_out, rank, n;
  double s;
  Vec forward(const Vec& W, const Vec& b, const Vec& A, const Vec& B, const Vec& x) const {
    Vec y(static_cast<size_t>(n_out * n), 0.0);
    for (int64_t t = 0; t < n; ++t) {
      Vec u(static_cast<size_t>(rank), 0.0);
      for (int64_t j = 0; j < rank; ++j)
        for (int64_t i = 0; i < n_in; ++i) u[j] += A[j * n_in + i] * x[t * n_in + i];
      for (int64_t o = 0; o < n_out; ++o) {
        double a = b.empty() ? 0.0 : b[o];
        for (int64_t i = 0; i < n_in; ++i) a += W[o * n_in + i] * x[t * n_in + i];
        for (int64_t j = 0; j < rank; ++j) a += s * B[o * rank + j] * u[j];
        y[t * n_out + o] = a;
      }
    }
    return y;
  }
};

// LoRA over a frozen base of each type, and full fine-tuning of an f32 weight with a bias.
TEST(LinearGrad, LoraOverFrozenBasesAndFullWeights) {
  const int64_t n_in = 256, n_out = 24, rank = 3, n = 5;
  for (DType type : {DType::F32, DType::Q8_0, DType::Q4_K}) {
    for (bool full : {false, true}) {
      if (full && type != DType::F32) continue;
      Weight w = make_weight(type, n_in, n_out, 7);
      Param A{"a", {n_in, rank}, randn(n_in * rank, 8, 0.1f), std::vector<float>(n_in * rank, 0.0f)};
      Param B{"b", {rank, n_out}, randn(rank * n_out, 9, 0.1f), std::vector<float>(rank * n_out, 0.0f)};
      Param Wp{"w", {n_in, n_out}, w.deq, std::vector<float>(w.deq.size(), 0.0f)};
      Param bp{"bias", {n_out}, randn(n_out, 10), std::vector<float>(n_out, 0.0f)};
      Linear L;
      L.w = full ? f32(Wp.value, n_in, n_out) : w.t;
      if (full) {
        L.w_param = &Wp;
        L.bias = bp.value.data();
        L.b_param = &bp;
      } else {
        L.lora_a = &A;
        L.lora_b = &B;
        L.rank = rank;
        L.lora_scale = 2.0f;
      }
      auto x = randn(n_in * n, 11), dy = randn(n_out * n, 12);
      std::vector<float> y(n_out * n), u(rank * n), dx(n_in * n);
      L.forward(x.data(), n, y.data(), u.data());
      L.backward(x.data(), u.data(), dy.data(), n, dx.data(), false);
      const LinRef ref{n_in, n_out, full ? 0 : rank, n, 2.0};
      const Vec W(w.deq.begin(), w.deq.end()), Ad(A.value.begin(), A.value.end()), Bd(B.value.begin(), B.value.end());
      const Vec bd = full ? Vec(bp.value.begin(), bp.value.end()) : Vec(), xd(x.begin(), x.end()), dyd(dy.begin(), dy.end());
      auto L_of = [&](const Vec& Wv, const Vec& bv, const Vec& Av, const Vec& Bv, const Vec& xv) {
        const Vec yv = ref.forward(Wv, bv, Av, Bv, xv);
        double s = 0;
        for (size_t i = 0; i < yv.size(); ++i) s += dyd[i] * yv[i];
        return s;
      };
      const std::string what = std::string(dtype_name(type)) + (full ? " full" : " lora");
      // The forward runs the serving matmul (8-bit activations for quantized weights): close, not exact.
      expect_close(y, ref.forward(W, bd, Ad, Bd, xd), type == DType::F32 ? 1e-5 : 2e-2, what + " forward");
      expect_close(dx, numeric_grad([&](const Vec& v) { return L_of(W, bd, Ad, Bd, v); }, xd), 1e-4, what + " dx");
      if (full) {
        expect_close(Wp.grad, numeric_grad([&](const Vec& v) { return L_of(v, bd, Ad, Bd, xd); }, W), 1e-4, what + " dW");
        expect_close(bp.grad, numeric_grad([&](const Vec& v) { return L_of(W, v, Ad, Bd, xd); }, bd), 1e-4, what + " db");
      } else {
        expect_close(A.grad, numeric_grad([&](const Vec& v) { return L_of(W, bd, v, Bd, xd); }, Ad), 1e-4, what + " dA");
        expect_close(B.grad, numeric_grad([&](const Vec& v) { return L_of(W, bd, Ad, v, xd); }, Bd), 1e-4, what + " dB");
      }
    }
  }
}

}  // namespace
}  // namespace helix::train
