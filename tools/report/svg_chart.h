// SVG line charts for the run report: axes with tick labels, a title, a legend when there are
// several series, gaps where a value is missing, and min/max downsampling for long series.
// Output is inline SVG for an HTML page (no script, no font files, no external references).
// Pure functions over values; thread-safe. Torch-free.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace rlvr::tools {

// Escapes & < > " ' for HTML text and attribute values (also valid inside inline SVG).
std::string html_escape(std::string_view text);

// One line of a chart. x ascending; a NaN y marks a gap: the line is broken there.
struct Series {
  std::string name;
  std::vector<double> x, y;

  // Points with a finite y (gap markers excluded).
  size_t point_count() const;
};

// At most `max_points` points per series. A series with more is cut into max_points / 2 buckets
// of consecutive points; each bucket keeps its minimum and its maximum point (in x order), so
// spikes and the envelope survive; a bucket that contains a gap starts a new line segment.
// REQUIRES: max_points >= 2. A series with <= max_points points is returned unchanged.
Series downsample_min_max(const Series& series, size_t max_points);

struct ChartSpec {
  std::string title;
  std::string x_label = "step";
  std::string y_label;
  // Stable identifier of the chart (used as the figure's id); [A-Za-z0-9_-] only.
  std::string id;
};

// A <figure class="plot"> holding an <svg> line chart with one <path class="series"> per series
// (attribute data-series = the escaped name; single points as <circle>), both axes with ticks
// and labels, a <text class="title">, and a legend when there are two or more series.
// REQUIRES: at least one series has a finite point. Strings are HTML-escaped.
std::string render_line_chart(const ChartSpec& spec, const std::vector<Series>& series);

namespace detail {
// "Nice" axis ticks (steps of 1, 2 or 5 x 10^k) covering [lo, hi], about `target` of them.
std::vector<double> nice_ticks(double lo, double hi, int target);
// A tick label: as few decimals as the tick spacing needs; large/small magnitudes in e-notation.
std::string format_tick(double value, double spacing);
}  // namespace detail

}  // namespace rlvr::tools
