#include "core/data/jsonl.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

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

}  // namespace

JsonlStats read_jsonl(const std::string& path, BadRowPolicy policy,
                      const std::function<void(int64_t, const nlohmann::json&)>& on_row,
                      const std::string& skip_hint) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot open for reading: {}", path, std::strerror(errno)));
  JsonlStats stats;
  std::string line;
  int64_t number = 0;
  while (std::getline(in, line)) {
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
  if (in.bad()) throw Error(fmt::format("{}: read error after line {}", path, number));
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
  return parse_messages(v, field);
}

}  // namespace

std::vector<ChatMessage> parse_messages(const nlohmann::json& value, const std::string& field) {
  RLVR_CHECK(value.is_array(), "'{}': expected a list of {{\"role\", \"content\"}} messages, got {}",
             field, value.type_name());
  RLVR_CHECK(!value.empty(), "'{}': the list of messages is empty", field);
  std::vector<ChatMessage> out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    const auto& m = value[i];
    RLVR_CHECK(m.is_object(), "'{}[{}]': expected a message object, got {}", field, i, m.type_name());
    auto role = m.find("role");
    RLVR_CHECK(role != m.end() && role->is_string(), "'{}[{}].role': expected a string", field, i);
    std::string r = role->get<std::string>();
    RLVR_CHECK(r == "system" || r == "user" || r == "assistant",
               "'{}[{}].role': '{}' is not one of: system, user, assistant", field, i, r);
    auto content = m.find("content");
    RLVR_CHECK(content != m.end() && content->is_string(), "'{}[{}].content': expected a string", field, i);
    out.push_back(ChatMessage{r, content->get<std::string>()});
  }
  return out;
}

SftExample parse_sft_row(const nlohmann::json& row, int64_t line) {
  SftExample ex;
  ex.line = line;
  ex.messages = parse_messages(require(row, "messages", "a list of messages"), "messages");
  bool has_answer = false;
  for (const auto& m : ex.messages) has_answer |= m.role == "assistant" && !m.content.empty();
  RLVR_CHECK(has_answer, "'messages': no non-empty assistant turn to train on");
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

PromptExample parse_prompt_row(const nlohmann::json& row, int64_t line) {
  PromptExample ex;
  ex.line = line;
  ex.messages = parse_messages(require(row, "messages", "a list of messages"), "messages");
  if (ex.messages.back().role == "assistant") ex.messages.pop_back();  // a reference answer
  RLVR_CHECK(!ex.messages.empty(), "'messages': no prompt turns before the assistant answer");
  const auto& gt = require(row, "ground_truth", "a string (or JSON) ground truth");
  RLVR_CHECK(!gt.is_null(), "'ground_truth': expected a string or JSON value, got null");
  ex.ground_truth = gt.is_string() ? gt.get<std::string>() : gt.dump();
  const nlohmann::json* dsp = &require(row, "dataset", "the verifier name, e.g. \"gsm8k\"");
  if (dsp->is_array() && dsp->size() == 1) dsp = &(*dsp)[0];  // newer open-instruct rows
  const auto& ds = *dsp;
  RLVR_CHECK(ds.is_string() && !ds.get<std::string>().empty(),
             "'dataset': expected a verifier name string, got {}", excerpt(ds.dump()));
  ex.dataset = ds.get<std::string>();
  return ex;
}

}  // namespace rlvr::core
