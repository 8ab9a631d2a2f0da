#include "core/dtype.h"

#include <array>
#include <cctype>

#include "core/error.h"

namespace helix {
namespace {

struct Entry {
  DType type;
  DTypeTraits traits;
};

// Sizes follow ggml's block structs (ggml-common.h): QK_K = 256 super-blocks for the K types.
constexpr std::array kTable = {
    Entry{DType::F32, {"F32", 1, 4, false}},
    Entry{DType::F16, {"F16", 1, 2, false}},
    Entry{DType::Q4_0, {"Q4_0", 32, 2 + 16, true}},
    Entry{DType::Q4_1, {"Q4_1", 32, 2 + 2 + 16, true}},
    Entry{DType::Q5_0, {"Q5_0", 32, 2 + 4 + 16, true}},
    Entry{DType::Q5_1, {"Q5_1", 32, 2 + 2 + 4 + 16, true}},
    Entry{DType::Q8_0, {"Q8_0", 32, 2 + 32, true}},
    Entry{DType::Q8_1, {"Q8_1", 32, 4 + 32, true}},
    Entry{DType::Q2_K, {"Q2_K", 256, 2 + 2 + 16 + 64, true}},
    Entry{DType::Q3_K, {"Q3_K", 256, 2 + 12 + 32 + 64, true}},
    Entry{DType::Q4_K, {"Q4_K", 256, 2 + 2 + 12 + 128, true}},
    Entry{DType::Q5_K, {"Q5_K", 256, 2 + 2 + 12 + 32 + 128, true}},
    Entry{DType::Q6_K, {"Q6_K", 256, 2 + 16 + 64 + 128, true}},
    Entry{DType::Q8_K, {"Q8_K", 256, 4 + 256 + 32, true}},
    Entry{DType::IQ2_XXS, {"IQ2_XXS", 256, 2 + 64, true}},
    Entry{DType::IQ2_XS, {"IQ2_XS", 256, 2 + 64 + 8, true}},
    Entry{DType::IQ3_XXS, {"IQ3_XXS", 256, 2 + 96, true}},
    Entry{DType::IQ1_S, {"IQ1_S", 256, 2 + 32 + 16, true}},
    Entry{DType::IQ4_NL, {"IQ4_NL", 32, 2 + 16, true}},
    Entry{DType::IQ3_S, {"IQ3_S", 256, 2 + 64 + 32 + 8 + 4, true}},
    Entry{DType::IQ2_S, {"IQ2_S", 256, 2 + 64 + 8, true}},
    Entry{DType::IQ4_XS, {"IQ4_XS", 256, 2 + 2 + 4 + 128, true}},
    Entry{DType::I8, {"I8", 1, 1, false}},
    Entry{DType::I16, {"I16", 1, 2, false}},
    Entry{DType::I32, {"I32", 1, 4, false}},
    Entry{DType::I64, {"I64", 1, 8, false}},
    Entry{DType::F64, {"F64", 1, 8, false}},
    Entry{DType::IQ1_M, {"IQ1_M", 256, 32 + 16 + 8, true}},
    Entry{DType::BF16, {"BF16", 1, 2, false}},
    Entry{DType::TQ1_0, {"TQ1_0", 256, 2 + 4 * 13, true}},
    Entry{DType::TQ2_0, {"TQ2_0", 256, 2 + 64, true}},
    Entry{DType::MXFP4, {"MXFP4", 32, 1 + 16, true}},
};

}  // namespace

std::optional<DTypeTraits> dtype_traits_of(uint32_t id) {
  for (const auto& e : kTable)
    if (static_cast<uint32_t>(e.type) == id) return e.traits;
  return std::nullopt;
}

const DTypeTraits& dtype_traits(DType t) {
  for (const auto& e : kTable)
    if (e.type == t) return e.traits;
  throw Error(cat("unknown tensor type id ", static_cast<uint32_t>(t)));
}

std::string_view dtype_name(DType t) { return dtype_traits(t).name; }

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& e : kTable) {
    if (e.traits.name.size() != name.size()) continue;
    bool eq = true;
    for (size_t i = 0; i < name.size() && eq; ++i)
      eq = std::toupper(static_cast<unsigned char>(name[i])) == e.traits.name[i];
    if (eq) return e.type;
  }
  return std::nullopt;
}

}  // namespace helix
