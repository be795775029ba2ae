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
    if (!m.name.empty()) d.set("name", jinja::Value::string(m.name));
    if (!m.tool_call_id.empty()) d.set("tool_call_id", jinja::Value::string(m.tool_call_id));
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
    // The span starts where generation would: after the conversation up to this turn rendered
    // with the generation prompt, when that is a prefix of the whole rendering. Some templates
    // render earlier turns differently depending on what follows (Mistral Nemo prints the system
    // message inside the LAST user turn); then it starts where the marker's rendering puts the
    // content, provided the text before the marker is a prefix of the whole rendering.
    const std::vector<ChatMessage> before(messages.begin(), messages.begin() + static_cast<std::ptrdiff_t>(i));
    const std::string prompt = render_with(tmpl, before, options, /*add_generation_prompt=*/true);
    size_t begin = prompt.size();
    if (text.compare(0, prompt.size(), prompt) != 0) {
      if (text.compare(0, at, with_marker, 0, at) != 0) {
        throw Error(fmt::format("{}: cannot find the assistant span of messages[{}]: neither the conversation rendered "
                                "up to it with the generation prompt nor the text before its content is a prefix of "
                                "the whole rendering",
                                tmpl.source_name(), i),
                    "the template renders earlier turns differently depending on what follows; use a named template "
                    "(model.chat_template) for this model");
      }
      begin = at;
    }
    const std::string after = with_marker.substr(at + marker.size());
    if (after.size() > text.size() || text.compare(text.size() - after.size(), after.size(), after) != 0 ||
        text.size() - after.size() < begin) {
      throw Error(fmt::format("{}: cannot find the assistant span of messages[{}]: the text after its content differs "
                              "from the whole rendering",
                              tmpl.source_name(), i));
    }
    size_t end = text.size() - after.size();
    if (!eot.empty() && text.compare(end, eot.size(), eot) == 0) end += eot.size();
    spans.emplace_back(begin, end);
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

// ---------------------------------------------------------------------------------------------
// ChatFormat

namespace rlvr::core {
namespace {

// open-instruct CHAT_TEMPLATES["tulu"] with the TÜLU 3 tokenizer_config's bos prefix
// (tests/fixtures/chat_templates/tulu3.jinja holds the same text).
constexpr const char* kTuluJinja =
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'system' %}{{ '<|system|>\n' + "
    "message['content'] + '\n' }}{% elif message['role'] == 'user' %}{{ '<|user|>\n' + message['content'] + "
    "'\n' }}{% elif message['role'] == 'assistant' %}{% if not loop.last %}{{ '<|assistant|>\n'  + "
    "message['content'] + eos_token + '\n' }}{% else %}{{ '<|assistant|>\n'  + message['content'] + eos_token "
    "}}{% endif %}{% endif %}{% if loop.last and add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
    "{% endfor %}";

constexpr const char* kChatmlJinja =
    "{{ bos_token }}{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] "
    "+ '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

// The added token of `tokenizer` that `text` starts with (the longest), or "".
std::string leading_added_token(const Tokenizer& tokenizer, const std::string& text) {
  std::string best;
  for (const AddedToken& t : tokenizer.added_tokens()) {
    if (t.content.size() > best.size() && text.compare(0, t.content.size(), t.content) == 0) best = t.content;
  }
  return best;
}

}  // namespace

std::string named_chat_template_jinja(const std::string& name) {
  check_name(name);
  return name == "tulu" ? kTuluJinja : kChatmlJinja;
}

ChatFormat ChatFormat::named(const Tokenizer& tokenizer, const std::string& name, const std::string& eos_token) {
  check_name(name);
  ChatFormat f;
  f.name_ = name;
  f.source_ = name;
  f.text_ = named_chat_template_jinja(name);
  ChatTemplateOptions options;
  options.eos_token = eos_token;
  f.end_of_turn_ = resolve_eos(tokenizer, name, options);
  // tulu's end of turn is the EOS; chatml's EOS (what transformers' generate stops at) is
  // <|im_end|> as in Qwen's instruct checkpoints.
  f.eos_ = name == "tulu" ? f.end_of_turn_ : (eos_token.empty() ? f.end_of_turn_ : eos_token);
  auto id = tokenizer.single_token_id(f.end_of_turn_);
  if (!id) {
    throw Error(fmt::format("chat template '{}': end-of-turn token '{}' is not a single token in {}", name,
                            f.end_of_turn_, tokenizer.source()),
                "add it to the tokenizer's special tokens (rlvr tokenizer train --special-tokens ...)");
  }
  f.end_of_turn_id_ = *id;
  return f;
}

ChatFormat ChatFormat::jinja(const Tokenizer& tokenizer, const std::string& text, const std::string& source,
                             const std::string& bos_token, const std::string& eos_token) {
  ChatFormat f;
  f.name_ = "jinja";
  f.source_ = source;
  f.text_ = text;
  f.bos_ = bos_token;
  f.eos_ = eos_token;
  f.jinja_.emplace(text, source);
  // Probe the end of turn: the text right after an assistant content, for a last and a middle
  // assistant turn (some templates close only one of them).
  JinjaChatOptions options;
  options.bos_token = bos_token;
  options.eos_token = eos_token;
  options.now = 0;
  const std::string marker = "\x01rlvr-end-of-turn-probe\x02";
  const std::vector<std::vector<ChatMessage>> probes = {
      {{"user", "Hi"}, {"assistant", marker}},
      {{"user", "Hi"}, {"assistant", marker}, {"user", "Again"}},
      {{"system", "S"}, {"user", "Hi"}, {"assistant", marker}}};
  std::string first_error;
  for (const auto& probe : probes) {
    std::string text_out;
    try {
      text_out = render_jinja_chat_template(*f.jinja_, probe, options);
    } catch (const Error& e) {
      if (first_error.empty()) first_error = e.what();
      continue;
    }
    const size_t at = text_out.find(marker);
    if (at == std::string::npos) continue;
    std::string eot = leading_added_token(tokenizer, text_out.substr(at + marker.size()));
    if (!eot.empty()) {
      f.end_of_turn_ = eot;
      break;
    }
  }
  if (f.end_of_turn_.empty()) {
    if (eos_token.empty() && !first_error.empty()) {
      throw Error(fmt::format("{}: cannot render a probe conversation to find the end-of-turn token: {}", source,
                              first_error));
    }
    f.end_of_turn_ = eos_token;
  }
  if (!f.end_of_turn_.empty()) {
    if (auto id = tokenizer.single_token_id(f.end_of_turn_)) f.end_of_turn_id_ = *id;
  }
  return f;
}

ChatFormat ChatFormat::resolve(const Tokenizer& tokenizer, const std::string& setting,
                               const std::string& checkpoint_dir) {
  if (setting == "tulu" || setting == "chatml") return named(tokenizer, setting);
  if (setting != "auto" && setting != "checkpoint") {
    throw Error(fmt::format("model.chat_template: unknown value '{}'; expected auto, checkpoint, tulu or chatml",
                            setting));
  }
  std::optional<CheckpointChatTemplate> own =
      checkpoint_dir.empty() ? std::nullopt : read_checkpoint_chat_template(checkpoint_dir);
  if (!own) {
    if (setting == "checkpoint") {
      throw Error(fmt::format("model.chat_template is 'checkpoint' but {} has no chat template (no "
                              "chat_template.jinja, no chat_template in tokenizer_config.json)",
                              checkpoint_dir.empty() ? std::string("the model") : checkpoint_dir),
                  "set model.chat_template: tulu or chatml");
    }
    return named(tokenizer, "tulu");
  }
  for (const std::string& name : chat_template_names()) {
    if (own->text == named_chat_template_jinja(name)) return named(tokenizer, name, own->eos_token);
  }
  return jinja(tokenizer, own->text, own->source, own->bos_token, own->eos_token);
}

ChatEncoding ChatFormat::encode(const Tokenizer& tokenizer, const std::vector<ChatMessage>& messages,
                                bool add_generation_prompt) const {
  if (!jinja_) {
    ChatTemplateOptions options;
    options.add_generation_prompt = add_generation_prompt;
    options.eos_token = name_ == "tulu" ? end_of_turn_ : "";
    return apply_chat_template(tokenizer, name_, messages, options);
  }
  JinjaChatOptions options;
  options.add_generation_prompt = add_generation_prompt;
  options.bos_token = bos_;
  options.eos_token = eos_;
  options.end_of_turn = end_of_turn_;
  ChatEncoding enc = apply_jinja_chat_template(tokenizer, *jinja_, messages, options);
  if (enc.end_of_turn_id < 0) enc.end_of_turn_id = end_of_turn_id_;
  return enc;
}

std::string ChatFormat::identity() const {
  if (!jinja_) return name_;
  return "jinja:" + content_hash(text_ + '\0' + bos_ + '\0' + eos_);
}

std::string ChatFormat::resolved_identity(const std::string& setting, const std::string& checkpoint_dir) {
  if (setting != "auto" && setting != "checkpoint") return setting;
  std::optional<CheckpointChatTemplate> own =
      checkpoint_dir.empty() ? std::nullopt : read_checkpoint_chat_template(checkpoint_dir);
  if (!own) return setting == "auto" ? "tulu" : "checkpoint (none)";
  for (const std::string& name : chat_template_names()) {
    if (own->text == named_chat_template_jinja(name)) return name;
  }
  return "jinja:" + content_hash(own->text + '\0' + own->bos_token + '\0' + own->eos_token);
}

}  // namespace rlvr::core
