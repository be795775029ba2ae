// The external verifier with real child processes: the shipped example verifier
// (verifiers/examples/exact_match_verifier.py) on a table of cases, and the failure paths
// (timeout, crash, bad replies, idle death, spawn failure, process groups, the input bound)
// with a misbehaving test double. Nothing here asserts on elapsed time: waits for a process to
// die are bounded polls, and concurrency is proven by a rendezvous that only completes when
// the children really serve requests at the same time.
#include "verifiers/external.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
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

// True when `pid` is not running: gone, or a zombie. A killed grandchild is reparented to init
// (or a subreaper), which may reap it late or never; either way it no longer runs.
bool dead(pid_t pid) {
  if (gone(pid)) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  if (text.empty()) return gone(pid);
  size_t paren = text.rfind(')');
  return paren != std::string::npos && paren + 2 < text.size() &&
         (text[paren + 2] == 'Z' || text[paren + 2] == 'X');
}

// Polls `done` every 10 ms for up to 20 s (generous for sanitizers and loaded machines).
template <class F>
bool eventually(F done) {
  for (int i = 0; i < 2000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

// A fresh directory under the test temp dir.
std::string fresh_dir(const std::string& name) {
  std::string dir = ::testing::TempDir() + "rlvr_ext_" + name + "_" + std::to_string(::getpid());
  std::string cmd = "rm -rf '" + dir + "'";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_EQ(::mkdir(dir.c_str(), 0700), 0) << dir;
  return dir;
}

// Reads the pid a wrapper script wrote to `path` (waits for the file to be complete).
pid_t read_pid(const std::string& path) {
  pid_t pid = -1;
  eventually([&] {
    std::ifstream in(path);
    std::string line;
    if (!std::getline(in, line) || line.empty()) return false;
    pid = static_cast<pid_t>(std::stol(line));
    return true;
  });
  return pid;
}

// Expects `pid` to stop running soon; kills it if it does not, so a failure leaks nothing.
void expect_dies(pid_t pid) {
  bool died = eventually([&] { return dead(pid); });
  EXPECT_TRUE(died) << "grandchild " << pid << " still runs";
  if (!died) ::kill(pid, SIGKILL);
}

// `sh -c` wrapper: starts a grandchild (`sleep 1000` in the background, in the same process
// group, not holding the socket), writes its pid to `pid_file`, then execs the misbehaving
// verifier in the shell's place, so the sleep is the verifier process's child.
ExternalVerifierOptions wrapped_options(const std::string& pid_file, int64_t timeout_ms) {
  ExternalVerifierOptions o = options(kMisbehaving, timeout_ms);
  o.command = {"sh", "-c",
               "sleep 1000 >/dev/null & echo $! > '" + pid_file + ".tmp' && mv '" + pid_file + ".tmp' '" + pid_file +
                   "'; exec python3 '" + kMisbehaving + "'"};
  return o;
}

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
  VerifyResult right = v.verify({"", "a", "a"});
  EXPECT_EQ(right.score, 1.0);
  EXPECT_FALSE(right.error);
  VerifyResult wrong = v.verify({"", "a", "b"});
  EXPECT_EQ(wrong.score, 0.0);
  EXPECT_FALSE(wrong.error) << "a wrong answer is not an error";
  auto s = v.stats();
  EXPECT_EQ(s.requests, 2);
  EXPECT_EQ(s.timeouts + s.crashes + s.protocol_errors + s.restarts, 0);
}

TEST(ExternalVerifier, HangTimesOutScoresZeroAndRestarts) {
  // The timeout also covers a fresh child's start-up (python3 on a loaded machine), so not too small.
  ExternalVerifier v(options(kMisbehaving, /*timeout_ms=*/3000));
  v.start();
  pid_t first = v.child_pids().at(0);
  VerifyResult r = v.verify({"", "HANG", "x"});
  EXPECT_EQ(r.score, 0.0);
  EXPECT_TRUE(r.error);
  EXPECT_EQ(r.reason, "external verifier timed out after 3000 ms");
  EXPECT_EQ(v.stats().timeouts, 1) << "the timeout fired (not a crash or protocol error)";
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
  EXPECT_TRUE(r.error);
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
    EXPECT_TRUE(r.error) << bad;
    EXPECT_NE(r.reason.find("protocol error"), std::string::npos) << bad << ": " << r.reason;
    EXPECT_EQ(v.verify({"", "ok", "ok"}).score, 1.0) << "after " << bad;
  }
  EXPECT_EQ(v.stats().protocol_errors, 5);
}

TEST(ExternalVerifier, ClosedStdoutEndsInTimeoutAndRestart) {
  // stdin and stdout share one socket, so closing stdout alone is silence, not EOF.
  ExternalVerifier v(options(kMisbehaving, /*timeout_ms=*/3000));
  VerifyResult r = v.verify({"", "CLOSE", "x"});
  EXPECT_EQ(r.score, 0.0);
  EXPECT_TRUE(r.error);
  EXPECT_EQ(v.stats().timeouts + v.stats().crashes, 1);
  EXPECT_EQ(v.verify({"", "ok", "ok"}).score, 1.0);
}

TEST(ExternalVerifier, IdleDeathIsReplacedBeforeTheNextRequest) {
  ExternalVerifier v(options(kMisbehaving));
  EXPECT_EQ(v.verify({"", "EXIT_AFTER", "EXIT_AFTER"}).score, 1.0);
  pid_t first = v.child_pids().at(0);
  ASSERT_TRUE(eventually([&] { return dead(first); })) << "the child exits after replying";
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
  EXPECT_TRUE(r.error);
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
  // RENDEZVOUS_4 replies 1 only once four children are inside a request at the same time, so
  // four 1s prove four requests were served concurrently (one process would time out).
  ExternalVerifier v(options(kMisbehaving, /*timeout_ms=*/30000, /*procs=*/4));
  v.start();
  std::string dir = fresh_dir("rendezvous");
  std::vector<std::thread> threads;
  std::vector<VerifyResult> results(4);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] { results[i] = v.verify({dir, "RENDEZVOUS_4", "x"}); });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) EXPECT_EQ(r.score, 1.0) << r.reason;
  EXPECT_EQ(v.stats().timeouts, 0);
}

TEST(ExternalVerifier, TimeoutKillsTheWholeProcessGroup) {
  // A wrapper's own child (here `sleep 1000`) used to survive the timeout kill of the wrapper.
  std::string dir = fresh_dir("group_timeout");
  ExternalVerifier v(wrapped_options(dir + "/grandchild", /*timeout_ms=*/1500));
  v.start();
  pid_t grandchild = read_pid(dir + "/grandchild");
  ASSERT_GT(grandchild, 0);
  EXPECT_FALSE(dead(grandchild));
  VerifyResult r = v.verify({"", "HANG", "x"});
  EXPECT_TRUE(r.error);
  EXPECT_EQ(v.stats().timeouts, 1);
  expect_dies(grandchild);
}

TEST(ExternalVerifier, DestructorKillsTheProcessGroupOfAChildThatExited) {
  // The verifier exits on EOF by itself; what it started must not outlive the verifier.
  std::string dir = fresh_dir("group_dtor");
  pid_t grandchild = -1;
  {
    ExternalVerifier v(wrapped_options(dir + "/grandchild", /*timeout_ms=*/5000));
    EXPECT_EQ(v.verify({"", "ok", "ok"}).score, 1.0);
    grandchild = read_pid(dir + "/grandchild");
    ASSERT_GT(grandchild, 0);
    EXPECT_FALSE(dead(grandchild));
  }
  expect_dies(grandchild);
}

TEST(ExternalVerifier, CrashKillsTheWholeProcessGroup) {
  std::string dir = fresh_dir("group_crash");
  ExternalVerifier v(wrapped_options(dir + "/grandchild", /*timeout_ms=*/5000));
  v.start();
  pid_t grandchild = read_pid(dir + "/grandchild");
  ASSERT_GT(grandchild, 0);
  VerifyResult r = v.verify({"", "CRASH", "x"});
  EXPECT_TRUE(r.error);
  EXPECT_EQ(v.stats().crashes, 1);
  expect_dies(grandchild);
}

TEST(ExternalVerifier, InputsAreSentWholeOrNotAtAll) {
  ExternalVerifierOptions o = options(kMisbehaving);
  o.max_input_bytes = 16;
  ExternalVerifier v(o);
  std::string fits(16, 'a'), over(17, 'a');
  EXPECT_EQ(v.verify({fits, fits, fits}).score, 1.0) << "exactly the bound is sent whole";
  struct Over {
    const char* field;
    VerifyInput input;
  };
  for (const Over& c : {Over{"prompt", {over, "a", "a"}}, Over{"response", {"", over, over}},
                        Over{"ground_truth", {"", "a", over}}}) {
    VerifyResult r = v.verify(c.input);
    EXPECT_EQ(r.score, 0.0) << c.field;
    EXPECT_TRUE(r.error) << c.field;
    EXPECT_EQ(r.reason, std::string("external verifier: ") + c.field +
                            " is 17 bytes, over verifiers.max_input_bytes (16); not sent");
  }
  auto s = v.stats();
  EXPECT_EQ(s.inputs_too_long, 3);
  EXPECT_EQ(s.requests, 4);
  EXPECT_EQ(s.timeouts + s.crashes + s.protocol_errors + s.spawn_failures, 0);
}

TEST(ExternalVerifier, LongResponseIsSentWhole) {
  // 1 MiB response and ground truth (over the old 64 KiB cap) reach the child intact.
  ExternalVerifier v(options(kMisbehaving));
  std::string big;
  for (int i = 0; big.size() < (1u << 20); ++i) big += "word" + std::to_string(i) + " ";
  VerifyResult r = v.verify({"", big, big});
  EXPECT_EQ(r.score, 1.0) << r.reason;
  EXPECT_FALSE(r.error);
  EXPECT_EQ(v.verify({"", big, big + "x"}).score, 0.0) << "the last byte is compared too";
}

TEST(ExternalVerifier, ChildPidsIsSafeWhileRequestsRestartChildren) {
  // child_pids() reads while verify() kills and respawns children (run under TSan to check).
  ExternalVerifier v(options(kMisbehaving, 5000, /*procs=*/2));
  v.start();
  std::atomic<bool> done{false};
  std::thread reader([&] {
    while (!done.load()) {
      auto pids = v.child_pids();
      EXPECT_LE(pids.size(), 2u);
    }
  });
  std::vector<std::thread> workers;
  std::atomic<int> wrong{0};
  for (int w = 0; w < 2; ++w) {
    workers.emplace_back([&] {
      for (int i = 0; i < 6; ++i) {
        VerifyResult r = v.verify({"", i % 3 == 0 ? "CRASH" : "ok", "ok"});
        if (r.score != (i % 3 == 0 ? 0.0 : 1.0)) wrong.fetch_add(1);
      }
    });
  }
  for (auto& t : workers) t.join();
  done.store(true);
  reader.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(v.stats().crashes, 4);
  v.start();  // start() only takes idle slots; both are idle now
  EXPECT_EQ(v.child_pids().size(), 2u);
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
