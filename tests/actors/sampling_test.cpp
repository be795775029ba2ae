// choose_token on hand-made logits, and the counter-based random streams.
#include "actors/sampling.h"

#include <cmath>
#include <map>
#include <set>

#include <gtest/gtest.h>

namespace rlvr::actors {
namespace {

// Frequencies of each token over a fine grid of u (exact inverse-CDF quadrature).
std::map<int32_t, double> frequencies(const std::vector<float>& logits, const SamplingParams& p, int grid = 20000) {
  ChooseScratch scratch;
  std::map<int32_t, double> f;
  for (int i = 0; i < grid; ++i) {
    f[choose_token(logits.data(), static_cast<int64_t>(logits.size()), p, (i + 0.5) / grid, &scratch).token] += 1.0 / grid;
  }
  return f;
}

TEST(ChooseToken, FrequenciesFollowTheTemperatureScaledSoftmax) {
  std::vector<float> logits = {1.0f, 2.0f, 0.5f, -1.0f};
  SamplingParams p;
  p.temperature = 0.5;
  auto f = frequencies(logits, p);
  double z = 0;
  for (float l : logits) z += std::exp(l / 0.5);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(f[i], std::exp(logits[i] / 0.5) / z, 1e-3) << i;
}

TEST(ChooseToken, TopKAndTopPTruncateAndRenormalize) {
  std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
  SamplingParams p;
  p.top_k = 2;
  auto f = frequencies(logits, p);
  EXPECT_NEAR(f[0], 0.5 / 0.8, 1e-3);
  EXPECT_NEAR(f[1], 0.3 / 0.8, 1e-3);
  EXPECT_EQ(f.count(2), 0u);
  p = SamplingParams{};
  p.top_p = 0.9;  // 0.5 + 0.3 + 0.15 = 0.95 >= 0.9: three tokens kept
  f = frequencies(logits, p);
  EXPECT_NEAR(f[2], 0.15 / 0.95, 1e-3);
  EXPECT_EQ(f.count(3), 0u);
  p.top_p = 0.45;  // the top token alone holds 0.5
  f = frequencies(logits, p);
  EXPECT_NEAR(f[0], 1.0, 1e-12);
}

TEST(ChooseToken, TopPOnALargeVocabularyGrowsTheCandidateSet) {
  std::vector<float> logits(1000, 0.0f);  // uniform: top_p 0.5 keeps 500 tokens
  SamplingParams p;
  p.top_p = 0.5;
  auto f = frequencies(logits, p, 2000);
  EXPECT_NEAR(static_cast<double>(f.size()), 500, 2);
  EXPECT_LT(f.rbegin()->first, 502);  // ties broken towards lower ids
}

TEST(ChooseToken, LogprobIgnoresTruncationAndGreedyUsesTemperatureOne) {
  std::vector<float> logits = {0.0f, 1.0f, 3.0f};
  SamplingParams p;
  p.temperature = 0;
  ChooseScratch s;
  auto c = choose_token(logits.data(), 3, p, 0.3, &s);
  const double z1 = std::exp(0.0) + std::exp(1.0) + std::exp(3.0);
  EXPECT_EQ(c.token, 2);
  EXPECT_NEAR(c.logprob, 3.0 - std::log(z1), 1e-6);
  p.temperature = 2.0;
  p.top_k = 1;
  c = choose_token(logits.data(), 3, p, 0.3, &s);
  const double z2 = std::exp(0.0) + std::exp(0.5) + std::exp(1.5);
  EXPECT_NEAR(c.logprob, 1.5 - std::log(z2), 1e-6);
}

TEST(SampleStream, DependsOnEveryCoordinate) {
  std::set<uint64_t> keys;
  for (uint64_t seed : {1, 2})
    for (int64_t p = 0; p < 10; ++p)
      for (int64_t s = 0; s < 10; ++s) keys.insert(sample_stream(seed, p, s));
  EXPECT_EQ(keys.size(), 200u);
  const uint64_t k = sample_stream(1, 2, 3);
  EXPECT_EQ(stream_uniform(k, 5), stream_uniform(k, 5));
  EXPECT_NE(stream_uniform(k, 5), stream_uniform(k, 6));
  double mean = 0;
  for (int i = 0; i < 10000; ++i) {
    double u = stream_uniform(k, i);
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    mean += u / 10000;
  }
  EXPECT_NEAR(mean, 0.5, 0.02);
}

}  // namespace
}  // namespace rlvr::actors
