// The run directory: resolved config, metrics.jsonl, logs and checkpoints of one run.
//
//   <dir>/config.yaml     the fully resolved config (written atomically)
//   <dir>/metrics.jsonl   one JSON object per step: {"step", "time", <scalars>...}
//   <dir>/logs/rlvr.log   the log (console + file)
//   <dir>/checkpoints/    written by the stages
// and, from `rlvr train` (sft_dpo/trainer.h): final/, summary.json (run.name, steps, losses) and
// resumes.jsonl (one record per resume; learner/run_guard.h).
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace rlvr::core {

// Appends one JSON object per line to a metrics.jsonl file.
// Each row is one write(2) on an O_APPEND descriptor, so a crash leaves at most one partial
// last line; opening the file drops such a line. Not thread-safe: one writer per file.
class MetricsWriter {
 public:
  // Opens (creating if missing) `path`. When `resume_after_step` >= 0, rows with a step
  // greater than it are dropped (the run resumes after that step); -1 keeps all rows.
  // Throws rlvr::Error naming the path when the file cannot be opened or rewritten.
  explicit MetricsWriter(const std::string& path, int64_t resume_after_step = -1);
  ~MetricsWriter();
  MetricsWriter(const MetricsWriter&) = delete;
  MetricsWriter& operator=(const MetricsWriter&) = delete;

  // Appends {"step": step, "time": <seconds since the writer opened, plus the time of the
  // last kept row>, name: value...}. Non-finite values are written as null.
  // Throws rlvr::Error when the write fails.
  void write(int64_t step, const std::map<std::string, double>& scalars);

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
  double time_offset_ = 0;  // wall time already spent before a resume
  double start_ = 0;
};

// Creates `dir` (and logs/, checkpoints/), writes `resolved_config_yaml` to config.yaml
// atomically and attaches logs/rlvr.log to the logger. Throws rlvr::Error on I/O failure.
void prepare_run_dir(const std::string& dir, const std::string& resolved_config_yaml);

}  // namespace rlvr::core
