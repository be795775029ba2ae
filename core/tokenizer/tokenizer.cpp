// BPE tokenizer: tokenizer.json loading (with field-level validation), added-token splitting,
// normalizers (NFC, Replace, Prepend), pre-tokenizers (Split, ByteLevel, Metaspace), ranked BPE
// merges over bytes (byte-level vocabularies) or characters (SentencePiece-style vocabularies,
// with byte_fallback and unk fusing) with a sharded piece cache, and the decoder chain
// (ByteLevel, or Replace/ByteFallback/Fuse/Strip/Metaspace). Semantics follow Hugging Face
// tokenizers (tokenizers/src/{normalizers,pre_tokenizers,decoders,models/bpe}); see tokenizer.h
// for the contract.
#include "core/tokenizer/tokenizer.h"

#include <array>
#include <deque>
#include <functional>
#include <mutex>
#include <queue>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "core/tokenizer/byte_level.h"
#include "core/tokenizer/split_regex.h"
#include "core/tokenizer/unicode.h"

namespace rlvr::core {
namespace {

using nlohmann::json;

// GPT-2's split regex, used by a ByteLevel pre-tokenizer with use_regex=true.
constexpr const char* kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

// Pieces longer than this are not cached (they rarely repeat).
constexpr size_t kMaxCachedPiece = 128;
constexpr size_t kCacheShards = 16;
constexpr size_t kMaxEntriesPerShard = 1 << 16;

// --- JSON access with file/field error messages ---

class Fields {
 public:
  explicit Fields(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    throw Error(fmt::format("{}: field '{}': {}", source_, field, what));
  }
  const json& object(const json& j, const std::string& field) const {
    if (!j.is_object()) fail(field, fmt::format("expected an object, got {}", j.type_name()));
    return j;
  }
  const json& member(const json& obj, const std::string& key, const std::string& field) const {
    auto it = obj.find(key);
    if (it == obj.end()) fail(field, "missing");
    return *it;
  }
  std::string string(const json& j, const std::string& field) const {
    if (!j.is_string()) fail(field, fmt::format("expected a string, got {}", j.type_name()));
    return j.get<std::string>();
  }
  bool boolean(const json& obj, const std::string& key, bool def, const std::string& field) const {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return def;
    if (!it->is_boolean()) fail(field, fmt::format("expected true or false, got {}", it->type_name()));
    return it->get<bool>();
  }
  int32_t id(const json& j, const std::string& field) const {
    if (!j.is_number_integer()) fail(field, fmt::format("expected a non-negative integer id, got {}", j.dump()));
    auto v = j.get<int64_t>();
    if (v < 0 || v >= (int64_t{1} << 31) - 1) fail(field, fmt::format("id {} is out of range [0, 2^31-1)", v));
    return static_cast<int32_t>(v);
  }
  std::string type_of(const json& obj, const std::string& field) const {
    object(obj, field);
    return string(member(obj, "type", field + ".type"), field + ".type");
  }
  const std::string& source() const { return source_; }

 private:
  std::string source_;
};

// --- BPE merge table: (left id, right id) -> (rank, merged id), open addressing ---

class PairTable {
 public:
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    keys_.assign(cap, kEmpty);
    vals_.assign(cap, {0, 0});
    mask_ = cap - 1;
  }
  // Returns false when the pair is already present (the first rank wins, as in HF).
  bool insert(int32_t a, int32_t b, uint32_t rank, int32_t merged) {
    uint64_t key = make_key(a, b);
    for (size_t i = slot(key);; i = (i + 1) & mask_) {
      if (keys_[i] == kEmpty) {
        keys_[i] = key;
        vals_[i] = {rank, merged};
        return true;
      }
      if (keys_[i] == key) return false;
    }
  }
  // Returns {rank, merged} or nullptr.
  const std::pair<uint32_t, int32_t>* find(int32_t a, int32_t b) const {
    if (keys_.empty() || a < 0 || b < 0) return nullptr;
    uint64_t key = make_key(a, b);
    for (size_t i = slot(key);; i = (i + 1) & mask_) {
      if (keys_[i] == key) return &vals_[i];
      if (keys_[i] == kEmpty) return nullptr;
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static uint64_t make_key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  size_t slot(uint64_t key) const { return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> 20) & mask_; }
  std::vector<uint64_t> keys_;
  std::vector<std::pair<uint32_t, int32_t>> vals_;
  size_t mask_ = 0;
};

// --- Sharded piece cache: raw piece bytes -> ids ---

class PieceCache {
 public:
  bool lookup(std::string_view piece, size_t hash, std::vector<int32_t>* out) const {
    Shard& s = shards_[hash % kCacheShards];
    std::lock_guard<std::mutex> lock(s.mu);
    auto it = s.map.find(piece);
    if (it == s.map.end()) return false;
    out->insert(out->end(), s.ids.begin() + it->second.first,
                s.ids.begin() + it->second.first + it->second.second);
    return true;
  }
  void insert(std::string_view piece, size_t hash, const int32_t* ids, size_t n) const {
    Shard& s = shards_[hash % kCacheShards];
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.map.size() >= kMaxEntriesPerShard) s.clear();
    if (s.map.count(piece)) return;
    s.keys.emplace_back(piece);
    size_t off = s.ids.size();
    s.ids.insert(s.ids.end(), ids, ids + n);
    s.map.emplace(std::string_view(s.keys.back()), std::make_pair(off, n));
  }
  size_t size() const {
    size_t n = 0;
    for (auto& s : shards_) {
      std::lock_guard<std::mutex> lock(s.mu);
      n += s.map.size();
    }
    return n;
  }
  void clear() const {
    for (auto& s : shards_) {
      std::lock_guard<std::mutex> lock(s.mu);
      s.clear();
    }
  }

 private:
  struct Shard {
    std::mutex mu;
    std::deque<std::string> keys;  // deque: elements never move, so the views stay valid
    std::vector<int32_t> ids;
    std::unordered_map<std::string_view, std::pair<size_t, size_t>> map;
    void clear() {
      map.clear();
      keys.clear();
      ids.clear();
    }
  };
  mutable std::array<Shard, kCacheShards> shards_;
};

// --- Added-token trie (bytes), leftmost-longest ---

class TokenTrie {
 public:
  TokenTrie() : nodes_(1) { first_.fill(false); }
  void add(const std::string& s, int32_t index) {
    if (s.empty()) return;
    first_[static_cast<unsigned char>(s[0])] = true;
    int32_t node = 0;
    for (char c : s) {
      auto& kids = nodes_[static_cast<size_t>(node)].kids;
      auto it = kids.find(static_cast<unsigned char>(c));
      if (it == kids.end()) {
        int32_t next = static_cast<int32_t>(nodes_.size());
        kids.emplace(static_cast<unsigned char>(c), next);
        nodes_.emplace_back();
        node = next;
      } else {
        node = it->second;
      }
    }
    nodes_[static_cast<size_t>(node)].index = index;
    empty_ = false;
  }
  bool empty() const { return empty_; }
  bool may_start(unsigned char c) const { return first_[c]; }
  // Longest eligible token starting at `pos`: returns (index, end) or (-1, pos).
  template <typename Eligible>
  std::pair<int32_t, size_t> longest(std::string_view text, size_t pos, const Eligible& eligible) const {
    std::pair<int32_t, size_t> best{-1, pos};
    int32_t node = 0;
    for (size_t i = pos; i < text.size(); ++i) {
      const auto& kids = nodes_[static_cast<size_t>(node)].kids;
      auto it = kids.find(static_cast<unsigned char>(text[i]));
      if (it == kids.end()) break;
      node = it->second;
      int32_t idx = nodes_[static_cast<size_t>(node)].index;
      if (idx >= 0 && eligible(idx)) best = {idx, i + 1};
    }
    return best;
  }

 private:
  struct Node {
    std::unordered_map<unsigned char, int32_t> kids;
    int32_t index = -1;
  };
  std::vector<Node> nodes_;
  std::array<bool, 256> first_;
  bool empty_ = true;
};

// --- Pre-tokenizer steps ---

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// Metaspace's prepend_scheme: when the replacement character is put in front of a piece.
enum class PrependScheme { kAlways, kFirst, kNever };

struct PreTokStep {
  bool byte_level = false;  // ByteLevel step
  bool metaspace = false;   // Metaspace step (neither: Split)
  bool add_prefix_space = false;
  std::unique_ptr<SplitRegex> regex;  // Split with Regex, or ByteLevel with use_regex
  std::string literal;                // Split with String; Metaspace: the replacement character
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;
  PrependScheme prepend_scheme = PrependScheme::kAlways;  // Metaspace
  bool split = true;                                      // Metaspace: split on the replacement
};

// --- Normalizer steps (applied in order to each text segment between added tokens) ---

struct NormStep {
  enum class Kind { kNfc, kReplace, kPrepend } kind = Kind::kNfc;
  std::string literal;                // Replace with String
  std::unique_ptr<SplitRegex> regex;  // Replace with Regex
  std::string content;                // Replace: the replacement; Prepend: the prefix
};

// --- Decoder steps (applied in order to the list of token strings, as HF's decode_chain) ---

struct DecStep {
  enum class Kind { kByteLevel, kReplace, kByteFallback, kFuse, kStrip, kMetaspace } kind = Kind::kByteLevel;
  std::string literal;                // Replace with String; Strip: the character; Metaspace: the replacement
  std::unique_ptr<SplitRegex> regex;  // Replace with Regex
  std::string content;                // Replace: the replacement
  size_t start = 0, stop = 0;         // Strip: at most this many characters from the start / end
  PrependScheme prepend_scheme = PrependScheme::kAlways;  // Metaspace
};

// Replaces every match of `literal` (or of `regex`) in `text` with `content`, left to right,
// non-overlapping (HF's Replace; an empty literal matches nothing).
std::string replace_all(std::string_view text, const std::string& literal, const SplitRegex* regex,
                        const std::string& content) {
  std::string out;
  out.reserve(text.size());
  size_t prev = 0;
  auto take = [&](size_t off, size_t len) {
    out.append(text.substr(prev, off - prev));
    out += content;
    prev = off + len;
  };
  if (regex) {
    std::vector<std::pair<size_t, size_t>> matches;
    regex->find_all(text, &matches);
    for (auto [off, len] : matches) take(off, len);
  } else if (!literal.empty()) {
    for (size_t pos = text.find(literal); pos != std::string_view::npos; pos = text.find(literal, prev)) {
      take(pos, literal.size());
    }
  }
  out.append(text.substr(prev));
  return out;
}

// Splits `piece` at `matches` (sorted, non-overlapping, non-empty) and appends the parts to `out`,
// combined as HF's NormalizedString::split does for `behavior` (with `invert`, gaps are the
// delimiters). E.g. "the-final--countdown" split on "-": Isolated [the, -, final, -, -, countdown],
// Removed [the, final, countdown], MergedWithPrevious [the-, final-, -, countdown],
// MergedWithNext [the, -final, -, -countdown], Contiguous [the, -, final, --, countdown].
void split_piece(std::string_view piece, const std::vector<std::pair<size_t, size_t>>& matches,
                 SplitBehavior behavior, bool invert, std::vector<std::string_view>* out) {
  struct Span {
    size_t off, len;
    bool is_match;
  };
  thread_local std::vector<Span> spans;
  spans.clear();
  size_t prev = 0;
  for (auto [off, len] : matches) {
    if (off > prev) spans.push_back({prev, off - prev, invert});
    spans.push_back({off, len, !invert});
    prev = off + len;
  }
  if (prev < piece.size()) spans.push_back({prev, piece.size() - prev, invert});
  const size_t first = out->size();
  auto push = [&](const Span& sp) { out->push_back(piece.substr(sp.off, sp.len)); };
  auto grow_last = [&](size_t end) {
    std::string_view& last = out->back();
    last = piece.substr(static_cast<size_t>(last.data() - piece.data()), end - static_cast<size_t>(last.data() - piece.data()));
  };
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const Span& sp : spans) push(sp);
      break;
    case SplitBehavior::kRemoved:
      for (const Span& sp : spans) {
        if (!sp.is_match) push(sp);
      }
      break;
    case SplitBehavior::kMergedWithPrevious:
      // A delimiter joins the part before it, unless that part is itself a delimiter.
      for (const Span& sp : spans) {
        if (sp.is_match && !previous_match && out->size() > first) {
          grow_last(sp.off + sp.len);
        } else {
          push(sp);
        }
        previous_match = sp.is_match;
      }
      break;
    case SplitBehavior::kMergedWithNext: {
      // A delimiter joins the part after it, unless that part is itself a delimiter (decided
      // right to left, as HF does).
      std::vector<bool> joins_next(spans.size(), false);
      for (size_t i = spans.size(); i-- > 0;) {
        joins_next[i] = spans[i].is_match && !previous_match && i + 1 < spans.size();
        previous_match = spans[i].is_match;
      }
      for (size_t i = 0; i < spans.size(); ++i) {
        if (i > 0 && joins_next[i - 1]) {
          grow_last(spans[i].off + spans[i].len);
        } else {
          push(spans[i]);
        }
      }
      break;
    }
    case SplitBehavior::kContiguous:
      for (const Span& sp : spans) {
        if (sp.is_match == previous_match && out->size() > first) {
          grow_last(sp.off + sp.len);
        } else {
          push(sp);
        }
        previous_match = sp.is_match;
      }
      break;
  }
}

struct Scratch {
  std::vector<std::string_view> pieces, next;
  std::deque<std::string> storage;
  std::vector<std::pair<size_t, size_t>> matches;
  std::vector<int32_t> bpe_ids;
  struct Sym {
    int32_t id;
    int32_t prev;
    int32_t next;
    bool alive;
  };
  std::vector<Sym> syms;
  std::string normalized;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

bool is_word_cp(int32_t cp) {
  if (cp < 0) return false;
  if (cp < 0x80) return std::isalnum(cp) || cp == '_';
  static const SplitRegex word("[\\p{L}\\p{N}\\p{M}_]", "word-character class");
  std::string s;
  unicode::append_utf8(&s, static_cast<uint32_t>(cp));
  std::vector<std::pair<size_t, size_t>> m;
  word.find_all(s, &m);
  return !m.empty();
}

// The code point that ends just before `pos` (or -1 when invalid / at the start).
int32_t cp_before(std::string_view s, size_t pos, size_t* start) {
  if (pos == 0) return -1;
  size_t b = pos - 1;
  while (b > 0 && pos - b < 4 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
  size_t len;
  int32_t cp = unicode::decode_utf8(s, b, &len);
  if (cp < 0 || b + len != pos) {
    *start = pos - 1;
    return -1;
  }
  *start = b;
  return cp;
}

}  // namespace

// --- Impl ---

struct Tokenizer::Impl {
  std::string source;
  // Vocabulary.
  std::vector<std::string> id_token;  // tokenizer.json form ("" for gaps)
  std::vector<std::string> id_bytes;  // byte-level: decoded bytes; otherwise the token as written
  std::vector<uint8_t> id_present;
  std::unordered_map<std::string, int32_t> token_id;          // tokenizer.json form -> id
  std::unordered_map<std::string_view, int32_t> bytes_id;     // what BPE looks up -> id (views into id_bytes)
  std::array<int32_t, 256> byte_id{};
  // byte_level: the pre-tokenizer has a ByteLevel step, so BPE starts from one symbol per byte and
  // tokens are written in GPT-2's byte alphabet. Otherwise (SentencePiece style) BPE starts from
  // one symbol per UTF-8 character of the normalized text and tokens are written as they read.
  bool byte_level = true;
  bool byte_fallback = false;               // unknown characters become their <0xNN> tokens
  std::array<int32_t, 256> fallback_id{};   // id of "<0xNN>" in model.vocab, or -1
  bool fuse_unk = false;                    // consecutive unknown characters give one unk
  PairTable pairs;
  bool ignore_merges = false;
  std::optional<int32_t> unk_id;
  // Added tokens.
  std::vector<AddedToken> added;
  std::vector<int32_t> added_index_of_id;  // id -> index in `added`, or -1
  TokenTrie raw_trie, normalized_trie;
  std::vector<NormStep> normalizers;
  std::vector<PreTokStep> steps;
  // Decoding. kBytes: each token's id_bytes (a lone ByteLevel decoder); kTokens: the tokens as
  // written, concatenated (no decoder); kChain: `decoders` over the token strings.
  enum class DecodeMode { kBytes, kTokens, kChain } decode_mode = DecodeMode::kBytes;
  std::vector<DecStep> decoders;
  std::optional<int32_t> bos;
  int32_t vocab_size = 0;
  PieceCache cache;

  // `at_start`: the text begins at offset 0 of the caller's input (Metaspace's "first" scheme).
  void encode(std::string_view text, std::vector<int32_t>* ids, bool parse_special) const;
  void encode_normalized(std::string_view text, std::vector<int32_t>* ids, bool parse_special, bool at_start) const;
  void encode_plain(std::string_view text, std::vector<int32_t>* ids, bool at_start) const;
  // Applies the normalizers; the result views `text` or `*storage`.
  std::string_view normalize(std::string_view text, std::string* storage) const;
  void pre_tokenize(std::string_view text, Scratch& s, bool at_start) const;
  void bpe_piece(std::string_view piece, std::vector<int32_t>* ids, Scratch& s) const;
  void bpe_merge(std::string_view piece, std::vector<int32_t>* ids, Scratch& s) const;
  void initial_symbols(std::string_view piece, Scratch& s) const;
  std::string decode_chain(const std::vector<int32_t>& ids, bool skip_special) const;
  void push_byte(unsigned char b, std::vector<int32_t>* ids) const {
    int32_t id = byte_id[b];
    if (id >= 0) {
      ids->push_back(id);
    } else if (unk_id) {
      ids->push_back(*unk_id);
    }
  }
  // Splits `text` on the tokens of `trie`; calls on_text(view) / on_token(index) in order.
  template <typename OnText, typename OnToken>
  void split_added(const TokenTrie& trie, std::string_view text, bool parse_special, const OnText& on_text,
                   const OnToken& on_token) const;
};

template <typename OnText, typename OnToken>
void Tokenizer::Impl::split_added(const TokenTrie& trie, std::string_view text, bool parse_special,
                                  const OnText& on_text, const OnToken& on_token) const {
  auto eligible = [&](int32_t idx) { return parse_special || !added[static_cast<size_t>(idx)].special; };
  size_t text_start = 0, i = 0;
  while (i < text.size()) {
    if (!trie.may_start(static_cast<unsigned char>(text[i]))) {
      ++i;
      continue;
    }
    auto [idx, end] = trie.longest(text, i, eligible);
    if (idx < 0) {
      ++i;
      continue;
    }
    const AddedToken& tok = added[static_cast<size_t>(idx)];
    size_t mstart = i, mend = end;
    if (tok.single_word) {
      size_t before_start;
      size_t after_len;
      int32_t before = cp_before(text, mstart, &before_start);
      int32_t after = mend < text.size() ? unicode::decode_utf8(text, mend, &after_len) : -1;
      if (is_word_cp(before) || is_word_cp(after)) {
        i = mend;
        continue;
      }
    }
    if (tok.lstrip) {
      while (mstart > text_start) {
        size_t prev;
        int32_t cp = cp_before(text, mstart, &prev);
        if (!unicode::is_white_space(cp) || prev < text_start) break;
        mstart = prev;
      }
    }
    if (tok.rstrip) {
      while (mend < text.size()) {
        size_t len;
        int32_t cp = unicode::decode_utf8(text, mend, &len);
        if (!unicode::is_white_space(cp)) break;
        mend += len;
      }
    }
    if (mstart > text_start) on_text(text.substr(text_start, mstart - text_start));
    on_token(idx);
    text_start = i = mend;
  }
  if (text_start < text.size()) on_text(text.substr(text_start));
}

void Tokenizer::Impl::encode(std::string_view text, std::vector<int32_t>* ids, bool parse_special) const {
  if (raw_trie.empty()) {
    encode_normalized(text, ids, parse_special, /*at_start=*/true);
    return;
  }
  split_added(
      raw_trie, text, parse_special,
      [&](std::string_view part) { encode_normalized(part, ids, parse_special, part.data() == text.data()); },
      [&](int32_t idx) { ids->push_back(added[static_cast<size_t>(idx)].id); });
}

std::string_view Tokenizer::Impl::normalize(std::string_view text, std::string* storage) const {
  for (const NormStep& n : normalizers) {
    switch (n.kind) {
      case NormStep::Kind::kNfc:
        if (!unicode::is_nfc_quick(text)) {
          std::string out = unicode::nfc(text);
          *storage = std::move(out);
          text = *storage;
        }
        break;
      case NormStep::Kind::kReplace:
        if (n.regex || (!n.literal.empty() && text.find(n.literal) != std::string_view::npos)) {
          std::string out = replace_all(text, n.literal, n.regex.get(), n.content);
          *storage = std::move(out);
          text = *storage;
        }
        break;
      case NormStep::Kind::kPrepend:
        if (!text.empty()) {  // HF prepends to non-empty text only
          std::string out = n.content;
          out.append(text);
          *storage = std::move(out);
          text = *storage;
        }
        break;
    }
  }
  return text;
}

void Tokenizer::Impl::encode_normalized(std::string_view text, std::vector<int32_t>* ids, bool parse_special,
                                        bool at_start) const {
  std::string storage;
  text = normalize(text, &storage);
  if (normalized_trie.empty()) {
    encode_plain(text, ids, at_start);
    return;
  }
  split_added(
      normalized_trie, text, parse_special,
      [&](std::string_view part) { encode_plain(part, ids, at_start && part.data() == text.data()); },
      [&](int32_t idx) { ids->push_back(added[static_cast<size_t>(idx)].id); });
}

void Tokenizer::Impl::encode_plain(std::string_view text, std::vector<int32_t>* ids, bool at_start) const {
  if (text.empty()) return;
  Scratch& s = scratch();
  pre_tokenize(text, s, at_start);
  // bpe_piece may not touch s.pieces; copy the list out of the scratch reuse path.
  for (std::string_view piece : s.pieces) bpe_piece(piece, ids, s);
}

void Tokenizer::Impl::pre_tokenize(std::string_view text, Scratch& s, bool at_start) const {
  s.pieces.clear();
  s.storage.clear();
  s.pieces.push_back(text);
  for (const PreTokStep& step : steps) {
    s.next.clear();
    for (std::string_view piece : s.pieces) {
      if (step.metaspace) {
        // HF's Metaspace: spaces become the replacement, which is put in front of the piece
        // (always, or only for the piece at offset 0 of the input: "first"), then the piece is
        // split before each replacement (MergedWithNext).
        const bool at_origin = at_start && piece.data() == text.data();
        std::string r = replace_all(piece, " ", nullptr, step.literal);
        const bool prepend = step.prepend_scheme == PrependScheme::kAlways ||
                             (step.prepend_scheme == PrependScheme::kFirst && at_origin);
        if (prepend && r.compare(0, step.literal.size(), step.literal) != 0) r.insert(0, step.literal);
        s.storage.push_back(std::move(r));
        piece = s.storage.back();
        if (!step.split) {
          s.next.push_back(piece);
          continue;
        }
        s.matches.clear();
        for (size_t pos = piece.find(step.literal); pos != std::string_view::npos;
             pos = piece.find(step.literal, pos + step.literal.size())) {
          s.matches.emplace_back(pos, step.literal.size());
        }
        split_piece(piece, s.matches, SplitBehavior::kMergedWithNext, false, &s.next);
        continue;
      }
      if (step.byte_level && step.add_prefix_space && (piece.empty() || piece[0] != ' ')) {
        s.storage.push_back(" " + std::string(piece));
        piece = s.storage.back();
      }
      if (step.byte_level && !step.regex) {
        s.next.push_back(piece);
        continue;
      }
      s.matches.clear();
      if (step.regex) {
        step.regex->find_all(piece, &s.matches);
      } else if (!step.literal.empty()) {
        for (size_t pos = piece.find(step.literal); pos != std::string_view::npos;
             pos = piece.find(step.literal, pos + step.literal.size())) {
          s.matches.emplace_back(pos, step.literal.size());
        }
      }
      if (step.byte_level) {
        split_piece(piece, s.matches, SplitBehavior::kIsolated, false, &s.next);
      } else {
        split_piece(piece, s.matches, step.behavior, step.invert, &s.next);
      }
    }
    s.pieces.swap(s.next);
  }
}

void Tokenizer::Impl::bpe_piece(std::string_view piece, std::vector<int32_t>* ids, Scratch& s) const {
  if (piece.empty()) return;
  if (piece.size() == 1 && byte_level) {
    push_byte(static_cast<unsigned char>(piece[0]), ids);
    return;
  }
  const bool cacheable = piece.size() <= kMaxCachedPiece;
  const size_t hash = cacheable ? std::hash<std::string_view>()(piece) : 0;
  if (cacheable && cache.lookup(piece, hash, ids)) return;
  const size_t before = ids->size();
  auto whole = ignore_merges ? bytes_id.find(piece) : bytes_id.end();
  if (whole != bytes_id.end()) {
    ids->push_back(whole->second);  // ignore_merges: a piece that is a token is not merged
  } else {
    bpe_merge(piece, ids, s);
  }
  if (cacheable) cache.insert(piece, hash, ids->data() + before, ids->size() - before);
}

void Tokenizer::Impl::initial_symbols(std::string_view piece, Scratch& s) const {
  // HF's BPE::merge_word: one symbol per unit (a byte for byte-level vocabularies, else a UTF-8
  // character; an invalid byte counts as one). A unit that is not in the vocabulary becomes its
  // <0xNN> tokens (byte_fallback, when all of them exist), else the unk token (consecutive ones
  // fused into one with fuse_unk), else nothing. As in HF, a pending unk is written only when the
  // next known unit (or the end) comes, so it follows any byte-fallback tokens in between.
  auto& syms = s.syms;
  syms.clear();
  auto add = [&](int32_t id) {
    const auto i = static_cast<int32_t>(syms.size());
    syms.push_back({id, i - 1, i + 1, true});
  };
  bool pending_unk = false;
  auto flush_unk = [&] {
    if (pending_unk) add(*unk_id);
    pending_unk = false;
  };
  for (size_t pos = 0; pos < piece.size();) {
    size_t len = 1;
    int32_t id;
    if (byte_level) {
      id = byte_id[static_cast<unsigned char>(piece[pos])];
    } else {
      if (unicode::decode_utf8(piece, pos, &len) < 0) len = 1;
      auto it = bytes_id.find(piece.substr(pos, len));
      id = it == bytes_id.end() ? -1 : it->second;
    }
    if (id >= 0) {
      flush_unk();
      add(id);
    } else {
      bool fell_back = false;
      if (byte_fallback) {
        fell_back = true;
        for (size_t k = 0; k < len; ++k) fell_back &= fallback_id[static_cast<unsigned char>(piece[pos + k])] >= 0;
        if (fell_back) {
          for (size_t k = 0; k < len; ++k) add(fallback_id[static_cast<unsigned char>(piece[pos + k])]);
        }
      }
      if (!fell_back && unk_id) {
        if (!(pending_unk && fuse_unk)) flush_unk();
        pending_unk = true;
      }
    }
    pos += len;
  }
  flush_unk();
  if (!syms.empty()) syms.back().next = -1;
}

void Tokenizer::Impl::bpe_merge(std::string_view piece, std::vector<int32_t>* ids, Scratch& s) const {
  // The lowest-ranked adjacent pair merges first, ties to the left (HF tokenizers' and
  // transformers.js' order).
  initial_symbols(piece, s);
  auto& syms = s.syms;
  if (syms.empty()) return;
  const auto n = static_cast<int32_t>(syms.size());
  using Entry = std::pair<uint64_t, int32_t>;  // (rank << 32 | position, merged id)
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap;
  auto push = [&](int32_t left) {
    if (left < 0) return;
    int32_t right = syms[static_cast<size_t>(left)].next;
    if (right < 0) return;
    const auto* m = pairs.find(syms[static_cast<size_t>(left)].id, syms[static_cast<size_t>(right)].id);
    if (m) heap.push({(static_cast<uint64_t>(m->first) << 32) | static_cast<uint32_t>(left), m->second});
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    auto [key, merged] = heap.top();
    heap.pop();
    auto left = static_cast<int32_t>(key & 0xFFFFFFFFu);
    auto rank = static_cast<uint32_t>(key >> 32);
    auto& l = syms[static_cast<size_t>(left)];
    if (!l.alive || l.next < 0) continue;
    auto& r = syms[static_cast<size_t>(l.next)];
    const auto* m = pairs.find(l.id, r.id);
    if (!m || m->first != rank) continue;  // stale entry
    l.id = merged;
    r.alive = false;
    l.next = r.next;
    if (l.next >= 0) syms[static_cast<size_t>(l.next)].prev = left;
    push(l.prev);
    push(left);
  }
  for (int32_t i = 0; i >= 0; i = syms[static_cast<size_t>(i)].next) ids->push_back(syms[static_cast<size_t>(i)].id);
}

// --- Loading ---

namespace {

// Replace's pattern ({"String": ...} or {"Regex": ...}) and content, for a normalizer or a decoder.
void parse_replace(const json& j, const std::string& field, const Fields& f, std::string* literal,
                   std::unique_ptr<SplitRegex>* regex, std::string* content) {
  const json& pattern = f.object(f.member(j, "pattern", field + ".pattern"), field + ".pattern");
  if (pattern.contains("String")) {
    *literal = f.string(pattern["String"], field + ".pattern.String");
  } else if (pattern.contains("Regex")) {
    std::string where = fmt::format("{}: field '{}.pattern.Regex'", f.source(), field);
    *regex = std::make_unique<SplitRegex>(f.string(pattern["Regex"], field + ".pattern.Regex"), where);
  } else {
    f.fail(field + ".pattern", "expected {\"String\": ...} or {\"Regex\": ...}");
  }
  *content = f.string(f.member(j, "content", field + ".content"), field + ".content");
}

// One character (Metaspace's replacement, Strip's content), as UTF-8.
std::string parse_char(const json& obj, const std::string& key, const std::string& field, const Fields& f) {
  std::string c = f.string(f.member(obj, key, field), field);
  size_t len = 0;
  if (c.empty() || unicode::decode_utf8(c, 0, &len) < 0 || len != c.size()) {
    f.fail(field, fmt::format("expected one character, got {}", json(c).dump()));
  }
  return c;
}

// Metaspace's prepend_scheme (default "always"); the legacy add_prefix_space: false means "never".
PrependScheme parse_prepend_scheme(const json& j, const std::string& field, const Fields& f) {
  const bool add_prefix_space = f.boolean(j, "add_prefix_space", true, field + ".add_prefix_space");
  auto it = j.find("prepend_scheme");
  if (it == j.end() || it->is_null()) return add_prefix_space ? PrependScheme::kAlways : PrependScheme::kNever;
  std::string scheme = f.string(*it, field + ".prepend_scheme");
  PrependScheme out;
  if (scheme == "always") {
    out = PrependScheme::kAlways;
  } else if (scheme == "first") {
    out = PrependScheme::kFirst;
  } else if (scheme == "never") {
    out = PrependScheme::kNever;
  } else {
    f.fail(field + ".prepend_scheme", fmt::format("unknown prepend_scheme '{}' (expected always, first or never)", scheme));
  }
  if (!add_prefix_space && out != PrependScheme::kNever) {
    f.fail(field + ".add_prefix_space",
           fmt::format("false does not match prepend_scheme '{}' (add_prefix_space false means \"never\")", scheme));
  }
  return out;
}

void parse_normalizer(const json& j, const std::string& field, const Fields& f, std::vector<NormStep>* steps) {
  if (j.is_null()) return;
  std::string type = f.type_of(j, field);
  if (type == "Sequence") {
    const json& list = f.member(j, "normalizers", field + ".normalizers");
    if (!list.is_array()) f.fail(field + ".normalizers", "expected an array");
    for (size_t i = 0; i < list.size(); ++i) {
      parse_normalizer(list[i], fmt::format("{}.normalizers[{}]", field, i), f, steps);
    }
    return;
  }
  NormStep step;
  if (type == "NFC") {
    step.kind = NormStep::Kind::kNfc;
  } else if (type == "Replace") {
    step.kind = NormStep::Kind::kReplace;
    parse_replace(j, field, f, &step.literal, &step.regex, &step.content);
  } else if (type == "Prepend") {
    step.kind = NormStep::Kind::kPrepend;
    step.content = f.string(f.member(j, "prepend", field + ".prepend"), field + ".prepend");
  } else {
    f.fail(field + ".type", fmt::format("unsupported normalizer type '{}' (supported: NFC, Replace, Prepend, "
                                        "Sequence, null)",
                                        type));
  }
  steps->push_back(std::move(step));
}

void parse_pre_tokenizer(const json& j, const std::string& field, const Fields& f, std::vector<PreTokStep>* steps) {
  if (j.is_null()) return;
  std::string type = f.type_of(j, field);
  if (type == "Sequence") {
    const json& list = f.member(j, "pretokenizers", field + ".pretokenizers");
    if (!list.is_array()) f.fail(field + ".pretokenizers", "expected an array");
    for (size_t i = 0; i < list.size(); ++i) {
      parse_pre_tokenizer(list[i], fmt::format("{}.pretokenizers[{}]", field, i), f, steps);
    }
  } else if (type == "Metaspace") {
    PreTokStep step;
    step.metaspace = true;
    step.literal = parse_char(j, "replacement", field + ".replacement", f);
    step.prepend_scheme = parse_prepend_scheme(j, field, f);
    step.split = f.boolean(j, "split", true, field + ".split");
    steps->push_back(std::move(step));
  } else if (type == "ByteLevel") {
    PreTokStep step;
    step.byte_level = true;
    step.add_prefix_space = f.boolean(j, "add_prefix_space", true, field + ".add_prefix_space");
    if (f.boolean(j, "use_regex", true, field + ".use_regex")) {
      step.regex = std::make_unique<SplitRegex>(kGpt2Pattern, f.source() + ": field '" + field + "'");
    }
    steps->push_back(std::move(step));
  } else if (type == "Split") {
    PreTokStep step;
    const json& pattern = f.object(f.member(j, "pattern", field + ".pattern"), field + ".pattern");
    if (pattern.contains("Regex")) {
      std::string where = fmt::format("{}: field '{}.pattern.Regex'", f.source(), field);
      step.regex = std::make_unique<SplitRegex>(f.string(pattern["Regex"], field + ".pattern.Regex"), where);
    } else if (pattern.contains("String")) {
      step.literal = f.string(pattern["String"], field + ".pattern.String");
    } else {
      f.fail(field + ".pattern", "expected {\"Regex\": ...} or {\"String\": ...}");
    }
    std::string behavior = f.string(f.member(j, "behavior", field + ".behavior"), field + ".behavior");
    static const std::pair<const char*, SplitBehavior> kBehaviors[] = {
        {"Removed", SplitBehavior::kRemoved},
        {"Isolated", SplitBehavior::kIsolated},
        {"MergedWithPrevious", SplitBehavior::kMergedWithPrevious},
        {"MergedWithNext", SplitBehavior::kMergedWithNext},
        {"Contiguous", SplitBehavior::kContiguous}};
    bool found = false;
    for (auto& [name, b] : kBehaviors) {
      if (behavior == name) {
        step.behavior = b;
        found = true;
      }
    }
    if (!found) {
      f.fail(field + ".behavior", fmt::format("unknown split behavior '{}' (expected Removed, Isolated, "
                                              "MergedWithPrevious, MergedWithNext or Contiguous)",
                                              behavior));
    }
    step.invert = f.boolean(j, "invert", false, field + ".invert");
    steps->push_back(std::move(step));
  } else {
    f.fail(field + ".type", fmt::format("unsupported pre_tokenizer type '{}' (supported: ByteLevel, Split, "
                                        "Metaspace, Sequence, null)",
                                        type));
  }
}

void parse_decoder(const json& j, const std::string& field, const Fields& f, std::vector<DecStep>* steps) {
  if (j.is_null()) return;
  std::string type = f.type_of(j, field);
  if (type == "Sequence") {
    const json& list = f.member(j, "decoders", field + ".decoders");
    if (!list.is_array()) f.fail(field + ".decoders", "expected an array");
    for (size_t i = 0; i < list.size(); ++i) parse_decoder(list[i], fmt::format("{}.decoders[{}]", field, i), f, steps);
    return;
  }
  DecStep step;
  if (type == "ByteLevel") {
    step.kind = DecStep::Kind::kByteLevel;
  } else if (type == "Replace") {
    step.kind = DecStep::Kind::kReplace;
    parse_replace(j, field, f, &step.literal, &step.regex, &step.content);
  } else if (type == "ByteFallback") {
    step.kind = DecStep::Kind::kByteFallback;
  } else if (type == "Fuse") {
    step.kind = DecStep::Kind::kFuse;
  } else if (type == "Strip") {
    step.kind = DecStep::Kind::kStrip;
    step.literal = parse_char(j, "content", field + ".content", f);
    for (auto [key, out] : {std::make_pair("start", &step.start), std::make_pair("stop", &step.stop)}) {
      const json& v = f.member(j, key, field + "." + key);
      if (!v.is_number_unsigned()) f.fail(field + "." + key, fmt::format("expected a non-negative integer, got {}", v.dump()));
      *out = v.get<size_t>();
    }
  } else if (type == "Metaspace") {
    step.kind = DecStep::Kind::kMetaspace;
    step.literal = parse_char(j, "replacement", field + ".replacement", f);
    step.prepend_scheme = parse_prepend_scheme(j, field, f);
  } else {
    f.fail(field + ".type", fmt::format("unsupported decoder type '{}' (supported: ByteLevel, Replace, ByteFallback, "
                                        "Fuse, Strip, Metaspace, Sequence, null)",
                                        type));
  }
  steps->push_back(std::move(step));
}

std::optional<int64_t> parse_bos(const json& j) {
  if (!j.is_object()) return std::nullopt;
  auto type = j.find("type");
  if (type == j.end() || !type->is_string()) return std::nullopt;
  if (*type == "Sequence") {
    auto list = j.find("processors");
    if (list == j.end() || !list->is_array()) return std::nullopt;
    for (const json& p : *list) {
      if (auto b = parse_bos(p)) return b;
    }
    return std::nullopt;
  }
  if (*type != "TemplateProcessing") return std::nullopt;
  auto single = j.find("single");
  auto specials = j.find("special_tokens");
  if (single == j.end() || !single->is_array() || single->empty() || specials == j.end() ||
      !specials->is_object()) {
    return std::nullopt;
  }
  const json& first = (*single)[0];
  if (!first.is_object() || !first.contains("SpecialToken")) return std::nullopt;
  const json& st = first["SpecialToken"];
  if (!st.is_object() || !st.contains("id") || !st["id"].is_string()) return std::nullopt;
  auto entry = specials->find(st["id"].get<std::string>());
  if (entry == specials->end() || !entry->is_object()) return std::nullopt;
  auto ids = entry->find("ids");
  if (ids == entry->end() || !ids->is_array() || ids->size() != 1 || !(*ids)[0].is_number_integer()) {
    return std::nullopt;
  }
  return (*ids)[0].get<int64_t>();
}

}  // namespace

Tokenizer Tokenizer::from_file(const std::string& path) {
  return from_json(read_file(path), path);
}

Tokenizer Tokenizer::from_json(const std::string& json_text, const std::string& source) {
  Fields f(source);
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::parse_error& e) {
    throw Error(fmt::format("{}: not valid JSON: {}", source, e.what()));
  }
  if (!root.is_object()) throw Error(fmt::format("{}: expected a JSON object at the top level", source));

  auto impl = std::make_unique<Impl>();
  impl->source = source;

  // --- model ---
  const json& model = f.object(f.member(root, "model", "model"), "model");
  std::string type;
  if (model.contains("type")) {
    type = f.string(model["type"], "model.type");
  } else if (model.contains("merges")) {
    type = "BPE";
  } else {
    f.fail("model.type", "missing");
  }
  if (type != "BPE") {
    f.fail("model.type", fmt::format("unsupported tokenizer model type '{}' (rlvr supports BPE only)", type));
  }
  if (model.contains("dropout") && !model["dropout"].is_null() &&
      !(model["dropout"].is_number() && model["dropout"].get<double>() == 0.0)) {
    f.fail("model.dropout", "BPE dropout is not supported (expected null)");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (model.contains(key) && !model[key].is_null() && !(model[key].is_string() && model[key].get<std::string>().empty())) {
      f.fail(std::string("model.") + key, "not supported (expected null or \"\")");
    }
  }
  impl->ignore_merges = f.boolean(model, "ignore_merges", false, "model.ignore_merges");
  impl->byte_fallback = f.boolean(model, "byte_fallback", false, "model.byte_fallback");
  impl->fuse_unk = f.boolean(model, "fuse_unk", false, "model.fuse_unk");

  // --- pipeline (first: whether the vocabulary is byte-level depends on the pre-tokenizer) ---
  if (root.contains("normalizer")) parse_normalizer(root["normalizer"], "normalizer", f, &impl->normalizers);
  if (root.contains("pre_tokenizer")) parse_pre_tokenizer(root["pre_tokenizer"], "pre_tokenizer", f, &impl->steps);
  if (root.contains("decoder")) parse_decoder(root["decoder"], "decoder", f, &impl->decoders);
  impl->byte_level = false;
  for (const auto& step : impl->steps) impl->byte_level |= step.byte_level;
  bool byte_level_decoder = false;
  for (const auto& step : impl->decoders) byte_level_decoder |= step.kind == DecStep::Kind::kByteLevel;
  if (!impl->byte_level && byte_level_decoder) {
    f.fail("pre_tokenizer", "no ByteLevel step, but the decoder is ByteLevel: a byte-level vocabulary needs a "
                            "ByteLevel pre-tokenizer (GPT-2, Llama 3, Qwen)");
  }
  if (impl->byte_level && impl->byte_fallback) {
    f.fail("model.byte_fallback", "byte_fallback with a ByteLevel pre-tokenizer is not supported (byte_fallback is "
                                  "for SentencePiece-style vocabularies, whose pre-tokenizer has no ByteLevel step)");
  }
  if (impl->decoders.empty()) {
    impl->decode_mode = Impl::DecodeMode::kTokens;
  } else if (impl->decoders.size() == 1 && impl->decoders[0].kind == DecStep::Kind::kByteLevel) {
    impl->decode_mode = Impl::DecodeMode::kBytes;
  } else {
    impl->decode_mode = Impl::DecodeMode::kChain;
  }

  const json& vocab = f.member(model, "vocab", "model.vocab");
  if (!vocab.is_object()) f.fail("model.vocab", fmt::format("expected an object of token -> id, got {}", vocab.type_name()));
  int32_t max_id = -1;
  std::string max_id_field;  // where the largest id was found, for the sparse-vocabulary message
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    std::string field = fmt::format("model.vocab[{}]", json(it.key()).dump());
    int32_t id = f.id(it.value(), field);
    if (id > max_id) {
      max_id = id;
      max_id_field = std::move(field);
    }
  }

  // --- added_tokens ---
  const json* added = nullptr;
  if (root.contains("added_tokens") && !root["added_tokens"].is_null()) {
    added = &root["added_tokens"];
    if (!added->is_array()) f.fail("added_tokens", fmt::format("expected an array, got {}", added->type_name()));
    for (size_t i = 0; i < added->size(); ++i) {
      const std::string field = fmt::format("added_tokens[{}]", i);
      const json& t = f.object((*added)[i], field);
      AddedToken tok;
      tok.id = f.id(f.member(t, "id", field + ".id"), field + ".id");
      tok.content = f.string(f.member(t, "content", field + ".content"), field + ".content");
      if (tok.content.empty()) f.fail(field + ".content", "must not be empty");
      tok.special = f.boolean(t, "special", false, field + ".special");
      tok.lstrip = f.boolean(t, "lstrip", false, field + ".lstrip");
      tok.rstrip = f.boolean(t, "rstrip", false, field + ".rstrip");
      tok.single_word = f.boolean(t, "single_word", false, field + ".single_word");
      tok.normalized = f.boolean(t, "normalized", !tok.special, field + ".normalized");
      if (tok.id > max_id) {
        max_id = tok.id;
        max_id_field = field + ".id";
      }
      impl->added.push_back(std::move(tok));
    }
  }
  // Tables below are dense in the id: bound the largest id by the number of tokens before
  // allocating, so memory stays proportional to the file (a 60-byte file with one id near 2^31
  // must not allocate tens of GB). Small gaps (ids reserved for later added tokens) are fine.
  const size_t num_tokens = vocab.size() + impl->added.size();
  const size_t id_limit = 2 * num_tokens + 1024;
  if (max_id >= 0 && static_cast<size_t>(max_id) >= id_limit) {
    f.fail(max_id_field, fmt::format("id {} is far above the number of tokens ({} in model.vocab + {} added): sparse "
                                     "vocabularies are not supported (the largest id may be {})",
                                     max_id, vocab.size(), impl->added.size(), id_limit - 1));
  }
  impl->vocab_size = max_id + 1;
  const auto vs = static_cast<size_t>(impl->vocab_size);
  impl->id_token.assign(vs, {});
  impl->id_bytes.assign(vs, {});
  impl->id_present.assign(vs, 0);
  impl->added_index_of_id.assign(vs, -1);
  impl->token_id.reserve(vocab.size() + impl->added.size());
  std::vector<uint8_t> decodable(vs, 0);
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    auto id = static_cast<size_t>(it.value().get<int32_t>());
    if (impl->id_present[id]) {
      f.fail(fmt::format("model.vocab[{}]", json(it.key()).dump()),
             fmt::format("id {} is also used by {}", id, json(impl->id_token[id]).dump()));
    }
    impl->id_present[id] = 1;
    impl->id_token[id] = it.key();
    impl->token_id.emplace(it.key(), static_cast<int32_t>(id));
    std::optional<std::string> bytes;
    if (impl->byte_level) bytes = byte_level::decode(it.key());
    if (bytes) {
      impl->id_bytes[id] = std::move(*bytes);
      decodable[id] = 1;
    } else {
      // SentencePiece style, or not in the byte alphabet: the token as written (its UTF-8, as HF decodes it).
      impl->id_bytes[id] = it.key();
    }
  }
  // id_bytes is final now, so views into it stay valid. Byte-alphabet tokens win collisions.
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t id = 0; id < vs; ++id) {
      if (impl->id_present[id] && decodable[id] == (pass == 0 ? 1 : 0)) {
        impl->bytes_id.emplace(std::string_view(impl->id_bytes[id]), static_cast<int32_t>(id));
      }
    }
  }
  for (int b = 0; b < 256; ++b) {
    char c = static_cast<char>(b);
    auto it = impl->bytes_id.find(std::string_view(&c, 1));
    impl->byte_id[static_cast<size_t>(b)] = it == impl->bytes_id.end() ? -1 : it->second;
    // byte_fallback's token for this byte: "<0xNN>" (upper-case hex) in model.vocab.
    auto fb = impl->token_id.find(fmt::format("<0x{:02X}>", b));
    impl->fallback_id[static_cast<size_t>(b)] = fb == impl->token_id.end() ? -1 : fb->second;
  }
  if (model.contains("unk_token") && !model["unk_token"].is_null()) {
    std::string unk = f.string(model["unk_token"], "model.unk_token");
    auto it = impl->token_id.find(unk);
    if (it == impl->token_id.end()) f.fail("model.unk_token", fmt::format("{} is not in model.vocab", json(unk).dump()));
    impl->unk_id = it->second;
  }

  const json& merges = f.member(model, "merges", "model.merges");
  if (!merges.is_array()) f.fail("model.merges", fmt::format("expected an array, got {}", merges.type_name()));
  impl->pairs.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const std::string field = fmt::format("model.merges[{}]", i);
    const json& m = merges[i];
    std::string a, b;
    if (m.is_string()) {
      const std::string& s = m.get_ref<const std::string&>();
      size_t sp = s.find(' ');
      if (sp == std::string::npos || sp == 0 || sp + 1 >= s.size() || s.find(' ', sp + 1) != std::string::npos) {
        f.fail(field, fmt::format("expected \"left right\" (two tokens separated by one space), got {}", m.dump()));
      }
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      a = m[0].get<std::string>();
      b = m[1].get<std::string>();
    } else {
      f.fail(field, fmt::format("expected \"left right\" or [\"left\", \"right\"], got {}", m.dump()));
    }
    auto ia = impl->token_id.find(a), ib = impl->token_id.find(b), im = impl->token_id.find(a + b);
    for (auto [it, tok] : {std::make_pair(ia, &a), std::make_pair(ib, &b)}) {
      if (it == impl->token_id.end()) f.fail(field, fmt::format("token {} is not in model.vocab", json(*tok).dump()));
    }
    if (im == impl->token_id.end()) {
      f.fail(field, fmt::format("merged token {} is not in model.vocab", json(a + b).dump()));
    }
    impl->pairs.insert(ia->second, ib->second, static_cast<uint32_t>(i), im->second);
  }

  // Added tokens go into the tries and override the vocabulary entry for their id. A token
  // matched in the normalized text is matched in its normalized form (as HF does).
  for (size_t i = 0; i < impl->added.size(); ++i) {
    const AddedToken& tok = impl->added[i];
    auto id = static_cast<size_t>(tok.id);
    impl->added_index_of_id[id] = static_cast<int32_t>(i);
    if (!impl->id_present[id]) {
      impl->id_token[id] = tok.content;
      impl->id_present[id] = 1;
    }
    impl->token_id[tok.content] = tok.id;
    if (tok.normalized) {
      std::string storage;
      impl->normalized_trie.add(std::string(impl->normalize(tok.content, &storage)), static_cast<int32_t>(i));
    } else {
      impl->raw_trie.add(tok.content, static_cast<int32_t>(i));
    }
  }

  if (root.contains("post_processor")) {
    if (std::optional<int64_t> b = parse_bos(root["post_processor"])) {
      if (*b < 0 || *b >= impl->vocab_size || !impl->id_present[static_cast<size_t>(*b)]) {
        f.fail("post_processor", fmt::format("BOS id {} is not a token of this tokenizer (ids 0..{})", *b,
                                             impl->vocab_size - 1));
      }
      impl->bos = static_cast<int32_t>(*b);
    }
  }
  return Tokenizer(std::move(impl));
}

// --- Tokenizer ---

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool parse_special) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  impl_->encode(text, &ids, parse_special);
  return ids;
}

void Tokenizer::encode_append(std::string_view text, std::vector<int32_t>* ids, bool parse_special) const {
  impl_->encode(text, ids, parse_special);
}

namespace {

// The byte of a ByteFallback token "<0xNN>" (HF: six characters, two hex digits), or -1.
int byte_token_value(std::string_view t) {
  if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  const int hi = hex(t[3]), lo = hex(t[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

// Removes up to `start` leading and `stop` trailing copies of the character `c` (HF's Strip decoder).
std::string strip_char(std::string t, const std::string& c, size_t start, size_t stop) {
  size_t b = 0, e = t.size();
  for (size_t k = 0; k < start && e - b >= c.size() && t.compare(b, c.size(), c) == 0; ++k) b += c.size();
  for (size_t k = 0; k < stop && e - b >= c.size() && t.compare(e - c.size(), c.size(), c) == 0; ++k) e -= c.size();
  return t.substr(b, e - b);
}

}  // namespace

std::string Tokenizer::Impl::decode_chain(const std::vector<int32_t>& ids, bool skip_special) const {
  // The token strings (special added tokens dropped with skip_special), then each decoder in
  // turn over the list, as HF's Tokenizer::decode and decode_chain do.
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    int32_t a = added_index_of_id[static_cast<size_t>(id)];
    if (a >= 0) {
      const AddedToken& tok = added[static_cast<size_t>(a)];
      if (!(skip_special && tok.special)) tokens.push_back(tok.content);
    } else {
      tokens.push_back(id_token[static_cast<size_t>(id)]);
    }
  }
  for (const DecStep& step : decoders) {
    switch (step.kind) {
      case DecStep::Kind::kByteLevel:
        for (std::string& t : tokens) {
          if (auto b = byte_level::decode(t)) t = std::move(*b);
        }
        break;
      case DecStep::Kind::kReplace:
        for (std::string& t : tokens) t = replace_all(t, step.literal, step.regex.get(), step.content);
        break;
      case DecStep::Kind::kByteFallback: {
        // A run of <0xNN> tokens becomes one token of those bytes. HF writes U+FFFD per byte
        // when the run is not valid UTF-8; rlvr keeps the bytes (lossless, as its ByteLevel
        // decoding does, so decoding token by token and concatenating gives the same bytes).
        std::vector<std::string> out;
        out.reserve(tokens.size());
        bool in_run = false;
        for (std::string& t : tokens) {
          const int b = byte_token_value(t);
          if (b >= 0) {
            if (!in_run) out.emplace_back();
            out.back().push_back(static_cast<char>(b));
            in_run = true;
          } else {
            out.push_back(std::move(t));
            in_run = false;
          }
        }
        tokens.swap(out);
        break;
      }
      case DecStep::Kind::kFuse: {
        std::string joined;
        for (const std::string& t : tokens) joined += t;
        tokens.assign(1, std::move(joined));
        break;
      }
      case DecStep::Kind::kStrip:
        for (std::string& t : tokens) t = strip_char(std::move(t), step.literal, step.start, step.stop);
        break;
      case DecStep::Kind::kMetaspace:
        // The replacement becomes a space; in the first token it is dropped unless the scheme is never.
        for (size_t i = 0; i < tokens.size(); ++i) {
          const bool drop = i == 0 && step.prepend_scheme != PrependScheme::kNever;
          tokens[i] = replace_all(tokens[i], step.literal, nullptr, drop ? "" : " ");
        }
        break;
    }
  }
  std::string out;
  for (const std::string& t : tokens) out += t;
  return out;
}

bool Tokenizer::decodes_token_by_token() const {
  for (const auto& step : impl_->decoders) {
    if (step.kind == DecStep::Kind::kStrip || step.kind == DecStep::Kind::kMetaspace) return false;
  }
  return true;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  for (int32_t id : ids) {
    if (id < 0 || id >= impl_->vocab_size) {
      throw Error(fmt::format("decode: token id {} is out of range [0, {}) for {}", id, impl_->vocab_size,
                              impl_->source));
    }
    if (!impl_->id_present[static_cast<size_t>(id)]) {
      throw Error(fmt::format("decode: no token has id {} in {}", id, impl_->source));
    }
  }
  if (impl_->decode_mode == Impl::DecodeMode::kChain) return impl_->decode_chain(ids, skip_special);
  std::string out;
  for (int32_t id : ids) {
    auto u = static_cast<size_t>(id);
    int32_t added = impl_->added_index_of_id[u];
    if (added >= 0) {
      const AddedToken& tok = impl_->added[static_cast<size_t>(added)];
      if (!(skip_special && tok.special)) out += tok.content;
      continue;
    }
    out += impl_->decode_mode == Impl::DecodeMode::kBytes ? impl_->id_bytes[u] : impl_->id_token[u];
  }
  return out;
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  auto it = impl_->token_id.find(std::string(token));
  if (it == impl_->token_id.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> Tokenizer::id_to_token(int32_t id) const {
  if (id < 0 || id >= impl_->vocab_size || !impl_->id_present[static_cast<size_t>(id)]) return std::nullopt;
  int32_t added = impl_->added_index_of_id[static_cast<size_t>(id)];
  if (added >= 0) return impl_->added[static_cast<size_t>(added)].content;
  return impl_->id_token[static_cast<size_t>(id)];
}

std::optional<int32_t> Tokenizer::single_token_id(std::string_view text) const {
  for (const AddedToken& tok : impl_->added) {
    if (tok.content == text) return tok.id;
  }
  std::vector<int32_t> ids = encode(text);
  if (ids.size() == 1) return ids[0];
  return std::nullopt;
}

int32_t Tokenizer::vocab_size() const { return impl_->vocab_size; }
const std::vector<AddedToken>& Tokenizer::added_tokens() const { return impl_->added; }
std::optional<int32_t> Tokenizer::bos_id() const { return impl_->bos; }
const std::string& Tokenizer::source() const { return impl_->source; }
size_t Tokenizer::cache_entries() const { return impl_->cache.size(); }
void Tokenizer::clear_cache() const { impl_->cache.clear(); }

}  // namespace rlvr::core
