// Matrix multiplication with weights in any of the formats models ship in:
//   y[n_out, n_tok] = W[n_out, n_in] . x[n_in, n_tok]
// in ggml order: w.ne = {n_in, n_out} (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K,
// Q4_K, Q5_K, Q6_K), x.ne = {n_in, n_tok} f32, y.ne = {n_out, n_tok} f32. Dims 2 and 3 are batch
// dims: w's are broadcast over x's as in ggml (x.ne[2] a multiple of w.ne[2], consecutive x
// matrices sharing one w matrix, e.g. query heads sharing a key head).
//
// The CPU path converts x once into 8-bit blocks matching the weight type (kernels/vec_dot.h) and
// computes integer block dot products, multithreaded over output rows (and token tiles for
// prefill) on ThreadPool::global(). n_tok == 1 is the decode path (matrix-vector); for n_tok > 1
// each weight row is unpacked once per kMaxCols tokens, over cache-sized tiles of rows.
//
// On AVX2, many tokens (n_tok >= 8) of Q4_0/Q4_1/Q5_0/Q5_1/Q4_K weights go through a GEMM on
// 8-row interleaved panels (kernels/gemm.h). Weights a model packed at load time (Q5_0, Q8_0:
// kernels/packed.h) are found by their data pointer and read in the packed layout instead of the
// file's; callers that go through matmul() do not change. The scalar path reads the file layout.
#pragma once

#include <functional>

#include "core/op.h"
#include "core/tensor.h"
#include "kernels/isa.h"

namespace helix::kernels {

using MatmulSig = void(const Tensor& w, const Tensor& x, Tensor& y);

// Checks shapes and types, then runs the implementation for the tensors' device. y must be
// allocated with the right shape and must not overlap w or x. Throws helix::Error on misuse.
void matmul(const Tensor& w, const Tensor& x, Tensor& y);

// The op behind matmul(): the CPU entry is registered on first use; other backends set theirs.
Op<MatmulSig>& matmul_op();

// y_i = W_i . x for up to kMaxMany weights sharing x (q/k/v, gate/up). Decoding with packed
// weights (kernels/packed.h) on the CPU converts x once and runs all of them in one parallel
// region; otherwise it is matmul() for each. Same results as separate matmul calls.
inline constexpr int kMaxMany = 4;
// done (null, or one per weight, each possibly empty): work on output rows [r0, r1) of every
// token, called once the product wrote them, on the thread that wrote them, inside the parallel
// region (LoRA adds its B·(A·x) there: kernels/lora.h). Calls cover each weight's rows exactly
// once. On the CPU with few tokens (x.ne(1) <= kMaxCols, one batch matrix) the calls follow the
// row tiles; otherwise one call over all rows after the product, on the calling thread.
using RowsDone = std::function<void(int64_t r0, int64_t r1)>;
// pre (null, or a task count and what each task does): the work the done calls depend on (LoRA's
// A·x), run as the first tasks of the same parallel region, each once on whichever thread takes
// it; all of them have finished before the first done call. Without the fused path they run on
// the calling thread before the products.
struct PreTasks {
  int64_t count = 0;
  std::function<void(int64_t task)> run;
};
void matmul_many(const Tensor* const* ws, Tensor* const* ys, int count, const Tensor& x,
                 const RowsDone* done = nullptr, const PreTasks* pre = nullptr);

// Whether matmul takes weights of type t on the CPU.
bool matmul_supports(DType t);

// The CPU implementation on a chosen path (tests and benchmarks compare paths; throws if the CPU
// lacks it).
void matmul_cpu(const Tensor& w, const Tensor& x, Tensor& y, Isa isa);

}  // namespace helix::kernels
