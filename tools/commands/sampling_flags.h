// Flags shared by `rlvr generate` and `rlvr eval`: model, tokenizer, chat template and the
// sampling settings. Values come from the flags, else from --config's `generation` section,
// else from the defaults shown in --help.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "actors/sampler.h"
#include "core/config/config.h"
#include "core/config/loader.h"
#include "core/error.h"
#include "core/log.h"

namespace rlvr::tools {

struct SamplingFlags {
  std::string model;
  std::string tokenizer;      // default <model>/tokenizer.json
  std::string chat_template = "tulu";
  std::string device = "cpu";
  std::string dtype = "float32";
  std::string config;         // optional YAML: generation + verifiers sections
  int64_t policy_version = 0;
  bool no_continuous_batching = false;
  actors::SamplingParams sampling;
  actors::SamplerOptions engine;
  core::Config resolved;      // the loaded config (defaults without --config)
};

inline void add_sampling_flags(CLI::App* cmd, SamplingFlags& f) {
  cmd->add_option("--model", f.model, "Checkpoint directory (config.json + model.safetensors)")->required();
  cmd->add_option("--tokenizer", f.tokenizer, "tokenizer.json (default: <model>/tokenizer.json)");
  cmd->add_option("--chat-template", f.chat_template, "Chat template: tulu or chatml")
      ->capture_default_str()
      ->check(CLI::IsMember({"tulu", "chatml"}));
  cmd->add_option("--config", f.config, "YAML config whose `generation` (and `verifiers`) sections give defaults");
  cmd->add_option("--n", f.sampling.n, "Samples per prompt")->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{65536}));
  cmd->add_option("--temperature", f.sampling.temperature, "Sampling temperature; 0 = greedy")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--top-p", f.sampling.top_p, "Nucleus mass in (0, 1]; 1 = off")
      ->capture_default_str()
      ->check(CLI::Range(1e-9, 1.0));
  cmd->add_option("--top-k", f.sampling.top_k, "Keep the k most likely tokens; 0 = off")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-new-tokens", f.sampling.max_new_tokens, "Most generated tokens per sample")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1048576}));
  cmd->add_option("--seed", f.sampling.seed, "Seed; with (prompt, sample) index it fixes every draw")->capture_default_str();
  cmd->add_option("--stop", f.sampling.stop, "Stop string (repeatable); cut from the returned text");
  cmd->add_option("--batch-size", f.engine.batch_size, "Rows decoded together")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{65536}));
  cmd->add_flag("--no-continuous-batching", f.no_continuous_batching,
                "Static batches: wait for every row before starting new prompts");
  cmd->add_option("--device", f.device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--dtype", f.dtype, "Compute dtype: float32, bfloat16 or float16")
      ->capture_default_str()
      ->check(CLI::IsMember({"float32", "bfloat16", "float16"}));
  cmd->add_option("--policy-version", f.policy_version, "Policy version recorded in every sample")->capture_default_str();
}

// Applies --config values to every sampling flag the user did not give.
inline void resolve_sampling_flags(const CLI::App& cmd, SamplingFlags& f) {
  if (!f.config.empty()) {
    f.resolved = core::load_config(f.config);
    const auto& g = f.resolved.generation;
    auto unset = [&](const char* flag) { return cmd.count(flag) == 0; };
    if (unset("--n")) f.sampling.n = g.num_samples_per_prompt;
    if (unset("--temperature")) f.sampling.temperature = g.temperature;
    if (unset("--top-p")) f.sampling.top_p = g.top_p;
    if (unset("--top-k")) f.sampling.top_k = g.top_k;
    if (unset("--max-new-tokens")) f.sampling.max_new_tokens = g.max_new_tokens;
    if (unset("--stop")) f.sampling.stop = g.stop;
    if (unset("--batch-size")) f.engine.batch_size = g.batch_size;
    if (unset("--no-continuous-batching")) f.no_continuous_batching = !g.continuous_batching;
    if (unset("--chat-template")) f.chat_template = f.resolved.model.chat_template;
    if (unset("--seed")) f.sampling.seed = static_cast<uint64_t>(f.resolved.run.seed);
  }
  f.engine.continuous_batching = !f.no_continuous_batching;
  if (f.tokenizer.empty()) f.tokenizer = f.model + "/tokenizer.json";
  for (const auto& s : f.sampling.stop) RLVR_CHECK(!s.empty(), "--stop: stop strings must not be empty");
}

// A progress callback that logs one line every `interval_s` seconds and at the end.
inline std::function<void(const actors::Progress&)> progress_logger(const std::string& what, double interval_s = 2.0) {
  auto last = std::make_shared<double>(-1e9);
  return [what, interval_s, last](const actors::Progress& p) {
    const bool end = p.samples_done == p.samples_total;
    if (!end && p.elapsed_s - *last < interval_s) return;
    *last = p.elapsed_s;
    const double rate = p.elapsed_s > 0 ? static_cast<double>(p.generated_tokens) / p.elapsed_s : 0.0;
    const double eta = p.samples_done > 0
                           ? p.elapsed_s * static_cast<double>(p.samples_total - p.samples_done) / static_cast<double>(p.samples_done)
                           : 0.0;
    RLVR_LOG_INFO("{}: {}/{} samples, {} tokens, {:.1f} tok/s, elapsed {:.1f}s, ETA {:.1f}s", what, p.samples_done,
                  p.samples_total, p.generated_tokens, rate, p.elapsed_s, eta);
  };
}

}  // namespace rlvr::tools

#include <nlohmann/json.hpp>

#include "actors/prompts.h"

namespace rlvr::tools {

// One output line of `rlvr generate` / `rlvr eval --out`.
inline nlohmann::json sample_to_json(const actors::Sample& s, const actors::PromptRow& row) {
  nlohmann::json j = {{"prompt_index", s.prompt_index},
                      {"sample_index", s.sample_index},
                      {"line", row.line},
                      {"text", s.text},
                      {"token_ids", s.token_ids},
                      {"logprobs", s.logprobs},
                      {"finish_reason", actors::finish_reason_name(s.finish_reason)},
                      {"num_tokens", s.token_ids.size()},
                      {"prompt_tokens", s.prompt_tokens},
                      {"policy_version", s.policy_version},
                      {"timing", {{"start_s", s.start_s}, {"end_s", s.end_s}, {"latency_s", s.end_s - s.start_s}}}};
  if (s.finish_reason == actors::FinishReason::kStop) j["stop_string"] = s.stop_string;
  if (!row.dataset.empty()) j["dataset"] = row.dataset;
  return j;
}

// JSON text that never throws on invalid UTF-8 in generated text (replaced by U+FFFD).
inline std::string json_line(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace rlvr::tools
