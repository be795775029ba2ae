// The reply-line parser of the external verifier (verifiers/external.h
// detail::parse_external_reply), without a child process. Its fuzz target is
// fuzz/external_reply.cpp.
#include <string>

#include <gtest/gtest.h>

#include "verifiers/external.h"

namespace rlvr::verifiers {
namespace {

using detail::parse_external_reply;

TEST(ExternalReply, AcceptsScoreAndReason) {
  auto r = parse_external_reply(R"({"id": 7, "score": 0.5, "reason": "half"})", 7);
  ASSERT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.result.score, 0.5);
  EXPECT_TRUE(r.result.answer_found);
  EXPECT_FALSE(r.result.error);
  EXPECT_EQ(r.result.reason, "half");
}

TEST(ExternalReply, DefaultReasonAndTrailingCarriageReturn) {
  auto yes = parse_external_reply("{\"id\": 3, \"score\": 1}\r", 3);
  ASSERT_TRUE(yes.ok) << yes.problem;
  EXPECT_EQ(yes.result.reason, "accepted");
  auto no = parse_external_reply(R"({"id": 3, "score": 0, "reason": 5})", 3);
  ASSERT_TRUE(no.ok) << no.problem;
  EXPECT_EQ(no.result.reason, "rejected");
}

TEST(ExternalReply, LongReasonIsCutTo1024BytesAtACharacterBoundary) {
  std::string reason(1023, 'a');
  reason += "\xc3\xa9\xc3\xa9";  // 'é' straddles byte 1024
  auto r = parse_external_reply(R"({"id": 1, "score": 1, "reason": ")" + reason + "\"}", 1);
  ASSERT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.result.reason, std::string(1023, 'a'));
}

TEST(ExternalReply, RejectionsSayWhatWasWrong) {
  EXPECT_EQ(parse_external_reply("not json", 1).problem, "reply is not a JSON object");
  EXPECT_EQ(parse_external_reply("[1]", 1).problem, "reply is not a JSON object");
  EXPECT_EQ(parse_external_reply("", 1).problem, "reply is not a JSON object");
  EXPECT_EQ(parse_external_reply(R"({"id": 2, "score": 1})", 1).problem, "reply field 'id' is not 1");
  EXPECT_EQ(parse_external_reply(R"({"id": "1", "score": 1})", 1).problem, "reply field 'id' is not 1");
  EXPECT_EQ(parse_external_reply(R"({"id": 1, "score": "1"})", 1).problem,
            "reply field 'score' is missing or not a number");
  EXPECT_EQ(parse_external_reply(R"({"id": 1})", 1).problem, "reply field 'score' is missing or not a number");
  EXPECT_EQ(parse_external_reply(R"({"id": 1, "score": 1.5})", 1).problem, "reply field 'score' is outside [0, 1]");
  EXPECT_EQ(parse_external_reply(R"({"id": 1, "score": -0.1})", 1).problem, "reply field 'score' is outside [0, 1]");
  EXPECT_EQ(parse_external_reply(R"({"id": 1, "score": 1e999})", 1).problem, "reply is not a JSON object");
}

}  // namespace
}  // namespace rlvr::verifiers
