// Resumable training checkpoints (learner/train_state.h) and the progress line.
#include "learner/train_state.h"

#include <filesystem>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/fs.h"
#include "core/model/transformer.h"
#include "learner/optimizer.h"
#include "learner/progress.h"
#include "tests/test_util.h"

namespace rlvr::learner {
namespace {

using rlvr::testing::TempDir;

core::TransformerConfig tiny_config() {
  core::TransformerConfig c;
  c.vocab_size = 40;
  c.hidden_size = 16;
  c.intermediate_size = 24;
  c.num_hidden_layers = 1;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  c.head_dim = 8;
  c.max_position_embeddings = 32;
  return c;
}

std::vector<std::pair<std::string, at::Tensor>> named(core::CausalLM& m) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& item : m->named_parameters()) out.emplace_back(item.key(), item.value());
  return out;
}

void train_step(core::CausalLM& m, Optimizer& opt) {
  at::Tensor tokens = torch::arange(10).remainder(40).unsqueeze(0);
  m->forward(tokens).logsumexp(-1).mean().backward();
  opt.step();
}

TEST(TrainState, RoundTripRestoresWeightsOptimizerProgressAndRng) {
  TempDir dir;
  core::CausalLM a(tiny_config());
  a->init_weights(1);
  core::OptimConfig oc;
  oc.learning_rate = 1e-2;
  Optimizer opt_a(named(a), oc, 10);
  train_step(a, opt_a);
  train_step(a, opt_a);
  TrainProgress p;
  p.step = 2;
  p.total_steps = 10;
  p.epoch = 1;
  p.epoch_offset = 7;
  p.tokens = 123;
  p.std_rng = "42";
  p.extra["truncated"] = 3;
  torch::manual_seed(99);
  std::string ckpt = save_training_checkpoint(dir.path(), *a, tiny_config(), opt_a, p, 3);
  EXPECT_EQ(ckpt, dir.path() + "/step-00000002");
  at::Tensor after_save = torch::rand({4});
  train_step(a, opt_a);  // continue the original

  core::CausalLM b(tiny_config());
  b->init_weights(2);
  Optimizer opt_b(named(b), oc, 10);
  torch::manual_seed(5);
  TrainProgress q = load_training_checkpoint(ckpt, *b, opt_b);
  EXPECT_TRUE(torch::equal(torch::rand({4}), after_save));
  EXPECT_EQ(q.step, 2);
  EXPECT_EQ(q.epoch, 1);
  EXPECT_EQ(q.epoch_offset, 7);
  EXPECT_EQ(q.tokens, 123);
  EXPECT_EQ(q.std_rng, "42");
  EXPECT_EQ(q.extra["truncated"], 3);
  EXPECT_EQ(opt_b.steps_taken(), 2);
  train_step(b, opt_b);  // the copy takes the same third step
  auto pa = a->named_parameters(), pb = b->named_parameters();
  for (const auto& item : pa) EXPECT_TRUE(torch::equal(item.value(), pb[item.key()])) << item.key();
}

TEST(TrainState, KeepsOnlyTheNewestCheckpoints) {
  TempDir dir;
  core::CausalLM m(tiny_config());
  Optimizer opt(named(m), core::OptimConfig{}, 10);
  TrainProgress p;
  for (int64_t step : {1, 2, 3, 4}) {
    p.step = step;
    save_training_checkpoint(dir.path(), *m, tiny_config(), opt, p, 2);
  }
  auto all = list_training_checkpoints(dir.path());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0], dir.path() + "/step-00000003");
  EXPECT_EQ(*latest_training_checkpoint(dir.path()), dir.path() + "/step-00000004");
  EXPECT_FALSE(latest_training_checkpoint(dir.path() + "/none").has_value());
  // A half-written directory (no state.json) is never picked.
  std::filesystem::create_directories(dir.path() + "/step-00000009");
  EXPECT_EQ(*latest_training_checkpoint(dir.path()), dir.path() + "/step-00000004");
}

TEST(TrainState, RunFingerprintIsStoredAndReadWithoutLoadingWeights) {
  TempDir dir;
  core::CausalLM m(tiny_config());
  Optimizer opt(named(m), core::OptimConfig{}, 10);
  TrainProgress p;
  p.step = 3;
  p.total_steps = 10;
  p.run = {{"identity", {{"train.mode", "sft"}}}, {"settings", {{"optim.learning_rate", "0.001"}}}};
  std::string ckpt = save_training_checkpoint(dir.path(), *m, tiny_config(), opt, p, 2);
  TrainProgress q = read_training_progress(ckpt);
  EXPECT_EQ(q.step, 3);
  EXPECT_EQ(q.total_steps, 10);
  EXPECT_EQ(q.run, p.run);
  // A state.json written before fingerprints existed reads as an empty fingerprint.
  auto state = nlohmann::json::parse(core::read_file(ckpt + "/state.json"));
  state.erase("run");
  core::write_file_atomic(ckpt + "/state.json", state.dump());
  EXPECT_TRUE(read_training_progress(ckpt).run.empty());
  state["run"] = "not an object";
  core::write_file_atomic(ckpt + "/state.json", state.dump());
  EXPECT_EQ(rlvr::testing::error_message([&] { read_training_progress(ckpt); }),
            ckpt + "/state.json: \"run\" is not a JSON object; expected the run fingerprint");
}

TEST(TrainState, ResavingAStepSwapsInTheWholeNewDirectory) {
  TempDir dir;
  core::CausalLM m(tiny_config());
  Optimizer opt(named(m), core::OptimConfig{}, 10);
  TrainProgress p;
  p.step = 2;
  std::string ckpt = save_training_checkpoint(dir.path(), *m, tiny_config(), opt, p, 2);
  core::write_file_atomic(ckpt + "/stale.txt", "from the first save");
  p.tokens = 77;
  EXPECT_EQ(save_training_checkpoint(dir.path(), *m, tiny_config(), opt, p, 2), ckpt);
  EXPECT_EQ(read_training_progress(ckpt).tokens, 77);
  EXPECT_FALSE(std::filesystem::exists(ckpt + "/stale.txt"));
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) names.push_back(e.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"step-00000002"});  // no temp directory left
}

TEST(TrainState, PartialCheckpointsOfACrashedProcessAreRemoved) {
  TempDir dir;
  core::CausalLM m(tiny_config());
  Optimizer opt(named(m), core::OptimConfig{}, 10);
  TrainProgress p;
  p.step = 1;
  save_training_checkpoint(dir.path(), *m, tiny_config(), opt, p, 2);
  dir.write(".tmp-step-00000002-4242/model.safetensors", "half written");
  EXPECT_EQ(remove_partial_checkpoints(dir.path()), 1);
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/.tmp-step-00000002-4242"));
  EXPECT_EQ(list_training_checkpoints(dir.path()), std::vector<std::string>{dir.path() + "/step-00000001"});
  EXPECT_EQ(remove_partial_checkpoints(dir.path() + "/missing"), 0);
}

TEST(TrainState, CorruptStateNamesTheFile) {
  TempDir dir;
  core::CausalLM m(tiny_config());
  Optimizer opt(named(m), core::OptimConfig{}, 10);
  TrainProgress p;
  p.step = 0;
  std::string ckpt = save_training_checkpoint(dir.path(), *m, tiny_config(), opt, p, 1);
  core::write_file_atomic(ckpt + "/state.json", R"({"magic": "other", "version": 1})");
  std::string msg = rlvr::testing::error_message([&] { load_training_checkpoint(ckpt, *m, opt); });
  EXPECT_NE(msg.find(ckpt + "/state.json: magic"), std::string::npos) << msg;
  core::write_file_atomic(ckpt + "/state.json", R"({"magic": "rlvr-train-state", "version": 7})");
  msg = rlvr::testing::error_message([&] { load_training_checkpoint(ckpt, *m, opt); });
  EXPECT_NE(msg.find("version 7 is not supported"), std::string::npos) << msg;
}

TEST(ProgressMeter, FormatsStepLossLrThroughputAndEta) {
  EXPECT_EQ(ProgressMeter::format_duration(42), "42s");
  EXPECT_EQ(ProgressMeter::format_duration(185), "3m05s");
  EXPECT_EQ(ProgressMeter::format_duration(3720), "1h02m");
  ProgressMeter meter(100, 10);
  meter.step_done(12, 1000);
  std::string line = meter.line(1.23456, 2e-5);
  EXPECT_EQ(line.rfind("step 12/100 (12%) | loss 1.2346 | lr 2.00e-05 | ", 0), 0u) << line;
  EXPECT_NE(line.find(" tok/s | ETA "), std::string::npos) << line;
}

}  // namespace
}  // namespace rlvr::learner
