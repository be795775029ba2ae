#include "sft_dpo/data.h"

#include <algorithm>

#include "core/error.h"
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
  core::ChatEncoding enc = core::apply_chat_template(tokenizer, chat_template, messages);
  size_t prompt_tokens = 0;
  if (prompt_messages > 0) {
    std::vector<core::ChatMessage> prompt(messages.begin(), messages.begin() + prompt_messages);
    prompt_tokens = core::apply_chat_template(tokenizer, chat_template, prompt).ids.size();
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
  auto js = core::read_jsonl(path, settings.on_bad_row, [&](int64_t line, const nlohmann::json& row) {
    core::SftExample ex = core::parse_sft_row(row, line);
    bool truncated = false;
    TokenizedSequence seq =
        tokenize_conversation(tokenizer, settings.chat_template, ex.messages, settings.max_seq_len, &truncated);
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
        seq = tokenize_conversation(tokenizer, settings.chat_template, messages, settings.max_seq_len, &truncated,
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
