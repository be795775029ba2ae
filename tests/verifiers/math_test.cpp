// The math verifier: extraction (\boxed, \fbox, Minerva line), Hendrycks strip_string rules one
// by one, normalize_final_answer, value equivalence (the sympy stand-in), tuples/intervals, and
// adversarial input. Expected strings follow the reference Python rules (hendrycks/math
// strip_string, open-instruct math_utils).
#include "verifiers/math.h"

#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "verifiers/math_expr.h"
#include "verifiers/math_normalize.h"

namespace rlvr::verifiers {
namespace {

// --- strip_string, rule by rule ---
struct StripCase {
  const char* name;
  std::string in;
  std::optional<std::string> out;
};
std::ostream& operator<<(std::ostream& os, const StripCase& c) { return os << c.name; }
class StripStringCase : public ::testing::TestWithParam<StripCase> {};
TEST_P(StripStringCase, Normalizes) {
  EXPECT_EQ(math::strip_string(GetParam().in), GetParam().out) << GetParam().in;
}
const StripCase kStrip[] = {
    {"Linebreaks", "1\n2", "12"},
    {"InverseSpace", "1\\!000", "1000"},
    {"DoubleBackslash", "\\\\frac{1}{2}", "\\frac{1}{2}"},
    {"Tfrac", "\\tfrac{1}{2}", "\\frac{1}{2}"},
    {"Dfrac", "\\dfrac{3}{4}", "\\frac{3}{4}"},
    {"LeftRight", "\\left(1,2\\right)", "(1,2)"},
    {"DegreesBraced", "30^{\\circ}", "30"},
    {"DegreesBare", "30^\\circ", "30"},
    {"EscapedDollar", "\\$5", "5"},
    {"RightUnits", "5\\text{ cm}", "5"},
    {"RightUnitsTwiceRaises", "5\\text{ cm}\\text{ m}", std::nullopt},
    {"TextWithoutSpaceKept", "5\\text{cm}", "5\\text{cm}"},
    {"EscapedPercent", "50\\%", "50"},
    {"BarePercent", "50%", "50"},
    {"SpaceDot", "x = .5", "\\frac{1}{2}"},
    {"BraceDot", "\\frac{.5}{2}", "\\frac{0.5}{2}"},
    {"LeadingDot", ".25", "0.25"},
    {"Empty", "", ""},
    {"ShortEqualsPrefix", "x=3", "3"},
    {"ShortEqualsPrefixWithSpace", "k = 3", "3"},
    {"LongEqualsPrefixKept", "xyz=3", "xyz=3"},
    {"TwoEqualsKept", "x=y=3", "x=y=3"},
    {"SqrtShorthand", "\\sqrt2", "\\sqrt{2}"},
    {"SqrtShorthandThenMore", "\\sqrt23", "\\sqrt{2}3"},
    {"SqrtBraced", "\\sqrt{3}", "\\sqrt{3}"},
    {"SqrtAtEndRaises", "2\\sqrt", std::nullopt},
    {"SpacesRemoved", "1 + 2", "1+2"},
    {"FracShorthand", "\\frac12", "\\frac{1}{2}"},
    {"FracShorthandLetter", "\\frac1b", "\\frac{1}{b}"},
    {"FracShorthandThenBrace", "\\frac1{72}", "\\frac{1}{72}"},
    {"FracBracedFirst", "\\frac{72}1", "\\frac{72}1"},
    {"FracTooShortUnchanged", "\\frac1", "\\frac1"},
    {"FracAtEndRaises", "2\\frac", std::nullopt},
    {"PointFiveToFrac", "0.5", "\\frac{1}{2}"},
    {"PointFiveLeadingDot", ".5", "\\frac{1}{2}"},
    {"OtherDecimalKept", "0.25", "0.25"},
    {"SlashToFrac", "3/4", "\\frac{3}{4}"},
    {"SlashNegative", "-3/4", "\\frac{-3}{4}"},
    {"SlashNonIntegerKept", "x/4", "x/4"},
    {"SlashLeadingZeroKept", "03/4", "03/4"},
    {"SlashTwiceKept", "1/2/3", "1/2/3"},
    {"Combined", "\\left( \\dfrac{1}{2}, 3 \\right]", "(\\frac{1}{2},3]"},
    {"DollarAndUnits", "\\$1,000\\text{ dollars}", "1,000"},
    {"Unicode", "\\sqrt\xC3\xA9", "\\sqrt{\xC3\xA9}"},
    {"UnicodeFrac", "\\frac\xC3\xA9\xC3\xA9", "\\frac{\xC3\xA9}{\xC3\xA9}"},
};
INSTANTIATE_TEST_SUITE_P(Table, StripStringCase, ::testing::ValuesIn(kStrip),
                         [](const auto& info) { return info.param.name; });

// --- normalize_final_answer (Minerva) ---
struct NormCase {
  const char* name;
  std::string in, out;
};
std::ostream& operator<<(std::ostream& os, const NormCase& c) { return os << c.name; }
class NormalizeFinalAnswerCase : public ::testing::TestWithParam<NormCase> {};
TEST_P(NormalizeFinalAnswerCase, Normalizes) {
  EXPECT_EQ(math::normalize_final_answer(GetParam().in), GetParam().out) << GetParam().in;
}
const NormCase kNorm[] = {
    {"AfterLastEquals", "x = y = 5", "5"},
    {"DropsArticleA", "a 5", "5"},
    {"DropsArticleAn", "an 8", "8"},
    {"DollarPeriod", "$5.$", "5"},
    {"EscapedDollar", "\\$5", "5"},
    {"BackslashSpace", "5\\ 000", "5000"},
    {"Spaces", "1 2 3", "123"},
    {"MboxToText", "\\mbox{cm}", ""},
    {"TextAnd", "x\\text{and}y", "x,y"},
    {"CommaTextAnd", "x,\\text{and}y", "x,y"},
    {"Units", "5 inches", "5"},
    {"UnitsDegrees", "30 degrees", "30"},
    {"Circ", "30^\\circ", "30"},
    {"Ldots", "1,2,\\ldots", "12"},
    {"DollarPair", "so it is $\\frac{1}{2}$ here", "\\frac{1}{2}"},
    {"Text", "\\text{(A)}", "(A)"},
    {"Textbf", "\\textbf{7}", "7"},
    {"Overline", "0.\\overline{3}", "0.3"},
    {"BoxedGreedy", "\\boxed{\\frac{1}{2}}", "\\frac{1}{2}"},
    {"FracShorthand", "\\frac12", "\\frac{1}{2}"},
    {"FracShorthandThree", "\\frac123", "\\frac{1}{2}3"},
    {"SqrtShorthand", "\\sqrt3", "\\sqrt{3}"},
    {"Thousands", "100,000", "100000"},
    {"ThousandsNotAllDigits", "1,000x", "1,000x"},
    {"Quotes", "\"yes\"", "yes"},
    {"ThinSpace", "1\\;000", "1000"},
    {"BraceComma", "1{,}000", "1000"},
    {"Mathrm", "5\\mathrm{th}", "5"},
    {"TextS", "5\\text{s}", "5"},
    {"Empty", "", ""},
};
INSTANTIATE_TEST_SUITE_P(Table, NormalizeFinalAnswerCase, ::testing::ValuesIn(kNorm),
                         [](const auto& info) { return info.param.name; });

// --- equivalence: hendrycks string rules, then values ---
struct EquivCase {
  const char* name;
  std::string a, b;
  bool equal;
};
std::ostream& operator<<(std::ostream& os, const EquivCase& c) { return os << c.name; }
class EquivalenceCase : public ::testing::TestWithParam<EquivCase> {};
TEST_P(EquivalenceCase, Compares) {
  const auto& c = GetParam();
  EXPECT_EQ(math::is_equivalent(c.a, c.b), c.equal) << c.a << " vs " << c.b;
  EXPECT_EQ(math::is_equivalent(c.b, c.a), c.equal) << "symmetry: " << c.b << " vs " << c.a;
}
const EquivCase kEquiv[] = {
    {"Identical", "5", "5", true},
    {"IntegerDecimal", "3", "3.0", true},
    {"IntegerDecimalZeros", "3", "3.000", true},
    {"DifferentIntegers", "3", "4", false},
    {"HalfDecimalFrac", "0.5", "\\frac{1}{2}", true},
    {"QuarterDecimalFrac", "0.25", "\\frac14", true},
    {"DfracFrac", "\\dfrac{3}{4}", "\\frac{3}{4}", true},
    {"SlashFrac", "3/4", "\\frac{3}{4}", true},
    {"UnreducedFrac", "\\frac{2}{4}", "\\frac{1}{2}", true},
    {"NegativeFracForms", "-\\frac{1}{2}", "\\frac{-1}{2}", true},
    {"NegativeFracDecimal", "-\\frac{1}{2}", "-0.5", true},
    {"ThirdNotDecimal", "\\frac{1}{3}", "0.333", false},
    {"ThirdNotLongDecimal", "\\frac{1}{3}", "0.3333333333", false},
    {"SqrtEqualSqrt", "\\sqrt{2}", "\\sqrt2", true},
    {"SqrtProduct", "2\\sqrt{2}", "\\sqrt{8}", true},
    {"SqrtFraction", "\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}", true},
    {"SqrtPerfectSquare", "\\sqrt{16}", "4", true},
    {"SqrtNotDecimal", "\\sqrt{2}", "1.414", false},
    {"CubeRoot", "\\sqrt[3]{27}", "3", true},
    {"Pi", "2\\pi", "\\pi+\\pi", true},
    {"PiFrac", "\\frac{\\pi}{2}", "0.5\\pi", true},
    {"PiNotDecimal", "\\pi", "3.14", false},
    {"Sums", "1+2+3", "6", true},
    {"Products", "2\\cdot3", "6", true},
    {"Times", "2\\times 3", "6", true},
    {"Power", "2^{10}", "1024", true},
    {"PowerShort", "2^3", "8", true},
    {"NegativePower", "2^{-1}", "\\frac{1}{2}", true},
    {"FractionalPower", "4^{\\frac{1}{2}}", "2", true},
    {"Parentheses", "(1+2)\\cdot 3", "9", true},
    {"ImplicitProduct", "3(2+1)", "9", true},
    {"Factorial", "5!", "120", true},
    {"Degrees", "30^\\circ", "30", true},
    {"Percent", "50\\%", "50", true},
    {"PercentNotRescaled", "50\\%", "0.5", false},
    {"DollarSign", "\\$18", "18", true},
    {"UnitsText", "18\\text{ cm}", "18", true},
    {"ShortPrefix", "x = 5", "5", true},
    {"ThousandsComma", "1,000", "1000", true},
    {"ThousandsCommaLong", "1,234,567", "1234567", true},
    {"TupleOrderMatters", "(1,2)", "(2,1)", false},
    {"Tuple", "(1,2)", "(1, 2)", true},
    {"TupleValues", "(\\frac{1}{2}, 3)", "(0.5, 3.0)", true},
    {"TupleLength", "(1,2)", "(1,2,3)", false},
    {"IntervalBracketType", "[1,2)", "(1,2)", false},
    {"IntervalClosedRight", "(1,2]", "(1,2]", true},
    {"IntervalValues", "[\\frac{1}{2}, 2)", "[0.5, 2)", true},
    {"IntervalInfinity", "(-\\infty, 3]", "(-\\infty,3]", true},
    {"IntervalLeftRight", "\\left[ 0, 1 \\right)", "[0,1)", true},
    {"IntervalVsTuple", "[0,1]", "(0,1)", false},
    {"BareListElementwise", "1, \\frac{1}{2}", "1, 0.5", true},
    {"BareListOrder", "1,2", "2,1", false},
    {"SetBraces", "\\{1,2\\}", "\\{1, 2\\}", true},
    {"VariablesCommute", "x+1", "1+x", true},
    {"VariablesProduct", "2x", "x\\cdot 2", true},
    {"VariablesDifferent", "x+1", "y+1", false},
    {"VariablesPolynomial", "(x+1)^2", "x^2+2x+1", true},
    {"VariablesNotPolynomial", "(x+1)^2", "x^2+1", false},
    {"VariablesFraction", "\\frac{x}{2}", "0.5x", true},
    {"GreekVariable", "2\\theta", "\\theta+\\theta", true},
    {"TextAnswersEqual", "\\text{(A)}", "\\text{(A)}", true},
    {"TextAnswersDiffer", "\\text{(A)}", "\\text{(B)}", false},
    {"Log", "\\log_2 8", "3", true},
    {"LnOne", "\\ln 1", "0", true},
    {"SinPi", "\\sin(\\pi)", "0", true},
    {"AbsValue", "|-3|", "3", true},
    {"Garbage", "@#!", "5", false},
    {"EmptyVsZero", "", "0", false},
    {"DivisionByZero", "\\frac{1}{0}", "1", false},
    {"MixedNumberIsProduct", "2\\frac{1}{2}", "1", true},
    {"LargeIntegersExact", "123456789012345678", "123456789012345679", false},
    {"EquationShortPrefixDropped", "y=2x+3", "y=3+2x", true},
    {"MatrixNotSupported", "\\begin{pmatrix}1\\\\2\\end{pmatrix}", "(1,2)", false},
    // Function powers and arguments without parentheses, read as sympy's parse_latex does.
    {"TrigPowerIdentity", "\\sin^2 x+\\cos^2 x", "1", true},
    {"TrigPowerIdentityNotTwo", "\\sin^2 x+\\cos^2 x", "2", false},
    {"SinDoubleAngle", "\\sin 2x", "2\\sin x\\cos x", true},
    {"SinTimesCosIsAProduct", "\\sin x \\cos x", "\\frac{1}{2}\\sin 2x", true},
    {"SinPowerBraced", "\\sin^{2}x", "(\\sin x)^2", true},
    {"SinPowerParens", "\\sin^2(x)", "\\sin(x)^2", true},
    {"SinSquaredIsNotSinOfSquare", "\\sin^2 x", "\\sin x^2", false},
    {"SinOfDoubleIsNotDoubleSin", "\\sin 2x", "2\\sin x", false},
    {"SinPowerThreeIsNotTwo", "\\sin^3 x", "\\sin^2 x", false},
    {"InverseSine", "\\sin^{-1} x", "\\arcsin x", true},
    {"InverseSineIsNotReciprocal", "\\sin^{-1} x", "\\frac{1}{\\sin x}", false},
    {"SinMinusTwoIsReciprocalSquare", "\\sin^{-2} x", "\\frac{1}{\\sin^2 x}", true},
    {"ArctanOne", "\\tan^{-1} 1", "\\frac{\\pi}{4}", true},
    {"SecantIdentity", "\\sec^2 x", "1+\\tan^2 x", true},
    {"NestedFunctions", "\\sin \\cos x", "\\sin(\\cos(x))", true},
    {"BareArgumentStopsAtPlus", "\\sin x + 1", "1+\\sin(x)", true},
    {"BareArgumentTakesAProduct", "\\sin x y", "\\sin(xy)", true},
    {"BareArgumentIsNotTheFirstFactorOnly", "\\sin x y", "y\\sin x", false},
    {"ParenArgumentThenFactor", "\\sin(x) y", "y\\sin x", true},
    {"LnSquared", "\\ln^2 x", "(\\ln x)^2", true},
    {"LogBaseBareArgument", "\\log_2 8x", "3+\\log_2 x", true},
    // Thin spaces as digit-group separators.
    {"ThinSpaceThousands", "1\\,000\\,000", "1000000", true},
    {"ThinSpaceThousandsShort", "12\\,345", "12345", true},
    {"ThinSpaceThousandsDecimal", "1\\,234.5", "1234.5", true},
    {"ThinSpaceShortGroupIsNotThousands", "1\\,00", "100", false},
    {"ThinSpaceLongHeadIsNotThousands", "1234\\,567", "1234567", false},
    {"ThinSpaceDifferentNumber", "1\\,000", "1000000", false},
    // Braced and bare subscripts are the same; a subscripted number is its own atom.
    {"SubscriptBracedBare", "1011_{2}", "1011_2", true},
    {"SubscriptVariables", "x_{1}+x_2", "x_1+x_{2}", true},
    {"SubscriptBaseMatters", "1011_2", "1011_{10}", false},
    {"SubscriptIsNotThePlainNumber", "1011_2", "1011", false},
    {"SubscriptDigitsMatter", "1011_2", "1010_2", false},
    {"SubscriptVariablesDiffer", "x_1", "x_2", false},
};
INSTANTIATE_TEST_SUITE_P(Table, EquivalenceCase, ::testing::ValuesIn(kEquiv),
                         [](const auto& info) { return info.param.name; });

// --- the verifier end to end ---
struct VerifyCase {
  const char* name;
  std::string response, truth;
  double score;
  bool found;
};
std::ostream& operator<<(std::ostream& os, const VerifyCase& c) { return os << c.name; }
class MathVerifyCase : public ::testing::TestWithParam<VerifyCase> {};
TEST_P(MathVerifyCase, Scores) {
  const auto& c = GetParam();
  MathVerifier v({});
  VerifyResult r = v.verify({"", c.response, c.truth});
  EXPECT_EQ(r.score, c.score) << r.reason;
  EXPECT_EQ(r.answer_found, c.found) << r.reason;
}
std::string nested(int depth) {
  return "\\boxed{" + std::string(depth, '{') + "1" + std::string(depth, '}') + "}";
}
const VerifyCase kVerify[] = {
    {"Boxed", "So the answer is $\\boxed{\\frac{1}{2}}$.", "\\frac{1}{2}", 1, true},
    {"BoxedDecimalVsFrac", "\\boxed{0.5}", "\\frac12", 1, true},
    {"BoxedWrong", "\\boxed{3}", "4", 0, true},
    {"LastBoxedWins", "\\boxed{3} no wait \\boxed{4}", "4", 1, true},
    {"LastBoxedWinsWrong", "\\boxed{4} no wait \\boxed{3}", "4", 0, true},
    {"BoxedNestedBraces", "\\boxed{\\frac{\\sqrt{3}}{2}}", "\\frac{\\sqrt3}{2}", 1, true},
    {"BoxedUnbalancedNoCandidate", "\\boxed{\\frac{1}{2}", "\\frac{1}{2}", 0, false},
    {"BoxedSpaceForm", "so $\\boxed 5$ done", "5", 1, true},
    {"Fbox", "\\fbox{7}", "7", 1, true},
    {"BoxedPreferredOverFbox", "\\fbox{7} \\boxed{8}", "8", 1, true},
    {"NoBoxNoCandidate", "The answer is 5.", "5", 0, false},
    {"NoLastNumberFallback", "We get 5", "5", 0, false},
    {"DollarsAreNotCandidates", "so $x = 5$", "5", 0, false},
    {"Minerva", "Final Answer: The final answer is $5$. I hope it is correct.", "5", 1, true},
    {"MinervaWithoutHope", "Final Answer: The final answer is 5. ", "5", 1, true},
    {"MinervaUnits", "Final Answer: The final answer is 12 inches. I hope it is correct.", "12", 1, true},
    {"MinervaFrac", "Final Answer: The final answer is $\\frac{3}{4}$. I hope it is correct.", "0.75", 1, true},
    {"MinervaWrong", "Final Answer: The final answer is $6$. I hope it is correct.", "5", 0, true},
    {"MinervaThousands", "Final Answer: The final answer is 100,000. I hope it is correct.", "100000", 1, true},
    {"BoxedWrongMinervaRight", "\\boxed{4}\nFinal Answer: The final answer is 5. I hope it is correct.", "5", 1, true},
    {"Interval", "\\boxed{(-\\infty, 2]}", "(-\\infty,2]", 1, true},
    {"IntervalWrongBracket", "\\boxed{(-\\infty, 2)}", "(-\\infty,2]", 0, true},
    {"Tuple", "\\boxed{\\left(3, \\frac{\\pi}{2}\\right)}", "(3,\\frac{\\pi}{2})", 1, true},
    {"Degrees", "\\boxed{45^\\circ}", "45", 1, true},
    {"TextUnits", "\\boxed{10\\text{ cm}}", "10", 1, true},
    {"Dollar", "\\boxed{\\$42}", "42", 1, true},
    {"ThinkRemoved", "<think>\\boxed{1}</think>\\boxed{2}", "2", 1, true},
    {"ThinkOnlyBoxInside", "<think>\\boxed{2}</think> done", "2", 0, false},
    {"GroundTruthList", "\\boxed{0.5}", "[\"\\\\frac{1}{2}\", \"1/2\"]", 1, true},
    {"GroundTruthListNoMatch", "\\boxed{3}", "[\"1\", \"2\"]", 0, true},
    {"GroundTruthIntervalNotList", "\\boxed{[1,2]}", "[1,2]", 1, true},
    {"EmptyResponse", "", "1", 0, false},
    {"EmptyBox", "\\boxed{}", "1", 0, true},
    {"DeepNesting", nested(30000), "1", 0, true},
    {"ModerateNesting", nested(30), "1", 1, true},
    {"DeepNestingTooDeepForValue", nested(500), "2", 0, true},
    {"ManyBoxes", [] { std::string s; for (int i = 0; i < 5000; ++i) s += "\\boxed{1}"; return s; }(), "1", 1, true},
    {"ManyUnclosedBoxes", [] { std::string s; for (int i = 0; i < 20000; ++i) s += "\\boxed{"; return s; }(), "1", 0, false},
    {"ManyNumbersInBox", [] { std::string s = "\\boxed{"; for (int i = 0; i < 20000; ++i) s += "1+"; return s + "1}"; }(), "1", 0, true},
    {"ManyMinervaPrefixes", [] { std::string s; for (int i = 0; i < 5000; ++i) s += "Final Answer: The final answer is "; return s; }(), "1", 0, true},
    {"NulBytes", std::string("\\boxed{\0" "1}", 10), "1", 0, true},
    {"InvalidUtf8", "\xff\xfe \\boxed{7} \xc3", "7", 1, true},
    {"LongExpressionRejected", "\\boxed{" + std::string(5000, '1') + "}", std::string(5000, '1'), 1, true},
    {"BoxedOneAgainstTrigIdentity", "\\boxed{1}", "\\sin^2 x+\\cos^2 x", 1, true},
    {"BoxedTrigIdentityAgainstOne", "\\boxed{\\sin^2 x+\\cos^2 x}", "1", 1, true},
    {"BoxedTwoAgainstTrigIdentity", "\\boxed{2}", "\\sin^2 x+\\cos^2 x", 0, true},
    {"BoxedDoubleAngle", "\\boxed{2\\sin x\\cos x}", "\\sin 2x", 1, true},
    {"BoxedThinSpaces", "\\boxed{1\\,000\\,000}", "1000000", 1, true},
    {"BoxedPlainAgainstThinSpaces", "\\boxed{1000000}", "1\\,000\\,000", 1, true},
    {"BoxedThinSpacesWrong", "\\boxed{1\\,000\\,001}", "1000000", 0, true},
    {"BoxedBracedSubscript", "\\boxed{1011_{2}}", "1011_2", 1, true},
    {"BoxedBareSubscript", "\\boxed{1011_2}", "1011_{2}", 1, true},
    {"BoxedSubscriptWrongDigits", "\\boxed{1001_{2}}", "1011_2", 0, true},
};
INSTANTIATE_TEST_SUITE_P(Table, MathVerifyCase, ::testing::ValuesIn(kVerify),
                         [](const auto& info) { return info.param.name; });

TEST(Math, ExtractCandidatesOrder) {
  auto c = math::extract_candidates(
      "\\boxed{1}\nFinal Answer: The final answer is $2$. I hope it is correct.");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0], "1");
  EXPECT_EQ(c[1], "2");
}

TEST(Math, LastBoxedOnlyString) {
  EXPECT_EQ(math::last_boxed_only_string("a \\boxed{x{y}} b"), "\\boxed{x{y}}");
  EXPECT_EQ(math::last_boxed_only_string("a \\boxed{x"), std::nullopt);
  EXPECT_EQ(math::last_boxed_only_string("\\boxed 5$ and"), "\\boxed 5");
  EXPECT_EQ(math::last_boxed_only_string("none"), std::nullopt);
  EXPECT_EQ(math::remove_boxed("\\boxed{5}"), "5");
  EXPECT_EQ(math::remove_boxed("\\fbox{5}"), "5");
  EXPECT_EQ(math::remove_boxed("\\boxed5"), std::nullopt);
}

TEST(Math, MinervaAnswerNeedsItsLine) {
  EXPECT_EQ(math::minerva_answer("Final Answer: The final answer is 5. I hope it is correct."), "5");
  EXPECT_EQ(math::minerva_answer("Final Answer: The final answer is 5\nI hope it is correct."),
            std::nullopt);
  EXPECT_EQ(math::minerva_answer("nothing"), std::nullopt);
}

TEST(Math, ParserRejectsUnsupportedAndDeep) {
  EXPECT_TRUE(math::parses_as_expression("\\frac{1}{2}+\\sqrt{3}\\pi"));
  EXPECT_FALSE(math::parses_as_expression("\\unknown{1}"));
  EXPECT_FALSE(math::parses_as_expression(std::string(1000, '(') + "1" + std::string(1000, ')')));
  EXPECT_FALSE(math::parses_as_expression(std::string(math::kMaxExprBytes + 1, '1')));
  EXPECT_TRUE(math::parses_as_expression(std::string(20, '(') + "1" + std::string(20, ')')));
}

// Filler that reads like a chain of thought (numbers, LaTeX, no box) of at least `bytes` bytes.
std::string reasoning(size_t bytes) {
  std::string s;
  for (int i = 0; s.size() < bytes; ++i) {
    s += "Step " + std::to_string(i) + ": $\\frac{3}{4} + x = 7$, so $x = \\frac{25}{4}$; check 12 again.\n";
  }
  return s;
}

TEST(Math, LongChainOfThoughtEndingInTheAnswerScoresOne) {
  MathVerifier v({});  // default options
  for (size_t n : {size_t{100} << 10, size_t{1} << 20, size_t{5} << 20}) {
    std::string cot = reasoning(n);
    EXPECT_EQ(v.verify({"", cot + "So $\\boxed{\\frac{1}{2}}$.", "\\frac12"}).score, 1.0) << n;
    EXPECT_EQ(v.verify({"", cot + "\\boxed{3}", "\\frac12"}).score, 0.0) << n;
    EXPECT_EQ(v.verify({"", "<think>" + cot + "\\boxed{0}</think>\nSo $\\boxed{0.5}$.", "\\frac12"}).score, 1.0)
        << n;
    EXPECT_EQ(v.verify({"", "<think>" + cot + "\\boxed{0.5}</think>\nSo $\\boxed{0}$.", "\\frac12"}).score, 0.0)
        << n;
    EXPECT_EQ(v.verify({"", cot + "Final Answer: The final answer is $\\frac{1}{2}$. I hope it is correct.",
                        "0.5"})
                  .score,
              1.0)
        << n;
  }
}

TEST(Math, ReadsTheTailOfTheResponse) {
  VerifierOptions o;
  o.max_input_bytes = 12;
  MathVerifier v(o);
  // "\\boxed{2}" is within the last 12 bytes; the earlier box is not read.
  VerifyResult r = v.verify({"", "\\boxed{1} then \\boxed{2}", "2"});
  EXPECT_EQ(r.score, 1.0) << r.reason;
  EXPECT_FALSE(r.error);
}

TEST(Math, AdversarialTailsStayBounded) {
  // Four MiB of the worst shapes for each stage; linear stages finish at once.
  MathVerifier v({});
  auto repeat = [](const std::string& unit) {
    std::string s;
    while (s.size() < (size_t{4} << 20)) s += unit;
    return s;
  };
  EXPECT_EQ(v.verify({"", repeat("\\boxed{"), "1"}).answer_found, false);
  EXPECT_EQ(v.verify({"", repeat("\\boxed "), "1"}).score, 0.0);
  EXPECT_EQ(v.verify({"", repeat("Final Answer: The final answer is "), "1"}).score, 0.0);
  EXPECT_EQ(v.verify({"", repeat("{"), "1"}).score, 0.0);
  EXPECT_EQ(v.verify({"", "\\boxed{" + repeat("1+") + "1}", "1"}).score, 0.0);
  EXPECT_EQ(v.verify({"", repeat("<think>"), "1"}).answer_found, false);
  EXPECT_EQ(v.verify({"", repeat("</think>") + "\\boxed{1}", "1"}).score, 1.0);
}

TEST(Math, RegisteredAsBuiltin) {
  auto v = make_verifier("math");
  EXPECT_EQ(v->verify({"", "\\boxed{2}", "2"}).score, 1.0);
}

}  // namespace
}  // namespace rlvr::verifiers
