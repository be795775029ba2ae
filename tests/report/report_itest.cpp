// `rlvr report` end to end: the real binary writes report.html, and headless Chromium (Debian
// package `chromium`) renders it with every SVG plot in the DOM. Without Chromium the browser
// test skips, except in CI (CI=true) where it fails: tools/setup installs it.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "core/fs.h"
#include "tests/report/report_fixture.h"
#include "tests/test_util.h"

namespace rlvr::tools {
namespace {

using testing::run_command;
using testing::TempDir;

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + what.size())) ++n;
  return n;
}

bool has(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && (std::string(ci) == "true" || std::string(ci) == "1");
}

bool executable(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

// $RLVR_CHROMIUM when set, else chromium / chromium-browser on PATH; empty when none is found.
std::string find_chromium() {
  if (const char* env = std::getenv("RLVR_CHROMIUM")) return executable(env) ? env : "";
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    for (const char* name : {"chromium", "chromium-browser"}) {
      const std::string candidate = dir + "/" + name;
      if (!dir.empty() && executable(candidate)) return candidate;
    }
  }
  return {};
}

std::string chromium_or_skip_message() {
  return "headless Chromium is missing (set RLVR_CHROMIUM or install the Debian package: apt-get install chromium)";
}

#define CHROMIUM_OR_SKIP(var)                                                                     \
  const std::string var = find_chromium();                                                        \
  if (var.empty()) {                                                                              \
    if (in_ci()) FAIL() << chromium_or_skip_message() << "; it is missing in CI (CI=true): tools/setup installs it"; \
    GTEST_SKIP() << chromium_or_skip_message();                                                   \
  }

std::string chromium_command(const std::string& chromium, const TempDir& profile) {
  return "timeout 180 " + chromium + " --headless --no-sandbox --disable-gpu --disable-dev-shm-usage " +
         "--no-first-run --no-default-browser-check --disable-extensions --user-data-dir=" + profile.path() +
         "/profile";
}

TEST(ReportCli, WritesReportHtmlAndOut) {
  TempDir dir;
  testing::write_pipeline_run(dir);
  const std::string rlvr = RLVR_BINARY;
  auto r = run_command("(" + rlvr + " report " + dir.path() + " 2>/dev/null)");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "wrote " + dir.path() + "/report.html\n");
  const std::string page = core::read_file(dir.path() + "/report.html");
  EXPECT_EQ(count(page, "<figure class=\"plot\""), 15u);

  r = run_command(rlvr + " report " + dir.path() + " --out " + dir.path() + "/sub/other.html --max-points 4");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(core::read_file(dir.path() + "/sub/other.html"), "Downsampled to at most 4 points per line"));
}

TEST(ReportCli, BadInputExitsOneWithOneLine) {
  TempDir dir;
  const std::string rlvr = RLVR_BINARY;
  auto r = run_command(rlvr + " report " + dir.path() + "/missing");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.output, "error: report: run directory '" + dir.path() + "/missing' does not exist\n");
  r = run_command(rlvr + " report " + dir.path() + " --max-points 1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(has(r.output, "--max-points")) << r.output;
  // A malformed metrics line: the report is written and the log warning names file:line.
  const std::string metrics = dir.write("run/metrics.jsonl", "{\"step\":1,\"loss\":1}\n{oops\n{\"step\":2,\"loss\":0.5}\n");
  r = run_command(rlvr + " report " + dir.path() + "/run");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "report: skipped a malformed metrics line: " + metrics + ":2: not valid JSON: '{oops'"))
      << r.output;
  auto help = run_command(rlvr + " report --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_TRUE(has(help.output, "--out")) << help.output;
}

TEST(ReportChromium, RendersEverySvgPlot) {
  CHROMIUM_OR_SKIP(chromium);
  TempDir dir;
  testing::write_pipeline_run(dir);
  const std::string rlvr = RLVR_BINARY;
  auto r = run_command(rlvr + " report " + dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string page = core::read_file(dir.path() + "/report.html");

  // The DOM after Chromium parsed the page: the plots are SVG elements with their lines.
  const std::string dom_path = dir.path() + "/dom.html";
  r = run_command("(" + chromium_command(chromium, dir) + " --dump-dom file://" + dir.path() + "/report.html > " +
                  dom_path + " 2> " + dir.path() + "/chromium.err)");
  ASSERT_EQ(r.exit_code, 0) << core::read_file(dir.path() + "/chromium.err");
  const std::string dom = core::read_file(dom_path);
  EXPECT_EQ(count(dom, "<figure class=\"plot\""), 15u) << dom.substr(0, 2000);
  EXPECT_EQ(count(dom, "<svg"), 15u);
  EXPECT_EQ(count(dom, "<g class=\"series\""), count(page, "<g class=\"series\""));
  EXPECT_EQ(count(dom, "<path d=\"M"), count(page, "<path d=\"M"));
  for (const char* id : {"plot-sft-loss", "plot-dpo-dpo-accuracy", "plot-rlvr-reward", "plot-rlvr-accuracy",
                         "plot-rlvr-kl", "plot-rlvr-entropy", "plot-rlvr-length", "plot-rlvr-staleness",
                         "plot-rlvr-throughput", "plot-rlvr-busy"}) {
    EXPECT_TRUE(has(dom, std::string("id=\"") + id + "\"")) << id;
  }
  // The escaped dataset name stayed text (a legend text node), not a <b> element.
  EXPECT_TRUE(has(dom, ">reward/&lt;b&gt;if&amp;")) << dom.substr(0, 2000);

  // And it paints: a screenshot of the page is a PNG.
  const std::string shot = dir.path() + "/shot.png";
  r = run_command("(" + chromium_command(chromium, dir) + " --window-size=1600,3000 --screenshot=" + shot +
                  " file://" + dir.path() + "/report.html > /dev/null 2>&1)");
  ASSERT_EQ(r.exit_code, 0);
  const std::string png = core::read_file(shot);
  ASSERT_GT(png.size(), 10000u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
}

}  // namespace
}  // namespace rlvr::tools
