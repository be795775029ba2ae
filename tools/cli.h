// Subcommand registration for the `rlvr` binary.
//
// Each tools/commands/*.cpp file registers its subcommand with RLVR_REGISTER_COMMAND; main()
// builds the CLI11 app from the registry. A command's callback throws rlvr::Error on bad
// input; main prints it on one line to stderr and exits 1.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace CLI {
class App;
class Validator;
}

namespace rlvr::tools {

// Adds one subcommand (with its options and callback) to `app`.
using CommandSetup = std::function<void(CLI::App& app)>;

struct CommandEntry {
  std::string name;
  int order;  // position in `rlvr --help`
  CommandSetup setup;
};

// The registered commands, sorted by `order`. Registration happens during static init.
std::vector<CommandEntry>& command_registry();

struct CommandRegistrar {
  CommandRegistrar(std::string name, int order, CommandSetup setup) {
    command_registry().push_back({std::move(name), order, std::move(setup)});
  }
};

// Builds the full `rlvr` app (used by main and by the CLI parser test).
void build_app(CLI::App& app);

// Parses argv and runs the chosen subcommand; returns the process exit code. Prints errors
// to stderr: rlvr::Error as "error: <message>", CLI parse errors with the usage of the flag.
// A command that ends with a status of its own throws CLI::RuntimeError(status).
int run_cli(int argc, char** argv);

// Splits "1,2,3" into integers; throws rlvr::Error naming `flag` on anything else.
std::vector<int64_t> parse_int_list(const std::string& text, const std::string& flag);

// Flag validators whose messages say what was given and what is allowed (CLI11 prefixes the
// flag name): "'1e3' is not an integer; expected an integer from 1 to 1048576".
// An integer written in decimal digits (optional sign) within [lo, hi].
CLI::Validator int_in(int64_t lo, int64_t hi);
// A finite decimal number within [lo, hi], or (lo, hi] when `lo_open` ("nan", "inf" and
// "1x" are refused).
CLI::Validator number_in(double lo, double hi, bool lo_open = false);

// Refuses an output path that names the same file as an input (it would destroy the input).
// Throws rlvr::Error naming both flags.
void check_distinct_paths(const std::string& input, const std::string& input_flag,
                          const std::string& output, const std::string& output_flag);

}  // namespace rlvr::tools

#define RLVR_CONCAT_INNER(a, b) a##b
#define RLVR_CONCAT(a, b) RLVR_CONCAT_INNER(a, b)
// Registers a subcommand: RLVR_REGISTER_COMMAND("config", 10, setup_fn);
#define RLVR_REGISTER_COMMAND(name, order, fn) \
  static ::rlvr::tools::CommandRegistrar RLVR_CONCAT(rlvr_command_, __LINE__)(name, order, fn)
