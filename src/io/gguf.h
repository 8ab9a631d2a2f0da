// GGUF model files (v2 and v3): reading, validated against truncated, corrupt and hostile input,
// and writing. A GGUFFile maps the file and hands out tensors that point into the mapping, so
// weights are never copied. Format: github.com/ggml-org/ggml docs/gguf.md.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"

namespace helix::gguf {

enum class ValueType : uint32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
};
const char* value_type_name(ValueType t);
// A string in double quotes with quotes, backslashes and control bytes escaped (for printing).
std::string quote_string(const std::string& s);

// Limits that keep hostile files from costing unbounded memory or stack.
inline constexpr int kMaxArrayDepth = 8;                     // arrays nested inside arrays
inline constexpr uint64_t kMaxMetadataElements = 1ull << 23;  // array elements in all metadata

// A metadata value: a scalar, a string, or an array of one element type (arrays of arrays are
// allowed by the format). Integers keep their declared width in `type` so that a file written
// back has the same types; numeric accessors convert and throw on a type mismatch.
class Value {
 public:
  Value() = default;
  static Value u8(uint8_t v) { return scalar(ValueType::UINT8, static_cast<uint64_t>(v)); }
  static Value i8(int8_t v) { return signed_scalar(ValueType::INT8, v); }
  static Value u16(uint16_t v) { return scalar(ValueType::UINT16, static_cast<uint64_t>(v)); }
  static Value i16(int16_t v) { return signed_scalar(ValueType::INT16, v); }
  static Value u32(uint32_t v) { return scalar(ValueType::UINT32, static_cast<uint64_t>(v)); }
  static Value i32(int32_t v) { return signed_scalar(ValueType::INT32, v); }
  static Value u64(uint64_t v) { return scalar(ValueType::UINT64, v); }
  static Value i64(int64_t v) { return signed_scalar(ValueType::INT64, v); }
  static Value f32(float v);
  static Value f64(double v);
  static Value boolean(bool v);
  static Value string(std::string v);
  static Value array(ValueType elem_type, std::vector<Value> elems);
  static Value string_array(std::vector<std::string> v);
  static Value f32_array(const std::vector<float>& v);
  static Value i32_array(const std::vector<int32_t>& v);

  ValueType type() const { return type_; }
  bool is_array() const { return type_ == ValueType::ARRAY; }
  bool is_integer() const;
  bool is_float() const { return type_ == ValueType::FLOAT32 || type_ == ValueType::FLOAT64; }

  uint64_t as_uint() const;  // any non-negative integer (or bool)
  int64_t as_int() const;    // any integer in range of int64
  double as_float() const;   // floats and integers
  bool as_bool() const;
  const std::string& as_string() const;

  // Arrays.
  ValueType elem_type() const { return elem_type_; }
  size_t size() const { return elems_.size(); }
  const std::vector<Value>& elems() const { return elems_; }
  std::vector<std::string> as_string_array() const;
  std::vector<float> as_f32_array() const;
  std::vector<int64_t> as_int_array() const;

  std::string to_string(size_t max_elems = 8) const;  // for `helix inspect`

 private:
  static Value scalar(ValueType t, uint64_t bits);
  static Value signed_scalar(ValueType t, int64_t v);
  ValueType type_ = ValueType::UINT8;
  ValueType elem_type_ = ValueType::UINT8;
  uint64_t u_ = 0;  // unsigned ints and bool
  int64_t i_ = 0;   // signed ints
  double f_ = 0;    // floats
  std::string s_;
  std::vector<Value> elems_;
};

struct TensorInfo {
  std::string name;
  int n_dims = 0;
  Shape ne{1, 1, 1, 1};  // innermost first, as in the file
  DType type = DType::F32;
  uint64_t offset = 0;   // relative to the start of the data section
  uint64_t nbytes = 0;
};

class GGUFFile {
 public:
  // Maps and validates the file. Throws helix::Error naming the file and the problem.
  static GGUFFile open(const std::string& path);
  // Parses an in-memory image (used by tests and the fuzzer). `storage` must outlive nothing:
  // the returned object keeps it alive.
  static GGUFFile parse(std::shared_ptr<Storage> storage, std::string name = "<memory>");

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  uint64_t file_size() const { return storage_ ? storage_->size() : 0; }
  const std::string& path() const { return path_; }

  // Metadata in file order.
  const std::vector<std::pair<std::string, Value>>& metadata() const { return kv_; }
  const Value* find(std::string_view key) const;  // nullptr if absent
  const Value& get(std::string_view key) const;   // throws "missing metadata key ..."
  std::string get_string(std::string_view key, const std::string& fallback) const;
  uint64_t get_uint(std::string_view key, uint64_t fallback) const;
  double get_float(std::string_view key, double fallback) const;
  bool get_bool(std::string_view key, bool fallback) const;
  std::string architecture() const { return get_string("general.architecture", ""); }

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;
  // A tensor viewing the mapped data (no copy). Throws if the name is absent.
  Tensor tensor(std::string_view name) const;
  Tensor tensor(const TensorInfo& info) const;
  const uint8_t* tensor_data(const TensorInfo& info) const;

 private:
  std::shared_ptr<Storage> storage_;
  std::string path_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, Value>> kv_;
  std::map<std::string, size_t, std::less<>> kv_index_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

// Writes GGUF v3 files: metadata in insertion order, then tensor infos, then aligned data.
class GGUFWriter {
 public:
  void set(const std::string& key, Value v);  // replaces an existing key in place
  void set_alignment(uint64_t a);             // general.alignment, default 32
  // Adds a tensor; `data` must hold dtype_row_bytes(type, ne[0]) * rows bytes and stay valid
  // until write() returns.
  void add_tensor(const std::string& name, DType type, const Shape& ne, int n_dims, const void* data);
  // Writes atomically: to PATH.tmp, fsync, then rename, so a killed write never leaves a
  // half-written file under the final name.
  void write(const std::string& path) const;

 private:
  struct Pending {
    TensorInfo info;
    const void* data;
  };
  std::vector<std::pair<std::string, Value>> kv_;
  std::vector<Pending> tensors_;
  uint64_t alignment_ = 32;
};

}  // namespace helix::gguf
