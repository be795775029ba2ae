// The tulu and chatml chat templates, and Jinja chat templates with the assistant mask found by
// rendering (see chat_template.h for the exact text and mask rules).
#include "core/tokenizer/chat_template.h"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"

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

// ---------------------------------------------------------------------------------------------
// Jinja chat templates

namespace {

jinja::Value messages_value(const std::vector<ChatMessage>& messages) {
  jinja::Value::List list;
  list.reserve(messages.size());
  for (const ChatMessage& m : messages) {
    jinja::Dict d;
    d.set("role", jinja::Value::string(m.role));
    d.set("content", jinja::Value::string(m.content));
    list.push_back(jinja::Value::dict(std::move(d)));
  }
  return jinja::Value::list(std::move(list));
}

std::string render_with(const jinja::Template& tmpl, const std::vector<ChatMessage>& messages,
                        const JinjaChatOptions& options, bool add_generation_prompt) {
  jinja::Dict vars;
  vars.set("messages", messages_value(messages));
  vars.set("add_generation_prompt", jinja::Value::boolean(add_generation_prompt));
  vars.set("tools", jinja::Value::none());
  vars.set("documents", jinja::Value::none());
  if (!options.bos_token.empty()) vars.set("bos_token", jinja::Value::string(options.bos_token));
  if (!options.eos_token.empty()) vars.set("eos_token", jinja::Value::string(options.eos_token));
  jinja::RenderOptions ro;
  ro.now = options.now ? *options.now : std::time(nullptr);
  return tmpl.render(jinja::Value::dict(std::move(vars)), ro);
}

const std::string& end_of_turn_of(const JinjaChatOptions& options) {
  return options.end_of_turn.empty() ? options.eos_token : options.end_of_turn;
}

}  // namespace

std::string render_jinja_chat_template(const jinja::Template& tmpl, const std::vector<ChatMessage>& messages,
                                       const JinjaChatOptions& options) {
  return render_with(tmpl, messages, options, options.add_generation_prompt);
}

std::string render_jinja_chat_template(const std::string& template_text, const std::vector<ChatMessage>& messages,
                                       bool add_generation_prompt, const std::string& bos_token,
                                       const std::string& eos_token, const std::string& source_name) {
  jinja::Template tmpl(template_text, source_name);
  JinjaChatOptions options;
  options.add_generation_prompt = add_generation_prompt;
  options.bos_token = bos_token;
  options.eos_token = eos_token;
  return render_jinja_chat_template(tmpl, messages, options);
}

std::vector<std::pair<size_t, size_t>> jinja_assistant_spans(const jinja::Template& tmpl,
                                                             const std::vector<ChatMessage>& messages,
                                                             const JinjaChatOptions& options) {
  // The mask is a property of the conversation, not of the generation prompt after it, but the
  // offsets refer to the text rendered with `options` (the generation prompt only appends).
  const std::string text = render_with(tmpl, messages, options, options.add_generation_prompt);
  const std::string& eot = end_of_turn_of(options);
  std::vector<std::pair<size_t, size_t>> spans;
  for (size_t i = 0; i < messages.size(); ++i) {
    if (messages[i].role != "assistant") continue;
    const std::vector<ChatMessage> before(messages.begin(), messages.begin() + static_cast<std::ptrdiff_t>(i));
    const std::string prompt = render_with(tmpl, before, options, /*add_generation_prompt=*/true);
    if (text.compare(0, prompt.size(), prompt) != 0) {
      throw Error(fmt::format("{}: cannot find the assistant span of messages[{}]: the conversation rendered up to "
                              "it with the generation prompt is not a prefix of the whole rendering",
                              tmpl.source_name(), i),
                  "the template renders earlier turns differently depending on what follows; use a named template "
                  "(model.chat_template) for this model");
    }
    // Replace the content by a marker that no template would produce, render, and take the text
    // after the marker: it must end the whole rendering.
    std::vector<ChatMessage> marked = messages;
    const std::string marker = fmt::format("\x01rlvr-assistant-span-{}\x02", i);
    marked[i].content = marker;
    const std::string with_marker = render_with(tmpl, marked, options, options.add_generation_prompt);
    const size_t at = with_marker.find(marker);
    if (at == std::string::npos || with_marker.find(marker, at + 1) != std::string::npos) {
      throw Error(fmt::format("{}: cannot find the assistant span of messages[{}]: the template prints its content {}",
                              tmpl.source_name(), i, at == std::string::npos ? "not at all (or changed)" : "more than once"));
    }
    const std::string after = with_marker.substr(at + marker.size());
    if (after.size() > text.size() || text.compare(text.size() - after.size(), after.size(), after) != 0 ||
        text.size() - after.size() < prompt.size()) {
      throw Error(fmt::format("{}: cannot find the assistant span of messages[{}]: the text after its content differs "
                              "from the whole rendering",
                              tmpl.source_name(), i));
    }
    size_t end = text.size() - after.size();
    if (!eot.empty() && text.compare(end, eot.size(), eot) == 0) end += eot.size();
    spans.emplace_back(prompt.size(), end);
  }
  return spans;
}

ChatEncoding apply_jinja_chat_template(const Tokenizer& tokenizer, const jinja::Template& tmpl,
                                       const std::vector<ChatMessage>& messages, const JinjaChatOptions& options) {
  ChatEncoding enc;
  enc.text = render_jinja_chat_template(tmpl, messages, options);
  enc.ids = tokenizer.encode(enc.text);
  enc.assistant_mask.assign(enc.ids.size(), 0);
  const std::string& eot = end_of_turn_of(options);
  if (!eot.empty()) {
    if (auto id = tokenizer.single_token_id(eot)) enc.end_of_turn_id = *id;
  }
  // Token index of a byte offset: the encoding of the text before it must be a prefix of ids.
  auto token_at = [&](size_t offset, size_t message) -> size_t {
    std::vector<int32_t> head = tokenizer.encode(std::string_view(enc.text).substr(0, offset));
    if (head.size() > enc.ids.size() || !std::equal(head.begin(), head.end(), enc.ids.begin())) {
      throw Error(fmt::format("{}: the assistant span of messages[{}] starts or ends inside a token of {} (byte {} "
                              "of the rendered text), so no exact token mask exists",
                              tmpl.source_name(), message, tokenizer.source(), offset));
    }
    return head.size();
  };
  size_t message = 0;
  for (const auto& [begin, end] : jinja_assistant_spans(tmpl, messages, options)) {
    while (messages[message].role != "assistant") ++message;
    const size_t b = token_at(begin, message), e = token_at(end, message);
    std::fill(enc.assistant_mask.begin() + static_cast<std::ptrdiff_t>(b),
              enc.assistant_mask.begin() + static_cast<std::ptrdiff_t>(e), 1);
    ++message;
  }
  return enc;
}

std::optional<CheckpointChatTemplate> read_checkpoint_chat_template(const std::string& dir) {
  namespace fs = std::filesystem;
  CheckpointChatTemplate out;
  const std::string config_path = (fs::path(dir) / "tokenizer_config.json").string();
  const std::string jinja_path = (fs::path(dir) / "chat_template.jinja").string();
  std::error_code ec;
  if (fs::exists(config_path, ec)) {
    nlohmann::json config;
    try {
      config = nlohmann::json::parse(read_file(config_path));
    } catch (const nlohmann::json::exception& e) {
      throw Error(fmt::format("{}: not valid JSON: {}", config_path, e.what()));
    }
    if (!config.is_object()) throw Error(fmt::format("{}: expected a JSON object", config_path));
    auto token = [&](const char* field) -> std::string {
      auto it = config.find(field);
      if (it == config.end() || it->is_null()) return "";
      if (it->is_string()) return it->get<std::string>();
      if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
        return (*it)["content"].get<std::string>();
      }
      throw Error(fmt::format("{}: {} must be a string or an object with a string \"content\"", config_path, field));
    };
    out.bos_token = token("bos_token");
    out.eos_token = token("eos_token");
    auto it = config.find("chat_template");
    if (it != config.end() && !it->is_null()) {
      if (it->is_string()) {
        out.text = it->get<std::string>();
        out.source = config_path + ":chat_template";
      } else if (it->is_array()) {
        for (size_t i = 0; i < it->size(); ++i) {
          const nlohmann::json& entry = (*it)[i];
          if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string() ||
              !entry.contains("template") || !entry["template"].is_string()) {
            throw Error(fmt::format("{}: chat_template[{}] must be an object with string \"name\" and \"template\"",
                                    config_path, i));
          }
          if (entry["name"] == "default") {
            out.text = entry["template"].get<std::string>();
            out.source = fmt::format("{}:chat_template[{}]", config_path, i);
          }
        }
        if (out.source.empty()) {
          throw Error(fmt::format("{}: chat_template is a list without a template named \"default\"", config_path));
        }
      } else {
        throw Error(fmt::format("{}: chat_template must be a string or a list of {{name, template}}", config_path));
      }
    }
  }
  if (fs::exists(jinja_path, ec)) {
    out.text = read_file(jinja_path);
    out.source = jinja_path;
  }
  if (out.source.empty()) return std::nullopt;
  return out;
}

}  // namespace rlvr::core
