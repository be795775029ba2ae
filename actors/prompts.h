// Prompt files for `rlvr generate`, `rlvr eval` and the actors: JSONL rows with `messages`
// (RLVR rows with `ground_truth` and `dataset`, or SFT rows whose trailing assistant turn is
// dropped) rendered with a chat template and its generation prompt. Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tokenizer/chat_template.h"
#include "core/tokenizer/tokenizer.h"

namespace rlvr::actors {

struct PromptRow {
  int64_t line = 0;                        // 1-based line in the file
  std::vector<core::ChatMessage> messages; // up to the turn the model must answer
  std::string ground_truth;                // empty when the row has none
  std::string dataset;                     // verifier name; empty when the row has none
  std::vector<int32_t> ids;                // rendered prompt, generation prompt included
  std::string text;                        // rendered prompt text
};

struct PromptSet {
  std::string path;
  std::vector<PromptRow> rows;
  int32_t end_of_turn_id = -1;  // the template's end-of-turn token (a stop token)
};

// Reads `path`. With `require_ground_truth` every row must be an RLVR row (messages,
// ground_truth, dataset); otherwise ground_truth/dataset are optional and a trailing assistant
// message is removed. Throws rlvr::Error "<path>:<line>: ..." for a bad row, an unknown
// template, or a file without rows.
PromptSet load_prompts(const std::string& path, const core::Tokenizer& tokenizer,
                       const std::string& chat_template, bool require_ground_truth);

}  // namespace rlvr::actors
