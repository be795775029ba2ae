// Fuzz target: a run's metrics.jsonl as the report reads it (tools/report/metrics_reader.h
// parse_metrics_text) and the SVG line charts drawn from it (tools/report/svg_chart.h), which
// turn any finite double (1e308, -0, denormals) into coordinates and tick labels.
//
// Input: the file's bytes. The reader is tolerant by contract: it never throws for bad lines.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "tools/report/metrics_reader.h"
#include "tools/report/svg_chart.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  rlvr::fuzz::quiet_logging();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rlvr::tools;
  const std::string text(rlvr::fuzz::as_view(data, size));
  MetricsFile m = parse_metrics_text(text, "metrics.jsonl");
  RLVR_FUZZ_EXPECT(m.rows + m.skipped_lines == m.lines, "rows + skipped != lines");
  RLVR_FUZZ_EXPECT(m.problems.size() <= MetricsFile::kMaxProblems, "too many problems kept");
  std::vector<Series> all;
  for (const auto& [name, points] : m.values) {
    Series s;
    s.name = name;
    for (const auto& [x, y] : points) {
      s.x.push_back(x);
      s.y.push_back(y);
    }
    all.push_back(downsample_min_max(s, 8));
    ChartSpec spec;
    spec.title = name;
    spec.y_label = name;
    spec.id = "chart";
    if (all.back().point_count() > 0) (void)render_line_chart(spec, {all.back()});
  }
  if (all.size() >= 2 && (all[0].point_count() > 0 || all[1].point_count() > 0)) {
    (void)render_line_chart(ChartSpec{"two", "step", "value", "two"}, {all[0], all[1]});
  }
  return 0;
}
