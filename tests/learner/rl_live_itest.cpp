// The live actor-learner system end to end: real `rlvr learner`, `rlvr actor` and `rlvr launch`
// processes talking ZeroMQ over ipc:// sockets in a temp directory, on a tiny model. Every
// process runs under a deadline; a test that would hang fails instead.
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/data/rollout.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/model/checkpoint.h"
#include "core/protocol/fingerprint.h"
#include "core/protocol/protocol.h"
#include "core/protocol/transport.h"
#include "core/config/loader.h"
#include "learner/rl_service.h"
#include "tests/sft_dpo/tiny_world.h"
#include "tests/test_util.h"

namespace rlvr::learner {
namespace {

namespace fs = std::filesystem;
namespace proto = core::protocol;
using rlvr::testing::TempDir;
using Clock = std::chrono::steady_clock;

// A child process running `command` through sh, its output in `log`.
class Proc {
 public:
  Proc(const std::string& command, const std::string& log) {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);  // its own group: killing it takes its children (a launcher's) too
      ::execl("/bin/sh", "sh", "-c", ("exec " + command + " >" + log + " 2>&1").c_str(), nullptr);
      ::_exit(127);
    }
  }
  ~Proc() {
    if (pid_ > 0 && !done_) {
      ::kill(-pid_, SIGKILL);
      int st;
      ::waitpid(pid_, &st, 0);
    }
  }
  // The exit status, or -1 when it did not end within `timeout` (it is then killed).
  int wait(std::chrono::seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      int st = 0;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        done_ = true;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(-pid_, SIGKILL);
    int st;
    ::waitpid(pid_, &st, 0);
    done_ = true;
    return -1;
  }
  void kill(int sig) { ::kill(pid_, sig); }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  bool done_ = false;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<nlohmann::json> jsonl(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

// The largest step in metrics.jsonl (0 before the first).
int64_t steps_done(const std::string& run_dir) {
  int64_t step = 0;
  for (const auto& row : jsonl(run_dir + "/metrics.jsonl")) step = std::max<int64_t>(step, row.value("step", 0));
  return step;
}

// Waits until `pred` holds (polling), at most `timeout`.
template <class Pred>
bool eventually(Pred pred, std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return pred();
}

// The pids whose command line contains every one of `parts`.
std::vector<pid_t> find_processes(const std::vector<std::string>& parts) {
  std::vector<pid_t> out;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmd = slurp(entry.path().string() + "/cmdline");
    std::replace(cmd.begin(), cmd.end(), '\0', ' ');
    bool all = !cmd.empty();
    for (const auto& p : parts) all = all && cmd.find(p) != std::string::npos;
    if (all) out.push_back(static_cast<pid_t>(std::stoi(name)));
  }
  return out;
}

class LiveRl : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    core::init_logging("warn");
    const std::string dir = rlvr::testing::shared_fixture_dir("rl-live", [](const std::string& d) {
      rlvr::testing::make_tiny_world(d, /*rows=*/64, /*hidden=*/32, /*layers=*/2);
    });
    world_ = {dir + "/data", dir + "/model"};
  }
  void SetUp() override { core::init_logging("warn"); }

  // A config file for this test: tiny groups and steps, ipc endpoint in the temp dir.
  std::string write_config(const std::string& extra) {
    const std::string text = fmt::format(
        "run:\n  output_dir: {0}/run\n  threads: 1\n"
        "model:\n  path: {1}\n"
        "generation:\n  temperature: 1.0\n  max_new_tokens: 12\n  num_samples_per_prompt: 4\n  batch_size: 8\n"
        "rl:\n  train_file: {2}/rlvr.jsonl\n  rollout_batch_size: 8\n  total_steps: 5\n  max_staleness: 1\n"
        "  checkpoint_every: 1\n  entropy_coef: 0.01\n  collapse:\n    window: 0\n"
        "optim:\n  learning_rate: 0.003\n  warmup_ratio: 0\n"
        "learner:\n  endpoint: ipc://{0}/learner.sock\n  heartbeat_ms: 200\n  heartbeat_timeout_ms: 3000\n"
        "  wait_log_ms: 2000\n"
        "actors:\n  count: 2\n  threads: 1\n  restart_backoff_ms: 100\n  connect_timeout_ms: 30000\n{3}",
        dir_.path(), world_.model_dir, world_.data_dir, extra);
    return dir_.write("rl.yaml", text);
  }
  std::string run_dir() const { return dir_.path() + "/run"; }
  const std::string rlvr_ = RLVR_BINARY;

  TempDir dir_;
  static rlvr::testing::TinyWorld world_;
};

rlvr::testing::TinyWorld LiveRl::world_;

// Every trained record's versions are within max_staleness of the step that trained it.
void expect_staleness_bound(const std::string& run_dir, int64_t max_staleness) {
  auto rows = jsonl(run_dir + "/rollouts.jsonl");
  ASSERT_FALSE(rows.empty());
  int64_t newest = 0;
  for (const auto& r : rows) {
    const int64_t step = r["step"];
    for (const auto& v : r["versions"]) {
      const int64_t version = v;
      EXPECT_LE(step - 1 - version, max_staleness) << r.dump().substr(0, 200);
      EXPECT_GE(step - 1 - version, 0);
      newest = std::max(newest, version);
    }
  }
  EXPECT_GT(newest, 0) << "the actors generated with updated weights";
}

TEST_F(LiveRl, LaunchTrainsWithTwoActorsAndTheAccountingBalances) {
  const std::string cfg = write_config("");
  // 20 steps: long enough that the second actor has joined before the end even on a loaded
  // machine (5 steps could finish while it was still loading the model).
  Proc launch(rlvr_ + " launch --config " + cfg + " --set rl.total_steps=20", dir_.path() + "/launch.log");
  ASSERT_EQ(launch.wait(std::chrono::seconds(180)), 0) << slurp(dir_.path() + "/launch.log");
  auto summary = nlohmann::json::parse(core::read_file(run_dir() + "/summary.json"));
  EXPECT_EQ(summary["steps"], 20);
  EXPECT_TRUE(summary["accounting"]["balanced"].get<bool>()) << summary.dump(2);
  EXPECT_EQ(summary["actors_joined"], 2);
  expect_staleness_bound(run_dir(), 1);
  // The weights changed.
  auto before = core::load_causal_lm(world_.model_dir), after = core::load_causal_lm(run_dir() + "/final");
  EXPECT_FALSE(torch::equal(before->model->norm->weight, after->model->norm->weight) &&
               torch::equal(before->model->embed_tokens->weight, after->model->embed_tokens->weight));
  const std::string log = slurp(dir_.path() + "/launch.log");
  EXPECT_NE(log.find("[actor-0]"), std::string::npos);
  EXPECT_NE(log.find("[actor-1]"), std::string::npos);
  EXPECT_NE(log.find("step 20/20"), std::string::npos) << log;
  EXPECT_GT(jsonl(run_dir() + "/metrics.jsonl").back()["learner/busy_fraction"].get<double>(), 0.0);
}

// learner.world_size 2: `rlvr launch` starts two learner ranks (learner/distributed.h); rank 0
// serves the actors and sends rank 1 every step's samples; both end after the same steps.
TEST_F(LiveRl, TwoLearnerRanksTrainWithTheActorsAndEndTogether) {
  const std::string cfg = write_config("");
  Proc launch(rlvr_ + " launch --config " + cfg + " --set rl.total_steps=8 --set learner.world_size=2" +
                  " --set learner.master_port=" + std::to_string(rlvr::testing::free_tcp_port()) +
                  " --set learner.dist_timeout_s=60",
              dir_.path() + "/launch.log");
  ASSERT_EQ(launch.wait(std::chrono::seconds(240)), 0) << slurp(dir_.path() + "/launch.log");
  auto summary = nlohmann::json::parse(core::read_file(run_dir() + "/summary.json"));
  EXPECT_EQ(summary["steps"], 8);
  EXPECT_TRUE(summary["accounting"]["balanced"].get<bool>()) << summary.dump(2);
  const std::string log = slurp(dir_.path() + "/launch.log");
  EXPECT_NE(log.find("learner rank 1: done after 8 steps"), std::string::npos) << log;
  EXPECT_NE(slurp(run_dir() + "/logs/rank-1.log").find("learner rank 1: done after 8 steps"), std::string::npos);
  EXPECT_EQ(jsonl(run_dir() + "/metrics.jsonl").size(), 8u) << "rank 0 alone writes metrics";
}

// The actors' heartbeats carry their generating/waiting time and their weights fetch time into
// the learner's metrics (heartbeats every 50 ms here, so several arrive within the run).
TEST_F(LiveRl, ActorHeartbeatsReportGeneratingTimeAndWeightsFetchTime) {
  const std::string cfg = write_config("");
  Proc launch(rlvr_ + " launch --config " + cfg + " --set learner.heartbeat_ms=50 --set rl.total_steps=20",
              dir_.path() + "/launch.log");
  ASSERT_EQ(launch.wait(std::chrono::seconds(180)), 0) << slurp(dir_.path() + "/launch.log");
  bool generating = false, fetch = false;
  for (const auto& row : jsonl(run_dir() + "/metrics.jsonl")) {
    if (row.contains("actors/generating_fraction")) {
      generating = true;
      EXPECT_GT(row["actors/generating_fraction"].get<double>(), 0.0);
      EXPECT_LE(row["actors/generating_fraction"].get<double>(), 1.0);
    }
    if (row.contains("weights/fetch_s_max")) {
      fetch = true;
      EXPECT_GT(row["weights/fetch_s_max"].get<double>(), 0.0);
    }
  }
  EXPECT_TRUE(generating) << slurp(run_dir() + "/metrics.jsonl");
  EXPECT_TRUE(fetch) << slurp(run_dir() + "/metrics.jsonl");
}

TEST_F(LiveRl, SynchronousModeTrainsOnlyOnTheCurrentVersion) {
  const std::string cfg = write_config("");
  Proc launch(rlvr_ + " launch --config " + cfg + " --set rl.max_staleness=0", dir_.path() + "/launch.log");
  ASSERT_EQ(launch.wait(std::chrono::seconds(180)), 0) << slurp(dir_.path() + "/launch.log");
  for (const auto& r : jsonl(run_dir() + "/rollouts.jsonl")) {
    for (const auto& v : r["versions"]) EXPECT_EQ(v.get<int64_t>(), r["step"].get<int64_t>() - 1) << r.dump().substr(0, 200);
  }
  auto summary = nlohmann::json::parse(core::read_file(run_dir() + "/summary.json"));
  EXPECT_EQ(summary["accounting"]["dropped_stale"], 0);
  EXPECT_TRUE(summary["accounting"]["balanced"].get<bool>());
  // Every token was sampled with the version the learner trains, so the actors' log-probs equal
  // the learner's to float noise at every step: each version reached the actors intact (from
  // the second version on, an actor fetches into the buffer of the previous one).
  int steps = 0;
  for (const auto& row : jsonl(run_dir() + "/metrics.jsonl")) {
    if (!row.contains("logprob_mismatch/max") || row["logprob_mismatch/on_policy_tokens"].get<double>() == 0) continue;
    ++steps;
    EXPECT_LT(row["logprob_mismatch/max"].get<double>(), 1e-2) << row.dump().substr(0, 300);
  }
  EXPECT_GE(steps, 3);
}

// A hand-made actor that holds a unit until the learner is two versions further, then sends it:
// the learner must drop it as stale, count it, and have the prompt generated again.
TEST_F(LiveRl, ARolloutOlderThanMaxStalenessIsDroppedAndCounted) {
  const std::string cfg_path = write_config("");
  core::Config config = core::load_config(cfg_path, {"rl.total_steps=8", "rl.rollout_batch_size=4"});
  ServiceResult result;
  std::string service_error;
  core::init_logging("info", dir_.path() + "/learner.log");  // the in-process learner's log, for failures
  std::thread learner([&] {
    try {
      result = run_service(config);
    } catch (const std::exception& e) {
      service_error = e.what();
    }
  });
  proto::Context ctx;
  proto::SocketOptions so;
  so.routing_id = "fake-actor";
  proto::Socket s = proto::Socket::connect_dealer(ctx, config.learner.endpoint, so);
  uint64_t seq = 0;
  auto send = [&](proto::Payload p) {
    proto::Message m;
    m.envelope.sender = proto::actor_sender(7);
    m.envelope.seq = ++seq;
    m.envelope.session = 77;
    m.payload = std::move(p);
    return s.send(m);
  };
  auto receive_until = [&](proto::MessageType type, std::chrono::seconds timeout) -> std::optional<proto::Message> {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (auto r = s.receive(100, {})) {
        if (r->result.ok() && r->result.message->type() == type) return r->result.message;
      }
    }
    return std::nullopt;
  };
  proto::Hello h;
  h.actor_id = 7;
  h.incarnation = 77;
  h.model_fingerprint = proto::model_fingerprint(config);
  h.config_fingerprint = proto::config_fingerprint(config);
  h.update_mode = "between_samples";
  h.max_units = 1;
  h.host = "test";
  std::optional<proto::Message> welcome;
  for (int i = 0; i < 50 && !welcome; ++i) {
    send(h);
    welcome = receive_until(proto::MessageType::kWelcome, std::chrono::seconds(1));
  }
  ASSERT_TRUE(welcome) << "no WELCOME: " << service_error;
  ASSERT_TRUE(std::get<proto::Welcome>(welcome->payload).accepted) << std::get<proto::Welcome>(welcome->payload).reason;
  send(proto::WorkRequest{1});
  auto grant = receive_until(proto::MessageType::kWorkGrant, std::chrono::seconds(10));
  ASSERT_TRUE(grant);
  const proto::WorkUnit unit = std::get<proto::WorkGrant>(grant->payload).units.at(0);
  // A real actor drives the learner forward meanwhile.
  Proc actor(rlvr_ + " actor --config " + cfg_path + " --id 0 --set rl.total_steps=8 --set rl.rollout_batch_size=4",
             dir_.path() + "/actor.log");
  const bool advanced = eventually(
      [&] {
        // Keep the fake actor alive while the learner advances.
        send(proto::Heartbeat{0, {}});
        return steps_done(run_dir()) >= 2;
      },
      std::chrono::seconds(120));
  ASSERT_TRUE(advanced) << slurp(dir_.path() + "/actor.log");
  proto::Rollouts r;
  r.unit_id = unit.unit_id;
  for (int64_t i = 0; i < unit.n; ++i) {
    core::RolloutSample x;
    x.prompt_index = unit.prompt_index;
    x.sample_index = i;
    x.actor_id = 7;
    x.dataset = unit.dataset;
    x.prompt_ids = unit.prompt_ids;
    x.completion_ids = {5, 6};
    x.logprobs = {-1.0f, -1.0f};
    x.versions = {unit.min_version};
    x.finish_reason = "length";
    r.samples.push_back(x);
  }
  send(r);
  learner.join();
  EXPECT_EQ(actor.wait(std::chrono::seconds(60)), 0) << slurp(dir_.path() + "/actor.log") << "\nlearner:\n"
                                                      << slurp(dir_.path() + "/learner.log");
  core::init_logging("warn");
  ASSERT_TRUE(service_error.empty()) << service_error;
  EXPECT_EQ(result.steps, 8);
  EXPECT_TRUE(result.balanced) << result.accounting;
  auto summary = nlohmann::json::parse(core::read_file(run_dir() + "/summary.json"));
  EXPECT_GE(summary["accounting"]["dropped_stale"].get<int64_t>(), 1) << summary.dump(2);
  // The stale prompt was generated again and trained (by the real actor).
  bool retrained = false;
  for (const auto& row : jsonl(run_dir() + "/rollouts.jsonl")) {
    retrained |= row["prompt_index"] == unit.prompt_index && row["actor_id"] == 0 && row["trained"].get<bool>();
  }
  EXPECT_TRUE(retrained);
}

TEST_F(LiveRl, AKilledActorIsRestartedAndNoPromptIsLostOrDuplicated) {
  // One epoch over the prompts: the run ends when every prompt was trained once.
  const std::string cfg = write_config("");
  Proc launch(rlvr_ + " launch --config " + cfg + " --set rl.prompt_epochs=1 --set rl.total_steps=1000",
              dir_.path() + "/launch.log");
  ASSERT_TRUE(eventually([&] { return steps_done(run_dir()) >= 1; }, std::chrono::seconds(120)))
      << slurp(dir_.path() + "/launch.log");
  auto pids = find_processes({" actor ", "--config " + cfg, "--id 1"});
  ASSERT_EQ(pids.size(), 1u) << slurp(dir_.path() + "/launch.log");
  ::kill(pids[0], SIGKILL);
  ASSERT_EQ(launch.wait(std::chrono::seconds(300)), 0) << slurp(dir_.path() + "/launch.log");
  const std::string log = slurp(dir_.path() + "/launch.log");
  EXPECT_NE(log.find("'actor-1' killed by signal 9; restart 1"), std::string::npos) << log;
  EXPECT_GE(find_processes({" actor ", "--config " + cfg}).size(), 0u);
  // Every prompt of the file trained exactly once (n samples each).
  const auto prompts = jsonl(world_.data_dir + "/rlvr.jsonl").size();
  std::map<int64_t, int64_t> trained;
  for (const auto& row : jsonl(run_dir() + "/rollouts.jsonl")) {
    if (row["trained"].get<bool>()) ++trained[row["prompt_index"].get<int64_t>()];
  }
  EXPECT_EQ(trained.size(), prompts);
  for (const auto& [p, count] : trained) EXPECT_EQ(count, 4) << "prompt " << p;
  auto summary = nlohmann::json::parse(core::read_file(run_dir() + "/summary.json"));
  EXPECT_TRUE(summary["accounting"]["balanced"].get<bool>()) << summary.dump(2);
}

TEST_F(LiveRl, AKilledLearnerResumesFromItsCheckpointAndTheActorReconnects) {
  const std::string cfg = write_config("");
  // Ten steps: the checkpoint buffers at most (max_staleness + 1) steps of rollouts, so the
  // restarted learner cannot finish without the actor reconnecting.
  const std::string sets = " --set rl.total_steps=10 --set rl.max_staleness=2";
  auto learner1 = std::make_unique<Proc>(rlvr_ + " learner --config " + cfg + sets, dir_.path() + "/learner1.log");
  Proc actor(rlvr_ + " actor --config " + cfg + " --id 0" + sets, dir_.path() + "/actor.log");
  // Killed after step 3 was logged: its checkpoint may or may not be complete, step 2's is.
  ASSERT_TRUE(eventually([&] { return steps_done(run_dir()) >= 3; }, std::chrono::seconds(120)))
      << slurp(dir_.path() + "/learner1.log");
  learner1->kill(SIGKILL);
  learner1->wait(std::chrono::seconds(10));
  Proc learner2(rlvr_ + " learner --config " + cfg + sets, dir_.path() + "/learner2.log");
  ASSERT_EQ(learner2.wait(std::chrono::seconds(180)), 0) << slurp(dir_.path() + "/learner2.log");
  EXPECT_EQ(actor.wait(std::chrono::seconds(60)), 0) << slurp(dir_.path() + "/actor.log");
  const std::string log2 = slurp(dir_.path() + "/learner2.log");
  EXPECT_NE(log2.find("resumed from"), std::string::npos) << log2;
  auto summary = nlohmann::json::parse(core::read_file(run_dir() + "/summary.json"));
  EXPECT_EQ(summary["steps"], 10);
  EXPECT_GE(summary["resumed_from_step"].get<int64_t>(), 2);
  EXPECT_TRUE(summary["accounting"]["balanced"].get<bool>()) << summary.dump(2);
  // It connected to the first learner and again to the restarted one.
  const std::string actor_log = slurp(dir_.path() + "/actor.log");
  const auto first = actor_log.find("connected to the learner");
  ASSERT_NE(first, std::string::npos) << actor_log;
  EXPECT_NE(actor_log.find("connected to the learner", first + 1), std::string::npos) << actor_log;
  // The resumed run's metrics continue where the checkpoint was.
  std::set<int64_t> steps;
  for (const auto& row : jsonl(run_dir() + "/metrics.jsonl")) steps.insert(row["step"].get<int64_t>());
  EXPECT_EQ(steps, (std::set<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
}

TEST_F(LiveRl, InFlightUpdatesRecordTwoVersionsInOneSample) {
  // The actor generates one sample at a time (generation.batch_size 1) through calls of four
  // groups (16 samples, ~2000 decode steps), and the learner trains four groups per step. Once the
  // first call's results are in, the learner trains on them while the actor's next call runs; a
  // step of this tiny model is several times shorter than such a call, so its update lands while
  // a sample is being decoded. (Batch 64 with one group per step depended on the race: on a fast
  // machine the model generated all its credit before the learner's first update, and every later
  // call, one group at batch 4, ended before the next update.)
  const std::string cfg = write_config("");
  Proc launch(rlvr_ + " launch --config " + cfg +
                  " --set rl.update_mode=in_flight --set rl.max_staleness=7 --set rl.rollout_batch_size=16 "
                  "--set rl.total_steps=10 --set generation.max_new_tokens=180 --set generation.batch_size=1 "
                  "--set actors.units_per_request=4 --set actors.count=1 --set rl.checkpoint_every=0",
              dir_.path() + "/launch.log");
  ASSERT_EQ(launch.wait(std::chrono::seconds(180)), 0) << slurp(dir_.path() + "/launch.log");
  int spanning = 0, samples = 0, length_max = 0;
  double length_sum = 0;
  std::map<int64_t, int> first_version;  // samples by the version of their first token
  for (const auto& r : jsonl(run_dir() + "/rollouts.jsonl")) {
    std::set<int64_t> versions(r["versions"].begin(), r["versions"].end());
    const int length = static_cast<int>(r["completion_ids"].size());
    ++samples;
    length_sum += length;
    length_max = std::max(length_max, length);
    ++first_version[r["versions"][0].get<int64_t>()];
    if (versions.size() > 1) {
      ++spanning;
      EXPECT_EQ(r["versions"].size(), r["completion_ids"].size()) << "one version per token";
    }
  }
  std::string by_version;
  for (const auto& [v, n] : first_version) by_version += fmt::format(" v{}:{}", v, n);
  EXPECT_GT(spanning, 0) << "no sample spanned a weight update; " << samples << " samples, completion length mean "
                         << (samples ? length_sum / samples : 0) << " max " << length_max
                         << ", samples by first version:" << by_version << "\n"
                         << slurp(dir_.path() + "/launch.log");
  expect_staleness_bound(run_dir(), 7);
}

TEST_F(LiveRl, GarbageOnTheEndpointIsDroppedAndCountedAndTheRunGoesOn) {
  const std::string cfg = write_config("");
  const std::string sets = " --set rl.total_steps=3";
  Proc learner(rlvr_ + " learner --config " + cfg + sets, dir_.path() + "/learner.log");
  // Garbage through ZeroMQ: random frames, a truncated message, a wrong magic, too many frames.
  proto::Context ctx;
  proto::SocketOptions so;
  so.routing_id = "garbage";
  core::Config config = core::load_config(cfg);
  {
    proto::Socket s = proto::Socket::connect_dealer(ctx, config.learner.endpoint, so);
    proto::Message hello;
    hello.envelope.sender = "actor-9";
    hello.payload = proto::Hello{9, 1, "x", "y", "between_samples", 1, "h"};
    proto::Message bogus = hello;
    bogus.envelope.sender = std::string(300, 'x');  // a sender longer than the protocol allows
    for (int i = 0; i < 20; ++i) s.send(bogus);
    proto::Message chunk;  // a learner-only message from an "actor"
    chunk.envelope.sender = "actor-9";
    chunk.payload = proto::WeightsAnnounce{1, 8, "0123456789abcdef", 8, 1};
    for (int i = 0; i < 5; ++i) s.send(chunk);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  // Raw bytes on the ipc socket (not even ZMTP): libzmq drops the connection; the learner lives on.
  {
    const std::string path = dir_.path() + "/learner.sock";
    ASSERT_TRUE(eventually([&] { return fs::exists(path); }, std::chrono::seconds(30)));
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      std::string junk(4096, '\0');
      for (size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<char>((i * 131 + 7) & 0xff);
      ssize_t ignored = ::send(fd, junk.data(), junk.size(), MSG_NOSIGNAL);
      (void)ignored;
    }
    if (fd >= 0) ::close(fd);
  }
  Proc actor(rlvr_ + " actor --config " + cfg + " --id 0" + sets, dir_.path() + "/actor.log");
  ASSERT_EQ(learner.wait(std::chrono::seconds(180)), 0) << slurp(dir_.path() + "/learner.log");
  EXPECT_EQ(actor.wait(std::chrono::seconds(60)), 0) << slurp(dir_.path() + "/actor.log") << "\nlearner:\n"
                                                      << slurp(dir_.path() + "/learner.log");
  auto summary = nlohmann::json::parse(core::read_file(run_dir() + "/summary.json"));
  EXPECT_EQ(summary["steps"], 3);
  EXPECT_GE(summary["messages_malformed"].get<int64_t>(), 1) << summary.dump(2);
  EXPECT_NE(slurp(dir_.path() + "/learner.log").find("dropped a malformed message"), std::string::npos);
}

// The point of the whole system: the reward the verifiers give rises as the learner trains on
// the actors' rollouts. The task is one a randomly initialized model can learn within a few
// dozen steps: IFEval's letter_frequency ("at least 2 letters 'e'"), which the untrained model
// meets in about 15% of samples by chance. Two actors, one step of staleness, as in a real run.
TEST_F(LiveRl, TheMeanRewardRisesAsTheLearnerTrains) {
  const std::string gt = R"({"instruction_id":["keywords:letter_frequency"],)"
                         R"("kwargs":[{"letter":"e","let_frequency":2,"let_relation":"at least"}]})";
  std::string rows;
  for (auto row : jsonl(world_.data_dir + "/rlvr.jsonl")) {
    row["dataset"] = "ifeval";
    row["ground_truth"] = gt;
    rows += row.dump() + "\n";
  }
  const std::string data = dir_.write("ifeval.jsonl", rows);
  const std::string cfg = write_config("");
  Proc launch(rlvr_ + " launch --config " + cfg + " --set rl.train_file=" + data +
                  " --set rl.total_steps=30 --set rl.rollout_batch_size=32 --set rl.prompt_epochs=0"
                  " --set rl.checkpoint_every=0 --set rl.entropy_coef=0 --set optim.learning_rate=0.01",
              dir_.path() + "/launch.log");
  ASSERT_EQ(launch.wait(std::chrono::seconds(180)), 0) << slurp(dir_.path() + "/launch.log");
  std::vector<double> reward;
  for (const auto& row : jsonl(run_dir() + "/metrics.jsonl")) reward.push_back(row.at("reward/mean").get<double>());
  ASSERT_EQ(reward.size(), 30u);
  const double first = (reward[0] + reward[1] + reward[2] + reward[3] + reward[4]) / 5;
  const double last = (reward[25] + reward[26] + reward[27] + reward[28] + reward[29]) / 5;
  EXPECT_LT(first, 4.0) << "the untrained model rarely meets the constraint";
  EXPECT_GT(last, first + 4.0) << "first five steps " << first << ", last five " << last;
}

// A random model never solves the arithmetic prompts: every group is all wrong, GRPO has nothing
// to learn from, and the learner stops with a message that says so instead of running on.
TEST_F(LiveRl, ARunWithoutLearningSignalStopsWithAClearMessage) {
  const std::string cfg = write_config("");
  Proc launch(rlvr_ + " launch --config " + cfg + " --set rl.total_steps=50 --set rl.collapse.window=3",
              dir_.path() + "/launch.log");
  EXPECT_EQ(launch.wait(std::chrono::seconds(180)), 1);
  const std::string log = slurp(dir_.path() + "/launch.log");
  EXPECT_NE(log.find("stopped at step 3"), std::string::npos) << log;
  EXPECT_NE(log.find("no learning signal: over steps 1-3 only 0.0% of the groups had mixed rewards"),
            std::string::npos)
      << log;
  auto summary = nlohmann::json::parse(core::read_file(run_dir() + "/summary.json"));
  EXPECT_EQ(summary["steps"], 3);
  EXPECT_NE(summary["stopped"].get<std::string>().find("no learning signal"), std::string::npos);
  EXPECT_TRUE(fs::exists(run_dir() + "/final/config.json"));
}

// --- CURVE (docs/SECURITY.md) ---

// Off loopback, neither side starts without keys: the learner refuses before it loads anything.
TEST_F(LiveRl, ANonLoopbackEndpointWithoutKeysIsRefusedByLearnerAndActor) {
  const std::string cfg = write_config("");
  Proc learner(rlvr_ + " learner --config " + cfg + " --set learner.endpoint=tcp://0.0.0.0:47911",
               dir_.path() + "/learner.log");
  EXPECT_EQ(learner.wait(std::chrono::seconds(60)), 1);
  std::string log = slurp(dir_.path() + "/learner.log");
  EXPECT_NE(log.find("learner: endpoint tcp://0.0.0.0:47911 is not loopback; refusing a plain transport"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("set security.server_secret_key and security.authorized_keys"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(run_dir() + "/config.yaml")) << "nothing was written";
  Proc actor(rlvr_ + " actor --config " + cfg + " --learner tcp://192.0.2.1:47911", dir_.path() + "/actor.log");
  EXPECT_EQ(actor.wait(std::chrono::seconds(60)), 1);
  log = slurp(dir_.path() + "/actor.log");
  EXPECT_NE(log.find("actor: endpoint tcp://192.0.2.1:47911 is not loopback"), std::string::npos) << log;
}

// A CURVE run (required here even on loopback): the launched, authorized actor trains; an actor
// with a key the learner does not know is refused, told so, logged and counted.
TEST_F(LiveRl, ACurveRunTrainsWithAuthorizedActorsAndRefusesAnUnknownKey) {
  const std::string keys = dir_.path() + "/keys";
  for (const char* name : {"learner", "actor", "stranger"}) {
    auto r = rlvr::testing::run_command(rlvr_ + " keys generate --out " + keys + " --name " + name);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  fs::create_directories(keys + "/authorized");
  fs::copy_file(keys + "/actor.public", keys + "/authorized/actor.public");
  const std::string cfg = write_config(fmt::format(
      "security:\n  server_secret_key: {0}/learner.secret\n  authorized_keys: {0}/authorized\n"
      "  server_public_key: {0}/learner.public\n  client_secret_key: {0}/actor.secret\n  require_on_loopback: true\n",
      keys));
  // The stranger starts first and keeps trying until the learner is up, so it is refused while
  // the run is on whatever the machine's speed.
  Proc stranger(rlvr_ + " actor --config " + cfg + " --id 7 --set security.client_secret_key=" + keys +
                    "/stranger.secret",
                dir_.path() + "/stranger.log");
  Proc launch(rlvr_ + " launch --config " + cfg + " --set actors.count=1 --set rl.total_steps=12",
              dir_.path() + "/launch.log");
  EXPECT_EQ(stranger.wait(std::chrono::seconds(120)), 1);
  const std::string slog = slurp(dir_.path() + "/stranger.log");
  EXPECT_NE(slog.find("actor 7: the learner at ipc://"), std::string::npos) << slog;
  EXPECT_NE(slog.find("refused this actor's CURVE key (ZAP status 400)"), std::string::npos) << slog;
  EXPECT_NE(slog.find("to the learner's security.authorized_keys"), std::string::npos) << slog;
  ASSERT_EQ(launch.wait(std::chrono::seconds(180)), 0) << slurp(dir_.path() + "/launch.log");
  auto summary = nlohmann::json::parse(core::read_file(run_dir() + "/summary.json"));
  EXPECT_EQ(summary["steps"], 12);
  EXPECT_TRUE(summary["accounting"]["balanced"].get<bool>()) << summary.dump(2);
  EXPECT_EQ(summary["security"]["curve"], true);
  EXPECT_GE(summary["security"]["handshakes_accepted"].get<int64_t>(), 1);
  EXPECT_GE(summary["security"]["handshakes_rejected"].get<int64_t>(), 1);
  const std::string log = slurp(dir_.path() + "/launch.log");
  EXPECT_NE(log.find("CURVE on: learner key "), std::string::npos) << log;
  EXPECT_NE(log.find("refused a connection from "), std::string::npos) << log;
  EXPECT_NE(log.find("is not in security.authorized_keys"), std::string::npos) << log;
  // The counter is in every step's metrics and only grows; the stranger may be refused after the
  // last step (the machine decides when its handshake comes), so the summary's total is the bound.
  double previous = 0;
  for (const auto& line : jsonl(run_dir() + "/metrics.jsonl")) {
    ASSERT_TRUE(line.contains("security/handshakes_rejected")) << line.dump();
    const double rejected = line["security/handshakes_rejected"].get<double>();
    EXPECT_GE(rejected, previous) << line.dump();
    EXPECT_LE(rejected, summary["security"]["handshakes_rejected"].get<double>()) << line.dump();
    previous = rejected;
  }
}

// --- Across hosts (docs/LAUNCH.md, docs/SCALING.md) ---

// One `rlvr launch` per host with --hosts: here every "host" is this machine's loopback address,
// so the roles, actor ids and endpoints are the ones a real cluster gets. Host 0 runs the learner
// only; hosts 1 and 2 run one actor each (ids 0 and 1), connect over TCP, and end with status 0
// when the learner shuts them down.
TEST_F(LiveRl, ThreeLaunchersAcrossHostsTrainAndEachEndsWithStatusZero) {
  const std::string port = std::to_string(rlvr::testing::free_tcp_port());
  const std::string cfg = write_config("");
  const std::string launch = rlvr_ + " launch --config " + cfg + " --hosts 127.0.0.1,127.0.0.1,127.0.0.1" +
                             " --set learner.endpoint=tcp://127.0.0.1:" + port +
                             " --set actors.count=1 --set rl.total_steps=20 --host-index ";
  const std::string logs[] = {dir_.path() + "/host0.log", dir_.path() + "/host1.log", dir_.path() + "/host2.log"};
  auto all_logs = [&] { return slurp(logs[0]) + "\n----\n" + slurp(logs[1]) + "\n----\n" + slurp(logs[2]); };
  Proc host0(launch + "0", logs[0]);
  Proc host1(launch + "1", logs[1]);
  Proc host2(launch + "2", logs[2]);
  ASSERT_EQ(host0.wait(std::chrono::seconds(240)), 0) << all_logs();
  EXPECT_EQ(host1.wait(std::chrono::seconds(60)), 0) << all_logs();
  EXPECT_EQ(host2.wait(std::chrono::seconds(60)), 0) << all_logs();

  auto summary = nlohmann::json::parse(core::read_file(run_dir() + "/summary.json"));
  EXPECT_EQ(summary["steps"], 20);
  EXPECT_TRUE(summary["accounting"]["balanced"].get<bool>()) << summary.dump(2);
  EXPECT_EQ(summary["actors_joined"], 2) << all_logs();
  const std::string learner_log = slurp(logs[0]), log1 = slurp(logs[1]), log2 = slurp(logs[2]);
  EXPECT_NE(learner_log.find("host 0 of 3 (127.0.0.1, by --host-index 0): the learner"), std::string::npos)
      << learner_log;
  EXPECT_EQ(learner_log.find("[actor-"), std::string::npos) << learner_log;
  EXPECT_NE(log1.find("ids 0..0 (1 threads each) of the learner at tcp://127.0.0.1:" + port), std::string::npos)
      << log1;
  EXPECT_NE(log1.find("[actor-0]"), std::string::npos) << log1;
  EXPECT_NE(log2.find("[actor-1]"), std::string::npos) << log2;
  EXPECT_EQ(log2.find("[learner"), std::string::npos) << log2;
  for (const std::string* log : {&log1, &log2}) {
    EXPECT_NE(log->find("launch: every child exited with status 0 (1 child)"), std::string::npos) << *log;
  }
}

// configs/cluster/slurm.sbatch itself, run by bash with a stand-in for srun that starts its
// command once per "node" with the variables srun sets. The nodes 127.0.0.1..3 are this machine's
// loopback addresses, so the Slurm placement, the learner bound on every interface, CURVE with the
// script's key layout, and the actors' exit at SHUTDOWN are all real.
TEST_F(LiveRl, TheSlurmBatchScriptRunsOneLauncherPerNode) {
  const std::string keys = dir_.path() + "/keys";
  for (const char* name : {"learner", "actors"}) {
    auto r = rlvr::testing::run_command(rlvr_ + " keys generate --out " + keys + " --name " + name);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  fs::copy_file(keys + "/actors.public", keys + "/authorized");
  std::string cfg_text = core::read_file(write_config(""));
  const std::string five = "total_steps: 5\n";
  ASSERT_NE(cfg_text.find(five), std::string::npos);
  cfg_text.replace(cfg_text.find(five), five.size(), "total_steps: 20\n");  // time for every actor to join
  const std::string cfg = dir_.write("slurm-rl.yaml", cfg_text);
  const std::string srun = dir_.write("bin/srun",
                                      "#!/bin/bash\n"
                                      "while [[ $# -gt 0 && $1 == -* ]]; do shift; done\n"
                                      "i=0; pids=()\n"
                                      "for node in $FAKE_NODES; do\n"
                                      "  SLURM_PROCID=$i SLURM_NODEID=$i SLURM_LOCALID=0 SLURMD_NODENAME=$node "
                                      "\"$@\" > \"$FAKE_LOGS/task$i.log\" 2>&1 &\n"
                                      "  pids+=($!); i=$((i+1))\n"
                                      "done\n"
                                      "rc=0; for p in \"${pids[@]}\"; do wait \"$p\" || { s=$?; [[ $s -gt $rc ]] && "
                                      "rc=$s; }; done\n"
                                      "exit $rc\n");
  fs::permissions(srun, fs::perms::owner_all);
  const std::string script = std::string(RLVR_SOURCE_DIR) + "/configs/cluster/slurm.sbatch";
  const std::string command = fmt::format(
      "env PATH={0}/bin:{1}:$PATH SLURM_JOB_NAME=rlvr SLURM_NODELIST='127.0.0.[1-3]' SLURM_NTASKS=3 "
      "FAKE_NODES='127.0.0.1 127.0.0.2 127.0.0.3' FAKE_LOGS={0} CONFIG={2} KEYS={3} RUN_DIR={4} PORT={5} "
      "MASTER_PORT={6} bash {7}",
      dir_.path(), fs::path(rlvr_).parent_path().string(), cfg, keys, run_dir(), rlvr::testing::free_tcp_port(),
      rlvr::testing::free_tcp_port(), script);
  Proc job(command, dir_.path() + "/job.log");
  auto logs = [&] {
    return slurp(dir_.path() + "/job.log") + "\n----\n" + slurp(dir_.path() + "/task0.log") + "\n----\n" +
           slurp(dir_.path() + "/task1.log") + "\n----\n" + slurp(dir_.path() + "/task2.log");
  };
  ASSERT_EQ(job.wait(std::chrono::seconds(240)), 0) << logs();
  auto summary = nlohmann::json::parse(core::read_file(run_dir() + "/summary.json"));
  EXPECT_EQ(summary["steps"], 20);
  EXPECT_TRUE(summary["accounting"]["balanced"].get<bool>()) << summary.dump(2);
  EXPECT_EQ(summary["actors_joined"], 4) << logs();  // 2 actors on each of the 2 actor nodes
  EXPECT_EQ(summary["security"]["curve"], true);
  const std::string task0 = slurp(dir_.path() + "/task0.log"), task2 = slurp(dir_.path() + "/task2.log");
  EXPECT_NE(task0.find("host 0 of 3 (127.0.0.1, by Slurm: SLURM_PROCID 0 of SLURM_NODELIST): the learner"),
            std::string::npos)
      << task0;
  EXPECT_NE(task0.find("CURVE on: learner key "), std::string::npos) << task0;
  EXPECT_NE(task2.find("host 2 of 3 (127.0.0.3, by Slurm: SLURM_PROCID 2 of SLURM_NODELIST): 2 actor(s), ids 2..3"),
            std::string::npos)
      << task2;
  EXPECT_NE(task2.find("launch: every child exited with status 0 (2 children)"), std::string::npos) << task2;
}

}  // namespace
}  // namespace rlvr::learner
