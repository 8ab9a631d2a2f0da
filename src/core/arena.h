// Arena: one aligned block carved into tensors by bumping an offset, reset as a whole. Used for
// per-step scratch (activations) so that a forward pass allocates nothing after warm-up.
#pragma once

#include <cstddef>
#include <memory>

#include "core/tensor.h"

namespace helix {

class Arena {
 public:
  explicit Arena(size_t capacity);
  // A contiguous tensor carved from the arena (contents undefined). Throws when full.
  Tensor alloc(DType t, std::initializer_list<int64_t> ne);
  void* alloc_bytes(size_t bytes);
  void reset() { used_ = 0; }
  // Scoped release: everything allocated after mark() is given back by release(mark).
  size_t mark() const { return used_; }
  void release(size_t mark) { used_ = mark < used_ ? mark : used_; }
  size_t used() const { return used_; }
  size_t capacity() const { return storage_->size(); }

 private:
  std::shared_ptr<HeapStorage> storage_;
  size_t used_ = 0;
};

}  // namespace helix
