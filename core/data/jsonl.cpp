#include "core/data/jsonl.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <zlib.h>

#include "core/error.h"
#include "core/log.h"

namespace rlvr::core {

BadRowPolicy parse_bad_row_policy(const std::string& text) {
  if (text == "stop") return BadRowPolicy::kStop;
  if (text == "skip") return BadRowPolicy::kSkip;
  throw Error(fmt::format("on_bad_row: '{}' is not one of: stop, skip", text));
}

namespace {

// "syntax error while parsing value - invalid literal; near 'xyz'" from a parse error, without
// nlohmann's "last read: '<everything read so far>'" (which can be the whole line).
std::string describe_parse_error(const nlohmann::json::parse_error& e, const std::string& line) {
  std::string what = e.what();
  size_t detail = what.find(": ", what.find("parse error"));
  std::string reason = detail == std::string::npos ? what : what.substr(detail + 2);
  size_t last_read = reason.find("; last read:");
  if (last_read != std::string::npos) reason.resize(last_read);
  reason = excerpt(reason, 200);
  // Quote up to 40 bytes ending at the offending byte (e.byte is 1-based).
  const size_t at = std::min<size_t>(e.byte, line.size());
  const size_t from = at > 40 ? at - 40 : 0;
  std::string near;
  for (char c : std::string_view(line).substr(from, at - from)) {
    near += (static_cast<unsigned char>(c) < 0x20) ? '?' : c;
  }
  return fmt::format("invalid JSON at column {}: {}; near '{}{}'", e.byte, reason, from > 0 ? "..." : "", near);
}

// Lines of a plain or gzip file, or of standard input ("-"). zlib reads both plain and gzip
// data (gzread is transparent for data without a gzip header). Not copyable; not thread-safe.
class LineSource {
 public:
  explicit LineSource(const std::string& path) : path_(path) {
    if (path == "-") {
      const int fd = ::dup(STDIN_FILENO);
      if (fd >= 0) gz_ = gzdopen(fd, "rb");
      if (gz_ == nullptr) {
        if (fd >= 0) ::close(fd);
        throw Error("-: cannot read standard input");
      }
    } else {
      errno = 0;
      gz_ = gzopen(path.c_str(), "rb");
      if (gz_ == nullptr) {
        throw Error(fmt::format("{}: cannot open for reading: {}", path,
                                errno != 0 ? std::strerror(errno) : "out of memory"));
      }
    }
    gzbuffer(gz_, 1 << 17);
  }
  ~LineSource() { gzclose(gz_); }

  // zlib's error text without the "<path>: " it prefixes.
  std::string gz_error_text(int* code) const {
    std::string what = gzerror(gz_, code);
    const size_t colon = what.find(": ");
    if (colon != std::string::npos) what.erase(0, colon + 2);  // gzopen's path or gzdopen's "<fd:N>"
    return what;
  }
  LineSource(const LineSource&) = delete;
  LineSource& operator=(const LineSource&) = delete;

  // The next line without its "\n"; false at the end. `lines_read` names the position in errors.
  // Throws rlvr::Error for a read error or corrupt/truncated gzip data.
  bool next(std::string* line, int64_t lines_read) {
    line->clear();
    for (;;) {
      const size_t nl = buf_.find('\n', pos_);
      if (nl != std::string::npos) {
        line->append(buf_, pos_, nl - pos_);
        pos_ = nl + 1;
        return true;
      }
      line->append(buf_, pos_, std::string::npos);
      buf_.clear();
      pos_ = 0;
      if (eof_) return !line->empty();
      buf_.resize(1 << 16);
      const int n = gzread(gz_, buf_.data(), static_cast<unsigned>(buf_.size()));
      if (n < 0) {
        int code = 0;
        const std::string what = gz_error_text(&code);
        throw Error(fmt::format("{}: {} after line {}: {}", path_,
                                code == Z_ERRNO ? "read error" : "corrupt or truncated gzip data", lines_read,
                                code == Z_ERRNO ? std::strerror(errno) : what));
      }
      buf_.resize(static_cast<size_t>(n));
      if (n == 0) {
        // zlib reports a gzip stream cut short (Z_BUF_ERROR) only through gzerror, not gzread.
        int code = Z_OK;
        const std::string what = gz_error_text(&code);
        if (code != Z_OK) {
          throw Error(fmt::format("{}: corrupt or truncated gzip data after line {}: {}", path_, lines_read, what));
        }
        eof_ = true;
      }
    }
  }

 private:
  std::string path_;
  gzFile gz_ = nullptr;
  std::string buf_;
  size_t pos_ = 0;
  bool eof_ = false;
};

}  // namespace

JsonlStats read_jsonl(const std::string& path, BadRowPolicy policy,
                      const std::function<void(int64_t, const nlohmann::json&)>& on_row,
                      const std::string& skip_hint) {
  LineSource in(path);
  JsonlStats stats;
  std::string line;
  int64_t number = 0;
  while (in.next(&line, number)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    std::string problem;
    try {
      nlohmann::json row;
      try {
        row = nlohmann::json::parse(line);
      } catch (const nlohmann::json::parse_error& e) {
        throw Error(describe_parse_error(e, line));
      }
      on_row(number, row);
      ++stats.rows;
      continue;
    } catch (const Error& e) {
      problem = fmt::format("{}:{}: {}", path, number, excerpt(e.what(), 500));
    } catch (const nlohmann::json::exception& e) {
      problem = fmt::format("{}:{}: {}", path, number, excerpt(e.what(), 500));
    }
    if (policy == BadRowPolicy::kStop) throw Error(problem, skip_hint);
    if (stats.skipped == 0) stats.first_error = problem;
    ++stats.skipped;
    RLVR_LOG_WARN("skipping bad row: {}", problem);
  }
  return stats;
}

namespace {

const nlohmann::json& require(const nlohmann::json& row, const char* field, const char* expected) {
  RLVR_CHECK(row.is_object(), "expected a JSON object per line, got {}", row.type_name());
  auto it = row.find(field);
  RLVR_CHECK(it != row.end(), "missing field '{}'; expected {}", field, expected);
  return *it;
}

std::vector<ChatMessage> as_turns(const nlohmann::json& v, const std::string& field, const char* role) {
  if (v.is_string()) return {ChatMessage{role, v.get<std::string>()}};
  RLVR_CHECK(v.is_array(), "'{}': expected a string or a list of {{\"role\", \"content\"}} messages, got {}", field,
             v.type_name());
  return parse_messages(v, field);
}

}  // namespace

const std::vector<std::string>& message_roles() {
  static const std::vector<std::string> roles = {"system", "user", "assistant", "tool", "function", "ipython"};
  return roles;
}

namespace {

// A message's content: a string, or a list of text parts joined with "\n".
std::string parse_content(const nlohmann::json& m, const std::string& where) {
  auto content = m.find("content");
  RLVR_CHECK(content != m.end(), "'{}.content': missing; expected a string or a list of text parts", where);
  if (content->is_string()) return content->get<std::string>();
  RLVR_CHECK(content->is_array(),
             "'{}.content': expected a string or a list of {{\"type\": \"text\", \"text\": ...}} parts, got {}", where,
             content->type_name());
  std::string text;
  for (size_t k = 0; k < content->size(); ++k) {
    const auto& part = (*content)[k];
    const std::string at = fmt::format("{}.content[{}]", where, k);
    RLVR_CHECK(part.is_object(), "'{}': expected a {{\"type\": \"text\", \"text\": ...}} part, got {}", at,
               part.type_name());
    auto type = part.find("type");
    RLVR_CHECK(type != part.end() && type->is_string(), "'{}.type': missing; expected \"text\"", at);
    RLVR_CHECK(type->get<std::string>() == "text",
               "'{}.type': '{}' parts are not supported; expected \"text\" (rlvr trains text-only models)", at,
               excerpt(type->get<std::string>()));
    auto t = part.find("text");
    RLVR_CHECK(t != part.end() && t->is_string(), "'{}.text': expected a string", at);
    if (k > 0) text += '\n';
    text += t->get<std::string>();
  }
  return text;
}

}  // namespace

std::vector<ChatMessage> parse_messages(const nlohmann::json& value, const std::string& field) {
  RLVR_CHECK(value.is_array(), "'{}': expected a list of {{\"role\", \"content\"}} messages, got {}",
             field, value.type_name());
  RLVR_CHECK(!value.empty(), "'{}': the list of messages is empty", field);
  const auto& roles = message_roles();
  std::vector<ChatMessage> out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    const auto& m = value[i];
    const std::string where = fmt::format("{}[{}]", field, i);
    RLVR_CHECK(m.is_object(), "'{}': expected a message object, got {}", where, m.type_name());
    auto role = m.find("role");
    RLVR_CHECK(role != m.end() && role->is_string(), "'{}.role': expected a string", where);
    std::string r = role->get<std::string>();
    RLVR_CHECK(std::find(roles.begin(), roles.end(), r) != roles.end(),
               "'{}.role': '{}' is not one of: system, user, assistant, tool, function, ipython", where, excerpt(r));
    auto calls = m.find("tool_calls");
    RLVR_CHECK(calls == m.end() || calls->is_null() || (calls->is_array() && calls->empty()),
               "'{}.tool_calls': assistant tool calls are not supported yet; expected a message without them",
               where);
    ChatMessage message{r, parse_content(m, where)};
    // A tool message's name and the id of the call it answers, kept for the template.
    for (auto [key, into] : {std::pair<const char*, std::string*>{"name", &message.name},
                             std::pair<const char*, std::string*>{"tool_call_id", &message.tool_call_id}}) {
      auto it = m.find(key);
      if (it == m.end() || it->is_null()) continue;
      RLVR_CHECK(it->is_string(), "'{}.{}': expected a string, got {}", where, key, it->type_name());
      *into = it->get<std::string>();
    }
    out.push_back(std::move(message));
  }
  return out;
}

SftExample parse_sft_row(const nlohmann::json& row, int64_t line) {
  RLVR_CHECK(row.is_object(), "expected a JSON object per line, got {}", row.type_name());
  SftExample ex;
  ex.line = line;
  if (row.contains("messages")) {
    ex.messages = parse_messages(row["messages"], "messages");
    bool has_answer = false;
    for (const auto& m : ex.messages) has_answer |= m.role == "assistant" && !m.content.empty();
    RLVR_CHECK(has_answer, "'messages': no non-empty assistant turn to train on");
  } else if (row.contains("prompt") || row.contains("completion")) {
    RLVR_CHECK(row.contains("prompt"), "missing field 'prompt'; expected a string or a list of messages before "
                                       "'completion'");
    RLVR_CHECK(row.contains("completion"),
               "missing field 'completion'; expected a string or a list of assistant messages after 'prompt'");
    ex.messages = as_turns(row["prompt"], "prompt", "user");
    ex.prompt_messages = ex.messages.size();
    std::vector<ChatMessage> completion = as_turns(row["completion"], "completion", "assistant");
    bool empty = true;
    for (size_t i = 0; i < completion.size(); ++i) {
      RLVR_CHECK(completion[i].role == "assistant",
                 "'completion[{}].role': '{}'; expected only assistant turns in the completion", i,
                 completion[i].role);
      empty &= completion[i].content.empty();
    }
    RLVR_CHECK(!empty, "'completion': the completion is empty; expected text to train on");
    ex.messages.insert(ex.messages.end(), completion.begin(), completion.end());
  } else if (row.contains("text")) {
    const auto& t = row["text"];
    RLVR_CHECK(t.is_string(), "'text': expected a string, got {}", t.type_name());
    ex.plain_text = true;
    ex.text = t.get<std::string>();
    RLVR_CHECK(!ex.text.empty(), "'text': empty; expected text to train on");
  } else {
    throw Error("no 'messages', 'prompt'/'completion' or 'text' field; expected an SFT row: {\"messages\": "
                "[...]}, {\"prompt\": ..., \"completion\": ...} or {\"text\": \"...\"}");
  }
  return ex;
}

PreferenceExample parse_preference_row(const nlohmann::json& row, int64_t line) {
  PreferenceExample ex;
  ex.line = line;
  const auto& chosen_v = require(row, "chosen", "a list of messages or a string");
  const auto& rejected_v = require(row, "rejected", "a list of messages or a string");
  if (row.contains("prompt")) {
    ex.prompt = as_turns(row["prompt"], "prompt", "user");
    ex.chosen = as_turns(chosen_v, "chosen", "assistant");
    ex.rejected = as_turns(rejected_v, "rejected", "assistant");
  } else {
    auto chosen = parse_messages(chosen_v, "chosen");
    auto rejected = parse_messages(rejected_v, "rejected");
    // The prompt is the longest shared prefix that ends before the first differing turn and
    // before the final assistant turns.
    size_t shared = 0;
    while (shared < chosen.size() && shared < rejected.size() &&
           chosen[shared].role == rejected[shared].role &&
           chosen[shared].content == rejected[shared].content) {
      ++shared;
    }
    while (shared > 0 && chosen[shared - 1].role == "assistant" &&
           (shared == chosen.size() || shared == rejected.size())) {
      --shared;
    }
    RLVR_CHECK(shared > 0, "'chosen' and 'rejected' share no prompt turns");
    ex.prompt.assign(chosen.begin(), chosen.begin() + static_cast<std::ptrdiff_t>(shared));
    ex.chosen.assign(chosen.begin() + static_cast<std::ptrdiff_t>(shared), chosen.end());
    ex.rejected.assign(rejected.begin() + static_cast<std::ptrdiff_t>(shared), rejected.end());
  }
  auto check_response = [](const std::vector<ChatMessage>& turns, const char* field) {
    RLVR_CHECK(!turns.empty(), "'{}': no response after the shared prompt", field);
    for (size_t i = 0; i < turns.size(); ++i) {
      RLVR_CHECK(turns[i].role == "assistant",
                 "'{}': the response must be assistant turns, found role '{}' after the prompt",
                 field, turns[i].role);
    }
    bool empty = true;
    for (const auto& t : turns) empty &= t.content.empty();
    RLVR_CHECK(!empty, "'{}': the response is empty", field);
  };
  check_response(ex.chosen, "chosen");
  check_response(ex.rejected, "rejected");
  RLVR_CHECK(!ex.prompt.empty(), "'prompt': empty prompt");
  return ex;
}

std::vector<ChatMessage> parse_prompt_messages(const nlohmann::json& row) {
  RLVR_CHECK(row.is_object(), "expected a JSON object per line, got {}", row.type_name());
  std::vector<ChatMessage> out;
  if (row.contains("messages")) {
    out = parse_messages(row["messages"], "messages");
    while (!out.empty() && out.back().role == "assistant") out.pop_back();
    RLVR_CHECK(!out.empty(), "'messages' holds only assistant turns; expected a user turn to answer");
  } else {
    RLVR_CHECK(row.contains("prompt"),
               "missing field 'messages' (or 'prompt'); expected a list of {{\"role\", \"content\"}} messages or "
               "a prompt string");
    out = as_turns(row["prompt"], "prompt", "user");
  }
  return out;
}

PromptExample parse_prompt_row(const nlohmann::json& row, int64_t line) {
  PromptExample ex;
  ex.line = line;
  RLVR_CHECK(row.is_object(), "expected a JSON object per line, got {}", row.type_name());
  if (row.contains("messages") || !row.contains("prompt")) {
    ex.messages = parse_messages(require(row, "messages", "a list of messages (or a 'prompt' string)"), "messages");
    if (ex.messages.back().role == "assistant") ex.messages.pop_back();  // a reference answer
    RLVR_CHECK(!ex.messages.empty(), "'messages': no prompt turns before the assistant answer");
  } else {
    ex.messages = as_turns(row["prompt"], "prompt", "user");
  }
  const auto& gt = require(row, "ground_truth", "a string (or JSON) ground truth");
  RLVR_CHECK(!gt.is_null(), "'ground_truth': expected a string or JSON value, got null");
  // Newer open-instruct rows wrap it in a list, as `dataset`: ["42"] is "42".
  const nlohmann::json& g = gt.is_array() && gt.size() == 1 && gt[0].is_string() ? gt[0] : gt;
  ex.ground_truth = g.is_string() ? g.get<std::string>() : g.dump();
  const nlohmann::json* dsp = &require(row, "dataset", "the verifier name, e.g. \"gsm8k\"");
  if (dsp->is_array() && dsp->size() == 1) dsp = &(*dsp)[0];  // newer open-instruct rows
  const auto& ds = *dsp;
  RLVR_CHECK(ds.is_string() && !ds.get<std::string>().empty(),
             "'dataset': expected a verifier name string, got {}", excerpt(ds.dump()));
  ex.dataset = ds.get<std::string>();
  return ex;
}

}  // namespace rlvr::core
