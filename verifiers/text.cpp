#include "verifiers/text.h"

namespace rlvr::verifiers {

std::string_view cap_input(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t end = max_bytes;
  // Back up over continuation bytes (10xxxxxx) to the start of the cut character.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

std::string strip_think(std::string_view text) {
  static constexpr std::string_view kOpen = "<think>", kClose = "</think>";
  size_t first_open = text.find(kOpen);
  size_t first_close = text.find(kClose);
  if (first_close != std::string_view::npos &&
      (first_open == std::string_view::npos || first_close < first_open)) {
    text.remove_prefix(first_close + kClose.size());
  }
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    size_t open = text.find(kOpen, pos);
    if (open == std::string_view::npos) {
      out.append(text.substr(pos));
      break;
    }
    out.append(text.substr(pos, open - pos));
    size_t close = text.find(kClose, open + kOpen.size());
    if (close == std::string_view::npos) break;
    pos = close + kClose.size();
  }
  return out;
}

}  // namespace rlvr::verifiers
