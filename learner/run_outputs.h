// What a training run leaves in its run directory besides checkpoints, shared by every mode
// (`rlvr train`, the RL learner): the final model, cleanup of what a killed process left, and
// clearing an earlier run on a fresh start.
#pragma once

#include <string>
#include <vector>

#include "core/model/model_config.h"
#include "core/tokenizer/chat_template.h"

namespace torch::nn {
class Module;
}  // namespace torch::nn

namespace rlvr::learner {

struct StartPlan;

// What final/ needs besides the weights so that transformers' AutoTokenizer,
// apply_chat_template and generate work on it unchanged.
struct HandOff {
  // The chat format the run trained with: its Jinja text, bos/eos tokens and end of turn go into
  // tokenizer_config.json and generation_config.json. Null: tokenizer_config.json is only copied.
  const core::ChatFormat* chat_format = nullptr;
  // The checkpoint the run started from: its tokenizer_config.json and generation_config.json
  // are the base that is updated (other fields, e.g. sampling defaults, are kept). Empty: the
  // tokenizer's folder.
  std::string source_dir;
};

// The hand-off files of a checkpoint in `dir` trained with `format` from `source_dir`
// (see HandOff), written atomically:
//   tokenizer_config.json  the source's fields, with chat_template = format.jinja_text(),
//                          eos_token / bos_token = the format's (when set), and
//                          tokenizer_class PreTrainedTokenizerFast, model_max_length and
//                          clean_up_tokenization_spaces false where the source has none;
//   generation_config.json the source's fields, with eos_token_id = config.eos_token_id, the
//                          source's eos_token_id, the format's eos token and end of turn
//                          (deduplicated, in that order; an int when one) and bos_token_id =
//                          config.bos_token_id when set.
// Returns the EOS ids written (for config.json's eos_token_id when it has none). Throws
// rlvr::Error naming the file for a source file that is not a JSON object, or on I/O failure.
std::vector<int64_t> write_hand_off_files(const std::string& dir, const core::Tokenizer& tokenizer,
                                          const core::ChatFormat& format, const std::string& source_dir,
                                          const core::TransformerConfig& config);

// Writes <output_dir>/final in Hugging Face layout (config.json, model.safetensors from
// `model` with architecture `config`, tokenizer.json, and the hand-off files of
// write_hand_off_files() when hand_off.chat_format is set, else tokenizer_config.json copied
// when it sits beside the tokenizer) into a temp directory beside it and swaps it in
// (core::replace_dir_atomic), so final/ is always a complete model. config.json's eos_token_id,
// when `config` has none, is set to the EOS ids of the hand-off. Returns the final directory.
// Throws rlvr::Error on I/O failure (the previous final/ stays).
std::string save_final_model(torch::nn::Module& model, const core::TransformerConfig& config,
                             const std::string& tokenizer_path, const std::string& output_dir,
                             const HandOff& hand_off = {});

// Deletes what a killed process left half-written in `output_dir`: checkpoint temp directories
// and final/ temp directories (logged).
void remove_partial_outputs(const std::string& output_dir);

// A fresh start in `output_dir`: deletes the earlier run's checkpoints and `files` (metrics.jsonl
// and the like), and final/ too when plan.discard_existing (logged with plan.discard_reason).
// config.yaml and logs/ stay (they are rewritten / appended).
void clear_previous_run(const std::string& output_dir, const StartPlan& plan, const std::vector<std::string>& files);

}  // namespace rlvr::learner
