// The tulu and chatml chat templates (see chat_template.h for the exact text and mask rules).
#include "core/tokenizer/chat_template.h"

#include <fmt/format.h>

#include "core/error.h"

namespace rlvr::core {
namespace {

// One template piece: its text and whether its tokens are trained on.
struct Piece {
  std::string text;
  bool assistant;
};

void check_name(const std::string& name) {
  if (name != "tulu" && name != "chatml") {
    throw Error(fmt::format("unknown chat template '{}' (known: tulu, chatml)", name));
  }
}

// Builds the list of pieces for `name`. `eot` is the end-of-turn text.
std::vector<Piece> build_pieces(const std::string& name, const std::vector<ChatMessage>& messages,
                                const ChatTemplateOptions& options, const std::string& eot) {
  check_name(name);
  if (messages.empty() && !options.add_generation_prompt) {
    throw Error(fmt::format("chat template '{}': no messages to render", name));
  }
  std::vector<Piece> pieces;
  if (!options.bos_token.empty()) pieces.push_back({options.bos_token, false});
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    const bool last = i + 1 == messages.size();
    if (name == "tulu") {
      if (m.role == "system" || m.role == "user") {
        pieces.push_back({"<|" + m.role + "|>\n" + m.content + "\n", false});
      } else if (m.role == "assistant") {
        pieces.push_back({"<|assistant|>\n", false});
        pieces.push_back({m.content, true});
        pieces.push_back({eot, true});
        if (!last) pieces.push_back({"\n", false});
      } else {
        throw Error(fmt::format("chat template 'tulu': messages[{}].role '{}' is not system, user or assistant", i,
                                m.role));
      }
    } else {
      if (m.role.empty() || m.role.find_first_of("\n<>") != std::string::npos) {
        throw Error(fmt::format("chat template 'chatml': messages[{}].role '{}' is not a valid role name", i, m.role));
      }
      const bool assistant = m.role == "assistant";
      pieces.push_back({"<|im_start|>" + m.role + "\n", false});
      pieces.push_back({m.content, assistant});
      pieces.push_back({eot, assistant});
      pieces.push_back({"\n", false});
    }
  }
  if (options.add_generation_prompt) {
    pieces.push_back({name == "tulu" ? "<|assistant|>\n" : "<|im_start|>assistant\n", false});
  }
  return pieces;
}

std::string resolve_eos(const Tokenizer& tokenizer, const std::string& name, const ChatTemplateOptions& options) {
  if (name == "chatml") return "<|im_end|>";
  if (!options.eos_token.empty()) return options.eos_token;
  for (const char* candidate : {"<|endoftext|>", "<|end_of_text|>", "</s>", "<eos>"}) {
    for (const AddedToken& t : tokenizer.added_tokens()) {
      if (t.content == candidate) return candidate;
    }
  }
  throw Error(fmt::format("chat template 'tulu': no eos_token given and {} has none of <|endoftext|>, "
                          "<|end_of_text|>, </s>, <eos> as an added token",
                          tokenizer.source()));
}

}  // namespace

std::vector<std::string> chat_template_names() { return {"tulu", "chatml"}; }

std::string render_chat_template(const std::string& name, const std::vector<ChatMessage>& messages,
                                 const ChatTemplateOptions& options, const std::string& eos_token) {
  std::string eot = name == "chatml" ? "<|im_end|>" : eos_token;
  std::string out;
  for (const Piece& p : build_pieces(name, messages, options, eot)) out += p.text;
  return out;
}

ChatEncoding apply_chat_template(const Tokenizer& tokenizer, const std::string& name,
                                 const std::vector<ChatMessage>& messages, const ChatTemplateOptions& options) {
  check_name(name);
  const std::string eot = resolve_eos(tokenizer, name, options);
  auto eot_id = tokenizer.single_token_id(eot);
  if (!eot_id) {
    throw Error(fmt::format("chat template '{}': end-of-turn token '{}' is not a single token in {}", name, eot,
                            tokenizer.source()),
                "add it to the tokenizer's special tokens (rlvr tokenizer train --special-tokens ...)");
  }
  ChatEncoding enc;
  enc.end_of_turn_id = *eot_id;
  for (const Piece& p : build_pieces(name, messages, options, eot)) {
    size_t before = enc.ids.size();
    if (p.text == eot) {
      enc.ids.push_back(*eot_id);
    } else {
      tokenizer.encode_append(p.text, &enc.ids);
    }
    enc.assistant_mask.resize(enc.ids.size(), 0);
    if (p.assistant) std::fill(enc.assistant_mask.begin() + static_cast<std::ptrdiff_t>(before), enc.assistant_mask.end(), 1);
    enc.text += p.text;
  }
  return enc;
}

}  // namespace rlvr::core
