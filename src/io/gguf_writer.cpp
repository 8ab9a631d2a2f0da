// GGUF v3 writer: metadata in insertion order, tensor infos, then tensor data each padded to the
// alignment. Written through core's AtomicFile (a temporary file, fsync, rename, fsync of the
// folder), so a crash never leaves a partial file.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <set>

#include "core/error.h"
#include "core/files.h"
#include "io/gguf.h"

namespace helix::gguf {
namespace {

// Buffered writes to the temporary file; errors name the file and the reason.
class Out {
 public:
  explicit Out(AtomicFile& f) : f_(f) { buf_.reserve(kBuf); }

  void bytes(const void* p, size_t n) {
    const auto* c = static_cast<const uint8_t*>(p);
    if (n >= kBuf) {
      flush();
      raw(c, n);
    } else {
      if (buf_.size() + n > kBuf) flush();
      buf_.insert(buf_.end(), c, c + n);
    }
    pos_ += n;
  }
  template <typename T>
  void put(T v) {
    bytes(&v, sizeof v);
  }
  void str(const std::string& s) {
    put<uint64_t>(s.size());
    bytes(s.data(), s.size());
  }
  void pad_to(uint64_t alignment) {
    static const uint8_t zeros[256] = {};
    uint64_t n = (alignment - pos_ % alignment) % alignment;
    while (n) {
      const size_t k = n > sizeof zeros ? sizeof zeros : static_cast<size_t>(n);
      bytes(zeros, k);
      n -= k;
    }
  }
  uint64_t pos() const { return pos_; }
  void flush() {
    raw(buf_.data(), buf_.size());
    buf_.clear();
  }

 private:
  static constexpr size_t kBuf = 1 << 20;
  void raw(const uint8_t* p, size_t n) { f_.write(std::string_view(reinterpret_cast<const char*>(p), n)); }
  AtomicFile& f_;
  std::vector<uint8_t> buf_;
  uint64_t pos_ = 0;
};

void write_value(Out& o, const Value& v) {
  switch (v.type()) {
    case ValueType::UINT8: o.put<uint8_t>(static_cast<uint8_t>(v.as_uint())); break;
    case ValueType::INT8: o.put<int8_t>(static_cast<int8_t>(v.as_int())); break;
    case ValueType::UINT16: o.put<uint16_t>(static_cast<uint16_t>(v.as_uint())); break;
    case ValueType::INT16: o.put<int16_t>(static_cast<int16_t>(v.as_int())); break;
    case ValueType::UINT32: o.put<uint32_t>(static_cast<uint32_t>(v.as_uint())); break;
    case ValueType::INT32: o.put<int32_t>(static_cast<int32_t>(v.as_int())); break;
    case ValueType::UINT64: o.put<uint64_t>(v.as_uint()); break;
    case ValueType::INT64: o.put<int64_t>(v.as_int()); break;
    case ValueType::FLOAT32: o.put<float>(static_cast<float>(v.as_float())); break;
    case ValueType::FLOAT64: o.put<double>(v.as_float()); break;
    case ValueType::BOOL: o.put<uint8_t>(v.as_bool() ? 1 : 0); break;
    case ValueType::STRING: o.str(v.as_string()); break;
    case ValueType::ARRAY:
      o.put<uint32_t>(static_cast<uint32_t>(v.elem_type()));
      o.put<uint64_t>(v.size());
      for (const auto& e : v.elems()) write_value(o, e);
      break;
  }
}

int array_depth(const Value& v) {
  if (!v.is_array()) return 0;
  int d = 0;
  for (const auto& e : v.elems()) d = std::max(d, array_depth(e));
  return d + 1;
}

}  // namespace

void GGUFWriter::set(const std::string& key, Value v) {
  HELIX_CHECK(array_depth(v) <= kMaxArrayDepth, "metadata key '", key, "': arrays nested deeper than ",
              kMaxArrayDepth, " cannot be read back");
  if (key == "general.alignment") {
    HELIX_CHECK(v.is_integer(), "general.alignment must be an integer, not ", value_type_name(v.type()));
    const uint64_t a = v.as_uint();
    HELIX_CHECK(a != 0 && (a & (a - 1)) == 0 && a <= (uint64_t{1} << 30), "general.alignment ", a,
                " is not a power of two between 1 and 2^30");
    alignment_ = a;
  }
  for (auto& kv : kv_) {
    if (kv.first == key) {
      kv.second = std::move(v);
      return;
    }
  }
  kv_.emplace_back(key, std::move(v));
}

void GGUFWriter::set_alignment(uint64_t a) {
  HELIX_CHECK(a != 0 && (a & (a - 1)) == 0 && a <= (uint64_t{1} << 30), "GGUF alignment ", a,
              " is not a power of two between 1 and 2^30");
  set("general.alignment", Value::u32(static_cast<uint32_t>(a)));
}

void GGUFWriter::add_tensor(const std::string& name, DType type, const Shape& ne, int n_dims,
                            const void* data) {
  HELIX_CHECK(n_dims >= 0 && n_dims <= kMaxDims, "tensor '", name, "': ", n_dims,
              " dimensions; GGUF allows 0 to ", kMaxDims);
  HELIX_CHECK(dtype_traits_of(static_cast<uint32_t>(type)).has_value(), "tensor '", name,
              "': unknown type id ", static_cast<uint32_t>(type));
  for (const auto& p : tensors_)
    HELIX_CHECK(p.info.name != name, "tensor '", name, "' is added twice; tensor names must be unique");
  TensorInfo ti;
  ti.name = name;
  ti.n_dims = n_dims;
  ti.type = type;
  uint64_t numel = 1;
  for (int d = 0; d < n_dims; ++d) {
    HELIX_CHECK(ne[d] > 0, "tensor '", name, "': dimension ", d, " is ", ne[d], "; must be positive");
    HELIX_CHECK(numel <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / static_cast<uint64_t>(ne[d]),
                "tensor '", name, "': element count overflows");
    numel *= static_cast<uint64_t>(ne[d]);
    ti.ne[d] = ne[d];
  }
  const int64_t bs = dtype_block_size(type);
  HELIX_CHECK(ti.ne[0] % bs == 0, "tensor '", name, "': row of ", ti.ne[0], " elements is not a multiple of ",
              dtype_name(type), "'s block size ", bs);
  ti.nbytes = dtype_row_bytes(type, ti.ne[0]) * (numel / static_cast<uint64_t>(ti.ne[0]));
  HELIX_CHECK(data != nullptr || ti.nbytes == 0, "tensor '", name, "': no data");
  tensors_.push_back({std::move(ti), data});
}

void GGUFWriter::write(const std::string& path) const {
  AtomicFile f(path, "GGUF file");
  Out o(f);
  o.bytes("GGUF", 4);
  o.put<uint32_t>(3);
  o.put<uint64_t>(tensors_.size());
  o.put<uint64_t>(kv_.size());
  for (const auto& [key, v] : kv_) {
    o.str(key);
    o.put<uint32_t>(static_cast<uint32_t>(v.type()));
    write_value(o, v);
  }
  uint64_t off = 0;
  for (const auto& p : tensors_) {
    o.str(p.info.name);
    o.put<uint32_t>(static_cast<uint32_t>(p.info.n_dims));
    for (int d = 0; d < p.info.n_dims; ++d) o.put<uint64_t>(static_cast<uint64_t>(p.info.ne[d]));
    o.put<uint32_t>(static_cast<uint32_t>(p.info.type));
    o.put<uint64_t>(off);
    off += (p.info.nbytes + alignment_ - 1) / alignment_ * alignment_;
  }
  o.pad_to(alignment_);
  for (const auto& p : tensors_) {
    o.bytes(p.data, static_cast<size_t>(p.info.nbytes));
    o.pad_to(alignment_);
  }
  o.flush();
  f.commit();
}

}  // namespace helix::gguf
