// The RL learner: one step turns a batch of rollout records into policy (and critic) updates.
//
// A step (docs/RL.md has every formula):
//   1. validates every sample against the model (token ids, lengths, log-probs, versions); a bad
//      sample throws rlvr::Error naming it and its field before anything is trained;
//   2. shapes rewards: verification_reward x scale[dataset] x score, the non-stop penalty, the
//      soft length penalty; samples the verifier could not score are left out (config);
//   3. computes, without gradients, the learner's own log-probs of every completion token under
//      the weights it has when the batch arrives (the proximal policy), the frozen reference's
//      log-probs (when rl.kl.coef > 0) and the critic's values (gae);
//   4. computes advantages (grpo / rloo per group of samples of one prompt, or gae), counts
//      zero-signal groups (and drops them when configured), whitens when configured;
//   5. runs rl.ppo_epochs passes over the batch in rl.num_minibatches minibatches, each an
//      optimizer step of the policy (clipped surrogate with the selected off-policy correction,
//      KL and entropy terms) and of the critic (clipped value loss), accumulating gradients over
//      micro-batches of rl.micro_batch_size samples;
//   6. bumps the policy version and returns the metrics of the step.
// Checkpoints hold the policy, the critic, both optimizers, the RNG, the version and the caller's
// cursor, and resume bit-exact (learner/train_state.h).
//
// Torch-free facade (STYLE 19): the implementation lives in rl_learner.cpp.
// Thread-safety: not thread-safe; one thread drives a learner. Not copyable.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config/config.h"
#include "core/data/rollout.h"
#include "core/model/weights_blob.h"

namespace rlvr::learner {

class DataParallel;  // learner/distributed.h

// What a step did with one sample (the learner's rollouts.jsonl adds these to the record).
struct RlSampleOutcome {
  double reward = 0;     // shaped reward (before any KL-in-reward term)
  double advantage = 0;  // grpo/rloo: the sample's advantage; gae: the mean over its tokens
  bool trained = false;  // false: left out (verifier error, dropped zero-signal group)
};

struct RlStepResult {
  std::map<std::string, double> metrics;  // metrics.jsonl names: "reward/mean", "loss/pg", ...
  std::vector<RlSampleOutcome> samples;   // one per input sample, same order
  double loss = 0;                        // mean policy loss over the step's optimizer steps
  int64_t trained_tokens = 0;             // completion tokens that entered the loss
};

class RlLearner {
 public:
  // Loads the policy (model.path), the frozen reference (rl.reference_path or model.path; only
  // when rl.kl.coef > 0) and, for rl.advantage gae, the critic (rl.critic_path, or model.path
  // with a zero value head), on run.device, and builds the optimizers (optim.*; the critic's
  // learning rate is rl.critic_learning_rate when > 0). `total_steps` learner steps set the
  // learning-rate schedules (each has ppo_epochs x num_minibatches optimizer steps).
  // Throws rlvr::Error for a bad config or checkpoint.
  // With `dp` (learner/distributed.h; not owned, outlives the learner) every rank computes its
  // share of each step's micro-batches and the ranks sum gradients and statistics, so each rank's
  // step equals the single-rank step; the caller gives every rank the same samples and lets rank
  // 0 alone write checkpoints and final/.
  RlLearner(const core::Config& config, int64_t total_steps, DataParallel* dp = nullptr);
  ~RlLearner();
  RlLearner(const RlLearner&) = delete;
  RlLearner& operator=(const RlLearner&) = delete;

  // One learner step (see the file comment). REQUIRES: !samples.empty(). Throws rlvr::Error for
  // an invalid sample (nothing changes then) or a non-finite loss or gradient (naming the step;
  // the optimizer refuses the update, so no NaN reaches the weights).
  RlStepResult step(const std::vector<core::RolloutSample>& samples);

  // Learner steps done so far: the policy version of the current weights.
  int64_t version() const;
  // What a rollout must fit (the policy's vocabulary and context, generation.max_new_tokens,
  // versions up to version()).
  core::RolloutLimits limits() const;

  // Writes <output_dir>/checkpoints/step-<version>/ (policy, optimizer, RNG, state.json with
  // `cursor` and `run_fingerprint`; critic/ with the critic and its optimizer), keeping
  // rl.keep_checkpoints. Returns the directory. Throws rlvr::Error on I/O failure.
  // `extra_files` (name -> contents) are written into the checkpoint directory too (the live
  // learner's buffered rollouts).
  std::string save_checkpoint(const nlohmann::json& cursor, const nlohmann::json& run_fingerprint,
                              const std::map<std::string, std::string>& extra_files = {});
  // Restores everything save_checkpoint wrote from `dir` and returns its cursor.
  nlohmann::json load_checkpoint(const std::string& dir);

  // The policy's weights as one float32 buffer + manifest (core/model/weights_blob.h), for weight
  // sync to the actors.
  core::WeightsBlob policy_weights();
  // The policy's manifest (names, shapes) without copying data.
  std::vector<core::WeightsEntry> policy_manifest();

  // <output_dir>/final: the policy in Hugging Face layout with the tokenizer files; for gae also
  // <output_dir>/final-critic (the critic checkpoint). Each is swapped in atomically. Returns the
  // final directory.
  std::string save_final();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rlvr::learner
