// libFuzzer target: parses arbitrary bytes as a GGUF file from memory and touches every metadata
// value and tensor view. Any crash, sanitizer report, hang or huge allocation is a finding; a
// helix::Error is the expected answer to bad input.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "core/error.h"
#include "io/gguf.h"

namespace {

uint64_t touch(const helix::gguf::Value& v) {
  using helix::gguf::ValueType;
  uint64_t h = static_cast<uint64_t>(v.type());
  switch (v.type()) {
    case ValueType::STRING: return h + v.as_string().size();
    case ValueType::ARRAY:
      for (const auto& e : v.elems()) h += touch(e);
      return h + v.to_string(4).size();
    case ValueType::BOOL: return h + v.as_bool();
    case ValueType::FLOAT32:
    case ValueType::FLOAT64: return h + static_cast<uint64_t>(v.as_float() == 0.0);
    default: return h + static_cast<uint64_t>(v.as_int() & 1) + v.to_string().size();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto storage = std::make_shared<helix::HeapStorage>(size);
  if (size) std::memcpy(storage->data(), data, size);
  try {
    const auto f = helix::gguf::GGUFFile::parse(storage, "fuzz.gguf");
    volatile uint64_t sink = f.version() + f.alignment() + f.data_offset();
    for (const auto& [k, v] : f.metadata()) sink = sink + k.size() + touch(v);
    for (const auto& info : f.tensors()) {
      const helix::Tensor t = f.tensor(info);
      const auto* p = static_cast<const uint8_t*>(t.data());
      if (info.nbytes) sink = sink + p[0] + p[info.nbytes - 1];  // first and last byte are in bounds
      sink = sink + static_cast<uint64_t>(t.numel()) + t.nbytes();
    }
    (void)f.get_string("general.architecture", "");
    (void)sink;
  } catch (const helix::Error&) {
  }
  return 0;
}
