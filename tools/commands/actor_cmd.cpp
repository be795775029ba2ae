// `rlvr actor`: a generation actor of the actor-learner system (actors/actor.h).
#include <iostream>

#include <CLI/CLI.hpp>

#include "actors/actor.h"
#include "core/config/loader.h"
#include "core/log.h"
#include "tools/cli.h"

namespace rlvr::tools {
namespace {

struct ActorParams {
  std::string config;
  std::string learner;
  int64_t id = 0;
  std::vector<std::string> overrides;
};

void setup(CLI::App& app) {
  auto* cmd = app.add_subcommand("actor", "A generation actor: samples groups, scores them, sends rollouts to the learner");
  auto p = std::make_shared<ActorParams>();
  cmd->add_option("--config", p->config, "Config YAML (the learner's: model, generation, verifiers, rl, learner)")
      ->required();
  cmd->add_option("--learner", p->learner, "Learner endpoint, e.g. tcp://host:5555 (default: learner.endpoint)");
  cmd->add_option("--id", p->id, "Actor id (unique per run)")->capture_default_str()->check(int_in(0, 1000000));
  cmd->add_option("--set", p->overrides, "Override a config key: a.b.c=value (repeatable)");
  cmd->callback([p] {
    core::Config config = core::load_config(p->config, p->overrides);
    core::init_logging(config.run.log_level);
    actors::ActorResult r = actors::run_actor(config, p->id, p->learner);
    std::cout << "actor " << p->id << ": " << r.units_sent << " units sent, " << r.tokens << " tokens generated, "
              << r.weight_versions << " weight versions applied; stopped: " << r.reason << "\n";
  });
}

}  // namespace

RLVR_REGISTER_COMMAND("actor", 47, setup);

}  // namespace rlvr::tools
