// <output_dir>/rollouts.jsonl: every sample the learner trained on, as the Python frameworks dump
// rollouts for debugging. Torch-free.
//
// One line per sample: the rollout record (core/data/rollout.h) plus "step" (the learner step
// that used it), "reward" (shaped), "advantage" and "trained" (false: left out of the loss).
// Appending is one write per step; a crash leaves at most a torn last line, which the next open
// drops. Beyond `max_bytes` the file is renamed to rollouts.jsonl.1 (replacing an older one) and a
// new file starts. On resume the rows of steps after the checkpoint are dropped, so a resumed
// run's log equals an uninterrupted one's. Not thread-safe; one writer per file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/data/rollout.h"

namespace rlvr::learner {

struct RlSampleOutcome;

class RolloutLog {
 public:
  // Opens `path` (created if missing). `resume_after_step` >= 0 drops rows of later steps (and a
  // torn last line); -1 starts a fresh file. `max_bytes` 0 never rotates. Throws rlvr::Error
  // naming the path on I/O failure.
  RolloutLog(std::string path, int64_t resume_after_step, int64_t max_bytes);

  // Appends the samples of learner step `step`. REQUIRES: outcomes.size() == samples.size().
  // Throws rlvr::Error on I/O failure.
  void append(int64_t step, const std::vector<core::RolloutSample>& samples,
              const std::vector<RlSampleOutcome>& outcomes);

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int64_t max_bytes_;
};

}  // namespace rlvr::learner
