// Tokenizer: BPE loaded from a Hugging Face tokenizer.json: byte-level vocabularies (GPT-2,
// Llama 3, Qwen2/Qwen3, DeepSeek-V3 and files written by rlvr's BPE trainer) and
// SentencePiece-style ones (Gemma, Gemma 3, Llama 2: byte_fallback, "▁" for spaces).
//
// Pipeline (as HF tokenizers runs it): added tokens are split out of the raw text first
// (leftmost-longest; their lstrip/rstrip/single_word/normalized flags honoured), each remaining
// segment is normalized (NFC, Replace, Prepend, in order) and pre-tokenized (Split, ByteLevel,
// Metaspace), and each piece is merged with the ranked BPE merges (ignore_merges honoured):
// byte-level vocabularies (the pre-tokenizer has a ByteLevel step) start from the piece's
// bytes in GPT-2's byte alphabet; SentencePiece-style ones from its UTF-8 characters, where a
// character outside the vocabulary becomes its <0xNN> tokens (byte_fallback) or the unk token
// (fused with fuse_unk). No BOS/EOS is added (post-processors are not applied: chat templates
// and callers add them explicitly; see bos_id()). Decoding runs the decoder chain (ByteLevel, or
// Replace, ByteFallback, Fuse, Strip, Metaspace) over the token strings.
//
// Any byte string can be encoded: bytes that are not valid UTF-8 are encoded as their own
// byte tokens (byte-level) or <0xNN> tokens (byte_fallback), so decode(encode(s)) == s for every
// input when the vocabulary holds all 256 byte tokens and the normalizer and decoder are
// inverses (no NFC; no written "▁", which SentencePiece decoders turn into a space).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rlvr::core {

// One entry of tokenizer.json's `added_tokens`. Defaults are HF tokenizers' defaults.
struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool special = false;      // skipped by decode(skip_special=true); not matched when parse_special=false
  bool lstrip = false;       // the match absorbs white space on its left
  bool rstrip = false;       // the match absorbs white space on its right
  bool single_word = false;  // matches only when no word character touches it on either side
  bool normalized = false;   // matched in the normalized text instead of the raw input
};

// A loaded tokenizer. Immutable after loading except for its internal BPE cache.
// Thread-safety: every const method may be called concurrently from any number of threads
// (the BPE piece cache is sharded and mutex-protected; scratch buffers are thread-local).
// Movable, not copyable.
class Tokenizer {
 public:
  // Loads `path`. Throws rlvr::Error naming the file (and the JSON field) when the file is
  // missing, is not JSON, is malformed, or uses an unsupported component (Unigram, WordPiece,
  // Lowercase, Whitespace, ...): the message names the type.
  static Tokenizer from_file(const std::string& path);
  // Same, from the text of a tokenizer.json; `source` names it in error messages.
  static Tokenizer from_json(const std::string& json_text, const std::string& source);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;
  ~Tokenizer();

  // Encodes `text` (any bytes). With parse_special=false, added tokens marked special are not
  // recognised and are encoded as ordinary text (HF's encode_special_tokens / split_special_tokens).
  // Never throws.
  std::vector<int32_t> encode(std::string_view text, bool parse_special = true) const;
  // Appends the ids of `text` to `ids`.
  void encode_append(std::string_view text, std::vector<int32_t>* ids, bool parse_special = true) const;

  // The text of `ids`: byte-level tokens give their bytes, added tokens their content, and a
  // SentencePiece-style decoder chain is applied as HF does (e.g. Llama 2's Strip drops the
  // leading space). A run of <0xNN> tokens that is not valid UTF-8 keeps its bytes (HF writes
  // U+FFFD), so decoding ids one by one and concatenating gives the same bytes unless the chain
  // has a Strip or Metaspace step. skip_special drops added tokens marked special. Throws
  // rlvr::Error for an id outside [0, vocab_size()) or an id no token has.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const;
  // True when decode(ids) is the concatenation of decode({id}) over the ids (byte-level files,
  // and SentencePiece-style chains without Strip or Metaspace); false when a token's text depends
  // on its position (Llama 2 / Mistral style: the first token loses its leading space).
  bool decodes_token_by_token() const;

  // The id of a token as written in tokenizer.json (byte-level form, e.g. "Ġthe", or
  // SentencePiece form, e.g. "▁the", "<0x0A>") or of an added token's content; std::nullopt
  // when there is none.
  std::optional<int32_t> token_to_id(std::string_view token) const;
  // The token string as written in tokenizer.json; std::nullopt for an unknown id.
  std::optional<std::string> id_to_token(int32_t id) const;
  // The single id that `text` encodes to (an added token or one vocabulary entry), if any.
  std::optional<int32_t> single_token_id(std::string_view text) const;

  // One past the largest id (vocabulary and added tokens).
  int32_t vocab_size() const;
  const std::vector<AddedToken>& added_tokens() const;
  // The BOS id the post_processor (TemplateProcessing) would prepend, if it names one.
  std::optional<int32_t> bos_id() const;
  // Where the tokenizer was loaded from (for messages).
  const std::string& source() const;

  // Number of cached BPE pieces, and a way to drop them (for benchmarks).
  size_t cache_entries() const;
  void clear_cache() const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rlvr::core
