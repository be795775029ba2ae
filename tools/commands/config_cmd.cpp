// `rlvr config check|show|docs`: validate, print and document configuration files.
#include <iostream>

#include <CLI/CLI.hpp>

#include "core/config/loader.h"
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

  auto* check = cmd->add_subcommand("check", "Validate a config file; exit 0 when valid, 1 otherwise");
  check->add_option("file", params->file, "Config YAML file")->required();
  check->add_option("--set", params->overrides, "Override a key: a.b.c=value (repeatable)");
  check->callback([params] {
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
