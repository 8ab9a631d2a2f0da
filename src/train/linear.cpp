#include "train/linear.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "core/mapped_file.h"
#include "kernels/lora.h"
#include "kernels/matmul.h"
#include "kernels/matmul_backward.h"
#include "train/ops.h"
#include "train/step_profile.h"

namespace helix::train {
namespace {

Tensor f32(const float* p, int64_t ne0, int64_t ne1) {
  return Tensor::wrap(nullptr, const_cast<float*>(p), DType::F32, Shape{ne0, ne1, 1, 1}, 2);
}

// x with LoRA dropout applied (see Linear::dropout), into out; each value's mask depends only on
// (seed, index), so the pool's threads hash chunks of it independently.
void dropout_input(const float* x, int64_t n, float p, uint64_t seed, std::vector<float>& out) {
  out.resize(static_cast<size_t>(n));
  const float keep = 1.0f / (1.0f - p);
  const auto threshold = static_cast<uint64_t>(static_cast<double>(p) * 18446744073709551616.0);
  float* o = out.data();  // the caller's thread_local, written by the workers
  parallel_rows(n, 1 << 16, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      uint64_t z = seed + static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull;  // SplitMix64 of (seed, i)
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      z ^= z >> 31;
      o[i] = z < threshold ? 0.0f : x[i] * keep;
    }
  });
}

}  // namespace

kernels::ReleaseFn release_mapped(const Tensor& w) {
  if (!dynamic_cast<const MappedFile*>(w.storage().get())) return {};
  // The kernels read the packed copy from now on: the file mapping's pages may go (rows that are
  // read again, as a tied embedding's, fault back in from the page cache).
  return [](const void* p, size_t bytes) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const auto begin = reinterpret_cast<uintptr_t>(p);
    const uintptr_t b = (begin + page - 1) / page * page, e = (begin + bytes) / page * page;
    if (e > b) madvise(reinterpret_cast<void*>(b), e - b, MADV_DONTNEED);
  };
}

void Linear::prepare() {
  if (exact_base || w_param || !dtype_is_quantized(w.dtype())) return;
  wt = kernels::transpose_q8(w);  // reads the original: before packing drops its pages
  packed = kernels::pack_weight(w, release_mapped(w));
}

void Linear::forward(const float* x, int64_t n, float* y, float* u) const {
  stepprof::to(stepprof::kProjFwd);
  const Tensor xt = f32(x, n_in(), n);
  Tensor yt = f32(y, n_out(), n);
  if (exact_base && w.dtype() != DType::F32) kernels::matmul_dequant_f32(w, xt, yt);
  else kernels::matmul(w, xt, yt);
  if (bias) add_bias(y, bias, n_out(), n);
  if (!lora_a) return;
  stepprof::to(stepprof::kLoraFwd);
  thread_local std::vector<float> xd;
  const bool drop = dropout > 0 && dropout_seed != 0;
  if (drop) dropout_input(x, n_in() * n, dropout, dropout_seed, xd);
  // u = A·x (kept for the backward), then y += s·B·u: kernels/lora.h, the product serving runs
  // too, here on f32 factors (s·B packed per call: B changes every step); threads take ranges of
  // tokens.
  const int64_t no = n_out(), ni = n_in(), r = rank;
  thread_local std::vector<float> sb;
  sb.resize(static_cast<size_t>(kernels::lora_b_elems(r, no)));
  kernels::lora_pack_b(lora_b->value.data(), r, no, lora_scale, DType::F32, sb.data());
  const kernels::LoraFactors f{DType::F32, lora_a->value.data(), sb.data(), r, ni, no};
  const float* xa = drop ? xd.data() : x;  // the caller's thread_locals, read by the workers
  kernels::lora_down(f, xa, ni, n, u, r);
  parallel_rows((n + kernels::kLoraUpCols - 1) / kernels::kLoraUpCols, 1, [&](int64_t b0, int64_t b1) {
    const int64_t t0 = b0 * kernels::kLoraUpCols, t1 = std::min(n, b1 * kernels::kLoraUpCols);
    kernels::lora_up(f, u + t0 * r, r, t1 - t0, 0, no, y + t0 * no, no);
  });
}

void Linear::backward(const float* x, const float* u, const float* dy, int64_t n, float* dx, bool accumulate) const {
  stepprof::to(stepprof::kProjBwd);
  const Tensor xt = f32(x, n_in(), n), dyt = f32(dy, n_out(), n);
  Tensor dxt = f32(dx, n_in(), n);
  if (wt) kernels::matmul_backward_x(*wt, dyt, dxt, accumulate);
  else kernels::matmul_backward_x(w, dyt, dxt, accumulate);
  if (w_param) {
    Tensor dw = f32(w_param->grad.data(), n_in(), n_out());
    kernels::matmul_backward_w(dyt, xt, dw);
  }
  if (b_param) bias_backward(dy, b_param->grad.data(), n_out(), n);
  if (!lora_a) return;
  stepprof::to(stepprof::kLoraBwd);
  // du = s·Bᵀ dy;  dB += s·dy uᵀ;  dA += du xᵀ;  dx += Aᵀ du.
  const int64_t no = n_out(), r = rank;
  const float s = lora_scale;
  thread_local std::vector<float> du, dyt_s;
  du.resize(static_cast<size_t>(r * n));
  Tensor dut = f32(du.data(), r, n);
  kernels::matmul_backward_x(f32(lora_b->value.data(), r, no), dyt, dut, false);
  for (float& v : du) v *= s;
  // dB[o, :] += Σ_t s·dy[t, o]·u[t, :]: dy transposed (and scaled) so that each output row's
  // token weights are contiguous, then the rows of u weighted by them, four outputs at a time.
  dyt_s.resize(static_cast<size_t>(no * n));
  float* dT = dyt_s.data();
  constexpr int64_t kB = 64;
  parallel_rows((no + kB - 1) / kB, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t o0 = b0 * kB; o0 < std::min(no, b1 * kB); o0 += kB)
      for (int64_t t0 = 0; t0 < n; t0 += kB)
        for (int64_t o = o0; o < std::min(no, o0 + kB); ++o)
          for (int64_t t = t0; t < std::min(n, t0 + kB); ++t) dT[o * n + t] = s * dy[t * no + o];
  });
  const auto& k = kernels::backward_kernels();
  float* db = lora_b->grad.data();
  parallel_rows((no + 3) / 4, 4, [&](int64_t b0, int64_t b1) {
    for (int64_t o = b0 * 4; o < std::min(no, b1 * 4); o += 4)
      k.rows_t(u, n, r, dT + o * n, n, static_cast<int>(std::min<int64_t>(4, no - o)), db + o * r, r);
  });
  Tensor dat = f32(lora_a->grad.data(), n_in(), rank);
  if (dropout > 0 && dropout_seed != 0) {
    // x̃ = mask·x/(1-p): dA += du x̃ᵀ; dx += mask/(1-p) · Aᵀ du (the mask applied to ones).
    thread_local std::vector<float> xd, dxd, ones;
    dropout_input(x, n_in() * n, dropout, dropout_seed, xd);
    kernels::matmul_backward_w(dut, f32(xd.data(), n_in(), n), dat);
    dxd.resize(static_cast<size_t>(n_in() * n));
    Tensor dxdt = f32(dxd.data(), n_in(), n);
    kernels::matmul_backward_x(f32(lora_a->value.data(), n_in(), rank), dut, dxdt, false);
    ones.assign(static_cast<size_t>(n_in() * n), 1.0f);
    dropout_input(ones.data(), n_in() * n, dropout, dropout_seed, xd);
    for (int64_t i = 0; i < n_in() * n; ++i) dx[i] += xd[static_cast<size_t>(i)] * dxd[static_cast<size_t>(i)];
    return;
  }
  kernels::matmul_backward_w(dut, xt, dat);
  kernels::matmul_backward_x(f32(lora_a->value.data(), n_in(), rank), dut, dxt, true);
}

}  // namespace helix::train
