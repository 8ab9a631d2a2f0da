// Scalar reference quantization: conversion between f32 and every weight format Helix reads
// (F16, BF16, ggml's legacy 32-element blocks and the 256-element K-quants). This is the ground
// truth the SIMD and CUDA kernels are tested against.
//
// Dequantization is bit-exact with gguf-py's numpy dequantizer (gguf.quants.dequantize): every
// element is computed in f32 with the same operations in the same order, e.g. Q4_K's
// y = (d * sc) * q - (dmin * m). Quantization follows ggml's reference quantizers
// (quantize_row_*_ref): the legacy types and F16/BF16 give the same bytes as gguf-py's quantizers,
// and every block type gives the same bytes as ggml's own reference (tests/quant/
// test_ggml_reference.cpp), including the K-quants' scale searches (make_qx_quants /
// make_q3_quants / make_qkx2_quants), so their error is what each format is known to give. One
// deliberate difference from ggml: a Q4_0/Q5_0 block of only -0.0 stores d = +0 as gguf-py does
// (ggml stores -0); both decode to zeros.
//
// Non-finite input: F32, F16 and BF16 keep NaN as NaN and infinities as infinities (F16 also
// turns values beyond its range into infinities). The block formats store f16 scales and cannot
// represent NaN, infinities, or blocks whose scale overflows f16; such input produces defined but
// meaningless bytes (no crash, no undefined behaviour). `helix quantize` rejects non-finite
// weights before they get this far.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "core/tensor.h"
#include "quant/blocks.h"

namespace helix::quant {

// Whether dequantize_row / quantize_row support the type: F32, F16, BF16, Q4_0, Q4_1, Q5_0,
// Q5_1, Q8_0, Q8_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K.
bool can_dequantize(DType t);
bool can_quantize(DType t);

// n elements (a multiple of the type's block size) from `src` in type t into f32 `dst`.
// Block pointers must be aligned to 2 bytes (4 for Q8_K), as they are in GGUF data.
// Throws helix::Error for an unsupported type or a bad n.
void dequantize_row(DType t, const void* src, float* dst, int64_t n);
// n f32 elements (a multiple of the block size) into dtype_row_bytes(t, n) bytes at `dst`.
void quantize_row(DType t, const float* src, void* dst, int64_t n);

// A new contiguous F32 tensor with the values of `t` (any supported type, CPU, rows contiguous
// within themselves; strides between rows may be arbitrary).
Tensor dequantize(const Tensor& t);
// A new contiguous tensor of type `to` holding `src` (which must be F32 and contiguous), quantized
// row by row on the global thread pool.
Tensor quantize(const Tensor& src, DType to);

// Typed entry points (n elements; n a multiple of the block size).
void dequantize_row_f16(const uint16_t* x, float* y, int64_t n);
void dequantize_row_bf16(const uint16_t* x, float* y, int64_t n);
void dequantize_row_q4_0(const BlockQ4_0* x, float* y, int64_t n);
void dequantize_row_q4_1(const BlockQ4_1* x, float* y, int64_t n);
void dequantize_row_q5_0(const BlockQ5_0* x, float* y, int64_t n);
void dequantize_row_q5_1(const BlockQ5_1* x, float* y, int64_t n);
void dequantize_row_q8_0(const BlockQ8_0* x, float* y, int64_t n);
void dequantize_row_q8_1(const BlockQ8_1* x, float* y, int64_t n);
void dequantize_row_q2_k(const BlockQ2_K* x, float* y, int64_t n);
void dequantize_row_q3_k(const BlockQ3_K* x, float* y, int64_t n);
void dequantize_row_q4_k(const BlockQ4_K* x, float* y, int64_t n);
void dequantize_row_q5_k(const BlockQ5_K* x, float* y, int64_t n);
void dequantize_row_q6_k(const BlockQ6_K* x, float* y, int64_t n);
void dequantize_row_q8_k(const BlockQ8_K* x, float* y, int64_t n);

void quantize_row_f16(const float* x, uint16_t* y, int64_t n);
void quantize_row_bf16(const float* x, uint16_t* y, int64_t n);
void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t n);
void quantize_row_q4_1(const float* x, BlockQ4_1* y, int64_t n);
void quantize_row_q5_0(const float* x, BlockQ5_0* y, int64_t n);
void quantize_row_q5_1(const float* x, BlockQ5_1* y, int64_t n);
void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t n);
void quantize_row_q8_1(const float* x, BlockQ8_1* y, int64_t n);
void quantize_row_q2_k(const float* x, BlockQ2_K* y, int64_t n);
void quantize_row_q3_k(const float* x, BlockQ3_K* y, int64_t n);
void quantize_row_q4_k(const float* x, BlockQ4_K* y, int64_t n);
void quantize_row_q5_k(const float* x, BlockQ5_K* y, int64_t n);
void quantize_row_q6_k(const float* x, BlockQ6_K* y, int64_t n);
void quantize_row_q8_k(const float* x, BlockQ8_K* y, int64_t n);

// The 6-bit scale and min of sub-block j (0..7) of a Q4_K / Q5_K block's packed scales.
inline void unpack_scale_min_k4(const uint8_t* packed, int j, uint8_t& scale, uint8_t& min) {
  if (j < 4) {
    scale = packed[j] & 63;
    min = packed[j + 4] & 63;
  } else {
    scale = static_cast<uint8_t>((packed[j + 4] & 0xF) | ((packed[j - 4] >> 6) << 4));
    min = static_cast<uint8_t>((packed[j + 4] >> 4) | ((packed[j] >> 6) << 4));
  }
}

// The signed 6-bit scale (-32..31) of sub-block j (0..15) of a Q3_K block's packed scales.
inline int unpack_scale_q3_k(const uint8_t* packed, int j) {
  const int low = j < 8 ? (packed[j] & 0xF) : (packed[j - 8] >> 4);
  const int high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
  return (low | (high << 4)) - 32;
}

}  // namespace helix::quant
