// metrics.jsonl reading for the report: accepted rows, skipped lines with file:line, non-finite
// values, Python-style NaN tokens.
#include "tools/report/metrics_reader.h"

#include <memory>
#include <sstream>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "tests/test_util.h"

namespace rlvr::tools {
namespace {

// Captures the default logger's output while alive.
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(stream_);
    auto logger = std::make_shared<spdlog::logger>("capture", sink);
    logger->set_level(spdlog::level::info);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  std::string text() const { return stream_.str(); }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::ostringstream stream_;
};

TEST(MetricsReader, ReadsNumericSeriesPerNameAndDistinctSteps) {
  const MetricsFile m = parse_metrics_text(
      "{\"step\":1,\"loss\":2.5,\"mode\":\"sft\"}\n"
      "\n"
      "{\"step\":2,\"loss\":2.0,\"lr\":0.1}\n"
      "{\"step\":2,\"eval/loss\":1.5}\n",
      "m.jsonl");
  EXPECT_EQ(m.lines, 3);
  EXPECT_EQ(m.rows, 3);
  EXPECT_EQ(m.skipped_lines, 0);
  EXPECT_EQ(m.steps, (std::vector<double>{1, 2}));
  EXPECT_EQ(m.values.at("loss"), (std::map<double, double>{{1, 2.5}, {2, 2.0}}));
  EXPECT_EQ(m.values.at("eval/loss"), (std::map<double, double>{{2, 1.5}}));
  EXPECT_FALSE(m.has("mode"));  // strings are not plotted
  EXPECT_FALSE(m.has("step"));
}

TEST(MetricsReader, MalformedLinesAreSkippedWithFileLineAndLogged) {
  LogCapture log;
  const MetricsFile m = parse_metrics_text(
      "{\"step\":1,\"loss\":2.5}\n"
      "{\"step\":2,\"loss\":\n"
      "[1,2]\n"
      "{\"loss\":3}\n"
      "{\"step\":\"x\",\"loss\":3}\n"
      "{\"step\":6,\"loss\":1.0}\n",
      "run/metrics.jsonl");
  EXPECT_EQ(m.rows, 2);
  EXPECT_EQ(m.skipped_lines, 4);
  ASSERT_EQ(m.problems.size(), 4u);
  EXPECT_EQ(m.problems[0], "run/metrics.jsonl:2: not valid JSON: '{\"step\":2,\"loss\":'");
  EXPECT_EQ(m.problems[1], "run/metrics.jsonl:3: expected a JSON object, got array");
  EXPECT_EQ(m.problems[2],
            "run/metrics.jsonl:4: no \"step\" field; expected {\"step\": <integer>, <name>: <number>...}");
  EXPECT_EQ(m.problems[3], "run/metrics.jsonl:5: \"step\" is \"x\"; expected a finite number");
  EXPECT_EQ(m.values.at("loss"), (std::map<double, double>{{1, 2.5}, {6, 1.0}}));
  EXPECT_NE(log.text().find("report: skipped a malformed metrics line: run/metrics.jsonl:2: not valid JSON"),
            std::string::npos)
      << log.text();
  EXPECT_NE(log.text().find("run/metrics.jsonl:5:"), std::string::npos);
}

TEST(MetricsReader, NonFiniteValuesAreSkippedAndCounted) {
  const MetricsFile m = parse_metrics_text(
      "{\"step\":1,\"loss\":null,\"kl\":1}\n"
      "{\"step\":2,\"loss\":NaN,\"kl\":-Infinity,\"note\":\"NaN Infinity\"}\n"
      "{\"step\":3,\"loss\":1e999,\"kl\":Infinity}\n"
      "{\"step\":4,\"loss\":0.5,\"kl\":2}\n",
      "m.jsonl");
  EXPECT_EQ(m.rows, 4);
  EXPECT_EQ(m.skipped_lines, 0);
  EXPECT_EQ(m.nonfinite_values, 5);
  EXPECT_EQ(m.values.at("loss"), (std::map<double, double>{{4, 0.5}}));
  EXPECT_EQ(m.values.at("kl"), (std::map<double, double>{{1, 1}, {4, 2}}));
  EXPECT_EQ(m.steps, (std::vector<double>{1, 2, 3, 4}));
}

TEST(MetricsReader, NonFiniteTokensInsideStringsAreLeftAlone) {
  std::string line = R"({"a":"NaN \"Infinity\" 1e999","b":NaN,"c":-Infinity,"d":-2e-999,"e":1.5e3,"f":-1E400})";
  EXPECT_EQ(detail::replace_nonfinite_tokens(line), 3);
  EXPECT_EQ(line, R"({"a":"NaN \"Infinity\" 1e999","b":null,"c":null,"d":-2e-999,"e":1.5e3,"f":null})");
}

TEST(MetricsReader, OnlyTheFirstProblemsAreKeptButAllAreCounted) {
  std::string text;
  for (int i = 0; i < 30; ++i) text += "garbage\n";
  const MetricsFile m = parse_metrics_text(text, "m.jsonl");
  EXPECT_EQ(m.skipped_lines, 30);
  EXPECT_EQ(m.problems.size(), MetricsFile::kMaxProblems);
}

TEST(MetricsReader, UnreadableFileIsAnErrorNamingIt) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/none/metrics.jsonl";
  const std::string msg = testing::error_message([&] { read_metrics_file(path); });
  EXPECT_EQ(msg, path + ": cannot open for reading: No such file or directory");
}

}  // namespace
}  // namespace rlvr::tools
