// bench_sft: SFT training throughput (tokens/s) of rlvr's training step beside the same step in
// PyTorch eager (tools/bench_sft.py), in the same run, for each model config given.
//
// A step is what `rlvr train` does per optimizer step: collate, forward, masked cross-entropy
// (sum / targets), backward, global-norm clipping and AdamW. Tokens are random ids; every
// position but the last is a target.
//
//   build/bench_sft --models configs/bench/tiny.json,configs/bench/small.json  (the default)
//                   --batch 4 --seq 256 --steps 5 --warmup 2 --threads 2   (one line)
#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/error.h"
#include "core/model/model_config.h"
#include "core/model/transformer.h"
#include "learner/optimizer.h"
#include "sft_dpo/losses.h"
#include "tools/thread_env.h"

namespace {

struct Params {
  std::string models = std::string(RLVR_SOURCE_DIR) + "/configs/bench/tiny.json," + RLVR_SOURCE_DIR + "/configs/bench/small.json";
  int64_t batch = 4, seq = 256, steps = 5, warmup = 2, threads = 2;
  std::string python = "/usr/bin/python3";
  std::string script = "tools/bench_sft.py";
  bool phases = false;
};

double rlvr_tokens_per_second(const std::string& path, const Params& p) {
  rlvr::core::TransformerConfig cfg = rlvr::core::load_transformer_config(path);
  rlvr::core::CausalLM model(cfg);
  model->init_weights(0);
  model->train();
  std::vector<std::pair<std::string, at::Tensor>> named;
  for (const auto& item : model->named_parameters()) named.emplace_back(item.key(), item.value());
  rlvr::core::OptimConfig oc;
  oc.learning_rate = 1e-4;
  oc.warmup_ratio = 0;
  oc.lr_scheduler = "constant";
  rlvr::learner::Optimizer opt(named, oc, p.steps + p.warmup);
  torch::manual_seed(0);
  std::vector<rlvr::sft_dpo::TrainRow> rows(static_cast<size_t>(p.batch));
  at::Tensor ids = torch::randint(cfg.vocab_size, {p.batch, p.seq}, torch::kInt32).contiguous();
  for (int64_t b = 0; b < p.batch; ++b) {
    auto& r = rows[static_cast<size_t>(b)];
    r.ids.assign(ids[b].data_ptr<int32_t>(), ids[b].data_ptr<int32_t>() + p.seq);
    r.loss_mask.assign(static_cast<size_t>(p.seq), 1);
    r.loss_mask[0] = 0;
    r.num_targets = p.seq - 1;
  }
  std::vector<const rlvr::sft_dpo::TrainRow*> ptrs;
  for (const auto& r : rows) ptrs.push_back(&r);
  using Clock = std::chrono::steady_clock;
  auto secs = [](Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); };
  double t_fwd = 0, t_bwd = 0, t_opt = 0;
  auto step = [&] {
    auto a = Clock::now();
    rlvr::sft_dpo::Batch batch = rlvr::sft_dpo::collate_rows(ptrs, torch::kCPU);
    at::Tensor loss = rlvr::sft_dpo::sft_loss_sum(*model, batch) / static_cast<double>(batch.num_targets);
    auto b = Clock::now();
    loss.backward();
    auto c = Clock::now();
    opt.step();
    auto d = Clock::now();
    t_fwd += secs(a, b), t_bwd += secs(b, c), t_opt += secs(c, d);
    return loss.item<double>();
  };
  for (int64_t i = 0; i < p.warmup; ++i) step();
  t_fwd = t_bwd = t_opt = 0;
  auto t0 = Clock::now();
  for (int64_t i = 0; i < p.steps; ++i) step();
  double dt = secs(t0, Clock::now()) / static_cast<double>(p.steps);
  if (p.phases) {
    auto n = static_cast<double>(p.steps);
    std::fprintf(stderr, "%s: rlvr step %.3fs = forward+loss %.3fs + backward %.3fs + clip/AdamW %.3fs\n",
                 path.c_str(), dt, t_fwd / n, t_bwd / n, t_opt / n);
  }
  return static_cast<double>(p.batch * p.seq) / dt;
}

double python_tokens_per_second(const std::string& path, const Params& p) {
  std::string cmd = fmt::format("{} {} --config {} --batch {} --seq {} --steps {} --warmup {} --threads {}", p.python,
                                p.script, path, p.batch, p.seq, p.steps, p.warmup, p.threads);
  FILE* pipe = ::popen(cmd.c_str(), "r");
  RLVR_CHECK(pipe, "cannot run {}", cmd);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  int rc = ::pclose(pipe);
  RLVR_CHECK(rc == 0, "{} failed (status {}): {}", cmd, rc, out);
  auto j = nlohmann::json::parse(out.substr(out.rfind('{')), nullptr, false);
  RLVR_CHECK(j.is_object() && j.contains("tokens_per_second"), "{}: unexpected output: {}", cmd, out);
  if (p.phases) {
    std::fprintf(stderr, "%s: eager step %.3fs = forward+loss %.3fs + backward %.3fs + clip/AdamW %.3fs\n",
                 path.c_str(), j["step_seconds"].get<double>(), j["forward_seconds"].get<double>(),
                 j["backward_seconds"].get<double>(), j["optimizer_seconds"].get<double>());
  }
  return j["tokens_per_second"].get<double>();
}

}  // namespace

int main(int argc, char** argv) {
  rlvr::tools::ensure_thread_env(argv);  // OMP_WAIT_POLICY=PASSIVE etc.; inherited by the Python child
  Params p;
  CLI::App app("SFT training tokens/s: rlvr vs PyTorch eager");
  app.add_option("--models", p.models, "Comma-separated config.json files")->capture_default_str();
  app.add_option("--batch", p.batch, "Sequences per step")->capture_default_str();
  app.add_option("--seq", p.seq, "Tokens per sequence")->capture_default_str();
  app.add_option("--steps", p.steps, "Timed steps")->capture_default_str();
  app.add_option("--warmup", p.warmup, "Untimed steps first")->capture_default_str();
  app.add_option("--threads", p.threads, "Intra-op threads for both")->capture_default_str();
  app.add_option("--python", p.python, "Python with torch for the eager reference")->capture_default_str();
  app.add_option("--script", p.script, "The eager reference script")->capture_default_str();
  app.add_flag("--phases", p.phases, "Print rlvr's forward / backward / optimizer time per step to stderr");
  CLI11_PARSE(app, argc, argv);
  try {
    if (p.threads > 0) at::set_num_threads(static_cast<int>(p.threads));
    std::printf("| model | batch x seq | rlvr tok/s | PyTorch eager tok/s | ratio |\n|---|---|---|---|---|\n");
    std::stringstream ss(p.models);
    std::string path;
    while (std::getline(ss, path, ',')) {
      double ours = rlvr_tokens_per_second(path, p);
      double ref = python_tokens_per_second(path, p);
      std::printf("| %s | %lldx%lld | %.0f | %.0f | %.2f |\n", path.c_str(), static_cast<long long>(p.batch),
                  static_cast<long long>(p.seq), ours, ref, ours / ref);
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
