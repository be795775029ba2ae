// Byte-level BPE training and conversion of GPT-2's original vocabulary files, both producing
// a tokenizer.json that rlvr's Tokenizer and Hugging Face `tokenizers` load.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rlvr::core {

// Options of train_bpe(). Plain struct; copyable.
struct BpeTrainerOptions {
  // Total vocabulary: special tokens + 256 byte tokens + merges. Default 4096.
  // REQUIRES: >= 256 + special_tokens.size().
  int32_t vocab_size = 4096;
  // Added as special tokens with ids 0..k-1 in this order; never merged, never split.
  std::vector<std::string> special_tokens;
  // Split regex family: "qwen2" (digits one by one; default), "llama3" (digits in runs of up
  // to 3) or "gpt2"; see split_pattern_by_name().
  std::string pattern = "qwen2";
  // A pair seen fewer times than this is never merged. Default 2.
  int64_t min_frequency = 2;
};

// The pre-tokenizer regex of a family: "gpt2", "llama3" or "qwen2". Throws rlvr::Error
// naming the choices for anything else.
std::string split_pattern_by_name(const std::string& name);

// Trains a byte-level BPE on `texts` and returns the tokenizer.json text. Deterministic: the
// same texts and options give byte-identical output (ties between equally frequent pairs go
// to the pair with the smaller ids). Occurrences of special tokens in the texts are cut out
// before counting. Throws rlvr::Error for invalid options.
std::string train_bpe(const std::vector<std::string>& texts, const BpeTrainerOptions& options);

// Same, reading each file whole. Throws rlvr::Error naming a file that cannot be read.
std::string train_bpe_files(const std::vector<std::string>& paths, const BpeTrainerOptions& options);

// Converts GPT-2's encoder.json (token -> id) and vocab.bpe (merges, one "a b" per line after a
// "#version" header) into a tokenizer.json equivalent to Hugging Face's gpt2 tokenizer.json
// (ByteLevel pre-tokenizer with GPT-2's regex, <|endoftext|> as a special added token when the
// vocabulary has it). Throws rlvr::Error naming the file and line/field on malformed input.
std::string convert_gpt2_vocab(const std::string& encoder_json_path, const std::string& vocab_bpe_path);

}  // namespace rlvr::core
