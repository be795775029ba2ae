#include "sft_dpo/data.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"

namespace rlvr::sft_dpo {

int64_t TokenizedSequence::num_targets() const {
  int64_t n = 0;
  for (size_t t = 1; t < loss_mask.size(); ++t) n += loss_mask[t];
  return n;
}

TokenizedSequence tokenize_conversation(const core::Tokenizer& tokenizer, const std::string& chat_template,
                                        const std::vector<core::ChatMessage>& messages, int64_t max_seq_len,
                                        bool* truncated, size_t prompt_messages) {
  return tokenize_conversation(tokenizer, core::ChatFormat::named(tokenizer, chat_template), messages, max_seq_len,
                               truncated, prompt_messages);
}

core::ChatFormat chat_format_of(const core::Tokenizer& tokenizer, const TokenizeSettings& settings) {
  return settings.chat_format ? *settings.chat_format : core::ChatFormat::named(tokenizer, settings.chat_template);
}

TokenizedSequence tokenize_conversation(const core::Tokenizer& tokenizer, const core::ChatFormat& format,
                                        const std::vector<core::ChatMessage>& messages, int64_t max_seq_len,
                                        bool* truncated, size_t prompt_messages) {
  core::ChatEncoding enc = format.encode(tokenizer, messages, /*add_generation_prompt=*/false);
  size_t prompt_tokens = 0;
  if (prompt_messages > 0) {
    std::vector<core::ChatMessage> prompt(messages.begin(), messages.begin() + prompt_messages);
    prompt_tokens = format.encode(tokenizer, prompt, /*add_generation_prompt=*/false).ids.size();
  }
  TokenizedSequence seq;
  seq.ids.assign(enc.ids.begin(), enc.ids.end());
  seq.loss_mask.assign(enc.assistant_mask.begin(), enc.assistant_mask.end());
  for (size_t t = 0; t < std::min(prompt_tokens, seq.loss_mask.size()); ++t) seq.loss_mask[t] = 0;
  if (!seq.loss_mask.empty()) seq.loss_mask[0] = 0;
  const size_t full = seq.ids.size();
  *truncated = static_cast<int64_t>(full) > max_seq_len;
  if (*truncated) {
    seq.ids.resize(static_cast<size_t>(max_seq_len));
    seq.loss_mask.resize(static_cast<size_t>(max_seq_len));
  }
  RLVR_CHECK(seq.num_targets() > 0,
             "{} tokens after the chat template, none of them trainable within max_seq_len {}; expected an "
             "assistant response that starts before token {} (raise train.max_seq_len or shorten the prompt)",
             full, max_seq_len, max_seq_len);
  return seq;
}

namespace {

// A {"text": ...} row: [BOS] + encode(text) + [EOS], every token after the first a target.
TokenizedSequence tokenize_text(const core::Tokenizer& tokenizer, const core::ChatFormat& format,
                                const std::string& text, int64_t max_seq_len, bool* truncated) {
  TokenizedSequence seq;
  if (auto bos = tokenizer.bos_id()) seq.ids.push_back(*bos);
  tokenizer.encode_append(text, &seq.ids);
  std::optional<int32_t> eos;
  if (!format.eos_token().empty()) eos = tokenizer.single_token_id(format.eos_token());
  for (const char* candidate : {"<|endoftext|>", "<|end_of_text|>", "</s>", "<eos>"}) {
    if (eos) break;
    for (const auto& t : tokenizer.added_tokens()) {
      if (t.content == candidate) eos = t.id;
    }
  }
  if (eos && (seq.ids.empty() || seq.ids.back() != *eos)) seq.ids.push_back(*eos);
  seq.loss_mask.assign(seq.ids.size(), 1);
  seq.loss_mask[0] = 0;
  *truncated = static_cast<int64_t>(seq.ids.size()) > max_seq_len;
  if (*truncated) {
    seq.ids.resize(static_cast<size_t>(max_seq_len));
    seq.loss_mask.resize(static_cast<size_t>(max_seq_len));
  }
  RLVR_CHECK(seq.num_targets() > 0, "'text': {} token(s), nothing to train on; expected at least 2 tokens",
             seq.ids.size());
  return seq;
}

void note_truncation(DatasetStats& stats, const std::string& path, int64_t line, int64_t max_seq_len) {
  if (stats.truncated++ == 0) {
    RLVR_LOG_WARN("{}:{}: row longer than max_seq_len {} tokens, truncated (further truncations are counted)",
                  path, line, max_seq_len);
  }
}

void finish_stats(DatasetStats& stats, const core::JsonlStats& js, const std::string& path, int64_t kept) {
  stats.rows = kept;
  stats.skipped = js.skipped;
  stats.first_error = js.first_error;
  RLVR_CHECK(kept > 0, "{}: no usable rows ({} skipped{}{}); expected at least one", path, js.skipped,
             js.first_error.empty() ? "" : "; first: ", js.first_error);
  RLVR_LOG_INFO("{}: {} rows, {} skipped, {} truncated", path, kept, stats.skipped, stats.truncated);
}

}  // namespace

SftDataset load_sft_dataset(const std::string& path, const core::Tokenizer& tokenizer,
                            const TokenizeSettings& settings) {
  SftDataset ds;
  const core::ChatFormat format = chat_format_of(tokenizer, settings);
  auto js = core::read_jsonl(path, settings.on_bad_row, [&](int64_t line, const nlohmann::json& row) {
    core::SftExample ex = core::parse_sft_row(row, line);
    bool truncated = false;
    TokenizedSequence seq =
        ex.plain_text ? tokenize_text(tokenizer, format, ex.text, settings.max_seq_len, &truncated)
                      : tokenize_conversation(tokenizer, format, ex.messages, settings.max_seq_len, &truncated,
                                              ex.prompt_messages);
    if (truncated) note_truncation(ds.stats, path, line, settings.max_seq_len);
    TrainRow r;
    r.num_targets = seq.num_targets();
    r.ids = std::move(seq.ids);
    r.loss_mask = std::move(seq.loss_mask);
    r.lines = {line};
    ds.rows.push_back(std::move(r));
  });
  finish_stats(ds.stats, js, path, static_cast<int64_t>(ds.rows.size()));
  return ds;
}

std::vector<TrainRow> pack_rows(const std::vector<TrainRow>& rows, int64_t max_seq_len) {
  std::vector<TrainRow> out;
  TrainRow cur;
  int32_t seg = 0;
  auto flush = [&] {
    if (!cur.ids.empty()) out.push_back(std::move(cur));
    cur = TrainRow();
    seg = 0;
  };
  for (const TrainRow& r : rows) {
    RLVR_ASSERT(r.segment_ids.empty());
    if (static_cast<int64_t>(cur.ids.size() + r.ids.size()) > max_seq_len) flush();
    cur.ids.insert(cur.ids.end(), r.ids.begin(), r.ids.end());
    cur.loss_mask.insert(cur.loss_mask.end(), r.loss_mask.begin(), r.loss_mask.end());
    cur.segment_ids.insert(cur.segment_ids.end(), r.ids.size(), seg++);
    cur.lines.insert(cur.lines.end(), r.lines.begin(), r.lines.end());
    cur.num_targets += r.num_targets;
  }
  flush();
  return out;
}

PreferenceDataset load_preference_dataset(const std::string& path, const core::Tokenizer& tokenizer,
                                          const TokenizeSettings& settings) {
  PreferenceDataset ds;
  const core::ChatFormat format = chat_format_of(tokenizer, settings);
  auto js = core::read_jsonl(path, settings.on_bad_row, [&](int64_t line, const nlohmann::json& row) {
    core::PreferenceExample ex = core::parse_preference_row(row, line);
    PreferencePair pair;
    pair.line = line;
    bool any_truncated = false;
    for (int side = 0; side < 2; ++side) {
      const auto& response = side == 0 ? ex.chosen : ex.rejected;
      std::vector<core::ChatMessage> messages = ex.prompt;
      messages.insert(messages.end(), response.begin(), response.end());
      bool truncated = false;
      TokenizedSequence seq;
      try {
        seq = tokenize_conversation(tokenizer, format, messages, settings.max_seq_len, &truncated,
                                    ex.prompt.size());
      } catch (const Error& e) {
        throw Error(fmt::format("{}: {}", side == 0 ? "chosen" : "rejected", e.what()));
      }
      any_truncated = any_truncated || truncated;
      (side == 0 ? pair.chosen : pair.rejected) = std::move(seq);
    }
    if (any_truncated) note_truncation(ds.stats, path, line, settings.max_seq_len);
    ds.pairs.push_back(std::move(pair));
  });
  finish_stats(ds.stats, js, path, static_cast<int64_t>(ds.pairs.size()));
  return ds;
}

// ---------------------------------------------------------------------------------------------
// Mixes

namespace {

// splitmix64 stream seeded from (seed, a, b); the same on every platform.
struct SplitMix {
  uint64_t state;
  SplitMix(uint64_t seed, uint64_t a, uint64_t b)
      : state(seed * 0x9E3779B97F4A7C15ULL + a * 0xD1B54A32D192ED03ULL + b * 0x8CB92BA72F3D8DD7ULL + 1) {}
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
};

constexpr uint64_t kSelectStream = 0x5E1EC7;   // select_rows draws
constexpr uint64_t kShuffleStream = 0x5A0FF1E;  // the one shuffle of a mix

bool whole_file_once(const std::vector<DataSource>& sources) {
  return sources.size() == 1 && sources[0].rows == 0 && sources[0].weight == 1.0;
}

// Loads every source with `load(path)` and keeps the rows select_rows picks, then shuffles.
template <class Dataset, class Items>
Dataset load_mix(const std::vector<DataSource>& sources, uint64_t seed, Items Dataset::*items,
                 const std::function<Dataset(const std::string&)>& load) {
  RLVR_CHECK(!sources.empty(), "no training files; expected train.train_file or train.train_files");
  if (whole_file_once(sources)) return load(sources[0].path);
  Dataset out;
  for (size_t i = 0; i < sources.size(); ++i) {
    Dataset ds = load(sources[i].path);
    const auto n = static_cast<int64_t>((ds.*items).size());
    std::vector<int64_t> picked;
    try {
      picked = select_rows(n, sources[i], seed, i);
    } catch (const Error& e) {
      throw Error(fmt::format("train.train_files[{}] ({}): {}", i, sources[i].path, e.what()));
    }
    for (int64_t k : picked) (out.*items).push_back((ds.*items)[static_cast<size_t>(k)]);
    RLVR_LOG_INFO("mix: {} -> {} of {} rows (weight {}, rows {})", sources[i].path, picked.size(), n,
                  sources[i].weight, sources[i].rows);
    out.stats.skipped += ds.stats.skipped;
    out.stats.truncated += ds.stats.truncated;
    if (out.stats.first_error.empty()) out.stats.first_error = ds.stats.first_error;
  }
  auto& all = out.*items;
  const auto total = static_cast<int64_t>(all.size());
  SplitMix rng(seed, kShuffleStream, 0);
  for (int64_t i = total - 1; i > 0; --i) {
    auto j = static_cast<int64_t>(rng.next() % static_cast<uint64_t>(i + 1));
    std::swap(all[static_cast<size_t>(i)], all[static_cast<size_t>(j)]);
  }
  out.stats.rows = total;
  RLVR_LOG_INFO("mix: {} rows from {} files", total, sources.size());
  return out;
}

}  // namespace

std::vector<DataSource> train_sources(const core::TrainConfig& train) {
  RLVR_CHECK(train.train_file.empty() || train.train_files.empty(),
             "train.train_file and train.train_files are both set; expected one of them (a single file, or a "
             "list of {{path, weight | rows}})");
  std::vector<DataSource> out;
  if (!train.train_file.empty()) {
    out.push_back(DataSource{train.train_file, 1.0, 0});
    return out;
  }
  RLVR_CHECK(!train.train_files.empty(),
             "train.train_file is empty; expected a JSONL file (or train.train_files) for mode {}", train.mode);
  for (size_t i = 0; i < train.train_files.size(); ++i) {
    const auto& f = train.train_files[i];
    RLVR_CHECK(!f.path.empty(), "train.train_files[{}].path is empty; expected a JSONL file", i);
    out.push_back(DataSource{f.path, f.weight, f.rows});
  }
  return out;
}

std::vector<int64_t> select_rows(int64_t n, const DataSource& source, uint64_t seed, size_t source_index) {
  RLVR_CHECK(n > 0, "no usable rows to draw from");
  const int64_t target =
      source.rows > 0 ? source.rows : static_cast<int64_t>(std::floor(source.weight * static_cast<double>(n)));
  RLVR_CHECK(target > 0, "weight {} of {} usable rows selects no row; expected weight >= 1/{} (or rows >= 1)",
             source.weight, n, n);
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(target));
  for (int64_t r = 0; r < target / n; ++r) {
    for (int64_t k = 0; k < n; ++k) out.push_back(k);
  }
  const int64_t extra = target % n;
  if (extra > 0) {
    // The first `extra` entries of a partial Fisher-Yates shuffle: distinct rows, no replacement.
    std::vector<int64_t> pool(static_cast<size_t>(n));
    for (int64_t k = 0; k < n; ++k) pool[static_cast<size_t>(k)] = k;
    SplitMix rng(seed, kSelectStream, source_index);
    for (int64_t k = 0; k < extra; ++k) {
      auto j = k + static_cast<int64_t>(rng.next() % static_cast<uint64_t>(n - k));
      std::swap(pool[static_cast<size_t>(k)], pool[static_cast<size_t>(j)]);
      out.push_back(pool[static_cast<size_t>(k)]);
    }
  }
  return out;
}

SftDataset load_sft_mix(const std::vector<DataSource>& sources, uint64_t seed, const core::Tokenizer& tokenizer,
                        const TokenizeSettings& settings) {
  return load_mix<SftDataset>(sources, seed, &SftDataset::rows, [&](const std::string& path) {
    return load_sft_dataset(path, tokenizer, settings);
  });
}

PreferenceDataset load_preference_mix(const std::vector<DataSource>& sources, uint64_t seed,
                                      const core::Tokenizer& tokenizer, const TokenizeSettings& settings) {
  return load_mix<PreferenceDataset>(sources, seed, &PreferenceDataset::pairs, [&](const std::string& path) {
    return load_preference_dataset(path, tokenizer, settings);
  });
}

std::string mix_identity(const std::vector<DataSource>& sources, uint64_t seed) {
  if (whole_file_once(sources)) return core::file_content_hash(sources[0].path);  // = hash_file()
  std::string out = fmt::format("seed={}", seed);
  for (const auto& s : sources) out += fmt::format(";{}*{}*{}", core::file_content_hash(s.path), s.weight, s.rows);
  return out;
}

std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch) {
  uint64_t state = seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(epoch) * 0xD1B54A32D192ED03ULL + 1;
  auto next = [&state] {  // splitmix64
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  };
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  for (int64_t i = n - 1; i > 0; --i) {
    auto j = static_cast<int64_t>(next() % static_cast<uint64_t>(i + 1));
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  return order;
}

}  // namespace rlvr::sft_dpo
