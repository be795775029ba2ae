// The byte layout of a multipart message in the protocol_decode corpus: the frames joined with
// kFrameSeparator. A separator (not length prefixes) keeps the frames apart when the fuzzer
// inserts or deletes bytes inside one. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace rlvr::fuzz {

inline constexpr std::string_view kFrameSeparator = "\n--rlvr-frame--\n";

// The frames of `bytes` (an empty input is one empty frame). Views into `bytes`.
inline std::vector<std::string_view> split_frames(std::string_view bytes) {
  std::vector<std::string_view> frames;
  size_t from = 0;
  while (true) {
    size_t at = bytes.find(kFrameSeparator, from);
    if (at == std::string_view::npos) {
      frames.push_back(bytes.substr(from));
      return frames;
    }
    frames.push_back(bytes.substr(from, at - from));
    from = at + kFrameSeparator.size();
  }
}

// The inverse of split_frames (for frames that do not contain the separator).
inline std::string join_frames(const std::vector<std::string>& frames) {
  std::string out;
  for (size_t i = 0; i < frames.size(); ++i) {
    if (i > 0) out += kFrameSeparator;
    out += frames[i];
  }
  return out;
}

}  // namespace rlvr::fuzz
