// Input bounds, <think> removal and ground-truth unwrapping. See text.h.
#include "verifiers/text.h"

#include <vector>

#include <nlohmann/json.hpp>

#include "verifiers/ifeval.h"

namespace rlvr::verifiers {
namespace {

bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// Calls `keep(segment)` for each piece of `text` that strip_think keeps, in order.
template <class F>
void for_each_kept(std::string_view text, F&& keep) {
  static constexpr std::string_view kOpen = "<think>", kClose = "</think>";
  size_t first_open = text.find(kOpen);
  size_t first_close = text.find(kClose);
  if (first_close != std::string_view::npos &&
      (first_open == std::string_view::npos || first_close < first_open)) {
    text.remove_prefix(first_close + kClose.size());
  }
  size_t pos = 0;
  while (pos < text.size()) {
    size_t open = text.find(kOpen, pos);
    if (open == std::string_view::npos) {
      keep(text.substr(pos));
      return;
    }
    if (open > pos) keep(text.substr(pos, open - pos));
    size_t close = text.find(kClose, open + kOpen.size());
    if (close == std::string_view::npos) return;
    pos = close + kClose.size();
  }
}

std::string_view trim_ascii(std::string_view s) {
  constexpr std::string_view kSpace = " \t\n\r\f\v";
  size_t b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(kSpace);
  return s.substr(b, e - b + 1);
}

}  // namespace

std::string_view cap_input(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t end = max_bytes;
  // Back up over continuation bytes (10xxxxxx) to the start of the cut character.
  while (end > 0 && is_continuation(text[end])) --end;
  return text.substr(0, end);
}

std::string_view tail_input(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t begin = text.size() - max_bytes;
  while (begin < text.size() && is_continuation(text[begin])) ++begin;
  return text.substr(begin);
}

std::string strip_think(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for_each_kept(text, [&](std::string_view piece) { out.append(piece); });
  return out;
}

std::string strip_think_tail(std::string_view text, size_t max_bytes) {
  std::vector<std::string_view> pieces;
  size_t total = 0;
  for_each_kept(text, [&](std::string_view piece) {
    pieces.push_back(piece);
    total += piece.size();
  });
  // Walk back from the end until max_bytes are covered, then cut the first piece.
  size_t need = std::min(total, max_bytes);
  size_t first = pieces.size();
  size_t covered = 0;
  while (covered < need) {
    --first;
    covered += pieces[first].size();
  }
  std::string out;
  out.reserve(need);
  for (size_t i = first; i < pieces.size(); ++i) {
    std::string_view p = pieces[i];
    if (i == first) p.remove_prefix(covered - need);
    out.append(p);
  }
  size_t skip = 0;
  while (skip < out.size() && is_continuation(out[skip])) ++skip;
  out.erase(0, skip);
  return out;
}

std::string unwrap_ground_truth(std::string_view ground_truth) {
  std::string_view t = trim_ascii(ground_truth);
  if (t.size() < 2 || t.front() != '[' || t.back() != ']') return std::string(ground_truth);
  using nlohmann::json;
  json j = json::parse(t.begin(), t.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    if (auto converted = ifeval::python_literal_to_json(t)) {
      j = json::parse(*converted, nullptr, /*allow_exceptions=*/false);
    }
  }
  if (!j.is_array() || j.size() != 1) return std::string(ground_truth);
  const json& e = j[0];
  if (e.is_string()) return e.get<std::string>();
  if (e.is_number()) return std::string(trim_ascii(t.substr(1, t.size() - 2)));
  if (e.is_object()) return e.dump(-1, ' ', false, json::error_handler_t::replace);
  return std::string(ground_truth);
}

}  // namespace rlvr::verifiers
