// Value equivalence of LaTeX math answers: a small, bounded parser and evaluator standing in
// for open-instruct's `sympy.simplify(parse_latex(a) - parse_latex(b)) == 0`.
//
// Supported: integers and decimals, + - * / (\cdot, \times, \div, implicit products),
// ^ (exponent a group, a number or a single symbol), !, \frac/\dfrac/\tfrac (braced or one-char
// shorthand), \sqrt{} and \sqrt[n]{}, \pi, \infty, |x|, \sin \cos \tan \ln \log \log_b \exp,
// groups in () [] {}, single-letter and Greek-letter variables. Values are exact rationals
// while they fit in 64 bits (so 0.333 != 1/3, as in sympy) and doubles otherwise (irrational
// values compare with relative tolerance 1e-9). Expressions with variables are compared by
// evaluating both sides at several fixed pseudo-random points (identity testing).
// Tuples and intervals ("(1,2]", "[a,b)", "1,2,3") compare element-wise; the bracket types must
// match. Inputs longer than kMaxExprBytes or nested deeper than kMaxExprDepth are "not an
// expression". Pure functions: thread-safe, never throw.
#pragma once

#include <cstddef>
#include <string_view>

namespace rlvr::verifiers::math {

inline constexpr size_t kMaxExprBytes = 4096;
inline constexpr int kMaxExprDepth = 256;  // parser frames (about 40 levels of brackets)

// True when `a` and `b` (already Hendrycks-normalized or raw LaTeX) parse as expressions (or
// tuples/intervals of them) with the same value. False when either does not parse.
bool expressions_equivalent(std::string_view a, std::string_view b);

// True when `s` parses as a supported expression (no tuples). For tests and diagnostics.
bool parses_as_expression(std::string_view s);

}  // namespace rlvr::verifiers::math
