// SFT and DPO data: JSONL rows rendered with the chat template, tokenized, masked, truncated,
// packed and ordered per epoch. Torch-free (tensors are built in batch.cpp).
//
// Masking: a token is a target (trained on) when the chat template puts it in an assistant
// span (the content and the end-of-turn token; core/tokenizer/chat_template.h). For DPO only the
// response after the shared prompt is a target. Token 0 of a sequence is never a target.
// Truncation: a sequence longer than max_seq_len keeps its first max_seq_len tokens and is
// counted; one left without any target is a bad row ("<file>:<line>: ...", train.on_bad_row).
#pragma once

#include <cstdint>
#include <string>
#include <memory>
#include <vector>

#include "core/config/config.h"
#include "core/data/jsonl.h"
#include "core/tokenizer/chat_template.h"
#include "core/tokenizer/tokenizer.h"

namespace rlvr::sft_dpo {

// A tokenized conversation. loss_mask[t] = 1 when ids[t] is predicted from ids[0..t-1] and trained on.
struct TokenizedSequence {
  std::vector<int32_t> ids;
  std::vector<uint8_t> loss_mask;
  int64_t num_targets() const;
};

// One training row of SFT: a single sequence, or several packed ones (then segment_ids gives,
// per token, the index of its sequence within the row, and attention stays inside a segment).
struct TrainRow {
  std::vector<int32_t> ids;
  std::vector<uint8_t> loss_mask;
  std::vector<int32_t> segment_ids;  // empty when not packed
  std::vector<int64_t> lines;        // source line of each sequence
  int64_t num_targets = 0;
};

// How rows are turned into tokens; part of the reference-cache key for DPO.
struct TokenizeSettings {
  // The chat format rows are rendered with (model.chat_template resolved by core::ChatFormat::resolve).
  // When null, the named template `chat_template` is used (tests and fuzz targets).
  std::shared_ptr<const core::ChatFormat> chat_format;
  std::string chat_template = "tulu";
  int64_t max_seq_len = 1024;
  core::BadRowPolicy on_bad_row = core::BadRowPolicy::kStop;
};

struct DatasetStats {
  int64_t rows = 0;       // rows kept
  int64_t skipped = 0;    // bad rows skipped (on_bad_row: skip)
  int64_t truncated = 0;  // kept rows cut to max_seq_len
  std::string first_error;
};

// Renders `messages` with the template and masks the assistant spans; tokens before
// `prompt_tokens` are never targets. Truncates to `max_seq_len` (sets *truncated).
// Throws rlvr::Error when no target is left (or from apply_chat_template).
TokenizedSequence tokenize_conversation(const core::Tokenizer& tokenizer, const core::ChatFormat& format,
                                        const std::vector<core::ChatMessage>& messages, int64_t max_seq_len,
                                        bool* truncated, size_t prompt_messages = 0);
// The same with the named template `chat_template` ("tulu" or "chatml").
TokenizedSequence tokenize_conversation(const core::Tokenizer& tokenizer, const std::string& chat_template,
                                        const std::vector<core::ChatMessage>& messages, int64_t max_seq_len,
                                        bool* truncated, size_t prompt_messages = 0);
// settings.chat_format, or the named settings.chat_template.
core::ChatFormat chat_format_of(const core::Tokenizer& tokenizer, const TokenizeSettings& settings);

struct SftDataset {
  std::vector<TrainRow> rows;
  DatasetStats stats;
};
// Reads `path` (SFT rows: `messages`, TRL `prompt`/`completion`, or plain `text`; see
// core::parse_sft_row). A `text` row is encoded without a chat template, with the tokenizer's
// BOS (post_processor) first and the EOS token appended (as TRL's SFTTrainer), every token after
// the first a target. Throws rlvr::Error with file:line for a bad row under kStop, or when the
// file cannot be read or holds no usable row.
SftDataset load_sft_dataset(const std::string& path, const core::Tokenizer& tokenizer,
                            const TokenizeSettings& settings);

// Packs rows greedily, in order, into rows of at most `max_seq_len` tokens.
std::vector<TrainRow> pack_rows(const std::vector<TrainRow>& rows, int64_t max_seq_len);

struct PreferencePair {
  int64_t line = 0;
  TokenizedSequence chosen, rejected;  // prompt + response; targets only in the response
};
struct PreferenceDataset {
  std::vector<PreferencePair> pairs;
  DatasetStats stats;
};
// Reads `path` (TULU chosen/rejected or TRL prompt/chosen/rejected rows). Errors as load_sft_dataset.
PreferenceDataset load_preference_dataset(const std::string& path, const core::Tokenizer& tokenizer,
                                          const TokenizeSettings& settings);

// ---------------------------------------------------------------------------------------------
// Mixes of several files (train.train_files), as open-instruct's dataset_mixer_list.

// One file of the training data and how much of it is drawn.
struct DataSource {
  std::string path;
  double weight = 1.0;  // fraction of the file's usable rows: int(weight x n); > 1 repeats
  int64_t rows = 0;     // when > 0: this many rows instead of weight; > n repeats
};
// The sources of a run: train.train_files, or train.train_file alone. Throws rlvr::Error when
// both or neither is set, or an entry has an empty path.
std::vector<DataSource> train_sources(const core::TrainConfig& train);

// Which of `n` usable rows source `source_index` contributes, as open-instruct's
// DatasetConfig.select_samples: the target count t (rows, else int(weight x n)) is floor(t / n)
// copies of every row in file order, then t mod n distinct rows drawn without replacement with
// a generator seeded by (seed, source_index). Throws rlvr::Error when t is 0.
std::vector<int64_t> select_rows(int64_t n, const DataSource& source, uint64_t seed, size_t source_index);

// The rows of every source, selected with select_rows and then shuffled once with `seed` (the
// trainer's per-epoch order shuffles again; packing then mixes files). A single source that takes
// its file once (weight 1, no rows: train.train_file) keeps the file order, as load_sft_dataset.
// stats.rows counts drawn rows; skipped and truncated count file rows. Errors as
// load_sft_dataset, for each file; a source that selects no row names its index and path.
SftDataset load_sft_mix(const std::vector<DataSource>& sources, uint64_t seed, const core::Tokenizer& tokenizer,
                        const TokenizeSettings& settings);
PreferenceDataset load_preference_mix(const std::vector<DataSource>& sources, uint64_t seed,
                                      const core::Tokenizer& tokenizer, const TokenizeSettings& settings);

// What identifies the data of a mix (for cache keys and run fingerprints): each file's content
// hash, weight and rows, and the seed when more than one file or a weight is involved.
std::string mix_identity(const std::vector<DataSource>& sources, uint64_t seed);

// The order of `n` data units in `epoch`: a permutation that depends only on (seed, epoch),
// identical on every platform (splitmix64 + Fisher-Yates), so a resumed run sees the same order.
std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch);

}  // namespace rlvr::sft_dpo
