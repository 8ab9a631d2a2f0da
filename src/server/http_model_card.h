// What /v1/models says about the served model: context length, quantization (llama.cpp's file
// type name, as `general.file_type` records it), parameter count, file size and the file's
// modification time as `created`.
#pragma once

#include <cstdint>
#include <string>

#include "model/model.h"

namespace helix::server::http {

struct ModelFacts {
  int64_t created = 0;       // file mtime, seconds since the epoch
  uint64_t file_size = 0;    // bytes
  uint64_t n_params = 0;     // elements of every tensor
  std::string quantization;  // "Q4_K_M", "F16", ...
  int64_t n_ctx_train = 0, n_vocab = 0, n_embd = 0;
};

ModelFacts model_facts(const model::Model& m);

// llama.cpp's name for a llama_ftype value (general.file_type): 15 -> "Q4_K_M"; "" if unknown.
std::string file_type_name(uint64_t file_type);

}  // namespace helix::server::http
