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

// Converts a Python literal (dict/list/str/int/float/None/True/False, single- or double-quoted
// strings with Python escapes, tuples as lists) into JSON text. Returns std::nullopt when `text`
// is not such a literal. Linear; never throws.
std::optional<std::string> python_literal_to_json(std::string_view text);

}  // namespace ifeval

// Thread-safe and stateless: verify() may be called from many threads at once.
class IfevalVerifier : public Verifier {
 public:
  explicit IfevalVerifier(const VerifierOptions& options) : options_(options) {}
  // Reason: "k/n instructions followed" followed by each failed instruction's reason.
  VerifyResult verify(const VerifyInput& input) const override;

 private:
  VerifierOptions options_;
};

}  // namespace rlvr::verifiers
