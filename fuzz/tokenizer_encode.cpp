// Fuzz target: encoding arbitrary text with a real tokenizer (the committed
// tests/fixtures/tokenizer/tiny_tokenizer.json: byte-level BPE with added special tokens).
// Prompts, completions and data rows reach the tokenizer as outside bytes.
//
// Input: any bytes. Properties (tokenizer.h): every byte string can be encoded, with and without
// special-token parsing, and decode(encode(s)) == s (the vocabulary holds all 256 byte tokens).
#include <cstdint>
#include <string>
#include <vector>

#include "core/tokenizer/tokenizer.h"
#include "fuzz/fuzz_util.h"
#include "fuzz/tiny_tokenizer.h"

using rlvr::fuzz::tiny_tokenizer;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  rlvr::fuzz::quiet_logging();
  (void)tiny_tokenizer();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(rlvr::fuzz::as_view(data, size));
  const auto& tok = tiny_tokenizer();
  for (bool special : {true, false}) {
    std::vector<int32_t> ids = tok.encode(text, special);
    for (int32_t id : ids) {
      RLVR_FUZZ_EXPECT(id >= 0 && id < tok.vocab_size(), "encode produced id " + std::to_string(id));
    }
    RLVR_FUZZ_EXPECT(tok.decode(ids) == text, "decode(encode(s)) != s");
  }
  // The cache must not change results: encode again (now from the cache) and compare.
  RLVR_FUZZ_EXPECT(tok.encode(text) == tok.encode(text), "a second encode differs");
  return 0;
}
