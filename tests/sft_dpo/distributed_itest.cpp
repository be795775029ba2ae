// `rlvr train` on two data-parallel ranks (learner/distributed.h: real processes, Gloo over
// loopback) against one rank on the same global batch: SFT and DPO end with the same weights
// within float tolerance, only rank 0 writes the run directory, and a checkpoint written by two
// ranks resumes on one rank to the same end.
#include <filesystem>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/fs.h"
#include "core/log.h"
#include "core/model/checkpoint.h"
#include "tests/sft_dpo/tiny_world.h"
#include "tests/test_util.h"

namespace rlvr {
namespace {

namespace fs = std::filesystem;
using rlvr::testing::run_command;
using rlvr::testing::TempDir;
using Weights = std::map<std::string, at::Tensor>;

Weights weights_in(const std::string& dir) {
  auto m = core::load_causal_lm(dir);
  Weights out;
  for (const auto& item : m->named_parameters()) out[item.key()] = item.value().detach().clone();
  return out;
}

double max_abs_diff(const Weights& a, const Weights& b) {
  double d = 0;
  for (const auto& [k, v] : a) d = std::max(d, (v - b.at(k)).abs().max().item<double>());
  return d;
}

std::string config_text(const std::string& out_dir, const std::string& model, const std::string& mode,
                        const std::string& data, int64_t max_steps) {
  return fmt::format(R"(run:
  output_dir: {0}
  threads: 1
  log_level: info
model:
  path: {1}
train:
  mode: {2}
  train_file: {3}
  max_seq_len: 128
  batch_size: 4
  grad_accum_steps: 3
  max_steps: {4}
  checkpoint_every: 2
  keep_checkpoints: 5
  log_every: 1
optim:
  learning_rate: 0.005
  warmup_ratio: 0
learner:
  dist_timeout_s: 120
)",
                     out_dir, model, mode, data, max_steps);
}

class TrainRanks : public ::testing::Test {
 protected:
  void SetUp() override {
    core::init_logging("warn");
    world_ = rlvr::testing::make_tiny_world(dir_.path(), 48);
  }

  // Trains `mode` on one rank and on two, returns (one rank's final weights, two ranks').
  std::pair<Weights, Weights> one_vs_two(const std::string& mode, const std::string& data) {
    const std::string bin = RLVR_BINARY;
    const std::string one = dir_.path() + "/one-" + mode, two = dir_.path() + "/two-" + mode;
    const std::string y1 = dir_.write("one-" + mode + ".yaml", config_text(one, world_.model_dir, mode, data, 4));
    const std::string y2 = dir_.write("two-" + mode + ".yaml", config_text(two, world_.model_dir, mode, data, 4));
    auto r = run_command(bin + " train --config " + y1);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    fs::create_directories(dir_.path() + "/scratch-" + mode);
    auto ranks = rlvr::testing::run_ranks(bin + " train --config " + y2, 2, rlvr::testing::free_tcp_port(),
                                          dir_.path() + "/scratch-" + mode);
    for (size_t i = 0; i < ranks.size(); ++i) EXPECT_EQ(ranks[i].exit_code, 0) << "rank " << i << ":\n" << ranks[i].output;
    EXPECT_NE(ranks[1].output.find("learner rank 1 of 2"), std::string::npos) << ranks[1].output;
    // Rank 0 alone wrote the run directory; rank 1 only its log.
    EXPECT_TRUE(fs::exists(two + "/final/model.safetensors"));
    EXPECT_TRUE(fs::exists(two + "/logs/rank-1.log"));
    EXPECT_TRUE(fs::exists(two + "/checkpoints/step-00000004"));
    EXPECT_FALSE(fs::exists(two + "/logs/rank-0.log")) << "rank 0 logs to logs/rlvr.log";
    const std::string metrics = core::read_file(two + "/metrics.jsonl");
    EXPECT_EQ(std::count(metrics.begin(), metrics.end(), '\n'), 5) << metrics;  // step 0 + 4 steps, written once
    return {weights_in(one + "/final"), weights_in(two + "/final")};
  }

  TempDir dir_;
  rlvr::testing::TinyWorld world_;
};

TEST_F(TrainRanks, SftOnTwoRanksEqualsOneRank) {
  auto [one, two] = one_vs_two("sft", world_.data_dir + "/sft.jsonl");
  const double moved = max_abs_diff(one, weights_in(world_.model_dir));
  EXPECT_GT(moved, 1e-3) << "training must move the weights for the comparison to mean anything";
  EXPECT_LT(max_abs_diff(one, two), 1e-5) << "moved " << moved;
}

TEST_F(TrainRanks, DpoOnTwoRanksEqualsOneRank) {
  auto [one, two] = one_vs_two("dpo", world_.data_dir + "/dpo.jsonl");
  const double moved = max_abs_diff(one, weights_in(world_.model_dir));
  EXPECT_GT(moved, 1e-3);
  EXPECT_LT(max_abs_diff(one, two), 1e-5) << "moved " << moved;
}

TEST_F(TrainRanks, ACheckpointOfTwoRanksResumesOnOneRank) {
  const std::string bin = RLVR_BINARY;
  const std::string data = world_.data_dir + "/sft.jsonl";
  const std::string full = dir_.path() + "/full", split = dir_.path() + "/split";
  const std::string yf = dir_.write("full.yaml", config_text(full, world_.model_dir, "sft", data, 4));
  const std::string ys = dir_.write("split.yaml", config_text(split, world_.model_dir, "sft", data, 4));
  auto r = run_command(bin + " train --config " + yf);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // Two ranks train 4 steps; then the last checkpoint and final/ go, as if killed after step 2.
  fs::create_directories(dir_.path() + "/scratch");
  auto ranks = rlvr::testing::run_ranks(bin + " train --config " + ys, 2, rlvr::testing::free_tcp_port(),
                                        dir_.path() + "/scratch");
  ASSERT_EQ(ranks[0].exit_code, 0) << ranks[0].output;
  ASSERT_EQ(ranks[1].exit_code, 0) << ranks[1].output;
  ASSERT_TRUE(fs::remove_all(split + "/checkpoints/step-00000004"));
  fs::remove_all(split + "/final");
  auto resumed = run_command(bin + " train --config " + ys);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resumed at step 2"), std::string::npos) << resumed.output;
  EXPECT_LT(max_abs_diff(weights_in(full + "/final"), weights_in(split + "/final")), 1e-5);
}

TEST_F(TrainRanks, ARankWithoutItsPeerStopsWithAClearError) {
  const std::string bin = RLVR_BINARY;
  const std::string y = dir_.write(
      "alone.yaml", config_text(dir_.path() + "/alone", world_.model_dir, "sft", world_.data_dir + "/sft.jsonl", 4));
  auto r = run_command("RANK=1 WORLD_SIZE=2 MASTER_PORT=" + std::to_string(rlvr::testing::free_tcp_port()) +
                       " timeout 60 " + bin + " train --config " + y + " --set learner.dist_timeout_s=2");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("learner rank 1/2: rendezvous at 127.0.0.1:"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace rlvr
