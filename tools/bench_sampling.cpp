// Sampling throughput: decode tokens/s and end-to-end samples/s of actors::Sampler at several
// batch sizes for each model config, beside a Python PyTorch eager KV-cache loop
// (tools/bench_sampling_ref.py) on the same checkpoint in the same run; continuous vs static
// batching on prompts and completions of varied lengths; and the machine's memory-bandwidth and
// matmul limits for the decode step. Usage:
//   bench_sampling [--models a.json,b.json] [--batches 1,4,8,32] [--stream-batches 64,128,256]
//                  [--python /usr/bin/python3]
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "actors/sampler.h"
#include "core/error.h"
#include "core/model/checkpoint.h"
#include "core/model/model_config.h"
#include "core/model/ops.h"
#include "core/model/transformer.h"
#include "tools/cli.h"
#include "tools/thread_env.h"

namespace {

using namespace rlvr;
using Clock = std::chrono::steady_clock;

// The repository root, from this file's path (CMake compiles it by absolute path).
const std::string kSourceRoot = RLVR_SOURCE_DIR;

double secs(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::vector<std::vector<int32_t>> random_prompts(int64_t count, int64_t min_len, int64_t max_len, int64_t vocab,
                                                 uint64_t seed) {
  at::Generator g = at::detail::createCPUGenerator(seed);
  std::vector<std::vector<int32_t>> out;
  for (int64_t i = 0; i < count; ++i) {
    int64_t len = min_len == max_len ? min_len : at::randint(min_len, max_len + 1, {1}, g).item<int64_t>();
    at::Tensor ids = at::randint(4, vocab, {len}, g);
    out.emplace_back(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + len);
  }
  return out;
}

// GB/s of streaming reads over a buffer much larger than the caches (sum of 512 MB of floats).
double read_bandwidth_gbs() {
  at::Tensor big = at::ones({128 * 1024 * 1024});
  big.sum();
  auto t0 = Clock::now();
  const int reps = 5;
  for (int i = 0; i < reps; ++i) big.sum();
  return reps * big.numel() * 4.0 / secs(t0) / 1e9;
}

// GFLOP/s of a decode-shaped matmul: [32, 512] x [512, 1408].
double matmul_gflops(int64_t rows) {
  at::Tensor x = at::randn({rows, 512}), w = at::randn({1408, 512});
  at::linear(x, w);
  auto t0 = Clock::now();
  const int reps = 2000;
  for (int i = 0; i < reps; ++i) at::linear(x, w);
  return reps * 2.0 * rows * 512 * 1408 / secs(t0) / 1e9;
}

std::vector<nlohmann::json> run_python(const std::string& python, const std::string& dir, const std::string& batches,
                                       int64_t prompt_len, int64_t new_tokens) {
  std::string cmd = fmt::format("{} {}/tools/bench_sampling_ref.py --model {} --batches {} --prompt-len {} --new {} "
                                "--threads {}",
                                python, kSourceRoot, dir, batches, prompt_len, new_tokens, at::get_num_threads());
  std::vector<nlohmann::json> out;
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (!pipe) return out;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, pipe)) {
    try {
      out.push_back(nlohmann::json::parse(buf));
    } catch (const std::exception&) {
      std::cerr << "python: " << buf;
    }
  }
  ::pclose(pipe);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  rlvr::tools::ensure_thread_env(argv);
  CLI::App app{"Sampling benchmark (actors::Sampler vs a Python eager KV-cache loop)"};
  std::string models = kSourceRoot + "/configs/bench/tiny.json," + kSourceRoot + "/configs/bench/small.json";
  std::string batches = "1,4,8,32", python = "/usr/bin/python3";
  int64_t prompt_len = 32, new_tokens = 64, varied_prompts = 64, stream_rounds = 4;
  std::string stream_batches = "64,128,256";
  bool skip_python = false, blas_linear = false;
  app.add_option("--models", models, "Comma-separated config.json files")->capture_default_str();
  app.add_option("--batches", batches, "Batch sizes")->capture_default_str();
  app.add_option("--prompt-len", prompt_len, "Prompt tokens (fixed-length runs)")->capture_default_str();
  app.add_option("--new-tokens", new_tokens, "Generated tokens (fixed-length runs)")->capture_default_str();
  app.add_option("--varied-prompts", varied_prompts, "Prompts in the continuous vs static comparison")->capture_default_str();
  app.add_option("--stream-batches", stream_batches,
                 "Batch sizes of the actor-shaped stream (groups of 8, varied lengths); empty: skip it")
      ->capture_default_str();
  app.add_option("--stream-rounds", stream_rounds, "Samples per stream call, in batches")->capture_default_str();
  app.add_option("--python", python, "Python with torch for the baseline")->capture_default_str();
  app.add_flag("--skip-python", skip_python, "Do not run the Python baseline");
  app.add_flag("--blas-linear", blas_linear, "Turn off the model's streaming decode linear (core/model/ops.h)");
  bool baseline_rows = false;
  app.add_flag("--stream-baseline", baseline_rows,
               "Also run the stream with the old row drop (KVCache::select_rows gathering into new tensors)");
  CLI11_PARSE(app, argc, argv);
  if (blas_linear) core::detail::set_streaming_linear_enabled(false);
  try {
    torch::NoGradGuard ng;
    std::cout << fmt::format("threads {}  read bandwidth {:.1f} GB/s  matmul[32x512x1408] {:.1f} GFLOP/s  "
                             "matmul[4x512x1408] {:.1f} GFLOP/s\n",
                             at::get_num_threads(), read_bandwidth_gbs(), matmul_gflops(32), matmul_gflops(4));
    std::stringstream ms(models);
    std::string model_json;
    while (std::getline(ms, model_json, ',')) {
      core::TransformerConfig cfg = core::load_transformer_config(model_json);
      core::CausalLM model(cfg);
      model->init_weights(1);
      model->eval();
      const std::string dir = (std::filesystem::temp_directory_path() /
                               ("rlvr-bench-sampling-" + std::filesystem::path(model_json).stem().string()))
                                  .string();
      core::save_checkpoint(*model, cfg, dir);
      const double weight_mb = cfg.num_parameters() * 4.0 / 1e6;
      std::cout << fmt::format("\n== {} ({:.1f}M params, {:.0f} MB f32) prompt {} + {} new, greedy ==\n",
                               model_json, cfg.num_parameters() / 1e6, weight_mb, prompt_len, new_tokens);
      std::vector<nlohmann::json> py;
      if (!skip_python) py = run_python(python, dir, batches, prompt_len, new_tokens);
      std::cout << fmt::format("{:>5} {:>12} {:>12} {:>8} {:>12} {:>12} {:>8}\n", "batch", "rlvr tok/s", "py tok/s",
                               "ratio", "rlvr smp/s", "py smp/s", "ratio");
      size_t bi = 0;
      for (int64_t B : tools::parse_int_list(batches, "--batches")) {
        actors::Sampler sampler(model.ptr(), nullptr, {B, true});
        actors::SamplingParams p;
        p.temperature = 0;
        p.max_new_tokens = new_tokens;
        auto prompts = random_prompts(B, prompt_len, prompt_len, cfg.vocab_size, 7);
        sampler.generate(random_prompts(B, prompt_len, prompt_len, cfg.vocab_size, 8), p);  // warm-up
        actors::GenerateStats st;
        for (int rep = 0; rep < 2; ++rep) {  // the faster of two runs (the machine is shared)
          sampler.generate(prompts, p);
          if (rep == 0 || sampler.last_stats().total_s < st.total_s) st = sampler.last_stats();
        }
        const double tok_s = B * (new_tokens - 1) / st.decode_s, smp_s = B / st.total_s;
        double py_tok = 0, py_smp = 0;
        if (bi < py.size()) {
          py_tok = py[bi]["decode_tok_s"].get<double>();
          py_smp = py[bi]["samples_s"].get<double>();
        }
        ++bi;
        std::cout << fmt::format("{:>5} {:>12.1f} {:>12.1f} {:>8.2f} {:>12.2f} {:>12.2f} {:>8.2f}\n", B, tok_s, py_tok,
                                 py_tok > 0 ? tok_s / py_tok : 0.0, smp_s, py_smp, py_smp > 0 ? smp_s / py_smp : 0.0);
      }
      // Continuous vs static batching on varied prompt (16..128) and completion lengths: sampling at
      // temperature 1 with 1/64 of the vocabulary as stop ids gives geometric lengths (mean ~64,
      // capped at 256).
      auto prompts = random_prompts(varied_prompts, 16, 128, cfg.vocab_size, 9);
      actors::SamplingParams p;
      p.temperature = 1.0;
      p.max_new_tokens = 256;
      for (int32_t t = 4; t < 4 + cfg.vocab_size / 64; ++t) p.stop_token_ids.push_back(t);
      std::cout << fmt::format("varied lengths: {} prompts of 16..128 tokens, completions up to 256\n", varied_prompts);
      std::cout << fmt::format("{:>5} {:>11} {:>10} {:>10} {:>10} {:>10} {:>7}\n", "batch", "batching", "tokens",
                               "seconds", "tok/s", "smp/s", "util");
      for (int64_t B : {8, 32}) {
        for (bool cont : {true, false}) {
          actors::Sampler sampler(model.ptr(), nullptr, {B, cont});
          auto out = sampler.generate(prompts, p);
          const auto& st = sampler.last_stats();
          // util: fraction of decoded rows that belonged to a live sample.
          const double util = st.row_steps > 0 ? static_cast<double>(st.generated_tokens - st.samples) / st.row_steps : 0;
          std::cout << fmt::format("{:>5} {:>11} {:>10} {:>10.2f} {:>10.1f} {:>10.2f} {:>7.2f}\n", B,
                                   cont ? "continuous" : "static", st.generated_tokens, st.total_s,
                                   st.generated_tokens / st.total_s, out.size() / st.total_s, util);
        }
      }
      // The shape actors feed the sampler: groups of n = 8 samples of varied prompts (16..128
      // tokens) and completions (as above), `stream_rounds` x batch samples per call, at batch
      // 64..256. Where the time goes: prefill, refill (starting samples in rows), compaction,
      // decode with a full batch and decode in the tail (after the last sample started, when the
      // batch only shrinks); full tok/s and tail tok/s are decoded tokens per second of each.
      if (!stream_batches.empty()) {
        std::cout << fmt::format("stream: groups of 8 samples, prompts 16..128 tokens, completions up to 256, "
                                 "{} x batch samples per call\n",
                                 stream_rounds);
        std::cout << fmt::format("{:>5} {:>7} {:>8} {:>8} {:>8} {:>8} {:>7} {:>7} {:>7} {:>7} {:>8} {:>8} {:>6}\n",
                                 "batch", "samples", "tokens", "seconds", "tok/s", "prefill", "refill", "compact",
                                 "full", "tail", "full t/s", "tail t/s", "rows");
        for (int64_t B : tools::parse_int_list(stream_batches, "--stream-batches")) {
          for (bool in_place :
               baseline_rows ? std::vector<bool>{false, true} : std::vector<bool>{true}) {
            core::detail::set_in_place_row_drop_enabled(in_place);
            actors::SamplingParams sp = p;
            sp.n = 8;
            auto groups = random_prompts(std::max<int64_t>(1, stream_rounds * B / sp.n), 16, 128,
                                         cfg.vocab_size, 10);
            actors::Sampler sampler(model.ptr(), nullptr, {B, true});
            auto out = sampler.generate(groups, sp);
            const auto& st = sampler.last_stats();
            const double full_s = st.decode_s - st.tail_s;
            // Decoded tokens: one per live row per step (the first token of each sample comes
            // from its prefill).
            const double decoded = static_cast<double>(st.generated_tokens - st.samples);
            const double tail_tokens = static_cast<double>(st.tail_row_steps);
            std::cout << fmt::format(
                "{:>5} {:>7} {:>8} {:>8.2f} {:>8.1f} {:>7.0f}% {:>6.0f}% {:>6.0f}% {:>6.0f}% "
                "{:>6.0f}% {:>8.1f} {:>8.1f} "
                "{:>6.1f}{}\n",
                B, out.size(), st.generated_tokens, st.total_s, st.generated_tokens / st.total_s,
                100 * st.prefill_s / st.total_s, 100 * st.refill_s / st.total_s,
                100 * st.compact_s / st.total_s, 100 * full_s / st.total_s,
                100 * st.tail_s / st.total_s, full_s > 0 ? (decoded - tail_tokens) / full_s : 0.0,
                st.tail_s > 0 ? tail_tokens / st.tail_s : 0.0,
                st.tail_steps > 0 ? static_cast<double>(st.tail_row_steps) / st.tail_steps : 0.0,
                baseline_rows ? (in_place ? "  current" : "  baseline (rows gathered)") : "");
          }
        }
        core::detail::set_in_place_row_drop_enabled(true);
      }
      std::filesystem::remove_all(dir);
    }
  } catch (const rlvr::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  } catch (const c10::Error& e) {
    std::cerr << "error: " << e.what_without_backtrace() << "\n";
    return 1;
  }
  return 0;
}
