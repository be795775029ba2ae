// `rlvr train` end to end: SFT on the tiny task world, then DPO starting from the SFT output,
// through the real binary and YAML configs.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "core/model/checkpoint.h"
#include "tests/sft_dpo/tiny_world.h"
#include "tests/test_util.h"

namespace rlvr {
namespace {

namespace fs = std::filesystem;
using rlvr::testing::run_command;
using rlvr::testing::TempDir;

int64_t count_rows_with(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) n += nlohmann::json::parse(line).contains(key);
  return n;
}

TEST(TrainCli, SftThenDpoFromItsOutput) {
  TempDir dir;
  auto world = rlvr::testing::make_tiny_world(dir.path(), 64);
  const std::string bin = RLVR_BINARY;
  std::string sft_yaml = dir.write("sft.yaml", fmt::format(R"(run:
  output_dir: {0}/sft
  threads: 2
  log_level: warn
model:
  path: {1}
train:
  mode: sft
  train_file: {2}/sft.jsonl
  eval_file: {2}/sft.jsonl
  max_seq_len: 128
  packing: true
  batch_size: 8
  num_epochs: 2
  checkpoint_every: 4
optim:
  learning_rate: 3.0e-3
  warmup_ratio: 0.1
  lr_scheduler: cosine
)", dir.path(), world.model_dir, world.data_dir));
  auto sft = run_command(bin + " train --config " + sft_yaml);
  ASSERT_EQ(sft.exit_code, 0) << sft.output;
  EXPECT_NE(sft.output.find("final checkpoint: " + dir.path() + "/sft/final"), std::string::npos) << sft.output;
  for (const char* f : {"final/config.json", "final/model.safetensors", "final/tokenizer.json", "config.yaml",
                        "metrics.jsonl", "logs/rlvr.log"}) {
    EXPECT_TRUE(fs::exists(dir.path() + "/sft/" + f)) << f;
  }
  EXPECT_GT(count_rows_with(dir.path() + "/sft/metrics.jsonl", "eval/loss"), 0);

  std::string dpo_yaml = dir.write("dpo.yaml", fmt::format(R"(run:
  output_dir: {0}/dpo
  threads: 2
  log_level: warn
model:
  path: {0}/sft/final
train:
  mode: dpo
  train_file: {1}/dpo.jsonl
  eval_file: {1}/dpo.jsonl
  max_seq_len: 128
  batch_size: 8
  max_steps: 4
dpo:
  loss: dpo_norm
  beta: 5
  rpo_alpha: 1.0
optim:
  learning_rate: 1.0e-3
)", dir.path(), world.data_dir));
  auto dpo = run_command(bin + " train --config " + dpo_yaml);
  ASSERT_EQ(dpo.exit_code, 0) << dpo.output;
  EXPECT_EQ(count_rows_with(dir.path() + "/dpo/metrics.jsonl", "rewards/accuracies"), 4);
  EXPECT_EQ(count_rows_with(dir.path() + "/dpo/metrics.jsonl", "eval/rewards/accuracies"), 1);
  EXPECT_NO_THROW(core::load_causal_lm(dir.path() + "/dpo/final"));
  EXPECT_FALSE(fs::is_empty(dir.path() + "/dpo/cache"));

  // Running again resumes at the end: nothing to train, same final checkpoint.
  auto again = run_command(bin + " train --config " + dpo_yaml);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("resumed at step 4"), std::string::npos) << again.output;
  EXPECT_EQ(count_rows_with(dir.path() + "/dpo/metrics.jsonl", "eval/rewards/accuracies"), 1);

  // train.resume: false does not delete a finished run without train.overwrite_output_dir.
  const std::string dpo_weights = core::read_file(dir.path() + "/dpo/final/model.safetensors");
  auto refused = run_command(bin + " train --config " + dpo_yaml + " --set train.resume=false");
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.output.find("error: " + dir.path() + "/dpo: holds a finished run (checkpoint " + dir.path() +
                                "/dpo/checkpoints/step-00000004 at step 4/4); train.resume is false, and starting "
                                "over would delete it\nhint: set train.overwrite_output_dir: true"),
            std::string::npos)
      << refused.output;

  // Bad data stops with file:line, before the old run is discarded.
  std::string bad = dir.write("bad.jsonl", "{\"chosen\": []}\n");
  auto fail = run_command(bin + " train --config " + dpo_yaml + " --set train.train_file=" + bad +
                          " --set train.resume=false --set train.overwrite_output_dir=true");
  EXPECT_EQ(fail.exit_code, 1);
  EXPECT_NE(fail.output.find("error: " + bad + ":1: "), std::string::npos) << fail.output;
  EXPECT_EQ(core::read_file(dir.path() + "/dpo/final/model.safetensors"), dpo_weights);
}

// The issue's new-user trap: two configs that both leave run.output_dir at its default.
TEST(TrainCli, TwoConfigsWithTheDefaultOutputDirDoNotMix) {
  TempDir dir;
  auto world = rlvr::testing::make_tiny_world(dir.path(), 48);
  const std::string bin = RLVR_BINARY;
  dir.write("sft.yaml", fmt::format(R"(run: {{threads: 2, log_level: warn, name: first-sft}}
model: {{path: {0}}}
train: {{mode: sft, train_file: {1}/sft.jsonl, max_seq_len: 128, batch_size: 8, max_steps: 2}}
optim: {{learning_rate: 3.0e-3}}
)", world.model_dir, world.data_dir));
  auto other = rlvr::testing::make_tiny_world(dir.path() + "/other", 48, 16, 1);
  dir.write("dpo.yaml", fmt::format(R"(run: {{threads: 2, log_level: warn}}
model: {{path: {0}}}
train: {{mode: dpo, train_file: {1}/dpo.jsonl, max_seq_len: 128, batch_size: 8, max_steps: 2}}
)", other.model_dir, world.data_dir));
  auto sft = run_command("cd " + dir.path() + " && " + bin + " train --config sft.yaml");
  ASSERT_EQ(sft.exit_code, 0) << sft.output;
  EXPECT_NE(sft.output.find("trained sft run 'first-sft': 2 steps"), std::string::npos) << sft.output;
  const std::string run_dir = dir.path() + "/runs/run";
  const std::string weights = core::read_file(run_dir + "/final/model.safetensors");
  const std::string config_yaml = core::read_file(run_dir + "/config.yaml");

  auto dpo = run_command("cd " + dir.path() + " && " + bin + " train --config dpo.yaml");
  EXPECT_EQ(dpo.exit_code, 1) << dpo.output;
  EXPECT_NE(dpo.output.find("error: runs/run: holds a finished run (checkpoint runs/run/checkpoints/step-00000002 at "
                            "step 2/2) that differs from this config in what defines a run ("),
            std::string::npos)
      << dpo.output;
  EXPECT_NE(dpo.output.find("train.mode: sft -> dpo"), std::string::npos) << dpo.output;
  EXPECT_NE(dpo.output.find("model.path: " + world.model_dir + " -> " + other.model_dir), std::string::npos)
      << dpo.output;
  EXPECT_NE(dpo.output.find("\nhint: set train.overwrite_output_dir: true to discard it (its checkpoints, metrics "
                            "and final/) and start this run fresh, or choose another run.output_dir"),
            std::string::npos)
      << dpo.output;
  // Nothing of the first run changed: its model, its config.yaml (still mode sft).
  EXPECT_EQ(core::read_file(run_dir + "/final/model.safetensors"), weights);
  EXPECT_EQ(core::read_file(run_dir + "/config.yaml"), config_yaml);
  EXPECT_NE(config_yaml.find("mode: sft"), std::string::npos);
}

TEST(TrainCli, FlagErrorsAreClear) {
  const std::string bin = RLVR_BINARY;
  auto none = run_command(bin + " train");
  EXPECT_NE(none.exit_code, 0);
  EXPECT_NE(none.output.find("--config"), std::string::npos) << none.output;
  TempDir dir;
  auto missing = run_command(bin + " train --config " + dir.path() + "/nope.yaml");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find(dir.path() + "/nope.yaml"), std::string::npos) << missing.output;
  std::string yaml = dir.write("c.yaml", "train:\n  mode: sft\n  batch_sise: 4\n");
  auto typo = run_command(bin + " train --config " + yaml);
  EXPECT_EQ(typo.exit_code, 1);
  EXPECT_NE(typo.output.find("did you mean 'batch_size'"), std::string::npos) << typo.output;
  std::string no_model_yaml = dir.write("m.yaml", "run:\n  output_dir: " + dir.path() + "/run\n");
  auto no_model = run_command(bin + " train --config " + no_model_yaml);
  EXPECT_EQ(no_model.exit_code, 1);
  EXPECT_NE(no_model.output.find("error: model.path is empty"), std::string::npos) << no_model.output;
}

}  // namespace
}  // namespace rlvr
