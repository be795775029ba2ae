// Pipeline files (`rlvr pipeline FILE.yaml`): a `pipeline` section and an ordered list of stages,
// each stage a full rlvr config (inline or a path), validated with the same strict schema and
// file:line:col messages as a stage file on its own. docs/PIPELINE.md documents the format.
//
//   pipeline:
//     name: tiny
//     output_dir: runs/tiny
//     init: {model_config: tiny/model.json}     # or `model: path/to/hf-checkpoint`
//     eval: {data: ["${run}/prepare/data/eval.jsonl"], max_new_tokens: 48}
//   stages:
//     - sft: tiny/sft.yaml                      # relative to this file
//     - dpo: {base: tiny/dpo.yaml, optim: {learning_rate: 1.0e-4}}
//       pairs: {prompts: "${run}/prepare/data/rlvr.jsonl", n: 8}
//     - rlvr: tiny/rlvr.yaml
//
// `${run}` in any string (of the pipeline section or a stage) is replaced by
// pipeline.output_dir. Thread-safe: no shared state.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/config/schema.h"

namespace rlvr::core {

// Building the starting model from scratch (the tiny world): synthetic data, a BPE tokenizer
// trained on its corpus, and a randomly initialized model. Seeds come from pipeline.seed.
struct PipelineInitConfig {
  std::string model_config;  // config.json of the model to initialize; empty: no init
  int64_t train_rows = 4000;
  int64_t eval_rows = 200;
  int64_t max_operand = 12;
  int64_t vocab_size = 512;
  int64_t instruction_rows = 0;
  int64_t instruction_eval_rows = 0;

  void visit(SchemaVisitor& v) {
    v.field("model_config", model_config,
            "config.json of a model to initialize from scratch (relative to the pipeline file); empty: start "
            "from pipeline.model.");
    v.field("train_rows", train_rows, "Rows of each synthesized training file (`rlvr data synth --train-rows`).",
            Range{1, 10000000});
    v.field("eval_rows", eval_rows, "Held-out rows (`rlvr data synth --eval-rows`).", Range{1, 1000000});
    v.field("max_operand", max_operand, "Largest operand of the synthesized problems.", Range{2, 1000000});
    v.field("vocab_size", vocab_size, "BPE vocabulary trained on the synthesized corpus.", Range{260, 1000000});
    v.field("instruction_rows", instruction_rows,
            "Instruction-following (ifeval) rows per synthesized training file (`rlvr data synth "
            "--instruction-rows`).",
            Range{0, 10000000});
    v.field("instruction_eval_rows", instruction_eval_rows, "Held-out instruction-following rows.", Range{0, 1000000});
  }
};

// `rlvr eval` on the held-out split(s) before the first stage and after every stage.
struct PipelineEvalConfig {
  std::vector<std::string> data;
  int64_t max_new_tokens = 256;
  double temperature = 0.0;
  int64_t n = 1;
  int64_t batch_size = 64;

  void visit(SchemaVisitor& v) {
    v.field("data", data,
            "Held-out JSONL files (messages, ground_truth, dataset); every file's rows are evaluated, accuracy is "
            "reported per dataset.");
    v.field("max_new_tokens", max_new_tokens, "Most generated tokens per sample.", Range{1, 1048576});
    v.field("temperature", temperature, "Sampling temperature; 0 = greedy.", Range{0, 100});
    v.field("n", n, "Samples per prompt (pass@k up to n).", Range{1, 65536});
    v.field("batch_size", batch_size, "Rows decoded together.", Range{1, 65536});
  }
};

// The `pipeline` section.
struct PipelineSettings {
  std::string name = "pipeline";
  std::string output_dir = "runs/pipeline";
  std::string model;
  int64_t seed = 1;
  std::string chat_template = "auto";
  bool baselines = false;
  PipelineInitConfig init;
  PipelineEvalConfig eval;

  void visit(SchemaVisitor& v) {
    v.field("name", name, "Pipeline name; stage runs are named <name>-<stage>.");
    v.field("output_dir", output_dir, "Run directory of the whole pipeline; each stage writes <output_dir>/<stage>.");
    v.field("model", model,
            "Starting checkpoint (Hugging Face layout) when init.model_config is empty; the first stage's policy.");
    v.field("seed", seed, "Seed of every stage (run.seed) and of the init step.", at_least(0));
    v.choice("chat_template", chat_template, {"auto", "checkpoint", "tulu", "chatml"},
             "Chat template of the evaluations, as model.chat_template (auto: the evaluated checkpoint's own, "
             "else tulu; the stages use their own model.chat_template).");
    v.field("baselines", baselines,
            "After each stage that follows the sft stage, also continue SFT (the sft stage's config) from that "
            "stage's starting checkpoint for the stage's wall time, and evaluate it as '<stage>-baseline': what "
            "the time would have bought without the stage. Needs an sft stage.");
    v.section("init", init, "Build the starting model from scratch (the tiny world).");
    v.section("eval", eval, "Evaluation on the held-out split(s) before the first stage and after each stage.");
  }
};

// Options of a dpo stage that builds its preference pairs from the previous stage's policy
// (`rlvr data pairs`); absent (prompts empty) means the stage's train.train_file is used as is.
struct PipelinePairsConfig {
  std::string prompts;
  int64_t n = 8;
  double temperature = 1.0;
  int64_t max_new_tokens = 256;

  void visit(SchemaVisitor& v) {
    v.field("prompts", prompts, "RLVR prompt rows (messages, ground_truth, dataset) to sample pairs for.");
    v.field("n", n, "Samples per prompt.", Range{2, 65536});
    v.field("temperature", temperature, "Sampling temperature.", Range{0, 100});
    v.field("max_new_tokens", max_new_tokens, "Most generated tokens per sample.", Range{1, 1048576});
  }
};

struct PipelineStage {
  std::string kind;           // sft | dpo | rlvr
  Config config;              // validated; pipeline-controlled keys are set by the runner
  std::string source;         // file:line of the stage item
  PipelinePairsConfig pairs;  // dpo only
};

struct PipelineConfig {
  std::string path;  // the pipeline file
  PipelineSettings pipeline;
  std::vector<PipelineStage> stages;
};

// The stage kinds, in their usual order.
const std::vector<std::string>& pipeline_stage_kinds();

// Loads and validates `path`. `overrides` are "pipeline.KEY=VALUE" or "<stage>.KEY=VALUE" (for
// example "sft.optim.learning_rate=1e-3"), applied before `${run}` substitution. Throws
// rlvr::Error with file:line:col (or the --set) for any problem, in the pipeline section or in a
// stage (a stage given as a path names that file).
PipelineConfig load_pipeline(const std::string& path, const std::vector<std::string>& overrides = {});

// Whether `path` is a pipeline file (a mapping with a top-level `stages` key) rather than a
// stage config. Throws only when the file cannot be read or parsed.
bool is_pipeline_file(const std::string& path);

}  // namespace rlvr::core
