// The rlvr CLI: app construction, flag parsing helpers, exit codes of the real binary.
#include "tools/cli.h"

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
  // Parsing a real command line runs its callback; `check` on a valid file must not throw.
  EXPECT_NO_THROW(app.parse("config check " + f + " --set run.seed=3 --set run.name=y", false));
}

}  // namespace
}  // namespace rlvr::tools
