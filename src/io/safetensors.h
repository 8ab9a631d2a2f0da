// safetensors files and Hugging Face model directories. A SafetensorsFile maps the file and
// validates its JSON header (dtypes, shapes, data offsets, no overlaps) against hostile input;
// tensors are views into the mapping, never copies. HFModelDir opens a directory holding
// config.json and model.safetensors or a sharded set listed in model.safetensors.index.json.
// Format: github.com/huggingface/safetensors (README, "Format").
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"

namespace helix::io {

// Largest JSON header accepted (the safetensors library's own limit is 100 MB).
inline constexpr uint64_t kMaxSafetensorsHeader = 100ull << 20;

// Bytes per element of a safetensors dtype name ("F32", "BF16", "I64", "BOOL", "F8_E4M3", ...);
// 0 for a name that is not a safetensors dtype.
size_t safetensors_dtype_size(std::string_view dtype);
// The Helix tensor type for a safetensors dtype, if Helix has one (F64, F32, F16, BF16, I8..I64).
std::optional<DType> safetensors_to_dtype(std::string_view dtype);

struct SafetensorsTensor {
  std::string name;
  std::string dtype;            // as in the file: "F32", "BF16", ...
  std::vector<int64_t> shape;   // as in the file: outermost first (row-major)
  uint64_t begin = 0, end = 0;  // byte range relative to the start of the data section
  uint64_t nbytes() const { return end - begin; }
  // Helix order (innermost first), as Tensor and GGUF use; requires shape.size() <= 4.
  Shape ne() const;
};

class SafetensorsFile {
 public:
  // Maps and validates the file; throws helix::Error naming the file and the problem.
  static SafetensorsFile open(const std::string& path);
  // Parses an in-memory image (tests, fuzzer); the returned object keeps `storage` alive.
  static SafetensorsFile parse(std::shared_ptr<Storage> storage, std::string name = "<memory>");

  const std::string& path() const { return path_; }
  uint64_t file_size() const { return storage_ ? storage_->size() : 0; }
  uint64_t header_size() const { return header_size_; }
  uint64_t data_offset() const { return 8 + header_size_; }

  // __metadata__ entries (string to string), in file order.
  const std::vector<std::pair<std::string, std::string>>& metadata() const { return metadata_; }
  // Tensors in the order of their data in the file.
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
  const SafetensorsTensor* find_tensor(std::string_view name) const;
  // A tensor viewing the mapped data; throws if the name is absent, the dtype has no Helix type
  // or the rank is above 4.
  Tensor tensor(std::string_view name) const;
  Tensor tensor(const SafetensorsTensor& t) const;
  const uint8_t* tensor_data(const SafetensorsTensor& t) const;

 private:
  std::shared_ptr<Storage> storage_;
  std::string path_;
  uint64_t header_size_ = 0;
  std::vector<std::pair<std::string, std::string>> metadata_;
  std::vector<SafetensorsTensor> tensors_;
  std::map<std::string, size_t, std::less<>> index_;
};

// A Hugging Face model directory: config.json plus model.safetensors, or the shards named by
// model.safetensors.index.json.
class HFModelDir {
 public:
  static HFModelDir open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  const nlohmann::ordered_json& config() const { return config_; }
  bool has(std::string_view key) const;
  // Typed config.json lookups: the fallback when the key is absent or null; throws when the key
  // holds another type.
  int64_t get_int(std::string_view key, int64_t fallback) const;
  double get_float(std::string_view key, double fallback) const;
  bool get_bool(std::string_view key, bool fallback) const;
  std::string get_string(std::string_view key, const std::string& fallback) const;
  std::string model_type() const { return get_string("model_type", ""); }
  // config.json "architectures"[0] ("LlamaForCausalLM"), or "" when absent.
  std::string architecture() const;

  const std::vector<SafetensorsFile>& shards() const { return shards_; }
  size_t tensor_count() const { return where_.size(); }
  std::vector<std::string> tensor_names() const;  // in shard, then file order
  // The tensor and the shard holding it, or {nullptr, nullptr}.
  std::pair<const SafetensorsTensor*, const SafetensorsFile*> find_tensor(std::string_view name) const;
  Tensor tensor(std::string_view name) const;  // throws naming the directory when absent

 private:
  std::string dir_;
  nlohmann::ordered_json config_;
  std::vector<SafetensorsFile> shards_;
  std::map<std::string, size_t, std::less<>> where_;  // tensor name -> shard index
};

}  // namespace helix::io
