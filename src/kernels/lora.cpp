// LoRA products (kernels/lora.h): the scalar reference kernels and the dispatch.
#include "kernels/lora.h"

#include <algorithm>

#include "core/error.h"
#include "core/fp16.h"
#include "core/tensor.h"
#include "kernels/matmul.h"
#include "kernels/vec_dot.h"

namespace helix::kernels {
namespace {

// Sums in eight interleaved partial sums, combined pairwise, as the AVX2 kernels do, so the two
// paths agree to a few ulp.
template <typename Load>
float dot8(Load a, const float* x, int64_t n) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) s[l] += a(i + l) * x[i + l];
  float r = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
  for (; i < n; ++i) r += a(i) * x[i];
  return r;
}

void down_f32(const float* a, int64_t rank, int64_t n_in, const float* x, float* u) {
  for (int64_t j = 0; j < rank; ++j) {
    const float* row = a + j * n_in;
    u[j] = dot8([row](int64_t i) { return row[i]; }, x, n_in);
  }
}

void down_f16(const uint16_t* a, int64_t rank, int64_t n_in, const float* x, float* u) {
  for (int64_t j = 0; j < rank; ++j) {
    const uint16_t* row = a + j * n_in;
    u[j] = dot8([row](int64_t i) { return f16_to_f32(row[i]); }, x, n_in);
  }
}

template <typename T, typename Load>
void up(const T* b, int64_t rank, int64_t, int64_t o0, int64_t o1, const float* u, int64_t u_stride, int nc,
        float* y, int64_t y_stride, Load load) {
  for (int c = 0; c < nc; ++c)
    for (int64_t o = o0; o < o1; ++o) {
      const T* blk = b + (o / kLoraRows) * rank * kLoraRows + o % kLoraRows;
      float acc = y[c * y_stride + o];
      for (int64_t j = 0; j < rank; ++j) acc += load(blk[j * kLoraRows]) * u[c * u_stride + j];
      y[c * y_stride + o] = acc;
    }
}

void up_f32(const float* b, int64_t rank, int64_t n_out, int64_t o0, int64_t o1, const float* u, int64_t u_stride,
            int nc, float* y, int64_t y_stride) {
  up(b, rank, n_out, o0, o1, u, u_stride, nc, y, y_stride, [](float v) { return v; });
}

void up_f16(const uint16_t* b, int64_t rank, int64_t n_out, int64_t o0, int64_t o1, const float* u,
            int64_t u_stride, int nc, float* y, int64_t y_stride) {
  up(b, rank, n_out, o0, o1, u, u_stride, nc, y, y_stride, [](uint16_t v) { return f16_to_f32(v); });
}

void check_type(const LoraFactors& f) {
  HELIX_CHECK(f.type == DType::F32 || f.type == DType::F16, "LoRA factors must be F32 or F16, got ",
              dtype_name(f.type));
}

}  // namespace

const LoraKernels& lora_kernels(Isa isa) {
  static const LoraKernels scalar{down_f32, down_f16, up_f32, up_f16};
  HELIX_CHECK(isa_available(isa), "lora: this CPU cannot run the ", isa_name(isa), " kernels");
  return isa == Isa::Avx2 ? lora_kernels_avx2() : scalar;
}

const LoraKernels& lora_kernels() {
  static const LoraKernels& best = lora_kernels(best_isa());
  return best;
}

void lora_pack_b(const float* b, int64_t rank, int64_t n_out, float scale, DType t, void* out) {
  HELIX_CHECK(t == DType::F32 || t == DType::F16, "LoRA factors must be F32 or F16, got ", dtype_name(t));
  auto put = [&](int64_t e, float v) {
    if (t == DType::F16) static_cast<uint16_t*>(out)[e] = f32_to_f16(v);
    else static_cast<float*>(out)[e] = v;
  };
  for (int64_t o0 = 0, e = 0; o0 < n_out; o0 += kLoraRows)
    for (int64_t j = 0; j < rank; ++j)
      for (int64_t l = 0; l < kLoraRows; ++l, ++e) put(e, o0 + l < n_out ? scale * b[(o0 + l) * rank + j] : 0.0f);
}

void lora_down(const LoraFactors& f, const float* x, int64_t x_stride, int64_t n, float* u, int64_t u_stride) {
  check_type(f);
  if (f.type == DType::F32 && n > kMaxCols && x_stride == f.n_in && u_stride == f.rank) {
    // Many columns (training): the f32 matmul's register tiles read A once for several columns
    // (measured: ~3% of a training step faster than a pass over A per column).
    auto wrap = [](const float* p, int64_t ne0, int64_t ne1) {
      return Tensor::wrap(nullptr, const_cast<float*>(p), DType::F32, Shape{ne0, ne1, 1, 1}, 2);
    };
    Tensor ut = wrap(u, f.rank, n);
    matmul(wrap(static_cast<const float*>(f.a), f.n_in, f.rank), wrap(x, f.n_in, n), ut);
    return;
  }
  const LoraKernels& k = lora_kernels();
  for (int64_t c = 0; c < n; ++c) {
    if (f.type == DType::F16)
      k.down_f16(static_cast<const uint16_t*>(f.a), f.rank, f.n_in, x + c * x_stride, u + c * u_stride);
    else
      k.down_f32(static_cast<const float*>(f.a), f.rank, f.n_in, x + c * x_stride, u + c * u_stride);
  }
}

void lora_up(const LoraFactors& f, const float* u, int64_t u_stride, int64_t n, int64_t o0, int64_t o1, float* y,
             int64_t y_stride) {
  check_type(f);
  const LoraKernels& k = lora_kernels();
  for (int64_t c = 0; c < n; c += kLoraUpCols) {
    const int nc = static_cast<int>(std::min<int64_t>(kLoraUpCols, n - c));
    if (f.type == DType::F16)
      k.up_f16(static_cast<const uint16_t*>(f.b), f.rank, f.n_out, o0, o1, u + c * u_stride, u_stride, nc,
               y + c * y_stride, y_stride);
    else
      k.up_f32(static_cast<const float*>(f.b), f.rank, f.n_out, o0, o1, u + c * u_stride, u_stride, nc,
               y + c * y_stride, y_stride);
  }
}

}  // namespace helix::kernels
