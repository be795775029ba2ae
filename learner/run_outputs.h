// What a training run leaves in its run directory besides checkpoints, shared by every mode
// (`rlvr train`, the RL learner): the final model, cleanup of what a killed process left, and
// clearing an earlier run on a fresh start.
#pragma once

#include <string>
#include <vector>

#include "core/model/model_config.h"

namespace torch::nn {
class Module;
}  // namespace torch::nn

namespace rlvr::learner {

struct StartPlan;

// Writes <output_dir>/final in Hugging Face layout (config.json, model.safetensors from
// `model` with architecture `config`, tokenizer.json and, when it sits beside the tokenizer,
// tokenizer_config.json) into a temp directory beside it and swaps it in
// (core::replace_dir_atomic), so final/ is always a complete model. Returns the final directory.
// Throws rlvr::Error on I/O failure (the previous final/ stays).
std::string save_final_model(torch::nn::Module& model, const core::TransformerConfig& config,
                             const std::string& tokenizer_path, const std::string& output_dir);

// Deletes what a killed process left half-written in `output_dir`: checkpoint temp directories
// and final/ temp directories (logged).
void remove_partial_outputs(const std::string& output_dir);

// A fresh start in `output_dir`: deletes the earlier run's checkpoints and `files` (metrics.jsonl
// and the like), and final/ too when plan.discard_existing (logged with plan.discard_reason).
// config.yaml and logs/ stay (they are rewritten / appended).
void clear_previous_run(const std::string& output_dir, const StartPlan& plan, const std::vector<std::string>& files);

}  // namespace rlvr::learner
