// run_training on the tiny task world: loss goes down, grad accumulation does not change the
// result, resume is bit-exact, the DPO reference cache is reused and invalidated, bad data.
#include "sft_dpo/trainer.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/config/loader.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/model/checkpoint.h"
#include "tests/sft_dpo/tiny_world.h"
#include "tests/test_util.h"

namespace rlvr::sft_dpo {
namespace {

namespace fs = std::filesystem;
using rlvr::testing::TempDir;

class TrainerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    core::init_logging("warn");
    root_ = new TempDir();
    world_ = rlvr::testing::make_tiny_world(root_->path());
  }
  static void TearDownTestSuite() { delete root_; }
  // Each run adds a log file sink; start every test with a fresh logger.
  void SetUp() override { core::init_logging("warn"); }

  core::Config sft_config(const std::string& out) const {
    core::Config c;
    c.run.output_dir = out;
    c.run.threads = 2;
    c.model.path = world_.model_dir;
    c.train.mode = "sft";
    c.train.train_file = world_.data_dir + "/sft.jsonl";
    c.train.max_seq_len = 128;
    c.train.batch_size = 4;
    c.train.max_steps = 4;
    c.optim.learning_rate = 3e-3;
    c.optim.warmup_ratio = 0;
    return c;
  }
  core::Config dpo_config(const std::string& out, const std::string& model) const {
    core::Config c = sft_config(out);
    c.model.path = model;
    c.train.mode = "dpo";
    c.train.train_file = world_.data_dir + "/dpo.jsonl";
    c.dpo.loss = "dpo_norm";
    c.optim.learning_rate = 1e-3;
    return c;
  }
  static std::map<std::string, at::Tensor> weights(const std::string& dir) {
    auto m = core::load_causal_lm(dir);
    std::map<std::string, at::Tensor> out;
    for (const auto& item : m->named_parameters()) out[item.key()] = item.value().detach().clone();
    return out;
  }
  static std::vector<nlohmann::json> metrics(const std::string& out) {
    std::ifstream in(out + "/metrics.jsonl");
    std::vector<nlohmann::json> rows;
    std::string line;
    while (std::getline(in, line)) rows.push_back(nlohmann::json::parse(line));
    return rows;
  }

  static TempDir* root_;
  static rlvr::testing::TinyWorld world_;
};
TempDir* TrainerTest::root_ = nullptr;
rlvr::testing::TinyWorld TrainerTest::world_;

TEST_F(TrainerTest, SftLossGoesDownAndWritesAnHfCheckpoint) {
  TempDir out;
  core::Config c = sft_config(out.path());
  c.train.max_steps = 0;
  c.train.num_epochs = 3;
  c.train.batch_size = 8;
  c.train.packing = true;
  c.train.eval_file = world_.data_dir + "/sft.jsonl";  // same rows: eval loss must fall too
  c.train.eval_every = 1000;
  TrainResult r = run_training(c);
  auto rows = metrics(out.path());
  double first = -1, last = -1;
  for (const auto& row : rows) {
    if (row.contains("loss") && row["step"].get<int64_t>() > 0) {
      if (first < 0) first = row["loss"].get<double>();
      last = row["loss"].get<double>();
    }
  }
  std::printf("sft loss %.4f -> %.4f over %lld steps, eval %.4f\n", first, last, static_cast<long long>(r.steps),
              r.eval_loss);
  EXPECT_LT(last, first - 0.5);
  EXPECT_LT(r.eval_loss, first);
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json"}) {
    EXPECT_TRUE(fs::exists(r.final_dir + "/" + f)) << f;
  }
  EXPECT_TRUE(fs::exists(out.path() + "/config.yaml"));
  EXPECT_NO_THROW(core::load_causal_lm(r.final_dir));
  EXPECT_EQ(rows.front()["step"], 0);
  EXPECT_EQ(rows.front()["data/train_rows"].get<double>(), 48);
}

TEST_F(TrainerTest, GradAccumulationFourByOneEqualsOneByFour) {
  TempDir a, b;
  core::Config ca = sft_config(a.path());
  ca.train.batch_size = 1;
  ca.train.grad_accum_steps = 4;
  ca.train.max_steps = 2;
  core::Config cb = sft_config(b.path());
  cb.train.batch_size = 4;
  cb.train.grad_accum_steps = 1;
  cb.train.max_steps = 2;
  TrainResult ra = run_training(ca), rb = run_training(cb);
  EXPECT_NEAR(ra.last_loss, rb.last_loss, 1e-5 * std::abs(rb.last_loss));
  auto wa = weights(ra.final_dir), wb = weights(rb.final_dir);
  double max_diff = 0;
  for (const auto& [k, t] : wa) max_diff = std::max(max_diff, (t - wb[k]).abs().max().item<double>());
  std::printf("4x1 vs 1x4: loss %.7f vs %.7f, max |dw| %.3e\n", ra.last_loss, rb.last_loss, max_diff);
  EXPECT_LT(max_diff, 1e-5);
}

TEST_F(TrainerTest, ResumeAfterStepKReproducesTheUninterruptedRunExactly) {
  TempDir out;
  core::Config c = sft_config(out.path());
  c.train.max_steps = 6;
  c.train.batch_size = 8;  // 48 rows: 6 steps per epoch; steps cross no epoch boundary
  c.train.checkpoint_every = 2;
  c.train.keep_checkpoints = 10;
  TrainResult full = run_training(c);
  auto expected = weights(full.final_dir);
  ASSERT_TRUE(fs::exists(out.path() + "/checkpoints/step-00000004"));
  // Simulate a crash after step 4: later checkpoints, the final model and metrics rows vanish.
  fs::remove_all(out.path() + "/checkpoints/step-00000006");
  fs::remove_all(full.final_dir);
  TrainResult resumed = run_training(c);
  EXPECT_EQ(resumed.resumed_from_step, 4);
  EXPECT_EQ(resumed.steps, 6);
  auto got = weights(resumed.final_dir);
  for (const auto& [k, t] : expected) EXPECT_TRUE(torch::equal(t, got[k])) << k;
  EXPECT_DOUBLE_EQ(resumed.last_loss, full.last_loss);
  // metrics.jsonl: one row per step, none duplicated by the resume.
  std::vector<int64_t> steps;
  for (const auto& row : metrics(out.path())) {
    if (row.contains("loss")) steps.push_back(row["step"].get<int64_t>());
  }
  EXPECT_EQ(steps, (std::vector<int64_t>{1, 2, 3, 4, 5, 6}));
}

TEST_F(TrainerTest, ResumeAcrossEpochsWithAccumulationIsExact) {
  TempDir out;
  core::Config c = sft_config(out.path());
  c.train.max_steps = 0;
  c.train.num_epochs = 2;
  c.train.batch_size = 5;
  c.train.grad_accum_steps = 2;  // 10 rows per step: 5 steps per epoch, the last one short
  c.train.checkpoint_every = 3;
  c.train.keep_checkpoints = 10;
  TrainResult full = run_training(c);
  auto expected = weights(full.final_dir);
  // Crash after step 3: the resumed part crosses the epoch boundary.
  for (const char* s : {"step-00000006", "step-00000009", "step-00000010"}) {
    EXPECT_TRUE(fs::exists(out.path() + "/checkpoints/" + s)) << s;
    fs::remove_all(out.path() + "/checkpoints/" + s);
  }
  fs::remove_all(full.final_dir);
  TrainResult resumed = run_training(c);
  EXPECT_EQ(resumed.resumed_from_step, 3);
  EXPECT_EQ(resumed.steps, full.steps);
  auto got = weights(resumed.final_dir);
  for (const auto& [k, t] : expected) EXPECT_TRUE(torch::equal(t, got[k])) << k;
}

TEST_F(TrainerTest, DpoFromSftOutputUsesAndInvalidatesTheReferenceCache) {
  TempDir sft_out, dpo_out;
  core::Config s = sft_config(sft_out.path());
  TrainResult sft = run_training(s);
  core::Config d = dpo_config(dpo_out.path(), sft.final_dir);
  d.train.max_steps = 3;
  d.dpo.rpo_alpha = 0.5;
  TrainResult first = run_training(d);
  EXPECT_FALSE(first.reference_cache_hit);
  auto rows = metrics(dpo_out.path());
  const auto& step1 = rows[1];
  ASSERT_EQ(step1["step"], 1);
  for (const char* k : {"rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins",
                        "logps/chosen", "logps/rejected", "nll", "loss", "lr"}) {
    EXPECT_TRUE(step1.contains(k)) << k;
  }
  // Step 1: policy == reference, so every reward is ~0 and the loss is ~log 2 + rpo_alpha x nll.
  EXPECT_NEAR(step1["rewards/chosen"].get<double>(), 0.0, 1e-3);
  EXPECT_NEAR(step1["loss"].get<double>(), std::log(2.0) + 0.5 * step1["nll"].get<double>(), 1e-3);

  d.train.resume = false;
  TrainResult second = run_training(d);
  EXPECT_TRUE(second.reference_cache_hit);
  // Changing the data file invalidates the cache.
  std::string data = core::read_file(d.train.train_file);
  TempDir tmp;
  d.train.train_file = tmp.write("dpo.jsonl", data + data.substr(0, data.find('\n') + 1));
  TrainResult third = run_training(d);
  EXPECT_FALSE(third.reference_cache_hit);
}

TEST_F(TrainerTest, DpoResumeIsExact) {
  TempDir out;
  core::Config d = dpo_config(out.path(), world_.model_dir);
  d.dpo.loss = "sigmoid";
  d.dpo.beta = 0.1;
  d.dpo.label_smoothing = 0.1;
  d.train.batch_size = 4;
  d.train.grad_accum_steps = 2;
  d.train.max_steps = 4;
  d.train.checkpoint_every = 2;
  d.train.keep_checkpoints = 5;
  TrainResult full = run_training(d);
  auto expected = weights(full.final_dir);
  fs::remove_all(out.path() + "/checkpoints/step-00000004");
  fs::remove_all(full.final_dir);
  TrainResult resumed = run_training(d);
  EXPECT_EQ(resumed.resumed_from_step, 2);
  EXPECT_TRUE(resumed.reference_cache_hit);
  auto got = weights(resumed.final_dir);
  for (const auto& [k, t] : expected) EXPECT_TRUE(torch::equal(t, got[k])) << k;
}

TEST_F(TrainerTest, SimpoNeedsNoReference) {
  TempDir out;
  core::Config d = dpo_config(out.path(), world_.model_dir);
  d.dpo.loss = "simpo";
  d.dpo.beta = 2.0;
  d.train.max_steps = 2;
  TrainResult r = run_training(d);
  EXPECT_EQ(r.steps, 2);
  EXPECT_FALSE(fs::exists(out.path() + "/cache"));
}

TEST_F(TrainerTest, BadRowsStopWithFileAndLineOrAreSkippedAndCounted) {
  TempDir out;
  std::string data = core::read_file(world_.data_dir + "/sft.jsonl");
  std::string bad = out.write("bad.jsonl", data.substr(0, data.find('\n') + 1) +
                                               R"({"messages": [{"role": "user", "content": "hi"}]})" "\n" + data);
  core::Config c = sft_config(out.path() + "/run");
  c.train.train_file = bad;
  c.train.max_steps = 1;
  std::string msg = rlvr::testing::error_message([&] { run_training(c); });
  EXPECT_EQ(msg.rfind(bad + ":2: ", 0), 0u) << msg;
  c.train.on_bad_row = "skip";
  TrainResult r = run_training(c);
  EXPECT_EQ(r.skipped_rows, 1);
  EXPECT_EQ(r.train_rows, 49);
}

TEST_F(TrainerTest, ConfigErrorsAreClear) {
  TempDir out;
  core::Config c = sft_config(out.path());
  c.model.path = out.path() + "/missing";
  std::string msg = rlvr::testing::error_message([&] { run_training(c); });
  EXPECT_NE(msg.find("missing"), std::string::npos) << msg;
  c = sft_config(out.path());
  c.train.train_file = "";
  msg = rlvr::testing::error_message([&] { run_training(c); });
  EXPECT_NE(msg.find("train.train_file"), std::string::npos) << msg;
}

}  // namespace
}  // namespace rlvr::sft_dpo
