// `rlvr pipeline FILE.yaml`: SFT, DPO and RLVR (any subset, in the file's order) from one file,
// with held-out evaluations between the stages and the stage table at the end (docs/PIPELINE.md).
#include <signal.h>

#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>

#include "core/config/pipeline.h"
#include "core/error.h"
#include "core/log.h"
#include "tools/cli.h"
#include "tools/pipeline/runner.h"

namespace rlvr::tools {
namespace {

struct PipelineParams {
  std::string file;
  std::string from;
  std::vector<std::string> overrides;
};

void setup(CLI::App& app) {
  auto* cmd = app.add_subcommand("pipeline", "Run the stages of a pipeline file (sft, dpo, rlvr) with evaluations "
                                             "between them; resumes where it stopped");
  auto p = std::make_shared<PipelineParams>();
  cmd->add_option("file", p->file, "Pipeline YAML (a `pipeline` section and a list of `stages`)")->required();
  cmd->add_option("--from", p->from,
                  "Run this stage (sft, dpo or rlvr) and the later ones again from the earlier stages' checkpoints; "
                  "their old directories are moved aside, not deleted");
  cmd->add_option("--set", p->overrides,
                  "Override a key: pipeline.KEY=VALUE or STAGE.KEY=VALUE, e.g. sft.optim.learning_rate=1e-3 "
                  "(repeatable)");
  cmd->footer("Exit status: 0 when every stage and evaluation finished; 1 on an error (named with the stage and its "
              "log); 130/143 when interrupted (run the same command again to continue).");
  cmd->callback([p] {
    core::PipelineConfig pipeline = core::load_pipeline(p->file, p->overrides);
    std::error_code ec;
    std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) throw Error(fmt::format("pipeline: cannot find the rlvr binary (/proc/self/exe): {}", ec.message()));
    ::signal(SIGPIPE, SIG_IGN);
    PipelineRunOptions options;
    options.from = p->from;
    options.rlvr_binary = exe.string();
    const int status = run_pipeline(pipeline, options);
    if (status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace

RLVR_REGISTER_COMMAND("pipeline", 10, setup);

}  // namespace rlvr::tools
