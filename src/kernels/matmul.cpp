// matmul: shape checks, activation conversion and the tiled, multithreaded loop over the row dot
// products of kernels/vec_dot.h.
#include "kernels/matmul.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/gemm.h"
#include "kernels/packed.h"
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
  // Float weights run prefill on the 2-row x 3-token tile; not a few decode streams (one token
  // group, whose rows a task streams from memory once: leftover columns would read them again).
  const bool tile = k.dot2x3 && t1 - t0 > kMaxCols;
  const int64_t step = tile ? 3 : kMaxCols;
  for (int64_t t = t0; t < t1; t += step) {
    const int nc = static_cast<int>(std::min<int64_t>(step, t1 - t));
    const DotFn dot = k.dot[nc - 1];
    const uint8_t* a = act + t * a_stride;
    float* yt = reinterpret_cast<float*>(y + t * y_stride);
    const size_t ys = y_stride / sizeof(float);
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
    int64_t r = r0;
    if (tile && nc == 3)
      for (; r + 2 <= r1; r += 2) k.dot2x3(n, w + r * w_stride, w_stride, a, a_stride, yt + r, ys);
    for (; r < r1; ++r) {
      float out[kMaxCols];
      dot(n, w + r * w_stride, a, a_stride, out);
      for (int c = 0; c < nc; ++c) yt[static_cast<size_t>(c) * ys + static_cast<size_t>(r)] = out[c];
    }
  }
}

// Prefill on the GEMM panels (kernels/gemm.h): rows [0, n_panels * 8) of every batch matrix;
// tasks are (batch matrix, token tile, tile of kGemmTilePanels panels), each unpacking its panels
// once into thread-local memory and running every token of its tile against them.
// unpack(batch matrix i2, i3, panel index, out) fills one panel.
constexpr int64_t kGemmTilePanels = 4;

template <typename Unpack>
void run_gemm(const GemmKernels& g, int64_t n, const Tensor& x, Tensor& y, int64_t n_panels,
              const uint8_t* act_buf, size_t a_row, bool inline_only, Unpack unpack) {
  const int64_t n_tok = x.ne(1), n_b2 = x.ne(2), n_batch = x.ne(2) * x.ne(3);
  const size_t panel_bytes = g.panel_bytes(n);
  const int64_t n_row_tiles = (n_panels + kGemmTilePanels - 1) / kGemmTilePanels;
  const int64_t n_tok_tiles = (n_tok + kTileTokens - 1) / kTileTokens;
  auto run_tasks = [&](int64_t b, int64_t e) {
    thread_local std::vector<uint8_t> buf;
    if (buf.size() < panel_bytes * kGemmTilePanels + 32) buf.resize(panel_bytes * kGemmTilePanels + 32);
    uint8_t* panels = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(buf.data()) + 31) & ~uintptr_t{31});
    int64_t have = -1;  // the (batch, row tile) whose panels are unpacked
    for (int64_t task = b; task < e; ++task) {
      const int64_t tt = task % n_tok_tiles, rt = task / n_tok_tiles % n_row_tiles;
      const int64_t bi = task / (n_tok_tiles * n_row_tiles), i2 = bi % n_b2, i3 = bi / n_b2;
      const int64_t p0 = rt * kGemmTilePanels, p1 = std::min(n_panels, p0 + kGemmTilePanels);
      if (have != task / n_tok_tiles) {
        for (int64_t p = p0; p < p1; ++p) unpack(i2, i3, p, panels + (p - p0) * panel_bytes);
        have = task / n_tok_tiles;
      }
      const int64_t t0 = tt * kTileTokens, t1 = std::min(n_tok, t0 + kTileTokens);
      const uint8_t* act = act_buf + (bi * n_tok + t0) * a_row;
      float* yb = reinterpret_cast<float*>(y.row(t0, i2, i3));
      const size_t y_stride = y.nb(1) / sizeof(float);
      for (int64_t p = p0; p < p1; ++p)
        g.run(panels + (p - p0) * panel_bytes, n, act, a_row, t1 - t0, yb + p * kGemmRows, y_stride);
    }
  };
  const int64_t n_tasks = n_batch * n_row_tiles * n_tok_tiles;
  if (inline_only)
    run_tasks(0, n_tasks);
  else
    ThreadPool::global().parallel_for(n_tasks, 1, run_tasks);
}

// Weights with a packed copy (kernels/packed.h): 8-row groups, up to 4 tokens per pass over a
// group (decode streams the groups), or the GEMM on panels expanded from the groups.
// done (kernels/matmul.h): called per task when a task covers all tokens of its groups.
void run_packed(const PackedWeight& pw, const Tensor& x, Tensor& y, const uint8_t* act_buf,
                size_t a_row, bool inline_only, const RowsDone* done) {
  const PackedKernels& k = *pw.kernels;
  const int64_t n = pw.n_in, n_groups = pw.n_out / kPackRows, n_tok = x.ne(1);
  const uint8_t* data = pw.data();
  const size_t gb = pw.group_bytes;
  if (n_tok >= kGemmMinTokens && k.to_panel) {
    run_gemm(*gemm_kernels_avx2(pw.type), n, x, y, n_groups, act_buf, a_row, inline_only,
             [&](int64_t, int64_t, int64_t p, uint8_t* out) { k.to_panel(data + p * gb, n, out); });
    return;
  }
  float* y0 = reinterpret_cast<float*>(y.row(0));
  const size_t y_stride = y.nb(1) / sizeof(float);
  const int64_t tile_tok = n_tok <= kPackMaxCols ? n_tok : kTileTokens;
  const int64_t n_tok_tiles = (n_tok + tile_tok - 1) / tile_tok;
  // Groups per task: about kTileBytes of weights, fewer when that leaves threads idle.
  int64_t tile_groups = std::max<int64_t>(2, static_cast<int64_t>(kTileBytes / gb));
  while (tile_groups > 2 && ((n_groups + tile_groups - 1) / tile_groups) * n_tok_tiles <
                                8 * ThreadPool::global().size())
    tile_groups /= 2;
  const int64_t n_group_tiles = (n_groups + tile_groups - 1) / tile_groups;
  auto run_tasks = [&](int64_t b, int64_t e) {
    for (int64_t task = b; task < e; ++task) {
      const int64_t gt = task / n_tok_tiles, tt = task % n_tok_tiles;
      const int64_t g0 = gt * tile_groups, g1 = std::min(n_groups, g0 + tile_groups);
      const int64_t t0 = tt * tile_tok, t1 = std::min(n_tok, t0 + tile_tok);
      for (int64_t g = g0; g < g1; ++g) {
        const uint8_t* grp = data + static_cast<size_t>(g) * gb;
        for (int64_t t = t0; t < t1; t += kPackMaxCols)
          k.dot(grp, n, act_buf + t * a_row, a_row, static_cast<int>(std::min<int64_t>(kPackMaxCols, t1 - t)),
                y0 + t * y_stride + g * kPackRows, y_stride);
      }
      if (done) (*done)(g0 * kPackRows, g1 * kPackRows);
    }
  };
  const int64_t n_tasks = n_group_tiles * n_tok_tiles;
  if (inline_only)
    run_tasks(0, n_tasks);
  else
    ThreadPool::global().parallel_for(n_tasks, 1, run_tasks);
}

// matmul_cpu with matmul_many's per-row-tile work (kernels/matmul.h): with one token group and
// one batch matrix, done (if given) runs on each task's rows inside the parallel region;
// otherwise once over all rows at the end. Shapes are checked by the caller.
void matmul_cpu_done(const Tensor& w, const Tensor& x, Tensor& y, Isa isa, const RowsDone* done) {
  HELIX_CHECK(isa_available(isa), "matmul: this CPU cannot run the ", isa_name(isa), " kernels");
  const DotKernels* k = dot_kernels(w.dtype(), isa);
  HELIX_CHECK(k != nullptr, "matmul: weights of type ", dtype_name(w.dtype()),
              " are not supported on the CPU; convert the model to a supported type");
  const int64_t n = w.ne(0), n_rows = w.ne(1), n_tok = x.ne(1);
  const int64_t n_b2 = x.ne(2), n_batch = x.ne(2) * x.ne(3);
  if (n_rows == 0 || n_tok == 0 || n_batch == 0) return;
  ThreadPool& pool = ThreadPool::global();
  const size_t w_stride = w.nb(1);
  const bool has_done = done && *done;
  const RowsDone* tile_done = has_done && n_tok <= kMaxCols && n_batch == 1 ? done : nullptr;
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

  // A packed copy of the weights (AVX2 only): every row from there.
  if (isa == Isa::Avx2 && convert && n_batch == 1) {
    if (const PackedWeight* pw = find_packed(w)) {
      run_packed(*pw, x, y, act_buf, a_row, inline_only, tile_done);
      if (has_done && !tile_done) (*done)(0, n_rows);
      return;
    }
  }

  // Many tokens go through a GEMM only with packed weights (above), whose GEMM and row-group dots
  // do the same float operations per output: a token's result must not depend on how many tokens
  // share the call (a served stream gives the same text alone or in a batch).
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
      const int64_t r1 = std::min(n_rows, r0 + span * tile_rows);
      run_tile(*k, n, wm, w_stride, r0, r1, act, a_stride, t0, std::min(n_tok, t0 + tile_tok), y.row(0, i2, i3),
               y.nb(1));
      if (tile_done) (*tile_done)(r0, r1);
      task += span;
    }
  };
  const int64_t n_tasks = n_row_tiles * n_tok_tiles * n_batch;
  if (inline_only)
    run_tasks(0, n_tasks);
  else
    pool.parallel_for(n_tasks, 1, run_tasks);
  if (has_done && !tile_done) (*done)(0, n_rows);
}

}  // namespace

bool matmul_supports(DType t) { return dot_kernels_ref(t) != nullptr; }

void matmul_cpu(const Tensor& w, const Tensor& x, Tensor& y, Isa isa) {
  check_matmul(w, x, y);
  matmul_cpu_done(w, x, y, isa, nullptr);
}

void matmul_many(const Tensor* const* ws, Tensor* const* ys, int count, const Tensor& x, const RowsDone* done,
                 const PreTasks* pre) {
  const int64_t n_pre = pre ? pre->count : 0;
  // Decode with packed weights on AVX2: one activation conversion, one parallel region.
  const PackedWeight* pw[kMaxMany];
  bool fused = count <= kMaxMany && x.device() == Device::CPU && x.ne(1) <= kMaxCols &&
               x.ne(2) == 1 && x.ne(3) == 1 && best_isa() == Isa::Avx2;
  for (int i = 0; fused && i < count; ++i) {
    check_matmul(*ws[i], x, *ys[i]);
    pw[i] = find_packed(*ws[i]);
    fused = pw[i] && dot_kernels(pw[i]->type, Isa::Avx2)->act == ActFormat::Q8A;
  }
  if (!fused) {
    for (int64_t t = 0; t < n_pre; ++t) pre->run(t);
    for (int i = 0; i < count; ++i) {
      const RowsDone* d = done && done[i] ? &done[i] : nullptr;
      if (d && ws[i]->device() == Device::CPU && x.device() == Device::CPU) {
        check_matmul(*ws[i], x, *ys[i]);
        matmul_cpu_done(*ws[i], x, *ys[i], best_isa(), d);
        continue;
      }
      matmul(*ws[i], x, *ys[i]);
      if (d) (*d)(0, ys[i]->ne(0));
    }
    return;
  }
  const int64_t n = x.ne(0), n_tok = x.ne(1);
  const size_t a_row = act_row_bytes(ActFormat::Q8A, n);
  thread_local std::vector<uint8_t> scratch;
  scratch.resize(a_row * static_cast<size_t>(n_tok));
  const DotKernels* k0 = dot_kernels(pw[0]->type, Isa::Avx2);
  for (int64_t t = 0; t < n_tok; ++t)
    k0->quantize_act(reinterpret_cast<const float*>(x.row(t)), scratch.data() + t * a_row, n);
  const uint8_t* act = scratch.data();
  // Tasks: the pre tasks, then tiles of about kTileBytes of weight rows, weight after weight. Tasks
  // are handed out in order, so every pre task has been taken (and runs to its end) before any
  // thread reaches a tile: waiting for them before a done call cannot deadlock.
  int64_t first[kMaxMany + 1], tile[kMaxMany];
  first[0] = n_pre;
  std::atomic<int64_t> pre_left{n_pre};
  size_t total_bytes = 0;
  for (int i = 0; i < count; ++i) {
    const int64_t n_groups = pw[i]->n_out / kPackRows;
    tile[i] = std::max<int64_t>(2, static_cast<int64_t>(kTileBytes / pw[i]->group_bytes));
    first[i + 1] = first[i] + (n_groups + tile[i] - 1) / tile[i];
    total_bytes += pw[i]->group_bytes * static_cast<size_t>(n_groups);
  }
  auto run_tasks = [&](int64_t b, int64_t e) {
    int i = 0;
    for (int64_t task = b; task < e; ++task) {
      if (task < n_pre) {
        pre->run(task);
        pre_left.fetch_sub(1, std::memory_order_release);
        continue;
      }
      while (task >= first[i + 1]) ++i;
      const PackedWeight& p = *pw[i];
      const int64_t g0 = (task - first[i]) * tile[i], g1 = std::min(p.n_out / kPackRows, g0 + tile[i]);
      float* y0 = reinterpret_cast<float*>(ys[i]->row(0));
      const size_t y_stride = ys[i]->nb(1) / sizeof(float);
      for (int64_t g = g0; g < g1; ++g)
        p.kernels->dot(p.data() + static_cast<size_t>(g) * p.group_bytes, n, act, a_row,
                       static_cast<int>(n_tok), y0 + g * kPackRows, y_stride);
      if (done && done[i]) {
        while (pre_left.load(std::memory_order_acquire) > 0) std::this_thread::yield();
        done[i](g0 * kPackRows, g1 * kPackRows);
      }
    }
  };
  if (ThreadPool::global().size() == 1 || total_bytes < 32 * 1024)
    run_tasks(0, first[count]);  // pre tasks first: nothing waits
  else
    ThreadPool::global().parallel_for(first[count], 1, run_tasks);
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
