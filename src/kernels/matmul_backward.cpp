#include "kernels/matmul_backward.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "quant/quant.h"

namespace helix::kernels {
namespace {

void axpy4_ref(const float* a, const float* x, int64_t s, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a[0] * x[i] + a[1] * x[s + i] + a[2] * x[2 * s + i] + a[3] * x[3 * s + i];
}
void axpy_ref(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}
float dot_ref(const float* x, const float* y, int64_t n) {
  float s = 0;
  for (int64_t i = 0; i < n; ++i) s += x[i] * y[i];
  return s;
}
void rows_t_ref(const float* w, int64_t nr, int64_t n, const float* g, int64_t gs, int nt, float* dx, int64_t ds) {
  for (int t = 0; t < nt; ++t)
    for (int64_t r = 0; r < nr; ++r) axpy_ref(g[t * gs + r], w + r * n, dx + t * ds, n);
}
double softmax_xent_ref(float* z, int64_t n, int32_t y, float grad_scale, bool backward) {
  const float m = *std::max_element(z, z + n), zy = z[y];
  double l = 0;
  for (int64_t i = 0; i < n; ++i) {  // z holds exp(z - m), then the gradient
    z[i] = std::exp(z[i] - m);
    l += z[i];
  }
  if (backward) {
    const float inv = static_cast<float>(1.0 / l);
    for (int64_t i = 0; i < n; ++i) z[i] = (z[i] * inv - (i == y ? 1.0f : 0.0f)) * grad_scale;
  }
  return m + std::log(l) - zy;
}
// silu(x) = x·σ(x): silu' = σ·(1 + x·(1 − σ)).
// gelu(x) = ½x(1 + tanh(z)), z = c(x + 0.044715x³): gelu' = ½(1 + t) + ½x(1 − t²)·c(1 + 3·0.044715x²).
void gated_act_ref(bool gelu, const float* g, const float* u, const float* dm, float* dg, float* du, int64_t n) {
  constexpr float kC = 0.7978845608028654f, kA = 0.044715f;
  for (int64_t i = 0; i < n; ++i) {
    const float x = g[i];
    float a, da;
    if (!gelu) {
      const float s = 1.0f / (1.0f + std::exp(-x));
      a = x * s;
      da = s * (1.0f + x * (1.0f - s));
    } else {
      const float t = std::tanh(kC * (x + kA * x * x * x));
      a = 0.5f * x * (1.0f + t);
      da = 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * kC * (1.0f + 3.0f * kA * x * x);
    }
    du[i] = dm[i] * a;
    dg[i] = dm[i] * u[i] * da;
  }
}
constexpr BackwardKernels kRef = {axpy4_ref, axpy_ref, dot_ref, rows_t_ref, softmax_xent_ref, gated_act_ref};

void check_f32_matrix(const Tensor& t, int64_t rows, int64_t cols, const char* op, const char* what) {
  HELIX_CHECK(t.dtype() == DType::F32 && t.is_contiguous(), op, ": ", what, " must be contiguous F32");
  HELIX_CHECK(t.ne(0) == rows && t.nrows() == cols, op, ": ", what, " has shape ", t.shape_str(), ", expected [",
              rows, ", ", cols, "]");
}

// w: a matrix of a dequantizable type; a ([a_rows, n_tok]) and b ([b_rows, n_tok]) f32 matrices.
void check_weight_and_io(const Tensor& w, const Tensor& a, int64_t a_rows, const char* a_name, const Tensor& b,
                         int64_t b_rows, const char* b_name, const char* op) {
  HELIX_CHECK(w.ne(2) == 1 && w.ne(3) == 1, op, ": w must be a matrix, got ", w.shape_str());
  HELIX_CHECK(quant::can_dequantize(w.dtype()), op, ": weights of type ", dtype_name(w.dtype()), " are not supported");
  check_f32_matrix(a, a_rows, a.nrows(), op, a_name);
  check_f32_matrix(b, b_rows, a.nrows(), op, b_name);
}

constexpr int64_t kRowBlock = 64;   // weight rows dequantized at a time (64 x n_in floats)
constexpr int64_t kTokBlock = 64;   // tokens per task when threads split the tokens

}  // namespace

const BackwardKernels& backward_kernels(Isa isa) {
  if (isa == Isa::Scalar) return kRef;
  HELIX_CHECK(isa_available(isa), "this CPU lacks ", isa_name(isa));
  return backward_kernels_avx2();
}

const BackwardKernels& backward_kernels() {
  static const BackwardKernels& k = backward_kernels(best_isa());
  return k;
}

void matmul_backward_x(const Tensor& w, const Tensor& dy, Tensor& dx, bool accumulate, Isa isa) {
  const int64_t n_in = w.ne(0), n_out = w.ne(1), n_tok = dy.nrows();
  check_weight_and_io(w, dy, n_out, "dy", dx, n_in, "dx", "matmul_backward_x");
  const BackwardKernels& k = backward_kernels(isa);
  const float* dyp = dy.data_as<float>();
  float* dxp = dx.data_as<float>();
  const bool f32 = w.dtype() == DType::F32 && w.nb(1) == static_cast<size_t>(n_in) * 4;
  // dx[t0..t1) += rows [o0, o1) of W against dy, into out (row stride n_in, token t at out + (t - t0) * n_in).
  auto block = [&](int64_t o0, int64_t o1, int64_t t0, int64_t t1, float* out) {
    thread_local std::vector<float> rows;
    if (!f32) rows.resize(static_cast<size_t>(kRowBlock * n_in));
    for (int64_t b = o0; b < o1; b += kRowBlock) {
      const int64_t nr = std::min(kRowBlock, o1 - b);
      const float* wr = nullptr;
      if (f32) {
        wr = w.data_as<float>() + b * n_in;
      } else {
        for (int64_t r = 0; r < nr; ++r) quant::dequantize_row(w.dtype(), w.row(b + r), rows.data() + r * n_in, n_in);
        wr = rows.data();
      }
      for (int64_t t = t0; t < t1; t += 4) {
        const int nt = static_cast<int>(std::min<int64_t>(4, t1 - t));
        k.rows_t(wr, nr, n_in, dyp + t * n_out + b, n_out, nt, out + (t - t0) * n_in, n_in);
      }
    }
  };
  ThreadPool& pool = ThreadPool::global();
  const int64_t n_tok_tasks = (n_tok + kTokBlock - 1) / kTokBlock;
  if (n_tok_tasks >= 2 * pool.size() || pool.size() == 1 || n_out < 4 * kRowBlock) {
    pool.parallel_for(n_tok_tasks, 1, [&](int64_t b, int64_t e) {
      const int64_t t0 = b * kTokBlock, t1 = std::min(n_tok, e * kTokBlock);
      if (!accumulate) std::fill(dxp + t0 * n_in, dxp + t1 * n_in, 0.0f);
      block(0, n_out, t0, t1, dxp + t0 * n_in);
    });
    return;
  }
  // Few tokens, many rows: each thread sums its share of the rows into its own dx, then the
  // shares are added (in thread order, so the result does not depend on timing).
  const int nt = pool.size();
  std::vector<float> part(static_cast<size_t>(nt) * static_cast<size_t>(n_in * n_tok), 0.0f);
  const int64_t n_blocks = (n_out + kRowBlock - 1) / kRowBlock;
  pool.run([&](int ti, int n_threads) {
    const int64_t b0 = n_blocks * ti / n_threads, b1 = n_blocks * (ti + 1) / n_threads;
    block(b0 * kRowBlock, std::min(n_out, b1 * kRowBlock), 0, n_tok, part.data() + static_cast<size_t>(ti) * n_in * n_tok);
  });
  if (!accumulate) std::fill(dxp, dxp + n_in * n_tok, 0.0f);
  for (int ti = 0; ti < nt; ++ti) k.axpy(1.0f, part.data() + static_cast<size_t>(ti) * n_in * n_tok, dxp, n_in * n_tok);
}

void matmul_backward_w(const Tensor& dy, const Tensor& x, Tensor& dw, Isa isa) {
  const int64_t n_in = dw.ne(0), n_out = dw.nrows(), n_tok = dy.nrows();
  check_f32_matrix(dy, n_out, n_tok, "matmul_backward_w", "dy");
  check_f32_matrix(x, n_in, n_tok, "matmul_backward_w", "x");
  check_f32_matrix(dw, n_in, n_out, "matmul_backward_w", "dw");
  const BackwardKernels& k = backward_kernels(isa);
  const float* dyp = dy.data_as<float>();
  const float* xp = x.data_as<float>();
  float* dwp = dw.data_as<float>();
  ThreadPool::global().parallel_for(n_out, 4, [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      float* d = dwp + o * n_in;
      int64_t t = 0;
      for (; t + 4 <= n_tok; t += 4) {
        const float a[4] = {dyp[t * n_out + o], dyp[(t + 1) * n_out + o], dyp[(t + 2) * n_out + o],
                            dyp[(t + 3) * n_out + o]};
        k.axpy4(a, xp + t * n_in, n_in, d, n_in);
      }
      for (; t < n_tok; ++t) k.axpy(dyp[t * n_out + o], xp + t * n_in, d, n_in);
    }
  });
}

void matmul_dequant_f32(const Tensor& w, const Tensor& x, Tensor& y, Isa isa) {
  const int64_t n_in = w.ne(0), n_out = w.ne(1), n_tok = x.nrows();
  check_weight_and_io(w, x, n_in, "x", y, n_out, "y", "matmul_dequant_f32");
  const BackwardKernels& k = backward_kernels(isa);
  const float* xp = x.data_as<float>();
  float* yp = y.data_as<float>();
  const int64_t n_blocks = (n_out + kRowBlock - 1) / kRowBlock;
  ThreadPool::global().parallel_for(n_blocks, 1, [&](int64_t b0, int64_t b1) {
    thread_local std::vector<float> rows;
    rows.resize(static_cast<size_t>(kRowBlock * n_in));
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t o0 = b * kRowBlock, nr = std::min(kRowBlock, n_out - o0);
      for (int64_t r = 0; r < nr; ++r) quant::dequantize_row(w.dtype(), w.row(o0 + r), rows.data() + r * n_in, n_in);
      for (int64_t t = 0; t < n_tok; ++t)
        for (int64_t r = 0; r < nr; ++r) yp[t * n_out + o0 + r] = k.dot(rows.data() + r * n_in, xp + t * n_in, n_in);
    }
  });
}

}  // namespace helix::kernels
