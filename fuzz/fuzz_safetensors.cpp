// libFuzzer target: parses arbitrary bytes as a safetensors file from memory and touches every
// tensor's bytes and view. A helix::Error is the expected answer to bad input; anything else
// (crash, sanitizer report, hang, huge allocation, other exception) is a finding.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "core/error.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto storage = std::make_shared<helix::HeapStorage>(size);
  if (size) std::memcpy(storage->data(), data, size);
  try {
    const auto f = helix::io::SafetensorsFile::parse(storage, "fuzz.safetensors");
    volatile uint64_t sink = f.header_size();
    for (const auto& [k, v] : f.metadata()) sink = sink + k.size() + v.size();
    for (const auto& t : f.tensors()) {
      const uint8_t* p = f.tensor_data(t);
      if (t.nbytes()) sink = sink + p[0] + p[t.nbytes() - 1];
      if (helix::io::safetensors_to_dtype(t.dtype) && t.shape.size() <= 4) {
        const helix::Tensor v = f.tensor(t);
        sink = sink + static_cast<uint64_t>(v.numel()) + v.nbytes();
      }
    }
    (void)sink;
  } catch (const helix::Error&) {
  }
  return 0;
}
