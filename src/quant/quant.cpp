// Dispatch from DType to the typed reference (de)quantizers, and whole-tensor conversion.
#include "quant/quant.h"

#include <cstring>

#include "core/error.h"
#include "core/thread_pool.h"

namespace helix::quant {
namespace {

bool supported(DType t) {
  switch (t) {
    case DType::F32:
    case DType::F16:
    case DType::BF16:
    case DType::Q4_0:
    case DType::Q4_1:
    case DType::Q5_0:
    case DType::Q5_1:
    case DType::Q8_0:
    case DType::Q8_1:
    case DType::Q2_K:
    case DType::Q3_K:
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K:
    case DType::Q8_K:
      return true;
    default:
      return false;
  }
}

std::string type_name(DType t) {
  if (auto tr = dtype_traits_of(static_cast<uint32_t>(t))) return std::string(tr->name);
  return cat("type id ", static_cast<uint32_t>(t));
}

void check_row(DType t, int64_t n, const char* what) {
  HELIX_CHECK(supported(t), what, " of ", type_name(t), " is not supported (supported: F32, F16, BF16, ",
              "Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K)");
  const int64_t bs = dtype_block_size(t);
  HELIX_CHECK(n >= 0 && n % bs == 0, what, " of ", type_name(t), ": ", n,
              " elements is not a multiple of the block size ", bs);
}

}  // namespace

bool can_dequantize(DType t) { return supported(t); }
bool can_quantize(DType t) { return supported(t); }

void dequantize_row(DType t, const void* src, float* dst, int64_t n) {
  check_row(t, n, "dequantization");
  switch (t) {
    case DType::F32: std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float)); return;
    case DType::F16: dequantize_row_f16(static_cast<const uint16_t*>(src), dst, n); return;
    case DType::BF16: dequantize_row_bf16(static_cast<const uint16_t*>(src), dst, n); return;
    case DType::Q4_0: dequantize_row_q4_0(static_cast<const BlockQ4_0*>(src), dst, n); return;
    case DType::Q4_1: dequantize_row_q4_1(static_cast<const BlockQ4_1*>(src), dst, n); return;
    case DType::Q5_0: dequantize_row_q5_0(static_cast<const BlockQ5_0*>(src), dst, n); return;
    case DType::Q5_1: dequantize_row_q5_1(static_cast<const BlockQ5_1*>(src), dst, n); return;
    case DType::Q8_0: dequantize_row_q8_0(static_cast<const BlockQ8_0*>(src), dst, n); return;
    case DType::Q8_1: dequantize_row_q8_1(static_cast<const BlockQ8_1*>(src), dst, n); return;
    case DType::Q2_K: dequantize_row_q2_k(static_cast<const BlockQ2_K*>(src), dst, n); return;
    case DType::Q3_K: dequantize_row_q3_k(static_cast<const BlockQ3_K*>(src), dst, n); return;
    case DType::Q4_K: dequantize_row_q4_k(static_cast<const BlockQ4_K*>(src), dst, n); return;
    case DType::Q5_K: dequantize_row_q5_k(static_cast<const BlockQ5_K*>(src), dst, n); return;
    case DType::Q6_K: dequantize_row_q6_k(static_cast<const BlockQ6_K*>(src), dst, n); return;
    case DType::Q8_K: dequantize_row_q8_k(static_cast<const BlockQ8_K*>(src), dst, n); return;
    default: break;
  }
}

void quantize_row(DType t, const float* src, void* dst, int64_t n) {
  check_row(t, n, "quantization");
  switch (t) {
    case DType::F32: std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float)); return;
    case DType::F16: quantize_row_f16(src, static_cast<uint16_t*>(dst), n); return;
    case DType::BF16: quantize_row_bf16(src, static_cast<uint16_t*>(dst), n); return;
    case DType::Q4_0: quantize_row_q4_0(src, static_cast<BlockQ4_0*>(dst), n); return;
    case DType::Q4_1: quantize_row_q4_1(src, static_cast<BlockQ4_1*>(dst), n); return;
    case DType::Q5_0: quantize_row_q5_0(src, static_cast<BlockQ5_0*>(dst), n); return;
    case DType::Q5_1: quantize_row_q5_1(src, static_cast<BlockQ5_1*>(dst), n); return;
    case DType::Q8_0: quantize_row_q8_0(src, static_cast<BlockQ8_0*>(dst), n); return;
    case DType::Q8_1: quantize_row_q8_1(src, static_cast<BlockQ8_1*>(dst), n); return;
    case DType::Q2_K: quantize_row_q2_k(src, static_cast<BlockQ2_K*>(dst), n); return;
    case DType::Q3_K: quantize_row_q3_k(src, static_cast<BlockQ3_K*>(dst), n); return;
    case DType::Q4_K: quantize_row_q4_k(src, static_cast<BlockQ4_K*>(dst), n); return;
    case DType::Q5_K: quantize_row_q5_k(src, static_cast<BlockQ5_K*>(dst), n); return;
    case DType::Q6_K: quantize_row_q6_k(src, static_cast<BlockQ6_K*>(dst), n); return;
    case DType::Q8_K: quantize_row_q8_k(src, static_cast<BlockQ8_K*>(dst), n); return;
    default: break;
  }
}

Tensor dequantize(const Tensor& t) {
  HELIX_CHECK(t.device() == Device::CPU, "dequantize: tensor is on ", device_name(t.device()),
              ", expected the CPU");
  HELIX_CHECK(can_dequantize(t.dtype()), "dequantize: ", type_name(t.dtype()), " is not supported");
  HELIX_CHECK(t.numel() == 0 || t.nb(0) == dtype_type_size(t.dtype()),
              "dequantize: tensor rows must be contiguous (got a permuted view)");
  Tensor out = Tensor::empty(DType::F32, t.shape(), t.ndim());
  const int64_t ne0 = t.ne(0), ne1 = t.ne(1), ne2 = t.ne(2);
  const int64_t rows = t.nrows();
  if (rows == 0 || ne0 == 0) return out;
  float* dst = out.data_as<float>();
  ThreadPool::global().parallel_for(rows, 64, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t i1 = r % ne1, i2 = (r / ne1) % ne2, i3 = r / (ne1 * ne2);
      dequantize_row(t.dtype(), t.row(i1, i2, i3), dst + r * ne0, ne0);
    }
  });
  return out;
}

Tensor quantize(const Tensor& src, DType to) {
  HELIX_CHECK(src.device() == Device::CPU && src.dtype() == DType::F32 && src.is_contiguous(),
              "quantize: source must be a contiguous F32 tensor on the CPU");
  HELIX_CHECK(can_quantize(to), "quantize: ", type_name(to), " is not supported");
  const int64_t ne0 = src.ne(0);
  HELIX_CHECK(ne0 % dtype_block_size(to) == 0, "quantize: row length ", ne0,
              " is not a multiple of ", type_name(to), "'s block size ", dtype_block_size(to));
  Tensor out = Tensor::empty(to, src.shape(), src.ndim());
  const int64_t rows = src.nrows();
  if (rows == 0 || ne0 == 0) return out;
  const float* s = src.data_as<float>();
  auto* d = static_cast<uint8_t*>(out.data());
  const size_t row_bytes = out.row_bytes();
  // K-quant rows cost far more than legacy ones; small grains keep both cores busy on small tensors.
  ThreadPool::global().parallel_for(rows, 4, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) quantize_row(to, s + r * ne0, d + static_cast<size_t>(r) * row_bytes, ne0);
  });
  return out;
}

}  // namespace helix::quant
