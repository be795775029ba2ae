// The run fingerprint of `rlvr train` (SFT and DPO): which keys and files define a run, for
// learner/run_guard.h's resume / refuse decision. Torch-free.
//   identity  the contents of the training data file, the tokenizer and the model's config.json
//             (a streamed XXH64 each), model.path, model.chat_template, train.mode,
//             train.max_seq_len, train.packing (sft), train.on_bad_row, train.batch_size,
//             train.grad_accum_steps, train.max_steps, train.num_epochs (when max_steps is 0),
//             run.seed, and for dpo dpo.loss and the resolved reference checkpoint.
//   settings  every other key `rlvr train` reads (run, model, train, optim and, for dpo, dpo
//             sections; the data file paths; the eval file's contents).
#pragma once

#include "core/config/config.h"
#include "learner/run_guard.h"

namespace rlvr::sft_dpo {

// The fingerprint of `config` (hashes the data files, the tokenizer and model.path/config.json,
// streamed). Throws rlvr::Error naming a file that cannot be read.
learner::RunFingerprint fingerprint_run(const core::Config& config);

// learner::plan_start with the train.* switches (train.resume, train.overwrite_output_dir).
learner::StartPlan plan_start(const core::Config& config, const learner::RunFingerprint& fingerprint);

}  // namespace rlvr::sft_dpo
