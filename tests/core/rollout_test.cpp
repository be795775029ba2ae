// Rollout records: JSONL round trip, validation naming the sample and field, file errors.
#include "core/data/rollout.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/test_util.h"

namespace rlvr::core {
namespace {

using rlvr::testing::error_message;
using rlvr::testing::TempDir;

RolloutSample good() {
  RolloutSample s;
  s.prompt_index = 12;
  s.sample_index = 3;
  s.actor_id = 2;
  s.dataset = "gsm8k";
  s.prompt_ids = {5, 6, 7};
  s.completion_ids = {8, 9};
  s.logprobs = {-0.5f, -1.25f};
  s.versions = {7};
  s.finish_reason = "eos";
  s.score = 1.0;
  s.answer_found = true;
  s.reason = "correct";
  return s;
}

RolloutLimits limits() {
  RolloutLimits l;
  l.vocab_size = 10;
  l.max_positions = 8;
  l.max_version = 9;
  return l;
}

TEST(Rollout, JsonRoundTripKeepsEveryField) {
  RolloutSample s = good();
  s.versions = {7, 8};
  s.verifier_error = true;
  nlohmann::json j = rollout_to_json(s);
  RolloutSample back = rollout_from_json(nlohmann::json::parse(j.dump()));
  EXPECT_EQ(back.prompt_index, 12);
  EXPECT_EQ(back.sample_index, 3);
  EXPECT_EQ(back.actor_id, 2);
  EXPECT_EQ(back.dataset, "gsm8k");
  EXPECT_EQ(back.prompt_ids, s.prompt_ids);
  EXPECT_EQ(back.completion_ids, s.completion_ids);
  EXPECT_EQ(back.logprobs, s.logprobs);
  EXPECT_EQ(back.versions, s.versions);
  EXPECT_EQ(back.finish_reason, "eos");
  EXPECT_EQ(back.score, 1.0);
  EXPECT_TRUE(back.answer_found);
  EXPECT_TRUE(back.verifier_error);
  EXPECT_EQ(back.reason, "correct");
  EXPECT_EQ(back.version_of(1), 8);
  EXPECT_EQ(back.min_version(), 7);
  EXPECT_FALSE(rollout_problem(back, limits()).has_value());
}

TEST(Rollout, EveryInconsistencyNamesTheSampleAndField) {
  struct Case {
    std::function<void(RolloutSample&)> edit;
    std::string message;
  };
  const std::vector<Case> cases = {
      {[](auto& s) { s.completion_ids = {8, 10}; },
       "prompt 12 sample 3 (actor 2): completion_ids[1]: token id 10; expected an id in [0, 10)"},
      {[](auto& s) { s.prompt_ids[0] = -1; }, "prompt_ids[0]: token id -1; expected an id in [0, 10)"},
      {[](auto& s) { s.prompt_ids.clear(); }, "prompt_ids: empty"},
      {[](auto& s) { s.completion_ids.clear(); s.logprobs.clear(); }, "completion_ids: empty"},
      {[](auto& s) { s.logprobs.pop_back(); }, "logprobs: 1 values for 2 completion tokens; expected one per token"},
      {[](auto& s) { s.logprobs[1] = std::nanf(""); }, "logprobs[1]: nan; expected a finite log-probability <= 0"},
      {[](auto& s) { s.logprobs[0] = 0.5f; }, "logprobs[0]: 0.5; expected a finite log-probability <= 0"},
      {[](auto& s) { s.versions = {1, 2, 3}; }, "versions: 3 values for 2 completion tokens"},
      {[](auto& s) { s.versions = {10}; }, "versions[0]: 10; expected a policy version in [0, 9]"},
      {[](auto& s) { s.versions = {}; }, "versions: 0 values for 2 completion tokens"},
      {[](auto& s) { s.finish_reason = "tired"; }, "finish_reason: 'tired'; expected eos, stop or length"},
      {[](auto& s) { s.score = 1.5; }, "score: 1.5; expected a number in [0, 1]"},
      {[](auto& s) { s.prompt_ids = {1, 2, 3, 4, 5, 6, 7}; },
       "completion_ids: 7 prompt + 2 completion tokens; expected at most 8"},
      {[](auto& s) { s.sample_index = -1; }, "sample_index: -1; expected >= 0"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    RolloutSample s = good();
    cases[i].edit(s);
    std::string msg = error_message([&] { validate_rollout(s, limits()); });
    EXPECT_NE(msg.find(cases[i].message), std::string::npos) << "case " << i << ": " << msg;
    EXPECT_EQ(msg.rfind("prompt 12 sample ", 0), 0u) << msg;
  }
}

TEST(Rollout, ReadRolloutsNamesFileLineAndField) {
  TempDir dir;
  nlohmann::json ok = rollout_to_json(good());
  nlohmann::json bad = ok;
  bad["logprobs"] = "many";
  std::string path = dir.write("r.jsonl", ok.dump() + "\n\n" + bad.dump() + "\n");
  EXPECT_EQ(error_message([&] { read_rollouts(path); }),
            path + ":3: field 'logprobs': expected a list, got string");
  nlohmann::json missing = ok;
  missing.erase("completion_ids");
  path = dir.write("m.jsonl", missing.dump() + "\n");
  EXPECT_EQ(error_message([&] { read_rollouts(path); }),
            path + ":1: field 'completion_ids' is missing; expected a list of numbers");
  path = dir.write("g.jsonl", ok.dump() + "\n" + ok.dump() + "\n");
  auto rows = read_rollouts(path);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].completion_ids, good().completion_ids);
  nlohmann::json extra = ok;
  extra["step"] = 4;  // fields a learner adds are ignored
  extra["advantage"] = 0.5;
  path = dir.write("e.jsonl", extra.dump() + "\n");
  EXPECT_EQ(read_rollouts(path).size(), 1u);
}

}  // namespace
}  // namespace rlvr::core
