// pass@k (Chen et al. 2021) and the eval summary.
#include "actors/eval_metrics.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/test_util.h"

namespace rlvr::actors {
namespace {

TEST(PassAtK, MatchesTheCombinatorialDefinition) {
  EXPECT_DOUBLE_EQ(pass_at_k(10, 0, 1), 0.0);
  EXPECT_DOUBLE_EQ(pass_at_k(10, 10, 5), 1.0);
  EXPECT_NEAR(pass_at_k(10, 3, 1), 0.3, 1e-12);
  EXPECT_NEAR(pass_at_k(5, 2, 2), 1.0 - 3.0 / 10.0, 1e-12);       // 1 - C(3,2)/C(5,2)
  EXPECT_NEAR(pass_at_k(10, 3, 5), 1.0 - 21.0 / 252.0, 1e-12);    // 1 - C(7,5)/C(10,5)
  EXPECT_DOUBLE_EQ(pass_at_k(4, 1, 4), 1.0);                       // n - c < k
  EXPECT_NEAR(pass_at_k(200, 1, 100), 0.5, 1e-12);
}

TEST(PassAtK, RejectsImpossibleCounts) {
  EXPECT_NE(rlvr::testing::error_message([] { pass_at_k(4, 5, 1); }).find("0 <= c <= n"), std::string::npos);
  EXPECT_NE(rlvr::testing::error_message([] { pass_at_k(4, 1, 5); }).find("1 <= k <= n"), std::string::npos);
}

TEST(EvalSummary, PerDatasetAccuracyPassAtKLengthAndFormatFailures) {
  std::vector<EvalRecord> recs;
  // gsm8k: prompt 0 has 1/4 correct, prompt 1 has 0/4 (two format failures); math: 4/4.
  for (int i = 0; i < 4; ++i) recs.push_back({"gsm8k", 0, i == 0 ? 1.0 : 0.0, true, 10, "eos"});
  for (int i = 0; i < 4; ++i) recs.push_back({"gsm8k", 1, 0.0, i < 2, 20, i < 2 ? "eos" : "length"});
  for (int i = 0; i < 4; ++i) recs.push_back({"math", 2, 1.0, true, 30, "stop"});
  EvalSummary s = summarize_eval(recs, 4);
  ASSERT_EQ(s.datasets.size(), 2u);
  const auto& g = s.datasets[0];
  EXPECT_EQ(g.dataset, "gsm8k");
  EXPECT_EQ(g.prompts, 2);
  EXPECT_EQ(g.samples, 8);
  EXPECT_DOUBLE_EQ(g.accuracy, 1.0 / 8);
  EXPECT_DOUBLE_EQ(g.pass_at.at(1), (0.25 + 0.0) / 2);
  EXPECT_DOUBLE_EQ(g.pass_at.at(2), (pass_at_k(4, 1, 2) + 0.0) / 2);
  EXPECT_DOUBLE_EQ(g.pass_at.at(4), 0.5);
  EXPECT_DOUBLE_EQ(g.mean_length, 15.0);
  EXPECT_DOUBLE_EQ(g.format_failure_rate, 2.0 / 8);
  EXPECT_DOUBLE_EQ(g.truncated_rate, 2.0 / 8);
  EXPECT_DOUBLE_EQ(s.datasets[1].accuracy, 1.0);
  EXPECT_EQ(s.overall.prompts, 3);
  EXPECT_DOUBLE_EQ(s.overall.accuracy, 5.0 / 12);
  auto j = eval_summary_to_json(s);
  EXPECT_DOUBLE_EQ(j["overall"]["pass_at_k"]["pass@4"].get<double>(), 2.0 / 3);
  EXPECT_NE(format_eval_summary(s).find("gsm8k"), std::string::npos);
}

TEST(EvalSummary, VerifierErrorsAreCountedApartFromFormatFailures) {
  std::vector<EvalRecord> recs = {{"ext", 0, 0.0, false, 5, "eos", /*error=*/true},
                                  {"ext", 1, 0.0, false, 5, "eos", /*error=*/false},
                                  {"ext", 2, 1.0, true, 5, "eos", /*error=*/false}};
  EvalSummary s = summarize_eval(recs, 1);
  EXPECT_EQ(s.overall.verifier_errors, 1);
  EXPECT_DOUBLE_EQ(s.overall.format_failure_rate, 1.0 / 3);  // only the sample without an answer
  EXPECT_EQ(eval_summary_to_json(s)["overall"]["verifier_errors"], 1);
  EXPECT_NE(format_eval_summary(s).find("errors"), std::string::npos);
}

TEST(EvalSummary, UnevenGroupsAreRejected) {
  std::vector<EvalRecord> recs = {{"gsm8k", 0, 1.0, true, 1, "eos"}};
  EXPECT_NE(rlvr::testing::error_message([&] { summarize_eval(recs, 2); }).find("expected n=2"),
            std::string::npos);
}

}  // namespace
}  // namespace rlvr::actors
