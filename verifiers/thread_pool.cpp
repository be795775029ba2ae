// ThreadPool over boost::asio::thread_pool: exception capture in submit() and parallel_for().
#include "verifiers/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "core/error.h"

namespace rlvr::verifiers {

struct ThreadPool::Impl {
  explicit Impl(size_t n) : pool(n) {}
  boost::asio::thread_pool pool;
};

ThreadPool::ThreadPool(int num_threads) {
  RLVR_CHECK(num_threads >= 0 && num_threads <= kMaxThreads,
             "thread pool: {} threads requested; expected 0 (every core) to {}", num_threads, kMaxThreads);
  if (num_threads == 0) num_threads = static_cast<int>(std::thread::hardware_concurrency());
  num_threads = std::clamp(num_threads, 1, kMaxThreads);
  try {
    impl_ = std::make_unique<Impl>(static_cast<size_t>(num_threads));
  } catch (const std::system_error& e) {
    throw Error(fmt::format("thread pool: cannot start {} threads: {}", num_threads, e.what()));
  }
  size_ = num_threads;
}

ThreadPool::~ThreadPool() {
  // join() without stop(): runs every task already posted, then ends the threads.
  impl_->pool.join();
}

std::future<void> ThreadPool::submit(std::function<void()> task) {
  auto packaged = std::make_shared<std::packaged_task<void()>>(std::move(task));
  std::future<void> result = packaged->get_future();
  // packaged_task stores an exception in the future instead of letting it escape.
  boost::asio::post(impl_->pool, [packaged] { (*packaged)(); });
  return result;
}

void ThreadPool::parallel_for(size_t n, const std::function<void(size_t)>& fn) {
  if (n == 0) return;
  // Shared with helper tasks that may start after this call returned: they find no index left
  // (next >= n) and return without touching `fn`.
  struct State {
    std::atomic<size_t> next{0};
    std::atomic<size_t> settled{0};  // indices run or skipped; fn is not in use once it reaches n
    std::atomic<bool> failed{false};
    std::mutex mu;
    std::condition_variable cv;
    std::exception_ptr error;  // the first exception; guarded by mu
    const std::function<void(size_t)>* fn = nullptr;
    size_t n = 0;
  };
  auto st = std::make_shared<State>();
  st->fn = &fn;
  st->n = n;
  // Chunks amortise the atomic increments for cheap verifiers.
  const size_t chunk = std::max<size_t>(1, n / (static_cast<size_t>(size_ + 1) * 8));
  auto run = [st, chunk] {
    while (true) {
      const size_t begin = st->next.fetch_add(chunk);
      if (begin >= st->n) return;
      const size_t end = std::min(st->n, begin + chunk);
      for (size_t i = begin; i < end; ++i) {
        if (st->failed.load(std::memory_order_relaxed)) break;  // skip the rest of the work
        try {
          (*st->fn)(i);
        } catch (...) {
          std::lock_guard<std::mutex> lock(st->mu);
          if (!st->error) st->error = std::current_exception();
          st->failed.store(true);
        }
      }
      if (st->settled.fetch_add(end - begin) + (end - begin) == st->n) {
        std::lock_guard<std::mutex> lock(st->mu);
        st->cv.notify_all();
      }
    }
  };
  const size_t helpers = std::min<size_t>(static_cast<size_t>(size_), (n + chunk - 1) / chunk);
  for (size_t i = 0; i < helpers; ++i) boost::asio::post(impl_->pool, run);
  run();
  std::unique_lock<std::mutex> lock(st->mu);
  st->cv.wait(lock, [&] { return st->settled.load() == n; });
  // Take the exception out of the shared state: a helper task may drop the last reference to
  // `st` after this call returned, and the exception object must not be freed on that thread
  // while the caller still reads it (ThreadSanitizer saw that hand-off only through libstdc++'s
  // uninstrumented exception refcount and reported a race).
  std::exception_ptr error = std::exchange(st->error, nullptr);
  if (error) std::rethrow_exception(error);
}

}  // namespace rlvr::verifiers
