// learner/distributed.h: the rank settings from the environment and the config, the slices, and
// a real two-rank Gloo group on loopback (two threads of this process, each a rank): sums,
// maxima, broadcasts, gradient sums, and the timeouts when a rank is missing or gone.
#include "learner/distributed.h"

#include <future>
#include <map>
#include <thread>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/log.h"
#include "tests/test_util.h"

namespace rlvr::learner {
namespace {

using rlvr::testing::error_message;

std::function<const char*(const char*)> env_of(const std::map<std::string, std::string>& vars) {
  auto copy = std::make_shared<std::map<std::string, std::string>>(vars);
  return [copy](const char* name) -> const char* {
    auto it = copy->find(name);
    return it == copy->end() ? nullptr : it->second.c_str();
  };
}

TEST(DistSettings, OneRankNeedsNothing) {
  core::Config c;
  DistSettings s = dist_settings(c, env_of({}));
  EXPECT_EQ(s.world_size, 1);
  EXPECT_EQ(s.rank, 0);
  EXPECT_EQ(s.master_addr, "127.0.0.1");
  EXPECT_EQ(s.master_port, 29500);
  EXPECT_EQ(s.timeout.count(), 600000);
}

TEST(DistSettings, TheEnvironmentOfTorchrunGivesRankAndRendezvous) {
  core::Config c;
  c.learner.dist_timeout_s = 30;
  DistSettings s = dist_settings(c, env_of({{"WORLD_SIZE", "4"}, {"RANK", "3"}, {"MASTER_ADDR", "10.0.0.7"},
                                            {"MASTER_PORT", "29611"}, {"GLOO_SOCKET_IFNAME", "eth1"}}));
  EXPECT_EQ(s.world_size, 4);
  EXPECT_EQ(s.rank, 3);
  EXPECT_EQ(s.master_addr, "10.0.0.7");
  EXPECT_EQ(s.master_port, 29611);
  EXPECT_EQ(s.interface, "eth1");
  EXPECT_EQ(s.timeout.count(), 30000);
}

TEST(DistSettings, TheConfigGivesTheWorldSizeAndTheEnvironmentTheRank) {
  core::Config c;
  c.learner.world_size = 2;
  c.learner.master_port = 31000;
  c.learner.dist_interface = "lo";
  DistSettings s = dist_settings(c, env_of({{"RANK", "1"}}));
  EXPECT_EQ(s.world_size, 2);
  EXPECT_EQ(s.rank, 1);
  EXPECT_EQ(s.master_port, 31000);
  EXPECT_EQ(s.interface, "lo");
}

TEST(DistSettings, BadEnvironmentsAreClearErrors) {
  core::Config c;
  c.learner.world_size = 2;
  EXPECT_NE(error_message([&] { dist_settings(c, env_of({})); }).find("the environment variable RANK is not set"),
            std::string::npos);
  EXPECT_NE(error_message([&] { dist_settings(c, env_of({{"RANK", "2"}})); })
                .find("environment variable RANK='2': expected an integer in [0, 1]"),
            std::string::npos);
  EXPECT_NE(error_message([&] { dist_settings(c, env_of({{"RANK", "0"}, {"MASTER_PORT", "http"}})); })
                .find("MASTER_PORT='http'"),
            std::string::npos);
  EXPECT_NE(error_message([&] { dist_settings(c, env_of({{"RANK", "0"}, {"WORLD_SIZE", "3"}})); })
                .find("WORLD_SIZE=3 contradicts learner.world_size 2"),
            std::string::npos);
  // learner.world_size 1 (the default, also in a resolved config.yaml): the environment's is taken.
  c.learner.world_size = 1;
  EXPECT_EQ(dist_settings(c, env_of({{"RANK", "2"}, {"WORLD_SIZE", "3"}})).world_size, 3);
}

TEST(RankSlice, ContiguousCoverWithSizesWithinOne) {
  for (int64_t n : {0, 1, 5, 8, 13}) {
    for (int64_t w : {1, 2, 3, 4, 7}) {
      int64_t next = 0;
      for (int64_t r = 0; r < w; ++r) {
        auto [b, e] = rank_slice(n, r, w);
        EXPECT_EQ(b, next) << n << " " << w << " " << r;
        EXPECT_TRUE(e - b == n / w || e - b == n / w + 1) << n << " " << w << " " << r;
        next = e;
      }
      EXPECT_EQ(next, n);
    }
  }
  EXPECT_EQ(rank_slice(5, 0, 2), (std::pair<int64_t, int64_t>{0, 3}));
  EXPECT_EQ(rank_slice(5, 1, 2), (std::pair<int64_t, int64_t>{3, 5}));
}

DistSettings local(int64_t rank, int port, int64_t timeout_ms = 20000) {
  DistSettings s;
  s.rank = rank;
  s.world_size = 2;
  s.master_addr = "127.0.0.1";
  s.master_port = port;
  s.timeout = std::chrono::milliseconds(timeout_ms);
  return s;
}

// Runs `fn(rank, group)` on two ranks (threads) and returns when both are done; exceptions fail.
void two_ranks(const std::function<void(int64_t, DataParallel&)>& fn) {
  const int port = rlvr::testing::free_tcp_port();
  ASSERT_GT(port, 0);
  auto run = [&](int64_t rank) {
    DataParallel dp(local(rank, port));
    fn(rank, dp);
  };
  auto other = std::async(std::launch::async, run, 1);
  run(0);
  other.get();
}

TEST(DataParallel, CollectivesOnTwoRanks) {
  core::init_logging("warn");
  two_ranks([](int64_t rank, DataParallel& dp) {
    EXPECT_EQ(dp.world_size(), 2);
    EXPECT_EQ(dp.is_main(), rank == 0);
    const double r = static_cast<double>(rank);
    // Sums of several tensors of two dtypes at once.
    at::Tensor a = torch::tensor({1.0 + r, 10.0 * r}, torch::kDouble);
    at::Tensor b = torch::full({2, 2}, 1.5f + static_cast<float>(rank));
    at::Tensor c = torch::tensor({static_cast<int64_t>(rank + 1)}, torch::kLong);
    dp.sum_({a, b, c}, "a test sum");
    EXPECT_TRUE(torch::equal(a, torch::tensor({3.0, 10.0}, torch::kDouble)));
    EXPECT_TRUE(torch::equal(b, torch::full({2, 2}, 4.0f)));
    EXPECT_EQ(c.item<int64_t>(), 3);
    // Maximum.
    at::Tensor m = torch::tensor({rank == 0 ? 7.0 : 2.0, rank == 0 ? -1.0 : 5.0}, torch::kDouble);
    dp.max_(m, "a test max");
    EXPECT_TRUE(torch::equal(m, torch::tensor({7.0, 5.0}, torch::kDouble)));
    // Bytes from either root, including an empty message.
    EXPECT_EQ(dp.broadcast_bytes(rank == 0 ? std::string("from rank 0\0!", 13) : "ignored", "bytes"),
              std::string("from rank 0\0!", 13));
    EXPECT_EQ(dp.broadcast_bytes(rank == 1 ? "one" : "", "bytes", /*root=*/1), "one");
    EXPECT_EQ(dp.broadcast_bytes("", "nothing"), "");
    // Tensors from rank 0.
    at::Tensor w = torch::full({3}, static_cast<float>(rank + 1));
    dp.broadcast_({w}, "weights");
    EXPECT_TRUE(torch::equal(w, torch::full({3}, 1.0f)));
    // Gradients: rank 1's second parameter has none (it counts as zeros and gets one).
    at::Tensor p1 = torch::zeros({2}, torch::requires_grad());
    at::Tensor p2 = torch::zeros({3}, torch::requires_grad());
    at::Tensor frozen = torch::zeros({4});
    (p1 * (r + 1)).sum().backward();
    if (rank == 0) (p2 * 2).sum().backward();
    dp.sum_gradients({p1, p2, frozen}, "gradients");
    EXPECT_TRUE(torch::equal(p1.grad(), torch::full({2}, 3.0f)));
    ASSERT_TRUE(p2.grad().defined());
    EXPECT_TRUE(torch::equal(p2.grad(), torch::full({3}, 2.0f)));
    EXPECT_FALSE(frozen.grad().defined());
    dp.barrier("the end");
  });
}

TEST(DataParallel, AMissingRankEndsTheRendezvousWithAClearError) {
  core::init_logging("warn");
  const int port = rlvr::testing::free_tcp_port();
  const std::string msg = error_message([&] { DataParallel dp(local(0, port, /*timeout_ms=*/1500)); });
  EXPECT_NE(msg.find("learner rank 0/2: rendezvous at 127.0.0.1:" + std::to_string(port)), std::string::npos) << msg;
  EXPECT_NE(msg.find("learner.dist_timeout_s"), std::string::npos) << msg;
}

TEST(DataParallel, ARankThatLeftFailsTheNextCollective) {
  core::init_logging("warn");
  const int port = rlvr::testing::free_tcp_port();
  std::promise<void> left;
  auto other = std::async(std::launch::async, [&] {
    {
      DataParallel dp(local(1, port, 3000));
    }  // rank 1 leaves: its connections close
    left.set_value();
  });
  DataParallel dp(local(0, port, 3000));
  left.get_future().wait();
  other.get();
  at::Tensor t = torch::ones({1});
  const std::string msg = error_message([&] { dp.sum_({t}, "the gradients of step 7"); });
  EXPECT_NE(msg.find("learner rank 0: the gradients of step 7 failed"), std::string::npos) << msg;
}

}  // namespace
}  // namespace rlvr::learner
