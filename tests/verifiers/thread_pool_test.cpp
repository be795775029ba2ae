// ThreadPool: every index once, nesting, and exceptions captured and rethrown on the caller.
#include "verifiers/thread_pool.h"

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"

namespace rlvr::verifiers {
namespace {

TEST(ThreadPool, ThrowingCallIsRethrownOnTheCaller) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> hits(5000);
  try {
    pool.parallel_for(hits.size(), [&](size_t i) {
      hits[i].fetch_add(1);
      if (i == 1234) throw std::invalid_argument("row 1234 is bad");
    });
    FAIL() << "parallel_for swallowed the exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "row 1234 is bad");
  }
  EXPECT_EQ(hits[1234].load(), 1);
  for (auto& h : hits) EXPECT_LE(h.load(), 1);  // nothing ran twice
}

TEST(ThreadPool, CallbackIsNeverUsedAfterParallelForReturns) {
  ThreadPool pool(4);
  std::atomic<bool> returned{false};
  std::atomic<int> late{0};
  for (int round = 0; round < 50; ++round) {
    returned = false;
    try {
      pool.parallel_for(64, [&](size_t i) {
        if (returned.load()) late.fetch_add(1);
        if (i % 7 == 3) throw Error("bad row");
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      });
    } catch (const Error&) {
    }
    returned = true;
  }
  // Give straggling helper tasks the chance to run (they must find no work).
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(late.load(), 0);
}

TEST(ThreadPool, ThrowOnTheCallingThreadWaitsForHelpers) {
  ThreadPool pool(2);
  std::atomic<int> inside{0}, max_after{0};
  const auto caller = std::this_thread::get_id();
  EXPECT_THROW(pool.parallel_for(400,
                                 [&](size_t) {
                                   inside.fetch_add(1);
                                   std::this_thread::sleep_for(std::chrono::microseconds(100));
                                   inside.fetch_sub(1);
                                   if (std::this_thread::get_id() == caller) throw std::runtime_error("caller");
                                 }),
               std::runtime_error);
  max_after = inside.load();
  EXPECT_EQ(max_after.load(), 0);  // nobody is still inside fn when the exception reaches us
}

TEST(ThreadPool, SubmitHandsTheExceptionToTheFuture) {
  ThreadPool pool(1);
  auto ok = pool.submit([] {});
  auto bad = pool.submit([] { throw std::runtime_error("task failed"); });
  EXPECT_NO_THROW(ok.get());
  EXPECT_THROW(bad.get(), std::runtime_error);
  // The pool thread survived: it still runs tasks.
  std::atomic<int> ran{0};
  pool.submit([&] { ran = 1; }).get();
  EXPECT_EQ(ran.load(), 1);
}

TEST(ThreadPool, RejectsAbsurdThreadCounts) {
  try {
    ThreadPool pool(100000);
    FAIL() << "100000 threads accepted";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "thread pool: 100000 threads requested; expected 0 (every core) to 1024");
  }
  EXPECT_THROW(ThreadPool(-1), Error);
}

TEST(ThreadPool, DestructorRunsQueuedTasks) {
  std::atomic<int> ran{0};
  {
    ThreadPool pool(1);
    for (int i = 0; i < 20; ++i) pool.submit([&] { ran.fetch_add(1); });
  }
  EXPECT_EQ(ran.load(), 20);
}

}  // namespace
}  // namespace rlvr::verifiers
