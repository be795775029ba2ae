// bench_sft: SFT training throughput (tokens/s) of rlvr's training step beside the same step in
// PyTorch eager (tools/bench_sft.py), in the same run, for each model config given, in float32
// and/or under CPU bf16 autocast (both sides: float32 master weights and AdamW, matmuls in bf16).
// Each row also gives the ratio to PyTorch eager in float32 (the baseline a Python user has
// without touching precision), the model FLOPs the step reached (6 x parameters x tokens +
// attention) and that as a fraction of the machine's matmul ceiling for the dtype, measured in
// the same run (core::probe_bf16_matmul at 512 x 512 x 1408, the `small` MLP's shape).
//
// A step is what `rlvr train` does per optimizer step: collate, forward, masked cross-entropy
// (sum / targets), backward, global-norm clipping and AdamW. Tokens are random ids; every
// position but the last is a target.
//
//   build/bench_sft --models configs/bench/tiny.json,configs/bench/small.json  (the default)
//                   --batch 4 --seq 256 --steps 5 --warmup 2 --threads 2
//                   --dtypes float32,bfloat16 [--profile DIR]   (one line)
// --phases also prints the step's forward / backward / optimizer split for both sides and the
// AdamW update alone (rlvr's fused one vs LibTorch's torch::optim::AdamW on the same parameters).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/torch.h>
#include <torch/csrc/autograd/profiler_legacy.h>

#include "core/error.h"
#include "core/model/bf16_support.h"
#include "core/model/model_config.h"
#include "core/model/transformer.h"
#include "learner/optimizer.h"
#include "learner/precision.h"
#include "sft_dpo/losses.h"
#include "tools/thread_env.h"

namespace {

struct Params {
  std::string models = std::string(RLVR_SOURCE_DIR) + "/configs/bench/tiny.json," + RLVR_SOURCE_DIR + "/configs/bench/small.json";
  int64_t batch = 4, seq = 256, steps = 5, warmup = 2, threads = 2;
  std::string python = "/usr/bin/python3";
  std::string script = "tools/bench_sft.py";
  bool phases = false;
  std::string dtypes = "float32";
  std::string profile_dir;  // one profiled step per model and dtype, as chrome traces
};

rlvr::learner::Precision precision_of(const std::string& dtype) {
  rlvr::learner::Precision prec;
  if (dtype == "bfloat16") {
    prec.autocast = true;
    prec.autocast_dtype = c10::kBFloat16;
  } else {
    RLVR_CHECK(dtype == "float32", "--dtypes: '{}' is not float32 or bfloat16", dtype);
  }
  return prec;
}

// Training FLOPs per token: 6 x the parameters every token multiplies by (all but the embedding
// table, plus the LM head even when tied) + attention (QK^T and PV: 2 x 2 x seq/2 x hidden per
// layer forward on average under the causal mask, x3 with backward).
double flops_per_token(const rlvr::core::TransformerConfig& c, int64_t seq) {
  const double h = static_cast<double>(c.hidden_size), i = static_cast<double>(c.intermediate_size);
  const double q = static_cast<double>(c.num_attention_heads * c.head_dim);
  const double kv = static_cast<double>(c.num_key_value_heads * c.head_dim);
  const double per_layer = h * q + 2 * h * kv + q * h + 3 * h * i;
  const double matmul_params = per_layer * static_cast<double>(c.num_hidden_layers) + h * static_cast<double>(c.vocab_size);
  const double attention = 3.0 * 2 * 2 * (static_cast<double>(seq) / 2) * q * static_cast<double>(c.num_hidden_layers);
  return 6.0 * matmul_params + attention;
}

double rlvr_tokens_per_second(const std::string& path, const Params& p, const std::string& dtype) {
  const rlvr::learner::Precision prec = precision_of(dtype);
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
    at::Tensor loss;
    {
      rlvr::learner::AutocastGuard autocast(prec);  // as rlvr train runs the forward and loss
      loss = rlvr::sft_dpo::sft_loss_sum(*model, batch) / static_cast<double>(batch.num_targets);
    }
    auto b = Clock::now();
    loss.backward();
    auto c = Clock::now();
    opt.step();
    auto d = Clock::now();
    t_fwd += secs(a, b), t_bwd += secs(b, c), t_opt += secs(c, d);
    return loss.item<double>();
  };
  for (int64_t i = 0; i < p.warmup; ++i) step();
  if (!p.profile_dir.empty()) {
    std::filesystem::create_directories(p.profile_dir);
    const std::string file =
        fmt::format("{}/{}-{}.trace.json", p.profile_dir, std::filesystem::path(path).stem().string(), dtype);
    std::ofstream out(file);
    RLVR_CHECK(out.good(), "--profile: cannot write {}", file);
    {
      torch::autograd::profiler::RecordProfile guard(out);  // LibTorch's profiler, one untimed step
      step();
    }
    std::fprintf(stderr, "wrote %s (chrome://tracing; op totals: tools/profile_ops.py)\n", file.c_str());
  }
  t_fwd = t_bwd = t_opt = 0;
  auto t0 = Clock::now();
  for (int64_t i = 0; i < p.steps; ++i) step();
  double dt = secs(t0, Clock::now()) / static_cast<double>(p.steps);
  if (p.phases) {
    auto n = static_cast<double>(p.steps);
    std::fprintf(stderr, "%s %s: rlvr step %.3fs = forward+loss %.3fs + backward %.3fs + clip/AdamW %.3fs\n",
                 path.c_str(), dtype.c_str(), dt, t_fwd / n, t_bwd / n, t_opt / n);
  }
  return static_cast<double>(p.batch * p.seq) / dt;
}

// The optimizer alone on the model's parameters (random gradients, no clipping): rlvr's
// learner::Optimizer (fused AdamW) vs LibTorch's torch::optim::AdamW, the best of `reps` steps
// each, interleaved. Returns {rlvr ms, LibTorch ms}.
std::pair<double, double> adamw_ms(const std::string& path, int reps) {
  rlvr::core::TransformerConfig cfg = rlvr::core::load_transformer_config(path);
  rlvr::core::CausalLM model(cfg);
  model->init_weights(0);
  std::vector<std::pair<std::string, at::Tensor>> named;
  std::vector<at::Tensor> copies;
  for (const auto& item : model->named_parameters()) {
    named.emplace_back(item.key(), item.value());
    copies.push_back(item.value().detach().clone().set_requires_grad(true));
  }
  rlvr::core::OptimConfig oc;
  oc.learning_rate = 1e-4;
  oc.weight_decay = 0.01;
  oc.max_grad_norm = 0;
  oc.lr_scheduler = "constant";
  rlvr::learner::Optimizer ours(named, oc, 1000);
  torch::optim::AdamW theirs(copies, torch::optim::AdamWOptions(1e-4).weight_decay(0.01));
  using Clock = std::chrono::steady_clock;
  double best_ours = 1e30, best_theirs = 1e30;
  for (int r = 0; r < reps; ++r) {
    for (size_t i = 0; i < named.size(); ++i) {
      named[i].second.mutable_grad() = torch::randn_like(named[i].second) * 1e-3;
      copies[i].mutable_grad() = named[i].second.grad().clone();
    }
    auto a = Clock::now();
    ours.step();
    auto b = Clock::now();
    theirs.step();
    auto c = Clock::now();
    best_ours = std::min(best_ours, std::chrono::duration<double>(b - a).count());
    best_theirs = std::min(best_theirs, std::chrono::duration<double>(c - b).count());
  }
  return {1e3 * best_ours, 1e3 * best_theirs};
}

double python_tokens_per_second(const std::string& path, const Params& p, const std::string& dtype) {
  std::string cmd = fmt::format("{} {} --config {} --batch {} --seq {} --steps {} --warmup {} --threads {} --dtype {}",
                                p.python, p.script, path, p.batch, p.seq, p.steps, p.warmup, p.threads, dtype);
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
    std::fprintf(stderr, "%s %s: eager step %.3fs = forward+loss %.3fs + backward %.3fs + clip/AdamW %.3fs\n",
                 path.c_str(), dtype.c_str(), j["step_seconds"].get<double>(), j["forward_seconds"].get<double>(),
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
  app.add_option("--profile", p.profile_dir, "Write one profiled step per model and dtype to DIR (chrome trace)");
  app.add_option("--dtypes", p.dtypes, "Comma-separated: float32, bfloat16 (CPU autocast, both sides)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    if (p.threads > 0) at::set_num_threads(static_cast<int>(p.threads));
    std::vector<std::string> dtypes;
    {
      std::stringstream ds(p.dtypes);
      std::string d;
      while (std::getline(ds, d, ',')) {
        precision_of(d);  // validates
        dtypes.push_back(d);
      }
    }
    const rlvr::core::MatmulProbe ceiling = rlvr::core::probe_bf16_matmul(512, 512, 1408, 10);
    const rlvr::core::CpuBf16 caps = rlvr::core::detect_cpu_bf16();
    std::printf("machine: %s; %lld threads; matmul ceiling (512x512x1408, best of 10): float32 %.0f GFLOP/s, bf16 %.0f "
                "GFLOP/s\n\n",
                caps.describe().c_str(), static_cast<long long>(at::get_num_threads()), ceiling.fp32_gflops,
                ceiling.bf16_gflops);
    std::printf("| model | batch x seq | dtype | rlvr tok/s | PyTorch eager tok/s (same dtype) | ratio | "
                "vs eager float32 | rlvr GFLOP/s | of the dtype's matmul ceiling |\n|---|---|---|---|---|---|---|---|---|\n");
    std::stringstream ss(p.models);
    std::string path;
    while (std::getline(ss, path, ',')) {
      const double fpt = flops_per_token(rlvr::core::load_transformer_config(path), p.seq);
      if (p.phases) {
        const auto [ours_ms, theirs_ms] = adamw_ms(path, 5);
        std::fprintf(stderr, "%s: AdamW step alone (best of 5): rlvr fused %.1f ms, torch::optim::AdamW %.1f ms\n",
                     path.c_str(), ours_ms, theirs_ms);
      }
      double eager_fp32 = 0;
      for (const auto& dtype : dtypes) {
        const double ours = rlvr_tokens_per_second(path, p, dtype);
        const double ref = python_tokens_per_second(path, p, dtype);
        if (dtype == "float32") eager_fp32 = ref;
        if (eager_fp32 == 0) eager_fp32 = python_tokens_per_second(path, p, "float32");
        const double gflops = ours * fpt / 1e9;
        const double roof = dtype == "float32" ? ceiling.fp32_gflops : ceiling.bf16_gflops;
        std::printf("| %s | %lldx%lld | %s | %.0f | %.0f | %.2f | %.2f | %.1f | %.0f%% |\n", path.c_str(),
                    static_cast<long long>(p.batch), static_cast<long long>(p.seq), dtype.c_str(), ours, ref,
                    ours / ref, ours / eager_fp32, gflops, 100.0 * gflops / roof);
        std::fflush(stdout);
      }
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
