// The gsm8k verifier: extraction rules, number normalization, comparison, and adversarial text.
// Cases are written from the rules in issue 5 / docs/VERIFIERS.md (open-instruct's GSM8K
// verifier plus answer markers).
#include "verifiers/gsm8k.h"

#include <string>

#include <gtest/gtest.h>

#include "verifiers/verifier.h"

namespace rlvr::verifiers {
namespace {

struct Case {
  const char* name;
  std::string response;
  std::string truth;
  double score;
};

std::ostream& operator<<(std::ostream& os, const Case& c) { return os << c.name; }

class Gsm8kCase : public ::testing::TestWithParam<Case> {};

TEST_P(Gsm8kCase, Scores) {
  const Case& c = GetParam();
  VerifierOptions o;
  o.max_input_bytes = 1 << 20;  // the adversarial cases are longer than the default cap
  Gsm8kVerifier v(o);
  VerifyResult r = v.verify({"", c.response, c.truth});
  EXPECT_EQ(r.score, c.score) << "response: " << c.response.substr(0, 200) << "\ntruth: " << c.truth.substr(0, 200)
                              << "\nreason: " << r.reason;
}

const Case kCases[] = {
    // --- #### marker ---
    {"HashesSimple", "Natalia sold 48 + 24 = 72 clips.\n#### 72", "72", 1},
    {"HashesNoSpace", "so 5\n####72", "72", 1},
    {"HashesWrong", "#### 71", "72", 0},
    {"HashesBeatsLaterNumberOnOtherLine", "#### 72\nThat took 3 steps.", "72", 1},
    {"HashesWithDollar", "#### $1,200", "1200", 1},
    {"HashesNegative", "#### -5", "-5", 1},
    {"HashesDecimal", "#### 2.50", "2.5", 1},
    {"HashesFiveHashes", "##### 9", "9", 1},
    {"HashesLastWins", "#### 3\nWait, recount.\n#### 4", "4", 1},
    {"HashesLastWinsWrong", "#### 4\nWait, recount.\n#### 3", "4", 0},
    {"HashesThenText", "#### 18 eggs", "18", 1},
    {"HashesWithoutNumberFallsBack", "The total is 12.\n####", "12", 1},
    {"HashesNumberNextLineIsUsed", "####\n42", "42", 1},
    // --- "The answer is" ---
    {"AnswerIs", "3 + 4 = 7. The answer is 7.", "7", 1},
    {"AnswerIsLower", "so the answer is 12", "12", 1},
    {"AnswerIsUpper", "THE ANSWER IS 12", "12", 1},
    {"FinalAnswerIs", "The final answer is 36 dollars.", "36", 1},
    {"AnswerIsBeforeMoreNumbers", "The answer is 18. Check: 9 * 2 = 18, 18 - 0 = 18 and 5 extra", "18", 1},
    {"AnswerIsWithDollar", "The answer is $1,234.", "1234", 1},
    {"AnswerIsWithColon", "The answer is: 64", "64", 1},
    {"AnswerIsBold", "The answer is **64**.", "64", 1},
    {"AnswerIsMarkdownLatex", "The answer is $\\boxed{64}$", "64", 1},
    {"AnswerIsWrong", "The answer is 63.", "64", 0},
    {"AnswerIsNegative", "The answer is -3 degrees.", "-3", 1},
    {"AnswerIsWithoutNumberFallsBack", "The answer is below.\nIt is 10", "10", 1},
    {"AnswerIsWordsThenNumberSameLine", "The answer is twenty, i.e. 20", "20", 1},
    {"AnswerIsPercent", "The answer is 25%.", "25", 1},
    {"AnswerIsPercentNoRescale", "The answer is 25%.", "0.25", 0},
    {"AnswerIsEarlierThanHashes", "The answer is 5\n#### 6", "6", 1},
    {"HashesEarlierThanAnswerIs", "#### 6\nThe answer is 5", "5", 1},
    // --- "Answer:" ---
    {"AnswerColon", "Work: 2*3=6\nAnswer: 6", "6", 1},
    {"AnswerColonLower", "answer: 6", "6", 1},
    {"FinalAnswerColon", "Final answer: 1,000,000", "1000000", 1},
    {"AnswerColonBoldNextLine", "**Answer:**\n\n15", "15", 1},
    {"AnswerColonWrong", "Answer: 5", "6", 0},
    {"AnswerColonUnitsAfter", "Answer: 45 minutes", "45", 1},
    // --- \boxed{} ---
    {"Boxed", "Thus $\\boxed{42}$.", "42", 1},
    {"BoxedWithDollarSign", "\\boxed{\\$18}", "18", 1},
    {"BoxedWithText", "\\boxed{18 \\text{ dollars}}", "18", 1},
    {"BoxedEquation", "\\boxed{x = 5}", "5", 1},
    {"BoxedEquationChain", "\\boxed{2 + 3 = 5}", "5", 1},
    {"BoxedThousands", "\\boxed{1,000}", "1000", 1},
    {"BoxedNegative", "\\boxed{-7}", "-7", 1},
    {"BoxedLastWins", "\\boxed{1} then \\boxed{2}", "2", 1},
    {"BoxedLaterThanHashes", "#### 3\n\\boxed{4}", "4", 1},
    {"BoxedUnbalancedIgnored", "It is 9. \\boxed{10", "10", 1},
    {"BoxedEmptyFallsBack", "Total 11. \\boxed{}", "11", 1},
    {"BoxedNested", "\\boxed{{12}}", "12", 1},
    // --- last number fallback ---
    {"LastNumber", "First 3 then 4 then 5", "5", 1},
    {"LastNumberNotFirst", "First 3 then 4 then 5", "3", 0},
    {"LastNumberTrailingPeriod", "She has 20.", "20", 1},
    {"LastNumberThousands", "It costs 1,234,567 in total", "1234567", 1},
    {"LastNumberThousandsBadGrouping", "values 1,2,3", "3", 1},
    {"LastNumberThousandsBadGroupingNotJoined", "values 1,2,3", "123", 0},
    {"LastNumberTwoDigitGroup", "12,34", "34", 1},
    {"LastNumberDecimal", "pi is about 3.14", "3.14", 1},
    {"LastNumberLeadingDot", "It is .5", "0.5", 1},
    {"LastNumberLeadingDotTruthZero", "It is 0.5", ".5", 1},
    {"LastNumberDollar", "She paid $45.", "45", 1},
    {"LastNumberDollarCents", "She paid $45.00.", "45", 1},
    {"LastNumberPercent", "An increase of 50%", "50", 1},
    {"LastNumberUnits", "He ran 26 miles", "26", 1},
    {"LastNumberUnitsAttached", "He ran 26km", "26", 1},
    {"LastNumberNegative", "The temperature is -4", "-4", 1},
    {"LastNumberUnicodeMinus", "The temperature is \xE2\x88\x92" "4", "-4", 1},
    {"LastNumberBinaryMinusIsNotSign", "10-4", "4", 1},
    {"LastNumberBinaryMinusAfterParen", "(3)-4", "4", 1},
    {"LastNumberSignAfterSpace", "x = -4", "-4", 1},
    {"LastNumberPlusSign", "change of +4", "4", 1},
    {"LastNumberNegativeDollar", "a loss of -$30", "-30", 1},
    {"LastNumberIntegerVsDecimalTruth", "Total: 3", "3.0", 1},
    {"LastNumberDecimalVsIntegerTruth", "Total 3.000", "3", 1},
    {"LastNumberLeadingZeros", "code 007", "7", 1},
    {"LastNumberNegativeZero", "-0", "0", 1},
    {"LastNumberDifferentDecimal", "3.5", "3.05", 0},
    {"LastNumberHuge", "12345678901234567890123", "12345678901234567890123", 1},
    {"LastNumberHugeDiffers", "12345678901234567890123", "12345678901234567890124", 0},
    {"LastNumberVersusOrdinal", "on the 3rd day she had 8", "8", 1},
    {"LastNumberAfterLetters", "x2", "2", 1},
    {"LastNumberMultiLine", "a 1\nb 2\nc 3\n", "3", 1},
    {"LastNumberDateLike", "2023-10-05", "5", 1},
    {"LastNumberTimeLike", "at 10:30", "30", 1},
    {"LastNumberFractionTakesDenominator", "1/2", "2", 1},
    {"NoNumber", "I don't know.", "5", 0},
    {"EmptyResponse", "", "5", 0},
    {"OnlyDot", ".", "0", 0},
    {"OnlyMinus", "-", "0", 0},
    {"OnlyComma", ",", "0", 0},
    // --- ground truth forms ---
    {"TruthWithDollar", "10", "$10", 1},
    {"TruthWithCommas", "1000", "1,000", 1},
    {"TruthWithPercent", "10", "10%", 1},
    {"TruthWithSpaces", "10", " 10 ", 1},
    {"TruthFullSolution", "#### 72", "Natalia sold 48/2 = 24 clips.\n#### 72", 1},
    {"TruthNegativeDecimal", "-0.75", "-0.750", 1},
    {"TruthPlus", "4", "+4", 1},
    {"TruthUnicodeMinus", "-4", "\xE2\x88\x92" "4", 1},
    {"TruthNotNumber", "5", "five", 0},
    {"TruthEmpty", "5", "", 0},
    {"TruthTwoNumbers", "5", "5 6", 0},
    {"TruthTrailingDotOnly", "5", "5.", 1},
    // --- <think> removal ---
    {"ThinkRemoved", "<think>maybe 3</think>The answer is 4", "4", 1},
    {"ThinkNumberIgnored", "<think>#### 3</think>so 4", "4", 1},
    {"ThinkOnlyNumberInside", "<think>it is 3</think>no idea", "3", 0},
    {"ThinkUnclosedDropsAll", "The answer is 4 <think> maybe 5", "4", 1},
    {"ThinkStrayClose", "maybe 3</think>#### 4", "4", 1},
    {"ThinkStrayCloseNumberBefore", "it is 3</think> done", "3", 0},
    // --- realistic chains of thought ---
    {"CotJanet", "Janet's ducks lay 16 eggs per day. She eats 3 and bakes 4, so 16 - 3 - 4 = 9 eggs "
                 "remain. She sells them at $2 each: 9 * 2 = $18.\n#### 18", "18", 1},
    {"CotJanetNoMarker", "Janet's ducks lay 16 eggs per day. She eats 3 and bakes 4, so 16 - 3 - 4 = "
                         "9 eggs remain. She sells them at $2 each, making $18.", "18", 1},
    {"CotBoxedAtEnd", "Let x be the cost. 3x = 12 so x = 4.\n\nTherefore the cost is $\\boxed{4}$.", "4", 1},
    {"CotAnswerThenVerification", "The answer is 120.\n\nVerification: 60 * 2 = 120.", "120", 1},
    {"CotMarkdownFinal", "**Step 1:** 5 * 4 = 20\n**Step 2:** 20 + 7 = 27\n\n**Final Answer:** 27", "27", 1},
    {"CotWrongFinal", "5 * 4 = 20, plus 7 is 27. The answer is 26.", "27", 0},
    {"CotMoneyDecimals", "Each costs $1.25, 4 cost $5.00.\n#### 5", "5", 1},
    {"CotLargeThousands", "The company earned $2,500,000 in 2021.\n#### 2,500,000", "2500000", 1},
    {"CotTrailingSentenceNumber", "So she needs 14 more. (That's 2 weeks.)", "2", 1},
    {"CotAnswerColonMultipleNumbersFirstWins", "Answer: 14 cookies for 2 weeks", "14", 1},
    // --- more extraction and comparison rules ---
    {"HashesTrailingPeriod", "#### 72.", "72", 1},
    {"HashesSpacesAround", "####    72   ", "72", 1},
    {"HashesCommaDecimal", "#### 1,234.50", "1234.5", 1},
    {"HashesLeadingZeroDecimal", "#### 0.25", ".25", 1},
    {"HashesInsideSentenceTakesNumberAfter", "Result #### 9 (done)", "9", 1},
    {"AnswerIsNextLineAfterColon", "The answer is:\n\n**42**", "42", 1},
    {"AnswerIsWithEquals", "The answer is x = 8", "8", 1},
    {"AnswerIsTildeApprox", "The answer is ~8", "8", 1},
    {"AnswerIsParen", "The answer is (8)", "8", 1},
    {"AnswerIsDollarNegative", "The answer is $-8$", "-8", 1},
    {"AnswerColonLatexInline", "Answer: \\(8\\)", "8", 1},
    {"AnswerColonCurrencyWord", "Answer: 8 USD", "8", 1},
    {"AnswerColonCommaList", "Answer: 8, since 4 + 4 = 8", "8", 1},
    {"BoxedDecimal", "\\boxed{3.50}", "3.5", 1},
    {"BoxedPercent", "\\boxed{40\\%}", "40", 1},
    {"BoxedTextOnlyFallsBackToLastNumberInside", "we get 5 \\boxed{five}", "5", 1},
    {"BoxedWrong", "\\boxed{41}", "42", 0},
    {"LastNumberScientificTakesExponent", "about 1e3", "3", 1},
    {"LastNumberSpaceThousandsNotJoined", "1 000", "0", 1},
    {"LastNumberCommaThenSpace", "3, 4", "4", 1},
    {"LastNumberFourDigitNoComma", "1234", "1234", 1},
    {"LastNumberCommaAfterFourDigits", "1234,567", "567", 1},
    {"LastNumberDecimalThenPeriod", "3.5.", "3.5", 1},
    {"LastNumberVersionString", "v1.2.3", "0.3", 0},
    {"TruthNegativeVsPositive", "5", "-5", 0},
    {"TruthDecimalVsInteger", "5", "5.5", 0},
    // --- adversarial ---
    {"ManyNumbers", [] { std::string s; for (int i = 0; i < 100000; ++i) s += std::to_string(i % 97) + " "; return s; }(), "89", 1},
    {"ManyHashes", std::string(50000, '#') + " 7", "7", 1},
    {"ManyAnswerIs", [] { std::string s; for (int i = 0; i < 10000; ++i) s += "answer is "; return s + "8"; }(), "8", 1},
    {"ManyBoxedOpen", [] { std::string s; for (int i = 0; i < 20000; ++i) s += "\\boxed{"; return s + "8"; }(), "8", 1},
    {"DeepBraces", std::string(30000, '{') + "5" + std::string(30000, '}'), "5", 1},
    {"NulBytes", std::string("The answer is \0 9", 17), "9", 1},
    {"NulOnly", std::string(100, '\0'), "0", 0},
    {"InvalidUtf8", "\xff\xfe\xc3 answer: 6 \x80\x80", "6", 1},
    {"LongDigitRun", std::string(70000, '9'), std::string(70000, '9'), 1},
    {"CommaStorm", std::string(50000, ','), "1", 0},
    {"DotStorm", std::string(50000, '.') + "5", "0.5", 1},
    {"MinusStorm", std::string(50000, '-') + "5", "-5", 1},
    {"Emoji", "\xF0\x9F\x8D\x8E costs 3 \xF0\x9F\x92\xB0", "3", 1},
};

INSTANTIATE_TEST_SUITE_P(Table, Gsm8kCase, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(Gsm8k, ExtractAnswerCanonicalForms) {
  EXPECT_EQ(gsm8k::extract_answer("x 0012.3400").value(), "12.34");
  EXPECT_EQ(gsm8k::extract_answer("-0.0").value(), "0");
  EXPECT_EQ(gsm8k::extract_answer("$.50").value(), "0.5");
  EXPECT_EQ(gsm8k::extract_answer("1,234.5").value(), "1234.5");
  EXPECT_FALSE(gsm8k::extract_answer("none").has_value());
}

TEST(Gsm8k, ParseGroundTruthRejectsNonNumbers) {
  EXPECT_FALSE(gsm8k::parse_ground_truth("abc").has_value());
  EXPECT_FALSE(gsm8k::parse_ground_truth("1/2").has_value());
  EXPECT_FALSE(gsm8k::parse_ground_truth("-").has_value());
  EXPECT_EQ(gsm8k::parse_ground_truth("$1,000.50").value(), "1000.5");
}

TEST(Gsm8k, ReasonsSayWhatHappened) {
  Gsm8kVerifier v({});
  EXPECT_EQ(v.verify({"", "no digits", "3"}).reason, "no number in the response");
  EXPECT_FALSE(v.verify({"", "no digits", "3"}).answer_found);
  auto wrong = v.verify({"", "#### 4", "3"});
  EXPECT_TRUE(wrong.answer_found);
  EXPECT_NE(wrong.reason.find("4"), std::string::npos);
  EXPECT_NE(wrong.reason.find("expected 3"), std::string::npos);
  EXPECT_EQ(v.verify({"", "#### 4", "four"}).reason, "ground truth is not a number");
  EXPECT_EQ(v.verify({"", "#### 3", "3"}).reason, "correct");
}

// Filler that reads like a chain of thought, numbers included, of at least `bytes` bytes.
std::string reasoning(size_t bytes) {
  std::string s;
  for (int i = 0; s.size() < bytes; ++i) {
    s += "Step " + std::to_string(i) + ": 3 + 4 = 7, carry 1, and check 12 again. \xE2\x88\x92" "5 is wrong.\n";
  }
  return s;
}

TEST(Gsm8k, ReadsTheTailOfTheResponse) {
  VerifierOptions o;
  o.max_input_bytes = 11;
  Gsm8kVerifier v(o);
  // The last 11 bytes are " and then 2": the final answer is at the end.
  EXPECT_EQ(v.verify({"", "#### 1 and then 2", "2"}).score, 1.0);
  EXPECT_EQ(v.verify({"", "#### 1 and then 2", "1"}).score, 0.0);
  EXPECT_EQ(v.verify({"", "#### 1 and then 2", "2"}).error, false) << "a long response is not an error";
}

TEST(Gsm8k, LongChainOfThoughtEndingInTheAnswerScoresOne) {
  Gsm8kVerifier v({});  // default options
  for (size_t n : {size_t{100} << 10, size_t{1} << 20, size_t{5} << 20}) {
    std::string cot = reasoning(n);
    EXPECT_EQ(v.verify({"", cot + "The answer is 42.", "42"}).score, 1.0) << n;
    EXPECT_EQ(v.verify({"", cot + "#### 42", "42"}).score, 1.0) << n;
    EXPECT_EQ(v.verify({"", cot + "#### 41", "42"}).score, 0.0) << n;
    EXPECT_EQ(v.verify({"", "<think>" + cot + "</think>\nSo the total is 42.", "42"}).score, 1.0) << n;
    // Numbers inside the think block never count.
    EXPECT_EQ(v.verify({"", "<think>" + cot + "#### 42</think>\n#### 41", "42"}).score, 0.0) << n;
    // A stray </think> (thinking started in the prompt template) drops what is before it.
    EXPECT_EQ(v.verify({"", cot + "</think>The answer is 42.", "42"}).score, 1.0) << n;
  }
}

TEST(Gsm8k, ThinkSectionsAreDecidedOverTheWholeResponse) {
  VerifierOptions o;
  o.max_input_bytes = 64;
  Gsm8kVerifier v(o);
  std::string filler = reasoning(10000);
  // The think block closes inside the last 64 bytes but opened long before: the tail alone
  // would read as a stray </think> and drop everything.
  EXPECT_EQ(v.verify({"", "#### 7\n<think>" + filler + "</think>", "7"}).score, 1.0);
  // An unclosed <think> far before the tail removes the whole tail.
  VerifyResult r = v.verify({"", "#### 7 <think>" + filler, "7"});
  EXPECT_EQ(r.score, 1.0) << r.reason;
}

TEST(Gsm8k, ManyMarkersOnOneLongLineStayLinear) {
  // Every marker's number search stays inside its 300-byte window (this was quadratic: each
  // marker searched for the end of its 4 MB line).
  Gsm8kVerifier v({});
  std::string s;
  while (s.size() < (size_t{4} << 20) - 16) s += "answer is x ";
  EXPECT_EQ(v.verify({"", s, "1"}).answer_found, false);
  EXPECT_EQ(v.verify({"", "answer:\n\n" + s + " 9", "9"}).score, 1.0);
}

TEST(Gsm8k, RegisteredAsBuiltin) {
  auto v = make_verifier("gsm8k");
  EXPECT_EQ(v->verify({"", "#### 5", "5"}).score, 1.0);
}

}  // namespace
}  // namespace rlvr::verifiers
