// `rlvr pipeline` end to end on a tiny world built by the pipeline's init step: three short stages
// (sft, dpo, rlvr with one actor) with evaluations between them, then a rerun (nothing is redone),
// `--from dpo` (dpo and rlvr again, their old directories kept), and a changed finished stage
// (refused with the changed key). Real child processes throughout.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/test_util.h"

namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using rlvr::testing::run_command;
using rlvr::testing::TempDir;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const char* kModel = R"({"model_type": "llama", "hidden_size": 32, "intermediate_size": 64,
  "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 300,
  "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "tie_word_embeddings": true,
  "max_position_embeddings": 256, "bos_token_id": 0, "eos_token_id": 0})";

// Prompts for the dpo stage's on-policy pairs: IFEval "at least one letter 'e'", which a barely
// trained model meets in some samples (those that end by EOS and hold an 'e') and misses in others.
std::string pairs_prompts() {
  std::string rows;
  for (int i = 0; i < 8; ++i) {
    nlohmann::json row = {{"messages", {{{"role", "user"}, {"content", fmt::format("Tom has {} apples.", i + 2)}}}},
                          {"dataset", "ifeval"},
                          {"ground_truth", R"({"instruction_id":["keywords:letter_frequency"],)"
                                           R"("kwargs":[{"letter":"e","let_frequency":1,"let_relation":"at least"}]})"}};
    rows += row.dump() + "\n";
  }
  return rows;
}

// Stage lengths are a few steps: the test checks the orchestration, not learning.
std::string pipeline_yaml(const std::string& run) {
  return fmt::format(R"(pipeline:
  name: t
  output_dir: {}
  seed: 3
  init:
    model_config: model.json
    train_rows: 200
    eval_rows: 8
    max_operand: 5
    vocab_size: 300
  eval:
    data: ["${{run}}/prepare/data/eval.jsonl"]
    max_new_tokens: 12
    batch_size: 8
stages:
  - sft:
      run: {{threads: 1}}
      train: {{train_file: "${{run}}/prepare/data/sft.jsonl", max_steps: 3, batch_size: 4, max_seq_len: 96}}
      optim: {{learning_rate: 1.0e-3}}
  - dpo:
      run: {{threads: 1}}
      train: {{train_file: "${{run}}/prepare/data/dpo.jsonl", max_steps: 2, batch_size: 2, max_seq_len: 96}}
    pairs: {{prompts: "{}/pairs_prompts.jsonl", n: 8, max_new_tokens: 256}}
  - rlvr:
      run: {{threads: 1}}
      generation: {{max_new_tokens: 8, num_samples_per_prompt: 4, batch_size: 8}}
      rl: {{train_file: "${{run}}/prepare/data/rlvr.jsonl", rollout_batch_size: 8, total_steps: 2}}
      learner: {{endpoint: "ipc://${{run}}/learner.sock", heartbeat_ms: 200}}
      actors: {{count: 1, threads: 1}}
)",
                     run, fs::path(run).parent_path().string());
}

TEST(Pipeline, RunsEveryStageWithEvaluationsThenResumesReplaysFromAStageAndRefusesChangedStages) {
  TempDir dir;
  dir.write("model.json", kModel);
  dir.write("pairs_prompts.jsonl", pairs_prompts());
  const std::string file = dir.write("pipeline.yaml", pipeline_yaml(dir.path() + "/run"));
  const std::string run = dir.path() + "/run";
  const std::string rlvr = RLVR_BINARY;

  auto first = run_command(rlvr + " pipeline " + file);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_THAT(first.output, HasSubstr("stage 1/3: sft"));
  EXPECT_THAT(first.output, HasSubstr("stage 3/3: rlvr"));
  for (const char* stage : {"sft", "dpo", "rlvr"}) {
    EXPECT_TRUE(fs::exists(run + "/" + stage + "/final/config.json")) << stage;
    EXPECT_TRUE(fs::exists(run + "/" + stage + "/metrics.jsonl")) << stage;
    EXPECT_TRUE(fs::exists(run + "/eval/" + stage + ".summary.json")) << stage;
  }
  EXPECT_TRUE(fs::exists(run + "/eval/init.summary.json"));
  // Each stage started from the previous one's final checkpoint.
  EXPECT_THAT(slurp(run + "/dpo.yaml"), HasSubstr(run + "/sft/final"));
  EXPECT_THAT(slurp(run + "/rlvr.yaml"), HasSubstr(run + "/dpo/final"));
  // The dpo stage trained on pairs sampled from the sft model.
  EXPECT_THAT(slurp(run + "/dpo.yaml"), HasSubstr(run + "/dpo_pairs.jsonl"));
  const auto pairs_summary = nlohmann::json::parse(slurp(run + "/dpo_pairs.jsonl.summary.json"));
  EXPECT_GT(pairs_summary["pairs"].get<int64_t>(), 0);
  EXPECT_TRUE(fs::exists(run + "/report.html"));
  const auto results = nlohmann::json::parse(slurp(run + "/results.json"));
  ASSERT_EQ(results["rows"].size(), 4u);
  std::vector<std::string> points;
  for (const auto& row : results["rows"]) {
    points.push_back(row["point"]);
    EXPECT_TRUE(row["overall"].contains("accuracy"));
    EXPECT_TRUE(row["datasets"].contains("gsm8k"));
  }
  EXPECT_EQ(points, (std::vector<std::string>{"init", "sft", "dpo", "rlvr"}));
  EXPECT_GT(results["rows"][1]["wall_s"].get<double>(), 0.0);
  const std::string md = slurp(run + "/results.md");
  EXPECT_THAT(md, HasSubstr("| stage | gsm8k | all | pass@1 | mean length | no-EOS | wall s |"));
  EXPECT_THAT(md, HasSubstr("| rlvr |"));
  EXPECT_THAT(first.output, HasSubstr("| dpo |")) << "the table is printed at the end";

  // The same command again: nothing is redone.
  const std::string sft_metrics = slurp(run + "/sft/metrics.jsonl");
  const std::string rlvr_metrics = slurp(run + "/rlvr/metrics.jsonl");
  auto again = run_command(rlvr + " pipeline " + file);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_THAT(again.output, HasSubstr("stage 1/3: sft: done"));
  EXPECT_THAT(again.output, HasSubstr("stage 3/3: rlvr: done"));
  EXPECT_EQ(slurp(run + "/rlvr/metrics.jsonl"), rlvr_metrics);

  // --from dpo: dpo and rlvr run again from sft's checkpoint; their old directories are kept.
  auto from = run_command(rlvr + " pipeline " + file + " --from dpo");
  ASSERT_EQ(from.exit_code, 0) << from.output;
  EXPECT_THAT(from.output, HasSubstr("stage 1/3: sft: done"));
  EXPECT_TRUE(fs::exists(run + "/dpo.replaced-1/final/config.json"));
  EXPECT_TRUE(fs::exists(run + "/rlvr.replaced-1/final/config.json"));
  EXPECT_TRUE(fs::exists(run + "/dpo_pairs.jsonl.replaced-1"));
  EXPECT_TRUE(fs::exists(run + "/dpo_pairs.jsonl")) << "sampled again from the sft model";
  EXPECT_TRUE(fs::exists(run + "/dpo/final/config.json"));
  EXPECT_TRUE(fs::exists(run + "/rlvr/final/config.json"));
  EXPECT_EQ(slurp(run + "/sft/metrics.jsonl"), sft_metrics) << "sft was not rerun";

  // A finished stage whose settings changed is refused, naming the key and the way out.
  auto changed = run_command(rlvr + " pipeline " + file + " --set sft.optim.learning_rate=0.5");
  EXPECT_EQ(changed.exit_code, 1) << changed.output;
  EXPECT_THAT(changed.output, HasSubstr("stage 'sft'"));
  EXPECT_THAT(changed.output, HasSubstr("optim.learning_rate: 0.001 -> 0.5"));
  EXPECT_THAT(changed.output, HasSubstr("--from sft"));

  // --from a stage the pipeline does not have.
  auto bad_from = run_command(rlvr + " pipeline " + file + " --from ppo");
  EXPECT_EQ(bad_from.exit_code, 1);
  EXPECT_THAT(bad_from.output, HasSubstr("--from ppo: the pipeline has no such stage; its stages: sft, dpo, rlvr"));
}

// pipeline.baselines: after dpo, SFT continues from sft's checkpoint for dpo's wall time and is
// evaluated beside it; a rerun keeps it, --from dpo replaces it with dpo.
TEST(Pipeline, BaselinesContinueSftForTheStageWallTimeAndAreEvaluatedBesideIt) {
  TempDir dir;
  dir.write("model.json", kModel);
  std::string text = pipeline_yaml(dir.path() + "/run");
  text.replace(text.find("  init:"), 0, "  baselines: true\n");
  text = text.substr(0, text.find("    pairs:"));  // sft and dpo (on the synthesized pairs) only
  const std::string file = dir.write("pipeline.yaml", text);
  const std::string run = dir.path() + "/run";
  const std::string rlvr = RLVR_BINARY;

  auto first = run_command(rlvr + " pipeline " + file);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_THAT(first.output, HasSubstr("baseline of dpo: SFT continued from " + run + "/sft/final"));
  EXPECT_TRUE(fs::exists(run + "/dpo-baseline/final/config.json"));
  EXPECT_TRUE(fs::exists(run + "/eval/dpo-baseline.summary.json"));
  const auto state = nlohmann::json::parse(slurp(run + "/state.json"));
  const double dpo_wall = state["stages"]["dpo"]["wall_s"].get<double>();
  const std::string cfg = slurp(run + "/dpo-baseline.yaml");
  EXPECT_THAT(cfg, HasSubstr("mode: sft"));
  EXPECT_THAT(cfg, HasSubstr("path: \"" + run + "/sft/final\""));
  const size_t at = cfg.find("max_time_s: ");
  ASSERT_NE(at, std::string::npos) << cfg;
  EXPECT_NEAR(std::stod(cfg.substr(at + 12)), dpo_wall, 1e-6);
  EXPECT_THAT(cfg, HasSubstr(run + "/prepare/data/sft.jsonl"));
  const auto summary = nlohmann::json::parse(slurp(run + "/dpo-baseline/summary.json"));
  EXPECT_GE(summary["steps"].get<int64_t>(), 1);
  const auto results = nlohmann::json::parse(slurp(run + "/results.json"));
  std::vector<std::string> points;
  for (const auto& row : results["rows"]) points.push_back(row["point"]);
  EXPECT_EQ(points, (std::vector<std::string>{"init", "sft", "dpo", "dpo-baseline"}));
  EXPECT_EQ(results["rows"][3]["baseline_of"], "dpo");
  EXPECT_GT(results["rows"][3]["wall_s"].get<double>(), 0.0);
  EXPECT_THAT(slurp(run + "/results.md"), HasSubstr("| dpo-baseline |"));
  EXPECT_THAT(slurp(run + "/results.md"), HasSubstr("<stage>-baseline: SFT continued"));
  EXPECT_THAT(slurp(run + "/report.html"), HasSubstr("-baseline</em> row is the honest comparison"));

  const std::string baseline_metrics = slurp(run + "/dpo-baseline/metrics.jsonl");
  // A finished stage recorded before a config key existed (here train.max_time_s) is the same stage
  // when the new key is at its default.
  auto old_state = nlohmann::json::parse(slurp(run + "/state.json"));
  ASSERT_TRUE(old_state["stages"]["sft"]["settings"].contains("train.max_time_s"));
  old_state["stages"]["sft"]["settings"].erase("train.max_time_s");
  dir.write("run/state.json", old_state.dump(2));
  auto again = run_command(rlvr + " pipeline " + file);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_THAT(again.output, HasSubstr("stage 1/2: sft: done"));
  EXPECT_THAT(again.output, HasSubstr("baseline of dpo: SFT continued from " + run + "/sft/final for"));
  EXPECT_EQ(slurp(run + "/dpo-baseline/metrics.jsonl"), baseline_metrics) << "not rerun";

  auto from = run_command(rlvr + " pipeline " + file + " --from dpo");
  ASSERT_EQ(from.exit_code, 0) << from.output;
  EXPECT_TRUE(fs::exists(run + "/dpo-baseline.replaced-1/final/config.json"));
  EXPECT_TRUE(fs::exists(run + "/dpo-baseline/final/config.json"));

  // Baselines need an sft stage before another stage.
  std::string no_sft = text;
  no_sft.erase(no_sft.find("  - sft:"), no_sft.find("  - dpo:") - no_sft.find("  - sft:"));
  auto check = run_command(rlvr + " config check " + dir.write("no_sft.yaml", no_sft));
  EXPECT_EQ(check.exit_code, 1);
  EXPECT_THAT(check.output, HasSubstr("no_sft.yaml:5:"));
  EXPECT_THAT(check.output, HasSubstr("pipeline.baselines: true needs an sft stage followed by another stage"));
}

TEST(Pipeline, ConfigCheckValidatesEachStageWithFileAndLine) {
  TempDir dir;
  dir.write("model.json", kModel);
  std::string text = pipeline_yaml(dir.path() + "/run");
  const std::string good = dir.write("good.yaml", text);
  auto ok = run_command(std::string(RLVR_BINARY) + " config check " + good);
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_THAT(ok.output, HasSubstr("ok (pipeline 't': sft, dpo, rlvr)"));
  text.replace(text.find("max_steps: 2"), 12, "max_step: 2");
  const std::string bad = dir.write("bad.yaml", text);
  auto r = run_command(std::string(RLVR_BINARY) + " config check " + bad);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("bad.yaml:22:"));
  EXPECT_THAT(r.output, HasSubstr("unknown key 'max_step' in 'train'; did you mean 'max_steps'?"));
  auto shipped = run_command(std::string(RLVR_BINARY) + " config check " + RLVR_SOURCE_DIR + "/configs/tiny.yaml");
  EXPECT_EQ(shipped.exit_code, 0) << shipped.output;
}

}  // namespace
