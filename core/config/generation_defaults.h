// A checkpoint's generation_config.json (transformers' GenerationConfig file): its EOS ids and
// default sampling values, applied to the `generation` section where the config does not set
// them. Torch-free; thread-safe (no shared state).
//
// Precedence, highest first: a command-line flag (`rlvr generate --temperature`), a key a
// config file or --set wrote (Config::explicit_keys), the checkpoint's generation_config.json,
// the schema default. Only values present in the file are used (transformers would also fall
// back to its own defaults, e.g. top_k 50, when a file sets do_sample without them; rlvr keeps
// its schema defaults there).
//
// Keys used: temperature, top_p, top_k, max_new_tokens, do_sample (false without a temperature
// in the config means greedy: temperature 0), eos_token_id (an int or a list; stop tokens),
// bos_token_id. Sampling keys rlvr's sampler does not implement (repetition_penalty, min_p, ...)
// are listed in `unsupported` when they hold a non-neutral value, so callers can warn.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/config/config.h"

namespace rlvr::core {

struct CheckpointGenerationConfig {
  std::string path;  // the file read
  std::vector<int64_t> eos_token_id;
  std::vector<int64_t> bos_token_id;
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<int64_t> top_k;
  std::optional<int64_t> max_new_tokens;
  std::optional<bool> do_sample;
  std::vector<std::string> unsupported;  // "repetition_penalty=1.05", ...
};

// Reads <checkpoint_dir>/generation_config.json. nullopt when the directory or the file does not
// exist. Throws rlvr::Error naming the file and the field for invalid JSON, a non-object, or a
// used key of the wrong type or out of the range the config schema accepts.
std::optional<CheckpointGenerationConfig> read_generation_config(const std::string& checkpoint_dir);

// Sets the fields of `g` for which `is_set(key)` is false ("temperature", "top_p", "top_k",
// "max_new_tokens") from `file`. Returns what was applied, as "generation.temperature=0.6"
// strings (empty when nothing).
std::vector<std::string> apply_generation_defaults(GenerationConfig& g, const CheckpointGenerationConfig& file,
                                                   const std::function<bool(const std::string& key)>& is_set);

// The same for the generation keys of `config` that are not in config.explicit_keys.
std::vector<std::string> apply_generation_defaults(Config& config, const CheckpointGenerationConfig& file);

// Logs what apply_generation_defaults applied from `file` and the unsupported keys it holds.
void log_generation_defaults(const CheckpointGenerationConfig& file, const std::vector<std::string>& applied);

// read_generation_config(config.model.path) + apply_generation_defaults + log_generation_defaults.
// Does nothing when model.path is empty or has no file.
void apply_checkpoint_generation_defaults(Config& config);

// The stop ids of a checkpoint: generation_config.json's eos_token_id (empty when there is none).
std::vector<int64_t> checkpoint_eos_ids(const std::string& checkpoint_dir);

}  // namespace rlvr::core
