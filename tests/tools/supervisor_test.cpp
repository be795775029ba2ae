// The pure parts of the launcher: line splitting, restart backoff, wait-status text, spec
// validation, the thread split and the learner/actor command lines of `rlvr launch`.
#include "tools/launch/supervisor.h"

#include <sys/wait.h>

#include <CLI/CLI.hpp>
#include <gtest/gtest.h>

#include "core/config/loader.h"
#include "tests/test_util.h"
#include "tools/cli.h"
#include "tools/launch/launch_plan.h"

namespace rlvr::tools {
namespace {

using rlvr::testing::error_message;
using std::chrono::milliseconds;

std::vector<std::string> split(LineSplitter& s, std::string_view data, bool flush = false) {
  std::vector<std::string> out;
  auto emit = [&](std::string_view line) { out.emplace_back(line); };
  s.feed(data, emit);
  if (flush) s.flush(emit);
  return out;
}

TEST(LineSplitter, LinesAcrossChunksAndAPartialLastLine) {
  LineSplitter s;
  EXPECT_EQ(split(s, "one\ntw"), (std::vector<std::string>{"one"}));
  EXPECT_EQ(split(s, "o\n\nthr"), (std::vector<std::string>{"two", ""}));
  EXPECT_EQ(split(s, "ee", /*flush=*/true), (std::vector<std::string>{"three"}));
  EXPECT_EQ(split(s, "", /*flush=*/true), (std::vector<std::string>{}));
}

TEST(LineSplitter, LineOfExactlyTheLimitIsKeptWholeLongerOnesAreSplit) {
  LineSplitter s;
  std::string exact(kMaxLineBytes, 'a');
  EXPECT_EQ(split(s, exact + "\n"), (std::vector<std::string>{exact}));
  std::string longer(kMaxLineBytes * 2 + 5, 'b');
  // Fed in odd chunks: the pieces do not depend on how the bytes arrive.
  std::vector<std::string> got;
  auto emit = [&](std::string_view line) { got.emplace_back(line); };
  std::string all = longer + "\nnext";
  for (size_t i = 0; i < all.size(); i += 7777) s.feed(std::string_view(all).substr(i, 7777), emit);
  s.flush(emit);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0], std::string(kMaxLineBytes, 'b'));
  EXPECT_EQ(got[1], std::string(kMaxLineBytes, 'b'));
  EXPECT_EQ(got[2], "bbbbb");
  EXPECT_EQ(got[3], "next");
}

TEST(LineSplitter, SplitDoesNotCutAUtf8Character) {
  LineSplitter s;
  // "é" is 2 bytes (C3 A9): with one 'x' in front, a character straddles the 64 KiB boundary.
  std::string text = "x";
  while (text.size() < kMaxLineBytes + 10) text += "\xC3\xA9";
  auto lines = split(s, text + "\n");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].size(), kMaxLineBytes - 1);
  EXPECT_EQ(lines[0] + lines[1], text);
  EXPECT_EQ(static_cast<unsigned char>(lines[1][0]), 0xC3);
  // Bytes that are not UTF-8 at all are cut at the limit.
  LineSplitter raw;
  auto pieces = split(raw, std::string(kMaxLineBytes + 1, '\x80') + "\n");
  ASSERT_EQ(pieces.size(), 2u);
  EXPECT_EQ(pieces[0].size(), kMaxLineBytes);
}

TEST(Supervisor, RestartDelayDoublesUpToThirtySeconds) {
  EXPECT_EQ(restart_delay(milliseconds(500), 1), milliseconds(500));
  EXPECT_EQ(restart_delay(milliseconds(500), 2), milliseconds(1000));
  EXPECT_EQ(restart_delay(milliseconds(500), 3), milliseconds(2000));
  EXPECT_EQ(restart_delay(milliseconds(500), 7), milliseconds(30000));  // 32 s capped
  EXPECT_EQ(restart_delay(milliseconds(500), 1000000), milliseconds(30000));
  EXPECT_EQ(restart_delay(milliseconds(0), 5), milliseconds(0));
  // A configured backoff above the cap is used as is, never lowered and never doubled.
  EXPECT_EQ(restart_delay(milliseconds(60000), 1), milliseconds(60000));
  EXPECT_EQ(restart_delay(milliseconds(60000), 4), milliseconds(60000));
}

TEST(Supervisor, DescribesWaitStatuses) {
  EXPECT_EQ(describe_wait_status(3 << 8), "exited with status 3");
  EXPECT_EQ(describe_wait_status(0), "exited with status 0");
  EXPECT_EQ(describe_wait_status(SIGKILL), "killed by signal 9");
}

TEST(Supervisor, RefusesInvalidSpecsBeforeStartingAnything) {
  Supervisor sup;
  ChildSpec ok;
  ok.name = "a";
  ok.argv = {"/bin/true"};
  EXPECT_EQ(error_message([&] { sup.run({}, 0); }), "launch: no children to run");
  EXPECT_EQ(error_message([&] { sup.run({ok}, 1); }),
            "launch: primary child index 1 is out of range (there are 1 children)");
  EXPECT_EQ(error_message([&] { sup.run({ok, ok}, 0); }), "launch: two children are named 'a'; names must be unique");
  ChildSpec no_argv = ok;
  no_argv.name = "b";
  no_argv.argv.clear();
  EXPECT_EQ(error_message([&] { sup.run({ok, no_argv}, 0); }), "launch: child 'b' has no program (empty argv)");
  ChildSpec unnamed = ok;
  unnamed.name = "";
  EXPECT_EQ(error_message([&] { sup.run({ok, unnamed}, 0); }), "launch: child 1 has an empty name");
  ChildSpec negative = ok;
  negative.name = "n";
  negative.max_restarts = -1;
  EXPECT_EQ(error_message([&] { sup.run({ok, negative}, 0); }),
            "launch: child 'n': max_restarts is -1; expected 0 or more");
  ChildSpec bad_env = ok;
  bad_env.name = "e";
  bad_env.env["A=B"] = "1";
  EXPECT_EQ(error_message([&] { sup.run({ok, bad_env}, 0); }),
            "launch: child 'e': environment name 'A=B' is empty or contains '='");
  EXPECT_TRUE(sup.reports().empty());  // nothing ran
}

TEST(LaunchPlan, DefaultThreadSplit) {
  // C = 16, A = 2: learner 8, actors (16 - 8) / 2 = 4.
  EXPECT_EQ(split_threads(16, 2, 0, 0).learner, 8);
  EXPECT_EQ(split_threads(16, 2, 0, 0).actor, 4);
  // C = 2, A = 2: learner 1, actors max(1, 1 / 2) = 1 (oversubscribed by one thread at most).
  EXPECT_EQ(split_threads(2, 2, 0, 0).learner, 1);
  EXPECT_EQ(split_threads(2, 2, 0, 0).actor, 1);
  EXPECT_EQ(split_threads(1, 1, 0, 0).learner, 1);
  EXPECT_EQ(split_threads(1, 1, 0, 0).actor, 1);
  EXPECT_EQ(split_threads(64, 3, 0, 0).actor, 10);  // (64 - 32) / 3
  // Explicit values win; an explicit learner count is what the actors' share comes from.
  EXPECT_EQ(split_threads(16, 2, 12, 0).learner, 12);
  EXPECT_EQ(split_threads(16, 2, 12, 0).actor, 2);
  EXPECT_EQ(split_threads(16, 2, 0, 7).actor, 7);
  EXPECT_EQ(split_threads(4, 2, 32, 0).actor, 1);  // more learner threads than cores
}

TEST(LaunchPlan, LearnerAndActorCommandLines) {
  core::Config config = core::load_config_text(
      "actors:\n  count: 2\n  restart_max: 4\n  restart_backoff_ms: 250\n", "test.yaml");
  LaunchPlan plan = plan_launch(config, "/opt/rlvr", "run.yaml", {"rl.total_steps=3", "run.seed=7"}, 8);
  ASSERT_EQ(plan.children.size(), 3u);
  EXPECT_EQ(plan.primary, 0u);
  EXPECT_EQ(plan.threads.learner, 4);
  EXPECT_EQ(plan.threads.actor, 2);
  const ChildSpec& learner = plan.children[0];
  EXPECT_EQ(learner.name, "learner");
  EXPECT_EQ(learner.argv, (std::vector<std::string>{"/opt/rlvr", "learner", "--config", "run.yaml", "--set",
                                                     "rl.total_steps=3", "--set", "run.seed=7", "--set",
                                                     "learner.threads=4"}));
  EXPECT_EQ(learner.env, (std::map<std::string, std::string>{{"OMP_NUM_THREADS", "4"}}));
  EXPECT_FALSE(learner.restart);
  const ChildSpec& actor1 = plan.children[2];
  EXPECT_EQ(actor1.name, "actor-1");
  EXPECT_EQ(actor1.argv, (std::vector<std::string>{"/opt/rlvr", "actor", "--config", "run.yaml", "--id", "1",
                                                    "--set", "rl.total_steps=3", "--set", "run.seed=7", "--set",
                                                    "actors.threads=2"}));
  EXPECT_EQ(actor1.env, (std::map<std::string, std::string>{{"OMP_NUM_THREADS", "2"}}));
  EXPECT_TRUE(actor1.restart);
  EXPECT_EQ(actor1.max_restarts, 4);
  EXPECT_EQ(actor1.backoff, milliseconds(250));
  EXPECT_EQ(plan.children[1].name, "actor-0");

  core::Config explicit_threads =
      core::load_config_text("learner:\n  threads: 3\nactors:\n  count: 1\n  threads: 5\n", "test.yaml");
  LaunchPlan plan2 = plan_launch(explicit_threads, "/opt/rlvr", "run.yaml", {}, 64);
  EXPECT_EQ(plan2.children[0].argv.back(), "learner.threads=3");
  EXPECT_EQ(plan2.children[0].env.at("OMP_NUM_THREADS"), "3");
  EXPECT_EQ(plan2.children[1].argv.back(), "actors.threads=5");
  EXPECT_EQ(plan2.children[1].env.at("OMP_NUM_THREADS"), "5");
}

TEST(LaunchPlan, SummaryLine) {
  ChildReport learner;
  learner.name = "learner";
  learner.starts = 1;
  learner.last_exit = "exited with status 0";
  ChildReport actor;
  actor.name = "actor-0";
  actor.starts = 2;
  actor.failed_starts = 1;
  actor.restarts = 2;
  actor.last_exit = "killed by signal 15";
  EXPECT_EQ(launch_summary({learner, actor}),
            "learner exited with status 0 (1 start); actor-0 killed by signal 15 (2 starts, 1 failed, 2 restarts)");
}

// `rlvr launch` exits with the supervisor's status (130, 143, 127, the learner's) through
// CLI::RuntimeError; run_cli passes that status on instead of mapping it to 1. The command below
// exists only in this test binary.
void setup_exit_status_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("test-exit-status", "test only");
  auto status = std::make_shared<int>(0);
  cmd->add_option("--status", *status);
  cmd->callback([status] {
    if (*status != 0) throw CLI::RuntimeError(*status);
  });
}
RLVR_REGISTER_COMMAND("test-exit-status", 1000, setup_exit_status_command);

TEST(LaunchPlan, CommandExitStatusReachesTheProcess) {
  for (int status : {0, 1, 127, 130, 143}) {
    std::string s = std::to_string(status);
    char a0[] = "rlvr", a1[] = "test-exit-status", a2[] = "--status";
    char* argv[] = {a0, a1, a2, s.data(), nullptr};
    EXPECT_EQ(run_cli(4, argv), status);
  }
}

}  // namespace
}  // namespace rlvr::tools
