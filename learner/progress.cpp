#include "learner/progress.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace rlvr::learner {

ProgressMeter::ProgressMeter(int64_t total_steps, int64_t start_step)
    : total_steps_(total_steps), start_step_(start_step), step_(start_step),
      start_(Clock::now()), window_start_(start_) {}

void ProgressMeter::step_done(int64_t step, int64_t tokens) {
  step_ = step;
  window_tokens_ += tokens;
}

double ProgressMeter::window_tokens_per_second() const {
  double s = std::chrono::duration<double>(Clock::now() - window_start_).count();
  return s > 0 ? static_cast<double>(window_tokens_) / s : 0.0;
}

double ProgressMeter::eta_seconds() const {
  int64_t done = step_ - start_step_;
  if (done <= 0) return 0;
  double s = std::chrono::duration<double>(Clock::now() - start_).count();
  return s / static_cast<double>(done) * static_cast<double>(std::max<int64_t>(0, total_steps_ - step_));
}

std::string ProgressMeter::format_duration(double seconds) {
  auto total = static_cast<int64_t>(std::llround(std::max(0.0, seconds)));
  int64_t h = total / 3600, m = (total % 3600) / 60, s = total % 60;
  if (h > 0) return fmt::format("{}h{:02d}m", h, m);
  if (m > 0) return fmt::format("{}m{:02d}s", m, s);
  return fmt::format("{}s", s);
}

std::string ProgressMeter::line(double loss, double lr) {
  double pct = total_steps_ > 0 ? 100.0 * static_cast<double>(step_) / static_cast<double>(total_steps_) : 0;
  std::string out = fmt::format("step {}/{} ({:.0f}%) | loss {:.4f} | lr {:.2e} | {:.0f} tok/s | ETA {}", step_,
                                total_steps_, pct, loss, lr, window_tokens_per_second(),
                                format_duration(eta_seconds()));
  window_start_ = Clock::now();
  window_tokens_ = 0;
  return out;
}

}  // namespace rlvr::learner
