// Text preparation shared by the verifiers (verifiers/text.h): the input bound as a prefix or a
// tail at UTF-8 boundaries, <think> removal decided over the whole response, and the
// one-element-list ground truth.
#include "verifiers/text.h"

#include <string>

#include <gtest/gtest.h>

namespace rlvr::verifiers {
namespace {

const std::string kAEuro = "a\xC3\xA9\xE2\x82\xAC";  // "a", "é" (2 bytes), "€" (3 bytes)

TEST(Text, CapInputCutsBackToACharacterBoundary) {
  EXPECT_EQ(cap_input(kAEuro, 6), kAEuro);
  EXPECT_EQ(cap_input(kAEuro, 5), "a\xC3\xA9");
  EXPECT_EQ(cap_input(kAEuro, 2), "a");
  EXPECT_EQ(cap_input(kAEuro, 0), "");
}

TEST(Text, TailInputCutsForwardToACharacterBoundary) {
  EXPECT_EQ(tail_input(kAEuro, 6), kAEuro);
  EXPECT_EQ(tail_input(kAEuro, 5), "\xC3\xA9\xE2\x82\xAC");
  EXPECT_EQ(tail_input(kAEuro, 4), "\xE2\x82\xAC");  // the cut falls inside "é"
  EXPECT_EQ(tail_input(kAEuro, 3), "\xE2\x82\xAC");
  EXPECT_EQ(tail_input(kAEuro, 2), "");                // inside "€"
  EXPECT_EQ(tail_input("abc", 0), "");
}

TEST(Text, StripThinkSemantics) {
  EXPECT_EQ(strip_think("a<think>x</think>b<think>y</think>c"), "abc");
  EXPECT_EQ(strip_think("a<think>never closed"), "a");
  EXPECT_EQ(strip_think("template thinking</think>answer"), "answer");
  EXPECT_EQ(strip_think("no tags"), "no tags");
}

TEST(Text, StripThinkTailEqualsTailOfStripThink) {
  const std::string cases[] = {
      "ab<think>x</think>cd",   "ab<think>unclosed",         "x</think>ab",
      "<think>1</think>",       "a<think>b</think>c<think>d", "pre</think>a<think>b</think>" + kAEuro,
      kAEuro + "<think>" + kAEuro + "</think>" + kAEuro,
  };
  for (const auto& c : cases) {
    std::string whole = strip_think(c);
    for (size_t n = 0; n <= c.size() + 1; ++n) {
      EXPECT_EQ(strip_think_tail(c, n), std::string(tail_input(whole, n))) << c << " n=" << n;
    }
  }
}

TEST(Text, StripThinkTailDecidesSectionsOverTheWholeResponse) {
  std::string filler(100000, 'x');
  // The think block opened long before the kept tail and closes inside it.
  EXPECT_EQ(strip_think_tail("answer 7 <think>" + filler + "</think>", 10), "answer 7 ");
  // An unclosed <think> long before the tail removes the tail.
  EXPECT_EQ(strip_think_tail("answer 7 <think>" + filler, 10), "answer 7 ");
  EXPECT_EQ(strip_think_tail(filler + " final 7", 8), " final 7");
}

TEST(Text, StripThinkIsLinearOnManyTags) {
  std::string opens, closes, pairs;
  while (opens.size() < (size_t{4} << 20)) opens += "<think>";
  while (closes.size() < (size_t{4} << 20)) closes += "</think>";
  while (pairs.size() < (size_t{4} << 20)) pairs += "<think>a</think>b";
  EXPECT_EQ(strip_think_tail(opens, 100), "");
  // A stray </think> drops what is before it; later stray closes are text.
  EXPECT_EQ(strip_think_tail(closes + "end", 11), "</think>end");
  EXPECT_EQ(strip_think_tail(pairs, 3), "bbb");
}

TEST(Text, UnwrapsOneElementLists) {
  EXPECT_EQ(unwrap_ground_truth("[\"5\"]"), "5");
  EXPECT_EQ(unwrap_ground_truth("  [ \"5\" ]\n"), "5");
  EXPECT_EQ(unwrap_ground_truth("['5']"), "5");  // a Python list literal
  EXPECT_EQ(unwrap_ground_truth("[\"\\\\frac{1}{2}\"]"), "\\frac{1}{2}");
  EXPECT_EQ(unwrap_ground_truth("[72]"), "72");
  EXPECT_EQ(unwrap_ground_truth("[ -3.50 ]"), "-3.50");  // a number's text as written
  EXPECT_EQ(unwrap_ground_truth("[1e3]"), "1e3");
  EXPECT_EQ(unwrap_ground_truth("[{\"a\": [1, 2]}]"), "{\"a\":[1,2]}");
  EXPECT_EQ(unwrap_ground_truth("[{'a': None}]"), "{\"a\":null}");
  EXPECT_EQ(unwrap_ground_truth("[\"[\\\"5\\\"]\"]"), "[\"5\"]") << "one level only";
}

TEST(Text, LeavesEverythingElseUnchanged) {
  for (const char* gt : {"5", "[1,2]", "[\"1\", \"2\"]", "[]", "[[5]]", "[true]", "[null]", "[1,2)",
                         "(1,2]", "[x]", "[", "\"5\"", "{\"a\": 1}", "", "[\"unterminated]"}) {
    EXPECT_EQ(unwrap_ground_truth(gt), gt) << gt;
  }
}

}  // namespace
}  // namespace rlvr::verifiers
