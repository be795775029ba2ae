// CollapseGuard: decides, step by step, whether a live RL run's learning collapsed, so the learner
// stops with a clear message instead of training on (rl.collapse in docs/CONFIG.md, docs/RL.md).
// Two checks over the last `window` steps:
//  - no signal: the mean fraction of groups with mixed rewards is below min_mixed_fraction while
//    the mean accuracy is below 0.99 (every group all wrong, or all equal: GRPO learns nothing;
//    a policy that gets everything right is not a collapse);
//  - reward collapse: the window's mean reward is below (1 - reward_drop) x the best window mean
//    seen so far, when that best is positive.
// Torch-free. Not thread-safe (the learner's trainer thread owns it).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "core/config/config.h"

namespace rlvr::learner {

class CollapseGuard {
 public:
  explicit CollapseGuard(core::CollapseConfig config) : config_(config) {}

  // Records step `step`'s mean reward, accuracy and fraction of groups whose rewards were all
  // equal. Returns why the run collapsed, or nothing.
  std::optional<std::string> add(int64_t step, double reward_mean, double accuracy, double zero_signal_fraction);

 private:
  struct Row {
    double reward, accuracy, mixed;
  };
  core::CollapseConfig config_;
  std::deque<Row> rows_;
  std::optional<double> best_;  // the best window mean reward so far
  double best_step_ = 0;
};

}  // namespace rlvr::learner
