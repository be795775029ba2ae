// bench_rl: RL learner step throughput (learner/rl_learner.h) beside the SFT step of the same model
// in the same run, and the machine's fp32 matmul ceiling.
//
// A batch is `--prompts` groups x `--group` samples with `--prompt-len` random prompt tokens and
// `--completion-len` random completion tokens (behaviour log-probs -2, scores 0/1 alternating
// within a group so every group carries signal). Each configuration runs `--warmup` untimed and
// `--steps` timed learner steps (one PPO epoch, one minibatch, micro-batches of --micro):
//   grpo           proximal forward + policy forward/backward
//   grpo+kl        + the frozen reference's forward (rl.kl.coef 0.05)
//   ppo+critic     gae: + the critic's forward (old values) and forward/backward
//   sft            `rlvr train`'s step on the same sequences (prompt + completion, loss on all)
// Tokens/s counts completion tokens (what the learner trains on); the SFT row counts its loss
// tokens. FLOP/s uses 2 x params per token for a forward and 6 x params for forward + backward.
//
//   build/bench_rl [--model configs/bench/small.json] [--prompts 8 --group 8] [--prompt-len 32]
//                  [--completion-len 128] [--steps 3] [--warmup 1] [--micro 8] [--threads 2]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include "core/config/config.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/model/checkpoint.h"
#include "core/model/transformer.h"
#include "learner/optimizer.h"
#include "learner/rl_learner.h"
#include "sft_dpo/losses.h"
#include "tools/thread_env.h"

namespace {

using Clock = std::chrono::steady_clock;
double secs(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

struct Params {
  std::string model = std::string(RLVR_SOURCE_DIR) + "/configs/bench/small.json";
  int64_t prompts = 8, group = 8, prompt_len = 32, completion_len = 128, steps = 3, warmup = 1, micro = 8,
          threads = 2;
};

// fp32 GFLOP/s of a [M x K] x [K x N] matmul: the ceiling the learner's linears run against.
double matmul_gflops(int64_t m, int64_t k, int64_t n) {
  at::Tensor a = torch::randn({m, k}), b = torch::randn({k, n});
  for (int i = 0; i < 3; ++i) at::matmul(a, b);
  const int reps = 20;
  auto t0 = Clock::now();
  for (int i = 0; i < reps; ++i) at::matmul(a, b);
  return 2.0 * static_cast<double>(m * k * n) * reps / secs(t0, Clock::now()) / 1e9;
}

std::vector<rlvr::core::RolloutSample> make_batch(const Params& p, int64_t vocab) {
  torch::manual_seed(1);
  std::vector<rlvr::core::RolloutSample> out;
  for (int64_t g = 0; g < p.prompts; ++g) {
    at::Tensor prompt = torch::randint(3, vocab, {p.prompt_len}, torch::kInt32);
    for (int64_t s = 0; s < p.group; ++s) {
      rlvr::core::RolloutSample r;
      r.prompt_index = g;
      r.sample_index = s;
      r.dataset = "gsm8k";
      r.prompt_ids.assign(prompt.data_ptr<int32_t>(), prompt.data_ptr<int32_t>() + p.prompt_len);
      at::Tensor c = torch::randint(3, vocab, {p.completion_len}, torch::kInt32);
      r.completion_ids.assign(c.data_ptr<int32_t>(), c.data_ptr<int32_t>() + p.completion_len);
      r.logprobs.assign(static_cast<size_t>(p.completion_len), -2.0f);
      r.versions = {0};
      r.finish_reason = "length";
      r.score = s % 2 == 0 ? 1.0 : 0.0;
      out.push_back(std::move(r));
    }
  }
  return out;
}

struct Row {
  std::string name;
  double seconds = 0;  // per step
  double tokens = 0;   // per step
  double flops = 0;    // per step
};

}  // namespace

int main(int argc, char** argv) {
  rlvr::tools::ensure_thread_env(argv);
  Params p;
  CLI::App app("RL learner step tokens/s (grpo, grpo+kl, ppo+critic) beside the SFT step, and the matmul ceiling");
  app.add_option("--model", p.model, "Model config.json (random weights)")->capture_default_str();
  app.add_option("--prompts", p.prompts, "Groups per batch")->capture_default_str();
  app.add_option("--group", p.group, "Samples per group")->capture_default_str();
  app.add_option("--prompt-len", p.prompt_len, "Prompt tokens")->capture_default_str();
  app.add_option("--completion-len", p.completion_len, "Completion tokens")->capture_default_str();
  app.add_option("--steps", p.steps, "Timed learner steps per configuration")->capture_default_str();
  app.add_option("--warmup", p.warmup, "Untimed steps first")->capture_default_str();
  app.add_option("--micro", p.micro, "Samples per forward/backward (rl.micro_batch_size)")->capture_default_str();
  app.add_option("--threads", p.threads, "Intra-op threads")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  namespace fs = std::filesystem;
  const std::string dir = fmt::format("{}/rlvr-bench-rl-{}", fs::temp_directory_path().string(), ::getpid());
  try {
    rlvr::core::init_logging("warn");
    at::set_num_threads(static_cast<int>(p.threads));
    rlvr::core::TransformerConfig cfg = rlvr::core::load_transformer_config(p.model);
    const double params = static_cast<double>(cfg.num_parameters());
    {
      rlvr::core::CausalLM m(cfg);
      m->init_weights(0);
      rlvr::core::save_checkpoint(*m, cfg, dir + "/model");
    }
    const auto batch = make_batch(p, cfg.vocab_size);
    const double B = static_cast<double>(batch.size());
    const double completion_tokens = B * static_cast<double>(p.completion_len);
    const double seq_tokens = B * static_cast<double>(p.prompt_len + p.completion_len);
    std::vector<Row> rows;

    auto rl_row = [&](const std::string& name, const std::string& advantage, double kl, double flops_per_seq_token) {
      rlvr::core::Config c;
      c.run.output_dir = dir + "/" + name;
      c.run.threads = p.threads;
      c.model.path = dir + "/model";
      c.generation.max_new_tokens = p.completion_len;
      c.rl.advantage = advantage;
      c.rl.kl.coef = kl;
      c.rl.micro_batch_size = p.micro;
      c.optim.learning_rate = 1e-5;
      rlvr::learner::RlLearner learner(c, p.warmup + p.steps);
      for (int64_t i = 0; i < p.warmup; ++i) learner.step(batch);
      auto t0 = Clock::now();
      for (int64_t i = 0; i < p.steps; ++i) learner.step(batch);
      rows.push_back({name, secs(t0, Clock::now()) / static_cast<double>(p.steps), completion_tokens,
                      flops_per_seq_token * params * seq_tokens});
    };
    // Passes per step, in units of params x sequence tokens: forward 2, forward + backward 6.
    rl_row("grpo", "grpo", 0.0, 2 + 6);
    rl_row("grpo+kl", "grpo", 0.05, 2 + 2 + 6);
    rl_row("ppo+critic", "gae", 0.05, 2 + 2 + 2 + 6 + 6);

    {  // The SFT step on the same sequences.
      rlvr::core::CausalLM model = rlvr::core::load_causal_lm(dir + "/model");
      model->train();
      std::vector<std::pair<std::string, at::Tensor>> named;
      for (const auto& item : model->named_parameters()) named.emplace_back(item.key(), item.value());
      rlvr::core::OptimConfig oc;
      oc.learning_rate = 1e-5;
      rlvr::learner::Optimizer opt(named, oc, p.warmup + p.steps);
      std::vector<rlvr::sft_dpo::TrainRow> train_rows;
      for (const auto& r : batch) {
        rlvr::sft_dpo::TrainRow t;
        t.ids = r.prompt_ids;
        t.ids.insert(t.ids.end(), r.completion_ids.begin(), r.completion_ids.end());
        t.loss_mask.assign(t.ids.size(), 1);
        t.loss_mask[0] = 0;
        t.num_targets = static_cast<int64_t>(t.ids.size()) - 1;
        train_rows.push_back(std::move(t));
      }
      auto step = [&] {
        double targets = 0;
        for (const auto& t : train_rows) targets += static_cast<double>(t.num_targets);
        for (size_t i = 0; i < train_rows.size(); i += static_cast<size_t>(p.micro)) {
          std::vector<const rlvr::sft_dpo::TrainRow*> ptrs;
          for (size_t j = i; j < std::min(train_rows.size(), i + static_cast<size_t>(p.micro)); ++j) {
            ptrs.push_back(&train_rows[j]);
          }
          rlvr::sft_dpo::Batch b = rlvr::sft_dpo::collate_rows(ptrs, torch::kCPU);
          (rlvr::sft_dpo::sft_loss_sum(*model, b) / targets).backward();
        }
        opt.step();
      };
      for (int64_t i = 0; i < p.warmup; ++i) step();
      auto t0 = Clock::now();
      for (int64_t i = 0; i < p.steps; ++i) step();
      rows.push_back({"sft", secs(t0, Clock::now()) / static_cast<double>(p.steps), seq_tokens - B,
                      6 * params * seq_tokens});
    }
    const double ceiling = matmul_gflops(p.micro * (p.prompt_len + p.completion_len), cfg.hidden_size,
                                         cfg.intermediate_size);
    std::printf("model %s: %.1fM params; batch %lld samples x (%lld prompt + %lld completion) tokens; micro-batch "
                "%lld; %lld threads\n",
                p.model.c_str(), params / 1e6, static_cast<long long>(B), static_cast<long long>(p.prompt_len),
                static_cast<long long>(p.completion_len), static_cast<long long>(p.micro),
                static_cast<long long>(p.threads));
    std::printf("fp32 matmul ceiling ([%lld x %lld] x [%lld x %lld]): %.1f GFLOP/s\n",
                static_cast<long long>(p.micro * (p.prompt_len + p.completion_len)),
                static_cast<long long>(cfg.hidden_size), static_cast<long long>(cfg.hidden_size),
                static_cast<long long>(cfg.intermediate_size), ceiling);
    std::printf("| step | s/step | trained tok/s | vs sft | model GFLOP/s | of ceiling |\n|---|---|---|---|---|---|\n");
    const Row& sft = rows.back();
    const double sft_rate = sft.tokens / sft.seconds;
    for (const auto& r : rows) {
      const double rate = r.tokens / r.seconds;
      const double gflops = r.flops / r.seconds / 1e9;
      std::printf("| %s | %.2f | %.0f | %.2fx | %.1f | %.0f%% |\n", r.name.c_str(), r.seconds, rate, rate / sft_rate,
                  gflops, 100.0 * gflops / ceiling);
    }
  } catch (const rlvr::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    std::error_code ec;
    fs::remove_all(dir, ec);
    return 1;
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what_without_backtrace());
    std::error_code ec;
    fs::remove_all(dir, ec);
    return 1;
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  return 0;
}
