// for_row_ranges: the decoder's row-parallel loop for elementwise work (norms, adds, RoPE),
// shared by decoder.cpp and decoder_attention.cpp.
#pragma once

#include <algorithm>
#include <cstdint>

#include "core/thread_pool.h"

namespace helix::model {

// fn(r0, r1) over rows [0, n_rows) of d floats: inline when small, else on the pool.
template <typename F>
void for_row_ranges(int64_t n_rows, int64_t d, F&& fn) {
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(d, 1));
  if (n_rows <= grain || ThreadPool::global().size() == 1) {
    fn(int64_t{0}, n_rows);
    return;
  }
  ThreadPool::global().parallel_for(n_rows, grain, [&](int64_t b, int64_t e) { fn(b, e); });
}

}  // namespace helix::model
