// CUDA dequantization kernels (the CUDA backend's first ops). Not called or tested yet: compiled
// only with -DHELIX_CUDA=ON (or AUTO with nvcc present), into a library nothing links.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace helix::cuda {

// Dequantizes n_blocks blocks of `type` from device memory `src` into f32 device memory `dst`.
// n_blocks counts elements for F16/BF16. Supported: F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
// Q2_K, Q3_K, Q4_K, Q5_K, Q6_K (bit-identical to quant::dequantize_row). Returns false for other
// types. Asynchronous on `stream`.
bool dequantize(DType type, const void* src, float* dst, int64_t n_blocks, void* stream);

}  // namespace helix::cuda
