// GPT-2's byte-level alphabet: the reversible map from the 256 byte values to 256 printable
// Unicode characters (bytes_to_unicode in openai/gpt-2), used by vocabularies, merges and the
// ByteLevel pre-tokenizer/decoder. Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace rlvr::core::byte_level {

// The UTF-8 encoding of the character that stands for `byte` ("Ġ" for ' ').
const std::string& char_for_byte(unsigned char byte);

// Maps every byte of `bytes` to its character: "hello world" -> "helloĠworld".
std::string encode(std::string_view bytes);

// The inverse of encode(). Returns std::nullopt when `text` contains a character outside the
// alphabet (or is not valid UTF-8).
std::optional<std::string> decode(std::string_view text);

}  // namespace rlvr::core::byte_level
