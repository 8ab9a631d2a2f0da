// convert_model: the body of `helix quantize`, shared with `helix lora merge` (one converter).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "io/gguf.h"

namespace helix::cli {

// A tensor's f32 values to write instead of the file's (ne[1] rows of ne[0]), or an empty vector
// to keep the file's.
using ReplaceFn = std::function<std::vector<float>(const gguf::TensorInfo&)>;

// Writes a copy of `in` to out_path with its weight matrices converted to `type` (F32, F16, BF16,
// Q8_0, ..., or a mix such as Q4_K_M; empty: every tensor keeps its type), all metadata copied.
// `replace` (optional) supplies new values for some tensors, which are then (re)quantized.
void convert_model(const gguf::GGUFFile& in, const std::string& out_path, const std::string& type,
                   const ReplaceFn& replace = {});

}  // namespace helix::cli
