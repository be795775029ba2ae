// `rlvr report RUN_DIR [--out FILE]`: write the self-contained HTML report of a run directory
// (a pipeline run or a single `rlvr train` / `rlvr launch` run; tools/report/report.h).
#include <iostream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "tools/cli.h"
#include "tools/report/report.h"

namespace rlvr::tools {
namespace {

struct ReportParams {
  std::string run_dir;
  std::string out;  // empty: <run_dir>/report.html
  int64_t max_points = 2000;
};

void setup(CLI::App& app) {
  auto p = std::make_shared<ReportParams>();
  auto* cmd = app.add_subcommand(
      "report",
      "Write report.html for a run directory: stage table, summaries and SVG plots of the metrics "
      "(self-contained: no script, no network)");
  cmd->add_option("run_dir", p->run_dir, "Run directory: a pipeline run or one rlvr train / rlvr launch run")
      ->required();
  cmd->add_option("--out", p->out, "Output HTML file (default: RUN_DIR/report.html)");
  cmd->add_option("--max-points", p->max_points, "Most points drawn per line; longer series are downsampled")
      ->capture_default_str()
      ->check(int_in(2, 1000000));
  cmd->callback([p] {
    const std::string out = p->out.empty() ? p->run_dir + "/report.html" : p->out;
    ReportOptions options;
    options.max_points_per_line = static_cast<size_t>(p->max_points);
    write_report(p->run_dir, out, options);
    std::cout << "wrote " << out << "\n";
  });
}

}  // namespace

RLVR_REGISTER_COMMAND("report", 57, setup);

}  // namespace rlvr::tools
