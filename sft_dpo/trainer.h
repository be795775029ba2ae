// `rlvr train`: the SFT and DPO learner modes (train.mode: sft | dpo). Torch-free facade.
//
// A run writes <run.output_dir>/: config.yaml (resolved), metrics.jsonl, logs/rlvr.log,
// checkpoints/step-<n>/ (resumable: learner/train_state.h) and final/ (HF layout: config.json,
// model.safetensors, tokenizer.json) that the next stage and HF transformers load.
#pragma once

#include <cstdint>
#include <string>

#include "core/config/config.h"

namespace rlvr::sft_dpo {

struct TrainResult {
  int64_t steps = 0;                // optimizer steps completed (total)
  int64_t resumed_from_step = -1;   // step of the checkpoint resumed from; -1 for a fresh run
  double last_loss = 0;             // training loss of the last step run by this process; NaN if none
  double eval_loss = 0;             // final eval loss (NaN without train.eval_file)
  int64_t train_rows = 0;           // usable rows (SFT: before packing; DPO: pairs)
  int64_t skipped_rows = 0;         // bad rows skipped
  int64_t truncated_rows = 0;       // rows cut to max_seq_len
  bool reference_cache_hit = false; // DPO: reference log-probs came from the cache
  bool stopped_by_time = false;     // train.max_time_s ended the run before total_steps
  std::string final_dir;            // <output_dir>/final
};

// Runs the configured mode to completion (resuming from the newest checkpoint when
// train.resume and one exists). Throws rlvr::Error for bad config, data (file:line),
// checkpoints or I/O; LibTorch errors are rethrown as rlvr::Error.
TrainResult run_training(const core::Config& config);

}  // namespace rlvr::sft_dpo
