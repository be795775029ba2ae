// `rlvr learner`: the RL learner. Live (default): binds learner.endpoint, hands rl.train_file's
// prompts to `rlvr actor` processes and trains on their rollouts (learner/rl_service.h).
// `--replay FILE`: trains on recorded rollouts without actors (learner/rl_replay.h).
#include <cmath>
#include <iostream>

#include <CLI/CLI.hpp>

#include "core/config/loader.h"
#include "core/error.h"
#include "core/log.h"
#include "learner/rl_replay.h"
#include "learner/rl_service.h"
#include "tools/cli.h"

namespace rlvr::tools {
namespace {

struct LearnerParams {
  std::string config;
  std::string replay;
  std::vector<std::string> overrides;
};

void setup(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "learner", "The RL learner: serve actors and train on their rollouts, or train on recorded ones (--replay FILE)");
  auto p = std::make_shared<LearnerParams>();
  cmd->add_option("--config", p->config, "Config YAML (model, rl, optim, generation, verifiers, run)")->required();
  cmd->add_option("--replay", p->replay,
                  "rollouts.jsonl to train on without actors (records as a learner writes them; see docs/RL.md)");
  cmd->add_option("--set", p->overrides, "Override a config key: a.b.c=value (repeatable)");
  cmd->callback([p] {
    core::Config config = core::load_config(p->config, p->overrides);
    core::init_logging(config.run.log_level);
    if (p->replay.empty()) {
      learner::ServiceResult r = learner::run_service(config);
      std::cout << "rl run '" << config.run.name << "': " << r.steps << " learner steps";
      if (r.resumed_from_step >= 0) std::cout << " (resumed at step " << r.resumed_from_step << ")";
      std::cout << "; " << r.accounting << "; final model " << r.final_dir << "\n";
      if (!r.balanced) throw Error("the run's accounting does not balance: " + r.accounting);
      return;
    }
    learner::RlRunResult r = learner::run_replay(config, p->replay);
    std::cout << "rl replay run '" << config.run.name << "': " << r.steps << " learner steps";
    if (r.resumed_from_step >= 0) std::cout << " (resumed at step " << r.resumed_from_step << ")";
    if (std::isfinite(r.last_reward)) std::cout << ", last mean reward " << r.last_reward;
    std::cout << "; final model " << r.final_dir << "\n";
  });
}

}  // namespace

RLVR_REGISTER_COMMAND("learner", 45, setup);

}  // namespace rlvr::tools
