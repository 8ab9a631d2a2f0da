// Element types of tensors: floats and ggml's quantized block formats. The numeric values are
// ggml's type ids, so a GGUF tensor's type field maps straight onto DType.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace helix {

enum class DType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
};

struct DTypeTraits {
  std::string_view name;   // as gguf-py spells it: "F32", "Q4_K", ...
  int64_t block_size = 0;  // elements per block (1 for plain types)
  size_t type_size = 0;    // bytes per block
  bool quantized = false;
};

// Traits of a type; std::nullopt for an id that is not a known ggml type.
std::optional<DTypeTraits> dtype_traits_of(uint32_t id);
const DTypeTraits& dtype_traits(DType t);  // t must be known
std::string_view dtype_name(DType t);
std::optional<DType> dtype_from_name(std::string_view name);  // case-insensitive
inline int64_t dtype_block_size(DType t) { return dtype_traits(t).block_size; }
inline size_t dtype_type_size(DType t) { return dtype_traits(t).type_size; }
inline bool dtype_is_quantized(DType t) { return dtype_traits(t).quantized; }

// Bytes of a row of n elements. n must be a multiple of the block size (checked by the caller
// with row_size_checked where n comes from untrusted input).
inline size_t dtype_row_bytes(DType t, int64_t n) {
  const auto& tr = dtype_traits(t);
  return static_cast<size_t>(n / tr.block_size) * tr.type_size;
}

}  // namespace helix
