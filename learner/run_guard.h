// Which run a run directory holds, and whether `rlvr train` may resume it, replace it or must
// refuse. Torch-free.
//
// Every checkpoint stores a fingerprint of its run (state.json "run", learner/train_state.h):
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

namespace rlvr::sft_dpo {

// A run's fingerprint (see the file comment). Plain value type.
struct RunFingerprint {
  std::map<std::string, std::string> identity;
  std::map<std::string, std::string> settings;

  nlohmann::json to_json() const;
  // Parses to_json()'s output. Throws rlvr::Error naming `source` when malformed.
  static RunFingerprint from_json(const nlohmann::json& j, const std::string& source);
};

// Every key of `config` flattened to "section.key" -> value text (numbers in their shortest
// round-trip form, lists as JSON arrays, list items as "section.list[i].key").
std::map<std::string, std::string> flatten_config(const core::Config& config);

// The fingerprint of `config`: hashes the data files, the tokenizer and model.path/config.json
// (streamed, constant memory). Throws rlvr::Error naming a file that cannot be read.
RunFingerprint fingerprint_run(const core::Config& config);

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

// Decides from <output_dir>/checkpoints (newest state.json only) and <output_dir>/final:
//   - a checkpoint of the same run and train.resume: resume (settings changes listed);
//   - a checkpoint of another run, or train.resume false with any checkpoint, or a final/ without
//     checkpoints: refused with rlvr::Error naming the directory and what differs, plus a hint
//     (train.overwrite_output_dir: true or another run.output_dir), unless
//     train.overwrite_output_dir is set, which plans a fresh start that discards the old run;
//   - nothing there: a fresh start.
// Reads only; changes nothing on disk. Throws rlvr::Error for a corrupt state.json too.
StartPlan plan_start(const core::Config& config, const RunFingerprint& fingerprint);

// Appends the record of a resume to <output_dir>/resumes.jsonl:
// {"time" (UTC, ISO 8601), "step", "checkpoint", "changes": [{"key", "old", "new"}],
//  "previous_config" (the config.yaml text it replaced; only when that text changed)}.
// Throws rlvr::Error on I/O failure.
void record_resume(const std::string& output_dir, const StartPlan& plan, int64_t step,
                   const std::string& previous_config_yaml, const std::string& config_yaml);

}  // namespace rlvr::sft_dpo
