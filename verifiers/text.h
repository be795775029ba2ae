// Text preparation shared by the verifiers: the input bound (a prefix or a tail of the
// response, cut at a UTF-8 boundary), <think> removal, and the one-element-list ground truth.
// Every function is linear in its input, thread-safe and never throws.
#pragma once

#include <string>
#include <string_view>

namespace rlvr::verifiers {

// The first `max_bytes` bytes of `text`, cut back to a UTF-8 character boundary so a
// multi-byte sequence is never split.
std::string_view cap_input(std::string_view text, size_t max_bytes);

// The last `max_bytes` bytes of `text`, cut forward to a UTF-8 character boundary (a
// continuation byte never starts the result).
std::string_view tail_input(std::string_view text, size_t max_bytes);

// `text` with every `<think>...</think>` section removed, as open-instruct does before
// verification; an unclosed `<think>` removes everything after it (the model never answered).
// A stray `</think>` with no opening tag drops everything up to and including it (models
// that start thinking inside the prompt template).
std::string strip_think(std::string_view text);

// tail_input(strip_think(text), max_bytes) without building the whole stripped text: the
// sections are decided over the whole response, then the last `max_bytes` bytes of what is
// left are kept. For verifiers whose answer is at the end (gsm8k, math).
std::string strip_think_tail(std::string_view text, size_t max_bytes);

// A ground truth that is a one-element list, as some open-instruct data sets store it, as the
// verifiers expect it: `["5"]` -> `5` (a string element: its value), `[72]` -> `72` (a number:
// its text as written), `[{"a": 1}]` -> `{"a":1}` (an object: its JSON text). JSON lists and
// Python list literals (`['5']`) are recognised. Anything else comes back unchanged: lists of
// several elements (math reads them as alternatives), empty lists, one-element lists of a list,
// a bool or null, and text that is not a list.
std::string unwrap_ground_truth(std::string_view ground_truth);

}  // namespace rlvr::verifiers
