// JSONL data sets in the layouts open-instruct and TRL use: SFT `messages`, TRL
// `prompt`/`completion` and plain `text` rows, DPO preference pairs (TULU 3 `chosen`/`rejected`
// conversations or TRL `prompt`/`chosen`/`rejected`), and RLVR prompts (`messages` or `prompt`,
// `ground_truth`, `dataset`). Files may be gzip-compressed (detected by content, e.g. .jsonl.gz);
// the path "-" reads standard input. Torch-free. docs/DATA.md describes every format.
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

// Reads `path` line by line: a plain or gzip-compressed file (zlib detects which from the content),
// or standard input when `path` is "-" (plain or gzip too). Blank lines are ignored. `on_row(line_number, json)` converts
// a row and throws rlvr::Error (without the file:line prefix) when it is malformed; the
// reader adds "<path>:<line>: " and applies `policy`. Invalid JSON is a bad row too; its
// message gives the column and a short excerpt, never the whole line. Throws rlvr::Error when
// the file cannot be read (or its gzip data is corrupt or truncated: the message names the last
// good line), or for a bad row under kStop (with `skip_hint` as the hint). Not thread-safe for
// "-" (standard input is one shared stream); otherwise thread-safe.
JsonlStats read_jsonl(const std::string& path, BadRowPolicy policy,
                      const std::function<void(int64_t line, const nlohmann::json& row)>& on_row,
                      const std::string& skip_hint = kTrainSkipHint);

// Messages are core::ChatMessage (core/tokenizer/chat_template.h), so parsed rows go straight
// into apply_chat_template().
//
// The roles parse_messages accepts. Which of them a chat template can render is the template's
// decision (tulu: system/user/assistant only; chatml and Jinja templates: any).
const std::vector<std::string>& message_roles();

// `value` as a list of messages: [{"role": ..., "content": ...}, ...]. `field` names the
// JSON field in messages. `content` is a string or a list of parts as OpenAI and Hugging Face
// store it, [{"type": "text", "text": ...}, ...]: the texts are joined with "\n" (as vLLM does for
// text-only models; one part gives its text unchanged, an empty list ""). Roles: system, user,
// assistant, tool, function, ipython. A message's `name` and `tool_call_id` (strings) are kept
// for Jinja templates that print them (tool results). Throws rlvr::Error (naming e.g.
// 'messages[2].content[0].type') for a non-list, an empty list, an unknown role, a content that
// is neither a string nor a list of text parts (an image or audio part is refused: rlvr trains
// text-only models), or an assistant message with `tool_calls` (not rendered by any template yet).
std::vector<ChatMessage> parse_messages(const nlohmann::json& value, const std::string& field);

// One SFT row. Three layouts, tried in this order (a row may carry other fields too):
//   {"messages": [msgs]}                         conversation; loss on its assistant turns
//   {"prompt": str|[msgs], "completion": str|[msgs]}  TRL prompt-completion; loss on the completion
//                                                (a string prompt is one user turn, a string
//                                                completion one assistant turn)
//   {"text": str}                                plain language modelling: no chat template, loss
//                                                on every token
struct SftExample {
  int64_t line = 0;
  std::vector<ChatMessage> messages;  // empty for a text row
  size_t prompt_messages = 0;         // messages[0..prompt_messages) are never trained on
  bool plain_text = false;            // a {"text": ...} row
  std::string text;                   // its text
};
// Throws rlvr::Error when the row has none of the layouts, a field is malformed, the completion
// holds a non-assistant turn, a conversation has no non-empty assistant turn, or a text is empty.
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

// The prompt of a generation row: `messages` with trailing assistant turns removed (a reference
// answer), else `prompt` (a string is one user turn; a list of messages is used as it is).
// Throws rlvr::Error when neither field is there, it is malformed, or no turn is left.
std::vector<ChatMessage> parse_prompt_messages(const nlohmann::json& row);

// One RLVR prompt: messages up to the turn the policy must answer (`messages` without its last
// turn when that is an assistant answer, else `prompt` as in parse_prompt_messages), the ground
// truth (a string; a list of one string is that string, as open-instruct's newer rows store it;
// other JSON values are kept as their JSON text) and the verifier name (a string or a list of one).
struct PromptExample {
  int64_t line = 0;
  std::vector<ChatMessage> messages;
  std::string ground_truth;
  std::string dataset;
};
// Throws rlvr::Error when the prompt, ground_truth or dataset is missing or malformed.
PromptExample parse_prompt_row(const nlohmann::json& row, int64_t line);

}  // namespace rlvr::core
