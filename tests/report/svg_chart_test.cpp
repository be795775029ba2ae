// SVG line charts: ticks, labels, legend, gaps, escaping and min/max downsampling.
#include "tools/report/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

namespace rlvr::tools {
namespace {

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + what.size())) ++n;
  return n;
}

// The d attribute of the first path.
std::string path_d(const std::string& svg) {
  const size_t start = svg.find("<path d=\"") + 9;
  return svg.substr(start, svg.find('"', start) - start);
}

Series line(const std::string& name, std::vector<double> x, std::vector<double> y) {
  Series s;
  s.name = name;
  s.x = std::move(x);
  s.y = std::move(y);
  return s;
}

TEST(SvgChart, HtmlEscapeCoversEverySpecialCharacter) {
  EXPECT_EQ(html_escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(html_escape("plain/text_1"), "plain/text_1");
}

TEST(SvgChart, NiceTicksCoverTheRangeInRoundSteps) {
  EXPECT_EQ(detail::nice_ticks(1, 30, 8), (std::vector<double>{0, 5, 10, 15, 20, 25, 30}));
  EXPECT_EQ(detail::nice_ticks(0.31, 0.42, 5), (std::vector<double>{0.30, 0.32, 0.34, 0.36, 0.38, 0.40, 0.42}));
  const auto t = detail::nice_ticks(-1, 1, 5);
  EXPECT_EQ(t.front(), -1);
  EXPECT_EQ(t.back(), 1);
  EXPECT_EQ(std::count(t.begin(), t.end(), 0.0), 1);  // an exact zero, never -0 or 1e-17
}

TEST(SvgChart, TickLabelsUseTheDecimalsTheSpacingNeeds) {
  EXPECT_EQ(detail::format_tick(0, 0.1), "0");
  EXPECT_EQ(detail::format_tick(25, 5), "25");
  EXPECT_EQ(detail::format_tick(0.32, 0.02), "0.32");
  EXPECT_EQ(detail::format_tick(1.5, 0.5), "1.5");
  EXPECT_EQ(detail::format_tick(2500000, 500000), "2.5e+06");
  EXPECT_EQ(detail::format_tick(0.00002, 0.00001), "2e-05");
}

TEST(SvgChart, OneSeriesHasTitleAxesTicksAndNoLegend) {
  ChartSpec spec;
  spec.title = "Loss";
  spec.y_label = "loss";
  spec.id = "plot-loss";
  const std::string svg = render_line_chart(spec, {line("loss", {1, 2, 3}, {3, 2, 1})});
  EXPECT_EQ(svg.rfind("<figure class=\"plot\" id=\"plot-loss\">\n<svg class=\"chart\"", 0), 0u) << svg;
  EXPECT_NE(svg.find("<title>Loss</title>"), std::string::npos);
  EXPECT_NE(svg.find(">Loss</text>"), std::string::npos);
  EXPECT_NE(svg.find(">step</text>"), std::string::npos);   // x label
  EXPECT_NE(svg.find("rotate(-90"), std::string::npos);     // y label
  EXPECT_NE(svg.find(">1.5</text>"), std::string::npos);    // y tick labels 1.0 .. 3.0 by 0.5
  EXPECT_NE(svg.find(">3.0</text>"), std::string::npos);
  EXPECT_EQ(count(svg, "<g class=\"series\""), 1u);
  EXPECT_EQ(count(svg, "<g class=\"legend\""), 0u);
  EXPECT_EQ(count(svg, "<path d=\"M"), 1u);
  EXPECT_EQ(count(path_d(svg), "L"), 2u);  // M p1 L p2 L p3
}

TEST(SvgChart, SeveralSeriesGetALegendWithEscapedNames) {
  ChartSpec spec;
  spec.title = "Reward <per> dataset";
  spec.id = "plot-reward";
  const std::string svg = render_line_chart(
      spec, {line("reward/mean", {1, 2}, {0.1, 0.2}), line("reward/<i>x&y</i>", {1, 2}, {0.3, 0.4})});
  EXPECT_EQ(count(svg, "<g class=\"legend\""), 1u);
  EXPECT_NE(svg.find("data-series=\"reward/&lt;i&gt;x&amp;y&lt;/i&gt;\""), std::string::npos);
  EXPECT_NE(svg.find(">reward/&lt;i&gt;x&amp;y&lt;/i&gt;</text>"), std::string::npos);
  EXPECT_NE(svg.find("<title>Reward &lt;per&gt; dataset</title>"), std::string::npos);
  EXPECT_EQ(svg.find("<i>"), std::string::npos);
}

TEST(SvgChart, AGapBreaksTheLineAndALonePointIsADot) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  ChartSpec spec;
  spec.title = "t";
  spec.id = "plot-t";
  // Points 1,2 | gap | 4,5 | gap | 7 alone.
  const std::string svg = render_line_chart(spec, {line("a", {1, 2, 4, 4, 5, 7, 7}, {1, 2, nan, 4, 5, nan, 7})});
  EXPECT_EQ(count(svg, "<path d=\""), 1u);
  const std::string d = path_d(svg);
  EXPECT_EQ(count(d, "M"), 2u) << d;
  EXPECT_EQ(count(d, "L"), 2u) << d;
  EXPECT_EQ(count(svg, "<circle"), 1u);
}

TEST(SvgChart, ConstantSeriesStillGetsARange) {
  ChartSpec spec;
  spec.title = "flat";
  spec.id = "plot-flat";
  const std::string svg = render_line_chart(spec, {line("a", {5}, {0})});
  EXPECT_EQ(count(svg, "<circle"), 1u);
  EXPECT_NE(svg.find(">-1.0</text>"), std::string::npos) << svg;
  EXPECT_NE(svg.find(">1.0</text>"), std::string::npos);
}

TEST(SvgChart, DownsamplingKeepsMinMaxPerBucketWithinTheLimit) {
  Series s;
  s.name = "loss";
  for (int i = 0; i < 10000; ++i) {
    s.x.push_back(i);
    s.y.push_back(std::sin(i * 0.01));
  }
  s.y[4321] = 50;    // a spike
  s.y[7777] = -40;   // a dip
  const Series d = downsample_min_max(s, 2000);
  EXPECT_LE(d.point_count(), 2000u);
  EXPECT_GE(d.point_count(), 1900u);
  EXPECT_EQ(*std::max_element(d.y.begin(), d.y.end()), 50);
  EXPECT_EQ(*std::min_element(d.y.begin(), d.y.end()), -40);
  EXPECT_TRUE(std::is_sorted(d.x.begin(), d.x.end()));
  EXPECT_EQ(d.x.front(), 0);
  EXPECT_EQ(d.name, "loss");
}

TEST(SvgChart, DownsamplingKeepsGapsAndLeavesShortSeriesAlone) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Series s;
  for (int i = 0; i < 100; ++i) {
    if (i == 50) {
      s.x.push_back(i);
      s.y.push_back(nan);
    }
    s.x.push_back(i);
    s.y.push_back(i);
  }
  const Series same = downsample_min_max(s, 100);
  EXPECT_EQ(same.x, s.x);
  const Series d = downsample_min_max(s, 10);
  EXPECT_EQ(d.point_count(), 10u);
  EXPECT_EQ(std::count_if(d.y.begin(), d.y.end(), [](double v) { return std::isnan(v); }), 1);
}

}  // namespace
}  // namespace rlvr::tools
