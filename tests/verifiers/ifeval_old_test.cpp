// Tests for the ifeval_old verifier (open-instruct if_functions.py, keyed by func_name). Expected
// values follow the Python functions' definitions.
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "verifiers/ifeval_old.h"
#include "verifiers/verifier.h"

namespace rlvr::verifiers {
namespace {

struct OldCase {
  const char* name;
  const char* ground_truth;
  const char* response;
  double score;
};

void PrintTo(const OldCase& c, std::ostream* os) { *os << c.name; }

class IfevalOld : public ::testing::TestWithParam<OldCase> {};

TEST_P(IfevalOld, MatchesIfFunctions) {
  const OldCase& c = GetParam();
  IfevalOldVerifier v(VerifierOptions{});
  VerifyResult r = v.verify(VerifyInput{"", c.response, c.ground_truth});
  EXPECT_EQ(r.score, c.score) << r.reason;
}

const OldCase kOldCases[] = {
    {"KeywordsSubstring", R"({"func_name": "verify_keywords", "keyword_list": ["Apple", "pie"]})", "apple pies", 1},
    {"KeywordsMissing", R"({"func_name": "verify_keywords", "keyword_list": ["apple", "pear"]})", "apple", 0},
    {"KeywordFrequencyExact", R"({"func_name": "verify_keyword_frequency", "word": "cat", "N": 2})", "Cat, cat; category", 1},
    {"KeywordFrequencyNotExact", R"({"func_name": "verify_keyword_frequency", "word": "cat", "N": 1})", "cat cat", 0},
    {"ForbiddenSubstringFails", R"({"func_name": "validate_forbidden_words", "forbidden_words": ["bad"]})", "badge", 0},
    {"ForbiddenAbsent", R"({"func_name": "validate_forbidden_words", "forbidden_words": ["bad"]})", "good", 1},
    {"LetterCaseSensitiveExact", R"({"func_name": "verify_letter_frequency", "letter": "a", "N": 2})", "Aa a", 1},
    {"LetterWrongCount", R"({"func_name": "verify_letter_frequency", "letter": "a", "N": 1})", "aa", 0},
    {"LanguageEnglish", R"({"func_name": "validate_response_language", "language": "en"})", "This is a perfectly ordinary English sentence about the weather today.", 1},
    {"LanguageWrong", R"({"func_name": "validate_response_language", "language": "de"})", "This is a perfectly ordinary English sentence about the weather today.", 0},
    {"ParagraphCountDivider", R"({"func_name": "verify_paragraph_count", "N": 2})", "First\n* * *\nSecond", 1},
    {"ParagraphCountEmptyPiece", R"({"func_name": "verify_paragraph_count", "N": 2})", "* * *\nSecond", 0},
    {"ParagraphCountWrong", R"({"func_name": "verify_paragraph_count", "N": 3})", "First\n* * *\nSecond", 0},
    {"WordsAtLeast", R"({"func_name": "validate_word_constraint", "N": 3, "quantifier": "at least"})", "one two three", 1},
    {"WordsAtMostFails", R"({"func_name": "validate_word_constraint", "N": 2, "quantifier": "at most"})", "one two three", 0},
    {"WordsAroundTolerance", R"({"func_name": "validate_word_constraint", "N": 10, "quantifier": "around"})", "a b c d e f g h i", 1},
    {"WordsAroundOutside", R"({"func_name": "validate_word_constraint", "N": 10, "quantifier": "around"})", "a b c d e f g h", 0},
    {"WordsAroundBankersRounding", R"({"func_name": "validate_word_constraint", "N": 25, "quantifier": "around"})", "a b c d e f g h i j k l m n o p q r s t u v w", 1},
    {"WordsUnknownQuantifier", R"({"func_name": "validate_word_constraint", "N": 1, "quantifier": "exactly"})", "one", 0},
    {"SentencesAtLeast", R"({"func_name": "verify_sentence_constraint", "N": 3, "quantifier": "at least"})", "One. Two! Three?", 1},
    {"SentencesAbbreviationNotSplit", R"({"func_name": "verify_sentence_constraint", "N": 1, "quantifier": "at most"})", "Mr. Smith is here", 1},
    {"SentencesAround", R"({"func_name": "verify_sentence_constraint", "N": 4, "quantifier": "around"})", "One. Two. Three.", 1},
    {"ParagraphsFirstWord", R"({"func_name": "validate_paragraphs", "N": 2, "first_word": "Second", "i": 2})", "First\n\nSecond one", 1},
    {"ParagraphsFirstWordCaseSensitive", R"({"func_name": "validate_paragraphs", "N": 2, "first_word": "second", "i": 2})", "First\n\nSecond one", 0},
    {"ParagraphsWrongCount", R"({"func_name": "validate_paragraphs", "N": 3, "first_word": "First", "i": 1})", "First\n\nSecond", 0},
    {"PostscriptWithText", R"({"func_name": "verify_postscript", "postscript_marker": "P.S."})", "Body\nP.S. more", 1},
    {"PostscriptMarkerAlone", R"({"func_name": "verify_postscript", "postscript_marker": "P.S."})", "Body\nP.S.  ", 0},
    {"PlaceholdersEnough", R"({"func_name": "validate_placeholders", "N": 2})", "[a] and [b]", 1},
    {"PlaceholdersTooFew", R"({"func_name": "validate_placeholders", "N": 3})", "[a] and [b]", 0},
    {"BulletsExact", R"({"func_name": "verify_bullet_points", "N": 2})", "* a\n  - b\nc", 1},
    {"BulletsBoldCounts", R"({"func_name": "verify_bullet_points", "N": 1})", "**bold**", 1},
    {"BulletsWrong", R"({"func_name": "verify_bullet_points", "N": 1})", "* a\n* b", 0},
    {"TitleEmptyCounts", R"({"func_name": "validate_title"})", "<<>>", 1},
    {"TitleMissing", R"({"func_name": "validate_title"})", "no title", 0},
    {"ChoiceFound", R"({"func_name": "validate_choice", "options": ["yes", "no"]})", "I say yes", 1},
    {"ChoiceMissing", R"({"func_name": "validate_choice", "options": ["yes", "no"]})", "maybe", 0},
    {"HighlightsLazyPairs", R"({"func_name": "validate_highlighted_sections", "N": 2})", "*a* *b*", 1},
    {"HighlightsTooFew", R"({"func_name": "validate_highlighted_sections", "N": 3})", "*a* *b*", 0},
    {"SectionsCaseInsensitive", R"({"func_name": "validate_sections", "N": 2, "section_splitter": "Section"})", "SECTION 1 a section 2 b", 1},
    {"SectionsTooFew", R"({"func_name": "validate_sections", "N": 3, "section_splitter": "Section"})", "Section 1 a Section 2 b", 0},
    {"SectionsSplitterEscaped", R"({"func_name": "validate_sections", "N": 1, "section_splitter": "S.1"})", "SX1 2", 0},
    {"JsonValid", R"({"func_name": "validate_json_format"})", "{\"a\": [1, 2]}", 1},
    {"JsonFencedInvalid", R"({"func_name": "validate_json_format"})", "```json\n{}\n```", 0},
    {"RepeatPromptExact", R"({"func_name": "validate_repeat_prompt", "original_prompt": "Say hi."})", "Say hi. Hi!", 1},
    {"RepeatPromptCaseSensitive", R"({"func_name": "validate_repeat_prompt", "original_prompt": "Say hi."})", "say hi. Hi!", 0},
    {"TwoResponsesOk", R"({"func_name": "validate_two_responses"})", "A\n******\nB", 1},
    {"TwoResponsesSame", R"({"func_name": "validate_two_responses"})", "A\n******\nA", 0},
    {"TwoResponsesTwoSeparators", R"({"func_name": "validate_two_responses"})", "A******B******C", 0},
    {"UppercaseOk", R"({"func_name": "validate_uppercase"})", "ALL CAPS 123!", 1},
    {"UppercaseFails", R"({"func_name": "validate_uppercase"})", "ALL CAPs", 0},
    {"LowercaseOk", R"({"func_name": "validate_lowercase"})", "all lower 123", 1},
    {"LowercaseFails", R"({"func_name": "validate_lowercase"})", "all Lower", 0},
    {"CapitalWordsAtLeast", R"({"func_name": "validate_frequency_capital_words", "N": 2, "quantifier": "at least"})", "NASA and ESA go", 1},
    {"CapitalWordsMixedNotCounted", R"({"func_name": "validate_frequency_capital_words", "N": 1, "quantifier": "at least"})", "NASAx go", 0},
    {"CapitalWordsAtMost", R"({"func_name": "validate_frequency_capital_words", "N": 1, "quantifier": "at most"})", "A B", 0},
    {"EndExact", R"({"func_name": "validate_end", "end_phrase": "Bye."})", "Ok. Bye.", 1},
    // open-instruct strips the answer (remove_thinking_section) before calling validate_end.
    {"EndTrailingSpaceIsTrimmedFirst", R"({"func_name": "validate_end", "end_phrase": "Bye."})", "Ok. Bye. ", 1},
    {"EndOtherPhraseFails", R"({"func_name": "validate_end", "end_phrase": "Bye."})", "Ok. Bye!", 0},
    {"QuotationOk", R"({"func_name": "validate_quotation"})", "\"hi\"", 1},
    {"QuotationMissing", R"({"func_name": "validate_quotation"})", "hi\"", 0},
    {"NoCommasOk", R"({"func_name": "validate_no_commas"})", "no commas", 1},
    {"NoCommasFails", R"({"func_name": "validate_no_commas"})", "a, b", 0},
    {"NullArgumentsDropped", R"({"func_name": "validate_no_commas", "N": null})", "ok", 1},
    {"JsonStringGroundTruth", R"("{\"func_name\": \"validate_no_commas\"}")", "ok", 1},
    {"PythonLiteralGroundTruth", R"({'func_name': 'verify_keywords', 'keyword_list': ['ok'], 'N': None})", "ok", 1},
    {"ThinkRemoved", R"({"func_name": "validate_no_commas"})", "<think>a, b</think>fine", 1},
};

INSTANTIATE_TEST_SUITE_P(IfFunctions, IfevalOld, ::testing::ValuesIn(kOldCases),
                         [](const ::testing::TestParamInfo<OldCase>& info) { return std::string(info.param.name); });

VerifyResult run_old(const std::string& response, const std::string& gt) {
  return make_verifier("ifeval_old")->verify(VerifyInput{"", response, gt});
}

TEST(IfevalOldErrors, BadInputsScoreZeroWithReason) {
  struct Bad {
    const char* gt;
    const char* in_reason;
  } cases[] = {
      {"not json", "bad ground truth"},
      {R"({"N": 3})", "func_name"},
      {R"({"func_name": "no_such_function"})", "no_such_function"},
      {R"({"func_name": "validate_word_constraint", "N": 3})", "quantifier"},
      {R"({"func_name": "validate_word_constraint", "N": "3", "quantifier": "at least"})", "'N'"},
      {R"({"func_name": "validate_no_commas", "extra": 1})", "extra"},
      {R"({"func_name": "verify_letter_frequency", "letter": "ab", "N": 1})", "letter"},
      {R"({"func_name": "validate_paragraphs", "N": 1, "first_word": "a", "i": 5})", "'i'"},
  };
  for (const auto& c : cases) {
    auto r = run_old("a response", c.gt);
    EXPECT_EQ(r.score, 0.0) << c.gt;
    EXPECT_NE(r.reason.find(c.in_reason), std::string::npos) << c.gt << ": " << r.reason;
  }
}

TEST(IfevalOldErrors, EmptyResponseScoresZero) {
  EXPECT_EQ(run_old("", R"({"func_name": "validate_lowercase"})").score, 0.0);
  EXPECT_EQ(run_old(" \n", R"({"func_name": "validate_lowercase"})").score, 0.0);
}

TEST(IfevalOldCleanUp, SameCleanUpAsIfevalForEveryFunction) {
  // With arguments (open-instruct cleans these too) and without (it checks the raw prediction
  // there; rlvr cleans every function the same way, see docs/VERIFIERS.md).
  EXPECT_EQ(run_old("<answer>\"Hello there.\"</answer>", R"({"func_name": "validate_quotation"})").score, 1.0);
  EXPECT_EQ(run_old("<|assistant|>\n\"Hi\"\n", R"({"func_name": "validate_quotation"})").score, 1.0);
  EXPECT_EQ(run_old("<think>x</think>\n\nFirst\n\nSecond one",
                    R"({"func_name": "validate_paragraphs", "N": 2, "first_word": "First", "i": 1})")
                .score,
            1.0);
  EXPECT_EQ(run_old("a, b</think>  ", R"({"func_name": "validate_no_commas"})").score, 0.0)
      << "only whitespace after </think> is an empty response";
  EXPECT_EQ(run_old("<think>A, B</think>lower case", R"({"func_name": "validate_lowercase"})").score, 1.0);
}

TEST(IfevalOldBound, ResponseOverTheBoundIsAnError) {
  VerifierOptions o;
  o.max_input_bytes = 8;
  IfevalOldVerifier v(o);
  auto r = v.verify(VerifyInput{"", "no commas, here", R"({"func_name": "validate_no_commas"})"});
  EXPECT_EQ(r.score, 0.0);
  EXPECT_TRUE(r.error);
  EXPECT_NE(r.reason.find("verifiers.max_input_bytes (8)"), std::string::npos) << r.reason;
}

TEST(IfevalOldBound, OneMegabyteResponseIsCheckedWhole) {
  std::string body;
  while (body.size() < 1000000) body += "word ";
  EXPECT_EQ(run_old(body + "Bye.", R"({"func_name": "validate_end", "end_phrase": "Bye."})").score, 1.0);
  EXPECT_EQ(run_old(body + "late, comma", R"({"func_name": "validate_no_commas"})").score, 0.0);
  EXPECT_EQ(run_old(body, R"({"func_name": "validate_word_constraint", "N": 200000, "quantifier": "at least"})").score,
            1.0);
  EXPECT_EQ(run_old(body, R"({"func_name": "validate_word_constraint", "N": 200001, "quantifier": "at least"})").score,
            0.0);
}

TEST(IfevalOldBound, PairCountsAreLinear) {
  // validate_highlighted_sections / validate_title / validate_placeholders rescanned the rest of
  // the line (or of the text) for every match: quadratic on these 4 MiB inputs.
  const size_t n = (size_t{4} << 20) - 16;  // within the default bound
  std::string stars(n, '*'), angles, bracket_lines;
  while (angles.size() + 5 <= n) angles += "<<a>>";
  while (bracket_lines.size() + 2 <= n) bracket_lines += "[\n";
  EXPECT_EQ(run_old(stars, R"({"func_name": "validate_highlighted_sections", "N": 2097144})").score, 1.0);
  EXPECT_EQ(run_old(stars, R"({"func_name": "validate_highlighted_sections", "N": 2097145})").score, 0.0);
  EXPECT_EQ(run_old(angles, R"({"func_name": "validate_title"})").score, 1.0);
  EXPECT_EQ(run_old(bracket_lines + "]", R"({"func_name": "validate_placeholders", "N": 1})").score, 0.0)
      << "a ']' on a later line does not close a '['";
  EXPECT_EQ(run_old("[a] [b\n]", R"({"func_name": "validate_placeholders", "N": 2})").score, 0.0);
  EXPECT_EQ(run_old("[a] [b]\n[c", R"({"func_name": "validate_placeholders", "N": 2})").score, 1.0);
}

TEST(IfevalOldErrors, AdversarialInputIsBounded) {
  std::string junk(65536, '*');
  junk[100] = '\xFF';
  junk[200] = '\0';
  for (const char* gt : {R"({"func_name": "validate_highlighted_sections", "N": 3})",
                         R"({"func_name": "verify_sentence_constraint", "N": 3, "quantifier": "at least"})",
                         R"({"func_name": "validate_frequency_capital_words", "N": 3, "quantifier": "at least"})",
                         R"({"func_name": "validate_json_format"})", R"({"func_name": "validate_title"})"}) {
    auto r = run_old(junk, gt);
    EXPECT_GE(r.score, 0.0);
    EXPECT_LE(r.score, 1.0);
  }
}

}  // namespace
}  // namespace rlvr::verifiers
