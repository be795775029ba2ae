// Flags shared by `rlvr generate` and `rlvr eval`: model, tokenizer, chat template and the
// sampling settings. Values come from the flags, else from the keys --config sets, else from the
// model's generation_config.json, else from --config's defaults / the defaults shown in --help.
#pragma once

#include <algorithm>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "actors/policy.h"
#include "actors/prompts.h"
#include "actors/sampler.h"
#include "core/config/config.h"
#include "core/config/generation_defaults.h"
#include "core/config/loader.h"
#include "core/error.h"
#include "core/log.h"
#include "core/tokenizer/tokenizer.h"
#include "tools/cli.h"

namespace rlvr::tools {

struct SamplingFlags {
  std::string model;
  std::string tokenizer;      // default <model>/tokenizer.json
  std::string chat_template = "auto";
  std::string device = "cpu";
  std::string dtype = "float32";
  std::string config;         // optional YAML: generation + verifiers sections
  std::vector<std::string> overrides;  // --set a.b=value, applied after --config
  int64_t policy_version = 0;
  std::string on_bad_row = "stop";
  bool no_continuous_batching = false;
  actors::SamplingParams sampling;
  actors::SamplerOptions engine;
  core::Config resolved;      // the loaded config (defaults without --config)
};

inline void add_sampling_flags(CLI::App* cmd, SamplingFlags& f) {
  constexpr int64_t kMaxInt = std::numeric_limits<int64_t>::max();
  cmd->add_option("--model", f.model, "Checkpoint directory (config.json + model.safetensors)")->required();
  cmd->add_option("--tokenizer", f.tokenizer, "tokenizer.json (default: <model>/tokenizer.json)");
  cmd->add_option("--chat-template", f.chat_template,
                  "Chat template: auto (the model's own, else tulu), checkpoint (the model's own), tulu or chatml")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "checkpoint", "tulu", "chatml"}));
  cmd->add_option("--config", f.config, "YAML config whose `generation` (and `verifiers`) sections give defaults");
  cmd->add_option("--set", f.overrides,
                  "Override a config key: a.b.c=value (repeatable; after --config, as for `rlvr train`). Without "
                  "--config only the keys set here are used");
  cmd->add_option("--n", f.sampling.n, "Samples per prompt")->capture_default_str()->check(int_in(1, 65536));
  cmd->add_option("--temperature", f.sampling.temperature, "Sampling temperature; 0 = greedy")
      ->capture_default_str()
      ->check(number_in(0.0, 100.0));
  cmd->add_option("--top-p", f.sampling.top_p, "Nucleus mass in (0, 1]; 1 = off")
      ->capture_default_str()
      ->check(number_in(0.0, 1.0, /*lo_open=*/true));
  cmd->add_option("--top-k", f.sampling.top_k, "Keep the k most likely tokens; 0 = off")
      ->capture_default_str()
      ->check(int_in(0, std::numeric_limits<int32_t>::max()));
  cmd->add_option("--max-new-tokens", f.sampling.max_new_tokens, "Most generated tokens per sample")
      ->capture_default_str()
      ->check(int_in(1, 1048576));
  cmd->add_option("--seed", f.sampling.seed, "Seed; with (prompt, sample) index it fixes every draw")
      ->capture_default_str()
      ->check(int_in(0, kMaxInt));
  cmd->add_option("--stop", f.sampling.stop, "Stop string (repeatable); cut from the returned text");
  cmd->add_option("--batch-size", f.engine.batch_size, "Rows decoded together")
      ->capture_default_str()
      ->check(int_in(1, 65536));
  cmd->add_flag("--no-continuous-batching", f.no_continuous_batching,
                "Static batches: wait for every row before starting new prompts");
  cmd->add_option("--device", f.device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--dtype", f.dtype, "Compute dtype: float32, bfloat16 or float16")
      ->capture_default_str()
      ->check(CLI::IsMember({"float32", "bfloat16", "float16"}));
  cmd->add_option("--policy-version", f.policy_version, "Policy version recorded in every sample")
      ->capture_default_str()
      ->check(int_in(0, kMaxInt));
  cmd->add_option("--on-bad-row", f.on_bad_row,
                  "A malformed prompt row stops the command (stop) or is skipped and counted (skip)")
      ->capture_default_str()
      ->check(CLI::IsMember({"stop", "skip"}));
}

// Applies --config values to every sampling flag the user did not give.
inline void resolve_sampling_flags(const CLI::App& cmd, SamplingFlags& f) {
  if (!f.config.empty() || !f.overrides.empty()) {
    f.resolved = f.config.empty() ? core::load_config_text("", "--set", f.overrides)
                                  : core::load_config(f.config, f.overrides);
    // Without --config, only the keys --set names replace the command's own defaults.
    std::set<std::string> set_keys;
    for (const auto& spec : f.overrides) set_keys.insert(spec.substr(0, spec.find('=')));
    const auto& g = f.resolved.generation;
    auto unset = [&](const char* flag, const char* key) {
      return cmd.count(flag) == 0 && (!f.config.empty() || set_keys.count(key) > 0);
    };
    if (unset("--n", "generation.num_samples_per_prompt")) f.sampling.n = g.num_samples_per_prompt;
    if (unset("--temperature", "generation.temperature")) f.sampling.temperature = g.temperature;
    if (unset("--top-p", "generation.top_p")) f.sampling.top_p = g.top_p;
    if (unset("--top-k", "generation.top_k")) f.sampling.top_k = g.top_k;
    if (unset("--max-new-tokens", "generation.max_new_tokens")) f.sampling.max_new_tokens = g.max_new_tokens;
    if (unset("--stop", "generation.stop")) f.sampling.stop = g.stop;
    if (unset("--batch-size", "generation.batch_size")) f.engine.batch_size = g.batch_size;
    if (unset("--no-continuous-batching", "generation.continuous_batching")) {
      f.no_continuous_batching = !g.continuous_batching;
    }
    if (unset("--chat-template", "model.chat_template")) f.chat_template = f.resolved.model.chat_template;
    if (unset("--seed", "run.seed")) f.sampling.seed = static_cast<uint64_t>(f.resolved.run.seed);
  }
  // The model's generation_config.json for what neither a flag nor a key of --config sets.
  if (auto file = core::read_generation_config(f.model)) {
    core::GenerationConfig g;
    g.temperature = f.sampling.temperature;
    g.top_p = f.sampling.top_p;
    g.top_k = f.sampling.top_k;
    g.max_new_tokens = f.sampling.max_new_tokens;
    const auto applied = core::apply_generation_defaults(g, *file, [&](const std::string& key) {
      std::string flag = "--" + key;
      std::replace(flag.begin(), flag.end(), '_', '-');
      return cmd.count(flag) > 0 || f.resolved.explicit_keys.count("generation." + key) > 0;
    });
    f.sampling.temperature = g.temperature;
    f.sampling.top_p = g.top_p;
    f.sampling.top_k = g.top_k;
    f.sampling.max_new_tokens = g.max_new_tokens;
    core::log_generation_defaults(*file, applied);
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

// What generate and eval run on: the prompts that fit the model, their ids, the model and the
// sampling settings (stop ids from the template and config.json added).
struct SamplingRun {
  actors::PromptSet prompts;
  std::vector<size_t> kept;  // indices into prompts.rows of the prompts that are generated
  std::vector<std::vector<int32_t>> ids;  // ids[i] = prompts.rows[kept[i]].ids
  int64_t too_long = 0;      // prompts skipped: no room below max_position_embeddings
  actors::LoadedPolicy policy;
  actors::SamplingParams sampling;
};

// Loads prompts (with `require_ground_truth` for eval) and the model, and drops every prompt that
// leaves no room to generate, naming it (file:line) in a warning. Throws rlvr::Error for bad
// rows (per --on-bad-row), a tokenizer larger than the model's vocabulary, or no prompt left.
inline SamplingRun prepare_sampling_run(const SamplingFlags& f, const core::Tokenizer& tokenizer,
                                        const std::string& path, bool require_ground_truth) {
  SamplingRun run;
  actors::PromptOptions po;
  po.chat_format = std::make_shared<const core::ChatFormat>(core::ChatFormat::resolve(tokenizer, f.chat_template, f.model));
  RLVR_LOG_INFO("chat template: {} (--chat-template {}; end of turn {})", po.chat_format->source(), f.chat_template,
                po.chat_format->end_of_turn());
  po.require_ground_truth = require_ground_truth;
  po.on_bad_row = core::parse_bad_row_policy(f.on_bad_row);
  run.prompts = actors::load_prompts(path, tokenizer, po);
  run.policy = actors::load_policy(f.model, f.device, f.dtype);
  const auto& mc = run.policy.config;
  RLVR_CHECK(tokenizer.vocab_size() <= mc.vocab_size,
             "{}: tokenizer has {} ids but model {} has vocab_size {}; expected the model's own tokenizer",
             f.tokenizer, tokenizer.vocab_size(), f.model, mc.vocab_size);
  for (size_t i = 0; i < run.prompts.rows.size(); ++i) {
    const auto& row = run.prompts.rows[i];
    if (static_cast<int64_t>(row.ids.size()) >= mc.max_positions()) {
      RLVR_LOG_WARN("{}:{}: prompt has {} tokens; the model's context ({} positions) leaves no room to "
                    "generate; skipped", path, row.line, row.ids.size(), mc.max_positions());
      ++run.too_long;
      continue;
    }
    run.kept.push_back(i);
    run.ids.push_back(row.ids);
  }
  RLVR_CHECK(!run.kept.empty(), "{}: no prompt fits the model ({} too long for its {} positions)", path,
             run.too_long, mc.max_positions());
  run.sampling = f.sampling;
  if (run.prompts.end_of_turn_id >= 0) run.sampling.stop_token_ids.push_back(run.prompts.end_of_turn_id);
  for (int64_t id : mc.eos_token_id) run.sampling.stop_token_ids.push_back(static_cast<int32_t>(id));
  for (int64_t id : core::checkpoint_eos_ids(f.model)) run.sampling.stop_token_ids.push_back(static_cast<int32_t>(id));
  return run;
}

}  // namespace rlvr::tools
