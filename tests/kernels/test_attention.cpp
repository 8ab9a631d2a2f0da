// The attention block kernel (model/attention.h): the AVX2 path against the scalar reference,
// and both against a plain two-pass softmax attention in double, over several blocks with
// per-query visible ranges (causal and sliding-window masks), odd query/key counts and a head
// dim that is not a multiple of 16.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "core/fp16.h"
#include "kernels/isa.h"
#include "model/attention.h"

namespace helix::model {
namespace {

struct Case {
  int nq, n_keys;
  int64_t hd;
};

// Runs attention of nq queries over n_keys keys in blocks of kAttnMaxK with kernels k; query i
// sees keys [lo[i], hi[i]). Returns the normalized outputs.
std::vector<float> attend(const AttnKernels& k, const std::vector<float>& q, const std::vector<uint16_t>& kv_k,
                          const std::vector<uint16_t>& kv_v, int nq, int n_keys, int64_t hd, int64_t stride,
                          const std::vector<int>& lo, const std::vector<int>& hi, float scale) {
  std::vector<float> m(static_cast<size_t>(nq), -INFINITY), l(static_cast<size_t>(nq), 0.0f);
  std::vector<float> o(static_cast<size_t>(nq * hd), 0.0f);
  std::vector<const float*> qp(static_cast<size_t>(nq));
  for (int i = 0; i < nq; ++i) qp[static_cast<size_t>(i)] = q.data() + i * hd;
  for (int j0 = 0; j0 < n_keys; j0 += kAttnMaxK) {
    const int nk = std::min(kAttnMaxK, n_keys - j0);
    std::vector<int> blo(static_cast<size_t>(nq)), bhi(static_cast<size_t>(nq));
    for (int i = 0; i < nq; ++i) {
      blo[static_cast<size_t>(i)] = std::clamp(lo[static_cast<size_t>(i)] - j0, 0, nk);
      bhi[static_cast<size_t>(i)] = std::clamp(hi[static_cast<size_t>(i)] - j0, 0, nk);
    }
    AttnBlockArgs a{qp.data(), nq, kv_k.data() + j0 * stride, kv_v.data() + j0 * stride, stride, nk, hd,
                    blo.data(), bhi.data(), scale, m.data(), l.data(), o.data()};
    k.attend_block(a);
  }
  for (int i = 0; i < nq; ++i)
    for (int64_t d = 0; d < hd; ++d) o[static_cast<size_t>(i * hd + d)] /= l[static_cast<size_t>(i)];
  return o;
}

TEST(Attention, BlockKernelsMatchTwoPassSoftmax) {
  const bool avx2 = kernels::isa_available(kernels::Isa::Avx2);
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (const Case c : {Case{16, 100, 256}, Case{4, 1, 256}, Case{7, 65, 64}, Case{13, 32, 128},
                       Case{3, 40, 40}, Case{1, 300, 256}}) {
    const int64_t stride = c.hd + 16;  // keys of one head inside wider cache rows
    std::vector<float> q(static_cast<size_t>(c.nq * c.hd));
    for (auto& v : q) v = 2.0f * u(rng);
    std::vector<uint16_t> kk(static_cast<size_t>(c.n_keys * stride)), vv(kk.size());
    for (auto& v : kk) v = f32_to_f16(u(rng));
    for (auto& v : vv) v = f32_to_f16(u(rng));
    std::vector<int> lo(static_cast<size_t>(c.nq)), hi(static_cast<size_t>(c.nq));
    for (int i = 0; i < c.nq; ++i) {  // causal-like ranges, some with a window, each non-empty
      hi[static_cast<size_t>(i)] = std::max(1, c.n_keys - (c.nq - 1 - i) * 3);
      lo[static_cast<size_t>(i)] = i % 3 == 0 ? std::max(0, hi[static_cast<size_t>(i)] - 37) : 0;
    }
    const float scale = 0.0625f;
    // reference in double
    std::vector<double> ref(static_cast<size_t>(c.nq * c.hd), 0.0);
    for (int i = 0; i < c.nq; ++i) {
      std::vector<double> s;
      double mx = -INFINITY;
      for (int j = lo[static_cast<size_t>(i)]; j < hi[static_cast<size_t>(i)]; ++j) {
        double d = 0;
        for (int64_t e = 0; e < c.hd; ++e)
          d += static_cast<double>(q[static_cast<size_t>(i * c.hd + e)]) * f16_to_f32(kk[static_cast<size_t>(j * stride + e)]);
        s.push_back(d * scale);
        mx = std::max(mx, s.back());
      }
      double sum = 0;
      for (double& v : s) sum += (v = std::exp(v - mx));
      for (size_t jj = 0; jj < s.size(); ++jj) {
        const int j = lo[static_cast<size_t>(i)] + static_cast<int>(jj);
        for (int64_t e = 0; e < c.hd; ++e)
          ref[static_cast<size_t>(i * c.hd + e)] += s[jj] / sum * f16_to_f32(vv[static_cast<size_t>(j * stride + e)]);
      }
    }
    const auto ys = attend(attn_kernels_scalar(), q, kk, vv, c.nq, c.n_keys, c.hd, stride, lo, hi, scale);
    for (size_t i = 0; i < ref.size(); ++i) ASSERT_NEAR(ys[i], ref[i], 1e-5) << "scalar nq " << c.nq << " i " << i;
    if (!avx2) continue;
    const auto yv = attend(attn_kernels_avx2(), q, kk, vv, c.nq, c.n_keys, c.hd, stride, lo, hi, scale);
    for (size_t i = 0; i < ref.size(); ++i) ASSERT_NEAR(yv[i], ys[i], 1e-5) << "avx2 nq " << c.nq << " hd " << c.hd << " i " << i;
  }
}

}  // namespace
}  // namespace helix::model
