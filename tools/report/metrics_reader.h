// Reading a run's metrics.jsonl for the report: one numeric series per metric name over steps.
//
// Tolerant by design (a report of a crashed or hand-edited run is still useful): a line that is
// not a JSON object with a numeric "step" is skipped and recorded as "<file>:<line>: <what>";
// non-finite values (null, NaN, Infinity, 1e999) are skipped and counted. Python-style NaN /
// Infinity / -Infinity tokens are accepted as non-finite values rather than failing the line.
// Torch-free.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace rlvr::tools {

// Everything read from one metrics.jsonl. A plain value; safe to share read-only across threads.
struct MetricsFile {
  std::string path;
  // The distinct steps of every accepted row, ascending. A series has a gap between two of its
  // points when a step of this list lies between them (the metric was absent or non-finite there).
  std::vector<double> steps;
  // metric name -> step -> value (finite only). "step" itself is not a metric; a later row with
  // the same step and name overwrites an earlier one.
  std::map<std::string, std::map<double, double>> values;
  int64_t lines = 0;             // non-blank lines read
  int64_t rows = 0;              // lines accepted
  int64_t skipped_lines = 0;     // malformed lines skipped
  int64_t nonfinite_values = 0;  // null / NaN / Inf values skipped
  // "<path>:<line>: <what was wrong>" for the first kMaxProblems skipped lines.
  std::vector<std::string> problems;
  static constexpr size_t kMaxProblems = 20;

  bool has(const std::string& name) const { return values.count(name) != 0; }
};

// Reads `path`. Each skipped line is logged as a warning naming file:line. Throws rlvr::Error
// naming the path when the file cannot be read.
MetricsFile read_metrics_file(const std::string& path);

// The same from text already in memory (`path` is used in messages only).
MetricsFile parse_metrics_text(const std::string& text, const std::string& path);

namespace detail {
// Rewrites bare NaN, Infinity and -Infinity tokens and number literals that overflow a double
// (1e999) outside JSON strings to null and returns how many it rewrote (exposed for tests).
int replace_nonfinite_tokens(std::string& line);
}  // namespace detail

}  // namespace rlvr::tools
