// bench_async: the live actor-learner system (`rlvr launch`) in synchronous and asynchronous
// modes, same task and same wall time per configuration, in one run.
//
// It builds a world from the synthetic task generator (tools/data/synth.h): prompts, a BPE
// tokenizer trained on their corpus (which stops at about 400 tokens), and a freshly initialized
// model from `--model` (a config.json; its vocab_size is cut to the tokenizer's, bos/eos set to
// <|endoftext|>). The reward is IFEval's keywords:letter_frequency ("at least K letters 'e'", K
// chosen so that at most 20% of the untrained model's samples meet it): a task a random model
// learns within minutes, so the
// reward reached after a fixed wall time shows what staleness costs or buys. `--world DIR` uses a
// checkpoint and RLVR data instead (DIR/model, DIR/rlvr.jsonl; e.g. tools/tiny's SFT model).
//
// For each configuration (max_staleness x update_mode) it runs
//   rlvr launch --config <generated> (learner + `actors.count` actors, ipc endpoint)
// for `--seconds`, then stops it (SIGTERM) and reads metrics.jsonl up to that time:
//   steps/s          learner steps per second of learner time
//   rollouts/s       prompt groups received per second (time-weighted rollouts/groups_per_s)
//   gen tok/s        generated tokens per second, all actors (rollouts/generated_tokens_per_s)
//   learner busy     learner/busy_fraction (training vs waiting for rollouts)
//   actors gen       actors/generating_fraction (generating vs waiting for work or weights)
//   stale mean       staleness/mean over the run's trained samples
//   reward           reward/mean of the first 3 and the last 3 steps (verification_reward 10 = all
//                    samples meet the constraint)
//   s to reward 8    learner seconds (since it started) until a step's mean reward first reached 8
// The ceilings beside them: `rlvr generate` alone on the same prompts with all the cores
// (generated tokens/s), and a memcpy of the weights' bytes beside the measured weights fetch.
//
//   build/bench_async [--model configs/bench/tiny.json] [--seconds 30] [--actors 2]
//                     [--configs 0:b,1:b,2:b,4:b,1:f,2:f,4:f] [--out DIR] [--keep]
//                     [--n 4 --prompts-per-step 8 --max-new-tokens 32 --lr 0.001]
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/model/checkpoint.h"
#include "core/model/model_config.h"
#include "core/model/transformer.h"
#include "core/tokenizer/bpe_trainer.h"
#include "tools/data/synth.h"
#include "tools/thread_env.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

double secs(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

struct Params {
  std::string model = std::string(RLVR_SOURCE_DIR) + "/configs/bench/tiny.json";
  std::string world;  // a prepared world instead of building one
  std::string out;
  std::string rlvr;
  std::string configs = "0:b,1:b,2:b,4:b,1:f,2:f,4:f";
  double seconds = 30;
  int64_t actors = 2, n = 4, prompts_per_step = 8, max_new_tokens = 32, seed = 1;
  double lr = 1e-3;
  bool keep = false;
};

struct RunConfig {
  int64_t staleness = 0;
  std::string mode;  // between_samples | in_flight
  std::string label() const { return fmt::format("s{}-{}", staleness, mode == "in_flight" ? "inflight" : "between"); }
};

std::vector<RunConfig> parse_configs(const std::string& text) {
  std::vector<RunConfig> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    const auto colon = item.find(':');
    RLVR_CHECK(colon != std::string::npos, "--configs: '{}' is not STALENESS:MODE (b or f)", item);
    RunConfig c;
    c.staleness = std::stoll(item.substr(0, colon));
    const std::string m = item.substr(colon + 1);
    RLVR_CHECK(m == "b" || m == "f", "--configs: mode '{}' in '{}': expected b (between_samples) or f (in_flight)", m,
               item);
    c.mode = m == "b" ? "between_samples" : "in_flight";
    out.push_back(c);
  }
  RLVR_CHECK(!out.empty(), "--configs: empty");
  return out;
}

// The synthetic world with the letter-frequency task; returns {model dir, rlvr data file}.
std::pair<std::string, std::string> build_world(const Params& p, const std::string& dir) {
  rlvr::tools::SynthOptions synth;
  synth.seed = static_cast<uint64_t>(p.seed);
  synth.train_rows = 512;
  synth.eval_rows = 8;
  rlvr::tools::synthesize_task_world(dir + "/data", synth);
  rlvr::core::BpeTrainerOptions bpe;
  bpe.vocab_size = 512;
  bpe.special_tokens = {"<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>"};
  const std::string tok = rlvr::core::train_bpe_files({dir + "/data/corpus.txt"}, bpe);
  rlvr::core::write_file_atomic(dir + "/model/tokenizer.json", tok);
  const json tj = json::parse(tok);
  const int64_t vocab = static_cast<int64_t>(tj.at("model").at("vocab").size());
  rlvr::core::TransformerConfig cfg = rlvr::core::load_transformer_config(p.model);
  cfg.vocab_size = vocab;
  cfg.bos_token_id = {0};
  cfg.eos_token_id = {0};
  rlvr::core::CausalLM model(cfg);
  model->init_weights(static_cast<uint64_t>(p.seed));
  rlvr::core::save_checkpoint(*model, cfg, dir + "/model");
  // The model config as the user would name it: relative to the source tree when it is inside.
  const std::string source = std::string(RLVR_SOURCE_DIR) + "/";
  const std::string shown = p.model.rfind(source, 0) == 0 ? p.model.substr(source.size()) : p.model;
  std::printf("world: %s, %lld parameters (vocab %lld)\n", shown.c_str(),
              static_cast<long long>(cfg.num_parameters()), static_cast<long long>(vocab));
  return {dir + "/model", dir + "/data/rlvr.jsonl"};
}

// Rewrites the prompts of `data` with the letter-frequency ground truth into `out`. The threshold
// is the smallest count of 'e' that at most 20% of the untrained model's samples (`samples`, the
// ceiling run's output) reach, so every configuration starts from the same low reward.
int64_t write_letter_task(const std::string& data, const std::string& samples, const std::string& out) {
  std::vector<int64_t> counts;
  {
    std::ifstream in(samples);
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      const std::string text = json::parse(line).value("response", "");
      counts.push_back(static_cast<int64_t>(std::count(text.begin(), text.end(), 'e')));
    }
  }
  RLVR_CHECK(!counts.empty(), "{}: no samples", samples);
  int64_t k = 1;
  for (;; ++k) {
    const auto reach = std::count_if(counts.begin(), counts.end(), [&](int64_t c) { return c >= k; });
    if (static_cast<double>(reach) <= 0.2 * static_cast<double>(counts.size()) || k >= 64) break;
  }
  const std::string gt = fmt::format(
      R"({{"instruction_id":["keywords:letter_frequency"],"kwargs":[{{"letter":"e","let_frequency":{},"let_relation":"at least"}}]}})",
      k);
  std::ifstream in(data);
  std::string rows;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    json row = json::parse(line);
    row["dataset"] = "ifeval";
    row["ground_truth"] = gt;
    rows += row.dump() + "\n";
  }
  rlvr::core::write_file_atomic(out, rows);
  return k;
}

// Runs `command` (through sh, its own process group), output to `log`; after `seconds` sends
// SIGTERM to the group and waits for it (SIGKILL after 30 s more). Returns the exit status.
int run_for(const std::string& command, const std::string& log, double seconds) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    ::execl("/bin/sh", "sh", "-c", ("exec " + command + " >" + log + " 2>&1").c_str(), nullptr);
    ::_exit(127);
  }
  RLVR_CHECK(pid > 0, "fork failed: {}", std::strerror(errno));
  ::setpgid(pid, pid);
  const auto start = Clock::now();
  bool termed = false;
  for (;;) {
    int st = 0;
    if (::waitpid(pid, &st, WNOHANG) == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    const double t = secs(start, Clock::now());
    if (!termed && t >= seconds) {
      ::kill(-pid, SIGTERM);
      termed = true;
    }
    if (t >= seconds + 30) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &st, 0);
      return 137;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::vector<json> read_jsonl(const std::string& path) {
  std::vector<json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(json::parse(line));
  }
  return out;
}

double num(const json& row, const char* key, double fallback = 0) {
  auto it = row.find(key);
  return it != row.end() && it->is_number() ? it->get<double>() : fallback;
}

struct Result {
  RunConfig config;
  int64_t steps = 0;
  double learner_s = 0, steps_per_s = 0, groups_per_s = 0, gen_tok_s = 0, busy = 0, actors_gen = 0, stale_mean = 0,
         reward_first = 0, reward_last = 0, publish_s = 0, fetch_s = 0, bytes = 0;
  double time_to_8 = -1;  // learner seconds until a step's mean reward first reached 8 (-1: never)
  bool fetch_seen = false;
};

Result summarize(const RunConfig& c, const std::vector<json>& rows) {
  Result r;
  r.config = c;
  if (rows.empty()) return r;
  r.steps = static_cast<int64_t>(rows.size());
  double prev_t = 0, weighted_groups = 0, weighted_tokens = 0, dt_sum = 0, stale_sum = 0, samples = 0;
  double fetch_sum = 0;
  int64_t fetch_n = 0;
  for (const auto& row : rows) {
    const double t = num(row, "time");
    // The first window starts when the learner starts (loading, actors joining): skip it.
    if (prev_t > 0) {
      const double dt = t - prev_t;
      weighted_groups += num(row, "rollouts/groups_per_s") * dt;
      weighted_tokens += num(row, "rollouts/generated_tokens_per_s") * dt;
      dt_sum += dt;
    }
    prev_t = t;
    if (r.time_to_8 < 0 && num(row, "reward/mean") >= 8) r.time_to_8 = t;
    stale_sum += num(row, "staleness/mean") * num(row, "samples");
    samples += num(row, "samples");
    r.publish_s += num(row, "weights/publish_s");
    if (row.contains("weights/fetch_s_max")) {
      fetch_sum += num(row, "weights/fetch_s_max");
      ++fetch_n;
    }
  }
  const double t0 = num(rows.front(), "time"), t1 = num(rows.back(), "time");
  r.learner_s = t1;
  r.steps_per_s = rows.size() > 1 ? static_cast<double>(rows.size() - 1) / std::max(1e-9, t1 - t0) : 0;
  r.groups_per_s = dt_sum > 0 ? weighted_groups / dt_sum : 0;
  r.gen_tok_s = dt_sum > 0 ? weighted_tokens / dt_sum : 0;
  r.busy = num(rows.back(), "learner/busy_fraction");
  r.actors_gen = num(rows.back(), "actors/generating_fraction");
  r.stale_mean = samples > 0 ? stale_sum / samples : 0;
  const size_t k = std::min<size_t>(3, rows.size());
  for (size_t i = 0; i < k; ++i) {
    r.reward_first += num(rows[i], "reward/mean") / static_cast<double>(k);
    r.reward_last += num(rows[rows.size() - 1 - i], "reward/mean") / static_cast<double>(k);
  }
  r.publish_s /= static_cast<double>(rows.size());
  r.bytes = num(rows.back(), "weights/bytes");
  if (fetch_n > 0) {
    r.fetch_s = fetch_sum / static_cast<double>(fetch_n);
    r.fetch_seen = true;
  }
  return r;
}

// Best-of-5 seconds to memcpy `bytes`.
double memcpy_seconds(size_t bytes) {
  std::vector<char> a(bytes, 1), b(bytes, 0);
  double best = 1e9;
  for (int i = 0; i < 5; ++i) {
    const auto t0 = Clock::now();
    std::memcpy(b.data(), a.data(), bytes);
    best = std::min(best, secs(t0, Clock::now()));
  }
  if (b[bytes / 2] != 1) std::printf("memcpy check failed\n");
  return best;
}

std::string config_yaml(const Params& p, const RunConfig& c, const std::string& model, const std::string& data,
                        const std::string& dir) {
  return fmt::format(
      "run:\n  output_dir: {dir}/{label}\n  name: bench-{label}\n  seed: {seed}\n"
      "model:\n  path: {model}\n"
      "generation:\n  temperature: 1.0\n  max_new_tokens: {mnt}\n  num_samples_per_prompt: {n}\n"
      "  batch_size: {batch}\n"
      "rl:\n  train_file: {data}\n  rollout_batch_size: {rbs}\n  total_steps: 1000000\n  prompt_epochs: 0\n"
      "  max_staleness: {stale}\n  update_mode: {mode}\n  checkpoint_every: 0\n  rollouts_log: off\n"
      "optim:\n  learning_rate: {lr}\n  warmup_ratio: 0\n  lr_scheduler: constant\n"
      "learner:\n  endpoint: ipc://{dir}/{label}.sock\n  heartbeat_ms: 200\n"
      "actors:\n  count: {actors}\n",
      fmt::arg("dir", dir), fmt::arg("label", c.label()), fmt::arg("seed", p.seed), fmt::arg("model", model),
      fmt::arg("mnt", p.max_new_tokens), fmt::arg("n", p.n), fmt::arg("batch", p.n * p.prompts_per_step),
      fmt::arg("data", data), fmt::arg("rbs", p.n * p.prompts_per_step), fmt::arg("stale", c.staleness),
      fmt::arg("mode", c.mode), fmt::arg("lr", p.lr), fmt::arg("actors", p.actors));
}

// `rlvr generate` alone with every core on the first prompts: generated tokens per second.
double generate_ceiling(const Params& p, const std::string& model, const std::string& data, const std::string& dir) {
  std::ifstream in(data);
  std::string rows, line;
  for (int i = 0; i < 4 * p.prompts_per_step && std::getline(in, line); ++i) rows += line + "\n";
  rlvr::core::write_file_atomic(dir + "/ceiling_prompts.jsonl", rows);
  const std::string cmd = fmt::format(
      "{} generate --model {} --prompts {}/ceiling_prompts.jsonl --out {}/ceiling.jsonl --n {} --max-new-tokens {} "
      "--batch-size {} --seed {}",
      p.rlvr, model, dir, dir, p.n, p.max_new_tokens, p.n * p.prompts_per_step, p.seed);
  const int rc = run_for(cmd, dir + "/ceiling.log", 600);
  RLVR_CHECK(rc == 0, "rlvr generate failed ({}); see {}/ceiling.log", rc, dir);
  std::ifstream log(dir + "/ceiling.log");
  std::stringstream ss;
  ss << log.rdbuf();
  const std::string text = ss.str();
  const auto at = text.find(" tokens in ");
  RLVR_CHECK(at != std::string::npos, "no throughput line in {}/ceiling.log", dir);
  const auto open = text.find('(', at);
  return std::stod(text.substr(open + 1));
}

}  // namespace

int main(int argc, char** argv) {
  rlvr::tools::ensure_thread_env(argv);
  Params p;
  p.rlvr = (fs::path(argv[0]).parent_path() / "rlvr").string();
  CLI::App app("rlvr launch in sync and async modes: rollouts/s, learner steps/s, idle fractions, reward after a "
               "fixed wall time, weights fetch vs memcpy");
  app.add_option("--model", p.model, "config.json of the model to initialize");
  app.add_option("--world", p.world, "Use DIR/model and DIR/rlvr.jsonl instead of building the letter task");
  app.add_option("--out", p.out, "Working directory (default: a fresh temp dir, removed unless --keep)");
  app.add_option("--rlvr", p.rlvr, "The rlvr binary");
  app.add_option("--configs", p.configs, "STALENESS:MODE list; MODE b = between_samples, f = in_flight");
  app.add_option("--seconds", p.seconds, "Wall time per configuration")->check(CLI::Range(5.0, 3600.0));
  app.add_option("--actors", p.actors, "Actor processes")->check(CLI::Range(1, 64));
  app.add_option("--n", p.n, "Samples per prompt")->check(CLI::Range(2, 64));
  app.add_option("--prompts-per-step", p.prompts_per_step, "Prompt groups per learner step")->check(CLI::Range(1, 1024));
  app.add_option("--max-new-tokens", p.max_new_tokens, "Most tokens per completion")->check(CLI::Range(1, 4096));
  app.add_option("--lr", p.lr, "Learning rate")->check(CLI::Range(0.0, 1.0));
  app.add_option("--seed", p.seed, "Seed of the world and the runs");
  app.add_flag("--keep", p.keep, "Keep the working directory");
  CLI11_PARSE(app, argc, argv);
  try {
    rlvr::core::init_logging("warn");
    const auto configs = parse_configs(p.configs);
    bool temp = false;
    if (p.out.empty()) {
      std::string tmpl = (fs::temp_directory_path() / "rlvr-bench-async-XXXXXX").string();
      RLVR_CHECK(::mkdtemp(tmpl.data()) != nullptr, "mkdtemp failed");
      p.out = tmpl;
      temp = true;
    }
    fs::create_directories(p.out);
    std::string model, data;
    if (p.world.empty()) {
      std::tie(model, data) = build_world(p, p.out + "/world");
    } else {
      model = p.world + "/model";
      data = p.world + "/rlvr.jsonl";
      std::printf("world: %s, %s\n", model.c_str(), data.c_str());
    }
    const double ceiling = generate_ceiling(p, model, data, p.out);
    if (p.world.empty()) {
      const int64_t k = write_letter_task(data, p.out + "/ceiling.jsonl", p.out + "/world/letters.jsonl");
      data = p.out + "/world/letters.jsonl";
      std::printf("task: IFEval keywords:letter_frequency, at least %lld letters 'e'\n", static_cast<long long>(k));
    }
    std::printf("cores: %u; %lld actors; %lld prompts x %lld samples per step, <= %lld new tokens; lr %g; %.0f s "
                "per configuration\n",
                std::thread::hardware_concurrency(), static_cast<long long>(p.actors),
                static_cast<long long>(p.prompts_per_step), static_cast<long long>(p.n),
                static_cast<long long>(p.max_new_tokens), p.lr, p.seconds);
    std::printf("ceiling: rlvr generate alone (all cores, batch %lld): %.0f generated tok/s\n\n",
                static_cast<long long>(p.n * p.prompts_per_step), ceiling);
    std::printf("| max_staleness | update_mode | steps | steps/s | rollouts/s | gen tok/s | of ceiling | learner busy "
                "| actors generating | staleness mean | reward first 3 -> last 3 | s to reward 8 |\n"
                "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    std::vector<Result> results;
    for (const auto& c : configs) {
      const std::string cfg = p.out + "/" + c.label() + ".yaml";
      rlvr::core::write_file_atomic(cfg, config_yaml(p, c, model, data, p.out));
      run_for(p.rlvr + " launch --config " + cfg, p.out + "/" + c.label() + ".log", p.seconds);
      Result r = summarize(c, read_jsonl(p.out + "/" + c.label() + "/metrics.jsonl"));
      const std::string t8 = r.time_to_8 < 0 ? std::string("not reached") : fmt::format("{:.1f}", r.time_to_8);
      std::printf("| %lld | %s | %lld | %.2f | %.2f | %.0f | %.0f%% | %.0f%% | %.0f%% | %.2f | %.2f -> %.2f | %s |\n",
                  static_cast<long long>(c.staleness), c.mode.c_str(), static_cast<long long>(r.steps),
                  r.steps_per_s, r.groups_per_s, r.gen_tok_s, 100 * r.gen_tok_s / ceiling, 100 * r.busy,
                  100 * r.actors_gen, r.stale_mean, r.reward_first, r.reward_last, t8.c_str());
      std::fflush(stdout);
      results.push_back(r);
    }
    // Weights: snapshot (serialize + hash) and the actors' fetch, beside memcpy of the bytes.
    double bytes = 0, publish = 0, fetch = 0;
    int64_t fetch_n = 0;
    for (const auto& r : results) {
      bytes = std::max(bytes, r.bytes);
      publish += r.publish_s / static_cast<double>(results.size());
      if (r.fetch_seen) {
        fetch += r.fetch_s;
        ++fetch_n;
      }
    }
    if (bytes > 0) {
      const double mc = memcpy_seconds(static_cast<size_t>(bytes));
      std::printf("\nweights: %.2f MB per version; snapshot (serialize + hash) %.1f ms; ", bytes / 1e6, 1e3 * publish);
      if (fetch_n > 0) {
        fetch /= static_cast<double>(fetch_n);
        std::printf("fetch by each of %lld actors (announce -> verified) %.1f ms = %.0f MB/s per actor, %.0f MB/s "
                    "served; memcpy of the same bytes %.2f ms = %.0f MB/s (fetch is %.0fx memcpy)\n",
                    static_cast<long long>(p.actors), 1e3 * fetch, bytes / fetch / 1e6,
                    bytes * static_cast<double>(p.actors) / fetch / 1e6, 1e3 * mc, bytes / mc / 1e6, fetch / mc);
      } else {
        std::printf("no actor reported a fetch time\n");
      }
    }
    if (temp && !p.keep) {
      std::error_code ec;
      fs::remove_all(p.out, ec);
    } else {
      std::printf("runs kept in %s\n", p.out.c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_async: %s\n", e.what());
    return 1;
  }
  return 0;
}
