// The RL learner end to end on the tiny task world: an SFT checkpoint, rollouts sampled from it
// with the real sampler and scored by the gsm8k verifier, then `rlvr learner --replay` runs
// (learner/rl_replay.h): the policy and critic move, reruns are bit-identical, a resumed run ends
// with the same weights as an uninterrupted one, rewarded samples become more likely, and bad
// records are refused naming the line, sample and field.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <numeric>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "actors/prompts.h"
#include "actors/sampler.h"
#include "core/config/loader.h"
#include "core/data/rollout.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/model/checkpoint.h"
#include "core/model/logprobs.h"
#include "core/model/transformer.h"
#include "learner/rl_replay.h"
#include "sft_dpo/trainer.h"
#include "tests/sft_dpo/hand_off_check.h"
#include "tests/sft_dpo/tiny_world.h"
#include "tests/test_util.h"
#include "verifiers/reward.h"

namespace rlvr::learner {
namespace {

namespace fs = std::filesystem;
using rlvr::testing::error_message;
using rlvr::testing::TempDir;

using Weights = std::map<std::string, at::Tensor>;

Weights weights_of(torch::nn::Module& m) {
  Weights out;
  for (const auto& item : m.named_parameters()) out[item.key()] = item.value().detach().clone();
  return out;
}
Weights policy_weights(const std::string& dir) {
  auto m = core::load_causal_lm(dir);
  return weights_of(*m);
}
bool bit_equal(const Weights& a, const Weights& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [k, v] : a) {
    if (!b.count(k) || !torch::equal(v, b.at(k))) return false;
  }
  return true;
}
double max_abs_diff(const Weights& a, const Weights& b) {
  double d = 0;
  for (const auto& [k, v] : a) d = std::max(d, (v - b.at(k)).abs().max().item<double>());
  return d;
}

// Mean per-token log-prob of each record's completion under the model in `dir` (temperature 1).
std::vector<double> mean_logprobs(const std::string& dir, const std::vector<core::RolloutSample>& recs) {
  torch::NoGradGuard no_grad;
  auto m = core::load_causal_lm(dir);
  m->eval();
  std::vector<double> out;
  for (const auto& r : recs) {
    std::vector<int64_t> ids(r.prompt_ids.begin(), r.prompt_ids.end());
    ids.insert(ids.end(), r.completion_ids.begin(), r.completion_ids.end());
    at::Tensor tokens = torch::tensor(ids).unsqueeze(0);
    at::Tensor logits = m->forward(tokens);
    const int64_t P = static_cast<int64_t>(r.prompt_ids.size()), T = static_cast<int64_t>(r.completion_ids.size());
    at::Tensor lp = core::behaviour_logprobs(logits.narrow(1, P - 1, T), tokens.narrow(1, P, T), 1.0);
    out.push_back(lp.mean().item<double>());
  }
  return out;
}

class RlReplay : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    core::init_logging("warn");
    root_ = new TempDir();
    // The SFT model and the rollouts sampled from it are built once for all test processes.
    const std::string dir = rlvr::testing::shared_fixture_dir("rl-itest", [](const std::string& d) {
      auto world = rlvr::testing::make_tiny_world(d, /*rows=*/256, /*hidden=*/64, /*layers=*/2);
      // A short SFT so that samples follow the answer format and some are right.
      core::Config sft;
      sft.run.output_dir = d + "/sft";
      sft.run.threads = 2;
      sft.model.path = world.model_dir;
      sft.train.mode = "sft";
      sft.train.train_file = world.data_dir + "/sft.jsonl";
      sft.train.max_seq_len = 128;
      sft.train.batch_size = 16;
      sft.train.num_epochs = 12;
      sft.optim.learning_rate = 5e-3;
      sft.optim.warmup_ratio = 0;
      sft_dpo::run_training(sft);
      core::init_logging("warn");
      sample_rollouts(world.data_dir, d + "/sft/final", d + "/rollouts.jsonl");
    });
    world_ = {dir + "/data", dir + "/model"};
    sft_dir_ = dir + "/sft/final";
    rollouts_ = dir + "/rollouts.jsonl";
    records_ = core::read_rollouts(rollouts_);
  }
  static void TearDownTestSuite() { delete root_; }
  void SetUp() override { core::init_logging("warn"); }

  // 12 prompts x 8 samples at temperature 1 from the SFT model, scored by gsm8k, to `out`.
  static void sample_rollouts(const std::string& data_dir, const std::string& sft_dir, const std::string& out) {
    core::Tokenizer tok = core::Tokenizer::from_file(sft_dir + "/tokenizer.json");
    actors::PromptOptions po;
    po.require_ground_truth = true;
    actors::PromptSet prompts = actors::load_prompts(data_dir + "/rlvr.jsonl", tok, po);
    prompts.rows.resize(12);
    auto model = core::load_causal_lm(sft_dir);
    model->eval();
    actors::Sampler sampler(model.ptr(), &tok, {});
    actors::SamplingParams sp;
    sp.n = 8;
    sp.temperature = 1.0;
    sp.max_new_tokens = 24;
    sp.seed = 11;
    sp.stop_token_ids = {prompts.end_of_turn_id, 0};
    std::vector<std::vector<int32_t>> ids;
    for (const auto& r : prompts.rows) ids.push_back(r.ids);
    auto samples = sampler.generate(ids, sp, /*policy_version=*/0);
    verifiers::RewardScorer scorer(core::VerifiersConfig{}, 1);
    std::string text;
    for (const auto& s : samples) {
      const auto& row = prompts.rows[static_cast<size_t>(s.prompt_index)];
      verifiers::Reward rw = scorer.score(row.dataset, {row.text, s.text, row.ground_truth});
      core::RolloutSample r;
      r.prompt_index = s.prompt_index;
      r.sample_index = s.sample_index;
      r.dataset = row.dataset;
      r.prompt_ids = row.ids;
      r.completion_ids = s.token_ids;
      r.logprobs = s.logprobs;
      r.versions = {0};
      r.finish_reason = actors::finish_reason_name(s.finish_reason);
      r.score = rw.score;
      r.answer_found = rw.answer_found;
      r.reason = rw.reason;
      text += core::rollout_to_json(r).dump() + "\n";
    }
    core::write_file_atomic(out, text);
  }

  core::Config rl_config(const std::string& out, const std::string& advantage = "grpo") const {
    core::Config c;
    c.run.output_dir = out;
    c.run.threads = 2;
    c.model.path = sft_dir_;
    c.generation.temperature = 1.0;
    c.generation.max_new_tokens = 24;
    c.rl.advantage = advantage;
    c.rl.rollout_batch_size = 24;  // 3 groups of 8 per step: 4 steps in the file
    c.rl.total_steps = 4;
    c.rl.ppo_epochs = 2;
    c.rl.num_minibatches = 2;
    c.rl.micro_batch_size = 8;
    c.rl.kl.coef = 0.05;
    c.optim.learning_rate = 2e-3;
    c.optim.warmup_ratio = 0;
    c.optim.lr_scheduler = "constant";
    return c;
  }

  static TempDir* root_;
  static rlvr::testing::TinyWorld world_;
  static std::string sft_dir_, rollouts_;
  static std::vector<core::RolloutSample> records_;
};

TempDir* RlReplay::root_ = nullptr;
rlvr::testing::TinyWorld RlReplay::world_;
std::string RlReplay::sft_dir_, RlReplay::rollouts_;
std::vector<core::RolloutSample> RlReplay::records_;

TEST_F(RlReplay, BatchesAreWholeGroups) {
  EXPECT_EQ(replay_batches({0, 0, 1, 1, 1, 2, 3, 3}, 3),
            (std::vector<std::pair<int64_t, int64_t>>{{0, 5}, {5, 8}}));
  EXPECT_EQ(replay_batches({0, 0, 1, 1, 2}, 2), (std::vector<std::pair<int64_t, int64_t>>{{0, 2}, {2, 4}}))
      << "a short last batch is dropped";
  EXPECT_EQ(replay_batches({4, 4}, 10), (std::vector<std::pair<int64_t, int64_t>>{{0, 2}})) << "unless it is all";
}

TEST_F(RlReplay, GrpoReplayMovesThePolicyAndRerunsAreBitIdentical) {
  TempDir a, b;
  RlRunResult ra = run_replay(rl_config(a.path()), rollouts_);
  EXPECT_EQ(ra.steps, 4);
  EXPECT_EQ(ra.batches_available, 4);
  Weights wa = policy_weights(ra.final_dir);
  EXPECT_GT(max_abs_diff(wa, policy_weights(sft_dir_)), 1e-4) << "the policy moved";
  RlRunResult rb = run_replay(rl_config(b.path()), rollouts_);
  EXPECT_TRUE(bit_equal(wa, policy_weights(rb.final_dir))) << "max |diff| " << max_abs_diff(wa, policy_weights(rb.final_dir));
  // One metrics row per step with the documented names; rollouts.jsonl holds every sample.
  std::ifstream in(a.path() + "/metrics.jsonl");
  std::vector<nlohmann::json> rows;
  for (std::string line; std::getline(in, line);) rows.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(rows.size(), 4u);
  for (const char* key : {"reward/mean", "accuracy", "advantage/mean", "advantage/std", "loss/pg", "loss/kl", "kl/k1",
                          "kl/k3", "entropy", "clip/low_fraction", "clip/high_fraction", "ratio/mean", "ratio/max",
                          "is_weight/mean", "is_weight/truncated_fraction", "groups/zero_signal_fraction",
                          "length/mean", "length/max", "no_eos_fraction", "logprob_mismatch/max",
                          "logprob_mismatch/mean", "tokens_per_second", "time/step_s", "reward/gsm8k",
                          "accuracy/gsm8k", "staleness/max"}) {
    EXPECT_TRUE(rows[0].contains(key)) << key;
  }
  // The sampler and the learner run the same model: their log-probs agree to float noise.
  EXPECT_LT(rows[0]["logprob_mismatch/max"].get<double>(), 1e-3);
  EXPECT_DOUBLE_EQ(rows[0]["kl/k1"].get<double>(), 0.0) << "the reference is the starting policy";
  auto logged = core::read_rollouts(a.path() + "/rollouts.jsonl");
  EXPECT_EQ(logged.size(), 96u);
  EXPECT_EQ(logged[0].completion_ids, records_[0].completion_ids);
}

TEST_F(RlReplay, GaeTrainsThePolicyAndTheCritic) {
  TempDir a;
  core::Config c = rl_config(a.path(), "gae");
  c.rl.kl.in = "reward";
  c.rl.whiten_advantages = true;
  RlRunResult r = run_replay(c, rollouts_);
  EXPECT_GT(max_abs_diff(policy_weights(r.final_dir), policy_weights(sft_dir_)), 1e-4);
  // The RL final/ is handed back to transformers like SFT's: the chat template the prompts were
  // rendered with (the SFT output's, tulu), its EOS token and the EOS ids.
  rlvr::testing::expect_tulu_hand_off(r.final_dir);
  auto critic = core::load_critic(a.path() + "/final-critic");
  const double head = critic->score->weight.abs().max().item<double>();
  EXPECT_GT(head, 0.0) << "the value head started at zero and was trained";
  std::ifstream in(a.path() + "/metrics.jsonl");
  std::string line;
  std::getline(in, line);
  EXPECT_TRUE(nlohmann::json::parse(line).contains("loss/value"));
}

TEST_F(RlReplay, ResumedRunEndsWithTheSameWeightsAsAnUninterruptedOne) {
  TempDir a, b;
  for (const std::string advantage : {"grpo", "gae"}) {
    core::Config ca = rl_config(a.path() + "/" + advantage, advantage);
    ca.rl.checkpoint_every = 1;
    ca.rl.keep_checkpoints = 10;
    RlRunResult full = run_replay(ca, rollouts_);
    core::Config cb = ca;
    cb.run.output_dir = b.path() + "/" + advantage;
    run_replay(cb, rollouts_);
    // Leave run b as a process killed after step 2 would: later checkpoints and final/ gone.
    fs::remove_all(cb.run.output_dir + "/checkpoints/step-00000003");
    fs::remove_all(cb.run.output_dir + "/checkpoints/step-00000004");
    fs::remove_all(cb.run.output_dir + "/final");
    fs::remove_all(cb.run.output_dir + "/final-critic");
    RlRunResult resumed = run_replay(cb, rollouts_);
    EXPECT_EQ(resumed.resumed_from_step, 2) << advantage;
    EXPECT_TRUE(bit_equal(policy_weights(full.final_dir), policy_weights(resumed.final_dir)))
        << advantage << ": max |diff| " << max_abs_diff(policy_weights(full.final_dir), policy_weights(resumed.final_dir));
    if (advantage == "gae") {
      auto c1 = core::load_critic(ca.run.output_dir + "/final-critic");
      auto c2 = core::load_critic(cb.run.output_dir + "/final-critic");
      EXPECT_TRUE(bit_equal(weights_of(*c1), weights_of(*c2))) << "critic";
    }
    EXPECT_EQ(core::read_rollouts(ca.run.output_dir + "/rollouts.jsonl").size(),
              core::read_rollouts(cb.run.output_dir + "/rollouts.jsonl").size());
  }
}

TEST_F(RlReplay, LearnerStepsRaiseTheLogProbabilityOfRewardedSamples) {
  std::vector<core::RolloutSample> good, bad;
  for (const auto& r : records_) (r.score >= 1.0 ? good : bad).push_back(r);
  ASSERT_GT(good.size(), 0u) << "the SFT model answered nothing right: no reward signal in the fixture";
  ASSERT_GT(bad.size(), 0u);
  TempDir a;
  core::Config c = rl_config(a.path());
  c.rl.kl.coef = 0;
  c.optim.learning_rate = 3e-4;
  RlRunResult r = run_replay(c, rollouts_);
  auto before_good = mean_logprobs(sft_dir_, good), after_good = mean_logprobs(r.final_dir, good);
  auto before_bad = mean_logprobs(sft_dir_, bad), after_bad = mean_logprobs(r.final_dir, bad);
  auto mean = [](const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0) / v.size(); };
  std::cout << "[ rl ] " << good.size() << " rewarded samples: mean log-prob " << mean(before_good) << " -> "
            << mean(after_good) << "; " << bad.size() << " others: " << mean(before_bad) << " -> " << mean(after_bad)
            << "\n";
  EXPECT_GT(mean(after_good), mean(before_good));
  EXPECT_GT(mean(after_good) - mean(before_good), mean(after_bad) - mean(before_bad));
}

TEST_F(RlReplay, BadRecordIsRefusedNamingLineSampleAndFieldBeforeAnythingIsWritten) {
  TempDir a;
  std::string text = core::read_file(rollouts_);
  // Line 5: a completion token outside the vocabulary (320).
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  auto j = nlohmann::json::parse(lines[4]);
  j["completion_ids"][1] = 5000;
  lines[4] = j.dump();
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  const std::string bad = a.write("bad.jsonl", out);
  const std::string run = a.path() + "/run";
  std::string msg = error_message([&] { run_replay(rl_config(run), bad); });
  EXPECT_NE(msg.find(bad + ":5: prompt 0 sample 4 (actor 0): completion_ids[1]: token id 5000; expected an id in [0, "
                           "320)"),
            std::string::npos)
      << msg;
  EXPECT_FALSE(fs::exists(run + "/metrics.jsonl")) << "nothing was trained or written";
  // Log-probs that do not match the completion.
  j = nlohmann::json::parse(lines[4]);
  j["completion_ids"][1] = 7;
  j["logprobs"].erase(0);
  lines[4] = j.dump();
  out.clear();
  for (const auto& l : lines) out += l + "\n";
  const std::string bad2 = a.write("bad2.jsonl", out);
  msg = error_message([&] { run_replay(rl_config(run), bad2); });
  EXPECT_NE(msg.find(bad2 + ":5: prompt 0 sample 4 (actor 0): logprobs: "), std::string::npos) << msg;
}

TEST_F(RlReplay, TheCommandRunsAReplayAndRefusesAnotherRunInItsDirectory) {
  TempDir a;
  const std::string cfg = a.write("rl.yaml", fmt::format("model:\n  path: {}\nrun:\n  output_dir: {}/run\n  threads: 2\n"
                                                          "generation:\n  max_new_tokens: 24\n"
                                                          "rl:\n  rollout_batch_size: 48\n  total_steps: 2\n",
                                                          sft_dir_, a.path()));
  auto r = rlvr::testing::run_command(std::string(RLVR_BINARY) + " learner --config " + cfg + " --replay " + rollouts_);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("rl replay run 'run': 2 learner steps"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("step 2/2"), std::string::npos) << "progress line: " << r.output;
  EXPECT_TRUE(fs::exists(a.path() + "/run/final/model.safetensors"));
  // The same directory with another advantage estimator is another run: refused.
  r = rlvr::testing::run_command(std::string(RLVR_BINARY) + " learner --config " + cfg + " --replay " + rollouts_ +
                                 " --set rl.advantage=rloo");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("rl.advantage: grpo -> rloo"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("rl.overwrite_output_dir"), std::string::npos) << r.output;
}

// learner/distributed.h: `rlvr learner --replay` on two data-parallel ranks (processes, Gloo on
// loopback) ends with the weights of one rank on the same batches, for grpo with a KL term and for
// gae (policy and critic gradients summed over the ranks); rank 0 alone writes the run directory.
TEST_F(RlReplay, TwoRanksEndWithTheWeightsOfOneRank) {
  for (const std::string advantage : {"grpo", "gae"}) {
    SCOPED_TRACE(advantage);
    TempDir a;
    core::Config c = rl_config(a.path() + "/one", advantage);
    c.rl.total_steps = 3;
    c.run.threads = 1;
    c.rl.checkpoint_every = 1;
    const std::string one = a.write("one.yaml", core::config_to_yaml(c));
    c.run.output_dir = a.path() + "/two";
    const std::string two = a.write("two.yaml", core::config_to_yaml(c));
    auto r = rlvr::testing::run_command(std::string(RLVR_BINARY) + " learner --config " + one + " --replay " + rollouts_);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    fs::create_directories(a.path() + "/scratch");
    auto ranks = rlvr::testing::run_ranks(std::string(RLVR_BINARY) + " learner --config " + two + " --replay " + rollouts_,
                                          2, rlvr::testing::free_tcp_port(), a.path() + "/scratch");
    ASSERT_EQ(ranks[0].exit_code, 0) << ranks[0].output;
    ASSERT_EQ(ranks[1].exit_code, 0) << ranks[1].output;
    const Weights w1 = policy_weights(a.path() + "/one/final"), w2 = policy_weights(a.path() + "/two/final");
    const double moved = max_abs_diff(w1, policy_weights(sft_dir_));
    EXPECT_GT(moved, 1e-4);
    EXPECT_LT(max_abs_diff(w1, w2), 2e-5) << "moved " << moved;
    if (advantage == "gae") {
      auto c1 = core::load_critic(a.path() + "/one/final-critic"), c2 = core::load_critic(a.path() + "/two/final-critic");
      EXPECT_LT(max_abs_diff(weights_of(*c1), weights_of(*c2)), 2e-5);
    }
    // The same metrics, written once.
    auto rows = [](const std::string& path) {
      std::vector<nlohmann::json> out;
      std::istringstream in(core::read_file(path));
      for (std::string line; std::getline(in, line);) {
        if (!line.empty()) out.push_back(nlohmann::json::parse(line));
      }
      return out;
    };
    auto m1 = rows(a.path() + "/one/metrics.jsonl"), m2 = rows(a.path() + "/two/metrics.jsonl");
    ASSERT_EQ(m1.size(), 3u);
    ASSERT_EQ(m2.size(), 3u);
    for (const char* key : {"loss/policy", "clip/low_fraction", "ratio/max", "kl/k3", "samples/trained"}) {
      if (!m1[2].contains(key)) continue;
      EXPECT_NEAR(m1[2][key].get<double>(), m2[2][key].get<double>(), 1e-5) << key;
    }
    EXPECT_TRUE(fs::exists(a.path() + "/two/logs/rank-1.log"));
  }
}

}  // namespace
}  // namespace rlvr::learner
