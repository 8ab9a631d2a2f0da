// Weights repacked at load time for the AVX2 kernels: eight rows interleaved per block so that
// one instruction works on eight rows (see kernels/gemm.h for the idea). The packed copy holds
// exactly the original's information in the same number of bytes (Q5_0: nibbles and the fifth
// bits regrouped; Q8_0: codes regrouped, f16 scales kept), so results equal the unpacked path's
// up to float summation order.
//
// A model packs a weight once (pack_weight) and keeps the returned handle; while the handle lives,
// matmul_cpu on the AVX2 path finds the packed copy by the weight's data pointer and reads it
// instead of the original, so the original's (memory-mapped) pages are not touched again and can
// be dropped from memory. The scalar path always reads the original.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "core/tensor.h"
#include "kernels/vec_dot.h"

namespace helix::kernels {

inline constexpr int kPackRows = 8;
// Activation rows one pass over a packed group serves: eight, so that a decode step of eight
// streams reads a weight (above all the output head) once, not twice.
inline constexpr int kPackMaxCols = 8;

struct PackedKernels {
  // Bytes of one 8-row group of rows of n elements.
  size_t (*group_bytes)(int64_t n);
  // Packs rows [0, 8) (row r at w + r * w_stride) into out.
  void (*pack)(const uint8_t* w, size_t w_stride, int64_t n, uint8_t* out);
  // y[c * y_stride + r] = dot(row r of the group, activation row c) for r < 8, c < nc <= kPackMaxCols;
  // column c's result does not depend on nc (a token gives the same result in any batch).
  void (*dot)(const uint8_t* group, int64_t n, const uint8_t* act, size_t a_stride, int nc,
              float* y, size_t y_stride);
  // Expands a group into a GEMM panel (kernels/gemm.h) of the same type; null if the type has no
  // GEMM (prefill then runs `dot` over tiles of tokens).
  void (*to_panel)(const uint8_t* group, int64_t n, uint8_t* panel);
  // Dequantizes row r (< 8) of a group into out[n] (as quant::dequantize_row on the original).
  void (*get_row)(const uint8_t* group, int64_t n, int r, float* out);
};

// The AVX2 kernels for packed weights of type t (Q5_0, Q8_0); nullptr if t is not packed. Q8_0
// uses AVX-VNNI where the CPU has it (bit-identical results; allow_vnni = false or the
// environment variable HELIX_NO_VNNI picks the plain AVX2 dots).
const PackedKernels* packed_kernels_avx2(DType t, bool allow_vnni = true);

struct PackedWeight {
  DType type;
  int64_t n_in = 0, n_out = 0;
  const void* original = nullptr;
  size_t group_bytes = 0;
  const PackedKernels* kernels = nullptr;
  uint8_t* ptr = nullptr;       // the packed groups
  std::shared_ptr<void> owner;  // keeps ptr's memory alive
  const uint8_t* data() const { return ptr; }
};

// Packs a 2-D weight when the CPU runs AVX2 and the type and shape have a packed form (rows a
// multiple of 8); returns null otherwise. The handle unregisters the copy when destroyed.
// release(p, bytes), if given, is called for consecutive spans of the original once they are
// packed (the caller may drop their pages).
// dest, if given, is where the copy goes (64-byte aligned, packed_bytes(w) long, kept alive by
// owner): a model packs all its weights into one region (in huge pages); otherwise the copy
// gets its own allocation.
using ReleaseFn = std::function<void(const void*, size_t)>;
std::shared_ptr<const PackedWeight> pack_weight(const Tensor& w, const ReleaseFn& release = {},
                                                uint8_t* dest = nullptr,
                                                std::shared_ptr<void> owner = nullptr);

// Bytes of w's packed copy; 0 if pack_weight would not pack w.
size_t packed_bytes(const Tensor& w);

// Memory for packed copies: 2 MiB aligned and advised into transparent huge pages (decode
// streams the weights; 4 KiB pages would cost a TLB miss every 4 KiB). Null on failure.
std::shared_ptr<uint8_t> alloc_packed_memory(size_t bytes);

// The registered packed copy of w (same data pointer and shape), or null.
const PackedWeight* find_packed(const Tensor& w);

// Row `row` of a packed weight, dequantized into out[n_in] (embedding lookups of a tied output
// head read the copy rather than faulting the original's pages back in).
void packed_get_row(const PackedWeight& p, int64_t row, float* out);

}  // namespace helix::kernels
