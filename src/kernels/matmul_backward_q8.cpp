// dx = Wᵀ·dy through a Q8_0 transpose of W and the forward matmul (kernels/matmul_backward.h).
#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/mapped_file.h"
#include "core/thread_pool.h"
#include "kernels/matmul.h"
#include "kernels/matmul_backward.h"
#include "kernels/packed.h"
#include "quant/quant.h"

namespace helix::kernels {
namespace {

constexpr int64_t kQ8Block = 32;

// Anonymous memory whose pages the packer may drop once they are packed (MADV_DONTNEED: the
// range stays mapped and reads as zeros; only the scalar path would read it, and it never sees
// a weight that has a packed copy).
std::shared_ptr<uint8_t> map_anonymous(size_t bytes) {
  void* p = mmap(nullptr, std::max<size_t>(bytes, 1), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  HELIX_CHECK(p != MAP_FAILED, "transpose_q8: out of memory for ", bytes, " bytes");
  return std::shared_ptr<uint8_t>(static_cast<uint8_t*>(p), [bytes](uint8_t* q) { munmap(q, std::max<size_t>(bytes, 1)); });
}

Tensor f32(float* p, int64_t ne0, int64_t ne1) { return Tensor::wrap(nullptr, p, DType::F32, Shape{ne0, ne1, 1, 1}, 2); }

}  // namespace

std::shared_ptr<const TransposedWeight> transpose_q8(const Tensor& w) {
  const int64_t n_in = w.ne(0), n_out = w.ne(1);
  if (w.ne(2) != 1 || w.ne(3) != 1 || n_out % kQ8Block != 0 || n_in == 0 || !quant::can_dequantize(w.dtype()))
    return nullptr;
  auto t = std::make_shared<TransposedWeight>();
  t->n_in = n_in;
  t->n_out = n_out;
  const size_t blk_bytes = dtype_type_size(DType::Q8_0);
  const size_t total = static_cast<size_t>(n_out / kQ8Block) * blk_bytes * static_cast<size_t>(n_in);
  std::shared_ptr<uint8_t> mem = map_anonymous(total);
  t->owner = mem;
  std::vector<uint8_t*> base;
  for (int64_t o0 = 0; o0 < n_out; o0 += kTransposeBlock) {
    const int64_t len = std::min(kTransposeBlock, n_out - o0);
    uint8_t* p = mem.get() + static_cast<size_t>(o0 / kQ8Block) * blk_bytes * static_cast<size_t>(n_in);
    base.push_back(p);
    t->parts.push_back(Tensor::wrap(nullptr, p, DType::Q8_0, Shape{len, n_in, 1, 1}, 2));
  }
  // Tasks of 32 rows of W: dequantize them, then each column of 32 values becomes one Q8_0
  // block of row i of the part that holds those rows.
  ThreadPool::global().parallel_for(n_out / kQ8Block, 1, [&](int64_t j0, int64_t j1) {
    std::vector<float> rows(static_cast<size_t>(kQ8Block * n_in));
    float col[kQ8Block];
    for (int64_t j = j0; j < j1; ++j) {
      const int64_t o0 = j * kQ8Block, part = o0 / kTransposeBlock;
      for (int64_t r = 0; r < kQ8Block; ++r)
        quant::dequantize_row(w.dtype(), w.row(o0 + r), rows.data() + r * n_in, n_in);
      const Tensor& pt = t->parts[static_cast<size_t>(part)];
      const int64_t b_in_row = (o0 - part * kTransposeBlock) / kQ8Block;
      for (int64_t i = 0; i < n_in; ++i) {
        for (int64_t r = 0; r < kQ8Block; ++r) col[r] = rows[static_cast<size_t>(r * n_in + i)];
        quant::quantize_row(DType::Q8_0, col, base[static_cast<size_t>(part)] + static_cast<size_t>(i) * pt.nb(1) +
                                                  static_cast<size_t>(b_in_row) * blk_bytes, kQ8Block);
      }
    }
  });
  for (const Tensor& pt : t->parts)
    if (auto h = pack_weight(pt, drop_pages)) t->packed.push_back(std::move(h));
  return t;
}

void matmul_backward_x(const TransposedWeight& wt, const Tensor& dy, Tensor& dx, bool accumulate) {
  const int64_t n_in = wt.n_in, n_out = wt.n_out, n_tok = dy.nrows();
  HELIX_CHECK(dy.dtype() == DType::F32 && dy.is_contiguous() && dy.ne(0) == n_out, "matmul_backward_x: dy has shape ",
              dy.shape_str(), ", expected [", n_out, ", n_tok] F32");
  HELIX_CHECK(dx.dtype() == DType::F32 && dx.is_contiguous() && dx.ne(0) == n_in && dx.nrows() == n_tok,
              "matmul_backward_x: dx has shape ", dx.shape_str(), ", expected [", n_in, ", ", n_tok, "] F32");
  const BackwardKernels& k = backward_kernels();
  float* dxp = dx.data_as<float>();
  const float* dyp = dy.data_as<float>();
  thread_local std::vector<float> part_out, slice;
  const bool one = wt.parts.size() == 1;
  for (size_t p = 0; p < wt.parts.size(); ++p) {
    const Tensor& w = wt.parts[p];
    const int64_t o0 = static_cast<int64_t>(p) * kTransposeBlock, len = w.ne(0);
    Tensor in = dy;
    if (!one) {  // rows [o0, o0 + len) of every token's dy, made contiguous
      slice.resize(static_cast<size_t>(len * n_tok));
      for (int64_t t = 0; t < n_tok; ++t) std::memcpy(slice.data() + t * len, dyp + t * n_out + o0, static_cast<size_t>(len) * 4);
      in = f32(slice.data(), len, n_tok);
    }
    if (p == 0 && !accumulate) {
      Tensor out = f32(dxp, n_in, n_tok);
      matmul(w, in, out);
      continue;
    }
    part_out.resize(static_cast<size_t>(n_in * n_tok));
    Tensor out = f32(part_out.data(), n_in, n_tok);
    matmul(w, in, out);
    k.axpy(1.0f, part_out.data(), dxp, n_in * n_tok);
  }
}

}  // namespace helix::kernels
