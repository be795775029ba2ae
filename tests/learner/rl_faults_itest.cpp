// Fault injection on the live actor-learner system (issue 14, item 4) and its load test (item 5):
// real `rlvr learner` and `rlvr actor` processes on a tiny model, and the faults a real cluster
// sees: an actor killed (SIGKILL) in the middle of a weight transfer, the learner killed in the
// middle of a checkpoint write, the network between an actor and the learner cut for longer than
// the heartbeat timeout, an external verifier that hangs or crashes, a full disk while a
// checkpoint is written; and eight actors pushing at one learner.
//
// Every fault is injected at a moment the test observes, never after a guessed sleep: a weight
// transfer is stalled by the proxy (tests/learner/fault_proxy.cpp) after a byte count that lies
// inside it; a checkpoint write is caught by inotify on the checkpoint directory and frozen with
// SIGSTOP before the learner is killed; the cut lasts until the learner's log says the actor was
// declared dead.
//
// Each run then has to pass the same checks (expect_consistent_run): it finished (or stopped with
// the expected clear error and was rerun to the end), summary.json's accounting balances
// (granted = received + lost + failed + in flight, received = trained + dropped + buffered), every
// prompt of the one prompt epoch was trained exactly once with all of its samples (so no rollout
// was trained on twice and none was lost), and the final model loads.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/fs.h"
#include "core/log.h"
#include "core/model/checkpoint.h"
#include "core/model/weights_blob.h"
#include "learner/train_state.h"
#include "tests/learner/live_process.h"
#include "tests/sft_dpo/tiny_world.h"
#include "tests/test_util.h"

namespace rlvr::learner {
namespace {

namespace fs = std::filesystem;
using rlvr::testing::count_of;
using rlvr::testing::eventually;
using rlvr::testing::LiveProcess;
using rlvr::testing::read_json_lines;
using rlvr::testing::slurp;
using rlvr::testing::steps_done;
using rlvr::testing::TempDir;
using namespace std::chrono_literals;

constexpr int64_t kSamplesPerPrompt = 4;  // generation.num_samples_per_prompt

class RlFaults : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    core::init_logging("warn");
    // The same world as tests/learner/rl_live_itest.cpp (same name and sizes: built once per
    // test binary and shared).
    const std::string dir = rlvr::testing::shared_fixture_dir("rl-live", [](const std::string& d) {
      rlvr::testing::make_tiny_world(d, /*rows=*/64, /*hidden=*/32, /*layers=*/2);
    });
    world_ = {dir + "/data", dir + "/model"};
  }
  void SetUp() override { core::init_logging("warn"); }
  // With RLVR_FAULTS_LOG_DIR set, each test's logs and summary.json are copied to
  // $RLVR_FAULTS_LOG_DIR/<test name>/ (the temp directory goes away with the test).
  void TearDown() override {
    const char* keep = std::getenv("RLVR_FAULTS_LOG_DIR");
    if (keep == nullptr || *keep == '\0') return;
    const std::string to =
        std::string(keep) + "/" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::error_code ec;
    fs::create_directories(to, ec);
    for (const auto& e : fs::directory_iterator(dir_.path(), ec)) {
      if (e.path().extension() == ".log")
        fs::copy_file(e.path(), to + "/" + e.path().filename().string(),
                      fs::copy_options::overwrite_existing, ec);
    }
    for (const char* f : {"/run/summary.json", "/run/metrics.jsonl", "/disk/run/summary.json"}) {
      if (fs::exists(dir_.path() + f))
        fs::copy_file(dir_.path() + f, to + "/" + fs::path(f).filename().string(),
                      fs::copy_options::overwrite_existing, ec);
    }
  }

  // `rows` prompts: the world's, from the first, starting over when they run out (a repeated row is
  // another prompt of the file). One prompt epoch: a run trains each exactly once. `dataset`
  // replaces the rows' verifier when given.
  std::string write_prompts(size_t rows, const std::string& dataset = "") {
    auto all = read_json_lines(world_.data_dir + "/rlvr.jsonl");
    EXPECT_FALSE(all.empty());
    std::string text;
    for (size_t i = 0; i < rows && !all.empty(); ++i) {
      nlohmann::json row = all[i % all.size()];
      if (!dataset.empty()) row["dataset"] = dataset;
      text += row.dump() + "\n";
    }
    prompts_ = static_cast<int64_t>(rows);
    return dir_.write("prompts.jsonl", text);
  }

  // A config: one prompt epoch over `prompts` (the run ends when every prompt was trained),
  // groups_per_step_ groups of 4 samples per step, a checkpoint every step, heartbeats every
  // 200 ms with a 2 s timeout. `extra` is appended (new top-level sections only; other keys are
  // set with --set).
  std::string write_config(const std::string& endpoint, const std::string& prompts,
                           const std::string& extra = "") {
    const std::string text = fmt::format(
        "run:\n  output_dir: {0}\n  threads: 1\n"
        "model:\n  path: {1}\n"
        "generation:\n  temperature: 1.0\n  max_new_tokens: 12\n  num_samples_per_prompt: {2}\n  "
        "batch_size: 8\n"
        "rl:\n  train_file: {3}\n  prompt_epochs: 1\n  rollout_batch_size: {4}\n  total_steps: "
        "1000\n"
        "  max_staleness: 1\n  checkpoint_every: 1\n  entropy_coef: 0.01\n  collapse:\n    window: "
        "0\n"
        "optim:\n  learning_rate: 0.003\n  warmup_ratio: 0\n"
        "learner:\n  endpoint: {5}\n  threads: 1\n  heartbeat_ms: 200\n  heartbeat_timeout_ms: "
        "2000\n"
        "  wait_log_ms: 2000\n"
        "actors:\n  count: 1\n  threads: 1\n  connect_timeout_ms: 60000\n{6}",
        run_dir(), world_.model_dir, kSamplesPerPrompt, prompts,
        kSamplesPerPrompt * groups_per_step_, endpoint, extra);
    return dir_.write("rl.yaml", text);
  }

  std::string ipc_endpoint() const { return "ipc://" + dir_.path() + "/learner.sock"; }
  std::string run_dir() const { return dir_.path() + "/run"; }
  std::string log(const std::string& name) const { return dir_.path() + "/" + name + ".log"; }
  std::string learner_cmd(const std::string& cfg) const {
    return rlvr_ + " learner --config " + cfg;
  }
  std::string actor_cmd(const std::string& cfg, int id, const std::string& endpoint = "") const {
    return rlvr_ + " actor --config " + cfg + " --id " + std::to_string(id) +
           (endpoint.empty() ? "" : " --learner " + endpoint);
  }

  // Starts the proxy in front of 127.0.0.1:`upstream_port`; returns its own port.
  int start_proxy(int upstream_port, const std::string& extra_flags = "") {
    const std::string port_file = dir_.path() + "/proxy.port";
    proxy_ = std::make_unique<LiveProcess>(
        std::string(RLVR_FAULT_PROXY) + " --listen 127.0.0.1:0 --upstream 127.0.0.1:" +
            std::to_string(upstream_port) + " --port-file " + port_file + " " + extra_flags,
        log("proxy"));
    EXPECT_TRUE(eventually([&] { return fs::exists(port_file); }, 30s)) << slurp(log("proxy"));
    return std::stoi(core::read_file(port_file));
  }

  // The checks every run ends with (see the file comment), on the run directory `run`.
  void expect_consistent_run(const std::string& run) {
    ASSERT_TRUE(fs::exists(run + "/summary.json"));
    const auto summary = nlohmann::json::parse(core::read_file(run + "/summary.json"));
    const auto& a = summary.at("accounting");
    EXPECT_TRUE(a.at("balanced").get<bool>()) << summary.dump(2);
    EXPECT_EQ(a.at("granted").get<int64_t>(),
              a.at("received").get<int64_t>() + a.at("lost").get<int64_t>() +
                  a.at("failed").get<int64_t>() + a.at("in_flight_at_exit").get<int64_t>())
        << summary.dump(2);
    EXPECT_EQ(a.at("received").get<int64_t>(),
              a.at("trained").get<int64_t>() + a.at("dropped_stale").get<int64_t>() +
                  a.at("dropped_invalid").get<int64_t>() + a.at("buffered_at_exit").get<int64_t>())
        << summary.dump(2);
    // One prompt epoch, run to its end: every prompt trained once, nothing left over.
    EXPECT_EQ(a.at("trained").get<int64_t>(), prompts_) << summary.dump(2);
    EXPECT_EQ(a.at("in_flight_at_exit").get<int64_t>(), 0);
    EXPECT_EQ(a.at("buffered_at_exit").get<int64_t>(), 0);
    EXPECT_EQ(summary.at("steps").get<int64_t>(), prompts_ / groups_per_step_);
    // rollouts.jsonl has every sample of every trained group: each prompt in exactly one step,
    // with each of its samples once.
    std::map<int64_t, std::set<int64_t>> steps_of;
    std::map<int64_t, std::multiset<int64_t>> samples_of;
    for (const auto& row : read_json_lines(run + "/rollouts.jsonl")) {
      steps_of[row.at("prompt_index").get<int64_t>()].insert(row.at("step").get<int64_t>());
      samples_of[row.at("prompt_index").get<int64_t>()].insert(
          row.at("sample_index").get<int64_t>());
    }
    EXPECT_EQ(static_cast<int64_t>(steps_of.size()), prompts_);
    for (const auto& [prompt, steps] : steps_of) {
      EXPECT_EQ(steps.size(), 1u) << "prompt " << prompt << " was trained in " << steps.size()
                                  << " steps";
      EXPECT_EQ(samples_of[prompt], (std::multiset<int64_t>{0, 1, 2, 3})) << "prompt " << prompt;
    }
    // The final model loads, and so does the newest checkpoint.
    EXPECT_NO_THROW(core::load_causal_lm(run + "/final"));
    const auto checkpoints = list_training_checkpoints(run + "/checkpoints");
    ASSERT_FALSE(checkpoints.empty());
    EXPECT_EQ(read_training_progress(checkpoints.back()).step, summary.at("steps").get<int64_t>());
    EXPECT_NO_THROW(core::load_causal_lm(checkpoints.back()));
  }

  const std::string rlvr_ = RLVR_BINARY;
  TempDir dir_;
  int64_t prompts_ = 0;          // in the prompt file (write_prompts)
  int64_t groups_per_step_ = 2;  // rl.rollout_batch_size / kSamplesPerPrompt (write_config)
  std::unique_ptr<LiveProcess> proxy_;
  static rlvr::testing::TinyWorld world_;
};

rlvr::testing::TinyWorld RlFaults::world_;

// The process state letter of /proc/PID/stat ('T' stopped, 'R' running, ...).
char process_state(pid_t pid) {
  const std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
  const auto paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() ? '?' : stat[paren + 2];
}

// Stops `p` (SIGSTOP) and waits until the kernel reports it stopped: nothing it does moves on.
bool freeze(LiveProcess& p) {
  p.kill(SIGSTOP);
  return eventually([&] { return process_state(p.pid()) == 'T'; }, 10s, 1ms);
}

// Bytes of the policy's weights as the learner sends them (float32, named_parameters order).
uint64_t weights_bytes(const std::string& model_dir) {
  auto model = core::load_causal_lm(model_dir);
  uint64_t total = 0;
  for (const auto& e : core::weights_manifest(*model)) total += e.bytes;
  return total;
}

// Connections waiting in the accept queue of the TCP socket that listens on `port` (the rx_queue
// column of its LISTEN row in /proc/net/tcp), or -1 when nothing listens there.
int accept_queue(int port) {
  std::istringstream in(slurp("/proc/net/tcp"));
  std::string line;
  std::getline(in, line);  // the header
  while (std::getline(in, line)) {
    std::istringstream row(line);
    std::string slot, local, remote, state, queues;
    row >> slot >> local >> remote >> state >> queues;
    const auto colon = local.find(':');
    const auto queue_colon = queues.find(':');
    if (state != "0A" || colon == std::string::npos || queue_colon == std::string::npos) continue;
    if (std::stoi(local.substr(colon + 1), nullptr, 16) != port) continue;
    return std::stoi(queues.substr(queue_colon + 1), nullptr, 16);
  }
  return -1;
}

uint64_t dir_bytes(const std::string& dir) {
  uint64_t total = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) total += e.file_size();
  }
  return total;
}

std::vector<std::string> temp_entries(const std::string& checkpoints_dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(checkpoints_dir)) {
    if (e.path().filename().string().rfind(".tmp-", 0) == 0)
      out.push_back(e.path().filename().string());
  }
  return out;
}

// --- 1. An actor killed during a weight transfer -----------------------------------------------

// Actor 1 talks to the learner through the proxy, which stalls the connection once 1.5 x the
// weights' size has come down it: the actor has the first version it fetched and half of the
// next one. It is killed there (SIGKILL), a second actor joins, actor 1 is started again (as
// `rlvr launch` would), and the run must end with its units regenerated and nothing trained twice.
TEST_F(RlFaults, AnActorKilledDuringAWeightTransferLosesNoWork) {
  const uint64_t weights = weights_bytes(world_.model_dir);
  ASSERT_GE(weights, 16u * 4096) << "the transfer must span many chunks";
  const int learner_port = rlvr::testing::free_loopback_port();
  const std::string endpoint = fmt::format("tcp://127.0.0.1:{}", learner_port);
  const std::string cfg = write_config(endpoint, write_prompts(20));
  const std::string sets = " --set learner.weight_chunk_bytes=4096";
  LiveProcess learner(learner_cmd(cfg) + sets, log("learner"));
  const uint64_t stall_at = weights + weights / 2;
  const int proxy_port = start_proxy(learner_port, fmt::format("--stall-after {}", stall_at));
  const std::string via_proxy = fmt::format("tcp://127.0.0.1:{}", proxy_port);
  auto actor1 =
      std::make_unique<LiveProcess>(actor_cmd(cfg, 1, via_proxy) + sets, log("actor1-first"));
  // The stall comes during the second version's transfer: the first (W bytes, plus small
  // messages) is complete, the second (W more) is not.
  // (Connections the proxy could not forward while the learner was still starting come first.)
  std::string stalled;  // "stalled N after B bytes"
  ASSERT_TRUE(eventually(
      [&] {
        const std::string events = slurp(log("proxy"));
        const auto at = events.find("stalled ");
        if (at != std::string::npos) stalled = events.substr(at, events.find('\n', at) - at);
        return at != std::string::npos;
      },
      120s))
      << slurp(log("proxy")) << "\nlearner:\n"
      << slurp(log("learner")) << "\nactor:\n"
      << slurp(log("actor1-first"));
  const std::string connection = stalled.substr(8, stalled.find(' ', 8) - 8);
  EXPECT_EQ(stalled, fmt::format("stalled {} after {} bytes", connection, stall_at));
  ASSERT_FALSE(actor1->poll().has_value()) << slurp(log("actor1-first"));
  EXPECT_TRUE(eventually([&] { return steps_done(run_dir()) >= 1; }, 30s))
      << "a new version was being published";
  actor1->kill(SIGKILL);
  EXPECT_EQ(actor1->wait(10s), 128 + SIGKILL);
  // The proxy sees the dead actor's end of the connection close.
  EXPECT_TRUE(eventually(
      [&] { return slurp(log("proxy")).find("closed " + connection + " (") != std::string::npos; },
      30s))
      << slurp(log("proxy"));
  // Both actors must join before the run can end, or the one that starts later could find the
  // work done and no learner left to answer it. The learner is frozen while they start; the
  // kernel queues their connections (actor 0's, and the proxy's upstream one for actor 1).
  ASSERT_TRUE(freeze(learner));
  const std::string log_before_restart = slurp(log("learner"));
  LiveProcess actor0(actor_cmd(cfg, 0) + sets, log("actor0"));
  LiveProcess actor1_again(actor_cmd(cfg, 1, via_proxy) + sets, log("actor1-again"));
  const bool both_queued = eventually([&] { return accept_queue(learner_port) >= 2; }, 60s);
  learner.kill(SIGCONT);
  ASSERT_TRUE(both_queued) << "accept queue " << accept_queue(learner_port) << "\nactor0:\n"
                           << slurp(log("actor0")) << "\nactor1:\n" << slurp(log("actor1-again"));
  ASSERT_EQ(learner.wait(240s), 0) << slurp(log("learner"));
  const std::string learner_log = slurp(log("learner"));
  // Each new actor ends with status 0 (the learner told it the run was over), or, when the learner
  // had what it needed for the remaining steps and ended before the actor's HELLO was read (seen
  // twice in CI under load), with its defined outcome: status 1 after its connect timeout, and the
  // learner never saw it join.
  auto joins = [](const std::string& text, int id) {  // "actor ID joined from" lines
    const std::string joined = fmt::format("actor {} joined from", id);
    int n = 0;
    for (auto at = text.find(joined); at != std::string::npos; at = text.find(joined, at + 1)) ++n;
    return n;
  };
  for (auto [actor, name, id] : {std::make_tuple(&actor0, "actor0", 0), std::make_tuple(&actor1_again, "actor1-again", 1)}) {
    const int status = actor->wait(90s);
    const std::string actor_log = slurp(log(name));
    if (status == 0) continue;
    EXPECT_EQ(status, 1) << actor_log << "\nlearner:\n" << learner_log;
    EXPECT_NE(actor_log.find("no answer from the learner"), std::string::npos) << actor_log;
    EXPECT_EQ(joins(learner_log, id), joins(log_before_restart, id))
        << "the learner saw actor " << id << " join but never answered it\n" << actor_log << "\nlearner:\n"
        << learner_log;
  }
  // The first incarnation of actor 1 was given up (declared dead, or replaced by its restart).
  EXPECT_NE(learner_log.find("actor 1 (actor-1) lost:"), std::string::npos) << learner_log;
  const auto summary = nlohmann::json::parse(core::read_file(run_dir() + "/summary.json"));
  EXPECT_GE(summary["actors_lost"].get<int64_t>(), 1);
  expect_consistent_run(run_dir());
}

// --- 2. The learner killed during a checkpoint write -------------------------------------------

// inotify reports each checkpoint's temp directory as it is created; the learner is frozen
// (SIGSTOP) right there and, when the directory is still unfinished (no state.json, which is
// written last), killed (SIGKILL). The previous checkpoint must be complete and loadable, and
// the learner started again must remove the unfinished one, resume from the previous one, and
// finish the run with the actor that kept running.
TEST_F(RlFaults, ALearnerKilledDuringACheckpointWriteResumesFromThePreviousOne) {
  const std::string cfg = write_config(ipc_endpoint(), write_prompts(24));
  auto learner1 = std::make_unique<LiveProcess>(learner_cmd(cfg), log("learner1"));
  LiveProcess actor(actor_cmd(cfg, 0), log("actor"));
  const std::string ckpt = run_dir() + "/checkpoints";
  ASSERT_TRUE(eventually([&] { return fs::is_directory(ckpt); }, 120s)) << slurp(log("learner1"));
  const int fd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  ASSERT_GE(::inotify_add_watch(fd, ckpt.c_str(), IN_CREATE), 0) << std::strerror(errno);
  std::string caught;  // the unfinished checkpoint directory the learner was killed in
  int64_t caught_step = 0;
  const auto deadline = rlvr::testing::LiveClock::now() + 180s;
  while (caught.empty() && rlvr::testing::LiveClock::now() < deadline && !learner1->poll()) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    alignas(inotify_event) char buf[8192];
    const ssize_t len = ::read(fd, buf, sizeof(buf));
    for (ssize_t off = 0; off < len && caught.empty();) {
      const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
      off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      const std::string name = ev->len > 0 ? ev->name : "";
      // .tmp-step-NNNNNNNN-PID; step 1's may have been created before the watch.
      if (!(ev->mask & IN_ISDIR) || name.rfind(".tmp-step-", 0) != 0) continue;
      const int64_t step = std::stoll(name.substr(10, 8));
      if (step < 2) continue;
      ASSERT_TRUE(freeze(*learner1));
      if (fs::is_directory(ckpt + "/" + name) && !fs::exists(ckpt + "/" + name + "/state.json")) {
        learner1->kill(SIGKILL);
        caught = name;
        caught_step = step;
      } else {
        learner1->kill(SIGCONT);  // it had finished that one already: catch the next
      }
    }
  }
  ::close(fd);
  ASSERT_FALSE(caught.empty()) << "never caught a checkpoint write\n" << slurp(log("learner1"));
  EXPECT_EQ(learner1->wait(10s), 128 + SIGKILL);
  // The unfinished one is left behind; the previous one is complete and loads.
  EXPECT_TRUE(fs::is_directory(ckpt + "/" + caught));
  const auto complete = list_training_checkpoints(ckpt);
  ASSERT_FALSE(complete.empty());
  const std::string previous = fmt::format("{}/step-{:08d}", ckpt, caught_step - 1);
  EXPECT_EQ(complete.back(), previous);
  EXPECT_EQ(read_training_progress(previous).step, caught_step - 1);
  EXPECT_NO_THROW(core::load_causal_lm(previous));

  LiveProcess learner2(learner_cmd(cfg), log("learner2"));
  ASSERT_EQ(learner2.wait(240s), 0) << slurp(log("learner2"));
  EXPECT_EQ(actor.wait(60s), 0) << slurp(log("actor"));
  const std::string log2 = slurp(log("learner2"));
  EXPECT_NE(log2.find("removing " + ckpt + "/" + caught +
                      ": a checkpoint left unfinished by an earlier process"),
            std::string::npos)
      << log2;
  EXPECT_NE(log2.find("resumed from " + previous), std::string::npos) << log2;
  EXPECT_FALSE(fs::exists(ckpt + "/" + caught));
  const auto summary = nlohmann::json::parse(core::read_file(run_dir() + "/summary.json"));
  EXPECT_EQ(summary["resumed_from_step"].get<int64_t>(), caught_step - 1);
  EXPECT_GE(count_of(slurp(log("actor")), "connected to the learner"), 2) << slurp(log("actor"));
  expect_consistent_run(run_dir());
}

// --- 3. The network cut for longer than the heartbeat timeout ----------------------------------

// The only actor reaches the learner through the proxy. After two steps the proxy is frozen
// (SIGSTOP: no byte moves either way, no connection closes) until the learner has declared the
// actor dead, then thawed. The actor must notice the silence, reconnect, get its lost work
// regenerated, and the run must finish.
TEST_F(RlFaults, ANetworkCutLongerThanTheHeartbeatTimeoutIsSurvived) {
  const int learner_port = rlvr::testing::free_loopback_port();
  const std::string cfg =
      write_config(fmt::format("tcp://127.0.0.1:{}", learner_port), write_prompts(16));
  LiveProcess learner(learner_cmd(cfg), log("learner"));
  const int proxy_port = start_proxy(learner_port);
  LiveProcess actor(actor_cmd(cfg, 0, fmt::format("tcp://127.0.0.1:{}", proxy_port)), log("actor"));
  ASSERT_TRUE(eventually([&] { return steps_done(run_dir()) >= 2; }, 120s))
      << slurp(log("learner"));
  ASSERT_TRUE(freeze(*proxy_));
  const std::string declared_dead = "actor 0 (actor-0) lost: silent for 2000 ms";
  const bool dead = eventually(
      [&] { return slurp(log("learner")).find(declared_dead) != std::string::npos; }, 60s);
  const bool noticed = eventually(
      [&] { return slurp(log("actor")).find("the learner has been silent") != std::string::npos; },
      60s);
  proxy_->kill(SIGCONT);
  ASSERT_TRUE(dead) << slurp(log("learner"));
  ASSERT_TRUE(noticed) << slurp(log("actor"));
  ASSERT_EQ(learner.wait(240s), 0) << slurp(log("learner"));
  EXPECT_EQ(actor.wait(60s), 0) << slurp(log("actor"));
  EXPECT_GE(count_of(slurp(log("actor")), "connected to the learner"), 2) << slurp(log("actor"));
  const auto summary = nlohmann::json::parse(core::read_file(run_dir() + "/summary.json"));
  // At least the cut: a machine too loaded to run the actor for 2 s could add another.
  EXPECT_GE(summary["actors_lost"].get<int64_t>(), 1) << summary.dump(2);
  expect_consistent_run(run_dir());
}

// --- 4. An external verifier that hangs or crashes ---------------------------------------------

// The prompts are scored by an external verifier (verifiers.external) that hangs on every 7th
// request and exits with status 3 on every 7th + 3 (it counts requests in a file, across its
// restarts). docs/VERIFIERS.md's outcome: such a sample scores 0 with verifier_error and a
// reason, the child is killed and restarted, and the learner leaves the sample out of the loss
// (rl.rewards.skip_verifier_errors). The run goes on and finishes.
TEST_F(RlFaults, AVerifierThatHangsOrCrashesScoresAnErrorAndTheRunGoesOn) {
  const std::string counter = dir_.path() + "/verifier.count";
  // The count is read and written under an exclusive lock: the verifier pool runs several of
  // these processes at once, and without the lock two of them could take the same number.
  const std::string script = dir_.write("flaky_verifier.py", R"(import fcntl, json, os, sys, time
counter = sys.argv[1]
for line in sys.stdin:
    request = json.loads(line)
    with open(counter, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        text = f.read()
        n = (int(text) if text else 0) + 1
        f.seek(0)
        f.truncate()
        f.write(str(n))
        f.flush()
    if n % 7 == 1:
        time.sleep(3600)  # hang: the verifier times out
    if n % 7 == 4:
        sys.exit(3)  # crash
    score = 1.0 if "e" in request["response"] else 0.0
    print(json.dumps({"id": request["id"], "score": score, "reason": "an e" if score else "no e"}), flush=True)
)");
  const std::string extra = fmt::format(
      "verifiers:\n  external:\n    - name: flaky\n      command: [python3, {}, {}]\n      "
      "timeout_ms: 1000\n",
      script, counter);
  const std::string cfg = write_config(ipc_endpoint(), write_prompts(12, "flaky"), extra);
  LiveProcess learner(learner_cmd(cfg), log("learner"));
  LiveProcess actor(actor_cmd(cfg, 0), log("actor"));
  ASSERT_EQ(learner.wait(240s), 0) << slurp(log("learner")) << "\nactor:\n" << slurp(log("actor"));
  EXPECT_EQ(actor.wait(60s), 0) << slurp(log("actor"));
  int64_t hung = 0, crashed = 0, scored = 0;
  for (const auto& row : read_json_lines(run_dir() + "/rollouts.jsonl")) {
    const std::string reason = row.value("reason", "");
    if (row.value("verifier_error", false)) {
      EXPECT_EQ(row["score"].get<double>(), 0.0);
      EXPECT_FALSE(row["trained"].get<bool>())
          << "a sample without a verdict is left out of the loss";
      if (reason == "external verifier timed out after 1000 ms") {
        ++hung;
      } else if (reason == "external verifier process exited with status 3") {
        ++crashed;
      } else {
        ADD_FAILURE() << "unexpected verifier error: " << reason;
      }
    } else {
      EXPECT_TRUE(reason == "an e" || reason == "no e") << reason;
      ++scored;
    }
  }
  // Every 7th request hangs and every 7th crashes, but which requests end up as rows is not fixed:
  // errored samples are logged untrained beside the 48 trained ones, and the samples of units
  // still in flight when the run ends are scored (the counter counts them) but never logged. So
  // the bound is on repetition, not on 48 / 7 (5 crashes against that 6 failed in CI): each kind
  // happened again after the pool had replaced the process that hung or crashed before.
  EXPECT_GE(hung, 2);
  EXPECT_GE(crashed, 2);
  EXPECT_GT(scored, 0);
  int64_t errors_metric = 0;
  for (const auto& row : read_json_lines(run_dir() + "/metrics.jsonl")) {
    errors_metric += static_cast<int64_t>(row.value("samples/verifier_errors", 0.0));
  }
  EXPECT_EQ(errors_metric, hung + crashed);
  expect_consistent_run(run_dir());
}

// --- 5. A full disk while a checkpoint is written ----------------------------------------------

// A mounted tmpfs holding run.output_dir, unmounted (lazily) when the test ends.
class TmpfsMount {
 public:
  TmpfsMount(const std::string& dir, const std::string& size) : dir_(dir) {
    fs::create_directories(dir);
    if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, ("size=" + size).c_str()) == 0) {
      mounted_ = true;
    } else {
      error_ = std::strerror(errno);
    }
  }
  ~TmpfsMount() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }

 private:
  std::string dir_;
  bool mounted_ = false;
  std::string error_;
};

uint64_t free_bytes(const std::string& dir) {
  struct statvfs s {};
  if (::statvfs(dir.c_str(), &s) != 0) return 0;
  return static_cast<uint64_t>(s.f_bavail) * s.f_frsize;
}

// run.output_dir is a 64 MiB tmpfs. Once the first checkpoint is complete, the learner is frozen
// and the disk filled (a ballast file) to half a checkpoint's size: the next checkpoint write
// runs out of space. The learner must stop with a clear error naming the file and the reason,
// remove its unfinished checkpoint, keep the previous one loadable, and a rerun after space was
// freed must resume from it and finish.
TEST_F(RlFaults, AFullDiskDuringACheckpointWriteStopsWithAClearErrorAndKeepsThePreviousOne) {
  const std::string disk = dir_.path() + "/disk";
  TmpfsMount mount(disk, "64m");
  if (!mount.mounted()) {
    GTEST_SKIP() << "cannot mount a tmpfs at " << disk << " (" << mount.error()
                 << "): this test needs root or CAP_SYS_ADMIN (a privileged container)";
  }
  const std::string run = disk + "/run";
  const std::string cfg_path = write_config(ipc_endpoint(), write_prompts(20));
  // run.output_dir on the tmpfs.
  const std::string sets = " --set run.output_dir=" + run;
  LiveProcess learner1(learner_cmd(cfg_path) + sets, log("learner1"));
  LiveProcess actor1(actor_cmd(cfg_path, 0) + sets, log("actor1"));
  const std::string ckpt = run + "/checkpoints";
  ASSERT_TRUE(eventually([&] { return !list_training_checkpoints(ckpt).empty(); }, 120s, 5ms))
      << slurp(log("learner1"));
  ASSERT_TRUE(freeze(learner1));
  const uint64_t checkpoint_size = dir_bytes(list_training_checkpoints(ckpt).front());
  const uint64_t leave = checkpoint_size / 2;
  const uint64_t ballast = free_bytes(disk) - leave;
  {
    const int fd = ::open((disk + "/ballast").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::posix_fallocate(fd, 0, static_cast<off_t>(ballast)), 0);
    ::close(fd);
  }
  ASSERT_LT(free_bytes(disk), checkpoint_size);
  learner1.kill(SIGCONT);
  ASSERT_EQ(learner1.wait(240s), 1) << slurp(log("learner1"));
  EXPECT_EQ(actor1.wait(60s), 0) << slurp(log("actor1"));
  // One clear line: the file that could not be written and why.
  const std::string log1 = slurp(log("learner1"));
  const auto at = log1.find("No space left on device");
  ASSERT_NE(at, std::string::npos) << log1;
  const std::string line =
      log1.substr(log1.rfind('\n', at) + 1, log1.find('\n', at) - log1.rfind('\n', at) - 1);
  EXPECT_NE(line.find(ckpt + "/.tmp-step-"), std::string::npos) << line;
  EXPECT_NE(line.find("write failed while writing atomically"), std::string::npos) << line;
  // Nothing unfinished left behind; the newest complete checkpoint loads.
  EXPECT_TRUE(temp_entries(ckpt).empty());
  const auto complete = list_training_checkpoints(ckpt);
  ASSERT_FALSE(complete.empty());
  const int64_t kept_step = read_training_progress(complete.back()).step;
  EXPECT_GE(kept_step, 1);
  EXPECT_NO_THROW(core::load_causal_lm(complete.back()));
  EXPECT_LT(kept_step, prompts_ / groups_per_step_) << "the run must not have finished";

  // Space freed: the rerun resumes from the kept checkpoint and finishes.
  fs::remove(disk + "/ballast");
  LiveProcess learner2(learner_cmd(cfg_path) + sets, log("learner2"));
  LiveProcess actor2(actor_cmd(cfg_path, 0) + sets, log("actor2"));
  ASSERT_EQ(learner2.wait(240s), 0) << slurp(log("learner2"));
  EXPECT_EQ(actor2.wait(60s), 0) << slurp(log("actor2"));
  EXPECT_NE(slurp(log("learner2")).find("resumed from " + complete.back()), std::string::npos)
      << slurp(log("learner2"));
  expect_consistent_run(run);
}

// --- 6. Load: eight actors pushing at one learner ----------------------------------------------

// Eight actor processes against one learner over 256 prompts (64 steps of 4 groups, max_staleness
// 2: a credit window of 12 units). Backpressure: the units in flight and buffered never exceed the
// window at any step (the sharp check: without credits, eight actors would have hundreds out), and
// the learner's resident memory after the first step does not grow by more than 64 MiB to its
// peak (VmHWM). Nothing is lost or trained twice (expect_consistent_run). tools/bench_load runs
// the same for 60 s and measures it (docs/BENCHMARKS.md).
TEST_F(RlFaults, EightActorsPushingAtOneLearnerKeepItsMemoryBoundedAndLoseNothing) {
  constexpr int kActors = 8;
  groups_per_step_ = 4;
  const std::string cfg = write_config(ipc_endpoint(), write_prompts(256));
  // Nine processes on a small machine: a generous heartbeat timeout, so that no actor is declared
  // dead only because the scheduler did not run it for a while.
  const std::string sets =
      " --set rl.max_staleness=2 --set rl.checkpoint_every=0 --set "
      "learner.heartbeat_timeout_ms=20000";
  LiveProcess learner(learner_cmd(cfg) + sets, log("learner"));
  std::vector<std::unique_ptr<LiveProcess>> actors;
  for (int i = 0; i < kActors; ++i) {
    actors.push_back(
        std::make_unique<LiveProcess>(actor_cmd(cfg, i) + sets, log("actor" + std::to_string(i))));
  }
  int64_t rss_first_step_kb = 0, hwm_kb = 0;
  std::optional<int> status;
  const auto deadline = rlvr::testing::LiveClock::now() + 300s;
  while (!(status = learner.poll()) && rlvr::testing::LiveClock::now() < deadline) {
    const int64_t rss = rlvr::testing::proc_status_kb(learner.pid(), "VmRSS");
    hwm_kb = std::max(hwm_kb, rlvr::testing::proc_status_kb(learner.pid(), "VmHWM"));
    if (rss_first_step_kb == 0 && steps_done(run_dir()) >= 1) rss_first_step_kb = rss;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(status.value_or(-1), 0) << slurp(log("learner"));
  for (int i = 0; i < kActors; ++i) {
    EXPECT_EQ(actors[static_cast<size_t>(i)]->wait(60s), 0)
        << slurp(log("actor" + std::to_string(i)));
  }
  const auto summary = nlohmann::json::parse(core::read_file(run_dir() + "/summary.json"));
  EXPECT_EQ(summary["actors_joined"].get<int64_t>(), kActors) << summary.dump(2);
  EXPECT_EQ(summary["actors_lost"].get<int64_t>(), 0) << summary.dump(2);
  // The credit window's use after each step: never above it, and filled (but for the groups the
  // step just freed) at some step, so the actors were held back rather than idle.
  const int64_t window = (2 + 1) * groups_per_step_;
  int64_t most = 0;
  for (const auto& row : read_json_lines(run_dir() + "/metrics.jsonl")) {
    const auto used = static_cast<int64_t>(row.at("units/in_flight").get<double>() +
                                           row.at("units/buffered").get<double>());
    EXPECT_LE(used, window) << "step " << row.at("step");
    most = std::max(most, used);
  }
  EXPECT_GE(most, window - groups_per_step_);
  ASSERT_GT(rss_first_step_kb, 0);
  // Under AddressSanitizer freed memory waits in ASan's quarantine (quarantine_size_mb, 256 MB by
  // default) before it is reused, so the learner's RSS grows by up to that much without a leak
  // (the full sanitizer build measured +217 MB).
#if defined(__SANITIZE_ADDRESS__)
  constexpr int64_t kQuarantineKb = 256 * 1024;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  constexpr int64_t kQuarantineKb = 256 * 1024;
#else
  constexpr int64_t kQuarantineKb = 0;
#endif
#else
  constexpr int64_t kQuarantineKb = 0;
#endif
  EXPECT_LE(hwm_kb, rss_first_step_kb + 64 * 1024 + kQuarantineKb)
      << "learner RSS after step 1: " << rss_first_step_kb << " kB, peak " << hwm_kb << " kB";
  std::printf("learner RSS after step 1 %lld kB, peak (VmHWM) %lld kB\n",
              static_cast<long long>(rss_first_step_kb), static_cast<long long>(hwm_kb));
  expect_consistent_run(run_dir());
}

}  // namespace
}  // namespace rlvr::learner
