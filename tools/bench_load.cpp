// bench_load: many actor processes pushing at one learner (issue 14, item 5). Does backpressure
// keep the learner's memory bounded, is nothing lost or trained twice, and how fast are the
// learner's answers while it is loaded?
//
// It builds a synthetic world (tools/data/synth.h prompts, a BPE tokenizer trained on their corpus,
// a freshly initialized model from `--model`), then runs `rlvr learner` and `--actors` separate
// `rlvr actor` processes on this machine (ipc endpoint) over one prompt epoch, for a number of
// learner steps that lasts about `--seconds`: a calibration run first measures the learner's steps
// per second under the same load (it is then killed), the measured run gets
// rl.total_steps = steps/s x seconds and ends by itself, writing summary.json.
//
// Meanwhile a probe (a registered actor that never asks for work) sends the learner a request its
// network thread answers at once (WEIGHTS_REQUEST for a version that does not exist ->
// WEIGHTS_CHUNK available=false) every 20 ms and records the round trip: the latency of a message
// through the loaded learner. The learner's /proc/PID/status is read every 100 ms.
//
// Reported: rollouts/s (groups and samples received per second of the measured run, first to last
// step), the learner's peak RSS (VmHWM) beside its RSS after the first step, the actors' largest
// peak RSS, the probe's p50 / p99 / max round trip, the most units in flight + buffered at a step
// beside the credit window, and the checks: accounting balanced, no prompt trained twice.
//
//   build/bench_load [--actors 8] [--seconds 60] [--model configs/bench/tiny.json] [--out DIR]
//                    [--keep] [--json FILE] [--n 4 --prompts-per-step 8 --max-new-tokens 16]
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/config/loader.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/model/checkpoint.h"
#include "core/model/model_config.h"
#include "core/model/transformer.h"
#include "core/protocol/fingerprint.h"
#include "core/protocol/protocol.h"
#include "core/protocol/transport.h"
#include "core/tokenizer/bpe_trainer.h"
#include "tools/data/synth.h"
#include "tools/thread_env.h"

namespace {

namespace fs = std::filesystem;
namespace proto = rlvr::core::protocol;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

double secs(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

struct Params {
  std::string model = std::string(RLVR_SOURCE_DIR) + "/configs/bench/tiny.json";
  std::string out, json_out, rlvr;
  double seconds = 60, calibrate_seconds = 40;
  int64_t actors = 8, n = 4, prompts_per_step = 8, max_new_tokens = 16, max_staleness = 2, seed = 1;
  bool keep = false;
};

// A child process (sh -c "exec COMMAND"), output to `log`, in its own process group.
class Child {
 public:
  Child(const std::string& command, const std::string& log) {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);
      ::execl("/bin/sh", "sh", "-c", ("exec " + command + " >" + log + " 2>&1").c_str(), nullptr);
      ::_exit(127);
    }
    RLVR_CHECK(pid_ > 0, "fork failed: {}", std::strerror(errno));
    ::setpgid(pid_, pid_);
  }
  ~Child() { stop(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  // The exit status once it ended (128 + signal), nullopt while it runs.
  std::optional<int> poll() {
    if (done_) return status_;
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) != pid_) return std::nullopt;
    done_ = true;
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return status_;
  }
  // SIGKILL to the group, reaped.
  void stop() {
    if (pid_ <= 0 || done_) return;
    ::kill(-pid_, SIGKILL);
    int st = 0;
    ::waitpid(pid_, &st, 0);
    done_ = true;
    status_ = 128 + SIGKILL;
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  bool done_ = false;
  int status_ = -1;
};

int64_t status_kb(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1));
  }
  return -1;
}

std::vector<json> read_jsonl(const std::string& path) {
  std::vector<json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    auto j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

double num(const json& row, const char* key) {
  auto it = row.find(key);
  return it != row.end() && it->is_number() ? it->get<double>() : 0.0;
}

// The world: synthetic prompts (one epoch outlasts any run here), tokenizer, fresh model.
std::pair<std::string, std::string> build_world(const Params& p, const std::string& dir) {
  rlvr::tools::SynthOptions synth;
  synth.seed = static_cast<uint64_t>(p.seed);
  synth.train_rows = 20000;
  synth.eval_rows = 8;
  rlvr::tools::synthesize_task_world(dir + "/data", synth);
  rlvr::core::BpeTrainerOptions bpe;
  bpe.vocab_size = 512;
  bpe.special_tokens = {"<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>"};
  const std::string tok = rlvr::core::train_bpe_files({dir + "/data/corpus.txt"}, bpe);
  rlvr::core::write_file_atomic(dir + "/model/tokenizer.json", tok);
  rlvr::core::TransformerConfig cfg = rlvr::core::load_transformer_config(p.model);
  cfg.vocab_size = static_cast<int64_t>(json::parse(tok).at("model").at("vocab").size());
  cfg.bos_token_id = {0};
  cfg.eos_token_id = {0};
  rlvr::core::CausalLM model(cfg);
  model->init_weights(static_cast<uint64_t>(p.seed));
  rlvr::core::save_checkpoint(*model, cfg, dir + "/model");
  const std::string source = std::string(RLVR_SOURCE_DIR) + "/";
  const std::string shown = p.model.rfind(source, 0) == 0 ? p.model.substr(source.size()) : p.model;
  std::printf("world: %s, %lld parameters (vocab %lld), %lld prompts\n", shown.c_str(),
              static_cast<long long>(cfg.num_parameters()), static_cast<long long>(cfg.vocab_size),
              static_cast<long long>(synth.train_rows));
  return {dir + "/model", dir + "/data/rlvr.jsonl"};
}

std::string config_yaml(const Params& p, const std::string& model, const std::string& data,
                        const std::string& dir, int64_t total_steps) {
  return fmt::format(
      "run:\n  output_dir: {dir}/run\n  name: bench-load\n  seed: {seed}\n  threads: 1\n"
      "model:\n  path: {model}\n"
      "generation:\n  temperature: 1.0\n  max_new_tokens: {mnt}\n  num_samples_per_prompt: {n}\n  "
      "batch_size: {n2}\n"
      "rl:\n  train_file: {data}\n  rollout_batch_size: {rbs}\n  total_steps: {steps}\n  "
      "prompt_epochs: 1\n"
      "  max_staleness: {stale}\n  checkpoint_every: 0\n  collapse:\n    window: 0\n"
      "optim:\n  learning_rate: 0.0001\n  warmup_ratio: 0\n"
      "learner:\n  endpoint: ipc://{dir}/learner.sock\n  threads: 1\n  heartbeat_ms: 500\n"
      "  heartbeat_timeout_ms: 30000\n"
      "actors:\n  count: {actors}\n  threads: 1\n  connect_timeout_ms: 120000\n",
      fmt::arg("dir", dir), fmt::arg("seed", p.seed), fmt::arg("model", model),
      fmt::arg("mnt", p.max_new_tokens), fmt::arg("n", p.n), fmt::arg("n2", 2 * p.n),
      fmt::arg("data", data), fmt::arg("rbs", p.n * p.prompts_per_step),
      fmt::arg("steps", total_steps), fmt::arg("stale", p.max_staleness),
      fmt::arg("actors", p.actors));
}

// --- The latency probe --------------------------------------------------------------------------

// A registered actor that asks for nothing but chunks of a version that does not exist, one at a
// time, every 20 ms, and records each round trip. Owns its socket; runs on its own thread until
// `stop`.
class Probe {
 public:
  Probe(const std::string& config_path, std::atomic<bool>& stop) : stop_(stop) {
    config_ = rlvr::core::load_config(config_path);
  }

  void run() {
    proto::Context ctx;
    proto::SocketOptions so;
    so.routing_id = "bench-load-probe";
    so.heartbeat_ms = config_.learner.heartbeat_ms;
    so.heartbeat_timeout_ms = config_.learner.heartbeat_timeout_ms;
    proto::Socket s = proto::Socket::connect_dealer(ctx, config_.learner.endpoint, so);
    proto::ProtocolLimits limits;
    uint64_t seq = 0;
    const uint64_t incarnation = static_cast<uint64_t>(::getpid()) << 16 | 0x7e;
    auto send = [&](proto::Payload payload) {
      proto::Message m;
      m.envelope.sender = proto::actor_sender(kProbeId);
      m.envelope.seq = ++seq;
      m.envelope.session = incarnation;
      m.payload = std::move(payload);
      return s.send(m);
    };
    proto::Hello h;
    h.actor_id = kProbeId;
    h.incarnation = incarnation;
    h.model_fingerprint = proto::model_fingerprint(config_);
    h.config_fingerprint = proto::config_fingerprint(config_);
    h.update_mode = config_.rl.update_mode;
    h.max_units = 1;
    h.host = "bench-load-probe";
    bool welcomed = false;
    auto last_hello = Clock::time_point{}, last_heartbeat = Clock::now(), sent_at = Clock::now();
    bool outstanding = false;
    while (!stop_) {
      const auto now = Clock::now();
      if (!welcomed && now - last_hello > std::chrono::milliseconds(500)) {
        send(h);
        last_hello = now;
      }
      if (welcomed &&
          now - last_heartbeat >= std::chrono::milliseconds(config_.learner.heartbeat_ms)) {
        send(proto::Heartbeat{0, {}});
        last_heartbeat = now;
      }
      if (welcomed && !outstanding && now - sent_at >= std::chrono::milliseconds(20)) {
        if (send(proto::WeightsRequest{kNoSuchVersion, 0})) {
          sent_at = Clock::now();
          outstanding = true;
        }
      }
      if (outstanding && now - sent_at > std::chrono::seconds(10)) {
        ++unanswered_;  // counted, and the next request goes out
        outstanding = false;
      }
      auto r = s.receive(5, limits);
      if (!r || !r->result.ok()) continue;
      const proto::Message& m = *r->result.message;
      if (m.type() == proto::MessageType::kWelcome) {
        welcomed = welcomed || std::get<proto::Welcome>(m.payload).accepted;
      } else if (m.type() == proto::MessageType::kWeightsChunk && outstanding) {
        const auto& c = std::get<proto::WeightsChunk>(m.payload);
        if (c.version == kNoSuchVersion && !c.available) {
          rtt_ms_.push_back(1e3 * secs(sent_at, Clock::now()));
          outstanding = false;
        }
      } else if (m.type() == proto::MessageType::kShutdown) {
        break;
      } else if (m.type() == proto::MessageType::kError) {
        welcomed = false;  // declared dead (it should not be): say HELLO again
      }
    }
  }

  std::vector<double> rtt_ms() const { return rtt_ms_; }
  int64_t unanswered() const { return unanswered_; }

 private:
  static constexpr int64_t kProbeId = 999999;
  static constexpr int64_t kNoSuchVersion = int64_t{1} << 50;
  rlvr::core::Config config_;
  std::atomic<bool>& stop_;
  std::vector<double> rtt_ms_;
  int64_t unanswered_ = 0;
};

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size()))) - 1;
  return v[std::min(i, v.size() - 1)];
}

// --- One run ------------------------------------------------------------------------------------

struct RunResult {
  int learner_status = -1;
  std::vector<json> metrics;
  json summary;
  int64_t learner_hwm_kb = 0, learner_rss_first_step_kb = 0, learner_rss_max_kb = 0,
          actor_hwm_max_kb = 0;
  std::vector<double> rtt_ms;
  int64_t unanswered = 0;
  double wall_s = 0;
  std::vector<std::pair<double, int64_t>>
      rss_kb;                            // (seconds since start, learner VmRSS) every 100 ms
  std::vector<int64_t> rss_quarters_kb;  // the largest VmRSS in each quarter after step 1
};

// Starts the learner, then the actors and (for a measured run) the probe; samples memory every
// 100 ms; stops when the learner exits or, with `max_steps` > 0, once metrics.jsonl has that many
// rows (the calibration: everything is then killed).
RunResult run_once(const Params& p, const std::string& cfg, const std::string& dir,
                   int64_t max_steps, bool probe, double timeout_s) {
  RunResult r;
  std::error_code ec;
  fs::remove_all(dir + "/run", ec);
  const auto t0 = Clock::now();
  Child learner(p.rlvr + " learner --config " + cfg, dir + "/learner.log");
  std::vector<std::unique_ptr<Child>> actors;
  for (int64_t i = 0; i < p.actors; ++i) {
    actors.push_back(
        std::make_unique<Child>(fmt::format("{} actor --config {} --id {}", p.rlvr, cfg, i),
                                fmt::format("{}/actor-{}.log", dir, i)));
  }
  std::atomic<bool> stop{false};
  std::unique_ptr<Probe> prober;
  std::thread probe_thread;
  if (probe) {
    prober = std::make_unique<Probe>(cfg, stop);
    probe_thread = std::thread([&] { prober->run(); });
  }
  const std::string metrics_path = dir + "/run/metrics.jsonl";
  while (true) {
    if (auto st = learner.poll()) {
      r.learner_status = *st;
      break;
    }
    const int64_t rss = status_kb(learner.pid(), "VmRSS");
    if (r.learner_rss_first_step_kb > 0) r.rss_kb.emplace_back(secs(t0, Clock::now()), rss);
    r.learner_rss_max_kb = std::max(r.learner_rss_max_kb, rss);
    r.learner_hwm_kb = std::max(r.learner_hwm_kb, status_kb(learner.pid(), "VmHWM"));
    for (auto& a : actors)
      r.actor_hwm_max_kb = std::max(r.actor_hwm_max_kb, status_kb(a->pid(), "VmHWM"));
    if (r.learner_rss_first_step_kb == 0 && fs::exists(metrics_path) &&
        fs::file_size(metrics_path, ec) > 0) {
      r.learner_rss_first_step_kb = rss;
    }
    if (max_steps > 0 && static_cast<int64_t>(read_jsonl(metrics_path).size()) >= max_steps) break;
    RLVR_CHECK(secs(t0, Clock::now()) < timeout_s,
               "the run did not end within {:.0f} s; see {}/learner.log", timeout_s, dir);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  r.wall_s = secs(t0, Clock::now());
  stop = true;
  if (probe_thread.joinable()) probe_thread.join();
  if (prober) {
    r.rtt_ms = prober->rtt_ms();
    r.unanswered = prober->unanswered();
  }
  learner.stop();
  // Actors leave on the learner's SHUTDOWN; give them a moment, then stop the rest.
  const auto until = Clock::now() + std::chrono::seconds(20);
  for (auto& a : actors) {
    while (!a->poll() && Clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    a->stop();
  }
  r.metrics = read_jsonl(metrics_path);
  if (!r.rss_kb.empty()) {
    const double a = r.rss_kb.front().first, b = r.rss_kb.back().first;
    r.rss_quarters_kb.assign(4, 0);
    for (const auto& [t, kb] : r.rss_kb) {
      const size_t q =
          std::min<size_t>(3, static_cast<size_t>(4 * (t - a) / std::max(1e-9, b - a)));
      r.rss_quarters_kb[q] = std::max(r.rss_quarters_kb[q], kb);
    }
  }
  if (fs::exists(dir + "/run/summary.json"))
    r.summary = json::parse(rlvr::core::read_file(dir + "/run/summary.json"));
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  rlvr::tools::ensure_thread_env(argv);
  Params p;
  p.rlvr = (fs::path(argv[0]).parent_path() / "rlvr").string();
  CLI::App app(
      "Many actor processes pushing at one learner: rollouts/s, the learner's peak RSS, message "
      "latency, "
      "and the accounting");
  app.add_option("--actors", p.actors, "Actor processes")->check(CLI::Range(1, 256));
  app.add_option("--seconds", p.seconds, "Length of the measured run (learner steps)")
      ->check(CLI::Range(5.0, 3600.0));
  app.add_option("--calibrate-seconds", p.calibrate_seconds, "Longest calibration run")
      ->check(CLI::Range(5.0, 600.0));
  app.add_option("--model", p.model, "config.json of the model to initialize");
  app.add_option("--out", p.out,
                 "Working directory (default: a fresh temp dir, removed unless --keep)");
  app.add_option("--json", p.json_out, "Also write the results as JSON to this file");
  app.add_option("--rlvr", p.rlvr, "The rlvr binary");
  app.add_option("--n", p.n, "Samples per prompt")->check(CLI::Range(2, 64));
  app.add_option("--prompts-per-step", p.prompts_per_step, "Prompt groups per learner step")
      ->check(CLI::Range(1, 1024));
  app.add_option("--max-new-tokens", p.max_new_tokens, "Most tokens per completion")
      ->check(CLI::Range(1, 4096));
  app.add_option("--max-staleness", p.max_staleness, "rl.max_staleness (the credit window)")
      ->check(CLI::Range(0, 100));
  app.add_option("--seed", p.seed, "Seed of the world");
  app.add_flag("--keep", p.keep, "Keep the working directory");
  CLI11_PARSE(app, argc, argv);
  try {
    rlvr::core::init_logging("warn");
    bool temp = false;
    if (p.out.empty()) {
      std::string tmpl = (fs::temp_directory_path() / "rlvr-bench-load-XXXXXX").string();
      RLVR_CHECK(::mkdtemp(tmpl.data()) != nullptr, "mkdtemp failed");
      p.out = tmpl;
      temp = true;
    }
    fs::create_directories(p.out);
    const auto [model, data] = build_world(p, p.out + "/world");
    const std::string cfg = p.out + "/load.yaml";

    // Calibration: the learner's steps per second with every actor pushing.
    rlvr::core::write_file_atomic(cfg, config_yaml(p, model, data, p.out, 1000000));
    const int64_t calib_steps = 12;
    RunResult c = run_once(p, cfg, p.out, calib_steps, /*probe=*/false, p.calibrate_seconds + 120);
    RLVR_CHECK(c.metrics.size() >= 4, "calibration: only {} learner steps; see {}/learner.log",
               c.metrics.size(), p.out);
    const double steps_per_s =
        static_cast<double>(c.metrics.size() - 2) /
        std::max(1e-9, num(c.metrics.back(), "time") - num(c.metrics[1], "time"));
    const int64_t steps =
        std::max<int64_t>(5, static_cast<int64_t>(std::llround(steps_per_s * p.seconds)));
    std::printf("calibration: %.2f learner steps/s with %lld actors -> %lld steps for %.0f s\n",
                steps_per_s, static_cast<long long>(p.actors), static_cast<long long>(steps),
                p.seconds);
    std::fflush(stdout);

    // The measured run.
    rlvr::core::write_file_atomic(cfg, config_yaml(p, model, data, p.out, steps));
    RunResult r = run_once(p, cfg, p.out, 0, /*probe=*/true, 3 * p.seconds + 300);
    RLVR_CHECK(r.learner_status == 0 && !r.summary.is_null(),
               "the learner exited with status {}; see {}/learner.log", r.learner_status, p.out);
    const json& a = r.summary.at("accounting");
    const double t_first = num(r.metrics.front(), "time"), t_last = num(r.metrics.back(), "time");
    // Rollouts received from the first step to the last (the start-up before step 1 left out).
    const double window_s = std::max(1e-9, t_last - t_first);
    double groups = 0;
    for (size_t i = 1; i < r.metrics.size(); ++i) {
      groups += num(r.metrics[i], "rollouts/groups_per_s") *
                (num(r.metrics[i], "time") - num(r.metrics[i - 1], "time"));
    }
    const double groups_per_s = groups / window_s;
    // The credit window's use after each step (units in flight + buffered).
    int64_t max_in_flight = 0;
    for (const auto& row : r.metrics) {
      max_in_flight = std::max(max_in_flight, static_cast<int64_t>(num(row, "units/in_flight") +
                                                                   num(row, "units/buffered")));
    }
    const int64_t window = (p.max_staleness + 1) * p.prompts_per_step;
    // No prompt trained twice (one prompt epoch): rollouts.jsonl holds every trained sample.
    std::map<int64_t, std::set<int64_t>> steps_of;
    int64_t samples = 0;
    for (const auto& row : read_jsonl(p.out + "/run/rollouts.jsonl")) {
      steps_of[row.at("prompt_index").get<int64_t>()].insert(row.at("step").get<int64_t>());
      ++samples;
    }
    int64_t twice = 0;
    for (const auto& [prompt, s] : steps_of) twice += s.size() > 1 ? 1 : 0;
    const bool balanced = a.at("balanced").get<bool>();
    const bool exact = balanced && twice == 0 && samples == a.at("trained").get<int64_t>() * p.n;

    std::printf(
        "cores: %u; %lld actor processes (1 thread each) + learner (1 thread); %lld prompts x %lld "
        "samples per "
        "step, <= %lld new tokens; max_staleness %lld (credit window %lld units)\n",
        std::thread::hardware_concurrency(), static_cast<long long>(p.actors),
        static_cast<long long>(p.prompts_per_step), static_cast<long long>(p.n),
        static_cast<long long>(p.max_new_tokens), static_cast<long long>(p.max_staleness),
        static_cast<long long>(window));
    std::printf(
        "| steps | s (step 1 -> last) | rollouts/s (groups) | samples/s | learner RSS after step 1 "
        "| learner peak "
        "RSS (VmHWM) | actor peak RSS (max) | most units in flight + buffered | probe RTT p50 / "
        "p99 / max | accounting |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n");
    std::printf(
        "| %lld | %.1f | %.2f | %.1f | %.1f MB | %.1f MB | %.1f MB | %lld of %lld | %.2f / %.2f / "
        "%.2f ms (%zu "
        "probes, %lld unanswered) | %s: %lld granted, %lld trained, %lld lost, %lld dropped; %lld "
        "prompts "
        "trained twice |\n",
        static_cast<long long>(r.summary.at("steps").get<int64_t>()), window_s, groups_per_s,
        groups_per_s * static_cast<double>(p.n), r.learner_rss_first_step_kb / 1024.0,
        r.learner_hwm_kb / 1024.0, r.actor_hwm_max_kb / 1024.0,
        static_cast<long long>(max_in_flight), static_cast<long long>(window),
        percentile(r.rtt_ms, 0.5), percentile(r.rtt_ms, 0.99), percentile(r.rtt_ms, 1.0),
        r.rtt_ms.size(), static_cast<long long>(r.unanswered),
        balanced ? "balanced" : "NOT balanced",
        static_cast<long long>(a.at("granted").get<int64_t>()),
        static_cast<long long>(a.at("trained").get<int64_t>()),
        static_cast<long long>(a.at("lost").get<int64_t>()),
        static_cast<long long>(a.at("dropped_stale").get<int64_t>() +
                               a.at("dropped_invalid").get<int64_t>()),
        static_cast<long long>(twice));
    std::printf("learner VmRSS, largest in each quarter of the run after step 1:");
    for (int64_t kb : r.rss_quarters_kb) std::printf(" %.1f MB", kb / 1024.0);
    std::printf("\n");
    if (!p.json_out.empty()) {
      json j = {{"actors", p.actors},
                {"steps", r.summary.at("steps")},
                {"seconds", window_s},
                {"groups_per_s", groups_per_s},
                {"samples_per_s", groups_per_s * static_cast<double>(p.n)},
                {"learner_rss_first_step_kb", r.learner_rss_first_step_kb},
                {"learner_vmhwm_kb", r.learner_hwm_kb},
                {"actor_vmhwm_max_kb", r.actor_hwm_max_kb},
                {"max_units_in_flight_and_buffered", max_in_flight},
                {"learner_rss_kb_by_quarter", r.rss_quarters_kb},
                {"credit_window", window},
                {"rtt_ms_p50", percentile(r.rtt_ms, 0.5)},
                {"rtt_ms_p99", percentile(r.rtt_ms, 0.99)},
                {"rtt_ms_max", percentile(r.rtt_ms, 1.0)},
                {"probes", r.rtt_ms.size()},
                {"unanswered", r.unanswered},
                {"accounting", a},
                {"prompts_trained_twice", twice}};
      rlvr::core::write_file_atomic(p.json_out, j.dump(2) + "\n");
    }
    if (temp && !p.keep) {
      std::error_code ec;
      fs::remove_all(p.out, ec);
    } else {
      std::printf("runs kept in %s\n", p.out.c_str());
    }
    return exact ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_load: %s\n", e.what());
    return 1;
  }
}
