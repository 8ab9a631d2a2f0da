#include "train/linear.h"

#include <sys/mman.h>
#include <unistd.h>

#include "core/mapped_file.h"
#include "kernels/matmul.h"
#include "kernels/matmul_backward.h"
#include "train/ops.h"
#include "train/step_profile.h"

namespace helix::train {
namespace {

Tensor f32(const float* p, int64_t ne0, int64_t ne1) {
  return Tensor::wrap(nullptr, const_cast<float*>(p), DType::F32, Shape{ne0, ne1, 1, 1}, 2);
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
  Tensor ut = f32(u, rank, n);
  kernels::matmul(f32(lora_a->value.data(), n_in(), rank), xt, ut);
  thread_local std::vector<float> z;
  z.resize(static_cast<size_t>(n_out() * n));
  Tensor zt = f32(z.data(), n_out(), n);
  kernels::matmul(f32(lora_b->value.data(), rank, n_out()), ut, zt);
  const auto& k = kernels::backward_kernels();
  k.axpy(lora_scale, z.data(), y, n_out() * n);
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
  // dB += (s·dy) uᵀ;  du = Bᵀ (s·dy);  dA += du xᵀ;  dx += Aᵀ du.
  thread_local std::vector<float> sdy, du;
  sdy.assign(dy, dy + n_out() * n);
  for (float& v : sdy) v *= lora_scale;
  du.resize(static_cast<size_t>(rank * n));
  const Tensor sdyt = f32(sdy.data(), n_out(), n), ut = f32(u, rank, n);
  Tensor dbt = f32(lora_b->grad.data(), rank, n_out());
  kernels::matmul_backward_w(sdyt, ut, dbt);
  Tensor dut = f32(du.data(), rank, n);
  kernels::matmul_backward_x(f32(lora_b->value.data(), rank, n_out()), sdyt, dut, false);
  Tensor dat = f32(lora_a->grad.data(), n_in(), rank);
  kernels::matmul_backward_w(dut, xt, dat);
  kernels::matmul_backward_x(f32(lora_a->value.data(), n_in(), rank), dut, dxt, true);
}

}  // namespace helix::train
