// Text preparation shared by every verifier: input capping and <think> removal.
#pragma once

#include <string>
#include <string_view>

namespace rlvr::verifiers {

// The first `max_bytes` bytes of `text`, cut back to a UTF-8 character boundary so a
// multi-byte sequence is never split. Linear; never throws.
std::string_view cap_input(std::string_view text, size_t max_bytes);

// `text` with every `<think>...</think>` section removed, as open-instruct does before
// verification; an unclosed `<think>` removes everything after it (the model never answered).
// A stray `</think>` with no opening tag drops everything up to and including it (models
// that start thinking inside the prompt template). Linear; never throws.
std::string strip_think(std::string_view text);

}  // namespace rlvr::verifiers
