#include "tools/cli.h"

#include <algorithm>
#include <charconv>
#include <iostream>

#include <CLI/CLI.hpp>

#include "core/error.h"

namespace rlvr::tools {

std::vector<CommandEntry>& command_registry() {
  static std::vector<CommandEntry> registry;
  return registry;
}

void build_app(CLI::App& app) {
  app.description("rlvr: SFT, DPO and RL with verifiable rewards in one native binary.");
  app.set_version_flag("--version", std::string("rlvr ") + RLVR_VERSION);
  app.require_subcommand(1);
  auto entries = command_registry();
  std::stable_sort(entries.begin(), entries.end(),
                   [](const CommandEntry& a, const CommandEntry& b) { return a.order < b.order; });
  for (auto& e : entries) e.setup(app);
}

int run_cli(int argc, char** argv) {
  CLI::App app;
  build_app(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help / --version land here with exit code 0 and print to stdout.
    return app.exit(e);
  } catch (const Error& e) {
    std::cerr << "error: " << e.full_message() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

std::vector<int64_t> parse_int_list(const std::string& text, const std::string& flag) {
  std::vector<int64_t> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string::npos) comma = text.size();
    std::string item = text.substr(pos, comma - pos);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    int64_t v = 0;
    auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || ec != std::errc() || end != item.data() + item.size()) {
      throw Error(fmt::format("{}: '{}' is not an integer (expected a comma-separated list like 1,2,3)",
                              flag, item));
    }
    out.push_back(v);
    pos = comma + 1;
  }
  return out;
}

}  // namespace rlvr::tools
