// The pure parts of the launcher: line splitting, restart backoff, wait-status text, spec
// validation, the thread split, Slurm host lists, each host's role across hosts, and the learner
// rank / actor command lines and environments of `rlvr launch`.
#include "tools/launch/supervisor.h"

#include <sys/wait.h>

#include <optional>
#include <set>

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
  // One learner rank. C = 16, A = 2: learner 8, actors (16 - 8) / 2 = 4.
  EXPECT_EQ(split_threads(16, 1, 2, 0, 0).learner, 8);
  EXPECT_EQ(split_threads(16, 1, 2, 0, 0).actor, 4);
  // C = 2, A = 2: learner 1, actors max(1, 1 / 2) = 1 (oversubscribed by one thread at most).
  EXPECT_EQ(split_threads(2, 1, 2, 0, 0).learner, 1);
  EXPECT_EQ(split_threads(2, 1, 2, 0, 0).actor, 1);
  EXPECT_EQ(split_threads(1, 1, 1, 0, 0).learner, 1);
  EXPECT_EQ(split_threads(1, 1, 1, 0, 0).actor, 1);
  EXPECT_EQ(split_threads(64, 1, 3, 0, 0).actor, 10);  // (64 - 32) / 3
  // Explicit values win; an explicit learner count is what the actors' share comes from.
  EXPECT_EQ(split_threads(16, 1, 2, 12, 0).learner, 12);
  EXPECT_EQ(split_threads(16, 1, 2, 12, 0).actor, 2);
  EXPECT_EQ(split_threads(16, 1, 2, 0, 7).actor, 7);
  EXPECT_EQ(split_threads(4, 1, 2, 32, 0).actor, 1);  // more learner threads than cores
}

TEST(LaunchPlan, ThreadSplitWithSeveralRanksAndOnHostsOfOneRole) {
  // Ranks share the learner half: C = 16, W = 3, A = 2: 8 / 3 = 2 per rank, actors (16 - 6) / 2 = 5.
  EXPECT_EQ(split_threads(16, 3, 2, 0, 0).learner, 2);
  EXPECT_EQ(split_threads(16, 3, 2, 0, 0).actor, 5);
  // Explicit per-rank threads: actors get (16 - 2 * 3) / 2 = 5.
  EXPECT_EQ(split_threads(16, 2, 2, 3, 0).actor, 5);
  // A learner host: the ranks share every core (16 / 2 = 8), no actor share.
  EXPECT_EQ(split_threads(16, 2, 0, 0, 0).learner, 8);
  EXPECT_EQ(split_threads(16, 2, 0, 0, 0).actor, 0);
  EXPECT_EQ(split_threads(16, 32, 0, 0, 0).learner, 1);  // more ranks than cores
  // An actor host: the actors share every core (16 / 3 = 5), no learner share.
  EXPECT_EQ(split_threads(16, 0, 3, 0, 0).actor, 5);
  EXPECT_EQ(split_threads(16, 0, 3, 0, 0).learner, 0);
  EXPECT_EQ(split_threads(16, 0, 3, 0, 2).actor, 2);
}

// The environment of learner rank `rank` of `world` with `threads` threads.
std::map<std::string, std::string> rank_env(const std::string& threads, const std::string& addr, const std::string& port,
                                            const std::string& rank, const std::string& world) {
  return {{"OMP_NUM_THREADS", threads}, {"MASTER_ADDR", addr},  {"MASTER_PORT", port},     {"RANK", rank},
          {"WORLD_SIZE", world},        {"LOCAL_RANK", rank}, {"LOCAL_WORLD_SIZE", world}};
}

TEST(LaunchPlan, LearnerAndActorCommandLines) {
  core::Config config = core::load_config_text(
      "actors:\n  count: 2\n  restart_max: 4\n  restart_backoff_ms: 250\n", "test.yaml");
  LaunchPlan plan =
      plan_launch(config, LearnerRanks{}, Placement{}, "/opt/rlvr", "run.yaml", {"rl.total_steps=3", "run.seed=7"}, 8);
  ASSERT_EQ(plan.children.size(), 3u);
  EXPECT_EQ(plan.primary, 0u);
  EXPECT_EQ(plan.threads.learner, 4);
  EXPECT_EQ(plan.threads.actor, 2);
  const ChildSpec& learner = plan.children[0];
  EXPECT_EQ(learner.name, "learner");
  EXPECT_EQ(learner.argv, (std::vector<std::string>{"/opt/rlvr", "learner", "--config", "run.yaml", "--set",
                                                     "rl.total_steps=3", "--set", "run.seed=7", "--set",
                                                     "learner.threads=4"}));
  EXPECT_EQ(learner.env, rank_env("4", "127.0.0.1", "29500", "0", "1"));
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
  EXPECT_FALSE(actor1.finished_on_success);  // on one machine the learner's end stops the actors
  EXPECT_EQ(plan.children[1].name, "actor-0");
  EXPECT_EQ(plan.description, "this machine: the learner (4 threads) and 2 actor(s), ids 0..1 (2 threads each)");

  core::Config explicit_threads =
      core::load_config_text("learner:\n  threads: 3\nactors:\n  count: 1\n  threads: 5\n", "test.yaml");
  LaunchPlan plan2 = plan_launch(explicit_threads, LearnerRanks{}, Placement{}, "/opt/rlvr", "run.yaml", {}, 64);
  EXPECT_EQ(plan2.children[0].argv.back(), "learner.threads=3");
  EXPECT_EQ(plan2.children[0].env.at("OMP_NUM_THREADS"), "3");
  EXPECT_EQ(plan2.children[1].argv.back(), "actors.threads=5");
  EXPECT_EQ(plan2.children[1].env.at("OMP_NUM_THREADS"), "5");
}

TEST(LaunchPlan, SeveralRanksOnOneMachineAndLearnerOnly) {
  core::Config config = core::load_config_text("actors:\n  count: 2\n", "test.yaml");
  LearnerRanks ranks{2, "10.1.2.3", 29600};
  LaunchPlan plan = plan_launch(config, ranks, Placement{}, "/opt/rlvr", "run.yaml", {}, 16);
  ASSERT_EQ(plan.children.size(), 4u);
  EXPECT_EQ(plan.primary, 0u);
  EXPECT_EQ(plan.threads.learner, 4);  // 16 / 2 shared by 2 ranks
  EXPECT_EQ(plan.threads.actor, 4);    // (16 - 8) / 2
  EXPECT_EQ(plan.children[0].name, "learner-0");
  EXPECT_EQ(plan.children[1].name, "learner-1");
  EXPECT_EQ(plan.children[2].name, "actor-0");
  EXPECT_EQ(plan.children[0].env, rank_env("4", "10.1.2.3", "29600", "0", "2"));
  EXPECT_EQ(plan.children[1].env, rank_env("4", "10.1.2.3", "29600", "1", "2"));
  EXPECT_EQ(plan.children[1].argv, plan.children[0].argv);  // the rank is in the environment only
  EXPECT_FALSE(plan.children[0].restart);
  // A rank other than 0 that fails stops the run (no restart left); one that exits 0 is done.
  EXPECT_TRUE(plan.children[1].restart);
  EXPECT_EQ(plan.children[1].max_restarts, 0);
  EXPECT_TRUE(plan.children[1].finished_on_success);

  Placement only;
  only.role = HostRole::kLearner;
  only.source = "--learner-only";
  LaunchPlan learner_only = plan_launch(config, ranks, only, "/opt/rlvr", "run.yaml", {}, 16);
  ASSERT_EQ(learner_only.children.size(), 2u);
  EXPECT_EQ(learner_only.threads.learner, 8);  // the ranks share every core
  EXPECT_EQ(learner_only.children[1].env, rank_env("8", "10.1.2.3", "29600", "1", "2"));
  EXPECT_EQ(learner_only.description,
            "this machine: 2 learner ranks (MASTER_ADDR 10.1.2.3, MASTER_PORT 29600; 8 threads each) only "
            "(--learner-only)");

  EXPECT_EQ(error_message([&] { plan_launch(config, LearnerRanks{0, "x", 1}, Placement{}, "r", "c", {}, 4); }),
            "learner.world_size is 0; expected 1 or more");
}

// ---------------------------------------------------------------------------------------------
// Hosts

// Every list below is what `scontrol show hostnames '<expression>'` printed (Slurm 22.05.8, Debian
// 12's slurm-client), except those marked "23.02": text after a bracket, which 22.05 refuses and
// SchedMD/slurm src/common/hostlist.c reads since commit 0994b5f198 ("Extend hostlist to support
// suffix", first in 23.02).
TEST(SlurmHostlist, ExpandsAsScontrolShowHostnames) {
  using V = std::vector<std::string>;
  auto x = [](const std::string& e) { return expand_hostlist(e, "SLURM_NODELIST"); };
  EXPECT_EQ(x("node[01-03,07],gpu-a[1-2]"), (V{"node01", "node02", "node03", "node07", "gpu-a1", "gpu-a2"}));
  EXPECT_EQ(x("n[8-10]"), (V{"n8", "n9", "n10"}));
  EXPECT_EQ(x("n[08-10]"), (V{"n08", "n09", "n10"}));
  EXPECT_EQ(x("n[1-010]"), (V{"n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9", "n10"}));
  EXPECT_EQ(x("n[9-11],n[010-012]"), (V{"n9", "n10", "n11", "n010", "n011", "n012"}));
  EXPECT_EQ(x("n[000-002]"), (V{"n000", "n001", "n002"}));
  EXPECT_EQ(x("n[3,1,2]"), (V{"n3", "n1", "n2"}));
  EXPECT_EQ(x("n[1-]"), (V{"n1"}));
  EXPECT_EQ(x("a[1-2]b[3-4]"), (V{"a1b3", "a1b4", "a2b3", "a2b4"}));
  EXPECT_EQ(x("n[0-2]y[00-01]"), (V{"n0y00", "n0y01", "n1y00", "n1y01", "n2y00", "n2y01"}));
  EXPECT_EQ(x("a[1-2]b[3-4]c[5-6]"), (V{"a1b3c5", "a1b3c6", "a2b3c5", "a2b3c6", "a1b4c5", "a1b4c6", "a2b4c5", "a2b4c6"}));
  EXPECT_EQ(x("a[1-2]b[3-4]c[5-6]d[7-8]"),
            (V{"a1b3c5d7", "a1b3c5d8", "a2b3c5d7", "a2b3c5d8", "a1b4c5d7", "a1b4c5d8", "a2b4c5d7", "a2b4c5d8",
               "a1b3c6d7", "a1b3c6d8", "a2b3c6d7", "a2b3c6d8", "a1b4c6d7", "a1b4c6d8", "a2b4c6d7", "a2b4c6d8"}));
  EXPECT_EQ(x("x1,x1, y2  z3"), (V{"x1", "x1", "y2", "z3"}));
  EXPECT_EQ(x(",,a,,b,"), (V{"a", "b"}));
  EXPECT_EQ(x("n007,n7"), (V{"n007", "n7"}));
  EXPECT_EQ(x("host"), (V{"host"}));
  EXPECT_EQ(x("10.0.0.[1-3]"), (V{"10.0.0.1", "10.0.0.2", "10.0.0.3"}));
  EXPECT_EQ(x(""), (V{}));
  // 23.02
  EXPECT_EQ(x("r[1-2]-ib"), (V{"r1-ib", "r2-ib"}));
  EXPECT_EQ(x("n[1-2]x,m"), (V{"n1x", "n2x", "m"}));
  EXPECT_EQ(x("a[0-1]-b[0-1]-c"), (V{"a0-b0-c", "a0-b1-c", "a1-b0-c", "a1-b1-c"}));
  // Slurm's limit: 65536 hosts in one range.
  EXPECT_EQ(x("n[0-65535]").size(), kMaxHosts);
}

TEST(SlurmHostlist, MalformedListsAreErrorsNamingTheVariable) {
  auto msg = [](const std::string& e) { return error_message([&] { expand_hostlist(e, "SLURM_NODELIST"); }); };
  const std::string expected = "; expected host names and [ranges] separated by commas, e.g. node[01-03,07],gpu-a[1-2]";
  EXPECT_EQ(msg("a,n[1-2"), "SLURM_NODELIST 'a,n[1-2': entry 'n[1-2': a '[' without its ']'" + expected);
  EXPECT_EQ(msg("n1-2]"), "SLURM_NODELIST 'n1-2]': entry 'n1-2]': a ']' without its '['" + expected);
  EXPECT_EQ(msg("n[1-2]]"), "SLURM_NODELIST 'n[1-2]]': entry 'n[1-2]]': a ']' without its '['" + expected);
  EXPECT_EQ(msg("a[1[2]]"), "SLURM_NODELIST 'a[1[2]]': entry 'a[1[': a '[' inside brackets" + expected);
  EXPECT_EQ(msg("n[a-b]"),
            "SLURM_NODELIST 'n[a-b]': entry 'n[a-b]': range item 'a-b' is not a number or lo-hi range of numbers" +
                expected);
  EXPECT_EQ(msg("n[]"), "SLURM_NODELIST 'n[]': entry 'n[]': range item '' is not a number or lo-hi range of numbers" +
                            expected);
  EXPECT_EQ(msg("n[1,,2]"),
            "SLURM_NODELIST 'n[1,,2]': entry 'n[1,,2]': range item '' is not a number or lo-hi range of numbers" +
                expected);
  EXPECT_EQ(msg("n[-1]"),
            "SLURM_NODELIST 'n[-1]': entry 'n[-1]': range item '-1' is not a number or lo-hi range of numbers" +
                expected);
  EXPECT_EQ(msg("n[ 1-2]"),
            "SLURM_NODELIST 'n[ 1-2]': entry 'n[ 1-2]': range item ' 1-2' is not a number or lo-hi range of numbers" +
                expected);
  EXPECT_EQ(msg("n[3-1]"), "SLURM_NODELIST 'n[3-1]': entry 'n[3-1]': range '3-1' runs backwards" + expected);
  EXPECT_EQ(msg("n[0-65536]"),
            "SLURM_NODELIST 'n[0-65536]': entry 'n[0-65536]': range '0-65536' has more than 65536 hosts" + expected);
  EXPECT_EQ(msg("n[0-65535],m"), "SLURM_NODELIST 'n[0-65535],m': entry 'm': more than 65536 hosts" + expected);
  EXPECT_EQ(msg("n[1-9999999999999999999]"),
            "SLURM_NODELIST 'n[1-9999999999999999999]': entry 'n[1-9999999999999999999]': number in "
            "'1-9999999999999999999' is too long" + expected);
  EXPECT_EQ(msg("{feature}"),
            "SLURM_NODELIST '{feature}': hostlist functions ({...}) are expanded by the Slurm controller, not here; "
            "expected host names and [ranges], e.g. node[01-03],gpu1");
}

TEST(LaunchHosts, PositionFromHostIndexOrThisMachinesHostname) {
  using V = std::vector<std::string>;
  Placement p = placement_from_hosts("node[1-3]", 0, "");
  EXPECT_EQ(p.hosts, (V{"node1", "node2", "node3"}));
  EXPECT_EQ(p.index, 0u);
  EXPECT_EQ(p.role, HostRole::kLearner);
  EXPECT_EQ(p.source, "--host-index 0");
  p = placement_from_hosts("node[1-3]", 2, "node1");  // an index wins over the hostname
  EXPECT_EQ(p.index, 2u);
  EXPECT_EQ(p.role, HostRole::kActors);
  p = placement_from_hosts("node1,node2", std::nullopt, "node2");
  EXPECT_EQ(p.index, 1u);
  EXPECT_EQ(p.role, HostRole::kActors);
  EXPECT_EQ(p.source, "hostname node2");
  // Equal up to the first '.', either way.
  EXPECT_EQ(placement_from_hosts("node1.cluster,node2.cluster", std::nullopt, "node2").index, 1u);
  EXPECT_EQ(placement_from_hosts("node1,node2", std::nullopt, "node1.cluster.example").index, 0u);
  // One host: learner and actors there.
  p = placement_from_hosts("solo", std::nullopt, "solo");
  EXPECT_EQ(p.role, HostRole::kAll);
  EXPECT_EQ(p.hosts, (V{"solo"}));
}

TEST(LaunchHosts, BadHostListsAndPositionsAreErrorsNamingTheFlag) {
  auto msg = [](const std::string& hosts, std::optional<int64_t> index, const std::string& hostname) {
    return error_message([&] { placement_from_hosts(hosts, index, hostname); });
  };
  EXPECT_EQ(msg("", 0, ""),
            "--hosts '' names no host; expected host names separated by commas, e.g. --hosts node1,node2 (the "
            "first runs the learner)");
  EXPECT_EQ(msg(" , ", std::nullopt, "a"),
            "--hosts ' , ' names no host; expected host names separated by commas, e.g. --hosts node1,node2 (the "
            "first runs the learner)");
  EXPECT_EQ(msg("a,b,c", 3, ""), "--host-index 3 is out of range: --hosts names 3 host(s), so expected 0..2");
  EXPECT_EQ(msg("a,b,c", -1, ""), "--host-index -1 is out of range: --hosts names 3 host(s), so expected 0..2");
  EXPECT_EQ(msg("node1,node2", std::nullopt, "login3"),
            "this machine's hostname 'login3' is not in --hosts node1,node2; expected one entry naming it, or "
            "--host-index");
  EXPECT_EQ(msg("a,b,a", std::nullopt, "a"),
            "this machine's hostname 'a' matches --hosts entries 0 and 2 (a); pass --host-index to say which one "
            "this launcher is");
  EXPECT_NE(msg("n[1-2", 0, "").find("--hosts 'n[1-2': entry 'n[1-2': a '[' without its ']'"), std::string::npos);
}

TEST(LaunchHosts, SlurmStepOneLauncherPerNode) {
  using V = std::vector<std::string>;
  std::map<std::string, std::string> env = {{"SLURM_NODELIST", "gpu[01-02],cpu[1-3]"},
                                            {"SLURM_PROCID", "3"},
                                            {"SLURM_NTASKS", "5"},
                                            {"SLURM_LOCALID", "0"},
                                            {"SLURMD_NODENAME", "cpu2"}};
  Placement p = placement_from_slurm(env);
  EXPECT_EQ(p.hosts, (V{"gpu01", "gpu02", "cpu1", "cpu2", "cpu3"}));
  EXPECT_EQ(p.index, 3u);
  EXPECT_EQ(p.role, HostRole::kActors);
  EXPECT_EQ(p.source, "Slurm: SLURM_PROCID 3 of SLURM_NODELIST");
  // The step's own node list and task count win over the job's.
  env["SLURM_STEP_NODELIST"] = "gpu01,cpu[1-2]";
  env["SLURM_STEP_NUM_TASKS"] = "3";
  env["SLURM_PROCID"] = "0";
  env["SLURMD_NODENAME"] = "gpu01";
  p = placement_from_slurm(env);
  EXPECT_EQ(p.hosts, (V{"gpu01", "cpu1", "cpu2"}));
  EXPECT_EQ(p.role, HostRole::kLearner);
  // The optional variables may be absent.
  p = placement_from_slurm({{"SLURM_NODELIST", "n[1-2]"}, {"SLURM_PROCID", "1"}});
  EXPECT_EQ(p.index, 1u);
}

TEST(LaunchHosts, SlurmEnvironmentErrorsNameTheVariable) {
  const std::map<std::string, std::string> good = {{"SLURM_NODELIST", "n[1-2]"},
                                                   {"SLURM_PROCID", "1"},
                                                   {"SLURM_NTASKS", "2"},
                                                   {"SLURM_LOCALID", "0"},
                                                   {"SLURMD_NODENAME", "n2"}};
  auto msg = [&](const std::string& key, const char* value) {
    auto env = good;
    if (value == nullptr) {
      env.erase(key);
    } else {
      env[key] = value;
    }
    return error_message([&] { placement_from_slurm(env); });
  };
  EXPECT_EQ(msg("SLURM_NODELIST", nullptr),
            "--slurm: SLURM_NODELIST is not set; run `rlvr launch --slurm` as a Slurm job step, one per node: srun "
            "--ntasks-per-node=1 rlvr launch --slurm ...");
  EXPECT_NE(msg("SLURM_NODELIST", "n[1-").find("SLURM_NODELIST 'n[1-': entry 'n[1-': a '[' without its ']'"),
            std::string::npos);
  EXPECT_EQ(msg("SLURM_NODELIST", ","), "--slurm: SLURM_NODELIST is empty; expected the job's node names");
  EXPECT_EQ(msg("SLURM_PROCID", nullptr),
            "--slurm: SLURM_PROCID is not set; run `rlvr launch --slurm` under srun (one task per node: srun "
            "--ntasks-per-node=1)");
  EXPECT_EQ(msg("SLURM_PROCID", "one"), "--slurm: SLURM_PROCID is 'one'; expected a number 0 or more");
  EXPECT_EQ(msg("SLURM_NTASKS", "4"),
            "--slurm: SLURM_NTASKS is 4 but SLURM_NODELIST names 2 host(s); expected one launcher per node (srun "
            "--ntasks-per-node=1): it starts the node's learner or actor processes itself");
  EXPECT_EQ(msg("SLURM_LOCALID", "1"),
            "--slurm: SLURM_LOCALID is 1: a second launcher on one node; expected one task per node (srun "
            "--ntasks-per-node=1)");
  EXPECT_EQ(msg("SLURMD_NODENAME", "n1"),
            "--slurm: SLURM_PROCID 1 runs on SLURMD_NODENAME 'n1', but host 1 of SLURM_NODELIST is 'n2'; expected "
            "tasks placed one per node in node-list order (srun --ntasks-per-node=1 --distribution=block)");
  auto env = good;
  env.erase("SLURM_NTASKS");
  env["SLURM_PROCID"] = "2";
  EXPECT_EQ(error_message([&] { placement_from_slurm(env); }),
            "--slurm: SLURM_PROCID 2 is out of range: SLURM_NODELIST names 2 host(s), so expected 0..1");
}

TEST(LaunchPlan, AcrossHostsTheFirstRunsTheLearnerRanksTheOthersActorsWithDistinctIds) {
  core::Config config = core::load_config_text(
      "learner:\n  endpoint: tcp://0.0.0.0:5555\nactors:\n  count: 2\n  restart_max: 3\n  restart_backoff_ms: 40\n",
      "test.yaml");
  LearnerRanks ranks{2, "127.0.0.1", 29511};
  const std::vector<std::string> sets = {"run.seed=7"};

  LaunchPlan first = plan_launch(config, ranks, placement_from_hosts("node[1-3]", 0, ""), "/opt/rlvr", "run.yaml",
                                 sets, 16);
  ASSERT_EQ(first.children.size(), 2u);  // the learner ranks only
  EXPECT_EQ(first.primary, 0u);
  EXPECT_EQ(first.threads.learner, 8);
  EXPECT_EQ(first.children[0].name, "learner-0");
  EXPECT_EQ(first.children[0].argv, (std::vector<std::string>{"/opt/rlvr", "learner", "--config", "run.yaml", "--set",
                                                              "run.seed=7", "--set", "learner.threads=8"}));
  EXPECT_EQ(first.children[0].env, rank_env("8", "node1", "29511", "0", "2"));
  EXPECT_EQ(first.children[1].env, rank_env("8", "node1", "29511", "1", "2"));
  EXPECT_EQ(first.description,
            "host 0 of 3 (node1, by --host-index 0): 2 learner ranks (MASTER_ADDR node1, MASTER_PORT 29511; 8 "
            "threads each); actors on the other 2 host(s) connect to tcp://node1:5555");

  LaunchPlan third = plan_launch(config, ranks, placement_from_hosts("node[1-3]", std::nullopt, "node3"),
                                 "/opt/rlvr", "run.yaml", sets, 16);
  ASSERT_EQ(third.children.size(), 2u);  // actors only, no primary
  EXPECT_EQ(third.primary, kNoPrimary);
  EXPECT_EQ(third.threads.actor, 8);
  const ChildSpec& actor = third.children[0];
  EXPECT_EQ(actor.name, "actor-2");
  EXPECT_EQ(actor.argv, (std::vector<std::string>{"/opt/rlvr", "actor", "--config", "run.yaml", "--id", "2",
                                                  "--learner", "tcp://node1:5555", "--set", "run.seed=7", "--set",
                                                  "actors.threads=8"}));
  EXPECT_EQ(actor.env, (std::map<std::string, std::string>{{"OMP_NUM_THREADS", "8"}}));
  EXPECT_TRUE(actor.restart);
  EXPECT_EQ(actor.max_restarts, 3);
  EXPECT_EQ(actor.backoff, milliseconds(40));
  EXPECT_TRUE(actor.finished_on_success);  // the learner's SHUTDOWN ends an actor with status 0
  EXPECT_EQ(third.children[1].name, "actor-3");
  EXPECT_EQ(third.description,
            "host 2 of 3 (node3, by hostname node3): 2 actor(s), ids 2..3 (8 threads each) of the learner at "
            "tcp://node1:5555");

  // Ids are distinct across every host of a bigger run: 4 hosts x 3 actors, ids 0..8 once each.
  config.actors.count = 3;
  std::set<std::string> names;
  for (int64_t host = 1; host < 4; ++host) {
    LaunchPlan plan = plan_launch(config, ranks, placement_from_hosts("h[0-3]", host, ""), "r", "c", {}, 4);
    for (const auto& c : plan.children) EXPECT_TRUE(names.insert(c.name).second) << c.name;
  }
  EXPECT_EQ(names, (std::set<std::string>{"actor-0", "actor-1", "actor-2", "actor-3", "actor-4", "actor-5",
                                          "actor-6", "actor-7", "actor-8"}));
}

TEST(LaunchPlan, AcrossHostsTheLearnerEndpointMustReachTheOtherHosts) {
  auto plan_with = [](const std::string& endpoint, const std::string& hosts, int64_t index) {
    core::Config config = core::load_config_text("learner:\n  endpoint: " + endpoint + "\n", "test.yaml");
    return plan_launch(config, LearnerRanks{}, placement_from_hosts(hosts, index, ""), "r", "c", {}, 4);
  };
  auto msg = [&](const std::string& endpoint) {
    return error_message([&] { plan_with(endpoint, "node1,node2", 1); });
  };
  EXPECT_EQ(msg("tcp://127.0.0.1:5555"),
            "learner.endpoint 'tcp://127.0.0.1:5555' binds loopback only, which actors on other hosts cannot reach; "
            "expected an address they reach, e.g. tcp://0.0.0.0:5555, with CURVE keys (docs/SECURITY.md)");
  EXPECT_EQ(msg("ipc:///tmp/learner.sock"),
            "learner.endpoint 'ipc:///tmp/learner.sock' is not a tcp:// endpoint; a run across hosts needs "
            "tcp://ADDRESS:PORT that the other hosts reach, e.g. tcp://0.0.0.0:5555 (docs/LAUNCH.md)");
  EXPECT_EQ(msg("tcp://0.0.0.0:*"),
            "learner.endpoint 'tcp://0.0.0.0:*' has no port in 1..65535 the actors could connect to; a run across "
            "hosts needs tcp://ADDRESS:PORT that the other hosts reach, e.g. tcp://0.0.0.0:5555 (docs/LAUNCH.md)");
  EXPECT_NE(msg("tcp://0.0.0.0:70000").find("has no port in 1..65535"), std::string::npos);
  EXPECT_NE(msg("tcp://eth0").find("has no port in 1..65535"), std::string::npos);
  // Every host on this machine's loopback (a test of two launchers on one machine): allowed.
  LaunchPlan local = plan_with("tcp://127.0.0.1:5601", "127.0.0.1,127.0.0.1", 1);
  EXPECT_EQ(local.children[0].argv[7], "tcp://127.0.0.1:5601");
  // One host in the list: learner and actors on it, any endpoint (as without --hosts).
  LaunchPlan solo = plan_with("ipc:///tmp/l.sock", "solo", 0);
  EXPECT_EQ(solo.children.size(), 3u);
  EXPECT_EQ(solo.children[0].env.at("MASTER_ADDR"), "solo");
  EXPECT_EQ(remote_learner_endpoint("tcp://[::]:6000", "fd00::1"), "tcp://[fd00::1]:6000");
  EXPECT_EQ(remote_learner_endpoint("tcp://*:6000", "node1.cluster"), "tcp://node1.cluster:6000");
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
