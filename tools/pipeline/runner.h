// The pipeline runner behind `rlvr pipeline FILE.yaml` (docs/PIPELINE.md): runs the stages of a
// core::PipelineConfig in order, each as a child process of the rlvr binary (`rlvr train` for sft
// and dpo, `rlvr launch` for rlvr), with `rlvr eval` on the held-out data before the first stage
// and after each one, and writes the stage table (results.json, results.md) and the report.
//
// Run directory (<pipeline.output_dir> = RUN):
//   RUN/pipeline.yaml            a copy of the pipeline file as given
//   RUN/state.json               stage and evaluation status, wall times, each stage's settings
//   RUN/prepare/                 the init step: data/ (synthesized), tokenizer.json, init/ (model)
//   RUN/<stage>.yaml             the stage's resolved config (what its child process reads)
//   RUN/<stage>/                 the stage's run directory (metrics.jsonl, checkpoints/, final/...)
//   RUN/dpo_pairs.jsonl          on-policy preference pairs (a dpo stage with `pairs`)
//   RUN/eval/heldout.jsonl       the held-out rows of every pipeline.eval.data file
//   RUN/eval/<point>.jsonl|.summary.json|.log   `rlvr eval` before (init) and after each stage
//   RUN/results.json, results.md the stage table
//
// Restart rules: a stage whose state is "done" (and whose final/ exists) is not rerun; a stage
// that was interrupted is started again with the same config, so its trainer resumes from its
// newest checkpoint; a finished stage whose settings changed since is refused (naming the keys)
// unless `from` names it or an earlier stage. `from` moves that stage's and every later stage's
// directories aside (RUN/<stage>.replaced-N: nothing is deleted) and runs them again from the
// previous stage's final checkpoint.
//
// Not thread-safe; one pipeline per process (children are supervised with signal handlers).
#pragma once

#include <string>

#include "core/config/pipeline.h"

namespace rlvr::tools {

struct PipelineRunOptions {
  std::string from;                           // a stage kind, or empty: continue where it stopped
  std::string rlvr_binary = "/proc/self/exe";  // the program that runs stages and evaluations
};

// Runs the pipeline. Returns 0 when every stage and evaluation finished; a child's failure is an
// rlvr::Error naming the stage, its log and how to resume; an interrupt (SIGINT/SIGTERM) returns
// 130/143 after the running child stopped.
int run_pipeline(const core::PipelineConfig& pipeline, const PipelineRunOptions& options);

// The stage table of RUN as Markdown (from RUN/results.json); throws when it is missing.
std::string results_markdown(const std::string& run_dir);

}  // namespace rlvr::tools
