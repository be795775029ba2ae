// Which run a run directory holds, and whether a training mode (`rlvr train`, the RL learner) may
// resume it, replace it or must refuse. Torch-free. Each mode builds its own fingerprint (which
// keys define a run); the decision and the records are shared.
//
// Every checkpoint stores a fingerprint of its run (state.json "run", learner/train_state.h).
// For `rlvr train` (sft_dpo/train_fingerprint.h):
//   identity  the keys that define WHICH run this is: the contents of the training data file,
//             the tokenizer and the model's config.json (a streamed XXH64 each), model.path,
//             model.chat_template, train.mode, train.max_seq_len, train.packing (sft),
//             train.on_bad_row, train.batch_size, train.grad_accum_steps, train.max_steps,
//             train.num_epochs (when max_steps is 0), run.seed, and for dpo dpo.loss and the
//             resolved reference checkpoint. A resume with any of them changed is refused, naming
//             each change, unless train.overwrite_output_dir allows discarding the old run.
//   settings  every other key `rlvr train` reads (run, model, train, optim and, for dpo, dpo
//             sections; the data file paths; the eval file's contents). They may change on
//             resume: each change is logged (old -> new) and recorded in <output_dir>/resumes.jsonl
//             together with the previous config.yaml.
// Paths are compared as absolute, normalized paths.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config/config.h"
#include "core/config/loader.h"

namespace rlvr::learner {

// A run's fingerprint (see the file comment). Plain value type.
struct RunFingerprint {
  std::map<std::string, std::string> identity;
  std::map<std::string, std::string> settings;

  nlohmann::json to_json() const;
  // Parses to_json()'s output. Throws rlvr::Error naming `source` when malformed.
  static RunFingerprint from_json(const nlohmann::json& j, const std::string& source);
};

using core::flatten_config;  // core/config/loader.h

// The content hash of `path`, read for config key `key` (named in the error when it cannot be
// read): a streamed XXH64 (core::file_content_hash).
std::string hash_file_for(const std::string& key, const std::string& path);

// `p` as an absolute, normalized path ("" stays "").
std::string absolute_path(const std::string& p);

// One changed key. `before` / `after` are "(absent)" when the key exists on one side only.
struct ConfigChange {
  std::string key, before, after;
};

// The keys whose values differ between `before` and `after`, in key order.
std::vector<ConfigChange> diff_values(const std::map<std::string, std::string>& before,
                                      const std::map<std::string, std::string>& after);

// "key: before -> after; ..." (values longer than 80 bytes are shortened).
std::string describe_changes(const std::vector<ConfigChange>& changes);

// What run_training does with run.output_dir.
struct StartPlan {
  // The checkpoint to resume from; nullopt starts fresh.
  std::optional<std::string> resume_from;
  // Resuming from a checkpoint written before fingerprints existed: nothing could be verified.
  bool unverified = false;
  // Settings changed since the checkpoint (resume only).
  std::vector<ConfigChange> changes;
  // Start fresh over an existing run: its checkpoints, final/, metrics.jsonl, resumes.jsonl and
  // summary.json are deleted (allowed by train.overwrite_output_dir).
  bool discard_existing = false;
  // Why the existing run is discarded (for the log); empty otherwise.
  std::string discard_reason;
};

// The switches of a mode that steer plan_start, and the config key prefix named in hints.
struct StartOptions {
  std::string output_dir;
  bool resume = true;
  bool overwrite_output_dir = false;
  std::string key_prefix = "train";  // "train" -> hints name train.resume / train.overwrite_output_dir
};

// Decides from <output_dir>/checkpoints (newest state.json only) and <output_dir>/final:
//   - a checkpoint of the same run and resume: resume (settings changes listed);
//   - a checkpoint of another run, or resume false with any checkpoint, or a final/ without
//     checkpoints: refused with rlvr::Error naming the directory and what differs, plus a hint
//     (<prefix>.overwrite_output_dir: true or another run.output_dir), unless
//     overwrite_output_dir is set, which plans a fresh start that discards the old run;
//   - nothing there: a fresh start.
// Reads only; changes nothing on disk. Throws rlvr::Error for a corrupt state.json too.
StartPlan plan_start(const StartOptions& options, const RunFingerprint& fingerprint);

// Appends the record of a resume to <output_dir>/resumes.jsonl:
// {"time" (UTC, ISO 8601), "step", "checkpoint", "changes": [{"key", "old", "new"}],
//  "previous_config" (the config.yaml text it replaced; only when that text changed)}.
// Throws rlvr::Error on I/O failure.
void record_resume(const std::string& output_dir, const StartPlan& plan, int64_t step,
                   const std::string& previous_config_yaml, const std::string& config_yaml);

}  // namespace rlvr::learner
