// `rlvr generate` and `rlvr eval` end to end: a tokenizer trained in-test on the synthetic task
// world's corpus, a random tiny checkpoint written with save_checkpoint, the real binary.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/data/synth.h"
#include "core/fs.h"
#include "core/model/checkpoint.h"
#include "core/tokenizer/bpe_trainer.h"
#include "core/tokenizer/tokenizer.h"
#include "tests/actors/actors_test_util.h"
#include "tests/test_util.h"

namespace rlvr::actors {
namespace {

using rlvr::testing::run_command;
using rlvr::testing::TempDir;

std::vector<nlohmann::json> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> out;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

class GenerateCli : public ::testing::Test {
 protected:
  void SetUp() override {
    core::SynthOptions so;
    so.train_rows = 50;
    so.eval_rows = 6;
    core::synthesize_task_world(dir_.path() + "/data", so);
    core::BpeTrainerOptions bo;
    bo.vocab_size = 400;
    bo.special_tokens = {"<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>"};
    std::string tok_json = core::train_bpe_files({dir_.path() + "/data/corpus.txt"}, bo);
    model_ = dir_.path() + "/model";
    auto config = rlvr::testing::tiny_config(core::Tokenizer::from_json(tok_json, "t").vocab_size());
    config.eos_token_id = {0};
    core::CausalLM model(config);
    model->init_weights(3);
    core::save_checkpoint(*model, config, model_);
    core::write_file_atomic(model_ + "/tokenizer.json", tok_json);
    data_ = dir_.path() + "/data/eval.jsonl";
  }

  TempDir dir_;
  std::string model_, data_;
  const std::string rlvr_ = RLVR_BINARY;
};

TEST_F(GenerateCli, WritesOneLinePerSampleReproducibly) {
  const std::string out1 = dir_.path() + "/gen1.jsonl", out2 = dir_.path() + "/gen2.jsonl";
  const std::string common = rlvr_ + " generate --model " + model_ + " --prompts " + data_ +
                             " --n 3 --temperature 0.9 --top-p 0.95 --max-new-tokens 12 --seed 5";
  auto r = run_command(common + " --batch-size 4 --out " + out1);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("generate: 18/18 samples"), std::string::npos) << r.output;
  auto lines = read_lines(out1);
  ASSERT_EQ(lines.size(), 18u);
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto& j = lines[i];
    EXPECT_EQ(j["prompt_index"].get<int64_t>(), static_cast<int64_t>(i / 3));
    EXPECT_EQ(j["sample_index"].get<int64_t>(), static_cast<int64_t>(i % 3));
    EXPECT_EQ(j["token_ids"].size(), j["logprobs"].size());
    EXPECT_LE(j["token_ids"].size(), 12u);
    const std::string reason = j["finish_reason"];
    EXPECT_TRUE(reason == "eos" || reason == "length" || reason == "stop") << reason;
    EXPECT_EQ(j["dataset"], "gsm8k");
    EXPECT_TRUE(j["timing"].contains("latency_s"));
    for (const auto& lp : j["logprobs"]) EXPECT_LE(lp.get<double>(), 0.0);
  }
  // Same seed, one row at a time, static batching: the same samples.
  r = run_command(common + " --batch-size 1 --no-continuous-batching --out " + out2);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto again = read_lines(out2);
  ASSERT_EQ(again.size(), lines.size());
  for (size_t i = 0; i < lines.size(); ++i) EXPECT_EQ(again[i]["token_ids"], lines[i]["token_ids"]) << i;
}

TEST_F(GenerateCli, EvalScoresAndSummarizes) {
  const std::string out = dir_.path() + "/eval.jsonl";
  auto r = run_command(rlvr_ + " eval --model " + model_ + " --data " + data_ +
                       " --n 2 --temperature 1 --max-new-tokens 10 --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("gsm8k"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("pass@2"), std::string::npos) << r.output;
  auto lines = read_lines(out);
  ASSERT_EQ(lines.size(), 12u);
  for (const auto& j : lines) {
    EXPECT_TRUE(j.contains("score"));
    EXPECT_TRUE(j.contains("answer_found"));
    EXPECT_TRUE(j.contains("ground_truth"));
  }
  auto summary = nlohmann::json::parse(core::read_file(out + ".summary.json"));
  EXPECT_EQ(summary["n"], 2);
  EXPECT_EQ(summary["overall"]["samples"], 12);
  EXPECT_EQ(summary["overall"]["prompts"], 6);
  EXPECT_TRUE(summary["overall"]["pass_at_k"].contains("pass@2"));
  EXPECT_EQ(summary["datasets"][0]["dataset"], "gsm8k");
  const double ff = summary["overall"]["format_failure_rate"];
  EXPECT_GE(ff, 0.0);
  EXPECT_LE(ff, 1.0);
}

TEST_F(GenerateCli, BadInputGivesOneLineErrors) {
  auto r = run_command(rlvr_ + " generate --prompts " + data_ + " --out x.jsonl");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--model"), std::string::npos) << r.output;
  std::string bad = dir_.write("bad.jsonl", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n{oops\n");
  r = run_command(rlvr_ + " generate --model " + model_ + " --prompts " + bad + " --out " + dir_.path() + "/o.jsonl");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find(bad + ":2:"), std::string::npos) << r.output;
  r = run_command(rlvr_ + " generate --model " + dir_.path() + "/nope --prompts " + data_ + " --out o.jsonl");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find(dir_.path() + "/nope"), std::string::npos) << r.output;
  r = run_command(rlvr_ + " generate --model " + model_ + " --prompts " + data_ + " --out o.jsonl --top-p 2");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--top-p"), std::string::npos) << r.output;
  // eval needs RLVR rows: an SFT-style row without ground_truth names its line.
  r = run_command(rlvr_ + " eval --model " + model_ + " --data " + bad);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find(bad + ":1:"), std::string::npos) << r.output;
  std::string unknown = dir_.write(
      "unk.jsonl", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"ground_truth\": \"1\", \"dataset\": \"nosuch\"}\n");
  r = run_command(rlvr_ + " eval --model " + model_ + " --data " + unknown);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("no verifier named 'nosuch'"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace rlvr::actors
