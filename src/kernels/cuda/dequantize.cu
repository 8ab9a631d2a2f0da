#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "kernels/cuda/dequantize.cuh"

namespace helix::cuda {
namespace {

struct BlockQ8_0 {
  __half d;
  int8_t qs[32];
};
struct BlockQ4_0 {
  __half d;
  uint8_t qs[16];
};
static_assert(sizeof(BlockQ8_0) == 34, "ggml block_q8_0 layout");
static_assert(sizeof(BlockQ4_0) == 18, "ggml block_q4_0 layout");

// One thread per output element; blocks of 32 elements.
__global__ void dequant_q8_0(const BlockQ8_0* __restrict__ x, float* __restrict__ y, int64_t n) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  const BlockQ8_0& b = x[i / 32];
  y[i] = __half2float(b.d) * static_cast<float>(b.qs[i % 32]);
}

// Q4_0: element j < 16 is the low nibble of qs[j], element j >= 16 the high nibble of qs[j-16].
__global__ void dequant_q4_0(const BlockQ4_0* __restrict__ x, float* __restrict__ y, int64_t n) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  const BlockQ4_0& b = x[i / 32];
  const int j = static_cast<int>(i % 32);
  const int q = j < 16 ? (b.qs[j] & 0x0f) : (b.qs[j - 16] >> 4);
  y[i] = __half2float(b.d) * static_cast<float>(q - 8);
}

__global__ void dequant_f16(const __half* __restrict__ x, float* __restrict__ y, int64_t n) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) y[i] = __half2float(x[i]);
}

}  // namespace

bool dequantize(DType type, const void* src, float* dst, int64_t n_blocks, void* stream) {
  const auto s = static_cast<cudaStream_t>(stream);
  constexpr int kThreads = 256;
  switch (type) {
    case DType::F16: {
      const int64_t n = n_blocks;
      dequant_f16<<<(n + kThreads - 1) / kThreads, kThreads, 0, s>>>(static_cast<const __half*>(src), dst, n);
      return true;
    }
    case DType::Q8_0: {
      const int64_t n = n_blocks * 32;
      dequant_q8_0<<<(n + kThreads - 1) / kThreads, kThreads, 0, s>>>(static_cast<const BlockQ8_0*>(src), dst, n);
      return true;
    }
    case DType::Q4_0: {
      const int64_t n = n_blocks * 32;
      dequant_q4_0<<<(n + kThreads - 1) / kThreads, kThreads, 0, s>>>(static_cast<const BlockQ4_0*>(src), dst, n);
      return true;
    }
    default:
      return false;
  }
}

}  // namespace helix::cuda
