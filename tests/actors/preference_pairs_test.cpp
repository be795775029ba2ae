// On-policy preference pairs: sample classes, which samples may be chosen/rejected, the
// wrong-first preference, reproducible draws and the DPO row (actors/preference_pairs.h).
#include "actors/preference_pairs.h"

#include <algorithm>
#include <set>

#include <gtest/gtest.h>

#include "core/data/jsonl.h"
#include "tests/test_util.h"

namespace rlvr::actors {
namespace {

using rlvr::testing::error_message;

ScoredSample make(int64_t index, const std::string& text, FinishReason finish, double score, bool found = true,
                  bool error = false) {
  ScoredSample s;
  s.sample_index = index;
  s.text = text;
  s.finish_reason = finish;
  s.score = score;
  s.answer_found = found;
  s.verifier_error = error;
  s.reason = "r" + std::to_string(index);
  return s;
}

constexpr FinishReason kEos = FinishReason::kEos;
constexpr FinishReason kStop = FinishReason::kStop;
constexpr FinishReason kLength = FinishReason::kLength;

TEST(PreferencePairs, ClassifiesEverySampleKind) {
  EXPECT_EQ(classify_sample(make(0, "a", kEos, 1.0)), SampleClass::kCorrect);
  EXPECT_EQ(classify_sample(make(0, "a", kStop, 1.0)), SampleClass::kCorrect) << "a stop string is a proper end";
  EXPECT_EQ(classify_sample(make(0, "a", kEos, 0.5)), SampleClass::kWrong) << "partial credit is not correct";
  EXPECT_EQ(classify_sample(make(0, "a", kEos, 0.0, /*found=*/false)), SampleClass::kNoAnswer);
  EXPECT_EQ(classify_sample(make(0, "a", kLength, 1.0)), SampleClass::kTruncated) << "truncated even when right";
  EXPECT_EQ(classify_sample(make(0, "", kEos, 1.0)), SampleClass::kEmpty);
  EXPECT_EQ(classify_sample(make(0, "a", kEos, 0.0, true, /*error=*/true)), SampleClass::kUnscored);
  EXPECT_STREQ(sample_class_name(SampleClass::kNoAnswer), "no_answer");
}

TEST(PreferencePairs, NoCorrectSampleIsNoneCorrect) {
  std::vector<ScoredSample> s = {make(0, "a", kEos, 0.0), make(1, "b", kLength, 1.0), make(2, "", kEos, 1.0),
                                 make(3, "d", kEos, 1.0, true, /*error=*/true)};
  PairChoice c = choose_pair(s, 1, 0, RejectedPick::kWrongFirst);
  EXPECT_EQ(c.skip, PairSkip::kNoneCorrect);
  EXPECT_STREQ(pair_skip_name(c.skip), "none_correct");
  EXPECT_EQ(c.counts[static_cast<int>(SampleClass::kWrong)], 1);
  EXPECT_EQ(c.counts[static_cast<int>(SampleClass::kTruncated)], 1);
  EXPECT_EQ(c.counts[static_cast<int>(SampleClass::kEmpty)], 1);
  EXPECT_EQ(c.counts[static_cast<int>(SampleClass::kUnscored)], 1);
}

TEST(PreferencePairs, EmptyUnscoredAndIdenticalRejectedDoNotCount) {
  // Only correct samples, an empty one, an unscored one, and a truncated copy of the chosen text.
  std::vector<ScoredSample> s = {make(0, "same", kEos, 1.0), make(1, "same", kEos, 1.0), make(2, "", kEos, 0.0),
                                 make(3, "x", kEos, 0.0, true, /*error=*/true), make(4, "same", kLength, 0.0)};
  PairChoice c = choose_pair(s, 9, 3, RejectedPick::kUniform);
  EXPECT_EQ(c.skip, PairSkip::kAllCorrect);
  EXPECT_STREQ(pair_skip_name(c.skip), "all_correct");
  EXPECT_EQ(c.chosen, -1);
  EXPECT_EQ(c.counts[static_cast<int>(SampleClass::kCorrect)], 2);
}

TEST(PreferencePairs, WrongFirstPrefersAWrongWellFormedRejected) {
  std::vector<ScoredSample> s = {make(0, "trunc", kLength, 0.0), make(1, "good", kEos, 1.0),
                                 make(2, "noans", kEos, 0.0, /*found=*/false), make(3, "wrong", kStop, 0.25),
                                 make(4, "trunc2", kLength, 1.0)};
  for (uint64_t seed = 0; seed < 50; ++seed) {
    PairChoice c = choose_pair(s, seed, 7, RejectedPick::kWrongFirst);
    ASSERT_EQ(c.skip, PairSkip::kNone);
    EXPECT_EQ(c.chosen, 1);
    EXPECT_EQ(c.rejected, 3) << seed;
    EXPECT_EQ(c.rejected_class, SampleClass::kWrong);
  }
  // Without a wrong sample, one without an answer; without that, a truncated one.
  s.erase(s.begin() + 3);
  EXPECT_EQ(choose_pair(s, 4, 7, RejectedPick::kWrongFirst).rejected_class, SampleClass::kNoAnswer);
  s.erase(s.begin() + 2);
  EXPECT_EQ(choose_pair(s, 4, 7, RejectedPick::kWrongFirst).rejected_class, SampleClass::kTruncated);
}

TEST(PreferencePairs, UniformDrawsFromEveryRejectedClass) {
  std::vector<ScoredSample> s = {make(0, "trunc", kLength, 0.0), make(1, "good", kEos, 1.0),
                                 make(2, "noans", kEos, 0.0, /*found=*/false), make(3, "wrong", kEos, 0.0)};
  std::set<int64_t> seen;
  for (uint64_t seed = 0; seed < 200; ++seed) seen.insert(choose_pair(s, seed, 0, RejectedPick::kUniform).rejected);
  EXPECT_EQ(seen, (std::set<int64_t>{0, 2, 3}));
}

TEST(PreferencePairs, TheDrawDependsOnSeedAndKeyNotOnArrivalOrder) {
  std::vector<ScoredSample> s;
  for (int i = 0; i < 8; ++i) s.push_back(make(i, "t" + std::to_string(i), kEos, i % 2 ? 1.0 : 0.0));
  std::set<int64_t> chosen_seen;
  for (int64_t key = 0; key < 40; ++key) {
    PairChoice a = choose_pair(s, 5, key, RejectedPick::kWrongFirst);
    std::vector<ScoredSample> shuffled(s.rbegin(), s.rend());
    PairChoice b = choose_pair(shuffled, 5, key, RejectedPick::kWrongFirst);
    ASSERT_EQ(a.skip, PairSkip::kNone);
    EXPECT_EQ(s[static_cast<size_t>(a.chosen)].sample_index, shuffled[static_cast<size_t>(b.chosen)].sample_index);
    EXPECT_EQ(s[static_cast<size_t>(a.rejected)].sample_index,
              shuffled[static_cast<size_t>(b.rejected)].sample_index);
    EXPECT_EQ(s[static_cast<size_t>(a.chosen)].sample_index % 2, 1);
    EXPECT_EQ(s[static_cast<size_t>(a.rejected)].sample_index % 2, 0);
    chosen_seen.insert(a.chosen);
  }
  EXPECT_EQ(chosen_seen.size(), 4u) << "over 40 prompts every correct sample is chosen some time";
}

TEST(PreferencePairs, RowIsTuluDpoDataWithProvenance) {
  PromptRow row;
  row.line = 12;
  row.messages = {{"system", "be brief"}, {"user", "2+2?"}};
  row.dataset = "gsm8k";
  row.ground_truth = "4";
  row.fields = {{"messages", nlohmann::json::array()}, {"ground_truth", "4"}, {"dataset", "gsm8k"}};
  std::vector<ScoredSample> s = {make(0, "5", kEos, 0.0), make(1, "4", kEos, 1.0)};
  PairChoice c = choose_pair(s, 1, 0, RejectedPick::kWrongFirst);
  ASSERT_EQ(c.skip, PairSkip::kNone);
  nlohmann::json j = preference_row(row, s, c);
  EXPECT_EQ(j["chosen"].size(), 3u);
  EXPECT_EQ(j["chosen"][2]["role"], "assistant");
  EXPECT_EQ(j["chosen"][2]["content"], "4");
  EXPECT_EQ(j["rejected"][2]["content"], "5");
  EXPECT_EQ(j["rejected"][0]["content"], "be brief");
  EXPECT_EQ(j["line"], 12);
  EXPECT_EQ(j["dataset"], "gsm8k");
  EXPECT_EQ(j["ground_truth"], "4");
  EXPECT_EQ(j["chosen_score"], 1.0);
  EXPECT_EQ(j["rejected_class"], "wrong");
  EXPECT_EQ(j["rejected_reason"], "r0");
  EXPECT_EQ(j["n"], 2);
  EXPECT_EQ(j["num_correct"], 1);
  // The DPO parser reads it: the system + user turns are the prompt, one assistant turn each.
  core::PreferenceExample ex = core::parse_preference_row(j, 1);
  ASSERT_EQ(ex.prompt.size(), 2u);
  EXPECT_EQ(ex.chosen.at(0).content, "4");
  EXPECT_EQ(ex.rejected.at(0).content, "5");
}

TEST(PreferencePairs, UnknownRejectedPickNamesTheFlag) {
  EXPECT_EQ(parse_rejected_pick("uniform"), RejectedPick::kUniform);
  EXPECT_EQ(error_message([] { parse_rejected_pick("best"); }),
            "--rejected-pick: unknown value 'best'; expected wrong-first or uniform");
}

}  // namespace
}  // namespace rlvr::actors
