// The `math` verifier: MATH-style answers compared as open-instruct's MathVerifier does.
//
// Candidates: the content of the last \boxed{...} (balanced braces; \fbox too) and the Minerva
// line "Final Answer: The final answer is X. I hope it is correct." (normalized with
// normalize_final_answer). No candidate -> score 0 (never the last number in prose). A candidate
// is correct when hendrycks_is_equiv holds or the values are equal (math_expr.h), the stand-in
// for the reference's sympy check. The ground truth is a LaTeX string, or a JSON list of
// acceptable strings (["\\frac{1}{2}", "0.5"]).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "verifiers/verifier.h"

namespace rlvr::verifiers {

namespace math {
// The candidate answers of `response` (after capping and <think> removal by the caller), in the
// order the reference tries them: boxed first, then Minerva.
std::vector<std::string> extract_candidates(std::string_view response);

// True when `candidate` is equivalent to `ground_truth` (Hendrycks string equivalence, or value
// equivalence of the normalized strings).
bool is_equivalent(std::string_view candidate, std::string_view ground_truth);
}  // namespace math

// Thread-safe (stateless). Never throws for any text.
class MathVerifier : public Verifier {
 public:
  explicit MathVerifier(const VerifierOptions& options) : options_(options) {}
  VerifyResult verify(const VerifyInput& input) const override;

 private:
  VerifierOptions options_;
};

}  // namespace rlvr::verifiers
