// The output records of `rlvr generate` and `rlvr eval --out` (one JSON line per sample) and a
// streaming writer for them. Torch-free.
//
// A record is the prompt row's own fields (messages, ground_truth, dataset and anything else the
// row had) plus the sample: `response` (the decoded completion, so the file can be fed to
// `rlvr verify`), prompt_index, sample_index, line, token_ids, logprobs, finish_reason,
// num_tokens, prompt_tokens, policy_version, timing {start_s, end_s, latency_s} and stop_string.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "actors/prompts.h"
#include "actors/sampler.h"
#include "core/fs.h"

namespace rlvr::actors {

// The record of sample `s` of prompt `row` (`prompt_index` is the row's position in its file's
// usable rows).
nlohmann::json sample_record(const Sample& s, const PromptRow& row, int64_t prompt_index);

// JSON text plus '\n' that never throws on invalid UTF-8 in generated text (replaced by U+FFFD).
std::string json_line(const nlohmann::json& j);

// Writes numbered lines (0, 1, 2, ...) to `<path>.partial` in number order as soon as every
// earlier line is there, whatever order they arrive in, and publishes the file as `path` in
// finish() (core::AtomicFileWriter: fsync + rename). A crash or an error keeps the lines written
// so far in `<path>.partial`; nothing else is kept in memory but lines that arrived ahead of a
// missing one. Not thread-safe.
class OrderedLineWriter {
 public:
  // Creates (truncates) `<path>.partial`. Throws rlvr::Error naming the path on failure.
  explicit OrderedLineWriter(const std::string& path);
  OrderedLineWriter(const OrderedLineWriter&) = delete;
  OrderedLineWriter& operator=(const OrderedLineWriter&) = delete;

  // Adds line number `index` (`text` ends with '\n'). REQUIRES: each index at most once.
  // Throws rlvr::Error when a write fails.
  void add(int64_t index, std::string text);

  // REQUIRES: every index in [0, n) was added. Publishes the file at `path`. Throws rlvr::Error
  // naming the index of a missing line, or on I/O failure.
  void finish(int64_t n);

  int64_t written() const { return next_; }
  const std::string& partial_path() const { return out_.temp_path(); }

 private:
  core::AtomicFileWriter out_;
  int64_t next_ = 0;                       // next line number to write
  std::map<int64_t, std::string> waiting_; // lines that arrived early
};

}  // namespace rlvr::actors
