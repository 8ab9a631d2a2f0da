// Every backward of src/train checked against float64 finite differences of an independent
// double-precision forward written here: for a random projection L = Σ w·y, the analytic
// gradient (the op's backward with dy = w) must match (L(x + h) − L(x − h)) / 2h.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "core/error.h"
#include "train/attention.h"
#include "train/loss.h"
#include "train/ops.h"
#include "grad_test_util.h"

namespace helix::train {
namespace {

double dot(const Vec& w, const Vec& y) {
  double s = 0;
  for (size_t i = 0; i < w.size(); ++i) s += w[i] * y[i];
  return s;
}

// ---- references in double ---------------------------------------------------------------------

Vec rmsnorm_ref(const Vec& x, const Vec& w, int64_t rows, int64_t d, double eps) {
  Vec y(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double ss = 0;
    for (int64_t i = 0; i < d; ++i) ss += x[r * d + i] * x[r * d + i];
    const double s = 1.0 / std::sqrt(ss / d + eps);
    for (int64_t i = 0; i < d; ++i) y[r * d + i] = x[r * d + i] * s * w[i];
  }
  return y;
}

TEST(TrainGrad, RmsNorm) {
  const int64_t rows = 5, d = 24;
  const float eps = 1e-5f;
  auto x = randn(rows * d, 1), w = randn(d, 2, 0.3f), dy = randn(rows * d, 3);
  for (auto& v : w) v += 1.0f;
  const Vec wd = to_d(w), dyd = to_d(dy);
  std::vector<float> dx(x.size()), dw(d, 0.0f), y(x.size());
  rmsnorm_forward(x.data(), w.data(), y.data(), rows, d, eps);
  expect_close(y, rmsnorm_ref(to_d(x), wd, rows, d, eps), 1e-5, "forward");
  rmsnorm_backward(x.data(), w.data(), dy.data(), dx.data(), dw.data(), rows, d, eps, false);
  expect_close(dx, numeric_grad([&](const Vec& xv) { return dot(dyd, rmsnorm_ref(xv, wd, rows, d, eps)); }, to_d(x)), 1e-4, "dx");
  const Vec xd = to_d(x);
  expect_close(dw, numeric_grad([&](const Vec& wv) { return dot(dyd, rmsnorm_ref(xd, wv, rows, d, eps)); }, wd), 1e-4, "dw");
  // accumulate adds to what is there
  std::vector<float> dx2(x.size(), 1.0f);
  rmsnorm_backward(x.data(), w.data(), dy.data(), dx2.data(), nullptr, rows, d, eps, true);
  for (size_t i = 0; i < dx.size(); ++i) ASSERT_NEAR(dx2[i], dx[i] + 1.0f, 1e-5);
}

Vec rope_ref(const Vec& x, const std::vector<int32_t>& pos, int64_t nh, int64_t hd, int64_t n_rot, RopeStyle st, double base) {
  Vec y = x;
  const int64_t half = n_rot / 2;
  for (size_t t = 0; t < pos.size(); ++t)
    for (int64_t h = 0; h < nh; ++h)
      for (int64_t i = 0; i < half; ++i) {
        const double th = pos[t] * std::pow(base, -2.0 * i / n_rot);
        const int64_t a = (static_cast<int64_t>(t) * nh + h) * hd + (st == RopeStyle::Neox ? i : 2 * i);
        const int64_t b = a + (st == RopeStyle::Neox ? half : 1);
        y[a] = x[a] * std::cos(th) - x[b] * std::sin(th);
        y[b] = x[a] * std::sin(th) + x[b] * std::cos(th);
      }
  return y;
}

TEST(TrainGrad, Rope) {
  const int64_t nh = 3, hd = 16, n_rot = 12;
  const std::vector<int32_t> pos = {0, 1, 5, 17};
  const int64_t T = static_cast<int64_t>(pos.size());
  for (RopeStyle st : {RopeStyle::Norm, RopeStyle::Neox}) {
    auto x = randn(T * nh * hd, 4), dy = randn(x.size(), 5);
    model::HParams hp;
    hp.n_rot = n_rot;
    hp.head_dim = hd;
    const auto cs = rope_table(hp, pos.data(), T, 10000.0f, 1.0f);
    auto y = x;
    rope_apply(y.data(), T, nh, hd, n_rot, st, cs.data(), false);
    expect_close(y, rope_ref(to_d(x), pos, nh, hd, n_rot, st, 10000.0), 1e-5, "forward");
    auto dx = dy;
    rope_apply(dx.data(), T, nh, hd, n_rot, st, cs.data(), true);
    const Vec dyd = to_d(dy);
    expect_close(dx, numeric_grad([&](const Vec& xv) { return dot(dyd, rope_ref(xv, pos, nh, hd, n_rot, st, 10000.0)); }, to_d(x)),
                 1e-5, st == RopeStyle::Neox ? "neox dx" : "norm dx");
  }
}

TEST(TrainGrad, GatedActivations) {
  const int64_t n = 40;
  auto g = randn(n, 6, 2.0f), u = randn(n, 7), dm = randn(n, 8);
  for (Act act : {Act::Silu, Act::GeluTanh}) {
    auto f = [&](const Vec& gv, const Vec& uv) {
      double s = 0;
      for (int64_t i = 0; i < n; ++i) {
        const double x = gv[i];
        const double a = act == Act::Silu ? x / (1 + std::exp(-x))
                                          : 0.5 * x * (1 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
        s += dm[i] * a * uv[i];
      }
      return s;
    };
    std::vector<float> m(n), dg(n), du(n);
    gated_act_forward(act, g.data(), u.data(), m.data(), n);
    gated_act_backward(act, g.data(), u.data(), dm.data(), dg.data(), du.data(), n);
    const Vec gd = to_d(g), ud = to_d(u);
    expect_close(dg, numeric_grad([&](const Vec& v) { return f(v, ud); }, gd), 1e-4, "dg");
    expect_close(du, numeric_grad([&](const Vec& v) { return f(gd, v); }, ud), 1e-4, "du");
  }
}

// Attention in double: token t sees keys lo[t]..t.
Vec attention_ref(const AttnShape& s, const Vec& q, const Vec& k, const Vec& v, const std::vector<int32_t>& lo) {
  const int64_t hd = s.hd, nh = s.n_head, group = nh / s.n_head_kv, kvd = s.n_head_kv * hd;
  Vec out(q.size(), 0.0);
  for (int64_t t = 0; t < s.n_tok; ++t)
    for (int64_t h = 0; h < nh; ++h) {
      const int64_t g = h / group;
      std::vector<double> p;
      double m = -1e300;
      for (int64_t j = lo[t]; j <= t; ++j) {
        double d = 0;
        for (int64_t i = 0; i < hd; ++i) d += q[(t * nh + h) * hd + i] * k[j * kvd + g * hd + i];
        p.push_back(s.scale * d);
        m = std::max(m, p.back());
      }
      double l = 0;
      for (auto& e : p) l += (e = std::exp(e - m));
      for (int64_t j = lo[t]; j <= t; ++j)
        for (int64_t i = 0; i < hd; ++i) out[(t * nh + h) * hd + i] += p[j - lo[t]] / l * v[j * kvd + g * hd + i];
    }
  return out;
}

TEST(TrainGrad, AttentionCausalWindowedPacked) {
  const int64_t T = 9, nh = 4, nkv = 2, hd = 8;
  const AttnShape s{T, nh, nkv, hd, 0.35f};
  // Two packed samples (tokens 0-4 and 5-8); a window of 3 inside each.
  const std::vector<int32_t> lo_causal = {0, 0, 0, 0, 0, 5, 5, 5, 5};
  const std::vector<int32_t> lo_window = {0, 0, 0, 1, 2, 5, 5, 5, 6};
  for (const auto* lo : {&lo_causal, &lo_window}) {
    auto q = randn(T * nh * hd, 10), k = randn(T * nkv * hd, 11), v = randn(T * nkv * hd, 12), dout = randn(q.size(), 13);
    std::vector<float> out(q.size()), lse(T * nh), dq(q.size()), dk(k.size()), dv(v.size());
    attention_forward(s, q.data(), k.data(), v.data(), lo->data(), out.data(), lse.data());
    const Vec qd = to_d(q), kd = to_d(k), vd = to_d(v), dd = to_d(dout);
    expect_close(out, attention_ref(s, qd, kd, vd, *lo), 1e-5, "forward");
    attention_backward(s, q.data(), k.data(), v.data(), lo->data(), out.data(), lse.data(), dout.data(), dq.data(),
                       dk.data(), dv.data());
    expect_close(dq, numeric_grad([&](const Vec& x) { return dot(dd, attention_ref(s, x, kd, vd, *lo)); }, qd), 1e-4, "dq");
    expect_close(dk, numeric_grad([&](const Vec& x) { return dot(dd, attention_ref(s, qd, x, vd, *lo)); }, kd), 1e-4, "dk");
    expect_close(dv, numeric_grad([&](const Vec& x) { return dot(dd, attention_ref(s, qd, kd, x, *lo)); }, vd), 1e-4, "dv");
  }
}

TEST(TrainGrad, AttentionRejectsBadRanges) {
  const AttnShape s{3, 1, 1, 8, 1.0f};
  std::vector<float> q(24), out(24), lse(3);
  const std::vector<int32_t> lo = {0, 2, 1};  // second token starts after itself
  EXPECT_THROW(attention_forward(s, q.data(), q.data(), q.data(), lo.data(), out.data(), lse.data()), Error);
}

TEST(TrainGrad, EmbeddingBackward) {
  const int64_t d = 8, V = 5;
  const std::vector<int32_t> tok = {3, 1, 3};
  auto table = randn(d * V, 20), dx = randn(d * tok.size(), 21);
  Tensor tt = Tensor::wrap(nullptr, table.data(), DType::F32, Shape{d, V, 1, 1}, 2);
  std::vector<float> x(d * tok.size()), dtab(d * V, 0.0f);
  embedding_forward(tt, tok.data(), 3, 2.5f, x.data());
  for (int64_t i = 0; i < d; ++i) ASSERT_FLOAT_EQ(x[d + i], 2.5f * table[1 * d + i]);
  embedding_backward(dx.data(), tok.data(), 3, d, 2.5f, dtab.data());
  const Vec dxd = to_d(dx);
  expect_close(dtab, numeric_grad([&](const Vec& tv) {
                 double s = 0;
                 for (size_t t = 0; t < tok.size(); ++t)
                   for (int64_t i = 0; i < d; ++i) s += dxd[t * d + i] * 2.5 * tv[tok[t] * d + i];
                 return s;
               }, to_d(table)), 1e-6, "dtable");
}

// The fused head: final norm, W_out, softcap, cross-entropy over the positions with targets.
TEST(TrainGrad, ChunkedCrossEntropyWithSoftcap) {
  const int64_t E = 16, V = 37, T = 7;
  const std::vector<int32_t> tgt = {5, -1, 36, 0, -1, 12, 7};  // 5 positions carry loss
  auto x = randn(E * T, 30), W = randn(E * V, 31, 0.5f), nw = randn(E, 32, 0.1f);
  for (auto& v : nw) v += 1.0f;
  const float cap = 3.0f, eps = 1e-6f, scale = 0.25f;
  auto loss_ref = [&](const Vec& xv, const Vec& wv, const Vec& nv) {
    const Vec xn = rmsnorm_ref(xv, nv, T, E, eps);
    double s = 0;
    for (int64_t t = 0; t < T; ++t) {
      if (tgt[t] < 0) continue;
      std::vector<double> z(V);
      double m = -1e300;
      for (int64_t o = 0; o < V; ++o) {
        double a = 0;
        for (int64_t i = 0; i < E; ++i) a += wv[o * E + i] * xn[t * E + i];
        z[o] = cap * std::tanh(a / cap);
        m = std::max(m, z[o]);
      }
      double l = 0;
      for (double v : z) l += std::exp(v - m);
      s += m + std::log(l) - z[tgt[t]];
    }
    return scale * s;
  };
  Tensor Wt = Tensor::wrap(nullptr, W.data(), DType::F32, Shape{E, V, 1, 1}, 2);
  std::vector<float> dx(E * T), dW(E * V, 0.0f), dn(E, 0.0f);
  HeadParams p;
  p.w_out = &Wt;
  p.w_out_grad = dW.data();
  p.norm_w = nw.data();
  p.norm_grad = dn.data();
  p.eps = eps;
  p.softcap = cap;
  p.chunk = 2;  // three chunks, the last one short
  const LossSum ls = lm_head_loss(p, x.data(), tgt.data(), T, scale, dx.data());
  EXPECT_EQ(ls.count, 5);
  const Vec xd = to_d(x), wd = to_d(W), nd = to_d(nw);
  EXPECT_NEAR(scale * ls.sum, loss_ref(xd, wd, nd), 1e-4);
  expect_close(dx, numeric_grad([&](const Vec& v) { return loss_ref(v, wd, nd); }, xd), 1e-4, "dx");
  expect_close(dW, numeric_grad([&](const Vec& v) { return loss_ref(xd, v, nd); }, wd), 1e-4, "dW");
  expect_close(dn, numeric_grad([&](const Vec& v) { return loss_ref(xd, wd, v); }, nd), 1e-4, "dnorm");
  for (int64_t i = 0; i < E; ++i) EXPECT_EQ(dx[1 * E + i], 0.0f) << "a position without a target gets no gradient";
}

}  // namespace
}  // namespace helix::train
