// A fixed-size thread pool with a parallel-for in which the calling thread takes part, so a
// parallel_for issued from inside a pool task cannot deadlock. No LibTorch.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace rlvr::verifiers {

// Thread-safe. Not copyable. The destructor finishes queued tasks, then joins.
class ThreadPool {
 public:
  // REQUIRES: num_threads >= 0; 0 means std::thread::hardware_concurrency().
  explicit ThreadPool(int num_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(threads_.size()); }

  // Runs `task` on a pool thread. The task must not throw.
  void submit(std::function<void()> task);

  // Calls fn(i) for i in [0, n) on the pool and the calling thread; returns when all are done.
  // `fn` must not throw.
  void parallel_for(size_t n, const std::function<void(size_t)>& fn);

 private:
  void worker();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace rlvr::verifiers
