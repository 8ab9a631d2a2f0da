// CUDA dequantization of every format the CPU reference supports (src/quant): F16, BF16, Q4_0,
// Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K and Q6_K. One thread computes one element with
// the same f32 operations in the same order as quant/dequantize.cpp; products and sums use the
// _rn intrinsics so that nvcc cannot fuse them into FMAs, which keeps the results bit-identical
// to the CPU reference (and so to gguf-py). Block layouts come from quant/blocks.h.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "kernels/cuda/dequantize.cuh"
#include "quant/blocks.h"

namespace helix::cuda {
namespace {

using namespace helix::quant;

__device__ __forceinline__ float half_bits(uint16_t h) { return __half2float(__ushort_as_half(h)); }
__device__ __forceinline__ float mul(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ float add(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ float sub(float a, float b) { return __fsub_rn(a, b); }

__device__ __forceinline__ uint32_t u32_le(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

// 6-bit scale and min of sub-block j of Q4_K / Q5_K.
__device__ __forceinline__ void scale_min_k4(const uint8_t* q, int j, int& sc, int& m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// Each format: the element count of a block and element j of block b.
struct F16 {
  using Block = uint16_t;
  static constexpr int kQK = 1;
  __device__ static float at(const Block& b, int) { return half_bits(b); }
};
struct BF16 {
  using Block = uint16_t;
  static constexpr int kQK = 1;
  __device__ static float at(const Block& b, int) { return __uint_as_float(uint32_t(b) << 16); }
};
struct Q4_0 {
  using Block = BlockQ4_0;
  static constexpr int kQK = QK4_0;
  __device__ static float at(const Block& b, int j) {
    const int q = j < 16 ? (b.qs[j] & 0xF) : (b.qs[j - 16] >> 4);
    return mul(half_bits(b.d), float(q - 8));
  }
};
struct Q4_1 {
  using Block = BlockQ4_1;
  static constexpr int kQK = QK4_1;
  __device__ static float at(const Block& b, int j) {
    const int q = j < 16 ? (b.qs[j] & 0xF) : (b.qs[j - 16] >> 4);
    return add(mul(half_bits(b.d), float(q)), half_bits(b.m));
  }
};
struct Q5_0 {
  using Block = BlockQ5_0;
  static constexpr int kQK = QK5_0;
  __device__ static float at(const Block& b, int j) {
    const int low = j < 16 ? (b.qs[j] & 0xF) : (b.qs[j - 16] >> 4);
    const int q = low | int((u32_le(b.qh) >> j) & 1) << 4;
    return mul(half_bits(b.d), float(q - 16));
  }
};
struct Q5_1 {
  using Block = BlockQ5_1;
  static constexpr int kQK = QK5_1;
  __device__ static float at(const Block& b, int j) {
    const int low = j < 16 ? (b.qs[j] & 0xF) : (b.qs[j - 16] >> 4);
    const int q = low | int((u32_le(b.qh) >> j) & 1) << 4;
    return add(mul(half_bits(b.d), float(q)), half_bits(b.m));
  }
};
struct Q8_0 {
  using Block = BlockQ8_0;
  static constexpr int kQK = QK8_0;
  __device__ static float at(const Block& b, int j) { return mul(float(b.qs[j]), half_bits(b.d)); }
};
// K-quants: element e = 128*c + 32*s + l (2/3-bit and 6-bit layouts), or sub-block k = e/32.
struct Q2_K {
  using Block = BlockQ2_K;
  static constexpr int kQK = QK_K;
  __device__ static float at(const Block& b, int e) {
    const int c = e / 128, s = (e / 32) % 4, l = e % 32;
    const int sc = b.scales[e / 16];
    const float dl = mul(half_bits(b.d), float(sc & 0xF));
    const float ml = mul(half_bits(b.dmin), float(sc >> 4));
    return sub(mul(dl, float((b.qs[32 * c + l] >> (2 * s)) & 3)), ml);
  }
};
struct Q3_K {
  using Block = BlockQ3_K;
  static constexpr int kQK = QK_K;
  __device__ static float at(const Block& b, int e) {
    const int c = e / 128, s = (e / 32) % 4, l = e % 32, j = e / 16;
    const int low_sc = j < 8 ? (b.scales[j] & 0xF) : (b.scales[j - 8] >> 4);
    const int sc = (low_sc | (((b.scales[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
    const int low = (b.qs[32 * c + l] >> (2 * s)) & 3;
    const int high = (b.hmask[l] >> (e / 32)) & 1;
    return mul(mul(half_bits(b.d), float(sc)), float(low - (high ? 0 : 4)));
  }
};
struct Q4_K {
  using Block = BlockQ4_K;
  static constexpr int kQK = QK_K;
  __device__ static float at(const Block& b, int e) {
    const int k = e / 32, l = e % 32;
    int sc, m;
    scale_min_k4(b.scales, k, sc, m);
    const int q = (b.qs[32 * (k / 2) + l] >> (4 * (k % 2))) & 0xF;
    return sub(mul(mul(half_bits(b.d), float(sc)), float(q)), mul(half_bits(b.dmin), float(m)));
  }
};
struct Q5_K {
  using Block = BlockQ5_K;
  static constexpr int kQK = QK_K;
  __device__ static float at(const Block& b, int e) {
    const int k = e / 32, l = e % 32;
    int sc, m;
    scale_min_k4(b.scales, k, sc, m);
    const int q = ((b.qs[32 * (k / 2) + l] >> (4 * (k % 2))) & 0xF) | (((b.qh[l] >> k) & 1) << 4);
    return sub(mul(mul(half_bits(b.d), float(sc)), float(q)), mul(half_bits(b.dmin), float(m)));
  }
};
struct Q6_K {
  using Block = BlockQ6_K;
  static constexpr int kQK = QK_K;
  __device__ static float at(const Block& b, int e) {
    const int c = e / 128, s = (e / 32) % 4, l = e % 32;
    const int low = (b.ql[64 * c + l + 32 * (s % 2)] >> (4 * (s / 2))) & 0xF;
    const int high = (b.qh[32 * c + l] >> (2 * s)) & 3;
    return mul(mul(half_bits(b.d), float(b.scales[e / 16])), float((low | (high << 4)) - 32));
  }
};

template <typename F>
__global__ void dequant_kernel(const typename F::Block* __restrict__ x, float* __restrict__ y, int64_t n) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  y[i] = F::at(x[i / F::kQK], static_cast<int>(i % F::kQK));
}

template <typename F>
bool launch(const void* src, float* dst, int64_t n_blocks, cudaStream_t s) {
  constexpr int kThreads = 256;
  const int64_t n = n_blocks * F::kQK;
  if (n == 0) return true;
  dequant_kernel<F><<<static_cast<unsigned>((n + kThreads - 1) / kThreads), kThreads, 0, s>>>(
      static_cast<const typename F::Block*>(src), dst, n);
  return true;
}

}  // namespace

bool dequantize(DType type, const void* src, float* dst, int64_t n_blocks, void* stream) {
  const auto s = static_cast<cudaStream_t>(stream);
  switch (type) {
    case DType::F16: return launch<F16>(src, dst, n_blocks, s);
    case DType::BF16: return launch<BF16>(src, dst, n_blocks, s);
    case DType::Q4_0: return launch<Q4_0>(src, dst, n_blocks, s);
    case DType::Q4_1: return launch<Q4_1>(src, dst, n_blocks, s);
    case DType::Q5_0: return launch<Q5_0>(src, dst, n_blocks, s);
    case DType::Q5_1: return launch<Q5_1>(src, dst, n_blocks, s);
    case DType::Q8_0: return launch<Q8_0>(src, dst, n_blocks, s);
    case DType::Q2_K: return launch<Q2_K>(src, dst, n_blocks, s);
    case DType::Q3_K: return launch<Q3_K>(src, dst, n_blocks, s);
    case DType::Q4_K: return launch<Q4_K>(src, dst, n_blocks, s);
    case DType::Q5_K: return launch<Q5_K>(src, dst, n_blocks, s);
    case DType::Q6_K: return launch<Q6_K>(src, dst, n_blocks, s);
    default: return false;
  }
}

}  // namespace helix::cuda
