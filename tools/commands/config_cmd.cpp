// `rlvr config check|show|docs`: validate, print and document configuration files.
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/config/loader.h"
#include "core/config/pipeline.h"
#include "tools/cli.h"

namespace rlvr::tools {
namespace {

struct ConfigParams {
  std::string file;
  std::vector<std::string> overrides;
};

void setup(CLI::App& app) {
  auto* cmd = app.add_subcommand("config", "Validate, print and document config files");
  cmd->require_subcommand(1);
  auto params = std::make_shared<ConfigParams>();

  auto* check = cmd->add_subcommand(
      "check", "Validate a config file or a pipeline file (with each of its stages); exit 0 when valid, 1 otherwise");
  check->add_option("file", params->file, "Config YAML file or pipeline YAML file")->required();
  check->add_option("--set", params->overrides,
                    "Override a key: a.b.c=value; in a pipeline file pipeline.KEY=VALUE or STAGE.KEY=VALUE "
                    "(repeatable)");
  check->callback([params] {
    if (core::is_pipeline_file(params->file)) {
      core::PipelineConfig p = core::load_pipeline(params->file, params->overrides);
      std::vector<std::string> kinds;
      for (const auto& s : p.stages) kinds.push_back(s.kind);
      std::cout << params->file << ": ok (pipeline '" << p.pipeline.name << "': " << fmt::format("{}", fmt::join(kinds, ", "))
                << ")\n";
      return;
    }
    core::load_config(params->file, params->overrides);
    std::cout << params->file << ": ok\n";
  });

  auto* show = cmd->add_subcommand("show", "Print the fully resolved config (all defaults filled) as YAML");
  show->add_option("file", params->file, "Config YAML file")->required();
  show->add_option("--set", params->overrides, "Override a key: a.b.c=value (repeatable)");
  show->callback([params] {
    std::cout << core::config_to_yaml(core::load_config(params->file, params->overrides));
  });

  auto* docs = cmd->add_subcommand("docs", "Print the config reference (docs/CONFIG.md) generated from the schema");
  docs->callback([] { std::cout << core::config_docs_markdown(); });
}

}  // namespace

RLVR_REGISTER_COMMAND("config", 90, setup);

}  // namespace rlvr::tools
