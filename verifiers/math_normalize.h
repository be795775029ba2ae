// MATH answer extraction and string normalization, ported rule by rule from the references:
//   - last_boxed_only_string / remove_boxed / get_unnormalized_answer / normalize_final_answer
//     (open-instruct math_utils.py, from lm-evaluation-harness minerva_math, Lewkowycz et al.
//     2022 appendix D),
//   - strip_string and is_equiv (hendrycks/math modeling/math_equivalence.py).
// Every function is a pure function of its input, linear (or n log n) in its size, thread-safe,
// and never throws. Where the Python code raises, these return std::nullopt and the caller does
// what the reference's `except` branch does.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace rlvr::verifiers::math {

// The last `\boxed{...}` (or, when there is no `\boxed`, the last `\fbox{...}`) with its braces
// balanced, including the command itself: "\\boxed{\\frac{1}{2}}". When the text contains
// "\\boxed " (with a space), returns "\\boxed " plus everything after the last "\\boxed " up to
// the next '$', as the reference does. nullopt when there is no box or its braces never close.
std::optional<std::string> last_boxed_only_string(std::string_view text);

// "\\boxed{X}" -> "X", "\\boxed X" -> "X", "\\fbox{X}" -> "X" (the reference accepts only
// \boxed; see docs/VERIFIERS.md). nullopt for anything else.
std::optional<std::string> remove_boxed(std::string_view boxed);

// The X of the first Minerva line "Final Answer: The final answer is X. I hope it is correct."
// (the "I hope..." suffix is appended to the text first, as the reference does), stripped of
// surrounding whitespace; nullopt when there is none.
std::optional<std::string> minerva_answer(std::string_view text);

// normalize_final_answer of Lewkowycz et al.: the substitutions, removed unit words, $...$,
// \text{}, \textbf{}, \overline{}, \boxed{} extraction, \fracab and \sqrta shorthand, and
// "100,000" -> "100000".
std::string normalize_final_answer(std::string_view answer);

// hendrycks/math _strip_string. nullopt where the Python raises (two "\\text{ " unit markers,
// "\\sqrt" or "\\frac" at the very end); fix_a_slash_b never raises (hendrycks' version).
std::optional<std::string> strip_string(std::string_view s);

// hendrycks is_equiv: strip_string on both sides and compare; when either side raises, the raw
// strings are compared.
bool hendrycks_is_equiv(std::string_view a, std::string_view b);

}  // namespace rlvr::verifiers::math
