// SVG line charts (see svg_chart.h).
#include "tools/report/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>

#include <fmt/format.h>

#include "core/error.h"

namespace rlvr::tools {

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

size_t Series::point_count() const {
  size_t n = 0;
  for (double v : y) n += std::isfinite(v) ? 1 : 0;
  return n;
}

// --- downsampling -------------------------------------------------------------------------

Series downsample_min_max(const Series& series, size_t max_points) {
  RLVR_ASSERT(max_points >= 2);
  RLVR_ASSERT(series.x.size() == series.y.size());
  const size_t points = series.point_count();
  if (points <= max_points) return series;
  const size_t buckets = max_points / 2;
  Series out;
  out.name = series.name;
  out.x.reserve(max_points + buckets);
  out.y.reserve(max_points + buckets);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  size_t seen = 0;  // finite points consumed so far
  size_t i = 0;
  for (size_t b = 0; b < buckets; ++b) {
    // Bucket b takes finite points [b*points/buckets, (b+1)*points/buckets).
    const size_t end_point = (b + 1) * points / buckets;
    size_t lo = SIZE_MAX, hi = SIZE_MAX;
    bool gap = false;
    while (i < series.y.size() && seen < end_point) {
      if (!std::isfinite(series.y[i])) {
        gap = true;
      } else {
        if (lo == SIZE_MAX || series.y[i] < series.y[lo]) lo = i;
        if (hi == SIZE_MAX || series.y[i] > series.y[hi]) hi = i;
        ++seen;
      }
      ++i;
    }
    // A gap marker before the bucket's first point breaks the line before it.
    if (gap && !out.x.empty()) {
      out.x.push_back(series.x[lo]);
      out.y.push_back(nan);
    }
    const size_t first = std::min(lo, hi), second = std::max(lo, hi);
    out.x.push_back(series.x[first]);
    out.y.push_back(series.y[first]);
    if (second != first) {
      out.x.push_back(series.x[second]);
      out.y.push_back(series.y[second]);
    }
  }
  return out;
}

// --- axes ---------------------------------------------------------------------------------

namespace detail {

std::vector<double> nice_ticks(double lo, double hi, int target) {
  RLVR_ASSERT(std::isfinite(lo) && std::isfinite(hi) && hi > lo && target >= 2);
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / mag;
  const double unit = norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10;
  const double step = unit * mag;
  // Ticks are n * step; for steps below 1 they are computed as n / (1 / step), an exact integer
  // divisor (10^k / {1, 2, 5}), so 0.32 is the double nearest 0.32 and not 0.32000000000000006.
  const double divisor = step < 1 ? std::round(1 / step) : 0;
  auto tick = [&](double n) { return divisor > 0 ? n / divisor : n * step; };
  const double first = std::floor(lo / step + 1e-9), last = std::ceil(hi / step - 1e-9);
  std::vector<double> ticks;
  for (double n = first; n <= last + 0.5; n += 1) {
    const double v = tick(n);
    ticks.push_back(v == 0 ? 0.0 : v);  // no "-0"
  }
  return ticks;
}

std::string format_tick(double value, double spacing) {
  if (value == 0) return "0";
  const double a = std::fabs(value);
  if (a >= 1e6 || a < 1e-4) return fmt::format("{:.3g}", value);
  const int decimals = std::clamp(static_cast<int>(-std::floor(std::log10(spacing) + 1e-9)), 0, 6);
  return fmt::format("{:.{}f}", value, decimals);
}

}  // namespace detail

// --- chart --------------------------------------------------------------------------------

namespace {

constexpr const char* kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
constexpr double kWidth = 640, kPlotHeight = 240;
constexpr double kLeft = 72, kRight = 24, kTop = 34, kBottom = 44;

struct Range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  // A degenerate range gets some room so the line sits in the middle.
  void widen() {
    if (hi > lo) return;
    const double pad = lo == 0 ? 1 : std::fabs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
};

}  // namespace

std::string render_line_chart(const ChartSpec& spec, const std::vector<Series>& series) {
  Range xr, yr;
  for (const auto& s : series) {
    RLVR_ASSERT(s.x.size() == s.y.size());
    for (size_t i = 0; i < s.y.size(); ++i) {
      if (!std::isfinite(s.y[i]) || !std::isfinite(s.x[i])) continue;
      xr.add(s.x[i]);
      yr.add(s.y[i]);
    }
  }
  RLVR_ASSERT(xr.lo <= xr.hi);  // REQUIRES: a finite point
  xr.widen();
  yr.widen();
  const std::vector<double> xt = detail::nice_ticks(xr.lo, xr.hi, 8);
  const std::vector<double> yt = detail::nice_ticks(yr.lo, yr.hi, 5);
  const double x_lo = xt.front(), x_hi = xt.back(), y_lo = yt.front(), y_hi = yt.back();
  const double x_step = xt.size() > 1 ? xt[1] - xt[0] : 1, y_step = yt.size() > 1 ? yt[1] - yt[0] : 1;

  // Legend rows under the plot (only with several series).
  const bool legend = series.size() > 1;
  std::vector<std::pair<double, double>> legend_pos;  // x, y of each entry
  double legend_height = 0;
  if (legend) {
    double lx = kLeft, ly = kTop + kPlotHeight + kBottom + 4;
    for (const auto& s : series) {
      const double w = 28 + 7.0 * static_cast<double>(std::min<size_t>(s.name.size(), 60));
      if (lx + w > kWidth - kRight && lx > kLeft) {
        lx = kLeft;
        ly += 18;
      }
      legend_pos.emplace_back(lx, ly);
      lx += w + 12;
    }
    legend_height = ly - (kTop + kPlotHeight + kBottom) + 14;
  }
  const double height = kTop + kPlotHeight + kBottom + legend_height;
  const double px0 = kLeft, px1 = kWidth - kRight, py0 = kTop, py1 = kTop + kPlotHeight;
  auto sx = [&](double x) { return px0 + (x - x_lo) / (x_hi - x_lo) * (px1 - px0); };
  auto sy = [&](double y) { return py1 - (y - y_lo) / (y_hi - y_lo) * (py1 - py0); };

  const std::string title = html_escape(spec.title);
  std::string o;
  o += fmt::format("<figure class=\"plot\" id=\"{}\">\n", html_escape(spec.id));
  o += fmt::format(
      "<svg class=\"chart\" viewBox=\"0 0 {0} {1}\" width=\"{0}\" height=\"{1}\" role=\"img\" "
      "aria-label=\"{2}\">\n<title>{2}</title>\n",
      kWidth, height, title);
  o += fmt::format("<text class=\"title\" x=\"{}\" y=\"20\" text-anchor=\"middle\">{}</text>\n",
                   (px0 + px1) / 2, title);
  // Grid, ticks and tick labels.
  o += "<g class=\"axis y\">\n";
  for (double t : yt) {
    const double y = sy(t);
    o += fmt::format("<line class=\"grid\" x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\"/>", px0, y, px1, y);
    o += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n", px0 - 6, y + 4,
                     html_escape(detail::format_tick(t, y_step)));
  }
  o += "</g>\n<g class=\"axis x\">\n";
  for (double t : xt) {
    const double x = sx(t);
    o += fmt::format("<line class=\"tick\" x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\"/>", x, py1, x, py1 + 5);
    o += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n", x, py1 + 18,
                     html_escape(detail::format_tick(t, x_step)));
  }
  o += "</g>\n";
  o += fmt::format("<rect class=\"frame\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\"/>\n", px0, py0,
                   px1 - px0, py1 - py0);
  o += fmt::format("<text class=\"label\" x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n",
                   (px0 + px1) / 2, py1 + 36, html_escape(spec.x_label));
  if (!spec.y_label.empty()) {
    o += fmt::format(
        "<text class=\"label\" x=\"14\" y=\"{0:.1f}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {0:.1f})\">{1}"
        "</text>\n",
        (py0 + py1) / 2, html_escape(spec.y_label));
  }
  // Lines: one path per series, broken at gaps; a point with no neighbour is a dot.
  for (size_t k = 0; k < series.size(); ++k) {
    const auto& s = series[k];
    const char* color = kPalette[k % std::size(kPalette)];
    std::string d, dots;
    size_t i = 0;
    while (i < s.y.size()) {
      if (!std::isfinite(s.y[i]) || !std::isfinite(s.x[i])) {
        ++i;
        continue;
      }
      size_t j = i;
      while (j < s.y.size() && std::isfinite(s.y[j]) && std::isfinite(s.x[j])) ++j;
      if (j - i == 1) {
        dots += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"2.5\" fill=\"{}\"/>", sx(s.x[i]), sy(s.y[i]), color);
      } else {
        for (size_t m = i; m < j; ++m) d += fmt::format("{}{:.1f} {:.1f}", m == i ? "M" : "L", sx(s.x[m]), sy(s.y[m]));
      }
      i = j;
    }
    const std::string name = html_escape(s.name);
    o += fmt::format("<g class=\"series\" data-series=\"{}\">", name);
    if (!d.empty()) o += fmt::format("<path d=\"{}\" stroke=\"{}\" fill=\"none\" stroke-width=\"1.5\"/>", d, color);
    o += dots;
    o += "</g>\n";
  }
  if (legend) {
    o += "<g class=\"legend\">\n";
    for (size_t k = 0; k < series.size(); ++k) {
      const auto [lx, ly] = legend_pos[k];
      o += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"16\" height=\"4\" fill=\"{}\"/>", lx, ly - 4,
                       kPalette[k % std::size(kPalette)]);
      o += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n", lx + 22, ly, html_escape(series[k].name));
    }
    o += "</g>\n";
  }
  o += "</svg>\n</figure>\n";
  return o;
}

}  // namespace rlvr::tools
