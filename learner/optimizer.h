// AdamW with transformers-style learning-rate schedules and global-norm gradient clipping.
//
// Parameters whose name contains "bias" or "norm" get no weight decay (as open-instruct
// splits its parameter groups). The schedule is evaluated per optimizer step exactly as
// transformers' get_scheduler("linear"|"cosine"|"constant_with_warmup") with
// num_warmup_steps = int(warmup_ratio x total_steps): the first step of a warmup uses lr 0.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/config/config.h"

namespace rlvr::learner {

// Warmup steps for `total_steps` optimizer steps: int(warmup_ratio x total_steps).
int64_t warmup_steps(const core::OptimConfig& config, int64_t total_steps);

// The multiplier of learning_rate for optimizer step `step` (0-based) of `total_steps`.
double lr_multiplier(const core::OptimConfig& config, int64_t step, int64_t total_steps);

struct OptimizerStepStats {
  double grad_norm = 0;  // global L2 norm of the gradients before clipping
  double lr = 0;         // learning rate used by this step
};

// AdamW over named parameters. Not thread-safe; owned by one training loop.
class Optimizer {
 public:
  // REQUIRES: every tensor requires grad. `total_steps` >= 1 sets the schedule's length.
  Optimizer(const std::vector<std::pair<std::string, at::Tensor>>& named_parameters,
            const core::OptimConfig& config, int64_t total_steps);
  ~Optimizer();
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // Clips gradients (when max_grad_norm > 0), applies this step's learning rate, updates the
  // parameters and zeroes the gradients. Parameters without a gradient are skipped.
  // A NaN or infinite global gradient norm throws rlvr::Error naming the step (steps_taken() + 1)
  // before anything changes: parameters, moments, gradients and steps_taken() stay as they were,
  // so a non-finite gradient never reaches the weights.
  // `schedule_step` >= 0 evaluates the schedule at that step (at most total_steps) instead of
  // steps_taken(): a run on a time budget follows its clock (sft_dpo/trainer.cpp).
  OptimizerStepStats step(int64_t schedule_step = -1);

  // Optimizer steps taken so far (also restored by load()).
  int64_t steps_taken() const;

  // Serializes moments, step counts and steps_taken() to bytes / restores them.
  // load() throws rlvr::Error (naming `source`) on a corrupt or mismatched state.
  std::string save() const;
  void load(const std::string& bytes, const std::string& source);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rlvr::learner
