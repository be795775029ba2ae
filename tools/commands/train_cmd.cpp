// `rlvr train --config FILE.yaml [--set k=v ...]`: run the SFT or DPO mode (train.mode).
#include <cmath>
#include <iostream>

#include <CLI/CLI.hpp>

#include "core/config/loader.h"
#include "core/log.h"
#include "sft_dpo/trainer.h"
#include "tools/cli.h"

namespace rlvr::tools {
namespace {

struct TrainParams {
  std::string config;
  std::vector<std::string> overrides;
};

void setup(CLI::App& app) {
  auto p = std::make_shared<TrainParams>();
  auto* cmd = app.add_subcommand(
      "train", "Run SFT or DPO (train.mode) and write <run.output_dir>/final (HF checkpoint)");
  cmd->add_option("--config", p->config, "Config YAML file")->required();
  cmd->add_option("--set", p->overrides, "Override a key: a.b.c=value (repeatable)");
  cmd->callback([p] {
    core::Config config = core::load_config(p->config, p->overrides);
    core::init_logging(config.run.log_level);
    sft_dpo::TrainResult r = sft_dpo::run_training(config);
    std::cout << "trained " << config.train.mode << " run '" << config.run.name << "': " << r.steps << " steps";
    if (r.resumed_from_step >= 0) std::cout << " (resumed at step " << r.resumed_from_step << ")";
    if (!std::isnan(r.last_loss)) std::cout << ", last loss " << r.last_loss;
    if (!std::isnan(r.eval_loss)) std::cout << ", eval loss " << r.eval_loss;
    std::cout << ", rows " << r.train_rows << " (skipped " << r.skipped_rows << ", truncated " << r.truncated_rows
              << ")\nfinal checkpoint: " << r.final_dir << "\n";
  });
}

}  // namespace

RLVR_REGISTER_COMMAND("train", 30, setup);

}  // namespace rlvr::tools
