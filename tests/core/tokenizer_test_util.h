// Shared helpers for the tokenizer tests: fixture paths and the committed corpus/expectations.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/fs.h"

namespace rlvr::core::testing {

inline std::string tokenizer_fixture(const std::string& name) {
  return std::string(RLVR_SOURCE_DIR) + "/tests/fixtures/tokenizer/" + name;
}

// The parity corpus (tests/fixtures/tokenizer/corpus.json).
inline std::vector<std::string> tokenizer_corpus() {
  return nlohmann::json::parse(read_file(tokenizer_fixture("corpus.json"))).get<std::vector<std::string>>();
}

// Expected ids per corpus entry from tests/fixtures/tokenizer/expected_<family>.json.
inline std::vector<std::vector<int32_t>> expected_ids(const std::string& family) {
  auto j = nlohmann::json::parse(read_file(tokenizer_fixture("expected_" + family + ".json")));
  return j.at("ids").get<std::vector<std::vector<int32_t>>>();
}

// The reference's decoding of each corpus entry's ids (`key`: "decoded" or
// "decoded_skip_special"; present for the SentencePiece-style families).
inline std::vector<std::string> expected_decoded(const std::string& family, const std::string& key) {
  auto j = nlohmann::json::parse(read_file(tokenizer_fixture("expected_" + family + ".json")));
  return j.at(key).get<std::vector<std::string>>();
}

}  // namespace rlvr::core::testing
