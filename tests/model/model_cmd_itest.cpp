// `rlvr model init|info|logits` end to end through the real binary.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "tests/test_util.h"

namespace rlvr {
namespace {

using nlohmann::json;
using testing::run_command;
using testing::TempDir;

const std::string kBin = RLVR_BINARY;
std::string fixture(const std::string& name) { return std::string(RLVR_SOURCE_DIR) + "/tests/fixtures/model/" + name; }

TEST(ModelCommand, LogitsMatchPythonReference) {
  json ref = json::parse(core::read_file(fixture("reference.json")))["llama-tiny"];
  auto ids = ref["sequences"][0].get<std::vector<int64_t>>();
  std::string list;
  for (size_t i = 0; i < ids.size(); ++i) list += (i ? "," : "") + std::to_string(ids[i]);
  auto r = run_command(kBin + " model logits --model " + fixture("llama-tiny") + " --tokens " + list);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  json out = json::parse(r.output);
  ASSERT_EQ(out["logits"].size(), ids.size());
  double worst = 0;
  for (size_t t = 0; t < ids.size(); ++t) {
    for (size_t v = 0; v < out["logits"][t].size(); ++v) {
      worst = std::max(worst, std::abs(out["logits"][t][v].get<double>() - ref["logits"][0][t][v].get<double>()));
    }
  }
  std::printf("rlvr model logits vs Python reference: max |diff| = %.3g\n", worst);
  EXPECT_LT(worst, 1e-4);
}

TEST(ModelCommand, InitThenInfo) {
  TempDir dir;
  const std::string out = dir.path() + "/m";
  auto r = run_command(kBin + " model init --config " + fixture("qwen2-tiny/config.json") + " --out " + out +
                       " --seed 5 --dtype bfloat16 --max-shard-mb 0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_command(kBin + " model info " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("architecture:   Qwen2ForCausalLM (model_type qwen2)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("dtype:          BF16 (config torch_dtype bfloat16)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("tied embeddings: yes"), std::string::npos) << r.output;
  // Same seed, same weights.
  auto again = run_command(kBin + " model init --config " + fixture("qwen2-tiny/config.json") + " --out " + out +
                           "2 --seed 5 --dtype bfloat16");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(core::read_file(out + "/model.safetensors"), core::read_file(out + "2/model.safetensors"));
  auto l1 = run_command(kBin + " model logits --model " + out + " --tokens 1,2,3");
  ASSERT_EQ(l1.exit_code, 0) << l1.output;
  EXPECT_EQ(json::parse(l1.output)["logits"].size(), 3u);
}

TEST(ModelCommand, InfoOnTheZooConfigsPrintsThePublishersParameterCounts) {
  // configs/models/<name>/ holds only config.json: `rlvr model info` counts from the config.
  // The figures are the publishers' (model_zoo_test.cpp checks the same counts in-process).
  const std::vector<std::pair<std::string, std::string>> zoo = {
      {"Llama-3.1-8B", "8,030,261,248"}, {"Llama-3.2-1B", "1,235,814,400"}, {"Qwen2.5-1.5B", "1,543,714,304"},
      {"Qwen2.5-Math-7B", "7,615,616,512"}, {"Qwen3-0.6B", "596,049,920"}, {"Qwen3-8B", "8,190,735,360"}};
  for (const auto& [name, count] : zoo) {
    auto r = run_command(kBin + " model info " + std::string(RLVR_SOURCE_DIR) + "/configs/models/" + name);
    ASSERT_EQ(r.exit_code, 0) << name << "\n" << r.output;
    EXPECT_NE(r.output.find("parameters:     " + count + " "), std::string::npos) << name << "\n" << r.output;
  }
}

TEST(ModelCommand, BadInputsExitOneWithAMessage) {
  TempDir dir;
  auto r = run_command(kBin + " model logits --model " + fixture("llama-tiny") + " --tokens 1,x");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("--tokens: 'x' is not an integer"), std::string::npos) << r.output;
  r = run_command(kBin + " model logits --model " + fixture("llama-tiny") + " --tokens 1,48");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("token id 48 is outside the vocabulary [0, 48)"), std::string::npos) << r.output;
  r = run_command(kBin + " model info " + dir.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find(dir.path() + "/config.json: cannot open"), std::string::npos) << r.output;
  core::write_file_atomic(dir.path() + "/config.json", core::read_file(fixture("llama-tiny/config.json")));
  core::write_file_atomic(dir.path() + "/model.safetensors", "short");
  r = run_command(kBin + " model logits --model " + dir.path() + " --tokens 1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("model.safetensors: truncated: file is 5 bytes"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace rlvr
