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
#include <ctime>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/tokenizer/jinja.h"
#include "core/tokenizer/tokenizer.h"

namespace rlvr::core {

struct ChatMessage {
  std::string role;     // "system", "user" or "assistant" (chatml also accepts other roles)
  std::string content;
  // Tool turns as people store them (role "tool"/"function"): the tool's name and the id of the
  // call it answers. Passed to a Jinja template as message.name / message.tool_call_id when
  // non-empty (undefined otherwise); the named templates ignore them.
  std::string name = {};
  std::string tool_call_id = {};
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

// ---------------------------------------------------------------------------------------------
// Jinja chat templates (a checkpoint's own `chat_template`), rendered with core/tokenizer/jinja.h.
//
// The template sees the variables transformers' apply_chat_template passes: `messages` (a list of
// {role, content}), `add_generation_prompt`, `tools` and `documents` (none), and `bos_token` /
// `eos_token` when non-empty (undefined otherwise, as for a model without a BOS token).
//
// Assistant mask, found by rendering (never by guessing the template's layout): with T the
// rendering of the whole conversation, for each assistant message i
//   start = length of render(messages[:i], add_generation_prompt=true) when that is a prefix of
//           T (the generation prompt is exactly what precedes an assistant turn); otherwise (a
//           template that renders earlier turns differently depending on what follows, as
//           Mistral Nemo's prints the system message in the last user turn) where the content
//           marker below starts, if the text before it is a prefix of T;
//   end   = where the message's own text ends in T: the message content is replaced by a unique
//           marker, the conversation rendered again, and the text after the marker must be a
//           suffix of T (so templates that rewrite a content, e.g. Qwen3 dropping <think> from
//           earlier turns, are handled); then, if T continues with the end-of-turn token there,
//           it is included (as open-instruct's masks include the EOS / <|im_end|>).
// Not in the mask: the role headers, separators after the end-of-turn token, BOS, system/user
// turns and the generation prompt. A template for which the rule does not hold (a prefix that
// is not a prefix of T either way, a marker printed twice or not at all) gives an rlvr::Error naming the
// message index, never a silently wrong mask.

// Options of the Jinja chat template functions. Plain struct.
struct JinjaChatOptions {
  bool add_generation_prompt = false;  // append the generation prompt (RL sampling). Default false
  std::string bos_token;               // passed as bos_token when non-empty. Default: none
  std::string eos_token;               // passed as eos_token when non-empty. Default: none
  // The token that closes an assistant turn in the mask and is the generation stop token.
  // Empty (default): eos_token.
  std::string end_of_turn;
  // The time strftime_now() formats (Llama 3.2's "Today Date"). Unset: the current time.
  std::optional<std::time_t> now;
};

// Renders `messages` with the Jinja template `tmpl`. Throws rlvr::Error on a render error
// (including the template's own raise_exception, e.g. Gemma refusing a system message).
std::string render_jinja_chat_template(const jinja::Template& tmpl, const std::vector<ChatMessage>& messages,
                                       const JinjaChatOptions& options);

// Convenience form: parses `template_text` (named `source_name` in errors) and renders it.
std::string render_jinja_chat_template(const std::string& template_text, const std::vector<ChatMessage>& messages,
                                       bool add_generation_prompt, const std::string& bos_token,
                                       const std::string& eos_token,
                                       const std::string& source_name = "chat_template");

// The assistant spans of the rendered conversation as [begin, end) byte offsets into
// render_jinja_chat_template(tmpl, messages, options), in message order (see the rule above).
// Throws rlvr::Error when the rule does not hold for the template.
std::vector<std::pair<size_t, size_t>> jinja_assistant_spans(const jinja::Template& tmpl,
                                                             const std::vector<ChatMessage>& messages,
                                                             const JinjaChatOptions& options);

// Renders and encodes like transformers' apply_chat_template(tokenize=True): ids = the
// tokenizer's encoding of the whole rendered text (special tokens parsed, no extra BOS), and the
// assistant mask from jinja_assistant_spans(). end_of_turn_id is the end-of-turn token's id (-1
// when it is empty or not a single token). Throws rlvr::Error when a span boundary falls inside
// a token (the encoding of the text before it is not a prefix of the ids), naming the message.
ChatEncoding apply_jinja_chat_template(const Tokenizer& tokenizer, const jinja::Template& tmpl,
                                       const std::vector<ChatMessage>& messages, const JinjaChatOptions& options);

// A checkpoint's own chat template and special tokens.
struct CheckpointChatTemplate {
  std::string text;       // the Jinja source
  std::string source;     // where it came from, for error messages
  std::string bos_token;  // tokenizer_config.json bos_token (string or {"content": ...}); empty if none
  std::string eos_token;  // tokenizer_config.json eos_token; empty if none
};

// Reads the chat template of the Hugging Face checkpoint in `dir`: <dir>/chat_template.jinja when
// present (what transformers >= 4.43 saves, and what it prefers), else the "chat_template" of
// <dir>/tokenizer_config.json (a string, or a list of {"name", "template"} of which "default" is
// used). nullopt when neither has one. The special tokens come from tokenizer_config.json when
// it exists. Throws rlvr::Error for a tokenizer_config.json that is not valid JSON or whose
// chat_template / bos_token / eos_token has the wrong type (naming the file and the field).
std::optional<CheckpointChatTemplate> read_checkpoint_chat_template(const std::string& dir);

// The Jinja text equivalent to a named template ("tulu": open-instruct's CHAT_TEMPLATES["tulu"]
// with the TÜLU 3 `{{ bos_token }}` prefix; "chatml"), i.e. what transformers needs in
// tokenizer_config.json to render what the named template renders. Throws for an unknown name.
std::string named_chat_template_jinja(const std::string& name);

// The chat format of a run: how conversations become token ids, the assistant mask and the
// generation stop token. Either a named template or a Jinja template (normally the checkpoint's
// own). Immutable after construction; copies share the parsed template; thread-safe to use from
// several threads.
//
// model.chat_template selects it (ChatFormat::resolve):
//   auto        the checkpoint's own template (chat_template.jinja or tokenizer_config.json's
//               chat_template) when it has one, else tulu (logged);
//   checkpoint  the checkpoint's own template; an error when it has none;
//   tulu/chatml the named template.
// A checkpoint template whose text is exactly named_chat_template_jinja(name) (what rlvr writes
// into final/) is used as that named template, so a model trained with a named template is
// rendered the same way by the next stage.
//
// The end-of-turn token of a Jinja template is found by rendering [user, assistant] and taking
// the added token of the tokenizer that directly follows the assistant content (<|im_end|>,
// <|eot_id|>, <end_of_turn>, or the eos_token for TÜLU); when none follows, the eos_token.
class ChatFormat {
 public:
  // A named template ("tulu" or "chatml") with the tokenizer's default end of turn
  // (ChatTemplateOptions::eos_token empty) unless `eos_token` is given.
  static ChatFormat named(const Tokenizer& tokenizer, const std::string& name, const std::string& eos_token = "");
  // A Jinja template. `bos_token` / `eos_token` are passed to the template when non-empty.
  static ChatFormat jinja(const Tokenizer& tokenizer, const std::string& text, const std::string& source,
                          const std::string& bos_token, const std::string& eos_token);
  // model.chat_template `setting` for the checkpoint in `checkpoint_dir` (see above). Throws
  // rlvr::Error naming model.chat_template for an unknown setting or a missing checkpoint
  // template under "checkpoint", and the template's source for a template that does not parse
  // or render a probe conversation.
  static ChatFormat resolve(const Tokenizer& tokenizer, const std::string& setting, const std::string& checkpoint_dir);

  // Renders and encodes `messages` (apply_chat_template or apply_jinja_chat_template).
  ChatEncoding encode(const Tokenizer& tokenizer, const std::vector<ChatMessage>& messages,
                      bool add_generation_prompt) const;

  bool is_named() const { return !jinja_; }
  // "tulu", "chatml" or "jinja".
  const std::string& name() const { return name_; }
  // Where the template came from ("tulu", or e.g. "<dir>/tokenizer_config.json:chat_template").
  const std::string& source() const { return source_; }
  // The Jinja text of the template (for a named template, named_chat_template_jinja()).
  const std::string& jinja_text() const { return text_; }
  const std::string& bos_token() const { return bos_; }
  const std::string& eos_token() const { return eos_; }
  // The token that closes an assistant turn (a generation stop token); -1 if none.
  int32_t end_of_turn_id() const { return end_of_turn_id_; }
  const std::string& end_of_turn() const { return end_of_turn_; }
  // Identifies the format in cache keys and fingerprints: the name of a named template, or
  // "jinja:" + a hash of the text and special tokens.
  std::string identity() const;
  // identity() of resolve(tokenizer, setting, checkpoint_dir) without a tokenizer (for run
  // fingerprints). Throws rlvr::Error for an unreadable tokenizer_config.json.
  static std::string resolved_identity(const std::string& setting, const std::string& checkpoint_dir);

 private:
  ChatFormat() = default;
  std::string name_, source_, text_, bos_, eos_, end_of_turn_;
  int32_t end_of_turn_id_ = -1;
  std::optional<jinja::Template> jinja_;
};

}  // namespace rlvr::core
