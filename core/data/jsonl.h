// JSONL data sets in the layouts open-instruct and TRL use: SFT `messages`, DPO preference
// pairs (TULU 3 `chosen`/`rejected` conversations or TRL `prompt`/`chosen`/`rejected`), and
// RLVR prompts (`messages`, `ground_truth`, `dataset`). Torch-free.
//
// Every bad row is reported as "<file>:<line>: <what was wrong>; expected <what>". With
// BadRowPolicy::kStop the first one throws rlvr::Error; with kSkip it is logged, counted in
// JsonlStats and left out.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tokenizer/chat_template.h"

namespace rlvr::core {

enum class BadRowPolicy { kStop, kSkip };

// Parses "stop" / "skip" (config key train.on_bad_row). Throws rlvr::Error otherwise.
BadRowPolicy parse_bad_row_policy(const std::string& text);

struct JsonlStats {
  int64_t rows = 0;     // rows accepted
  int64_t skipped = 0;  // bad rows skipped under kSkip
  std::string first_error;  // message of the first skipped row, empty if none
};

// The hint of a bad row under kStop in `rlvr train` (commands with their own switch pass theirs).
inline constexpr const char* kTrainSkipHint = "set train.on_bad_row: skip to skip and count bad rows instead";

// Reads `path` line by line; blank lines are ignored. `on_row(line_number, json)` converts
// a row and throws rlvr::Error (without the file:line prefix) when it is malformed; the
// reader adds "<path>:<line>: " and applies `policy`. Invalid JSON is a bad row too; its
// message gives the column and a short excerpt, never the whole line. Throws rlvr::Error when
// the file cannot be read, or for a bad row under kStop (with `skip_hint` as the hint).
JsonlStats read_jsonl(const std::string& path, BadRowPolicy policy,
                      const std::function<void(int64_t line, const nlohmann::json& row)>& on_row,
                      const std::string& skip_hint = kTrainSkipHint);

// Messages are core::ChatMessage (core/tokenizer/chat_template.h), so parsed rows go straight
// into apply_chat_template().
//
// `value` as a list of messages: [{"role": ..., "content": ...}, ...]. `field` names the
// JSON field in messages. Throws rlvr::Error for a non-list, unknown role, non-string
// content or an empty list.
std::vector<ChatMessage> parse_messages(const nlohmann::json& value, const std::string& field);

// One SFT row: a conversation with at least one non-empty assistant turn.
struct SftExample {
  int64_t line = 0;
  std::vector<ChatMessage> messages;
};
// Throws rlvr::Error when `messages` is missing/malformed or has no non-empty assistant turn.
SftExample parse_sft_row(const nlohmann::json& row, int64_t line);

// One preference pair: a shared prompt and the two continuations (assistant turns).
struct PreferenceExample {
  int64_t line = 0;
  std::vector<ChatMessage> prompt;
  std::vector<ChatMessage> chosen;
  std::vector<ChatMessage> rejected;
};
// Accepts {"chosen": [msgs], "rejected": [msgs]} (the prompt is the shared prefix; the rest
// must be assistant turns) and {"prompt": str|[msgs], "chosen": str|[msgs], "rejected": str|[msgs]}.
// Throws rlvr::Error for anything else, or for an empty chosen/rejected response.
PreferenceExample parse_preference_row(const nlohmann::json& row, int64_t line);

// One RLVR prompt: messages up to the turn the policy must answer, the ground truth (a string;
// non-string JSON ground truths are kept as their JSON text) and the verifier name.
struct PromptExample {
  int64_t line = 0;
  std::vector<ChatMessage> messages;
  std::string ground_truth;
  std::string dataset;
};
// Throws rlvr::Error when messages, ground_truth or dataset is missing or malformed.
PromptExample parse_prompt_row(const nlohmann::json& row, int64_t line);

}  // namespace rlvr::core
