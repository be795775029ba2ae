// Pipeline files (core/config/pipeline.h): the pipeline section, stages inline and by path,
// ${run} substitution, --set routing, and file:line:col errors for every kind of mistake.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/config/pipeline.h"
#include "core/error.h"
#include "tests/test_util.h"

namespace rlvr::core {
namespace {

using ::testing::HasSubstr;
using rlvr::testing::error_message;
using rlvr::testing::TempDir;

const char* kPipeline = R"(pipeline:
  name: demo
  output_dir: out/demo
  seed: 7
  model: ckpt/start
  eval:
    data: ["${run}/held.jsonl", other.jsonl]
    max_new_tokens: 32
stages:
  - sft: stages/sft.yaml
  - dpo:
      base: stages/dpo_base.yaml
      optim:
        learning_rate: 2.0e-5
    pairs:
      prompts: ${run}/prompts.jsonl
      n: 4
  - rlvr:
      rl:
        train_file: ${run}/rl.jsonl
        total_steps: 3
)";

class PipelineConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.write("stages/sft.yaml", "train:\n  train_file: ${run}/sft.jsonl\n  max_steps: 5\noptim:\n  learning_rate: 1.0e-3\n");
    dir_.write("stages/dpo_base.yaml", "train:\n  mode: dpo\n  max_steps: 2\ndpo:\n  beta: 0.5\n");
  }
  std::string write(const std::string& text) { return dir_.write("p.yaml", text); }
  TempDir dir_;
};

TEST_F(PipelineConfigTest, LoadsStagesInOrderWithRunSubstitutedAndBasesResolvedNextToTheFile) {
  PipelineConfig p = load_pipeline(write(kPipeline));
  EXPECT_EQ(p.pipeline.name, "demo");
  EXPECT_EQ(p.pipeline.seed, 7);
  EXPECT_EQ(p.pipeline.model, "ckpt/start");
  EXPECT_EQ(p.pipeline.eval.data, (std::vector<std::string>{"out/demo/held.jsonl", "other.jsonl"}));
  EXPECT_EQ(p.pipeline.eval.max_new_tokens, 32);
  ASSERT_EQ(p.stages.size(), 3u);
  EXPECT_EQ(p.stages[0].kind, "sft");
  EXPECT_EQ(p.stages[0].config.train.mode, "sft");
  EXPECT_EQ(p.stages[0].config.train.train_file, "out/demo/sft.jsonl");
  EXPECT_EQ(p.stages[0].config.train.max_steps, 5);
  EXPECT_DOUBLE_EQ(p.stages[0].config.optim.learning_rate, 1e-3);
  EXPECT_EQ(p.stages[1].kind, "dpo");
  EXPECT_EQ(p.stages[1].config.train.mode, "dpo");
  EXPECT_EQ(p.stages[1].config.train.max_steps, 2) << "from the base file";
  EXPECT_DOUBLE_EQ(p.stages[1].config.dpo.beta, 0.5);
  EXPECT_DOUBLE_EQ(p.stages[1].config.optim.learning_rate, 2e-5) << "inline keys win over the base";
  EXPECT_EQ(p.stages[1].pairs.prompts, "out/demo/prompts.jsonl");
  EXPECT_EQ(p.stages[1].pairs.n, 4);
  EXPECT_EQ(p.stages[2].kind, "rlvr");
  EXPECT_EQ(p.stages[2].config.rl.train_file, "out/demo/rl.jsonl");
  EXPECT_EQ(p.stages[2].config.rl.total_steps, 3);
  EXPECT_THAT(p.stages[2].source, HasSubstr("p.yaml:18:5"));
  EXPECT_TRUE(is_pipeline_file(dir_.path() + "/p.yaml"));
  EXPECT_FALSE(is_pipeline_file(dir_.path() + "/stages/sft.yaml"));
}

TEST_F(PipelineConfigTest, SetRoutesToThePipelineOrAStageAndRunFollowsTheNewOutputDir) {
  PipelineConfig p = load_pipeline(write(kPipeline), {"pipeline.output_dir=elsewhere", "pipeline.eval.n=4",
                                                      "sft.optim.learning_rate=0.5", "rlvr.rl.total_steps=9"});
  EXPECT_EQ(p.pipeline.eval.data[0], "elsewhere/held.jsonl");
  EXPECT_EQ(p.pipeline.eval.n, 4);
  EXPECT_DOUBLE_EQ(p.stages[0].config.optim.learning_rate, 0.5);
  EXPECT_EQ(p.stages[0].config.train.train_file, "elsewhere/sft.jsonl");
  EXPECT_EQ(p.stages[2].config.rl.total_steps, 9);
  EXPECT_THAT(error_message([&] { load_pipeline(write(kPipeline), {"optim.learning_rate=1"}); }),
              HasSubstr("--set optim.learning_rate=1: a pipeline override starts with 'pipeline.' or a stage name"));
  EXPECT_THAT(error_message([&] { load_pipeline(write(kPipeline), {"sft.optim.learnin_rate=1"}); }),
              HasSubstr("unknown key 'learnin_rate' in 'optim'; did you mean 'learning_rate'?"));
  EXPECT_THAT(error_message([&] { load_pipeline(write(kPipeline), {"pipeline.eval.n=0"}); }),
              HasSubstr("pipeline.eval.n: value '0' is out of range"));
  const std::string two = "pipeline:\n  model: m\n  eval: {data: [e]}\nstages:\n  - sft:\n";
  EXPECT_THAT(error_message([&] { load_pipeline(write(two), {"dpo.dpo.beta=1"}); }),
              HasSubstr("--set dpo.dpo.beta=1: the pipeline has no 'dpo' stage"));
}

TEST_F(PipelineConfigTest, ABadKeyInsideAnInlineStageNamesThePipelineFileLineAndColumn) {
  std::string text = kPipeline;
  text.replace(text.find("total_steps: 3"), 14, "total_step: 3");
  EXPECT_THAT(error_message([&] { load_pipeline(write(text)); }),
              HasSubstr("p.yaml:21:9: unknown key 'total_step' in 'rl'; did you mean 'total_steps'?"));
}

TEST_F(PipelineConfigTest, ABadKeyInAStageFileNamesThatFile) {
  dir_.write("stages/sft.yaml", "train:\n  max_stepz: 5\n");
  EXPECT_THAT(error_message([&] { load_pipeline(write(kPipeline)); }),
              HasSubstr("stages/sft.yaml:2:3: unknown key 'max_stepz' in 'train'; did you mean 'max_steps'?"));
  EXPECT_THAT(error_message([&] {
                std::string text = kPipeline;
                text.replace(text.find("stages/sft.yaml"), 15, "stages/nope.yaml");
                load_pipeline(write(text));
              }),
              HasSubstr("p.yaml:10:10: stages[0].sft:"));
}

TEST_F(PipelineConfigTest, StructuralMistakesAreNamed) {
  const std::string head = "pipeline:\n  model: m\n  eval: {data: [e]}\n";
  EXPECT_THAT(error_message([&] { load_pipeline(write(head + "stages:\n  - sft:\n  - sft:\n")); }),
              HasSubstr("p.yaml:6:5: stages[1]: stage 'sft' appears twice"));
  EXPECT_THAT(error_message([&] { load_pipeline(write(head + "stages:\n  - sfd: a.yaml\n")); }),
              HasSubstr("p.yaml:5:5: stages[0]: unknown key 'sfd'; did you mean 'sft'?"));
  EXPECT_THAT(error_message([&] { load_pipeline(write(head + "stages:\n  - sft:\n    pairs: {prompts: x}\n")); }),
              HasSubstr("stages[0].pairs: only a dpo stage builds preference pairs"));
  EXPECT_THAT(error_message([&] { load_pipeline(write(head + "stages:\n  - dpo:\n      train: {mode: sft}\n")); }),
              HasSubstr("p.yaml:6:21: train.mode: 'sft' in the dpo stage; leave it out"));
  EXPECT_THAT(error_message([&] { load_pipeline(write(head + "stages: []\n")); }),
              HasSubstr("stages: expected a non-empty list"));
  EXPECT_THAT(error_message([&] { load_pipeline(write(head + "stage:\n  - sft:\n")); }),
              HasSubstr("p.yaml:4:1: unknown top-level key 'stage' in a pipeline file; did you mean 'stages'?"));
  EXPECT_THAT(error_message([&] { load_pipeline(write("pipeline:\n  eval: {data: [e]}\nstages:\n  - sft:\n")); }),
              HasSubstr("pipeline: set 'model' (a starting checkpoint) or 'init.model_config'"));
  EXPECT_THAT(error_message([&] { load_pipeline(write("pipeline:\n  model: m\nstages:\n  - sft:\n")); }),
              HasSubstr("pipeline.eval.data: expected at least one held-out JSONL file"));
  EXPECT_THAT(error_message([&] { load_pipeline(write("pipeline:\n  model: m\n  evl: {}\nstages:\n  - sft:\n")); }),
              HasSubstr("p.yaml:3:3: unknown key 'evl' in 'pipeline'; did you mean 'eval'?"));
}

TEST(PipelineConfigRepo, TheShippedTinyPipelineIsValid) {
  PipelineConfig p = load_pipeline(std::string(RLVR_SOURCE_DIR) + "/configs/tiny.yaml");
  ASSERT_EQ(p.stages.size(), 3u);
  EXPECT_EQ(p.stages[0].kind, "sft");
  EXPECT_EQ(p.stages[1].kind, "dpo");
  EXPECT_EQ(p.stages[2].kind, "rlvr");
  EXPECT_EQ(p.stages[2].config.rl.train_file, "runs/tiny/prepare/data/rlvr.jsonl");
  EXPECT_THAT(p.pipeline.init.model_config, HasSubstr("configs/tiny/model.json"));
}

TEST(PipelineConfigRepo, TheShippedTulu3RecipeIsValidAndKeepsThePublishedSettings) {
  PipelineConfig p = load_pipeline(std::string(RLVR_SOURCE_DIR) + "/configs/tulu3/pipeline.yaml");
  ASSERT_EQ(p.stages.size(), 3u);
  const Config& sft = p.stages[0].config;
  EXPECT_DOUBLE_EQ(sft.optim.learning_rate, 5e-6);
  EXPECT_EQ(sft.train.batch_size * sft.train.grad_accum_steps, 128);
  EXPECT_EQ(sft.train.num_epochs, 2);
  const Config& dpo = p.stages[1].config;
  EXPECT_EQ(dpo.dpo.loss, "dpo_norm");
  EXPECT_DOUBLE_EQ(dpo.dpo.beta, 5.0);
  EXPECT_DOUBLE_EQ(dpo.optim.learning_rate, 5e-7);
  const Config& rl = p.stages[2].config;
  EXPECT_EQ(rl.rl.advantage, "gae");
  EXPECT_DOUBLE_EQ(rl.rl.kl.coef, 0.05);
  EXPECT_DOUBLE_EQ(rl.optim.learning_rate, 3e-7);
  EXPECT_DOUBLE_EQ(rl.rl.rewards.non_stop_penalty, -10.0);
  EXPECT_DOUBLE_EQ(rl.verifiers.verification_reward, 10.0);
  EXPECT_EQ(rl.run.device, "cuda");
}

}  // namespace
}  // namespace rlvr::core
