// UTF-8 helpers and Unicode normalization (NFC) for the tokenizer.
//
// Everything here accepts arbitrary bytes: invalid UTF-8 is never an error, it is passed
// through unchanged (each invalid byte behaves like a character that composes with nothing).
// All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace rlvr::core::unicode {

// Decodes the code point starting at `s[pos]`. Returns the code point and sets `len` to the
// number of bytes consumed (1..4). For an invalid or truncated sequence (including encoded
// surrogates and overlong forms) returns -1 and sets `len` to 1.
int32_t decode_utf8(std::string_view s, size_t pos, size_t* len);

// Appends the UTF-8 encoding of `cp` (REQUIRES: 0 <= cp <= 0x10FFFF, not a surrogate).
void append_utf8(std::string* out, uint32_t cp);

// True when `s` is entirely valid UTF-8.
bool is_valid_utf8(std::string_view s);

// Unicode White_Space (what Rust's char::is_whitespace and HF tokenizers use for lstrip/rstrip).
bool is_white_space(int32_t cp);

// Canonical composition (NFC) of `s`, per UAX #15 with the tables generated from the Unicode
// version named by nfc_unicode_version(). Invalid bytes are kept as they are. Returns `s`
// unchanged (no copy work beyond the scan) when it contains no character NFC could alter.
std::string nfc(std::string_view s);

// True when nfc(s) == s is guaranteed by a quick scan (no character that NFC could alter).
bool is_nfc_quick(std::string_view s);

// The Unicode version of the NFC tables ("14.0.0").
const char* nfc_unicode_version();

}  // namespace rlvr::core::unicode
