// The rlvr CLI: app construction, flag parsing helpers, exit codes of the real binary.
#include "tools/cli.h"

#include <limits>

#include <CLI/CLI.hpp>
#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace rlvr::tools {
namespace {

using rlvr::testing::error_message;
using rlvr::testing::TempDir;

TEST(Cli, ParseIntList) {
  EXPECT_EQ(parse_int_list("1,2, 3", "--tokens"), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(parse_int_list("-5", "--tokens"), (std::vector<int64_t>{-5}));
  EXPECT_EQ(error_message([] { parse_int_list("1,x", "--tokens"); }),
            "--tokens: 'x' is not an integer (expected a comma-separated list like 1,2,3)");
  EXPECT_EQ(error_message([] { parse_int_list("1,,2", "--ids"); }),
            "--ids: '' is not an integer (expected a comma-separated list like 1,2,3)");
}

TEST(Cli, AppHasConfigCommandWithSubcommands) {
  CLI::App app;
  build_app(app);
  auto* config = app.get_subcommand("config");
  ASSERT_NE(config, nullptr);
  EXPECT_NE(config->get_subcommand("check"), nullptr);
  EXPECT_NE(config->get_subcommand("show"), nullptr);
  EXPECT_NE(config->get_subcommand("docs"), nullptr);
}

TEST(Cli, ParsesRepeatedSetFlags) {
  CLI::App app;
  build_app(app);
  TempDir dir;
  std::string f = dir.write("c.yaml", "run:\n  seed: 2\n");
  // `config show` prints the resolved config: every --set is applied, in order, the last one winning.
  ::testing::internal::CaptureStdout();
  app.parse("config show " + f + " --set run.seed=3 --set run.name=y --set run.seed=4", false);
  const std::string shown = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(shown.find("  seed: 4\n"), std::string::npos) << shown;
  EXPECT_EQ(shown.find("  seed: 3\n"), std::string::npos) << shown;
  EXPECT_EQ(shown.find("  seed: 2\n"), std::string::npos) << shown;
  EXPECT_NE(shown.find("  name: \"y\"\n"), std::string::npos) << shown;
  // A bad --set is an error naming the override, not ignored.
  CLI::App app2;
  build_app(app2);
  EXPECT_THROW(app2.parse("config check " + f + " --set run.seed=-1", false), rlvr::Error);
}

TEST(Cli, IntegerFlagValidatorSaysWhatIsAllowed) {
  CLI::Validator v = int_in(1, 1048576);
  std::string text = "1e3";
  EXPECT_EQ(v(text), "'1e3' is not an integer; expected an integer from 1 to 1048576");
  text = "0";
  EXPECT_EQ(v(text), "0 is out of range; expected an integer from 1 to 1048576");
  text = "99999999999999999999999";
  EXPECT_EQ(v(text), "'99999999999999999999999' is out of range; expected an integer from 1 to 1048576");
  text = "+12";
  EXPECT_EQ(v(text), "");
  text = "12";
  EXPECT_EQ(v(text), "");
  CLI::Validator seed = int_in(0, std::numeric_limits<int64_t>::max());
  text = "-1";
  EXPECT_EQ(seed(text), "-1 is out of range; expected an integer from 0 to 9223372036854775807");
}

TEST(Cli, NumberFlagValidatorRejectsNanAndOpenBounds) {
  CLI::Validator top_p = number_in(0.0, 1.0, /*lo_open=*/true);
  std::string text = "0";
  EXPECT_EQ(top_p(text), "0 is out of range; expected a number in (0, 1]");
  text = "1";
  EXPECT_EQ(top_p(text), "");
  text = "0.95";
  EXPECT_EQ(top_p(text), "");
  CLI::Validator temp = number_in(0.0, 100.0);
  text = "nan";
  EXPECT_EQ(temp(text), "'nan' is not a finite number; expected a number in [0, 100]");
  text = "1x";
  EXPECT_EQ(temp(text), "'1x' is not a number; expected a number in [0, 100]");
  text = "0";
  EXPECT_EQ(temp(text), "");
}

TEST(Cli, OutputPathEqualToAnInputIsRefused) {
  TempDir dir;
  std::string in = dir.write("p.jsonl", "{}\n");
  EXPECT_EQ(error_message([&] { check_distinct_paths(in, "--prompts", in, "--out"); }),
            "--out " + in + " is the same file as --prompts " + in + "; writing it would destroy the input");
  // The same file through another spelling.
  std::string other = dir.path() + "/./sub/../p.jsonl";
  EXPECT_THROW(check_distinct_paths(in, "--prompts", other, "--out"), rlvr::Error);
  EXPECT_NO_THROW(check_distinct_paths(in, "--prompts", dir.path() + "/out.jsonl", "--out"));
}

}  // namespace
}  // namespace rlvr::tools
