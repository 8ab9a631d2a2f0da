// CUDA dequantization kernels (the CUDA backend's first ops). Compiled in CI wherever the
// toolkit is present; executed only on machines with a GPU.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace helix::cuda {

// Dequantizes n_blocks blocks of `type` from device memory `src` into f32 device memory `dst`.
// Supported: F16, Q8_0, Q4_0. Returns false for other types. Asynchronous on `stream`.
bool dequantize(DType type, const void* src, float* dst, int64_t n_blocks, void* stream);

}  // namespace helix::cuda
