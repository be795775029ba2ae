// A fixed-size thread pool (Boost.Asio's thread_pool underneath) with a parallel-for in which the
// calling thread takes part, so a parallel_for issued from inside a pool task cannot deadlock.
// Exceptions never escape a pool thread: a throwing task is captured and handed to the caller.
// No LibTorch.
#pragma once

#include <cstddef>
#include <functional>
#include <future>
#include <memory>

namespace rlvr::verifiers {

// Thread-safe: submit() and parallel_for() may be called from any thread, including pool
// threads. Not copyable. The destructor waits for every submitted task, then joins.
class ThreadPool {
 public:
  // Upper bound on num_threads: more would only thrash (and tens of thousands exhaust memory).
  static constexpr int kMaxThreads = 1024;

  // REQUIRES: 0 <= num_threads <= kMaxThreads; 0 means std::thread::hardware_concurrency().
  // Throws rlvr::Error for a value outside that range or when the threads cannot be started.
  explicit ThreadPool(int num_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return size_; }

  // Runs `task` on a pool thread. The returned future becomes ready when the task ends and
  // rethrows what the task threw (an exception never reaches the pool thread's top level).
  std::future<void> submit(std::function<void()> task);

  // Calls fn(i) for i in [0, n) on the pool and the calling thread; returns when all are done.
  // If a call throws, indices not yet started are skipped, parallel_for waits until no thread
  // is still inside `fn`, and then rethrows the first exception on the calling thread. `fn` is
  // never called after parallel_for has returned or thrown.
  void parallel_for(size_t n, const std::function<void(size_t)>& fn);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int size_ = 0;
};

}  // namespace rlvr::verifiers
