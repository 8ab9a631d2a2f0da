// GGUF reader: parses the header, metadata and tensor infos of a mapped (or in-memory) GGUF v2/v3
// image and validates everything against the file's size before trusting it, so that truncated,
// corrupt or hostile files give a helix::Error naming the problem, never a crash, a hang or a huge
// allocation. Tensors are views into the mapping.
#include <cstring>
#include <limits>

#include "core/error.h"
#include "core/mapped_file.h"
#include "io/gguf.h"

namespace helix::gguf {
namespace {

constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;  // name length, n_dims, type, offset
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;               // key length, type, smallest value

// Bounds-checked little-endian reads over the file image. Every failure names the file, what was
// being read and where.
class Reader {
 public:
  Reader(const uint8_t* data, uint64_t size, const std::string& name) : p_(data), size_(size), name_(name) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }
  void set_context(std::string ctx) { ctx_ = std::move(ctx); }

  [[noreturn]] void fail(const std::string& msg) const {
    throw Error(cat("GGUF file '", name_, "': ", ctx_.empty() ? "" : ctx_ + ": ", msg));
  }

  void need(uint64_t n, const char* what) const {
    if (n > remaining())
      fail(cat("truncated: ", what, " needs ", n, " bytes at offset ", pos_, " but the file is only ", size_,
               " bytes long (was the download or copy cut short?)"));
  }

  template <typename T>
  T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));  // GGUF is little-endian, as are the hosts Helix runs on
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string(const char* what) {
    const uint64_t len = read<uint64_t>(what);
    if (len > remaining())
      fail(cat("truncated or corrupt: ", what, " claims a length of ", len, " bytes at offset ", pos_ - 8,
               " but only ", remaining(), " bytes remain in the file"));
    std::string s(reinterpret_cast<const char*>(p_ + pos_), static_cast<size_t>(len));
    pos_ += len;
    return s;
  }

  // Checks that `count` items of at least `min_bytes` each can fit in what remains, before anything
  // is reserved for them.
  void check_count(uint64_t count, uint64_t min_bytes, const char* what) const {
    if (count > remaining() / min_bytes)
      fail(cat(what, " count ", count, " is larger than the rest of the file could hold (", remaining(),
               " bytes remain, each needs at least ", min_bytes, "); the file is truncated or corrupt"));
  }

 private:
  const uint8_t* p_;
  uint64_t size_;
  uint64_t pos_ = 0;
  const std::string& name_;
  std::string ctx_;
};

bool valid_value_type(uint32_t t) { return t <= static_cast<uint32_t>(ValueType::FLOAT64); }

// Smallest encoding of one value of type t, used to bound array counts.
uint64_t min_value_bytes(ValueType t) {
  switch (t) {
    case ValueType::UINT8:
    case ValueType::INT8:
    case ValueType::BOOL: return 1;
    case ValueType::UINT16:
    case ValueType::INT16: return 2;
    case ValueType::UINT32:
    case ValueType::INT32:
    case ValueType::FLOAT32: return 4;
    case ValueType::UINT64:
    case ValueType::INT64:
    case ValueType::FLOAT64:
    case ValueType::STRING: return 8;
    case ValueType::ARRAY: return 4 + 8;
  }
  return 1;
}

class ValueParser {
 public:
  explicit ValueParser(Reader& r) : r_(r) {}

  Value parse(ValueType t, int depth) {
    switch (t) {
      case ValueType::UINT8: return Value::u8(r_.read<uint8_t>("UINT8 value"));
      case ValueType::INT8: return Value::i8(r_.read<int8_t>("INT8 value"));
      case ValueType::UINT16: return Value::u16(r_.read<uint16_t>("UINT16 value"));
      case ValueType::INT16: return Value::i16(r_.read<int16_t>("INT16 value"));
      case ValueType::UINT32: return Value::u32(r_.read<uint32_t>("UINT32 value"));
      case ValueType::INT32: return Value::i32(r_.read<int32_t>("INT32 value"));
      case ValueType::UINT64: return Value::u64(r_.read<uint64_t>("UINT64 value"));
      case ValueType::INT64: return Value::i64(r_.read<int64_t>("INT64 value"));
      case ValueType::FLOAT32: return Value::f32(r_.read<float>("FLOAT32 value"));
      case ValueType::FLOAT64: return Value::f64(r_.read<double>("FLOAT64 value"));
      case ValueType::BOOL: {
        const uint8_t b = r_.read<uint8_t>("BOOL value");
        if (b > 1) r_.fail(cat("BOOL value at offset ", r_.pos() - 1, " is ", int(b), ", not 0 or 1"));
        return Value::boolean(b != 0);
      }
      case ValueType::STRING: return Value::string(r_.read_string("STRING value"));
      case ValueType::ARRAY: return parse_array(depth);
    }
    r_.fail("internal: unhandled value type");
  }

 private:
  Value parse_array(int depth) {
    if (depth >= kMaxArrayDepth)
      r_.fail(cat("arrays are nested more than ", kMaxArrayDepth, " deep at offset ", r_.pos(),
                  "; no real model needs that, so the file is likely corrupt"));
    const uint32_t et = r_.read<uint32_t>("array element type");
    if (!valid_value_type(et))
      r_.fail(cat("array element type ", et, " at offset ", r_.pos() - 4, " is not a GGUF value type (0..12)"));
    const auto elem_type = static_cast<ValueType>(et);
    const uint64_t n = r_.read<uint64_t>("array length");
    r_.check_count(n, min_value_bytes(elem_type), "array element");
    total_ += n;
    if (total_ > kMaxMetadataElements)
      r_.fail(cat("metadata arrays hold more than ", kMaxMetadataElements,
                  " elements in all; the file is corrupt or not a model"));
    std::vector<Value> elems;
    elems.reserve(static_cast<size_t>(n));
    for (uint64_t i = 0; i < n; ++i) elems.push_back(parse(elem_type, depth + 1));
    return Value::array(elem_type, std::move(elems));
  }

  Reader& r_;
  uint64_t total_ = 0;
};

bool is_pow2(uint64_t a) { return a != 0 && (a & (a - 1)) == 0; }

}  // namespace

GGUFFile GGUFFile::open(const std::string& path) {
  auto mf = std::make_shared<MappedFile>(path);
  return parse(std::move(mf), path);
}

GGUFFile GGUFFile::parse(std::shared_ptr<Storage> storage, std::string name) {
  HELIX_CHECK(storage != nullptr, "GGUF parse of '", name, "': no data");
  GGUFFile f;
  f.storage_ = std::move(storage);
  f.path_ = std::move(name);
  const uint64_t size = f.storage_->size();
  const auto* data = static_cast<const uint8_t*>(f.storage_->data());
  Reader r(data, size, f.path_);

  // Header.
  if (size < 4 || std::memcmp(data, "GGUF", 4) != 0) {
    std::string got;
    for (uint64_t i = 0; i < size && i < 4; ++i) {
      const auto c = static_cast<unsigned char>(data[i]);
      got += (c >= 0x20 && c < 0x7f) ? std::string(1, static_cast<char>(c)) : cat("\\x", std::hex, int(c));
    }
    const bool looks_safetensors = size > 8 && data[8] == '{';
    r.fail(cat("not a GGUF file: it starts with \"", got, "\" instead of the magic \"GGUF\"",
               looks_safetensors ? " (it looks like safetensors; name it *.safetensors)" : ""));
  }
  r.read<uint32_t>("magic");
  const uint32_t version = r.read<uint32_t>("version");
  if (version == 1)
    r.fail("GGUF version 1 is not supported (it predates 64-bit counts); re-convert the model with a "
           "current llama.cpp or gguf-py to get version 3");
  if (version == 0x02000000u || version == 0x03000000u)
    r.fail("the file is big-endian GGUF; Helix reads little-endian GGUF only: re-convert without --bigendian");
  if (version < 2 || version > 3)
    r.fail(cat("GGUF version ", version, " is not supported (Helix reads versions 2 and 3)"));
  f.version_ = version;
  const uint64_t n_tensors = r.read<uint64_t>("tensor count");
  const uint64_t n_kv = r.read<uint64_t>("metadata count");
  r.check_count(n_tensors, kMinTensorInfoBytes, "tensor");
  r.check_count(n_kv, kMinKvBytes, "metadata key/value");

  // Metadata.
  ValueParser vp(r);
  f.kv_.reserve(static_cast<size_t>(n_kv));
  for (uint64_t i = 0; i < n_kv; ++i) {
    r.set_context(cat("metadata entry ", i));
    std::string key = r.read_string("key");
    r.set_context(cat("metadata key '", key, "'"));
    const uint32_t t = r.read<uint32_t>("value type");
    if (!valid_value_type(t))
      r.fail(cat("value type ", t, " at offset ", r.pos() - 4, " is not a GGUF value type (0..12)"));
    Value v = vp.parse(static_cast<ValueType>(t), 0);
    if (f.kv_index_.count(key)) r.fail("the key appears twice; the file is corrupt");
    f.kv_index_.emplace(key, f.kv_.size());
    f.kv_.emplace_back(std::move(key), std::move(v));
  }

  // general.alignment.
  r.set_context("general.alignment");
  if (const Value* a = f.find("general.alignment")) {
    if (!a->is_integer()) r.fail(cat("is a ", value_type_name(a->type()), ", not an integer"));
    const int64_t av = a->as_int();
    if (av <= 0 || !is_pow2(static_cast<uint64_t>(av)) || av > (int64_t{1} << 30))
      r.fail(cat("value ", av, " is not a power of two between 1 and 2^30"));
    f.alignment_ = static_cast<uint64_t>(av);
  }

  // Tensor infos.
  f.tensors_.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    r.set_context(cat("tensor ", i));
    TensorInfo ti;
    ti.name = r.read_string("tensor name");
    r.set_context(cat("tensor ", i, " '", ti.name, "'"));
    const uint32_t n_dims = r.read<uint32_t>("n_dims");
    if (n_dims > static_cast<uint32_t>(kMaxDims))
      r.fail(cat("has ", n_dims, " dimensions; at most ", kMaxDims, " are allowed"));
    ti.n_dims = static_cast<int>(n_dims);
    uint64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t ne = r.read<uint64_t>("dimension");
      if (ne == 0 || ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        r.fail(cat("dimension ", d, " is ", static_cast<int64_t>(ne), "; dimensions must be positive"));
      if (numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / ne)
        r.fail("the product of its dimensions overflows a 64-bit element count");
      numel *= ne;
      ti.ne[d] = static_cast<int64_t>(ne);
    }
    const uint32_t type_id = r.read<uint32_t>("tensor type");
    const auto traits = dtype_traits_of(type_id);
    if (!traits)
      r.fail(cat("tensor type id ", type_id, " is not a ggml type Helix knows; the file may need a newer Helix"));
    ti.type = static_cast<DType>(type_id);
    if (ti.ne[0] % traits->block_size != 0)
      r.fail(cat("row of ", ti.ne[0], " elements is not a multiple of ", traits->name, "'s block size ",
                 traits->block_size));
    const uint64_t rows = numel / static_cast<uint64_t>(ti.ne[0]);
    const uint64_t blocks = static_cast<uint64_t>(ti.ne[0] / traits->block_size);
    if (blocks > std::numeric_limits<uint64_t>::max() / traits->type_size)
      r.fail("its size in bytes overflows 64 bits");
    const uint64_t row_bytes = blocks * traits->type_size;
    if (row_bytes != 0 && rows > std::numeric_limits<uint64_t>::max() / row_bytes)
      r.fail("its size in bytes overflows 64 bits");
    ti.nbytes = rows * row_bytes;
    ti.offset = r.read<uint64_t>("tensor data offset");
    if (ti.offset % f.alignment_ != 0)
      r.fail(cat("data offset ", ti.offset, " is not a multiple of the alignment ", f.alignment_));
    if (f.tensor_index_.count(ti.name)) r.fail("the tensor name appears twice; the file is corrupt");
    f.tensor_index_.emplace(ti.name, f.tensors_.size());
    f.tensors_.push_back(std::move(ti));
  }

  // Data section: starts at the next multiple of the alignment after the tensor infos.
  r.set_context("data section");
  const uint64_t pos = r.pos();
  const uint64_t pad = (f.alignment_ - pos % f.alignment_) % f.alignment_;
  f.data_offset_ = pos + pad;  // pos <= size and pad < 2^30, so no overflow
  if (!f.tensors_.empty() && f.data_offset_ > size)
    r.fail(cat("truncated: the data section would start at offset ", f.data_offset_, " but the file is only ",
               size, " bytes long"));
  const uint64_t data_bytes = f.data_offset_ <= size ? size - f.data_offset_ : 0;
  for (const auto& ti : f.tensors_) {
    if (ti.offset > data_bytes || ti.nbytes > data_bytes - ti.offset)
      r.fail(cat("tensor '", ti.name, "' (", ti.nbytes, " bytes at data offset ", ti.offset,
                 ") runs past the end of the file (the data section holds ", data_bytes,
                 " bytes); the file is truncated or corrupt"));
  }
  return f;
}

const Value* GGUFFile::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

const Value& GGUFFile::get(std::string_view key) const {
  const Value* v = find(key);
  HELIX_CHECK(v, "GGUF file '", path_, "': missing metadata key '", key,
              "'; the file may be for another architecture or converted by an old tool");
  return *v;
}

namespace {
template <typename F>
auto typed(const GGUFFile& f, std::string_view key, F&& conv) {
  try {
    return conv(f.get(key));
  } catch (const Error& e) {
    throw Error(cat("GGUF file '", f.path(), "': metadata key '", key, "': ", e.what()));
  }
}
}  // namespace

std::string GGUFFile::get_string(std::string_view key, const std::string& fallback) const {
  if (!find(key)) return fallback;
  return typed(*this, key, [](const Value& v) { return v.as_string(); });
}

uint64_t GGUFFile::get_uint(std::string_view key, uint64_t fallback) const {
  if (!find(key)) return fallback;
  return typed(*this, key, [](const Value& v) { return v.as_uint(); });
}

double GGUFFile::get_float(std::string_view key, double fallback) const {
  if (!find(key)) return fallback;
  return typed(*this, key, [](const Value& v) { return v.as_float(); });
}

bool GGUFFile::get_bool(std::string_view key, bool fallback) const {
  if (!find(key)) return fallback;
  return typed(*this, key, [](const Value& v) { return v.as_bool(); });
}

const TensorInfo* GGUFFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

Tensor GGUFFile::tensor(std::string_view name) const {
  const TensorInfo* ti = find_tensor(name);
  HELIX_CHECK(ti, "GGUF file '", path_, "' has no tensor named '", name, "'");
  return tensor(*ti);
}

const uint8_t* GGUFFile::tensor_data(const TensorInfo& info) const {
  return static_cast<const uint8_t*>(storage_->data()) + data_offset_ + info.offset;
}

Tensor GGUFFile::tensor(const TensorInfo& info) const {
  return Tensor::wrap(storage_, const_cast<uint8_t*>(tensor_data(info)), info.type, info.ne, info.n_dims);
}

}  // namespace helix::gguf
