// The `ifeval_old` verifier: the older TÜLU 3 instruction-following ground truth keyed by
// `func_name` (open-instruct if_functions.py / IFEvalVerifierOld), e.g.
//   {"func_name": "validate_lowercase"} or {"func_name": "verify_keywords", "keyword_list": ["a"]}.
// Null arguments are dropped; the score is 1 when the function returns True, else 0. Unknown
// functions and missing/unexpected/wrong-typed arguments score 0 with a reason naming them.
#pragma once

#include "verifiers/verifier.h"

namespace rlvr::verifiers {

// Thread-safe and stateless.
class IfevalOldVerifier : public Verifier {
 public:
  explicit IfevalOldVerifier(const VerifierOptions& options) : options_(options) {}
  VerifyResult verify(const VerifyInput& input) const override;

 private:
  VerifierOptions options_;
};

}  // namespace rlvr::verifiers
