// The `gsm8k` verifier: the final number of a grade-school math answer.
//
// Extraction: the first number after the last answer marker that is followed by one on its line
// ("####", "answer is" as in "The answer is" / "The final answer is", "answer:", and the content
// of the last \boxed{...}, after its last '='), else the last number in the response. Numbers
// keep their sign ("-5", "−5"), drop thousands separators ("1,234" -> 1234; "1,2" is two
// numbers), and ignore $, %, units and a trailing period. Comparison is exact and numeric on
// decimal strings: 3.0 == 3, 0.50 == .5, no rescaling of percentages.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "verifiers/verifier.h"

namespace rlvr::verifiers {

namespace gsm8k {
// The answer `response` gives, as a canonical decimal string ("-1234.5", "0", "72"): no leading
// zeros, no trailing fractional zeros, no "-0". nullopt when the response holds no number.
std::optional<std::string> extract_answer(std::string_view response);

// A ground truth ("72", "$1,200", "-3.50", "25%", or a full GSM8K solution ending "#### 72") as
// a canonical decimal string; nullopt when it is not a number.
std::optional<std::string> parse_ground_truth(std::string_view ground_truth);
}  // namespace gsm8k

// Thread-safe (stateless). Never throws for any text.
class Gsm8kVerifier : public Verifier {
 public:
  explicit Gsm8kVerifier(const VerifierOptions& options) : options_(options) {}
  VerifyResult verify(const VerifyInput& input) const override;

 private:
  VerifierOptions options_;
};

}  // namespace rlvr::verifiers
