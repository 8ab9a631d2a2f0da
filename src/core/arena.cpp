#include "core/arena.h"

#include "core/error.h"

namespace helix {

Arena::Arena(size_t capacity) : storage_(std::make_shared<HeapStorage>(capacity)) {}

void* Arena::alloc_bytes(size_t bytes) {
  const size_t start = (used_ + 63) / 64 * 64;
  HELIX_CHECK(start + bytes <= storage_->size(), "arena of ", storage_->size(), " bytes is full (",
              used_, " used, ", bytes, " more asked)");
  used_ = start + bytes;
  return static_cast<uint8_t*>(storage_->data()) + start;
}

Tensor Arena::alloc(DType t, std::initializer_list<int64_t> ne) {
  Shape s{1, 1, 1, 1};
  int i = 0;
  for (int64_t v : ne) s[i++] = v;
  const size_t bytes = dtype_row_bytes(t, s[0]) * static_cast<size_t>(s[1] * s[2] * s[3]);
  return Tensor::wrap(storage_, alloc_bytes(bytes), t, s, static_cast<int>(ne.size()));
}

}  // namespace helix
