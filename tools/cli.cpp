#include "tools/cli.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>

#include <c10/util/Exception.h>

#include "core/error.h"
#include "core/log.h"

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
    // Logs and progress go to stderr from the start; results go to stdout or files. Commands
    // with a config (rlvr train) re-initialise with run.log_level.
    core::init_logging("info");
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help / --version land here with exit code 0 and print to stdout; a bad flag value
    // prints the message and the hint to stderr and exits 1.
    int code = app.exit(e);
    // CLI::RuntimeError(status) is how a command exits with its own status (rlvr launch).
    if (e.get_name() == "RuntimeError") return code;
    return code == 0 ? 0 : 1;
  } catch (const Error& e) {
    std::cerr << "error: " << e.full_message() << "\n";
    return 1;
  } catch (const c10::Error& e) {
    // Commands convert LibTorch errors with their context; this is the last net (no backtrace).
    std::cerr << "error: " << e.what_without_backtrace() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

namespace {

std::string format_bound(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{}", v);
}

}  // namespace

CLI::Validator int_in(int64_t lo, int64_t hi) {
  std::string desc = fmt::format("INT in [{}, {}]", lo, hi);
  return CLI::Validator(
      [lo, hi](std::string& text) -> std::string {
        const std::string expected = fmt::format("expected an integer from {} to {}", lo, hi);
        int64_t v = 0;
        const char* b = text.data();
        const char* e = text.data() + text.size();
        if (b != e && *b == '+') ++b;
        auto [end, ec] = std::from_chars(b, e, v);
        if (text.empty() || ec == std::errc::result_out_of_range) {
          return fmt::format("'{}' is out of range; {}", text, expected);
        }
        if (ec != std::errc() || end != e) return fmt::format("'{}' is not an integer; {}", text, expected);
        if (v < lo || v > hi) return fmt::format("{} is out of range; {}", v, expected);
        return {};
      },
      desc);
}

CLI::Validator number_in(double lo, double hi, bool lo_open) {
  const std::string range = fmt::format("{}{}, {}]", lo_open ? "(" : "[", format_bound(lo), format_bound(hi));
  return CLI::Validator(
      [lo, hi, lo_open, range](std::string& text) -> std::string {
        const std::string expected = "expected a number in " + range;
        char* end = nullptr;
        const double v = text.empty() ? 0.0 : std::strtod(text.c_str(), &end);
        if (text.empty() || end != text.c_str() + text.size()) {
          return fmt::format("'{}' is not a number; {}", text, expected);
        }
        if (!std::isfinite(v)) return fmt::format("'{}' is not a finite number; {}", text, expected);
        if (v < lo || v > hi || (lo_open && v == lo)) return fmt::format("{} is out of range; {}", text, expected);
        return {};
      },
      "NUMBER in " + range);
}

void check_distinct_paths(const std::string& input, const std::string& input_flag, const std::string& output,
                          const std::string& output_flag) {
  namespace fs = std::filesystem;
  std::error_code ec;
  bool same = fs::exists(output, ec) && fs::equivalent(input, output, ec) && !ec;
  if (!same) {
    fs::path a = fs::weakly_canonical(input, ec), b = fs::weakly_canonical(output, ec);
    same = !ec && a == b;
  }
  if (same) {
    throw Error(fmt::format("{} {} is the same file as {} {}; writing it would destroy the input", output_flag,
                            output, input_flag, input),
                fmt::format("choose another {} path", output_flag));
  }
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
