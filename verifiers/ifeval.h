// The `ifeval` verifier: IFEval's verifiable instructions (strict mode), scored as open-instruct's
// IFEvalVerifier does: the fraction of the ground truth's instructions the response follows.
//
// Ground truth: {"instruction_id": [ids...], "kwargs": [{...} | null, ...]} as JSON text, or a
// one-element list of that object or of its JSON text (open-instruct stores
// `[{...}]`/`['{...}']`, read with ast.literal_eval, so Python literals — single quotes, None,
// True, False — are accepted too). Null kwargs values are dropped before checking. A malformed
// ground truth, an unknown instruction id or a kwargs mismatch scores that instruction (or the
// whole row, for a malformed ground truth) 0 with a reason; nothing here throws for bad input.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "verifiers/verifier.h"

namespace rlvr::verifiers {

namespace ifeval {

// One instruction with its kwargs (nulls removed).
struct Instruction {
  std::string id;
  nlohmann::json kwargs;  // always an object
};

// Parses an ifeval ground truth (see the file comment). Returns the instructions, or
// std::nullopt with `*error` set. Never throws.
std::optional<std::vector<Instruction>> parse_ground_truth(std::string_view text, std::string* error);

// The text IFEval checks, from a response already passed through sanitize_utf8: open-instruct's
// remove_thinking_section plus rlvr's strip_think. In order: every `<|assistant|>` removed;
// `<think>...</think>` sections removed as strip_think does (an unclosed `<think>` drops the
// rest); only what follows the last remaining `</think>` kept; every `<answer>` and `</answer>`
// removed; outer whitespace (Python str.strip) trimmed. Linear; never throws.
std::string clean_response(std::string_view response);

// The reason of a response longer than the bound: names verifiers.max_input_bytes.
std::string over_bound_reason(size_t size, size_t bound);

// Converts a Python literal (dict/list/str/int/float/None/True/False, single- or double-quoted
// strings with Python escapes, tuples as lists) into JSON text. Returns std::nullopt when `text`
// is not such a literal. Linear; never throws.
std::optional<std::string> python_literal_to_json(std::string_view text);

}  // namespace ifeval

// Thread-safe and stateless: verify() may be called from many threads at once.
class IfevalVerifier : public Verifier {
 public:
  explicit IfevalVerifier(const VerifierOptions& options) : options_(options) {}
  // Checks ifeval::clean_response(response). Reason: "k/n instructions followed" followed by
  // each failed instruction's reason. A response over options.max_input_bytes is not checked
  // (a prefix would give a wrong reward): score 0, error = true.
  VerifyResult verify(const VerifyInput& input) const override;

 private:
  VerifierOptions options_;
};

}  // namespace rlvr::verifiers
