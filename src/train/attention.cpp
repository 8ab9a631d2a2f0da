#include "train/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "kernels/matmul_backward.h"
#include "train/ops.h"

namespace helix::train {
namespace {

void check_lo(const AttnShape& s, const int32_t* lo) {
  for (int64_t t = 0; t < s.n_tok; ++t)
    HELIX_CHECK(lo[t] >= 0 && lo[t] <= t && (t == 0 || lo[t] >= lo[t - 1]), "attention: visible range of token ", t,
                " starts at ", lo[t], "; it must be non-decreasing and at most the token itself");
}

}  // namespace

void attention_forward(const AttnShape& s, const float* q, const float* k, const float* v, const int32_t* lo,
                       float* out, float* lse) {
  check_lo(s, lo);
  const int64_t hd = s.hd, nh = s.n_head, group = s.n_head / s.n_head_kv, kvd = s.n_head_kv * hd;
  const auto& kk = kernels::backward_kernels();
  parallel_rows(s.n_tok * nh, 1, [&](int64_t r0, int64_t r1) {
    std::vector<float> p;
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t t = r / nh, h = r % nh, g = h / group;
      const float* qr = q + r * hd;
      const int64_t j0 = lo[t], nk = t - j0 + 1;
      p.resize(static_cast<size_t>(nk));
      float m = -INFINITY;
      for (int64_t j = 0; j < nk; ++j) {
        p[static_cast<size_t>(j)] = s.scale * kk.dot(qr, k + (j0 + j) * kvd + g * hd, hd);
        m = std::max(m, p[static_cast<size_t>(j)]);
      }
      double l = 0;
      for (auto& e : p) {
        e = std::exp(e - m);
        l += e;
      }
      float* o = out + r * hd;
      std::fill(o, o + hd, 0.0f);
      const float inv = static_cast<float>(1.0 / l);
      for (int64_t j = 0; j < nk; ++j) kk.axpy(p[static_cast<size_t>(j)] * inv, v + (j0 + j) * kvd + g * hd, o, hd);
      lse[r] = m + static_cast<float>(std::log(l));
    }
  });
}

// With p_ij = exp(scale·q_i·k_j − lse_i), D_i = dout_i·out_i and ds_ij = p_ij (dout_i·v_j − D_i):
//   dq_i = scale Σ_j ds_ij k_j,   dk_j = scale Σ_i ds_ij q_i,   dv_j = Σ_i p_ij dout_i.
// Pass 1 runs over query rows (dq), pass 2 over key rows (dk, dv), so no two tasks write one row.
// Pass 1 keeps p and ds of every visible pair (ragged rows: query t sees t − lo[t] + 1 keys) for
// pass 2, unless that would take more than kMaxPairs floats each (very long contexts): then
// pass 2 computes them again.
void attention_backward(const AttnShape& s, const float* q, const float* k, const float* v, const int32_t* lo,
                        const float* out, const float* lse, const float* dout, float* dq, float* dk, float* dv) {
  check_lo(s, lo);
  const int64_t n = s.n_tok, hd = s.hd, nh = s.n_head, nkv = s.n_head_kv, group = nh / nkv, kvd = nkv * hd;
  const auto& kk = kernels::backward_kernels();
  std::vector<float> D(static_cast<size_t>(n * nh));
  for (int64_t r = 0; r < n * nh; ++r) D[static_cast<size_t>(r)] = kk.dot(dout + r * hd, out + r * hd, hd);
  constexpr int64_t kMaxPairs = int64_t{16} << 20;
  std::vector<int64_t> off(static_cast<size_t>(n + 1), 0);  // first pair of query t (times nh)
  for (int64_t t = 0; t < n; ++t) off[static_cast<size_t>(t) + 1] = off[static_cast<size_t>(t)] + (t - lo[t] + 1) * nh;
  const bool keep = off[static_cast<size_t>(n)] <= kMaxPairs;
  thread_local std::vector<float> P, DS;
  if (keep) {
    P.resize(static_cast<size_t>(off[static_cast<size_t>(n)]));
    DS.resize(P.size());
  }
  float* const pp = P.data();  // the caller's thread_local, shared with the workers
  float* const dsp = DS.data();
  auto pair = [&](int64_t t, int64_t h, int64_t j) { return off[static_cast<size_t>(t)] + h * (t - lo[t] + 1) + (j - lo[t]); };
  // Pass 1: dq.
  parallel_rows(n * nh, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t t = r / nh, h = r % nh, g = h / group;
      const float* qr = q + r * hd;
      const float* dor = dout + r * hd;
      float* dqr = dq + r * hd;
      std::fill(dqr, dqr + hd, 0.0f);
      for (int64_t j = lo[t]; j <= t; ++j) {
        const float* kj = k + j * kvd + g * hd;
        const float p = std::exp(s.scale * kk.dot(qr, kj, hd) - lse[r]);
        const float ds = p * (kk.dot(dor, v + j * kvd + g * hd, hd) - D[static_cast<size_t>(r)]);
        if (keep) {
          pp[pair(t, h, j)] = p;
          dsp[pair(t, h, j)] = ds;
        }
        kk.axpy(s.scale * ds, kj, dqr, hd);
      }
    }
  });
  // Queries that see key j: j <= i < hi[j] (lo is non-decreasing).
  std::vector<int64_t> hi(static_cast<size_t>(n));
  for (int64_t j = 0, i = 0; j < n; ++j) {
    i = std::max(i, j);
    while (i < n && lo[i] <= j) ++i;
    hi[static_cast<size_t>(j)] = i;
  }
  // Pass 2: dk, dv.
  parallel_rows(n * nkv, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t j = r / nkv, g = r % nkv;
      const float* kj = k + r * hd;
      const float* vj = v + r * hd;
      float* dkj = dk + r * hd;
      float* dvj = dv + r * hd;
      std::fill(dkj, dkj + hd, 0.0f);
      std::fill(dvj, dvj + hd, 0.0f);
      for (int64_t i = j; i < hi[static_cast<size_t>(j)]; ++i) {
        for (int64_t h = g * group; h < (g + 1) * group; ++h) {
          const int64_t qi = i * nh + h;
          const float* qr = q + qi * hd;
          const float* dor = dout + qi * hd;
          float p, ds;
          if (keep) {
            p = pp[pair(i, h, j)];
            ds = dsp[pair(i, h, j)];
          } else {
            p = std::exp(s.scale * kk.dot(qr, kj, hd) - lse[qi]);
            ds = p * (kk.dot(dor, vj, hd) - D[static_cast<size_t>(qi)]);
          }
          kk.axpy(p, dor, dvj, hd);
          kk.axpy(s.scale * ds, qr, dkj, hd);
        }
      }
    }
  });
}

}  // namespace helix::train
