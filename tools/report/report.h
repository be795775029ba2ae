// `rlvr report`: one self-contained HTML page about a run directory (report.html).
//
// Works on a pipeline run directory (RUN/results.json, RUN/state.json, RUN/<stage>/ for the
// stages sft, dpo, rlvr; see docs/REPORT.md) and on a single run directory (RUN/metrics.jsonl
// as written by `rlvr train` or `rlvr launch`). The page has the stage table from results.json,
// each stage's summary.json facts, and inline SVG line charts of the metrics (loss, reward and
// accuracy per dataset, KL, entropy, response length, staleness, throughput, learner/actor busy
// time, DPO preference accuracy and margin). No script, no font, no network reference: inline
// CSS and SVG only. Every string that comes from a file is HTML-escaped.
//
// Bad input: malformed metrics lines are skipped, logged with file:line and listed on the page;
// non-finite values are skipped; an unreadable results.json / state.json / summary.json is
// reported on the page. Torch-free; the functions are thread-safe (no shared state).
#pragma once

#include <cstddef>
#include <string>

namespace rlvr::tools {

struct ReportOptions {
  // Longer series are downsampled (min/max per bucket, svg_chart.h). Default 2000; >= 2.
  size_t max_points_per_line = 2000;
};

// The report page for `run_dir`. Throws rlvr::Error naming the directory when it does not exist
// or holds neither metrics.jsonl nor a pipeline's results.json / state.json / stage directories.
std::string render_report(const std::string& run_dir, const ReportOptions& options = {});

// Renders `run_dir` and writes it atomically to `out_path` (core::write_file_atomic).
// Throws rlvr::Error as render_report does, or naming `out_path` when it cannot be written.
void write_report(const std::string& run_dir, const std::string& out_path, const ReportOptions& options = {});

// Writes <run_dir>/report.html (what `rlvr pipeline` calls at its end).
void write_report(const std::string& run_dir);

}  // namespace rlvr::tools
