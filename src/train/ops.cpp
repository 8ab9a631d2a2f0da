#include "train/ops.h"

#include <cmath>

#include "core/error.h"
#include "kernels/matmul_backward.h"
#include "kernels/ops.h"
#include "model/rope.h"
#include "quant/quant.h"

namespace helix::train {

namespace {
int64_t grain_for(int64_t d) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(d, 1)); }
}  // namespace

// ---- RMSNorm ------------------------------------------------------------------------------------

void rmsnorm_forward(const float* x, const float* w, float* y, int64_t rows, int64_t d, float eps) {
  const auto f = kernels::row_ops().rmsnorm;
  parallel_rows(rows, grain_for(d), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) f(x + r * d, w, y + r * d, d, eps);
  });
}

// With r = 1/sqrt(mean(x²) + eps) and g = dy·w:
//   dx = r·g − x · r³ · Σ(g·x) / d,    dw += dy · x · r.
void rmsnorm_backward(const float* x, const float* w, const float* dy, float* dx, float* dw, int64_t rows,
                      int64_t d, float eps, bool accumulate) {
  ThreadPool& pool = ThreadPool::global();
  const int nt = rows * d < 16384 ? 1 : pool.size();
  std::vector<float> partial(dw ? static_cast<size_t>(nt * d) : 0, 0.0f);
  auto body = [&](int ti, int n_threads) {
    const int64_t r0 = rows * ti / n_threads, r1 = rows * (ti + 1) / n_threads;
    float* pdw = dw ? partial.data() + static_cast<size_t>(ti) * d : nullptr;
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * d;
      const float* gr = dy + r * d;
      float* o = dx + r * d;
      double ss = 0, gx = 0;
      for (int64_t i = 0; i < d; ++i) {
        ss += static_cast<double>(xr[i]) * xr[i];
        gx += static_cast<double>(gr[i]) * (w ? w[i] : 1.0f) * xr[i];
      }
      const double rr = 1.0 / std::sqrt(ss / static_cast<double>(d) + eps);
      const float a = static_cast<float>(rr), b = static_cast<float>(rr * rr * rr * gx / static_cast<double>(d));
      for (int64_t i = 0; i < d; ++i) {
        const float v = a * gr[i] * (w ? w[i] : 1.0f) - b * xr[i];
        o[i] = accumulate ? o[i] + v : v;
        if (pdw) pdw[i] += gr[i] * xr[i] * a;
      }
    }
  };
  if (nt == 1) body(0, 1);
  else pool.run(body);
  if (dw)
    for (int t = 0; t < nt; ++t)
      for (int64_t i = 0; i < d; ++i) dw[i] += partial[static_cast<size_t>(t * d + i)];
}

// ---- RoPE ---------------------------------------------------------------------------------------

std::vector<float> rope_table(const model::HParams& hp, const int32_t* pos, int64_t n_tok, float base, float scale) {
  std::vector<float> cs(static_cast<size_t>(n_tok * hp.n_rot));
  model::rope_cos_sin(hp, base, scale, pos, n_tok, cs.data());
  return cs;
}

void rope_apply(float* x, int64_t n_tok, int64_t n_heads, int64_t hd, int64_t n_rot, RopeStyle style,
                const float* cs, bool inverse) {
  const int64_t half = n_rot / 2;
  const float sgn = inverse ? -1.0f : 1.0f;
  parallel_rows(n_tok, grain_for(n_heads * hd), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const float* c = cs + t * n_rot;
      const float* s = c + half;
      for (int64_t h = 0; h < n_heads; ++h) {
        float* v = x + (t * n_heads + h) * hd;
        const int64_t step = style == RopeStyle::Neox ? 1 : 2, off = style == RopeStyle::Neox ? half : 1;
        for (int64_t i = 0; i < half; ++i) {
          float* a = v + i * step;
          float* b = a + off;
          const float x0 = *a, x1 = *b, si = sgn * s[i];
          *a = x0 * c[i] - x1 * si;
          *b = x0 * si + x1 * c[i];
        }
      }
    }
  });
}

// ---- gated activation ---------------------------------------------------------------------------

void gated_act_forward(Act act, const float* g, const float* u, float* m, int64_t n) {
  const auto& ops = kernels::row_ops();
  const auto f = act == Act::Silu ? ops.silu : ops.gelu;
  constexpr int64_t kChunk = 4096;
  parallel_rows((n + kChunk - 1) / kChunk, 4, [&](int64_t c0, int64_t c1) {
    const int64_t b = c0 * kChunk, e = std::min(n, c1 * kChunk);
    f(g + b, m + b, e - b);
    ops.mul(m + b, u + b, m + b, e - b);
  });
}

// The elementwise formulas are kernels::BackwardKernels::gated_act (scalar reference + AVX2).
void gated_act_backward(Act act, const float* g, const float* u, const float* dm, float* dg, float* du, int64_t n) {
  const auto& k = kernels::backward_kernels();
  constexpr int64_t kChunk = 4096;
  parallel_rows((n + kChunk - 1) / kChunk, 4, [&](int64_t c0, int64_t c1) {
    const int64_t b = c0 * kChunk, e = std::min(n, c1 * kChunk);
    k.gated_act(act != Act::Silu, g + b, u + b, dm + b, dg + b, du + b, e - b);
  });
}

// ---- embedding ----------------------------------------------------------------------------------

void embedding_forward(const Tensor& table, const int32_t* tokens, int64_t n_tok, float scale, float* x) {
  const int64_t d = table.ne(0), rows = table.ne(1);
  parallel_rows(n_tok, grain_for(d), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int32_t id = tokens[t];
      HELIX_CHECK(id >= 0 && id < rows, "token id ", id, " is outside the vocabulary (", rows, ")");
      float* xt = x + t * d;
      quant::dequantize_row(table.dtype(), table.row(id), xt, d);
      if (scale != 1.0f)
        for (int64_t i = 0; i < d; ++i) xt[i] *= scale;
    }
  });
}

void embedding_backward(const float* dx, const int32_t* tokens, int64_t n_tok, int64_t d, float scale, float* dtable) {
  const auto& k = kernels::backward_kernels();
  for (int64_t t = 0; t < n_tok; ++t) k.axpy(scale, dx + t * d, dtable + static_cast<int64_t>(tokens[t]) * d, d);
}

// ---- residuals and biases -----------------------------------------------------------------------

void add_inplace(float* y, const float* x, int64_t n) {
  const auto add = kernels::row_ops().add;
  constexpr int64_t kChunk = 16384;
  parallel_rows((n + kChunk - 1) / kChunk, 1, [&](int64_t c0, int64_t c1) {
    const int64_t b = c0 * kChunk, e = std::min(n, c1 * kChunk);
    add(y + b, x + b, y + b, e - b);
  });
}

void add_bias(float* y, const float* b, int64_t d, int64_t n_tok) {
  const auto add = kernels::row_ops().add;
  for (int64_t t = 0; t < n_tok; ++t) add(y + t * d, b, y + t * d, d);
}

void bias_backward(const float* dy, float* db, int64_t d, int64_t n_tok) {
  for (int64_t t = 0; t < n_tok; ++t)
    for (int64_t i = 0; i < d; ++i) db[i] += dy[t * d + i];
}

}  // namespace helix::train
