// `rlvr keys generate|public`: CURVE key pairs for the learner-actor transport
// (core/protocol/security.h, docs/SECURITY.md).
#include <iostream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "core/protocol/security.h"
#include "tools/cli.h"

namespace rlvr::tools {
namespace {

struct KeysParams {
  std::string out;
  std::string name = "rlvr";
  bool force = false;
  std::string file;
};

void setup(CLI::App& app) {
  auto p = std::make_shared<KeysParams>();
  auto* cmd = app.add_subcommand("keys", "CURVE key pairs that authenticate and encrypt the learner-actor transport");
  cmd->require_subcommand(1);

  auto* gen = cmd->add_subcommand(
      "generate",
      "Write a new key pair: DIR/NAME.public (give it to the other side) and DIR/NAME.secret (mode 0600, keep it)");
  gen->add_option("--out", p->out, "Directory for the two key files (created if missing)")->required();
  gen->add_option("--name", p->name, "File name of the pair, e.g. learner or actor-host2")->capture_default_str();
  gen->add_flag("--force", p->force, "Replace existing key files of that name");
  gen->callback([p] {
    const auto keys = core::protocol::generate_curve_keypair();
    const auto [pub, sec] = core::protocol::write_curve_keypair(keys, p->out, p->name, p->force);
    std::cout << fmt::format("wrote {} (public: {}) and {} (secret, mode 0600)\n", pub, keys.public_key, sec);
  });

  auto* show = cmd->add_subcommand("public", "Print the public key of a .public or .secret key file");
  show->add_option("file", p->file, "A key file written by `rlvr keys generate`")->required();
  show->callback([p] { std::cout << core::protocol::read_public_key(p->file, p->file) << "\n"; });
}

}  // namespace

RLVR_REGISTER_COMMAND("keys", 48, setup);

}  // namespace rlvr::tools
