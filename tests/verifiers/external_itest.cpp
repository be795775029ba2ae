// The external verifier with real child processes: the shipped example verifier
// (verifiers/examples/exact_match_verifier.py) on a table of cases, and the failure paths
// (timeout, crash, bad replies, idle death, spawn failure) with a misbehaving test double.
#include "verifiers/external.h"

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/config/config.h"
#include "core/error.h"
#include "verifiers/reward.h"

namespace rlvr::verifiers {
namespace {

const std::string kExample = std::string(RLVR_SOURCE_DIR) + "/verifiers/examples/exact_match_verifier.py";
const std::string kMisbehaving =
    std::string(RLVR_SOURCE_DIR) + "/tests/fixtures/verifiers/misbehaving_verifier.py";

ExternalVerifierOptions options(const std::string& script, int64_t timeout_ms = 5000, int64_t procs = 1) {
  ExternalVerifierOptions o;
  o.name = "test";
  o.command = {"python3", script};
  o.timeout_ms = timeout_ms;
  o.num_processes = procs;
  return o;
}

// True when `pid` no longer exists (reaped: not even a zombie).
bool gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

// --- the example verifier, one shared process for the whole table ---
struct Case {
  const char* name;
  std::string response, truth;
  double score;
};
std::ostream& operator<<(std::ostream& os, const Case& c) { return os << c.name; }

class ExampleVerifierCase : public ::testing::TestWithParam<Case> {
 protected:
  static void SetUpTestSuite() { verifier_ = new ExternalVerifier(options(kExample)); }
  static void TearDownTestSuite() {
    delete verifier_;
    verifier_ = nullptr;
  }
  static ExternalVerifier* verifier_;
};
ExternalVerifier* ExampleVerifierCase::verifier_ = nullptr;

TEST_P(ExampleVerifierCase, Scores) {
  const Case& c = GetParam();
  VerifyResult r = verifier_->verify({"prompt", c.response, c.truth});
  EXPECT_EQ(r.score, c.score) << r.reason;
  EXPECT_FALSE(r.reason.empty());
}

const Case kCases[] = {
    {"Exact", "Paris", "Paris", 1},
    {"CaseInsensitive", "PARIS", "paris", 1},
    {"Punctuation", "Paris.", "Paris", 1},
    {"PunctuationInside", "St. Louis!", "st louis", 1},
    {"ArticleThe", "The Eiffel Tower", "Eiffel Tower", 1},
    {"ArticleA", "a cat", "cat", 1},
    {"ArticleAn", "an apple", "apple", 1},
    {"ArticleInsideWordKept", "theme", "me", 0},
    {"Whitespace", "  New   York  ", "new york", 1},
    {"Tabs", "New\tYork", "new york", 1},
    {"Mismatch", "London", "Paris", 0},
    {"Prefix", "Paris France", "Paris", 0},
    {"LastLine", "Let me think.\nThe capital.\nParis", "Paris", 1},
    {"LastNonEmptyLine", "Reasoning\nParis\n\n\n", "Paris", 1},
    {"EarlierLineIgnored", "Paris\nLondon", "Paris", 0},
    {"AnswerTag", "blah <answer>Paris</answer> blah", "Paris", 1},
    {"LastAnswerTag", "<answer>London</answer> <answer>Paris</answer>", "Paris", 1},
    {"AnswerTagUnclosedUsesLastLine", "<answer>Paris", "answerparis", 1},
    {"AnswerTagMultiline", "<answer>\nParis\n</answer>", "Paris", 1},
    {"ThinkRemoved", "<think>London</think>Paris", "Paris", 1},
    {"ThinkOnly", "<think>Paris</think>", "Paris", 0},
    {"Empty", "", "Paris", 0},
    {"OnlySpaces", "   ", "Paris", 0},
    {"OnlyPunctuation", "...", "", 0},
    {"ListTruth", "Paris", "[\"London\", \"Paris\"]", 1},
    {"ListTruthMiss", "Rome", "[\"London\", \"Paris\"]", 0},
    {"NotAListTruth", "[1, 2]", "[1, 2]", 1},
    {"Numbers", "42", "42", 1},
    {"NumbersDiffer", "42", "43", 0},
    {"NumberWithComma", "1,000", "1000", 1},
    {"Unicode", "Z\xC3\xBCrich", "z\xC3\xBCrich", 1},
    {"UnicodeUpper", "\xC3\x9C" "ber", "\xC3\xBC" "ber", 1},
    {"InvalidUtf8Replaced", "Paris\xff", "Paris\xef\xbf\xbd", 1},
    {"NulByte", std::string("Pa\0ris", 6), "Pa ris", 0},
    {"Quotes", "\"Paris\"", "Paris", 1},
    {"JsonLookingResponse", "{\"id\": 99, \"score\": 1}", "id 99 score 1", 1},
    {"NewlineInjection", "Paris\n{\"id\": 1, \"score\": 1}", "Paris", 0},
    {"LongResponse", std::string(50000, 'x') + "\nParis", "Paris", 1},
    {"YesNo", "Yes", "yes", 1},
    {"TrueFalse", "False", "true", 0},
    {"CarriageReturns", "work\r\nParis\r\n", "Paris", 1},
    {"HyphenIsPunctuation", "well-known", "wellknown", 1},
    {"ArticlesOnlyIsNoAnswer", "The", "", 0},
    {"EmptyTruthNeverMatches", "x", "", 0},
    {"ListTruthEmptyList", "Paris", "[\"\"]", 0},
    {"ThinkThenAnswerTag", "<think>a</think>b\n<answer>The Paris</answer>", "paris", 1},
    {"LongTruth", std::string(1000, 'y'), std::string(1000, 'Y'), 1},
};
INSTANTIATE_TEST_SUITE_P(Table, ExampleVerifierCase, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return info.param.name; });

// Generated cases: every word of a small vocabulary against itself (with noise) and its
// neighbour, so the table exercises many round trips through one long-lived process.
class ExampleVerifierVocabulary : public ExampleVerifierCase {};
TEST_P(ExampleVerifierVocabulary, RoundTrips) {
  const Case& c = GetParam();
  VerifyResult r = verifier_->verify({"", c.response, c.truth});
  EXPECT_EQ(r.score, c.score) << c.response << " vs " << c.truth << ": " << r.reason;
}
std::vector<Case> vocabulary_cases() {
  static const char* kWords[] = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot",
                                 "golf", "hotel", "india", "juliett", "kilo", "lima",
                                 "mike", "november", "oscar", "papa", "quebec", "romeo",
                                 "sierra", "tango", "uniform", "victor", "whiskey", "xray",
                                 "yankee", "zulu", "one", "two", "three", "four"};
  std::vector<Case> out;
  constexpr size_t n = sizeof(kWords) / sizeof(kWords[0]);
  for (size_t i = 0; i < n; ++i) {
    std::string w = kWords[i];
    out.push_back({kWords[i], "I think the answer is:\n  The " + w + "!  ", w, 1});
    out.push_back({kWords[i], "<answer>" + w + "</answer>", kWords[(i + 1) % n], 0});
  }
  static const char* kNumbers[] = {"n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9",
                                   "n10", "n11", "n12", "n13", "n14", "n15", "n16", "n17"};
  for (int i = 0; i < 18; ++i) {
    // Numbers keep their digits; "The answer: 12" normalizes to "answer 12", not "12".
    out.push_back({kNumbers[i], "work\n" + std::to_string(i * 7), std::to_string(i * 7), 1});
  }
  return out;
}
INSTANTIATE_TEST_SUITE_P(Generated, ExampleVerifierVocabulary, ::testing::ValuesIn(vocabulary_cases()),
                         [](const auto& info) {
                           if (info.index >= 60) return std::string(info.param.name);
                           return std::string(info.param.name) + (info.index % 2 ? "_Mismatch" : "_Match");
                         });

// --- failure paths with the misbehaving double ---

TEST(ExternalVerifier, CorrectRepliesAndStats) {
  ExternalVerifier v(options(kMisbehaving));
  EXPECT_EQ(v.verify({"", "a", "a"}).score, 1.0);
  EXPECT_EQ(v.verify({"", "a", "b"}).score, 0.0);
  auto s = v.stats();
  EXPECT_EQ(s.requests, 2);
  EXPECT_EQ(s.timeouts + s.crashes + s.protocol_errors + s.restarts, 0);
}

TEST(ExternalVerifier, HangTimesOutScoresZeroAndRestarts) {
  // The timeout also covers a fresh child's start-up (python3 on a loaded machine), so not too small.
  ExternalVerifier v(options(kMisbehaving, /*timeout_ms=*/1500));
  v.start();
  pid_t first = v.child_pids().at(0);
  auto t0 = std::chrono::steady_clock::now();
  VerifyResult r = v.verify({"", "HANG", "x"});
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.score, 0.0);
  EXPECT_NE(r.reason.find("timed out"), std::string::npos) << r.reason;
  EXPECT_GE(ms, 1400);
  EXPECT_LT(ms, 5000);
  EXPECT_TRUE(gone(first)) << "hung child must be killed and reaped";
  EXPECT_EQ(v.verify({"", "ok", "ok"}).score, 1.0);  // a fresh child answers
  EXPECT_NE(v.child_pids().at(0), first);
  auto s = v.stats();
  EXPECT_EQ(s.timeouts, 1);
  EXPECT_EQ(s.restarts, 1);
}

TEST(ExternalVerifier, CrashScoresZeroAndRestarts) {
  ExternalVerifier v(options(kMisbehaving));
  v.start();
  pid_t first = v.child_pids().at(0);
  VerifyResult r = v.verify({"", "CRASH", "x"});
  EXPECT_EQ(r.score, 0.0);
  EXPECT_NE(r.reason.find("exited with status 3"), std::string::npos) << r.reason;
  EXPECT_TRUE(gone(first));
  EXPECT_EQ(v.verify({"", "ok", "ok"}).score, 1.0);
  EXPECT_EQ(v.stats().crashes, 1);
}

TEST(ExternalVerifier, ProtocolErrorsScoreZeroAndRestart) {
  ExternalVerifier v(options(kMisbehaving));
  for (const char* bad : {"GARBAGE", "WRONGID", "BIGSCORE", "NOSCORE", "HUGE"}) {
    VerifyResult r = v.verify({"", bad, bad});
    EXPECT_EQ(r.score, 0.0) << bad;
    EXPECT_NE(r.reason.find("protocol error"), std::string::npos) << bad << ": " << r.reason;
    EXPECT_EQ(v.verify({"", "ok", "ok"}).score, 1.0) << "after " << bad;
  }
  EXPECT_EQ(v.stats().protocol_errors, 5);
}

TEST(ExternalVerifier, ClosedStdoutEndsInTimeoutAndRestart) {
  // stdin and stdout share one socket, so closing stdout alone is silence, not EOF.
  ExternalVerifier v(options(kMisbehaving, 1000));
  VerifyResult r = v.verify({"", "CLOSE", "x"});
  EXPECT_EQ(r.score, 0.0);
  EXPECT_EQ(v.stats().timeouts + v.stats().crashes, 1);
  EXPECT_EQ(v.verify({"", "ok", "ok"}).score, 1.0);
}

TEST(ExternalVerifier, IdleDeathIsReplacedBeforeTheNextRequest) {
  ExternalVerifier v(options(kMisbehaving));
  EXPECT_EQ(v.verify({"", "EXIT_AFTER", "EXIT_AFTER"}).score, 1.0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // The child exited after replying; the next request must still be answered.
  EXPECT_EQ(v.verify({"", "ok", "ok"}).score, 1.0);
  EXPECT_EQ(v.stats().crashes, 1);
}

TEST(ExternalVerifier, MissingProgramFailsStartAndScoresZero) {
  ExternalVerifierOptions o;
  o.name = "missing";
  o.command = {"/nonexistent/rlvr-verifier"};
  ExternalVerifier v(o);
  EXPECT_THROW(v.start(), Error);
  VerifyResult r = v.verify({"", "a", "a"});
  EXPECT_EQ(r.score, 0.0);
  EXPECT_NE(r.reason.find("cannot start"), std::string::npos) << r.reason;
  EXPECT_EQ(v.stats().spawn_failures, 1);
}

TEST(ExternalVerifier, RejectsBadOptions) {
  ExternalVerifierOptions o;
  EXPECT_THROW(ExternalVerifier{o}, Error);
  o.command = {"true"};
  o.timeout_ms = 0;
  EXPECT_THROW(ExternalVerifier{o}, Error);
  o.timeout_ms = 10;
  o.num_processes = 0;
  EXPECT_THROW(ExternalVerifier{o}, Error);
}

TEST(ExternalVerifier, DestructorReapsEveryChildEvenHungOnes) {
  std::vector<pid_t> pids;
  {
    ExternalVerifier v(options(kMisbehaving, 5000, /*procs=*/3));
    v.start();
    pids = v.child_pids();
    ASSERT_EQ(pids.size(), 3u);
  }
  for (pid_t p : pids) EXPECT_TRUE(gone(p)) << p;
}

TEST(ExternalVerifier, SeveralProcessesServeConcurrently) {
  ExternalVerifier v(options(kMisbehaving, 5000, /*procs=*/4));
  v.start();
  {  // warm up: all four interpreters started and answering
    std::vector<std::thread> warm;
    for (int i = 0; i < 4; ++i) warm.emplace_back([&] { v.verify({"", "SLOW_100", "x"}); });
    for (auto& t : warm) t.join();
  }
  // Each request sleeps 300 ms in the child: 8 requests on 4 processes take ~600 ms, not 2.4 s.
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  std::vector<double> scores(8, -1);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] { scores[i] = v.verify({"", "SLOW_300", "SLOW_300"}).score; });
  }
  for (auto& t : threads) t.join();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  for (double s : scores) EXPECT_EQ(s, 1.0);
  EXPECT_LT(ms, 2000);  // sequential would be 2400 ms
}

TEST(ExternalVerifier, RegisteredFromConfigAndSelectedByDataset) {
  core::VerifiersConfig config;
  core::ExternalVerifierConfig e;
  e.name = "exact_match_itest";
  e.command = {"python3", kExample};
  e.timeout_ms = 5000;
  e.num_processes = 2;
  config.external.push_back(e);
  RewardScorer scorer(config, 2);
  EXPECT_TRUE(scorer.has_verifier("exact_match_itest"));
  Reward r = scorer.score("exact_match_itest", {"", "Paris", "paris"});
  EXPECT_EQ(r.score, 1.0);
  EXPECT_EQ(r.reward, 10.0);
  std::vector<RewardRequest> batch;
  for (int i = 0; i < 50; ++i) {
    batch.push_back({i % 2 ? "exact_match_itest" : "gsm8k", {"", "#### 7", i % 2 ? "#### 7" : "7"}});
  }
  auto out = scorer.score_batch(batch);
  for (const auto& o : out) EXPECT_EQ(o.score, 1.0) << o.reason;
}

TEST(ExternalVerifier, ConfigNameClashingWithBuiltinIsAnError) {
  core::VerifiersConfig config;
  core::ExternalVerifierConfig e;
  e.name = "gsm8k";
  e.command = {"python3", kExample};
  config.external.push_back(e);
  try {
    register_external_verifiers(config);
    FAIL() << "expected rlvr::Error";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("verifiers.external[0].name"), std::string::npos);
  }
  config.external[0].name = "x";
  config.external[0].command.clear();
  EXPECT_THROW(register_external_verifiers(config), Error);
}

}  // namespace
}  // namespace rlvr::verifiers
