// Byte-level BPE trainer (pair counting with a lazily updated max-heap) and the GPT-2
// encoder.json + vocab.bpe converter.
#include "core/tokenizer/bpe_trainer.h"

#include <algorithm>
#include <queue>
#include <string_view>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/tokenizer/byte_level.h"
#include "core/tokenizer/split_regex.h"
#include "core/tokenizer/unicode.h"

namespace rlvr::core {
namespace {

using ojson = nlohmann::ordered_json;

constexpr const char* kGpt2Regex =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
constexpr const char* kLlama3Regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr const char* kQwen2Regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

ojson byte_level_component(bool use_regex) {
  return ojson{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", use_regex}};
}

ojson bpe_model() {
  return ojson{{"type", "BPE"},
               {"dropout", nullptr},
               {"unk_token", nullptr},
               {"continuing_subword_prefix", nullptr},
               {"end_of_word_suffix", nullptr},
               {"fuse_unk", false},
               {"byte_fallback", false},
               {"ignore_merges", false}};
}

ojson added_token_json(int32_t id, const std::string& content) {
  return ojson{{"id", id},          {"content", content},    {"single_word", false}, {"lstrip", false},
               {"rstrip", false},   {"normalized", false},   {"special", true}};
}

uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

struct Word {
  std::vector<int32_t> syms;
  int64_t count = 0;
};

}  // namespace

std::string split_pattern_by_name(const std::string& name) {
  if (name == "gpt2") return kGpt2Regex;
  if (name == "llama3") return kLlama3Regex;
  if (name == "qwen2") return kQwen2Regex;
  throw Error(fmt::format("unknown pre-tokenizer pattern '{}' (expected gpt2, llama3 or qwen2)", name));
}

std::string train_bpe(const std::vector<std::string>& texts, const BpeTrainerOptions& options) {
  const auto k = static_cast<int32_t>(options.special_tokens.size());
  if (options.vocab_size < 256 + k) {
    throw Error(fmt::format("vocab size {} is smaller than 256 byte tokens + {} special tokens", options.vocab_size, k));
  }
  for (size_t i = 0; i < options.special_tokens.size(); ++i) {
    RLVR_CHECK(!options.special_tokens[i].empty(), "special token {} is empty", i);
    for (size_t j = 0; j < i; ++j) {
      RLVR_CHECK(options.special_tokens[i] != options.special_tokens[j], "special token '{}' is given twice",
                 options.special_tokens[i]);
    }
  }
  const std::string pattern = split_pattern_by_name(options.pattern);
  SplitRegex regex(pattern, "trainer pattern");

  // --- 1. Count pre-tokenized pieces (special tokens cut out first) ---
  std::unordered_map<std::string, int32_t> word_index;
  std::vector<Word> words;
  std::vector<std::pair<size_t, size_t>> matches;
  auto count_text = [&](std::string_view text) {
    matches.clear();
    regex.find_all(text, &matches);
    size_t prev = 0;
    auto add = [&](size_t off, size_t len) {
      if (len == 0) return;
      std::string piece(text.substr(off, len));
      auto [it, inserted] = word_index.emplace(std::move(piece), static_cast<int32_t>(words.size()));
      if (inserted) {
        Word w;
        for (char c : it->first) w.syms.push_back(static_cast<unsigned char>(c));  // byte values for now
        words.push_back(std::move(w));
      }
      words[static_cast<size_t>(it->second)].count += 1;
    };
    for (auto [off, len] : matches) {
      add(prev, off - prev);
      add(off, len);
      prev = off + len;
    }
    add(prev, text.size() - prev);
  };
  for (const std::string& text : texts) {
    std::string_view rest = text;
    while (!rest.empty()) {
      size_t best = std::string_view::npos, best_len = 0;
      for (const std::string& sp : options.special_tokens) {
        size_t pos = rest.find(sp);
        if (pos != std::string_view::npos && (pos < best || (pos == best && sp.size() > best_len))) {
          best = pos;
          best_len = sp.size();
        }
      }
      if (best == std::string_view::npos) {
        count_text(rest);
        break;
      }
      count_text(rest.substr(0, best));
      rest = rest.substr(best + best_len);
    }
  }

  // --- 2. Initial vocabulary: specials, then the 256 byte characters by code point ---
  std::vector<std::string> token_str;  // tokenizer.json form
  for (const std::string& sp : options.special_tokens) token_str.push_back(sp);
  std::vector<std::pair<uint32_t, int>> alphabet;
  for (int b = 0; b < 256; ++b) {
    size_t len;
    const std::string& ch = byte_level::char_for_byte(static_cast<unsigned char>(b));
    alphabet.emplace_back(static_cast<uint32_t>(unicode::decode_utf8(ch, 0, &len)), b);
  }
  std::sort(alphabet.begin(), alphabet.end());
  std::array<int32_t, 256> byte_token{};
  for (auto [cp, b] : alphabet) {
    byte_token[static_cast<size_t>(b)] = static_cast<int32_t>(token_str.size());
    token_str.push_back(byte_level::char_for_byte(static_cast<unsigned char>(b)));
  }
  for (Word& w : words) {
    for (int32_t& s : w.syms) s = byte_token[static_cast<size_t>(s)];
  }

  // --- 3. Pair statistics ---
  std::unordered_map<uint64_t, int64_t> pair_count;
  std::unordered_map<uint64_t, std::vector<int32_t>> pair_words;
  for (size_t wi = 0; wi < words.size(); ++wi) {
    const Word& w = words[wi];
    for (size_t i = 0; i + 1 < w.syms.size(); ++i) {
      uint64_t key = pair_key(w.syms[i], w.syms[i + 1]);
      pair_count[key] += w.count;
      auto& list = pair_words[key];
      if (list.empty() || list.back() != static_cast<int32_t>(wi)) list.push_back(static_cast<int32_t>(wi));
    }
  }
  // Max-heap on count; ties to the smaller pair key (smaller ids).
  using Entry = std::pair<int64_t, uint64_t>;
  auto cmp = [](const Entry& a, const Entry& b) {
    return a.first != b.first ? a.first < b.first : a.second > b.second;
  };
  std::priority_queue<Entry, std::vector<Entry>, decltype(cmp)> heap(cmp);
  for (auto& [key, count] : pair_count) heap.push({count, key});

  // --- 4. Merge loop ---
  std::vector<std::pair<int32_t, int32_t>> merges;
  std::vector<uint32_t> seen(words.size(), 0);
  uint32_t stamp = 0;
  std::vector<int32_t> merged_syms;
  while (static_cast<int32_t>(token_str.size()) < options.vocab_size && !heap.empty()) {
    auto [count, key] = heap.top();
    heap.pop();
    auto it = pair_count.find(key);
    int64_t current = it == pair_count.end() ? 0 : it->second;
    if (current != count) {
      if (current > 0) heap.push({current, key});
      continue;
    }
    if (count < options.min_frequency) break;
    auto a = static_cast<int32_t>(key >> 32), b = static_cast<int32_t>(key & 0xFFFFFFFFu);
    auto new_id = static_cast<int32_t>(token_str.size());
    token_str.push_back(token_str[static_cast<size_t>(a)] + token_str[static_cast<size_t>(b)]);
    merges.emplace_back(a, b);
    ++stamp;
    std::vector<int32_t> where = std::move(pair_words[key]);
    pair_words.erase(key);
    std::vector<uint64_t> touched;
    for (int32_t wi : where) {
      if (seen[static_cast<size_t>(wi)] == stamp) continue;
      seen[static_cast<size_t>(wi)] = stamp;
      Word& w = words[static_cast<size_t>(wi)];
      merged_syms.clear();
      bool changed = false;
      for (size_t i = 0; i < w.syms.size(); ++i) {
        if (i + 1 < w.syms.size() && w.syms[i] == a && w.syms[i + 1] == b) {
          merged_syms.push_back(new_id);
          ++i;
          changed = true;
        } else {
          merged_syms.push_back(w.syms[i]);
        }
      }
      if (!changed) continue;
      for (size_t i = 0; i + 1 < w.syms.size(); ++i) {
        uint64_t k2 = pair_key(w.syms[i], w.syms[i + 1]);
        if ((pair_count[k2] -= w.count) <= 0) pair_count.erase(k2);
      }
      for (size_t i = 0; i + 1 < merged_syms.size(); ++i) {
        int32_t l = merged_syms[i], r = merged_syms[i + 1];
        uint64_t k2 = pair_key(l, r);
        pair_count[k2] += w.count;
        if (l == new_id || r == new_id) {
          touched.push_back(k2);
          auto& list = pair_words[k2];
          if (list.empty() || list.back() != wi) list.push_back(wi);
        }
      }
      w.syms.swap(merged_syms);
    }
    std::sort(touched.begin(), touched.end());
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
    for (uint64_t k2 : touched) {
      auto c = pair_count.find(k2);
      if (c != pair_count.end() && c->second > 0) heap.push({c->second, k2});
    }
  }
  if (static_cast<int32_t>(token_str.size()) < options.vocab_size) {
    RLVR_LOG_INFO("bpe trainer: stopped at {} tokens (no pair occurs {} times or more)", token_str.size(),
                  options.min_frequency);
  }

  // --- 5. tokenizer.json ---
  ojson root;
  root["version"] = "1.0";
  root["truncation"] = nullptr;
  root["padding"] = nullptr;
  ojson added = ojson::array();
  for (int32_t i = 0; i < k; ++i) added.push_back(added_token_json(i, options.special_tokens[static_cast<size_t>(i)]));
  root["added_tokens"] = added;
  root["normalizer"] = nullptr;
  root["pre_tokenizer"] = ojson{
      {"type", "Sequence"},
      {"pretokenizers",
       ojson::array({ojson{{"type", "Split"}, {"pattern", ojson{{"Regex", pattern}}}, {"behavior", "Isolated"},
                           {"invert", false}},
                     byte_level_component(false)})}};
  root["post_processor"] = byte_level_component(false);
  root["decoder"] = byte_level_component(false);
  ojson model = bpe_model();
  ojson vocab = ojson::object();
  for (size_t i = 0; i < token_str.size(); ++i) vocab[token_str[i]] = static_cast<int32_t>(i);
  model["vocab"] = std::move(vocab);
  ojson merge_list = ojson::array();
  for (auto [l, r] : merges) {
    merge_list.push_back(ojson::array({token_str[static_cast<size_t>(l)], token_str[static_cast<size_t>(r)]}));
  }
  model["merges"] = std::move(merge_list);
  root["model"] = std::move(model);
  return root.dump(1) + "\n";
}

std::string train_bpe_files(const std::vector<std::string>& paths, const BpeTrainerOptions& options) {
  RLVR_CHECK(!paths.empty(), "no training files given");
  std::vector<std::string> texts;
  texts.reserve(paths.size());
  for (const std::string& p : paths) texts.push_back(read_file(p));
  return train_bpe(texts, options);
}

std::string convert_gpt2_vocab(const std::string& encoder_json_path, const std::string& vocab_bpe_path) {
  nlohmann::json encoder;
  try {
    encoder = nlohmann::json::parse(read_file(encoder_json_path));
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(fmt::format("{}: not valid JSON: {}", encoder_json_path, e.what()));
  }
  if (!encoder.is_object()) throw Error(fmt::format("{}: expected an object of token -> id", encoder_json_path));
  ojson vocab = ojson::object();
  std::vector<std::pair<int64_t, std::string>> by_id;
  for (auto it = encoder.begin(); it != encoder.end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0) {
      throw Error(fmt::format("{}: field {}: expected a non-negative integer id", encoder_json_path,
                              nlohmann::json(it.key()).dump()));
    }
    by_id.emplace_back(it.value().get<int64_t>(), it.key());
  }
  std::sort(by_id.begin(), by_id.end());
  for (auto& [id, tok] : by_id) vocab[tok] = id;

  std::string bpe = read_file(vocab_bpe_path);
  ojson merges = ojson::array();
  size_t line_no = 0;
  for (size_t pos = 0; pos < bpe.size();) {
    size_t eol = bpe.find('\n', pos);
    if (eol == std::string::npos) eol = bpe.size();
    std::string line = bpe.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (line_no == 1 && line.rfind("#version", 0) == 0)) continue;
    size_t sp = line.find(' ');
    if (sp == std::string::npos || sp == 0 || sp + 1 >= line.size() || line.find(' ', sp + 1) != std::string::npos) {
      throw Error(fmt::format("{}:{}: expected two tokens separated by one space, got '{}'", vocab_bpe_path, line_no,
                              line));
    }
    merges.push_back(line);
  }
  ojson root;
  root["version"] = "1.0";
  root["truncation"] = nullptr;
  root["padding"] = nullptr;
  ojson added = ojson::array();
  auto eot = encoder.find("<|endoftext|>");
  if (eot != encoder.end()) {
    ojson t = added_token_json(eot->get<int32_t>(), "<|endoftext|>");
    t["normalized"] = true;  // as in Hugging Face's gpt2 tokenizer.json
    added.push_back(t);
  }
  root["added_tokens"] = added;
  root["normalizer"] = nullptr;
  root["pre_tokenizer"] = byte_level_component(true);
  root["post_processor"] = byte_level_component(true);
  root["decoder"] = byte_level_component(true);
  ojson model = bpe_model();
  model["vocab"] = std::move(vocab);
  model["merges"] = std::move(merges);
  root["model"] = std::move(model);
  return root.dump(1) + "\n";
}

}  // namespace rlvr::core
