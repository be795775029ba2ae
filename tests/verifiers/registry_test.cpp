// The registry, the extension example from docs/VERIFIERS.md, and the reward scorer.
#include <atomic>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/config/config.h"
#include "core/error.h"
#include "verifiers/reward.h"
#include "verifiers/thread_pool.h"
#include "verifiers/verifier.h"

// --- the docs/VERIFIERS.md example, verbatim: one class and one registration line ---
#include "verifiers/text.h"

class ContainsVerifier : public rlvr::verifiers::Verifier {
 public:
  explicit ContainsVerifier(const rlvr::verifiers::VerifierOptions& o) : options_(o) {}
  rlvr::verifiers::VerifyResult verify(const rlvr::verifiers::VerifyInput& in) const override {
    std::string text = rlvr::verifiers::strip_think(
        rlvr::verifiers::cap_input(in.response, options_.max_input_bytes));
    bool ok = !in.ground_truth.empty() && text.find(in.ground_truth) != std::string::npos;
    return {ok ? 1.0 : 0.0, ok, ok ? "contains the ground truth" : "ground truth not found"};
  }

 private:
  rlvr::verifiers::VerifierOptions options_;
};
RLVR_REGISTER_VERIFIER("contains", ContainsVerifier);
// --- end of the example ---

namespace rlvr::verifiers {
namespace {

TEST(Registry, ExampleVerifierIsRegistered) {
  auto names = verifier_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "contains"), names.end());
  auto v = make_verifier("contains");
  EXPECT_EQ(v->verify({"", "the answer is Paris", "Paris"}).score, 1.0);
  EXPECT_EQ(v->verify({"", "<think>Paris</think>London", "Paris"}).score, 0.0);
}

TEST(Registry, BuiltinsArePresent) {
  auto names = verifier_names();
  for (const char* n : {"gsm8k", "math"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  }
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
}

TEST(Registry, UnknownNameListsKnownOnes) {
  try {
    make_verifier("no_such_verifier");
    FAIL();
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("no_such_verifier"), std::string::npos);
    EXPECT_NE(m.find("gsm8k"), std::string::npos);
  }
}

TEST(Registry, RegisterAtRuntimeReplaces) {
  register_verifier("runtime_const", [](const VerifierOptions&) {
    struct Half : Verifier {
      VerifyResult verify(const VerifyInput&) const override { return {0.5, true, "half"}; }
    };
    return std::unique_ptr<Verifier>(new Half);
  });
  EXPECT_EQ(make_verifier("runtime_const")->verify({}).score, 0.5);
}

TEST(Registry, OptionsReachTheVerifier) {
  VerifierOptions o;
  o.max_input_bytes = 4;
  auto v = make_verifier("contains", o);
  EXPECT_EQ(v->verify({"", "abcdef", "abc"}).score, 1.0);
  EXPECT_EQ(v->verify({"", "abcdef", "def"}).score, 0.0);
}

// --- reward scorer ---

core::VerifiersConfig config_with_reward(double reward) {
  core::VerifiersConfig c;
  c.verification_reward = reward;
  return c;
}

TEST(RewardScorer, RewardIsScoreTimesVerificationReward) {
  RewardScorer s(config_with_reward(10), 2);
  Reward r = s.score("gsm8k", {"", "#### 5", "5"});
  EXPECT_EQ(r.score, 1.0);
  EXPECT_EQ(r.reward, 10.0);
  EXPECT_TRUE(r.answer_found);
  EXPECT_EQ(s.score("gsm8k", {"", "#### 4", "5"}).reward, 0.0);
  RewardScorer one(config_with_reward(1), 1);
  EXPECT_EQ(one.score("math", {"", "\\boxed{1}", "1"}).reward, 1.0);
}

TEST(RewardScorer, DatasetNameIsCaseInsensitiveFallback) {
  RewardScorer s(config_with_reward(10), 1);
  EXPECT_EQ(s.score("MATH", {"", "\\boxed{2}", "2"}).score, 1.0);
  EXPECT_EQ(s.score("GSM8K", {"", "2", "2"}).score, 1.0);
  EXPECT_TRUE(s.has_verifier("Math"));
}

TEST(RewardScorer, UnknownDatasetIsAValueNotAnException) {
  RewardScorer s(config_with_reward(10), 1);
  Reward r = s.score("nope", {"", "1", "1"});
  EXPECT_FALSE(r.known_dataset);
  EXPECT_EQ(r.score, 0.0);
  EXPECT_NE(r.reason.find("unknown dataset 'nope'"), std::string::npos);
  EXPECT_FALSE(s.has_verifier("nope"));
}

TEST(RewardScorer, VerifierRegisteredAfterConstructionIsFound) {
  RewardScorer s(config_with_reward(2), 1);
  register_verifier("late_one", [](const VerifierOptions&) {
    struct One : Verifier {
      VerifyResult verify(const VerifyInput&) const override { return {1.0, true, "one"}; }
    };
    return std::unique_ptr<Verifier>(new One);
  });
  EXPECT_EQ(s.score("late_one", {}).reward, 2.0);
}

TEST(RewardScorer, ThrowingVerifierScoresZero) {
  register_verifier("throws", [](const VerifierOptions&) {
    struct Throws : Verifier {
      VerifyResult verify(const VerifyInput&) const override { throw std::runtime_error("boom"); }
    };
    return std::unique_ptr<Verifier>(new Throws);
  });
  RewardScorer s(config_with_reward(10), 1);
  Reward r = s.score("throws", {});
  EXPECT_EQ(r.score, 0.0);
  EXPECT_TRUE(r.error);
  EXPECT_NE(r.reason.find("boom"), std::string::npos);
}

TEST(RewardScorer, OutOfRangeScoresAreClamped) {
  register_verifier("too_big", [](const VerifierOptions&) {
    struct TooBig : Verifier {
      VerifyResult verify(const VerifyInput&) const override { return {3.0, true, "3"}; }
    };
    return std::unique_ptr<Verifier>(new TooBig);
  });
  RewardScorer s(config_with_reward(10), 1);
  EXPECT_EQ(s.score("too_big", {}).reward, 10.0);
}

TEST(RewardScorer, BatchKeepsOrderAcrossDatasets) {
  RewardScorer s(config_with_reward(10), 4);
  std::vector<RewardRequest> reqs;
  for (int i = 0; i < 1000; ++i) {
    std::string n = std::to_string(i);
    if (i % 3 == 0) reqs.push_back({"gsm8k", {"", "#### " + n, n}});
    if (i % 3 == 1) reqs.push_back({"math", {"", "\\boxed{" + n + "}", i % 2 ? n : "x"}});
    if (i % 3 == 2) reqs.push_back({"contains", {"", "abc" + n, n}});
  }
  auto out = s.score_batch(reqs);
  ASSERT_EQ(out.size(), reqs.size());
  for (int i = 0; i < 1000; ++i) {
    double expected = (i % 3 == 1 && i % 2 == 0) ? 0.0 : 1.0;
    EXPECT_EQ(out[i].score, expected) << i << " " << out[i].reason;
  }
  auto fut = s.score_batch_async(reqs);
  auto out2 = fut.get();
  for (size_t i = 0; i < out.size(); ++i) EXPECT_EQ(out2[i].score, out[i].score);
  EXPECT_TRUE(s.score_batch({}).empty());
}

TEST(RewardScorer, MaxInputBytesFromConfig) {
  EXPECT_EQ(core::VerifiersConfig{}.max_input_bytes, 4194304);
  EXPECT_EQ(VerifierOptions{}.max_input_bytes, size_t{4194304});
  core::VerifiersConfig c;
  c.max_input_bytes = 6;
  RewardScorer s(c, 1);
  // gsm8k reads the last 6 bytes ("then 7").
  EXPECT_EQ(s.score("gsm8k", {"", "#### 5 and then 7", "7"}).score, 1.0);
  EXPECT_EQ(s.score("gsm8k", {"", "#### 5 and then 7", "5"}).score, 0.0);
  // ifeval does not check a prefix: over the bound is an error.
  Reward r = s.score("ifeval", {"", "no comma at all", R"({"instruction_id": ["punctuation:no_comma"], "kwargs": [{}]})"});
  EXPECT_EQ(r.score, 0.0);
  EXPECT_TRUE(r.error);
  EXPECT_NE(r.reason.find("verifiers.max_input_bytes (6)"), std::string::npos) << r.reason;
}

TEST(RewardScorer, NonFiniteScoreIsZeroAndAnError) {
  register_verifier("nan_score", [](const VerifierOptions&) {
    struct NanScore : Verifier {
      VerifyResult verify(const VerifyInput& in) const override {
        double v = in.response == "inf" ? std::numeric_limits<double>::infinity()
                                        : std::numeric_limits<double>::quiet_NaN();
        return {v, true, "computed"};
      }
    };
    return std::unique_ptr<Verifier>(new NanScore);
  });
  RewardScorer s(config_with_reward(10), 1);
  for (const char* what : {"nan", "inf"}) {
    Reward r = s.score("nan_score", {"", what, ""});
    EXPECT_EQ(r.score, 0.0) << what;
    EXPECT_EQ(r.reward, 0.0) << what;
    EXPECT_TRUE(r.error) << what;
    EXPECT_EQ(r.reason, std::string("verifier returned a non-finite score (") + what +
                            "); scored 0: computed");
  }
}

TEST(RewardScorer, ErrorsPropagate) {
  register_verifier("always_error", [](const VerifierOptions&) {
    struct AlwaysError : Verifier {
      VerifyResult verify(const VerifyInput&) const override {
        VerifyResult r;
        r.reason = "could not run";
        r.error = true;
        return r;
      }
    };
    return std::unique_ptr<Verifier>(new AlwaysError);
  });
  RewardScorer s(config_with_reward(10), 1);
  Reward r = s.score("always_error", {});
  EXPECT_TRUE(r.error);
  EXPECT_EQ(r.reason, "could not run");
  EXPECT_FALSE(s.score("gsm8k", {"", "#### 4", "5"}).error) << "a wrong answer is not an error";
  EXPECT_FALSE(s.score("gsm8k", {"", "none", "5"}).error) << "a format failure is not an error";
}

TEST(RewardScorer, OneElementListGroundTruthIsUnwrappedForEveryVerifier) {
  RewardScorer s(config_with_reward(10), 1);
  // gsm8k: a string element and a number element.
  EXPECT_EQ(s.score("gsm8k", {"", "#### 5", "[\"5\"]"}).score, 1.0);
  EXPECT_EQ(s.score("gsm8k", {"", "#### 5", "[5]"}).score, 1.0);
  EXPECT_EQ(s.score("gsm8k", {"", "#### 5", " [ \"5\" ] "}).score, 1.0);
  EXPECT_EQ(s.score("gsm8k", {"", "#### 5", "['5']"}).score, 1.0);
  EXPECT_EQ(s.score("gsm8k", {"", "#### 6", "[\"5\"]"}).score, 0.0);
  // math: a one-element list of LaTeX; several elements stay alternatives.
  EXPECT_EQ(s.score("math", {"", "\\boxed{0.5}", "[\"\\\\frac{1}{2}\"]"}).score, 1.0);
  EXPECT_EQ(s.score("math", {"", "\\boxed{7}", "[7]"}).score, 1.0);
  EXPECT_EQ(s.score("math", {"", "\\boxed{2}", "[\"1\", \"2\"]"}).score, 1.0);
  EXPECT_EQ(s.score("math", {"", "\\boxed{[1,2]}", "[1,2]"}).score, 1.0) << "an interval is not a list";
  // ifeval: a one-element list of the object, or of its JSON text.
  const std::string gt = R"({"instruction_id": ["punctuation:no_comma"], "kwargs": [{}]})";
  EXPECT_EQ(s.score("ifeval", {"", "no comma here", "[" + gt + "]"}).score, 1.0);
  EXPECT_EQ(s.score("ifeval", {"", "a, comma", "[" + gt + "]"}).score, 0.0);
  EXPECT_EQ(s.score("ifeval", {"", "no comma here", nlohmann::json::array({gt}).dump()}).score, 1.0);
  // ifeval_old: a one-element list of its object.
  EXPECT_EQ(s.score("ifeval_old", {"", "no comma here", R"([{"func_name": "validate_no_commas"}])"}).score, 1.0);
}

TEST(ThreadPool, ParallelForVisitsEveryIndexOnce) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> hits(10007);
  pool.parallel_for(hits.size(), [&](size_t i) { hits[i].fetch_add(1); });
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
}

TEST(ThreadPool, NestedParallelForDoesNotDeadlock) {
  ThreadPool pool(2);
  std::atomic<int> total{0};
  pool.parallel_for(8, [&](size_t) { pool.parallel_for(8, [&](size_t) { total.fetch_add(1); }); });
  EXPECT_EQ(total.load(), 64);
}

}  // namespace
}  // namespace rlvr::verifiers
