// Fuzz target: loading a tokenizer.json (core/tokenizer/tokenizer.h Tokenizer::from_json):
// added tokens, the model's vocab and merges, normalizer and pre-tokenizer settings.
//
// Input: the file's text. An accepted tokenizer must then encode and decode a fixed
// multilingual sample and the input's first bytes without crashing, and every id it produces
// must be in [0, vocab_size) and decodable.
#include <cstdint>
#include <string>
#include <vector>

#include "core/tokenizer/tokenizer.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  rlvr::fuzz::quiet_logging();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using rlvr::core::Tokenizer;
  const std::string text(rlvr::fuzz::as_view(data, size));
  rlvr::fuzz::expect_clean([&] {
    Tokenizer tok = Tokenizer::from_json(text, "fuzz/tokenizer.json");
    const std::string samples[] = {
        "Hello world! 12345 <|endoftext|> caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\xa4\x96\n\t  x",
        std::string("\xff\xfe invalid \xc3 utf-8 \0 nul", sizeof("\xff\xfe invalid \xc3 utf-8 \0 nul") - 1),
        text.substr(0, 256),
    };
    for (const std::string& s : samples) {
      for (bool special : {true, false}) {
        std::vector<int32_t> ids = tok.encode(s, special);
        for (int32_t id : ids) {
          RLVR_FUZZ_EXPECT(id >= 0 && id < tok.vocab_size(), "encode produced id " + std::to_string(id));
        }
        // Decoding the tokenizer's own ids may still fail cleanly (an id without a token); it
        // must not crash.
        rlvr::fuzz::expect_clean([&] { (void)tok.decode(ids, /*skip_special=*/!special); });
      }
    }
    (void)tok.bos_id();
    for (int32_t id : {0, 1, tok.vocab_size() - 1, tok.vocab_size(), -1}) (void)tok.id_to_token(id);
    rlvr::fuzz::expect_clean([&] { (void)tok.decode({tok.vocab_size(), -1}); });
  });
  return 0;
}
