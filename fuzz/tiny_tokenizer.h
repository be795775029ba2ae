// The committed tiny tokenizer (tests/fixtures/tokenizer/tiny_tokenizer.json), loaded once, for
// the fuzz targets that tokenize rows. Thread-safe after the first call (a function static).
#pragma once

#include "core/tokenizer/tokenizer.h"
#include "fuzz/fuzz_util.h"

namespace rlvr::fuzz {

inline const core::Tokenizer& tiny_tokenizer() {
  static const core::Tokenizer tok = core::Tokenizer::from_json(
      read_source_file("tests/fixtures/tokenizer/tiny_tokenizer.json"), "tiny_tokenizer.json");
  return tok;
}

}  // namespace rlvr::fuzz
