// `rlvr launch`: the learner rank(s) and actors.count actors on this machine, or this host's share
// of a run across hosts (--hosts, --slurm, --learner-only), supervised (docs/LAUNCH.md): prefixed
// logs, actor restarts with backoff, a clean stop on Ctrl-C or when the learner ends.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>

#include <CLI/CLI.hpp>

#include "core/config/loader.h"
#include "core/error.h"
#include "core/log.h"
#include "core/protocol/security.h"
#include "tools/cli.h"
#include "tools/launch/launch_plan.h"
#include "tools/launch/supervisor.h"

extern char** environ;

namespace rlvr::tools {
namespace {

struct LaunchParams {
  std::string config;
  std::vector<std::string> overrides;
  int64_t grace_ms = 10000;
  std::string hosts;
  int64_t host_index = -1;  // -1: not given
  bool slurm = false;
  bool learner_only = false;
  bool hosts_given = false;  // --hosts was given (even as an empty string)
};

std::string this_hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) {
    throw Error(fmt::format("launch: cannot read this machine's hostname: {}; pass --host-index",
                            std::strerror(errno)));
  }
  return name;
}

// Slurm's variables of this process's environment.
std::map<std::string, std::string> slurm_environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos || kv.rfind("SLURM", 0) != 0) continue;
    env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return env;
}

Placement placement_of(const LaunchParams& p) {
  if (p.learner_only) {
    Placement only;
    only.role = HostRole::kLearner;
    only.source = "--learner-only";
    return only;
  }
  if (p.slurm) return placement_from_slurm(slurm_environment());
  if (p.host_index >= 0) return placement_from_hosts(p.hosts, p.host_index, "");
  if (p.hosts_given) return placement_from_hosts(p.hosts, std::nullopt, this_hostname());
  return Placement{};
}

void setup(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "launch",
      "Run the learner rank(s) and actors.count actors on this machine, or this host's share of a run across "
      "hosts; exits with the learner's status");
  auto p = std::make_shared<LaunchParams>();
  cmd->add_option("--config", p->config, "Config YAML, passed to every child")->required();
  cmd->add_option("--set", p->overrides, "Override a config key: a.b.c=value (repeatable; passed to every child)");
  auto* hosts = cmd->add_option("--hosts", p->hosts,
                                "The run's hosts, e.g. node1,node2 or node[01-04] (Slurm syntax): the first runs the "
                                "learner rank(s), every other actors.count actors connecting to it; run one launcher "
                                "per host");
  cmd->add_option("--host-index", p->host_index,
                  "This launcher's position in --hosts (default: the entry naming this machine's hostname)")
      ->check(int_in(0, 1000000))
      ->needs(hosts);
  auto* slurm = cmd->add_flag("--slurm", p->slurm,
                              "Take the hosts and this host's position from Slurm's job step (SLURM_NODELIST, "
                              "SLURM_PROCID; srun --ntasks-per-node=1)")
                    ->excludes(hosts);
  cmd->add_flag("--learner-only", p->learner_only,
                "Run only the learner rank(s) here; the actors are placed elsewhere (e.g. by Kubernetes)")
      ->excludes(hosts)
      ->excludes(slurm);
  cmd->add_option("--grace-ms", p->grace_ms,
                  "Stopping: wait this long after SIGTERM before SIGKILL, and after SIGKILL before giving up "
                  "on a child")
      ->check(int_in(0, 3600000))
      ->capture_default_str();
  cmd->footer(
      "Exit status: the learner's (128 + signal if a signal killed it); 1 when an actor used up "
      "actors.restart_max restarts or a learner rank other than 0 failed; 127 when the learner cannot be started; "
      "130/143 after SIGINT/SIGTERM; on a host that runs only actors, 0 once every actor has exited 0 (the "
      "learner's SHUTDOWN). Children get OMP_NUM_THREADS and learner.threads/actors.threads from the split in "
      "docs/LAUNCH.md; learner ranks get MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE (docs/SCALING.md).");
  cmd->callback([p, hosts] {
    p->hosts_given = hosts->count() > 0;
    core::Config config = core::load_config(p->config, p->overrides);
    core::init_logging(config.run.log_level);
    std::error_code ec;
    std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) throw rlvr::Error(fmt::format("launch: cannot find the rlvr binary (/proc/self/exe): {}", ec.message()));
    Placement placement = placement_of(*p);
    LearnerRanks ranks;
    ranks.world_size = config.learner.world_size;
    ranks.master_addr = config.learner.master_addr;
    ranks.master_port = config.learner.master_port;
    LaunchPlan plan = plan_launch(config, ranks, placement, exe.string(), p->config, p->overrides, usable_cores());
    // Across hosts, the transport's keys are checked here, before anything starts, with the same
    // rules (and messages) the learner and the actors apply (docs/SECURITY.md).
    if (placement.hosts.size() > 1) {
      if (placement.role == HostRole::kActors) {
        core::protocol::actor_security(config, remote_learner_endpoint(config.learner.endpoint, placement.hosts[0]));
      } else {
        core::protocol::learner_security(config, config.learner.endpoint);
      }
    }
    RLVR_LOG_INFO("launch: {} ({} usable cores)", plan.description, usable_cores());
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
