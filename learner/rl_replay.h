// `rlvr learner --replay FILE`: train the RL learner on recorded rollouts, without actors.
//
// The file is a rollouts.jsonl (core/data/rollout.h; a learner's own <output_dir>/rollouts.jsonl
// works too). It is cut into learner steps of consecutive records: a step takes whole groups
// (consecutive records with the same prompt_index) until it holds at least rl.rollout_batch_size
// samples. The run takes min(rl.total_steps, the number of such batches) steps, and is
// deterministic: the same file, config and thread count give bit-identical weights, and a run
// resumed from a checkpoint ends with the same weights as an uninterrupted one (the checkpoint
// stores the position in the file).
//
// The run directory gets what `rlvr train` writes (config.yaml, metrics.jsonl with every metric
// of learner/rl_learner.h per step, logs/, checkpoints/, final/, summary.json, resumes.jsonl)
// plus rollouts.jsonl (learner/rollout_log.h). Resume and refusal follow learner/run_guard.h with
// the rl.* switches; the run is defined by the replayed file's contents, the model, tokenizer and
// the keys listed in docs/RL.md. Torch-free facade.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/config/config.h"
#include "learner/run_guard.h"

namespace rlvr::learner {

struct RlRunResult {
  int64_t steps = 0;               // learner steps completed (total)
  int64_t resumed_from_step = -1;  // -1 for a fresh run
  int64_t batches_available = 0;   // learner steps the file holds
  double last_reward = 0;          // mean reward of the last step run by this process (NaN: none)
  std::string final_dir;
};

// Runs the replay. Throws rlvr::Error for a bad config, a bad record (file:line or the sample and
// field), a refused run directory, I/O failure, or a non-finite loss (naming the step).
RlRunResult run_replay(const core::Config& config, const std::string& rollouts_path);

// The fingerprint of an RL run (learner/run_guard.h): identity = the contents of `data_path`
// (named `data_key`: the replayed file, or rl.train_file), model.path and its config.json and
// tokenizer, rl.advantage, rl.rollout_batch_size, rl.total_steps, rl.ppo_epochs,
// rl.num_minibatches, the resolved rl.reference_path, rl.critic_path, run.seed,
// generation.temperature and generation.max_new_tokens; settings = every other rl, optim and run
// key, model.tokenizer and verifiers.verification_reward.
RunFingerprint fingerprint_rl_run(const core::Config& config, const std::string& data_key, const std::string& data_path);

// How an RL run (live or replayed) starts in config.run.output_dir: the plan (resume or a fresh
// start, from rl.resume and rl.overwrite_output_dir; a different run is refused), the config text
// of the run being resumed (for resumes.jsonl) and this run's config text, after the run
// directory was prepared with it and what a killed process left half-written was removed.
struct RlRunStart {
  StartPlan plan;
  std::string previous_config;
  std::string config_yaml;
};
RlRunStart start_rl_run_dir(const core::Config& config, const RunFingerprint& fingerprint);
// The same for data-parallel ranks: rank 0 starts the run directory and the others get its
// plan's checkpoint to resume from (and log to logs/rank-<r>.log). `dp` may be null (one rank).
class DataParallel;
RlRunStart start_rl_run_dir(const core::Config& config, const RunFingerprint& fingerprint, DataParallel* dp);

// The learner steps of a file as [begin, end) record ranges: `prompt_indices` holds each record's
// prompt_index in file order; a step takes whole groups (runs of equal prompt_index) until it
// holds at least `batch_size` records. A last range smaller than batch_size is dropped unless it
// is the only one.
std::vector<std::pair<int64_t, int64_t>> replay_batches(const std::vector<int64_t>& prompt_indices,
                                                        int64_t batch_size);

}  // namespace rlvr::learner
