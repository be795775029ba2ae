// Chat templates by name ("tulu", "chatml"): render a messages list to token ids with a
// per-token mask of the assistant spans (for SFT loss masking) and an optional generation
// prompt (for RL sampling).
//
// Which tokens are in the assistant mask (as open-instruct's SFT masking gives them): for each
// assistant message, the tokens of its content followed by its end-of-turn token (tulu: the
// tokenizer's EOS; chatml: <|im_end|>). Not in the mask: the role header ("<|assistant|>\n",
// "<|im_start|>assistant\n"), the newline after the end-of-turn token, BOS, and everything of
// system/user turns and of the generation prompt.
//
// Templates (exact text; {eos} = options.eos_token):
//   tulu:   [bos] then per message: system "<|system|>\n{c}\n", user "<|user|>\n{c}\n",
//           assistant "<|assistant|>\n{c}{eos}\n" ("\n" omitted after the last message);
//           generation prompt "<|assistant|>\n". (open-instruct CHAT_TEMPLATES["tulu"]; the
//           TÜLU 3 tokenizer_config prepends {{ bos_token }}.)
//   chatml: [bos] then per message "<|im_start|>{role}\n{c}<|im_end|>\n"; generation prompt
//           "<|im_start|>assistant\n".
//
// The ids are the concatenation of encoding each piece of the template separately (header,
// content, end-of-turn, separator). That equals encoding the rendered string whenever no BPE
// piece would cross a piece boundary, which holds when the role markers and end-of-turn tokens
// are added tokens and contents do not start or end with white space that would join the
// template's newlines. Training and generation both use this function, so they always agree.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tokenizer/tokenizer.h"

namespace rlvr::core {

struct ChatMessage {
  std::string role;     // "system", "user" or "assistant" (chatml also accepts other roles)
  std::string content;
};

// Options of apply_chat_template(). Plain struct.
struct ChatTemplateOptions {
  // Appends the generation prompt after the last message (RL sampling). Default false.
  bool add_generation_prompt = false;
  // tulu's end-of-turn token. Empty (default): the first of <|endoftext|>, <|end_of_text|>,
  // </s>, <eos> that is an added token of the tokenizer. Must encode to exactly one token.
  std::string eos_token;
  // Prepended when non-empty (e.g. "<|begin_of_text|>"). Default: none.
  std::string bos_token;
};

struct ChatEncoding {
  std::vector<int32_t> ids;
  std::vector<uint8_t> assistant_mask;  // same length as ids; 1 = trained on (assistant span)
  int32_t end_of_turn_id = -1;          // stop token for generation (EOS or <|im_end|>)
  std::string text;                     // the rendered template (for logs and debugging)
};

// The names apply_chat_template() accepts.
std::vector<std::string> chat_template_names();

// Renders and encodes `messages` with template `name`. Throws rlvr::Error for an unknown
// template name (listing the known ones), an unknown role for the template (naming the message
// index), a message list that is empty without a generation prompt, or an end-of-turn token
// that the tokenizer does not encode as a single token.
ChatEncoding apply_chat_template(const Tokenizer& tokenizer, const std::string& name,
                                 const std::vector<ChatMessage>& messages, const ChatTemplateOptions& options = {});

// Only the rendered text (what a Jinja chat template would produce).
std::string render_chat_template(const std::string& name, const std::vector<ChatMessage>& messages,
                                 const ChatTemplateOptions& options, const std::string& eos_token);

}  // namespace rlvr::core
