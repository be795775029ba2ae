// `rlvr launch`: one learner and actors.count actors on this machine, supervised (docs/LAUNCH.md):
// prefixed logs, actor restarts with backoff, a clean stop on Ctrl-C or when the learner ends.
#include <signal.h>

#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>

#include "core/config/loader.h"
#include "core/error.h"
#include "core/log.h"
#include "tools/cli.h"
#include "tools/launch/launch_plan.h"
#include "tools/launch/supervisor.h"

namespace rlvr::tools {
namespace {

struct LaunchParams {
  std::string config;
  std::vector<std::string> overrides;
  int64_t grace_ms = 10000;
};

void setup(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "launch", "Run the learner and actors.count actors on this machine; exits with the learner's status");
  auto p = std::make_shared<LaunchParams>();
  cmd->add_option("--config", p->config, "Config YAML, passed to every child")->required();
  cmd->add_option("--set", p->overrides, "Override a config key: a.b.c=value (repeatable; passed to every child)");
  cmd->add_option("--grace-ms", p->grace_ms,
                  "Stopping: wait this long after SIGTERM before SIGKILL, and after SIGKILL before giving up "
                  "on a child")
      ->check(int_in(0, 3600000))
      ->capture_default_str();
  cmd->footer(
      "Exit status: the learner's (128 + signal if a signal killed it); 1 when an actor used up "
      "actors.restart_max restarts; 127 when the learner cannot be started; 130/143 after SIGINT/SIGTERM. "
      "Children get OMP_NUM_THREADS and learner.threads/actors.threads from the split in docs/LAUNCH.md.");
  cmd->callback([p] {
    core::Config config = core::load_config(p->config, p->overrides);
    core::init_logging(config.run.log_level);
    std::error_code ec;
    std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) throw rlvr::Error(fmt::format("launch: cannot find the rlvr binary (/proc/self/exe): {}", ec.message()));
    LaunchPlan plan = plan_launch(config, exe.string(), p->config, p->overrides, usable_cores());
    RLVR_LOG_INFO("launch: learner and {} actor(s); threads: learner {}, each actor {} ({} usable cores)",
                  config.actors.count, plan.threads.learner, plan.threads.actor, usable_cores());
    // A launcher whose stderr reader went away must keep supervising, not die of SIGPIPE and
    // orphan its children (they get SIG_DFL back before exec).
    ::signal(SIGPIPE, SIG_IGN);
    SupervisorOptions options;
    options.grace = std::chrono::milliseconds(p->grace_ms);
    Supervisor supervisor(options);
    int status = supervisor.run(plan.children, plan.primary);
    std::cout << "launch: " << supervisor.outcome() << "; " << launch_summary(supervisor.reports()) << std::endl;
    if (status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace

RLVR_REGISTER_COMMAND("launch", 47, setup);

}  // namespace rlvr::tools
