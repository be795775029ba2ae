// The real rlvr binary: exit codes, --help for every subcommand, config check/show.
#include <CLI/CLI.hpp>
#include <gtest/gtest.h>

#include "tests/test_util.h"
#include "tools/cli.h"

namespace rlvr::tools {
namespace {

using rlvr::testing::run_command;
using rlvr::testing::TempDir;

TEST(Cli, BinaryHelpVersionAndErrors) {
  std::string rlvr = RLVR_BINARY;
  auto help = run_command(rlvr + " --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("config"), std::string::npos);
  auto version = run_command(rlvr + " --version");
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_NE(version.output.find("rlvr 0."), std::string::npos);
  auto none = run_command(rlvr);
  EXPECT_NE(none.exit_code, 0);
  auto bogus = run_command(rlvr + " frobnicate");
  EXPECT_NE(bogus.exit_code, 0);
}

TEST(Cli, ConfigCheckExitCodesAndShowRoundTrip) {
  std::string rlvr = RLVR_BINARY;
  TempDir dir;
  std::string bad = dir.write("bad.yaml", "run:\n  name: x\n  sed: 3\n");
  auto r = run_command(rlvr + " config check " + bad);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.output, "error: " + bad + ":3:3: unknown key 'sed' in 'run'; did you mean 'seed'?\n");

  std::string good = dir.write("good.yaml", "run:\n  seed: 3\n");
  EXPECT_EQ(run_command(rlvr + " config check " + good).exit_code, 0);
  EXPECT_EQ(run_command(rlvr + " config check " + good + " --set run.seed=-1").exit_code, 1);

  auto show = run_command(rlvr + " config show " + good + " --set run.name=shown 2>/dev/null");
  ASSERT_EQ(show.exit_code, 0);
  std::string shown = dir.write("shown.yaml", show.output);
  EXPECT_EQ(run_command(rlvr + " config check " + shown).exit_code, 0);
  auto again = run_command(rlvr + " config show " + shown);
  EXPECT_EQ(again.output, show.output);
  EXPECT_NE(show.output.find("name: \"shown\""), std::string::npos);
}

TEST(Cli, EveryCommandHasHelp) {
  CLI::App app;
  build_app(app);
  std::string rlvr = RLVR_BINARY;
  for (auto* sub : app.get_subcommands({})) {
    auto r = run_command(rlvr + " " + sub->get_name() + " --help");
    EXPECT_EQ(r.exit_code, 0) << sub->get_name();
    for (auto* subsub : sub->get_subcommands({})) {
      auto r2 = run_command(rlvr + " " + sub->get_name() + " " + subsub->get_name() + " --help");
      EXPECT_EQ(r2.exit_code, 0) << sub->get_name() << " " << subsub->get_name();
      EXPECT_NE(r2.output.find("Usage"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace rlvr::tools
