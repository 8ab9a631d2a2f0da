// Tensor: a typed, strided view of memory on a device. Storage (heap, arena, a memory-mapped
// file, later CUDA memory) is shared by every view of it, so views never copy. Shapes follow
// ggml's order: ne[0] is the innermost (contiguous) dimension, so a weight matrix of
// [n_out rows, n_in columns] has ne = {n_in, n_out}. Strides nb[] are in bytes; for a quantized
// dtype nb[0] is the block size in bytes and nb[1] the row size.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>

#include "core/dtype.h"

namespace helix {

enum class Device : uint8_t { CPU = 0, CUDA = 1 };
inline constexpr int kNumDevices = 2;
const char* device_name(Device d);

inline constexpr int kMaxDims = 4;
using Shape = std::array<int64_t, kMaxDims>;

// Owner of a block of memory. Subclasses free it in their destructor.
class Storage {
 public:
  virtual ~Storage() = default;
  virtual void* data() = 0;
  virtual size_t size() const = 0;
  virtual Device device() const { return Device::CPU; }
};

// 64-byte aligned heap memory on the CPU.
class HeapStorage final : public Storage {
 public:
  explicit HeapStorage(size_t bytes);
  ~HeapStorage() override;
  HeapStorage(const HeapStorage&) = delete;
  HeapStorage& operator=(const HeapStorage&) = delete;
  void* data() override { return ptr_; }
  size_t size() const override { return size_; }

 private:
  void* ptr_ = nullptr;
  size_t size_ = 0;
};

class Tensor {
 public:
  Tensor() = default;

  // A new contiguous tensor of the given shape (innermost first), zero-filled on the CPU.
  static Tensor empty(DType t, std::initializer_list<int64_t> ne);
  static Tensor empty(DType t, const Shape& ne, int ndim);
  // A contiguous tensor over memory owned by `owner` (which the tensor keeps alive).
  static Tensor wrap(std::shared_ptr<Storage> owner, void* data, DType t, const Shape& ne, int ndim,
                     Device dev = Device::CPU);

  bool defined() const { return data_ != nullptr || numel() == 0; }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  int ndim() const { return ndim_; }
  int64_t ne(int i) const { return ne_[i]; }
  size_t nb(int i) const { return nb_[i]; }
  const Shape& shape() const { return ne_; }
  int64_t numel() const { return ne_[0] * ne_[1] * ne_[2] * ne_[3]; }
  int64_t nrows() const { return ne_[1] * ne_[2] * ne_[3]; }
  size_t row_bytes() const { return dtype_row_bytes(dtype_, ne_[0]); }
  size_t nbytes() const;  // bytes spanned if contiguous
  bool is_contiguous() const;

  void* data() { return data_; }
  const void* data() const { return data_; }
  template <typename T>
  T* data_as() {
    return static_cast<T*>(data_);
  }
  template <typename T>
  const T* data_as() const {
    return static_cast<const T*>(data_);
  }
  // Pointer to row i1 of matrix (i2, i3).
  const uint8_t* row(int64_t i1, int64_t i2 = 0, int64_t i3 = 0) const {
    return static_cast<const uint8_t*>(data_) + i1 * nb_[1] + i2 * nb_[2] + i3 * nb_[3];
  }
  uint8_t* row(int64_t i1, int64_t i2 = 0, int64_t i3 = 0) {
    return static_cast<uint8_t*>(data_) + i1 * nb_[1] + i2 * nb_[2] + i3 * nb_[3];
  }
  const std::shared_ptr<Storage>& storage() const { return storage_; }

  // Views share storage and never copy.
  Tensor view_rows(int64_t first, int64_t count) const;  // rows [first, first+count) of a matrix
  Tensor reshape(std::initializer_list<int64_t> ne) const;  // contiguous only
  Tensor permute(int a0, int a1, int a2, int a3) const;     // axis i of result = axis a_i of this

  std::string shape_str() const;  // "[640, 262144]"

 private:
  std::shared_ptr<Storage> storage_;
  void* data_ = nullptr;
  DType dtype_ = DType::F32;
  Device device_ = Device::CPU;
  int ndim_ = 0;
  Shape ne_{1, 1, 1, 1};
  std::array<size_t, kMaxDims> nb_{0, 0, 0, 0};

  void set_contiguous_strides();
};

}  // namespace helix
