// ThreadPool: persistent worker threads shared by all kernels. The calling thread takes part in
// the work, so a pool of n threads runs n-1 workers. Workers spin briefly before sleeping so
// that back-to-back ops do not pay a wake-up each.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace helix {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Runs fn(thread_index, n_threads) once on each thread (the caller is thread 0) and waits.
  void run(const std::function<void(int, int)>& fn);

  // Splits [0, n) into chunks of at least `grain` items handed out dynamically; calls
  // fn(begin, end) for each chunk and waits for all.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

  // The process-wide pool: HELIX_THREADS if set, otherwise the number of cores.
  static ThreadPool& global();
  // Resize the process-wide pool (for -t); not thread-safe against concurrent use.
  static void set_global_threads(int n);

 private:
  void worker(int index);

  int n_threads_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  const std::function<void(int, int)>* job_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  bool stop_ = false;
};

}  // namespace helix
