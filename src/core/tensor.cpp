#include "core/tensor.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "core/error.h"

namespace helix {

const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

HeapStorage::HeapStorage(size_t bytes) : size_(bytes) {
  const size_t rounded = (bytes + 63) / 64 * 64;
  ptr_ = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
  if (!ptr_) throw Error(cat("out of memory allocating ", bytes, " bytes"));
  std::memset(ptr_, 0, rounded == 0 ? 64 : rounded);
}
HeapStorage::~HeapStorage() { std::free(ptr_); }

void Tensor::set_contiguous_strides() {
  const auto& tr = dtype_traits(dtype_);
  HELIX_CHECK(ne_[0] % tr.block_size == 0, "tensor row of ", ne_[0], " elements is not a multiple of ",
              tr.name, "'s block size ", tr.block_size);
  nb_[0] = tr.type_size;
  nb_[1] = dtype_row_bytes(dtype_, ne_[0]);
  for (int i = 2; i < kMaxDims; ++i) nb_[i] = nb_[i - 1] * static_cast<size_t>(ne_[i - 1]);
}

Tensor Tensor::empty(DType t, std::initializer_list<int64_t> ne) {
  Shape s{1, 1, 1, 1};
  int i = 0;
  for (int64_t v : ne) s[i++] = v;
  return empty(t, s, static_cast<int>(ne.size()));
}

Tensor Tensor::empty(DType t, const Shape& ne, int ndim) {
  Tensor probe;
  probe.dtype_ = t;
  probe.ne_ = ne;
  probe.ndim_ = ndim;
  probe.set_contiguous_strides();
  auto st = std::make_shared<HeapStorage>(probe.nbytes());
  return wrap(st, st->data(), t, ne, ndim);
}

Tensor Tensor::wrap(std::shared_ptr<Storage> owner, void* data, DType t, const Shape& ne, int ndim,
                    Device dev) {
  HELIX_CHECK(ndim >= 0 && ndim <= kMaxDims, "tensor rank ", ndim, " is out of range");
  Tensor r;
  r.storage_ = std::move(owner);
  r.data_ = data;
  r.dtype_ = t;
  r.device_ = dev;
  r.ndim_ = ndim;
  r.ne_ = ne;
  for (int i = ndim; i < kMaxDims; ++i) r.ne_[i] = 1;
  r.set_contiguous_strides();
  return r;
}

size_t Tensor::nbytes() const { return row_bytes() * static_cast<size_t>(nrows()); }

bool Tensor::is_contiguous() const {
  if (nb_[0] != dtype_type_size(dtype_)) return false;
  size_t expect = row_bytes();
  for (int i = 1; i < kMaxDims; ++i) {
    if (ne_[i] != 1 && nb_[i] != expect) return false;
    expect *= static_cast<size_t>(ne_[i]);
  }
  return true;
}

Tensor Tensor::view_rows(int64_t first, int64_t count) const {
  HELIX_CHECK(first >= 0 && count >= 0 && first + count <= ne_[1], "rows [", first, ", ",
              first + count, ") out of range for ", shape_str());
  Tensor r = *this;
  r.data_ = static_cast<uint8_t*>(data_) + first * nb_[1];
  r.ne_[1] = count;
  return r;
}

Tensor Tensor::reshape(std::initializer_list<int64_t> ne) const {
  HELIX_CHECK(is_contiguous(), "reshape needs a contiguous tensor");
  Shape s{1, 1, 1, 1};
  int i = 0;
  for (int64_t v : ne) s[i++] = v;
  HELIX_CHECK(s[0] * s[1] * s[2] * s[3] == numel(), "reshape of ", shape_str(), " changes its size");
  Tensor r = *this;
  r.ne_ = s;
  r.ndim_ = static_cast<int>(ne.size());
  r.set_contiguous_strides();
  return r;
}

Tensor Tensor::permute(int a0, int a1, int a2, int a3) const {
  HELIX_CHECK(!dtype_is_quantized(dtype_) || a0 == 0, "cannot move the block axis of a quantized tensor");
  const int ax[4] = {a0, a1, a2, a3};
  Tensor r = *this;
  for (int i = 0; i < kMaxDims; ++i) {
    r.ne_[i] = ne_[ax[i]];
    r.nb_[i] = nb_[ax[i]];
  }
  return r;
}

std::string Tensor::shape_str() const {
  std::string s = "[";
  for (int i = 0; i < ndim_; ++i) s += (i ? ", " : "") + std::to_string(ne_[i]);
  return s + "]";
}

}  // namespace helix
