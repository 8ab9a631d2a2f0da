// ThreadPool: persistent worker threads shared by all kernels. The calling thread takes part in
// the work, so a pool of n threads runs n-1 workers. Workers spin briefly before sleeping so
// that back-to-back ops do not pay a wake-up each.
//
// parallel_for hands out chunks from an atomic counter and does not wait for workers that have
// not started by the time the work is done: on a busy machine a descheduled worker costs the op
// nothing (the threads that run take its chunks) instead of stalling it until it is scheduled.
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
  // fn(begin, end) for each chunk (on any thread, possibly all on the caller) and waits for all.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

  // The process-wide pool: HELIX_THREADS if set, otherwise the number of cores.
  static ThreadPool& global();
  // Resize the process-wide pool (for -t); not thread-safe against concurrent use.
  static void set_global_threads(int n);

 private:
  void worker(int index);
  // Publishes a job; with `optional` workers that arrive after close() skip it.
  void start(const std::function<void(int, int)>* fn, bool optional);

  int n_threads_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  const std::function<void(int, int)>* job_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};      // run(): workers yet to finish the job
  std::atomic<int> active_{0};       // parallel_for: workers inside the job
  std::atomic<uint64_t> open_{0};    // parallel_for: generation still open to late workers
  bool optional_ = false;            // the current job is a parallel_for (guarded by mu_)
  bool stop_ = false;
};

}  // namespace helix
