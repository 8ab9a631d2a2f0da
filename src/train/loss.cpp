#include "train/loss.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "kernels/matmul.h"
#include "kernels/matmul_backward.h"
#include "train/ops.h"

namespace helix::train {
namespace {

Tensor f32(const float* p, int64_t ne0, int64_t ne1) {
  return Tensor::wrap(nullptr, const_cast<float*>(p), DType::F32, Shape{ne0, ne1, 1, 1}, 2);
}

// Softcap, log-sum-exp and loss of each logits column; with backward, the column becomes
// grad_scale · dloss/dlogits (through the softcap). Returns Σ loss; col_loss gets each column's.
double loss_columns(float* logits, int64_t V, const int32_t* tgt, int64_t nc, float softcap, float grad_scale,
                    bool backward, std::vector<double>& col_loss) {
  col_loss.assign(static_cast<size_t>(nc), 0.0);
  parallel_rows(nc, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      float* z = logits + c * V;
      if (softcap > 0)
        for (int64_t i = 0; i < V; ++i) z[i] = softcap * std::tanh(z[i] / softcap);
      const int32_t y = tgt[c];
      if (softcap > 0 && backward) {  // the softcap's derivative needs the capped logits: two passes
        const float m = *std::max_element(z, z + V), zy = z[y];
        double l = 0;
        for (int64_t i = 0; i < V; ++i) l += std::exp(z[i] - m);
        const float inv = static_cast<float>(1.0 / l);
        for (int64_t i = 0; i < V; ++i) {
          const float t = z[i] / softcap;  // tanh(raw / softcap)
          z[i] = (std::exp(z[i] - m) * inv - (i == y ? 1.0f : 0.0f)) * (1.0f - t * t) * grad_scale;
        }
        col_loss[static_cast<size_t>(c)] = m + std::log(l) - zy;
      } else {
        col_loss[static_cast<size_t>(c)] = kernels::backward_kernels().softmax_xent(z, V, y, grad_scale, backward);
      }
    }
  });
  double s = 0;
  for (double v : col_loss) s += v;
  return s;
}

}  // namespace

LossSum lm_head_loss(const HeadParams& p, const float* x, const int32_t* targets, int64_t n_tok, float grad_scale,
                     float* dx, float* pos_loss) {
  const Tensor& W = *p.w_out;
  const int64_t E = W.ne(0), V = W.ne(1);
  std::vector<int64_t> pos;
  for (int64_t t = 0; t < n_tok; ++t)
    if (targets[t] >= 0) {
      HELIX_CHECK(targets[t] < V, "target token ", targets[t], " is outside the vocabulary (", V, ")");
      pos.push_back(t);
    }
  if (dx) std::fill(dx, dx + E * n_tok, 0.0f);
  if (pos_loss) std::fill(pos_loss, pos_loss + n_tok, 0.0f);
  std::vector<double> col_loss;
  LossSum out;
  out.count = static_cast<int64_t>(pos.size());
  const int64_t C = std::max<int64_t>(1, p.chunk);
  // Kept between steps (the logits of a chunk are 64 MiB at C = 64): no allocation and no fresh
  // zeroed pages per step.
  thread_local std::vector<float> xs, xn, dxn, dxs, logits;
  thread_local std::vector<int32_t> tgt;
  for (auto* v : {&xs, &xn, &dxn, &dxs}) v->resize(static_cast<size_t>(E * C));
  logits.resize(static_cast<size_t>(V * C));
  tgt.resize(static_cast<size_t>(C));
  for (int64_t c0 = 0; c0 < out.count; c0 += C) {
    const int64_t nc = std::min(C, out.count - c0);
    for (int64_t c = 0; c < nc; ++c) {
      const int64_t t = pos[static_cast<size_t>(c0 + c)];
      std::copy_n(x + t * E, E, xs.data() + c * E);
      tgt[static_cast<size_t>(c)] = targets[t];
    }
    rmsnorm_forward(xs.data(), p.norm_w, xn.data(), nc, E, p.eps);
    Tensor lt = f32(logits.data(), V, nc);
    if (p.exact && W.dtype() != DType::F32) kernels::matmul_dequant_f32(W, f32(xn.data(), E, nc), lt);
    else kernels::matmul(W, f32(xn.data(), E, nc), lt);
    out.sum += loss_columns(logits.data(), V, tgt.data(), nc, p.softcap, grad_scale, dx != nullptr, col_loss);
    if (pos_loss)
      for (int64_t c = 0; c < nc; ++c) pos_loss[pos[static_cast<size_t>(c0 + c)]] = static_cast<float>(col_loss[static_cast<size_t>(c)]);
    if (!dx) continue;
    Tensor dxnt = f32(dxn.data(), E, nc);
    if (p.w_out_t && !p.exact) kernels::matmul_backward_x(*p.w_out_t, lt, dxnt, false);
    else kernels::matmul_backward_x(W, lt, dxnt, false);
    if (p.w_out_grad) {
      Tensor dw = f32(p.w_out_grad, E, V);
      kernels::matmul_backward_w(lt, f32(xn.data(), E, nc), dw);
    }
    rmsnorm_backward(xs.data(), p.norm_w, dxn.data(), dxs.data(), p.norm_grad, nc, E, p.eps, false);
    for (int64_t c = 0; c < nc; ++c) std::copy_n(dxs.data() + c * E, E, dx + pos[static_cast<size_t>(c0 + c)] * E);
  }
  return out;
}

}  // namespace helix::train
