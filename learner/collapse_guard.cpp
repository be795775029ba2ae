#include "learner/collapse_guard.h"

#include <fmt/format.h>

namespace rlvr::learner {

std::optional<std::string> CollapseGuard::add(int64_t step, double reward_mean, double accuracy,
                                              double zero_signal_fraction) {
  if (config_.window <= 0) return std::nullopt;
  rows_.push_back({reward_mean, accuracy, 1.0 - zero_signal_fraction});
  if (static_cast<int64_t>(rows_.size()) > config_.window) rows_.pop_front();
  if (static_cast<int64_t>(rows_.size()) < config_.window) return std::nullopt;
  double reward = 0, acc = 0, mixed = 0;
  for (const auto& r : rows_) {
    reward += r.reward;
    acc += r.accuracy;
    mixed += r.mixed;
  }
  const double n = static_cast<double>(rows_.size());
  reward /= n;
  acc /= n;
  mixed /= n;
  if (config_.min_mixed_fraction > 0 && mixed < config_.min_mixed_fraction && acc < 0.99) {
    return fmt::format(
        "no learning signal: over steps {}-{} only {:.1f}% of the groups had mixed rewards (rl.collapse."
        "min_mixed_fraction {}) at accuracy {:.3f}; every sample of a group got the same reward, so the advantages "
        "are zero. Check the verifier and the data (rollouts.jsonl has each sample's reason), or start from a "
        "stronger policy",
        step - config_.window + 1, step, 100 * mixed, config_.min_mixed_fraction, acc);
  }
  if (config_.reward_drop > 0 && best_ && *best_ > 0 && reward < (1.0 - config_.reward_drop) * *best_) {
    return fmt::format(
        "the reward collapsed: mean reward {:.3f} over steps {}-{}, below {:.0f}% of the best window mean {:.3f} "
        "(steps up to {:.0f}; rl.collapse.reward_drop {}). Lower optim.learning_rate, raise rl.kl.coef, or resume "
        "from an earlier checkpoint",
        reward, step - config_.window + 1, step, 100 * (1.0 - config_.reward_drop), *best_, best_step_,
        config_.reward_drop);
  }
  if (!best_ || reward > *best_) {
    best_ = reward;
    best_step_ = static_cast<double>(step);
  }
  return std::nullopt;
}

}  // namespace rlvr::learner
