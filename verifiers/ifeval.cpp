// The `ifeval` verifier: ground-truth parsing (JSON or Python literal) and scoring.
#include "verifiers/ifeval.h"

#include <cctype>

#include <fmt/format.h>

#include "verifiers/ifeval_checks.h"
#include "verifiers/ifeval_text.h"
#include "verifiers/text.h"
#include "core/tokenizer/unicode.h"

namespace rlvr::verifiers {
namespace ifeval {
constexpr size_t kMaxReasonBytes = 512;

namespace {

using nlohmann::json;

constexpr size_t kMaxGroundTruthBytes = 1 << 20;

void append_json_string(std::string& out, const std::string& s) { out += json(s).dump(); }

// `text` without any occurrence of `what` (one left-to-right pass, as str.replace(what, "")).
std::string remove_all(std::string_view text, std::string_view what) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (true) {
    size_t f = text.find(what, pos);
    if (f == std::string_view::npos) break;
    out.append(text.substr(pos, f - pos));
    pos = f + what.size();
  }
  out.append(text.substr(pos));
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::string> python_literal_to_json(std::string_view t) {
  std::string out;
  out.reserve(t.size() + 16);
  size_t i = 0;
  while (i < t.size()) {
    char c = t[i];
    if (c == '\'' || c == '"') {
      const char q = c;
      std::string value;
      ++i;
      bool closed = false;
      while (i < t.size()) {
        char d = t[i];
        if (d == q) {
          closed = true;
          ++i;
          break;
        }
        if (d == '\n') return std::nullopt;
        if (d != '\\') {
          value.push_back(d);
          ++i;
          continue;
        }
        if (++i >= t.size()) return std::nullopt;
        char e = t[i++];
        switch (e) {
          case 'n': value.push_back('\n'); break;
          case 't': value.push_back('\t'); break;
          case 'r': value.push_back('\r'); break;
          case 'b': value.push_back('\b'); break;
          case 'f': value.push_back('\f'); break;
          case 'v': value.push_back('\v'); break;
          case 'a': value.push_back('\a'); break;
          case '0': value.push_back('\0'); break;
          case '\\': case '\'': case '"': value.push_back(e); break;
          case '\n': break;
          case 'x': case 'u': case 'U': {
            int digits = e == 'x' ? 2 : (e == 'u' ? 4 : 8);
            uint32_t cp = 0;
            for (int k = 0; k < digits; ++k) {
              if (i >= t.size() || hex_value(t[i]) < 0) return std::nullopt;
              cp = cp * 16 + static_cast<uint32_t>(hex_value(t[i++]));
            }
            if (cp > 0x10FFFF) return std::nullopt;
            core::unicode::append_utf8(&value, cp);
            break;
          }
          default: value.push_back('\\'); value.push_back(e); break;
        }
      }
      if (!closed) return std::nullopt;
      append_json_string(out, sanitize_utf8(value));
      continue;
    }
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_') {
      size_t j = i;
      while (j < t.size() && (std::isalnum(static_cast<unsigned char>(t[j])) || t[j] == '_')) ++j;
      std::string_view word = t.substr(i, j - i);
      if (word == "None") out += "null";
      else if (word == "True") out += "true";
      else if (word == "False") out += "false";
      else if (word == "null" || word == "true" || word == "false") out += word;
      else return std::nullopt;
      i = j;
      continue;
    }
    if (c == '(') c = '[';
    if (c == ')') c = ']';
    out.push_back(c);
    ++i;
  }
  return out;
}

std::string clean_response(std::string_view response) {
  static constexpr std::string_view kAssistant = "<|assistant|>", kClose = "</think>";
  std::string text = remove_all(response, kAssistant);
  text = strip_think(text);
  size_t last_close = text.rfind(kClose);
  if (last_close != std::string::npos) text.erase(0, last_close + kClose.size());
  text = remove_all(remove_all(text, "<answer>"), "</answer>");
  return std::string(py_strip(text));
}

namespace {

std::optional<json> parse_any(std::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_discarded()) return j;
  if (auto converted = python_literal_to_json(text)) {
    j = json::parse(*converted, nullptr, /*allow_exceptions=*/false);
    if (!j.is_discarded()) return j;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::vector<Instruction>> parse_ground_truth(std::string_view text, std::string* error) {
  if (text.size() > kMaxGroundTruthBytes) {
    *error = "ground truth larger than 1 MiB";
    return std::nullopt;
  }
  std::optional<json> j = parse_any(text);
  if (!j) {
    *error = "ground truth is neither JSON nor a Python literal";
    return std::nullopt;
  }
  if (j->is_array()) {
    if (j->empty()) {
      *error = "ground truth is an empty list";
      return std::nullopt;
    }
    json first = (*j)[0];
    j = std::move(first);
  }
  if (j->is_string()) {
    std::optional<json> inner = parse_any(j->get_ref<const std::string&>());
    if (!inner) {
      *error = "ground truth string is not a JSON object";
      return std::nullopt;
    }
    j = std::move(inner);
  }
  if (!j->is_object()) {
    *error = "ground truth must be an object with 'instruction_id' and 'kwargs'";
    return std::nullopt;
  }
  auto ids = j->find("instruction_id");
  if (ids == j->end() || !ids->is_array()) {
    *error = "ground truth has no 'instruction_id' list";
    return std::nullopt;
  }
  auto kwargs = j->find("kwargs");
  if (kwargs == j->end() || !kwargs->is_array()) {
    *error = "ground truth has no 'kwargs' list";
    return std::nullopt;
  }
  std::vector<Instruction> out;
  // zip(instruction_id, kwargs): the shorter list decides, as in open-instruct.
  size_t n = std::min(ids->size(), kwargs->size());
  for (size_t k = 0; k < n; ++k) {
    const json& id = (*ids)[k];
    if (!id.is_string()) {
      *error = fmt::format("instruction_id[{}] is not a string", k);
      return std::nullopt;
    }
    Instruction ins;
    ins.id = id.get<std::string>();
    ins.kwargs = json::object();
    const json& kw = (*kwargs)[k];
    if (kw.is_object()) {
      for (auto it = kw.begin(); it != kw.end(); ++it) {
        if (!it->is_null()) ins.kwargs[it.key()] = *it;
      }
    } else if (!kw.is_null()) {
      *error = fmt::format("kwargs[{}] is not an object", k);
      return std::nullopt;
    }
    out.push_back(std::move(ins));
  }
  if (out.empty()) {
    *error = "ground truth lists no instructions";
    return std::nullopt;
  }
  return out;
}

std::string over_bound_reason(size_t size, size_t bound) {
  return fmt::format(
      "response is {} bytes, over verifiers.max_input_bytes ({}): not checked (instruction checks "
      "need the whole text; raise the bound to score it)",
      size, bound);
}

}  // namespace ifeval

VerifyResult IfevalVerifier::verify(const VerifyInput& input) const {
  VerifyResult result;
  std::string error;
  auto instructions = ifeval::parse_ground_truth(input.ground_truth, &error);
  if (!instructions) {
    result.reason = "bad ground truth: " + error;
    return result;
  }
  if (input.response.size() > options_.max_input_bytes) {
    result.error = true;
    result.reason = ifeval::over_bound_reason(input.response.size(), options_.max_input_bytes);
    return result;
  }
  std::string answer = ifeval::clean_response(ifeval::sanitize_utf8(input.response));
  if (answer.empty()) {
    result.reason = "empty response";
    return result;
  }
  result.answer_found = true;
  size_t followed = 0;
  std::string failures;
  for (const auto& ins : *instructions) {
    ifeval::CheckResult r = ifeval::check_instruction(ins.id, ins.kwargs, answer);
    if (r.followed) {
      ++followed;
    } else if (failures.size() < ifeval::kMaxReasonBytes) {
      failures += fmt::format("; {}: {}", ins.id, r.reason);
    }
  }
  result.score = static_cast<double>(followed) / static_cast<double>(instructions->size());
  result.reason = fmt::format("{}/{} instructions followed{}", followed, instructions->size(), failures);
  if (result.reason.size() > ifeval::kMaxReasonBytes) {
    result.reason.resize(ifeval::kMaxReasonBytes);
    while (!result.reason.empty() && (static_cast<unsigned char>(result.reason.back()) & 0xC0) == 0x80)
      result.reason.pop_back();
    if (!result.reason.empty() && static_cast<unsigned char>(result.reason.back()) >= 0xC0) result.reason.pop_back();
    result.reason += "...";
  }
  return result;
}

}  // namespace rlvr::verifiers
