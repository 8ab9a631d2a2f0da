// ThreadPool under stress: parallel_for mixed with run(), tiny jobs back to back (workers that
// arrive late must skip a finished job without touching it), more threads than cores.
#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "core/thread_pool.h"

namespace helix {
namespace {

TEST(ThreadPool, TinyJobsBackToBackMixedWithRun) {
  ThreadPool pool(4);  // more threads than this machine may have cores: workers arrive late
  std::vector<int64_t> sums;
  for (int rep = 0; rep < 20000; ++rep) {
    const int64_t n = 1 + rep % 37;
    std::vector<int> hits(static_cast<size_t>(n), 0);  // dies at the end of the iteration
    pool.parallel_for(n, 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
    });
    for (int h : hits) ASSERT_EQ(h, 1);
    if (rep % 7 == 0) {
      std::vector<std::atomic<int>> seen(4);
      pool.run([&](int i, int nt) {
        ASSERT_EQ(nt, 4);
        seen[static_cast<size_t>(i)]++;
      });
      for (auto& s : seen) ASSERT_EQ(s.load(), 1);  // run() still runs on every thread
    }
  }
}

TEST(ThreadPool, SingleThreadRunsInline) {
  ThreadPool pool(1);
  int64_t total = 0;
  pool.parallel_for(1000, 1, [&](int64_t b, int64_t e) { total += e - b; });
  EXPECT_EQ(total, 1000);
}

}  // namespace
}  // namespace helix
