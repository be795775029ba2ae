#include "verifiers/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <memory>

namespace rlvr::verifiers {

ThreadPool::ThreadPool(int num_threads) {
  if (num_threads <= 0) num_threads = static_cast<int>(std::thread::hardware_concurrency());
  if (num_threads <= 0) num_threads = 1;
  for (int i = 0; i < num_threads; ++i) threads_.emplace_back([this] { worker(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::submit(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.push_back(std::move(task));
  }
  cv_.notify_one();
}

void ThreadPool::worker() {
  while (true) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !tasks_.empty(); });
      if (tasks_.empty()) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

void ThreadPool::parallel_for(size_t n, const std::function<void(size_t)>& fn) {
  if (n == 0) return;
  // Shared with helper tasks that may start after this call returned (they then find no work).
  struct State {
    std::atomic<size_t> next{0};
    std::atomic<size_t> done{0};
    std::mutex mu;
    std::condition_variable cv;
    const std::function<void(size_t)>* fn;
    size_t n;
  };
  auto st = std::make_shared<State>();
  st->fn = &fn;
  st->n = n;
  // Chunks amortise the atomic increments for cheap verifiers.
  size_t chunk = std::max<size_t>(1, n / (static_cast<size_t>(size() + 1) * 8));
  auto run = [st, chunk] {
    while (true) {
      size_t begin = st->next.fetch_add(chunk);
      if (begin >= st->n) return;
      size_t end = std::min(st->n, begin + chunk);
      for (size_t i = begin; i < end; ++i) (*st->fn)(i);
      if (st->done.fetch_add(end - begin) + (end - begin) == st->n) {
        std::lock_guard<std::mutex> lock(st->mu);
        st->cv.notify_all();
      }
    }
  };
  size_t helpers = std::min<size_t>(static_cast<size_t>(size()), (n + chunk - 1) / chunk);
  for (size_t i = 0; i < helpers; ++i) submit(run);
  run();
  std::unique_lock<std::mutex> lock(st->mu);
  st->cv.wait(lock, [&] { return st->done.load() == n; });
}

}  // namespace rlvr::verifiers
