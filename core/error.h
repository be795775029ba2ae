// rlvr::Error and RLVR_CHECK: the one exception type for bad user or peer input.
//
// Bad input (YAML, JSONL, checkpoints, tokenizer files, network messages, CLI flags) throws
// rlvr::Error with what was wrong, where (file:line, key path, field, flag) and what was
// expected. Tool mains catch it, print one line and exit 1. Internal invariants use
// RLVR_ASSERT, which aborts: never use it for anything a user or peer can send.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace rlvr {

// An error caused by input the user or a peer supplied. Immutable; safe to copy across threads.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, std::string hint = {})
      : std::runtime_error(message), hint_(std::move(hint)) {}

  // An optional second line suggesting a fix ("HINT: ..."); empty when there is none.
  const std::string& hint() const { return hint_; }

  // The message plus "\nhint: <hint>" when a hint is present.
  std::string full_message() const {
    return hint_.empty() ? std::string(what()) : std::string(what()) + "\nhint: " + hint_;
  }

 private:
  std::string hint_;
};

// A short quote of `text` for error messages: at most `max_bytes` bytes (cut at a UTF-8
// boundary) with "..." when cut, so a 50 MB input line never becomes a 50 MB message.
inline std::string excerpt(std::string_view text, size_t max_bytes = 60) {
  if (text.size() <= max_bytes) return std::string(text);
  size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end)) + "...";
}

}  // namespace rlvr

// Throws rlvr::Error with a fmt-formatted message when `cond` is false.
#define RLVR_CHECK(cond, ...)                            \
  do {                                                   \
    if (!(cond)) throw ::rlvr::Error(fmt::format(__VA_ARGS__)); \
  } while (0)

// Aborts with file:line when an internal invariant is broken (a bug, never bad input).
#define RLVR_ASSERT(cond)                                                                   \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "%s:%d: internal error: assertion failed: %s\n", __FILE__, __LINE__, \
                   #cond);                                                                  \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)
