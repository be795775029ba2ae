// Prompt files for `rlvr generate`, `rlvr eval` and the actors: JSONL rows with `messages`
// (RLVR rows with `ground_truth` and `dataset`, or SFT rows whose trailing assistant turn is
// dropped) rendered with a chat template and its generation prompt. Torch-free.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/data/jsonl.h"
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
  nlohmann::json fields;                   // the row as read (an object): output rows carry it
};

struct PromptSet {
  std::string path;
  std::vector<PromptRow> rows;
  int32_t end_of_turn_id = -1;  // the template's end-of-turn token (a stop token)
  int64_t skipped = 0;          // bad rows skipped (BadRowPolicy::kSkip)
};

// How load_prompts treats rows.
struct PromptOptions {
  // The chat format prompts are rendered with; when null, the named template `chat_template`.
  std::shared_ptr<const core::ChatFormat> chat_format;
  std::string chat_template = "tulu";
  // Every row must be an RLVR row (messages, ground_truth, dataset); otherwise ground_truth and
  // dataset are optional and a trailing assistant message is removed.
  bool require_ground_truth = false;
  core::BadRowPolicy on_bad_row = core::BadRowPolicy::kStop;
  std::string skip_hint = "pass --on-bad-row skip to skip and count bad rows instead";
};

// Reads `path`. Throws rlvr::Error "<path>:<line>: ..." for a bad row (kStop; with kSkip it is
// logged and counted), an unknown template, or a file without usable rows.
PromptSet load_prompts(const std::string& path, const core::Tokenizer& tokenizer, const PromptOptions& options);

}  // namespace rlvr::actors
