#include "core/thread_pool.h"

#include <algorithm>
#include <cstdlib>
#include <memory>

namespace helix {
namespace {

// Waits until a counter of busy workers reaches zero: spin briefly, then yield so that a
// preempted worker (an oversubscribed machine) gets the core back instead of watching us spin.
void wait_for_zero(const std::atomic<int>& count, std::memory_order order) {
  for (int spin = 0; count.load(order) != 0; ++spin) {
    if (spin < 4000) {
#if defined(__x86_64__)
      __builtin_ia32_pause();
#endif
    } else {
      std::this_thread::yield();
    }
  }
}

}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
  for (int i = 1; i < n_threads_; ++i) threads_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
    generation_.fetch_add(1);
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    // Spin a little: kernels come in quick succession during a forward pass.
    for (int spin = 0; spin < 20000 && generation_.load(std::memory_order_acquire) == seen; ++spin) {
#if defined(__x86_64__)
      __builtin_ia32_pause();
#endif
      if (spin % 1024 == 1023) std::this_thread::yield();
    }
    const std::function<void(int, int)>* job;
    bool optional;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] { return generation_.load() != seen; });
      seen = generation_.load();
      if (stop_) return;
      job = job_;
      optional = optional_;
    }
    if (!optional) {
      (*job)(index, n_threads_);
      pending_.fetch_sub(1, std::memory_order_acq_rel);
      continue;
    }
    // Join only while the caller has not closed this job; after close() the job (and *job) may
    // be gone. Both sides use seq_cst, so either the caller sees active_ or we see the close.
    active_.fetch_add(1, std::memory_order_seq_cst);
    if (open_.load(std::memory_order_seq_cst) == seen) (*job)(index, n_threads_);
    active_.fetch_sub(1, std::memory_order_release);
  }
}

void ThreadPool::start(const std::function<void(int, int)>* fn, bool optional) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    job_ = fn;
    optional_ = optional;
    const uint64_t g = generation_.load() + 1;
    if (optional_) open_.store(g, std::memory_order_seq_cst);
    else pending_.store(n_threads_ - 1);
    generation_.store(g, std::memory_order_release);
  }
  cv_.notify_all();
}

void ThreadPool::run(const std::function<void(int, int)>& fn) {
  if (n_threads_ == 1) {
    fn(0, 1);
    return;
  }
  start(&fn, false);
  fn(0, n_threads_);
  wait_for_zero(pending_, std::memory_order_acquire);
}

void ThreadPool::parallel_for(int64_t n, int64_t grain,
                              const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  if (n_threads_ == 1 || n <= grain) {
    fn(0, n);
    return;
  }
  // Chunks small enough to balance, large enough to amortize the atomic.
  const int64_t chunk = std::max(grain, n / (static_cast<int64_t>(n_threads_) * 8));
  std::atomic<int64_t> next{0};
  const std::function<void(int, int)> job = [&](int, int) {
    for (;;) {
      const int64_t b = next.fetch_add(chunk, std::memory_order_relaxed);
      if (b >= n) break;
      fn(b, std::min(n, b + chunk));
    }
  };
  start(&job, true);
  job(0, n_threads_);
  // Every chunk is taken. Close the job to workers that have not joined yet, then wait for those
  // that did (they are finishing their last chunk).
  open_.store(0, std::memory_order_seq_cst);
  wait_for_zero(active_, std::memory_order_seq_cst);
}

namespace {
std::unique_ptr<ThreadPool>& global_slot() {
  static std::unique_ptr<ThreadPool> pool;
  return pool;
}
int default_threads() {
  if (const char* s = std::getenv("HELIX_THREADS")) {
    const int n = std::atoi(s);
    if (n > 0) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}
}  // namespace

ThreadPool& ThreadPool::global() {
  auto& p = global_slot();
  if (!p) p = std::make_unique<ThreadPool>(default_threads());
  return *p;
}

void ThreadPool::set_global_threads(int n) {
  auto& p = global_slot();
  if (p && p->size() == n) return;
  p = std::make_unique<ThreadPool>(n);
}

}  // namespace helix
