// Helpers for the kernel tests: random weights of every type, tolerances, path parameters.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstring>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "core/fp16.h"
#include "core/tensor.h"
#include "quant/blocks.h"
#include "quant/quant.h"

namespace helix::kernels::testing {

// Every weight type matmul takes.
inline const std::vector<DType>& matmul_types() {
  static const std::vector<DType> k = {
      DType::F32,  DType::F16,  DType::BF16, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1,
      DType::Q8_0, DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K};
  return k;
}

inline void put_f16(uint8_t* p, float v) {
  const uint16_t h = f32_to_f16(v);
  std::memcpy(p, &h, 2);
}

// A [n_out, n_in] weight matrix of type t. Quantized blocks get uniformly random bytes (every code
// and scale bit pattern) with f16 scale fields set to sane magnitudes, so the kernels see all of
// the format's corners; float types get values in [-1, 1].
inline Tensor random_weights(DType t, int64_t n_in, int64_t n_out, std::mt19937& rng,
                             int64_t n_mat = 1) {
  Tensor w = Tensor::empty(t, {n_in, n_out, n_mat});
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::uniform_int_distribution<int> byte(0, 255);
  const int64_t n = w.numel();
  if (t == DType::F32) {
    for (int64_t i = 0; i < n; ++i) w.data_as<float>()[i] = u(rng);
    return w;
  }
  if (t == DType::F16 || t == DType::BF16) {
    for (int64_t i = 0; i < n; ++i)
      w.data_as<uint16_t>()[i] = t == DType::F16 ? f32_to_f16(u(rng)) : f32_to_bf16(u(rng));
    return w;
  }
  uint8_t* p = w.data_as<uint8_t>();
  for (size_t i = 0; i < w.nbytes(); ++i) p[i] = static_cast<uint8_t>(byte(rng));
  const size_t bs = dtype_type_size(t);
  std::uniform_real_distribution<float> scale(0.002f, 0.02f);
  for (size_t off = 0; off < w.nbytes(); off += bs) {
    uint8_t* b = p + off;
    const float s = scale(rng) * (byte(rng) & 1 ? 1.0f : -1.0f);
    using namespace quant;
    switch (t) {
      case DType::Q4_0:
        put_f16(b + offsetof(BlockQ4_0, d), s);
        break;
      case DType::Q5_0:
        put_f16(b + offsetof(BlockQ5_0, d), s);
        break;
      case DType::Q8_0:
        put_f16(b + offsetof(BlockQ8_0, d), s);
        break;
      case DType::Q4_1:
        put_f16(b + offsetof(BlockQ4_1, d), std::fabs(s));
        put_f16(b + offsetof(BlockQ4_1, m), -8 * std::fabs(s));
        break;
      case DType::Q5_1:
        put_f16(b + offsetof(BlockQ5_1, d), std::fabs(s));
        put_f16(b + offsetof(BlockQ5_1, m), -16 * std::fabs(s));
        break;
      case DType::Q2_K:
        put_f16(b + offsetof(BlockQ2_K, d), std::fabs(s) / 4);
        put_f16(b + offsetof(BlockQ2_K, dmin), std::fabs(s) / 4);
        break;
      case DType::Q3_K:
        put_f16(b + offsetof(BlockQ3_K, d), s / 8);
        break;
      case DType::Q4_K:
        put_f16(b + offsetof(BlockQ4_K, d), std::fabs(s) / 16);
        put_f16(b + offsetof(BlockQ4_K, dmin), std::fabs(s) / 16);
        break;
      case DType::Q5_K:
        put_f16(b + offsetof(BlockQ5_K, d), std::fabs(s) / 32);
        put_f16(b + offsetof(BlockQ5_K, dmin), std::fabs(s) / 16);
        break;
      case DType::Q6_K:
        put_f16(b + offsetof(BlockQ6_K, d), s / 64);
        break;
      default:
        break;
    }
  }
  return w;
}

inline Tensor random_f32(std::initializer_list<int64_t> ne, std::mt19937& rng, float lo = -1.0f,
                         float hi = 1.0f) {
  Tensor x = Tensor::empty(DType::F32, ne);
  std::uniform_real_distribution<float> u(lo, hi);
  for (int64_t i = 0; i < x.numel(); ++i) x.data_as<float>()[i] = u(rng);
  return x;
}

// Row r of a weight matrix as f32, through the reference dequantizer.
inline std::vector<float> dequant_row(const Tensor& w, int64_t r, int64_t mat = 0) {
  std::vector<float> out(static_cast<size_t>(w.ne(0)));
  quant::dequantize_row(w.dtype(), w.row(r, mat), out.data(), w.ne(0));
  return out;
}

}  // namespace helix::kernels::testing
