// The registry of packed weights (kernels/packed.h); the kernels live in packed_avx2.cpp.
#include "kernels/packed.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <unordered_map>

#include "core/thread_pool.h"
#include "kernels/isa.h"

namespace helix::kernels {
namespace {

std::mutex& registry_mu() {
  static std::mutex mu;
  return mu;
}
std::unordered_map<const void*, const PackedWeight*>& registry() {
  static auto* r = new std::unordered_map<const void*, const PackedWeight*>;  // outlives users
  return *r;
}

}  // namespace

namespace {
const PackedKernels* packable(const Tensor& w) {
  if (!isa_available(Isa::Avx2) || w.device() != Device::CPU || !w.data()) return nullptr;
  const PackedKernels* k = packed_kernels_avx2(w.dtype());
  if (!k || w.ne(2) != 1 || w.ne(3) != 1 || w.ne(1) % kPackRows != 0 ||
      w.ne(0) % dtype_block_size(w.dtype()) != 0 || w.nb(0) != dtype_type_size(w.dtype()) ||
      w.nb(1) != dtype_row_bytes(w.dtype(), w.ne(0)))
    return nullptr;
  return k;
}
}  // namespace

size_t packed_bytes(const Tensor& w) {
  const PackedKernels* k = packable(w);
  return k ? k->group_bytes(w.ne(0)) * static_cast<size_t>(w.ne(1) / kPackRows) : 0;
}

std::shared_ptr<uint8_t> alloc_packed_memory(size_t bytes) {
  constexpr size_t kHuge = size_t{2} << 20;
  const size_t rounded = (std::max<size_t>(bytes, 1) + kHuge - 1) / kHuge * kHuge;
  auto* p = static_cast<uint8_t*>(std::aligned_alloc(kHuge, rounded));
  if (!p) return nullptr;
#if defined(MADV_HUGEPAGE)
  madvise(p, rounded, MADV_HUGEPAGE);
#endif
  return std::shared_ptr<uint8_t>(p, [](uint8_t* q) { std::free(q); });
}

std::shared_ptr<const PackedWeight> pack_weight(const Tensor& w, const ReleaseFn& release,
                                                uint8_t* dest, std::shared_ptr<void> owner) {
  const PackedKernels* k = packable(w);
  if (!k) return nullptr;
  auto p = std::make_shared<PackedWeight>();
  p->type = w.dtype();
  p->n_in = w.ne(0);
  p->n_out = w.ne(1);
  p->original = w.data();
  p->kernels = k;
  p->group_bytes = k->group_bytes(p->n_in);
  const int64_t n_groups = p->n_out / kPackRows;
  if (dest) {
    p->ptr = dest;
    p->owner = std::move(owner);
  } else {
    // Large copies (the output head) in huge pages of their own, small ones in plain memory.
    const size_t bytes = p->group_bytes * static_cast<size_t>(n_groups);
    std::shared_ptr<uint8_t> mem;
    if (bytes >= (size_t{8} << 20)) {
      mem = alloc_packed_memory(bytes);
    } else {
      mem = std::shared_ptr<uint8_t>(static_cast<uint8_t*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64)),
                                     [](uint8_t* q) { std::free(q); });
    }
    if (!mem) return nullptr;
    p->ptr = mem.get();
    p->owner = std::move(mem);
  }
  const uint8_t* src = static_cast<const uint8_t*>(w.data());
  const size_t stride = w.nb(1);
  // In slices of about 4 MiB of the original, each released when packed, so that the original
  // and the copy are not both resident at the peak.
  const int64_t slice = std::max<int64_t>(64, static_cast<int64_t>((size_t{4} << 20) / (stride * kPackRows)));
  for (int64_t s0 = 0; s0 < n_groups; s0 += slice) {
    const int64_t s1 = std::min(n_groups, s0 + slice);
    ThreadPool::global().parallel_for(s1 - s0, 16, [&](int64_t b, int64_t e) {
      for (int64_t g = s0 + b; g < s0 + e; ++g)
        k->pack(src + static_cast<size_t>(g * kPackRows) * stride, stride, p->n_in,
                p->ptr + static_cast<size_t>(g) * p->group_bytes);
    });
    if (release)
      release(src + static_cast<size_t>(s0 * kPackRows) * stride, static_cast<size_t>((s1 - s0) * kPackRows) * stride);
  }
  {
    std::lock_guard<std::mutex> lk(registry_mu());
    registry()[p->original] = p.get();
  }
  // The handle's deleter unregisters the copy before freeing it.
  PackedWeight* raw = p.get();
  return std::shared_ptr<const PackedWeight>(raw, [keep = std::move(p)](const PackedWeight* q) mutable {
    {
      std::lock_guard<std::mutex> lk(registry_mu());
      auto it = registry().find(q->original);
      if (it != registry().end() && it->second == q) registry().erase(it);
    }
    keep.reset();
  });
}

const PackedWeight* find_packed(const Tensor& w) {
  std::lock_guard<std::mutex> lk(registry_mu());
  auto& r = registry();
  if (r.empty()) return nullptr;
  auto it = r.find(w.data());
  if (it == r.end()) return nullptr;
  const PackedWeight* p = it->second;
  if (p->type != w.dtype() || p->n_in != w.ne(0) || p->n_out != w.ne(1) || w.ne(2) != 1 ||
      w.ne(3) != 1 || w.nb(1) != dtype_row_bytes(w.dtype(), w.ne(0)))
    return nullptr;
  return p;
}

void packed_get_row(const PackedWeight& p, int64_t row, float* out) {
  p.kernels->get_row(p.data() + static_cast<size_t>(row / kPackRows) * p.group_bytes, p.n_in,
                     static_cast<int>(row % kPackRows), out);
}

}  // namespace helix::kernels
