// `rlvr verify` end to end: the real binary on tests/fixtures/verifiers/verify_input.jsonl.
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/test_util.h"

namespace {

// ctest runs each case as its own process, in parallel: every process gets its own scratch
// directory so no two cases share a file.
const std::string& scratch() {
  static rlvr::testing::TempDir dir;
  return dir.path();
}

struct CommandResult {
  int status;
  std::string err;
};

CommandResult run_verify(const std::string& args) {
  std::string err_path = scratch() + "/verify_stderr.txt";
  std::string cmd = std::string(RLVR_BINARY) + " verify " + args + " 2>" + err_path;
  int rc = std::system(cmd.c_str());
  std::ifstream f(err_path);
  std::stringstream ss;
  ss << f.rdbuf();
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, ss.str()};
}

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::ifstream f(path);
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(f, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

const std::string kInput = std::string(RLVR_SOURCE_DIR) + "/tests/fixtures/verifiers/verify_input.jsonl";

TEST(VerifyCommand, ScoresRowsInOrderAndReportsMalformedLines) {
  std::string out = scratch() + "/verify_out.jsonl";
  CommandResult r = run_verify("--input " + kInput + " --out " + out + " --threads 2");
  EXPECT_EQ(r.status, 1) << "malformed lines make the exit status 1";
  EXPECT_NE(r.err.find("verify_input.jsonl:7: not valid JSON"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("verify_input.jsonl:8: field 'response'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("unknown dataset 'no_such_verifier'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("gsm8k"), std::string::npos) << "summary per dataset";
  auto rows = read_jsonl(out);
  std::vector<int> ids;
  std::vector<double> scores;
  for (const auto& j : rows) {
    ids.push_back(j.at("id").get<int>());
    scores.push_back(j.at("score").get<double>());
    EXPECT_EQ(j.at("reward").get<double>(), 10.0 * j.at("score").get<double>());
    EXPECT_TRUE(j.at("reason").is_string());
  }
  EXPECT_EQ(ids, (std::vector<int>{1, 2, 3, 4, 5, 6, 10, 11, 12}));
  EXPECT_EQ(scores, (std::vector<double>{1, 1, 0, 1, 1, 0, 1, 0, 1}));
  EXPECT_EQ(rows[6].at("extra").at("kept"), true) << "other fields pass through";
  EXPECT_TRUE(rows[0].contains("messages"));
}

TEST(VerifyCommand, ConfigSetsTheReward) {
  std::string cfg = scratch() + "/verify_cfg.yaml";
  std::ofstream(cfg) << "verifiers:\n  verification_reward: 2\n";
  std::string out = scratch() + "/verify_out2.jsonl";
  CommandResult r = run_verify("--input " + kInput + " --out " + out + " --config " + cfg);
  auto rows = read_jsonl(out);
  ASSERT_FALSE(rows.empty()) << r.err;
  EXPECT_EQ(rows[0].at("reward").get<double>(), 2.0);
}

TEST(VerifyCommand, MissingInputIsAnError) {
  CommandResult r = run_verify("--input /nonexistent/file.jsonl");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("/nonexistent/file.jsonl"), std::string::npos) << r.err;
}

TEST(VerifyCommand, NonStringRoleIsARowErrorNotACrash) {
  const std::string in = scratch() + "/verify_role.jsonl";
  std::ofstream(in) << R"({"messages":[{"role":1}],"response":"x","ground_truth":"1","dataset":"gsm8k"})" "\n"
                    << R"({"messages":[{"role":"user","content":"q"}],"response":"#### 1","ground_truth":"1","dataset":"gsm8k"})" "\n"
                    << R"({"messages":[7, {"role":["user"]}],"response":"#### 2","ground_truth":"2","dataset":"gsm8k"})" "\n";
  const std::string out = scratch() + "/verify_role_out.jsonl";
  CommandResult r = run_verify("--input " + in + " --out " + out + " --threads 2");
  EXPECT_EQ(r.status, 0) << r.err;  // a non-string role simply is not the user's prompt
  auto rows = read_jsonl(out);
  ASSERT_EQ(rows.size(), 3u) << r.err;
  EXPECT_EQ(rows[0].at("score"), 0.0);
  EXPECT_EQ(rows[1].at("score"), 1.0);
  EXPECT_EQ(rows[2].at("score"), 1.0);
}

TEST(VerifyCommand, ThreadCountIsBounded) {
  CommandResult r = run_verify("--input " + kInput + " --threads 100000");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("--threads: 100000 is out of range; expected an integer from 0 to 1024"), std::string::npos)
      << r.err;
  EXPECT_LT(r.err.size(), 300u) << r.err;
}

TEST(VerifyCommand, SetWithoutConfigGoesThroughTheSchema) {
  const std::string out = scratch() + "/verify_set.jsonl";
  CommandResult r = run_verify("--input " + kInput + " --out " + out + " --set verifiers.verification_reward=1");
  auto rows = read_jsonl(out);
  ASSERT_FALSE(rows.empty()) << r.err;
  EXPECT_EQ(rows[0].at("reward").get<double>(), 1.0) << "--set applies without --config";
  r = run_verify("--input " + kInput + " --set verifiers.bogus=0");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("unknown key 'bogus'"), std::string::npos) << r.err;
  r = run_verify("--input " + kInput + " --set verifiers.verification_reward=-3");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("verification_reward"), std::string::npos) << r.err;
}

TEST(VerifyCommand, FailsWhenEveryVerifierCallFailed) {
  const std::string cfg = scratch() + "/verify_slow.yaml";
  std::ofstream(cfg) << "verifiers:\n  external:\n    - name: slow\n      command: [\"sleep\", \"60\"]\n"
                        "      timeout_ms: 100\n      num_processes: 2\n";
  const std::string in = scratch() + "/verify_slow.jsonl";
  std::ofstream(in) << R"({"response":"a","ground_truth":"a","dataset":"slow"})" "\n"
                    << R"({"response":"b","ground_truth":"b","dataset":"slow"})" "\n";
  const std::string out = scratch() + "/verify_slow_out.jsonl";
  CommandResult r = run_verify("--input " + in + " --out " + out + " --config " + cfg);
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("no row could be scored: all 2 rows hit a verifier error"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("errors"), std::string::npos) << "the summary has an errors column: " << r.err;
  auto rows = read_jsonl(out);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].at("verifier_error"), true);
}

TEST(VerifyCommand, OutputEqualToInputIsRefused) {
  const std::string in = scratch() + "/verify_same.jsonl";
  std::ofstream(in) << R"({"response":"#### 1","ground_truth":"1","dataset":"gsm8k"})" "\n";
  CommandResult r = run_verify("--input " + in + " --out " + in);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("is the same file as --input"), std::string::npos) << r.err;
  std::ifstream f(in);
  std::string line;
  std::getline(f, line);
  EXPECT_EQ(line, R"({"response":"#### 1","ground_truth":"1","dataset":"gsm8k"})");
}

}  // namespace
