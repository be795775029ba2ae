// Reference log-probs for DPO, computed once with the frozen reference model and cached on disk
// (as open-instruct's dpo_tune_cache does).
//
// The cache file is keyed by everything that changes the numbers: the content hash of the data
// file, of the reference checkpoint (config.json and every *.safetensors) and of tokenizer.json,
// plus the chat template, max_seq_len and on_bad_row. A file whose key differs is ignored and
// rewritten. Layout (little-endian): "RLVRREFC", u32 version (1), u32 key bytes, key, u64 n,
// then n x {i64 line, f64 chosen_sum, f64 rejected_sum}.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/model/transformer.h"
#include "learner/precision.h"
#include "sft_dpo/data.h"

namespace rlvr::sft_dpo {

// Summed reference log-probs of each pair's chosen and rejected response, in dataset order.
struct ReferenceLogps {
  std::vector<double> chosen, rejected;
};

// The file's XXH64 content hash as 16 hex digits (core::file_content_hash: streamed, fast).
// Throws rlvr::Error when unreadable.
std::string hash_file(const std::string& path);

// The cache key (a readable string) for these inputs. Throws rlvr::Error when a file is missing.
std::string reference_cache_key(const std::string& data_path, const std::string& reference_dir,
                                const std::string& tokenizer_path, const TokenizeSettings& settings);
// The same with the data given by its identity (sft_dpo::mix_identity; for one file its hash_file).
std::string reference_cache_key_for_data(const std::string& data_identity, const std::string& reference_dir,
                                         const std::string& tokenizer_path, const TokenizeSettings& settings);

// The cache file for `key` in `cache_dir`.
std::string reference_cache_path(const std::string& cache_dir, const std::string& key);

// The cached values when `path` exists, has this key and matches `pairs` (count and lines);
// std::nullopt otherwise (a corrupt file is logged and ignored).
std::optional<ReferenceLogps> read_reference_cache(const std::string& path, const std::string& key,
                                                   const std::vector<PreferencePair>& pairs);

// Writes the cache atomically. Throws rlvr::Error on I/O failure.
void write_reference_cache(const std::string& path, const std::string& key,
                           const std::vector<PreferencePair>& pairs, const ReferenceLogps& logps);

// Scores every pair with `model` (no grad) in batches of `batch_size` pairs.
ReferenceLogps compute_reference_logps(core::CausalLMImpl& model, const std::vector<PreferencePair>& pairs,
                                       int64_t batch_size, const learner::Precision& precision);

}  // namespace rlvr::sft_dpo
