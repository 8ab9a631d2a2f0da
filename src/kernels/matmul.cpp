// matmul: shape checks, activation conversion and the tiled, multithreaded loop over the row dot
// products of kernels/vec_dot.h.
#include "kernels/matmul.h"

#include <algorithm>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/vec_dot.h"

namespace helix::kernels {
namespace {

// Weight bytes per tile: a tile stays in L1/L2 while every token group of the tile reads it.
constexpr size_t kTileBytes = 32 * 1024;
// Decode streams the weights once: prefetching this far ahead of the row being multiplied keeps
// more reads in flight than the hardware prefetcher alone (+10-20% at 2048x8192 Q4_K/Q5_0/Q6_K;
// 1-8 KiB ahead measured alike).
constexpr size_t kPrefetchBytes = 2048;
// Tokens per tile: their converted activations stay in L2.
constexpr int64_t kTileTokens = 64;

void check_matmul(const Tensor& w, const Tensor& x, const Tensor& y) {
  HELIX_CHECK(x.dtype() == DType::F32 && y.dtype() == DType::F32,
              "matmul: x and y must be F32, got ", dtype_name(x.dtype()), " and ",
              dtype_name(y.dtype()));
  HELIX_CHECK(w.device() == x.device() && x.device() == y.device(),
              "matmul: w, x and y must be on one device");
  HELIX_CHECK(w.ne(0) == x.ne(0), "matmul: w ", w.shape_str(), " and x ", x.shape_str(),
              " disagree on n_in (ne[0])");
  HELIX_CHECK(x.ne(2) % w.ne(2) == 0 && x.ne(3) % w.ne(3) == 0, "matmul: w's batch dims ",
              w.shape_str(), " do not divide x's ", x.shape_str());
  HELIX_CHECK(y.ne(0) == w.ne(1) && y.ne(1) == x.ne(1) && y.ne(2) == x.ne(2) && y.ne(3) == x.ne(3),
              "matmul: y is ", y.shape_str(), ", expected [", w.ne(1), ", ", x.ne(1), ", ", x.ne(2),
              ", ", x.ne(3), "]");
  HELIX_CHECK(
      w.nb(0) == dtype_type_size(w.dtype()) && x.nb(0) == sizeof(float) && y.nb(0) == sizeof(float),
      "matmul: rows of w, x and y must be contiguous");
}

// Rows [r0, r1) x tokens [t0, t1) of one batch matrix.
void run_tile(const DotKernels& k, int64_t n, const uint8_t* w, size_t w_stride, int64_t r0,
              int64_t r1, const uint8_t* act, size_t a_stride, int64_t t0, int64_t t1, uint8_t* y,
              size_t y_stride) {
  for (int64_t t = t0; t < t1; t += kMaxCols) {
    const int nc = static_cast<int>(std::min<int64_t>(kMaxCols, t1 - t));
    const DotFn dot = k.dot[nc - 1];
    const uint8_t* a = act + t * a_stride;
    float* yt = reinterpret_cast<float*>(y + t * y_stride);
    if (nc == 1) {  // decode: stream the rows, prefetching kPrefetchBytes ahead within the tile
      const size_t end = static_cast<size_t>(r1) * w_stride;
      for (int64_t r = r0; r < r1; ++r) {
        const size_t at = static_cast<size_t>(r) * w_stride;
        for (size_t p = at + kPrefetchBytes; p < at + kPrefetchBytes + w_stride && p < end; p += 64)
          __builtin_prefetch(w + p, 0, 3);
        dot(n, w + at, a, a_stride, yt + r);
      }
      continue;
    }
    for (int64_t r = r0; r < r1; ++r) {
      float out[kMaxCols];
      dot(n, w + r * w_stride, a, a_stride, out);
      for (int c = 0; c < nc; ++c) reinterpret_cast<float*>(y + (t + c) * y_stride)[r] = out[c];
    }
  }
}

}  // namespace

bool matmul_supports(DType t) { return dot_kernels_ref(t) != nullptr; }

void matmul_cpu(const Tensor& w, const Tensor& x, Tensor& y, Isa isa) {
  check_matmul(w, x, y);
  HELIX_CHECK(isa_available(isa), "matmul: this CPU cannot run the ", isa_name(isa), " kernels");
  const DotKernels* k = dot_kernels(w.dtype(), isa);
  HELIX_CHECK(k != nullptr, "matmul: weights of type ", dtype_name(w.dtype()),
              " are not supported on the CPU; convert the model to a supported type");
  const int64_t n = w.ne(0), n_rows = w.ne(1), n_tok = x.ne(1);
  const int64_t n_b2 = x.ne(2), n_batch = x.ne(2) * x.ne(3);
  if (n_rows == 0 || n_tok == 0 || n_batch == 0) return;
  ThreadPool& pool = ThreadPool::global();
  const size_t w_stride = w.nb(1);
  // Work below this many weight bytes read (summed over token groups) runs on the calling thread.
  const bool inline_only =
      pool.size() == 1 ||
      w_stride * static_cast<size_t>(n_rows * n_batch * ((n_tok + kMaxCols - 1) / kMaxCols)) <
          32 * 1024;

  // Activations of every batch matrix, converted once (f32 weights read x in place), into the
  // calling thread's scratch (workers get the pointer: the thread_local is the caller's).
  thread_local std::vector<uint8_t> scratch;
  const size_t a_row = act_row_bytes(k->act, n);
  const bool convert = k->act != ActFormat::F32;
  uint8_t* act_buf = nullptr;
  if (convert) {
    scratch.resize(a_row * static_cast<size_t>(n_tok * n_batch));
    act_buf = scratch.data();
    uint8_t* buf = act_buf;
    auto run = [&](int64_t r0, int64_t r1) {  // rows of x over all batches
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t t = r % n_tok, b = r / n_tok;
        k->quantize_act(reinterpret_cast<const float*>(x.row(t, b % n_b2, b / n_b2)),
                        buf + r * a_row, n);
      }
    };
    if (inline_only || n_tok * n_batch * n < 16384)
      run(0, n_tok * n_batch);
    else
      pool.parallel_for(n_tok * n_batch, std::max<int64_t>(1, 4096 / n), run);
  }

  // Tasks: (batch matrix, token tile, row tile). Row tiles are sized to the cache and shrunk
  // until every thread has several to take, in multiples of 16 rows so that two threads never
  // write into one 64-byte line of y (false sharing costs more than the work of a small tile).
  const int64_t tile_tok = n_tok <= kMaxCols ? n_tok : kTileTokens;
  const int64_t n_tok_tiles = (n_tok + tile_tok - 1) / tile_tok;
  int64_t tile_rows = std::clamp<int64_t>(
      static_cast<int64_t>(kTileBytes / std::max<size_t>(w_stride, 1)) / 16 * 16, 16, 256);
  while (tile_rows > 16 &&
         ((n_rows + tile_rows - 1) / tile_rows) * n_tok_tiles * n_batch < 8 * pool.size())
    tile_rows = std::max<int64_t>(16, tile_rows / 2 / 16 * 16);
  const int64_t n_row_tiles = (n_rows + tile_rows - 1) / tile_rows;
  // Runs tasks [b, e). With a single token group (decode) consecutive row tiles go as one range,
  // so that each thread streams one contiguous stretch of rows; with more tokens every tile stays
  // cache-sized.
  auto run_tasks = [&](int64_t b, int64_t e) {
    for (int64_t task = b; task < e;) {
      const int64_t rt = task % n_row_tiles, tt = task / n_row_tiles % n_tok_tiles;
      const int64_t bi = task / (n_row_tiles * n_tok_tiles), i2 = bi % n_b2, i3 = bi / n_b2;
      const int64_t span = n_tok <= kMaxCols ? std::min(e - task, n_row_tiles - rt) : 1;
      const uint8_t* wm = w.row(0, i2 / (x.ne(2) / w.ne(2)), i3 / (x.ne(3) / w.ne(3)));
      const uint8_t* act = convert ? act_buf + bi * n_tok * a_row : x.row(0, i2, i3);
      const size_t a_stride = convert ? a_row : x.nb(1);
      const int64_t r0 = rt * tile_rows, t0 = tt * tile_tok;
      run_tile(*k, n, wm, w_stride, r0, std::min(n_rows, r0 + span * tile_rows), act, a_stride, t0,
               std::min(n_tok, t0 + tile_tok), y.row(0, i2, i3), y.nb(1));
      task += span;
    }
  };
  const int64_t n_tasks = n_row_tiles * n_tok_tiles * n_batch;
  if (inline_only)
    run_tasks(0, n_tasks);
  else
    pool.parallel_for(n_tasks, 1, run_tasks);
}

Op<MatmulSig>& matmul_op() {
  static Op<MatmulSig> op = [] {
    Op<MatmulSig> o("matmul");
    o.set(Device::CPU,
          [](const Tensor& w, const Tensor& x, Tensor& y) { matmul_cpu(w, x, y, best_isa()); });
    return o;
  }();
  return op;
}

void matmul(const Tensor& w, const Tensor& x, Tensor& y) {
  check_matmul(w, x, y);
  matmul_op()(w.device(), w, x, y);
}

}  // namespace helix::kernels
