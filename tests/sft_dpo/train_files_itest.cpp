// `rlvr train` on the data formats and mixes of issue 15: train.train_files with weights and row
// counts over gzip, TRL prompt/completion and plain-text files (SFT), a weighted DPO mix, the
// run fingerprint of a mix, and train_file + train_files refused.
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "tests/sft_dpo/tiny_world.h"
#include "tests/test_util.h"

namespace rlvr {
namespace {

using rlvr::testing::run_command;
using rlvr::testing::TempDir;

std::vector<nlohmann::json> rows_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> out;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

TEST(TrainFiles, SftMixOfGzipPromptCompletionAndTextFiles) {
  TempDir dir;
  auto world = rlvr::testing::make_tiny_world(dir.path(), 40);
  const std::string bin = RLVR_BINARY;
  // The same SFT rows three ways: gzipped messages, TRL prompt/completion, plain text.
  const std::string sft = world.data_dir + "/sft.jsonl";
  ASSERT_EQ(run_command("gzip -k " + sft).exit_code, 0);
  std::string pc, text;
  for (const auto& r : rows_of(sft)) {
    const auto& m = r["messages"];
    pc += nlohmann::json{{"prompt", m[0]["content"]}, {"completion", m[1]["content"]}}.dump() + "\n";
    text += nlohmann::json{{"text", m[0]["content"].get<std::string>() + " " + m[1]["content"].get<std::string>()}}
                .dump() + "\n";
  }
  const std::string pc_path = dir.write("pc.jsonl", pc), text_path = dir.write("text.jsonl", text);
  const std::string yaml = dir.write("mix.yaml", fmt::format(R"(run:
  output_dir: {0}/run
  threads: 2
  log_level: warn
model:
  path: {1}
train:
  mode: sft
  train_files:
    - {{path: {2}.gz, weight: 0.5}}
    - {{path: {3}, rows: 50}}
    - {{path: {4}, weight: 0.25}}
  max_seq_len: 128
  batch_size: 8
  max_steps: 2
)", dir.path(), world.model_dir, sft, pc_path, text_path));
  auto r = run_command(bin + " train --config " + yaml);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("rows 80 (skipped 0"), std::string::npos) << r.output;  // 20 + 50 + 10
  // Another weight is another run: refused rather than resumed.
  auto changed = run_command(bin + " train --config " + yaml +
                             fmt::format(" --set 'train.train_files=[{{path: {}.gz, weight: 0.75}}, {{path: {}, rows: "
                                         "50}}, {{path: {}, weight: 0.25}}]'",
                                         sft, pc_path, text_path));
  EXPECT_EQ(changed.exit_code, 1) << changed.output;
  EXPECT_NE(changed.output.find("train.train_files (contents)"), std::string::npos) << changed.output;
  // Both keys set: a load error before anything runs.
  auto both = run_command(bin + " train --config " + yaml + " --set train.train_file=" + sft);
  EXPECT_EQ(both.exit_code, 1);
  EXPECT_NE(both.output.find("train.train_file and train.train_files are both set; expected one of them"),
            std::string::npos)
      << both.output;
}

TEST(TrainFiles, DpoUpsampledMix) {
  TempDir dir;
  auto world = rlvr::testing::make_tiny_world(dir.path(), 24);
  const std::string bin = RLVR_BINARY;
  const std::string yaml = dir.write("dpo.yaml", fmt::format(R"(run:
  output_dir: {0}/run
  threads: 2
  log_level: warn
model:
  path: {1}
train:
  mode: dpo
  train_files:
    - {{path: {2}/dpo.jsonl, weight: 1.5}}
  max_seq_len: 128
  batch_size: 8
  max_steps: 2
)", dir.path(), world.model_dir, world.data_dir));
  auto r = run_command(bin + " train --config " + yaml);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const int64_t pairs = static_cast<int64_t>(rows_of(world.data_dir + "/dpo.jsonl").size());
  EXPECT_NE(r.output.find(fmt::format("rows {} (skipped 0", pairs * 3 / 2)), std::string::npos) << r.output;
}

}  // namespace
}  // namespace rlvr
