// bench_model: training and generation throughput of the LibTorch model, beside an equivalent
// Python PyTorch eager loop (tools/bench_model_ref.py) run in the same invocation.
//
//   training:   forward + backward + AdamW step, batch 4 x 128 random tokens
//   generation: batch 4, 32 random prompt tokens, 64 new tokens, greedy, prefill included
//
//   build-model/bench_model [--config FILE ...] [--no-python] [--python /usr/bin/python3]
// Default configs: configs/bench/{tiny,small,qwen2-tiny}.json of this clone (the shared benchmark models).
#include <sys/wait.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/error.h"
#include "core/model/model_config.h"
#include "core/model/ops.h"
#include "core/model/transformer.h"
#include "tools/thread_env.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace core = rlvr::core;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double process_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Process CPU seconds per call of the last timed() (all threads together).
double g_last_cpu_seconds = 0;

// Mean wall seconds per call after one warm-up call, over `min_runs` calls.
template <class Fn>
double timed(Fn&& fn, int min_runs) {
  fn();
  auto start = Clock::now();
  double cpu = process_cpu_seconds();
  for (int i = 0; i < min_runs; ++i) fn();
  g_last_cpu_seconds = (process_cpu_seconds() - cpu) / min_runs;
  return seconds_since(start) / min_runs;
}

struct Result {
  double train = 0, generate = 0;
  double train_cpu = 0, generate_cpu = 0;  // tokens per process-CPU-second
};

Result bench_rlvr(const core::TransformerConfig& config, int train_steps, int generate_runs) {
  Result r;
  torch::manual_seed(0);
  core::CausalLM model(config);
  model->init_weights(0);
  const int64_t V = config.vocab_size;
  at::Tensor tokens = torch::randint(V, {4, 128}, torch::kLong);
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(1e-4));
  model->train();
  r.train = 4 * 128 / timed(
                          [&] {
                            at::Tensor logits = model->forward(tokens);
                            at::Tensor loss = torch::cross_entropy_loss(
                                logits.narrow(1, 0, 127).reshape({-1, V}), tokens.narrow(1, 1, 127).reshape({-1}));
                            opt.zero_grad();
                            loss.backward();
                            opt.step();
                          },
                          train_steps);
  r.train_cpu = 4 * 128 / g_last_cpu_seconds;
  model->eval();
  at::Tensor prompt = torch::randint(V, {4, 32}, torch::kLong);
  core::KVCache cache = model->make_cache(4, 96);
  r.generate = 4 * 64 / timed(
                             [&] {
                               torch::NoGradGuard no_grad;
                               cache.reset();
                               at::Tensor next = model->forward_cached(prompt, cache).argmax(-1);
                               for (int step = 0; step < 63; ++step) next = model->decode_step(next, cache).argmax(-1);
                             },
                             generate_runs);
  r.generate_cpu = 4 * 64 / g_last_cpu_seconds;
  return r;
}

Result bench_python(const std::string& python, const std::string& script, const std::string& config,
                    int train_steps, int generate_runs) {
  std::string cmd = fmt::format("{} {} --config {} --threads {} --train-steps {} --generate-runs {}", python, script,
                                config, at::get_num_threads(), train_steps, generate_runs);
  FILE* pipe = ::popen(cmd.c_str(), "r");
  RLVR_CHECK(pipe, "cannot run {}", cmd);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  int status = ::pclose(pipe);
  RLVR_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "{} failed: {}", cmd, out);
  auto j = nlohmann::json::parse(out);
  return {j["train_tokens_per_s"].get<double>(), j["generate_tokens_per_s"].get<double>()};
}

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v ? v : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  rlvr::tools::ensure_thread_env(argv);
  CLI::App app("Model throughput: rlvr (LibTorch) vs Python PyTorch eager");
  std::vector<std::string> configs;
  std::string python = "/usr/bin/python3";
  std::string script = std::string(RLVR_SOURCE_DIR) + "/tools/bench_model_ref.py";
  bool no_python = false, no_streaming = false, cpu_time = false;
  int threads = 0;
  int train_steps = 3, generate_runs = 3;
  app.add_option("--config", configs, "Model config.json files (default: configs/bench/{tiny,small,qwen2-tiny}.json)");
  app.add_option("--python", python, "Python interpreter with torch")->capture_default_str();
  app.add_option("--script", script, "The Python reference script")->capture_default_str();
  app.add_flag("--no-python", no_python, "Skip the Python reference");
  app.add_flag("--no-streaming", no_streaming, "Use BLAS for small-batch linears too (for comparison)");
  app.add_option("--threads", threads, "LibTorch intra-op threads (Python gets the same); 0: one per CPU core")
      ->capture_default_str();
  app.add_flag("--cpu-time", cpu_time, "Also print tokens per process-CPU-second (useful on a loaded machine)");
  app.add_option("--train-steps", train_steps, "Timed training steps per model")->capture_default_str();
  app.add_option("--generate-runs", generate_runs, "Timed generations per model")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (configs.empty()) {
    for (const char* name : {"tiny", "small", "qwen2-tiny"}) {
      configs.push_back(fmt::format("{}/configs/bench/{}.json", RLVR_SOURCE_DIR, name));
    }
  }
  if (no_streaming) core::detail::set_streaming_linear_enabled(false);
  at::set_num_threads(threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  try {
    std::string load;
    std::ifstream("/proc/loadavg") >> load;
    std::printf("threads: torch intra-op %d, OMP_WAIT_POLICY=%s, OPENBLAS_NUM_THREADS=%s; load average %s\n",
                at::get_num_threads(), env_or("OMP_WAIT_POLICY", "(unset)").c_str(),
                env_or("OPENBLAS_NUM_THREADS", "(unset)").c_str(), load.c_str());
    std::printf("%-12s %10s %14s %16s %14s %16s %8s %8s\n", "model", "params", "rlvr train", "rlvr generate",
                "py train", "py generate", "train x", "gen x");
    for (const auto& path : configs) {
      core::TransformerConfig config = core::load_transformer_config(path);
      Result ours = bench_rlvr(config, train_steps, generate_runs);
      Result ref;
      if (!no_python) ref = bench_python(python, script, path, train_steps, generate_runs);
      std::string name = std::filesystem::path(path).stem().string();
      std::printf("%-12s %9.1fM %10.0f t/s %12.0f t/s %10.0f t/s %12.0f t/s %7.2fx %7.2fx\n", name.c_str(),
                  config.num_parameters() / 1e6, ours.train, ours.generate, ref.train, ref.generate,
                  no_python ? 0.0 : ours.train / ref.train, no_python ? 0.0 : ours.generate / ref.generate);
      if (cpu_time) {
        std::printf("%-12s %10s %10.0f t/cpu-s %8.0f t/cpu-s\n", "", "", ours.train_cpu, ours.generate_cpu);
      }
      std::fflush(stdout);
    }
  } catch (const rlvr::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what_without_backtrace());
    return 1;
  }
  return 0;
}
