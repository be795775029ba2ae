// The report page on hand-written run directories: which plots appear with which series, the
// stage table, summaries, escaping, bad input, downsampling, and the single-run layout.
#include "tools/report/report.h"

#include <filesystem>

#include <gtest/gtest.h>

#include "core/fs.h"
#include "tests/report/report_fixture.h"
#include "tests/test_util.h"

namespace rlvr::tools {
namespace {

using testing::TempDir;

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + what.size())) ++n;
  return n;
}

bool has(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

// The <figure> with this id, up to its end.
std::string figure(const std::string& page, const std::string& id) {
  const size_t start = page.find("<figure class=\"plot\" id=\"" + id + "\">");
  if (start == std::string::npos) return {};
  return page.substr(start, page.find("</figure>", start) - start);
}

std::vector<std::string> series_names(const std::string& fig) {
  std::vector<std::string> names;
  const std::string key = "data-series=\"";
  for (size_t pos = fig.find(key); pos != std::string::npos; pos = fig.find(key, pos + 1)) {
    const size_t start = pos + key.size();
    names.push_back(fig.substr(start, fig.find('"', start) - start));
  }
  return names;
}

const std::string kEvilEscaped = "&lt;b&gt;if&amp;&quot;eval&#39;&lt;/b&gt;";

TEST(Report, PipelineRunHasEachStagesPlotsWithTheirSeries) {
  TempDir dir;
  testing::write_pipeline_run(dir);
  const std::string page = render_report(dir.path());

  EXPECT_EQ(series_names(figure(page, "plot-sft-loss")), (std::vector<std::string>{"loss"}));
  EXPECT_EQ(series_names(figure(page, "plot-sft-throughput")), (std::vector<std::string>{"tokens_per_second"}));
  EXPECT_EQ(series_names(figure(page, "plot-dpo-loss")), (std::vector<std::string>{"loss"}));
  EXPECT_EQ(series_names(figure(page, "plot-dpo-dpo-accuracy")), (std::vector<std::string>{"rewards/accuracies"}));
  EXPECT_EQ(series_names(figure(page, "plot-dpo-dpo-margin")), (std::vector<std::string>{"rewards/margins"}));
  EXPECT_EQ(series_names(figure(page, "plot-rlvr-loss")), (std::vector<std::string>{"loss/policy"}));
  EXPECT_EQ(series_names(figure(page, "plot-rlvr-reward")),
            (std::vector<std::string>{"reward/mean", "reward/" + kEvilEscaped, "reward/gsm8k"}));
  EXPECT_EQ(series_names(figure(page, "plot-rlvr-accuracy")),
            (std::vector<std::string>{"accuracy", "accuracy/" + kEvilEscaped, "accuracy/gsm8k"}));
  EXPECT_EQ(series_names(figure(page, "plot-rlvr-kl")), (std::vector<std::string>{"kl/k1", "kl/k3"}));
  EXPECT_EQ(series_names(figure(page, "plot-rlvr-entropy")), (std::vector<std::string>{"entropy"}));
  EXPECT_EQ(series_names(figure(page, "plot-rlvr-length")), (std::vector<std::string>{"length/mean"}));
  EXPECT_EQ(series_names(figure(page, "plot-rlvr-staleness")),
            (std::vector<std::string>{"staleness/mean", "staleness/max"}));
  EXPECT_EQ(series_names(figure(page, "plot-rlvr-throughput")),
            (std::vector<std::string>{"tokens_per_second", "rollouts/generated_tokens_per_s"}));
  EXPECT_EQ(series_names(figure(page, "plot-rlvr-busy")),
            (std::vector<std::string>{"learner/busy_fraction", "actors/generating_fraction"}));
  // 2 sft + 4 dpo + 9 rlvr plots, nothing drawn empty.
  EXPECT_EQ(count(page, "<figure class=\"plot\""), 15u);
  EXPECT_EQ(count(page, "<svg"), 15u);
  EXPECT_EQ(figure(page, "plot-sft-kl"), "");
  EXPECT_EQ(figure(page, "plot-rlvr-dpo-margin"), "");
  // Each stage says which plots it left out and which keys they need.
  EXPECT_TRUE(has(page, "Not drawn, their metrics are absent from this run: Reward per dataset (reward/mean, "
                        "reward/&lt;dataset&gt;); Accuracy per dataset (accuracy, accuracy/&lt;dataset&gt;); "
                        "KL to the reference (kl/k1, kl/k3);"));
  EXPECT_TRUE(has(page, "DPO reward margin (rewards/margins).</p>"));
  // Stage headings with state.json's status and wall time, in its order.
  const size_t sft = page.find("<h2 id=\"stage-sft\">Stage sft <small>(done, 12.5 s)</small></h2>");
  const size_t dpo = page.find("<h2 id=\"stage-dpo\">Stage dpo <small>(done, 8.2 s)</small></h2>");
  const size_t rlvr = page.find("<h2 id=\"stage-rlvr\">Stage rlvr <small>(done, 30.0 s)</small></h2>");
  ASSERT_NE(sft, std::string::npos);
  ASSERT_NE(dpo, std::string::npos);
  ASSERT_NE(rlvr, std::string::npos);
  EXPECT_LT(sft, dpo);
  EXPECT_LT(dpo, rlvr);
  EXPECT_FALSE(has(page, "Input problems"));
}

TEST(Report, AMissingDatasetStepIsAGapInItsLine) {
  TempDir dir;
  testing::write_pipeline_run(dir);
  const std::string fig = figure(render_report(dir.path()), "plot-rlvr-reward");
  // reward/<evil> is absent at step 5 of 12: its path has two pieces; reward/gsm8k has one.
  const size_t evil = fig.find("data-series=\"reward/" + kEvilEscaped + "\"><path d=\"");
  const size_t gsm = fig.find("data-series=\"reward/gsm8k\"><path d=\"");
  ASSERT_NE(evil, std::string::npos);
  ASSERT_NE(gsm, std::string::npos);
  auto d_of = [&](size_t at) {
    const size_t start = fig.find("d=\"", at) + 3;
    return fig.substr(start, fig.find('"', start) - start);
  };
  EXPECT_EQ(count(d_of(evil), "M"), 2u);
  EXPECT_EQ(count(d_of(evil), "L"), 9u);  // 11 points in runs of 4 and 7
  EXPECT_EQ(count(d_of(gsm), "M"), 1u);
  EXPECT_EQ(count(d_of(gsm), "L"), 11u);
}

TEST(Report, StageTableFromResultsJson) {
  TempDir dir;
  testing::write_pipeline_run(dir);
  const std::string page = render_report(dir.path());
  EXPECT_TRUE(has(page,
                  "<tr><th class=\"name\">stage</th><th>accuracy (all)</th><th>accuracy gsm8k</th><th>accuracy " +
                      kEvilEscaped + "</th><th>pass@1 (all)</th><th>pass@4 (all)</th><th>mean length</th>"
                      "<th>no-EOS fraction</th><th>wall time (s)</th></tr>"))
      << page;
  EXPECT_TRUE(has(page,
                  "<tr><td class=\"name\">sft</td><td>0.412</td><td>0.362</td><td>0.462</td><td>0.412</td>"
                  "<td>0.512</td><td>31.2</td><td>0.062</td><td>12.5</td></tr>"));
  EXPECT_TRUE(has(page, "<tr><td class=\"name\">init</td><td>0.000</td>"));
  EXPECT_LT(page.find(">init<"), page.find(">rlvr</td>"));
}

TEST(Report, StateAndResultsAsRlvrPipelineWritesThem) {
  // rlvr pipeline's state.json keys stages by kind; results.json lists its datasets in order.
  TempDir dir;
  testing::write_pipeline_run(dir);
  dir.write("state.json",
            R"({"init": {"status": "done", "wall_s": 3}, "evals": {"init": {"status": "done"}},
                "stages": {"rlvr": {"status": "running", "wall_s": 7.5}, "dpo": {"status": "done", "wall_s": 2},
                           "sft": {"status": "done", "wall_s": 1}}})");
  const std::string results = core::read_file(dir.path() + "/results.json");
  dir.write("results.json", "{\"datasets\": [\"<b>if&\\\"eval'</b>\", \"gsm8k\"], " + results.substr(1));
  const std::string page = render_report(dir.path());
  EXPECT_FALSE(has(page, "Input problems")) << page;
  const size_t sft = page.find("<h2 id=\"stage-sft\">Stage sft <small>(done, 1.0 s)</small></h2>");
  const size_t dpo = page.find("<h2 id=\"stage-dpo\">Stage dpo <small>(done, 2.0 s)</small></h2>");
  const size_t rlvr = page.find("<h2 id=\"stage-rlvr\">Stage rlvr <small>(running, 7.5 s)</small></h2>");
  ASSERT_NE(sft, std::string::npos) << page;
  ASSERT_NE(dpo, std::string::npos);
  ASSERT_NE(rlvr, std::string::npos);
  EXPECT_LT(sft, dpo);
  EXPECT_LT(dpo, rlvr);
  // The "datasets" list orders the columns (the rows name gsm8k first).
  EXPECT_TRUE(has(page, "<th>accuracy (all)</th><th>accuracy " + kEvilEscaped + "</th><th>accuracy gsm8k</th>"));
  EXPECT_TRUE(has(page, "<tr><td class=\"name\">sft</td><td>0.412</td><td>0.462</td><td>0.362</td>"));

  dir.write("state.json", "{\"stages\": 3}");
  EXPECT_TRUE(has(render_report(dir.path()),
                  "<li>" + dir.path() +
                      "/state.json: expected {&quot;stages&quot;: [...]} or {&quot;stages&quot;: {&lt;stage&gt;: "
                      "{...}}}</li>"));
}

TEST(Report, SummaryFactsIncludeTheRlAccounting) {
  TempDir dir;
  testing::write_pipeline_run(dir);
  const std::string page = render_report(dir.path());
  EXPECT_TRUE(has(page, "<tr><td class=\"name\">steps</td><td class=\"name\">30</td></tr>"));
  EXPECT_TRUE(has(page, "<tr><td class=\"name\">last_loss</td><td class=\"name\">1.25</td></tr>"));
  EXPECT_TRUE(has(page, "<tr><td class=\"name\">eval_loss</td><td class=\"name\">&ndash;</td></tr>"));
  EXPECT_TRUE(has(page, "<tr><td class=\"name\">accounting.granted</td><td class=\"name\">96</td></tr>"));
  EXPECT_TRUE(has(page, "<tr><td class=\"name\">accounting.balanced</td><td class=\"name\">true</td></tr>"));
  // In the file's order, not sorted.
  EXPECT_LT(page.find(">tiny-sft<"), page.find(">mode<"));
  EXPECT_LT(page.find(">accounting.trained<"), page.find(">accounting.balanced<"));
}

TEST(Report, EveryStringFromFilesIsEscapedAndThePageIsSelfContained) {
  TempDir dir;
  testing::write_pipeline_run(dir);
  dir.write("sft/summary.json", R"({"name": "<script>alert(1)</script>", "final_dir": "/a&b/\"q\""})");
  const std::string page = render_report(dir.path());
  EXPECT_FALSE(has(page, "<b>"));
  EXPECT_FALSE(has(page, "<script"));
  EXPECT_TRUE(has(page, "&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_TRUE(has(page, "/a&amp;b/&quot;q&quot;"));
  EXPECT_TRUE(has(page, kEvilEscaped));
  for (const char* external : {"http:", "https:", "url(", "@import", "@font-face", "<link", "<img", "src="}) {
    EXPECT_FALSE(has(page, external)) << external;
  }
  EXPECT_EQ(page.rfind("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">", 0), 0u);
}

TEST(Report, MalformedMetricsLinesAreSkippedAndListedOnThePage) {
  TempDir dir;
  testing::write_pipeline_run(dir);
  const std::string path =
      dir.write("dpo/metrics.jsonl", "{\"step\":1,\"loss\":0.7}\nnot json at all\n{\"step\":2,\"loss\":null}\n"
                                     "{\"step\":3,\"loss\":0.6}\n{\"step\":4,\"loss\":");
  const std::string page = render_report(dir.path());
  EXPECT_TRUE(has(page, "<li>" + path + ": 2 malformed line(s) skipped</li>")) << page;
  EXPECT_TRUE(has(page, "<li>" + path + ":2: not valid JSON: &#39;not json at all&#39;</li>"));
  EXPECT_TRUE(has(page, "<li>" + path + ":5: not valid JSON: &#39;{&quot;step&quot;:4,&quot;loss&quot;:&#39;</li>"));
  EXPECT_TRUE(has(page, "<li>" + path + ": 1 non-finite value(s) (null, NaN, Infinity) skipped</li>"));
  // The good rows are still drawn: steps 1 and 3 with a gap at 2, so two dots.
  const std::string fig = figure(page, "plot-dpo-loss");
  EXPECT_EQ(series_names(fig), (std::vector<std::string>{"loss"}));
  EXPECT_EQ(count(fig, "<circle"), 2u);
}

TEST(Report, BadJsonFilesAreReportedAndTheRestIsDrawn) {
  TempDir dir;
  testing::write_pipeline_run(dir);
  dir.write("results.json", "{\"rows\": [1, {\"point\": \"sft\"}]}");
  dir.write("rlvr/summary.json", "{ broken");
  const std::string page = render_report(dir.path());
  EXPECT_TRUE(has(page, "<li>" + dir.path() + "/results.json: rows[0] is number; expected an object; row left out</li>"));
  EXPECT_TRUE(has(page, "<tr><td class=\"name\">sft</td><td>&ndash;</td>"));
  EXPECT_TRUE(has(page, "<li>" + dir.path() + "/rlvr/summary.json: not valid JSON ("));
  EXPECT_FALSE(figure(page, "plot-rlvr-reward").empty());

  dir.write("results.json", "[]");
  EXPECT_TRUE(has(render_report(dir.path()), dir.path() + "/results.json: expected an object with a &quot;rows&quot; "
                                                          "array; the stage table is left out"));
}

TEST(Report, LongSeriesAreDownsampledAndTheNoteSaysHow) {
  TempDir dir;
  dir.write("metrics.jsonl", testing::sft_metrics(1000));
  ReportOptions options;
  options.max_points_per_line = 100;
  const std::string page = render_report(dir.path(), options);
  const std::string fig = figure(page, "plot-loss");
  const size_t start = fig.find("<path d=\"") + 9;
  const std::string d = fig.substr(start, fig.find('"', start) - start);
  EXPECT_EQ(count(d, "M") + count(d, "L"), 100u);
  EXPECT_TRUE(has(page, "Downsampled to at most 100 points per line (minimum and maximum of each of 50 buckets of "
                        "consecutive steps, so spikes stay visible): loss (1000 points), tokens_per_second (1000 "
                        "points)."))
      << page;
  // At the default limit nothing is downsampled.
  EXPECT_FALSE(has(render_report(dir.path()), "Downsampled"));
}

TEST(Report, SingleRunDirectoryFromRlvrTrainOrLaunch) {
  TempDir dir;
  dir.write("metrics.jsonl", testing::rl_metrics(6));
  dir.write("summary.json", R"({"name": "live", "mode": "rl", "steps": 6})");
  const std::string page = render_report(dir.path());
  EXPECT_TRUE(has(page, "<p class=\"note\">Run directory <span class=\"path\">" + dir.path() + "</span></p>"));
  EXPECT_FALSE(has(page, "id=\"results\""));
  EXPECT_EQ(series_names(figure(page, "plot-loss")), (std::vector<std::string>{"loss/policy"}));
  EXPECT_EQ(series_names(figure(page, "plot-kl")), (std::vector<std::string>{"kl/k1", "kl/k3"}));
  EXPECT_EQ(count(page, "<figure class=\"plot\""), 9u);
  EXPECT_FALSE(has(page, "rlvr: Loss"));
  EXPECT_TRUE(has(page, "<title>Loss</title>"));
}

TEST(Report, PipelineWithoutStateJsonFindsStageDirectories) {
  TempDir dir;
  dir.write("sft/metrics.jsonl", testing::sft_metrics(5));
  dir.write("rlvr/metrics.jsonl", testing::rl_metrics(5));
  const std::string page = render_report(dir.path());
  EXPECT_TRUE(has(page, "Pipeline run directory"));
  EXPECT_TRUE(has(page, "No results.json yet"));
  EXPECT_LT(page.find("id=\"stage-sft\""), page.find("id=\"stage-rlvr\""));
  EXPECT_FALSE(has(page, "id=\"stage-dpo\""));
  EXPECT_TRUE(has(page, "<title>sft: Loss</title>"));
  EXPECT_TRUE(has(page, "<title>rlvr: Loss</title>"));
}

TEST(Report, MissingOrEmptyRunDirectoryIsAnErrorNamingIt) {
  TempDir dir;
  const std::string missing = dir.path() + "/nope";
  EXPECT_EQ(testing::error_message([&] { render_report(missing); }),
            "report: run directory '" + missing + "' does not exist");
  EXPECT_EQ(testing::error_message([&] { render_report(dir.path()); }),
            "report: '" + dir.path() +
                "' holds no metrics.jsonl (a run of rlvr train / rlvr launch) and no results.json, state.json or "
                "sft/, dpo/, rlvr/ stage directories (a pipeline run); expected a run directory");
  const std::string file = dir.write("file.txt", "x");
  EXPECT_EQ(testing::error_message([&] { render_report(file); }),
            "report: '" + file + "' is not a directory; expected a run directory");
}

TEST(Report, WriteReportWritesReportHtmlInTheRunDirectory) {
  TempDir dir;
  testing::write_pipeline_run(dir);
  write_report(dir.path());
  const std::string written = core::read_file(dir.path() + "/report.html");
  EXPECT_EQ(written, render_report(dir.path()));
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
  }
}

}  // namespace
}  // namespace rlvr::tools
