// Resumable training checkpoints shared by every training mode (SFT, DPO, RL).
//
// A checkpoint is a directory <checkpoints_dir>/step-<8 digits>/ holding
//   config.json + model.safetensors   the weights in Hugging Face layout, float32 (bit-exact)
//   optimizer.bin                      Optimizer::save() (moments, step counts, schedule position)
//   rng.bin                            the torch default CPU (and CUDA, when used) generator states
//   state.json                         {"magic": "rlvr-train-state", "version": 1, step, epoch,
//                                       epoch_offset, tokens, std_rng, extra, run}
// It is written into a hidden temp directory (.tmp-step-<n>-<pid>) and moved into place with
// core::replace_dir_atomic, so a crash leaves either the complete checkpoint or none, and a
// re-saved step is swapped in whole. After a save, the oldest step-* directories beyond `keep`
// are deleted.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/model/model_config.h"

namespace torch::nn {
class Module;
}  // namespace torch::nn

namespace rlvr::learner {

class Optimizer;

// Where a training run stands. Plain value type.
struct TrainProgress {
  int64_t step = 0;          // optimizer steps completed
  int64_t total_steps = 0;   // optimizer steps the run will take
  int64_t epoch = 0;         // epoch being consumed (0-based)
  int64_t epoch_offset = 0;  // data units (rows, packed rows or pairs) of `epoch` already used
  int64_t tokens = 0;        // trained (loss-bearing) tokens so far
  std::string std_rng;       // text of a std::mt19937_64 owned by the mode; may be empty
  nlohmann::json extra = nlohmann::json::object();  // mode-specific counters
  // What identifies the run that wrote the checkpoint (the mode's fingerprint of its data and
  // config), stored verbatim so a resume can refuse a different run. Empty in checkpoints
  // written before fingerprints existed.
  nlohmann::json run = nlohmann::json::object();
};

// Writes a checkpoint of `model` (parameters named as HF keys, `config` its architecture),
// `optimizer` and `progress` to <checkpoints_dir>/step-<progress.step>/ and deletes the oldest
// checkpoints so that at most `keep` (>= 1) remain. Returns the checkpoint directory.
// Throws rlvr::Error on I/O failure (the previous checkpoints are then untouched).
// `write_extra`, when given, writes more files into the checkpoint's temp directory before
// state.json (the RL learner's critic/ and its optimizer), so they move into place with it.
// progress.extra["optimizer_steps"], when present, is the optimizer's step count (modes with
// several optimizer steps per `step`, like the RL learner); otherwise it equals progress.step.
std::string save_training_checkpoint(const std::string& checkpoints_dir, torch::nn::Module& model,
                                     const core::TransformerConfig& config, const Optimizer& optimizer,
                                     const TrainProgress& progress, int64_t keep,
                                     const std::function<void(const std::string& dir)>& write_extra = {});

// The step-* checkpoint directories in `checkpoints_dir`, oldest first (missing dir: none).
std::vector<std::string> list_training_checkpoints(const std::string& checkpoints_dir);

// Deletes the temp directories (.tmp-*) that a process killed mid-save left in
// `checkpoints_dir` and returns how many there were. REQUIRES: no other process is saving there.
int64_t remove_partial_checkpoints(const std::string& checkpoints_dir);

// The newest complete checkpoint in `checkpoints_dir`, if any.
std::optional<std::string> latest_training_checkpoint(const std::string& checkpoints_dir);

// Reads only <dir>/state.json (cheap: no weights). Throws rlvr::Error naming the file on a
// missing/corrupt file, a wrong magic or version, or a missing field.
TrainProgress read_training_progress(const std::string& dir);

// Restores weights, optimizer state and RNG states from `dir` and returns its progress.
// REQUIRES: `model` and `optimizer` were built for the same architecture and parameters.
// Throws rlvr::Error naming the file on a missing/corrupt file, a wrong magic or version,
// or mismatched parameters.
TrainProgress load_training_checkpoint(const std::string& dir, torch::nn::Module& model,
                                       Optimizer& optimizer);

}  // namespace rlvr::learner
