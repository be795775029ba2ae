// The progress line of a training loop: step/total, loss, lr, tokens/s and ETA. Torch-free.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace rlvr::learner {

// Measures throughput and estimates the time left. Not thread-safe; owned by one loop.
class ProgressMeter {
 public:
  // `start_step` is the step a resumed run starts from (0 for a fresh run); the ETA counts
  // only steps run by this process.
  ProgressMeter(int64_t total_steps, int64_t start_step);

  // Records that optimizer step `step` (1-based) finished after training on `tokens` tokens.
  void step_done(int64_t step, int64_t tokens);

  // Tokens per second since the previous call of line() (or since construction).
  double window_tokens_per_second() const;
  // Seconds left at the average step time of this process; 0 before the first step.
  double eta_seconds() const;

  // "step 12/100 (12%) | loss 1.2345 | lr 2.00e-05 | 4,321 tok/s | ETA 1m05s" and starts a
  // new throughput window.
  std::string line(double loss, double lr);

  // "1h02m", "3m05s", "42s".
  static std::string format_duration(double seconds);

 private:
  using Clock = std::chrono::steady_clock;
  int64_t total_steps_, start_step_, step_ = 0;
  Clock::time_point start_, window_start_;
  int64_t window_tokens_ = 0;
};

}  // namespace rlvr::learner
