// Chat templates on the committed tiny tokenizer: exact ids, exact assistant masks, the
// generation prompt, and errors.
#include "core/tokenizer/chat_template.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "tests/core/tokenizer_test_util.h"

namespace rlvr::core {
namespace {

using ::testing::HasSubstr;

const Tokenizer& tiny() {
  static const Tokenizer tok = Tokenizer::from_file(testing::tokenizer_fixture("tiny_tokenizer.json"));
  return tok;
}

const std::vector<ChatMessage> kConversation = {
    {"system", "Be brief."},
    {"user", "What is 2+2?"},
    {"assistant", "4"},
    {"user", "And 3+3?"},
    {"assistant", "The answer is 6."},
};

// The text of the tokens whose mask is 1, assistant span by assistant span.
std::vector<std::string> masked_spans(const ChatEncoding& enc) {
  std::vector<std::string> spans;
  for (size_t i = 0; i < enc.ids.size(); ++i) {
    if (!enc.assistant_mask[i]) continue;
    if (i == 0 || !enc.assistant_mask[i - 1]) spans.emplace_back();
    spans.back() += tiny().decode({enc.ids[i]});
  }
  return spans;
}

TEST(ChatTemplate, TuluRendersOpenInstructText) {
  ChatTemplateOptions opt;
  std::string text = render_chat_template("tulu", kConversation, opt, "<|endoftext|>");
  EXPECT_EQ(text,
            "<|system|>\nBe brief.\n<|user|>\nWhat is 2+2?\n<|assistant|>\n4<|endoftext|>\n"
            "<|user|>\nAnd 3+3?\n<|assistant|>\nThe answer is 6.<|endoftext|>");
}

TEST(ChatTemplate, TuluIdsAndMaskAreExact) {
  std::vector<ChatMessage> msgs = {{"user", "What is 2+2?"}, {"assistant", "4"}};
  ChatEncoding enc = apply_chat_template(tiny(), "tulu", msgs);
  // <|user|> \n W ha t Ġis Ġ 2 + 2 ?\n <|assistant|> \n 4 <|endoftext|>
  EXPECT_EQ(enc.ids, (std::vector<int32_t>{4, 204, 60, 267, 89, 295, 226, 23, 16, 23, 290, 5, 204, 25, 0}));
  EXPECT_EQ(enc.assistant_mask, (std::vector<uint8_t>{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1}));
  EXPECT_EQ(enc.end_of_turn_id, 0);
  // Piecewise encoding equals encoding the rendered text here.
  EXPECT_EQ(enc.ids, tiny().encode(enc.text));
}

TEST(ChatTemplate, TuluMaskCoversContentAndEosOfEveryAssistantTurn) {
  ChatEncoding enc = apply_chat_template(tiny(), "tulu", kConversation);
  ASSERT_EQ(enc.ids.size(), enc.assistant_mask.size());
  EXPECT_EQ(masked_spans(enc), (std::vector<std::string>{"4<|endoftext|>", "The answer is 6.<|endoftext|>"}));
  EXPECT_EQ(enc.ids, tiny().encode(enc.text));
  EXPECT_EQ(tiny().decode(enc.ids), enc.text);
}

TEST(ChatTemplate, GenerationPromptIsUnmaskedAndLast) {
  std::vector<ChatMessage> msgs = {{"user", "Hi"}};
  ChatTemplateOptions opt;
  opt.add_generation_prompt = true;
  ChatEncoding tulu = apply_chat_template(tiny(), "tulu", msgs, opt);
  EXPECT_EQ(tulu.text, "<|user|>\nHi\n<|assistant|>\n");
  EXPECT_EQ(std::count(tulu.assistant_mask.begin(), tulu.assistant_mask.end(), 1), 0);
  ASSERT_GE(tulu.ids.size(), 2u);
  EXPECT_EQ(tulu.ids[tulu.ids.size() - 2], *tiny().token_to_id("<|assistant|>"));
  ChatEncoding chatml = apply_chat_template(tiny(), "chatml", msgs, opt);
  EXPECT_EQ(chatml.text, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(chatml.end_of_turn_id, *tiny().token_to_id("<|im_end|>"));
}

TEST(ChatTemplate, ChatmlIdsAndMaskAreExact) {
  std::vector<ChatMessage> msgs = {{"system", "Be brief."}, {"user", "2+2?"}, {"assistant", "4"}};
  ChatEncoding enc = apply_chat_template(tiny(), "chatml", msgs);
  EXPECT_EQ(enc.text,
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n"
            "<|im_start|>assistant\n4<|im_end|>\n");
  EXPECT_EQ(masked_spans(enc), (std::vector<std::string>{"4<|im_end|>"}));
  EXPECT_EQ(enc.ids, tiny().encode(enc.text));
  // The final "\n" after <|im_end|> is not trained on.
  EXPECT_EQ(enc.assistant_mask.back(), 0);
  EXPECT_EQ(enc.assistant_mask[enc.ids.size() - 2], 1);
}

TEST(ChatTemplate, BosTokenIsPrependedUnmasked) {
  ChatTemplateOptions opt;
  opt.bos_token = "<|endoftext|>";
  ChatEncoding enc = apply_chat_template(tiny(), "tulu", {{"user", "x"}, {"assistant", "y"}}, opt);
  EXPECT_EQ(enc.ids.front(), 0);
  EXPECT_EQ(enc.assistant_mask.front(), 0);
}

TEST(ChatTemplate, ErrorsNameTheProblem) {
  try {
    apply_chat_template(tiny(), "vicuna", kConversation);
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("unknown chat template 'vicuna' (known: tulu, chatml)"));
  }
  try {
    apply_chat_template(tiny(), "tulu", {{"user", "a"}, {"tool", "b"}});
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("messages[1].role 'tool'"));
  }
  EXPECT_THROW(apply_chat_template(tiny(), "tulu", {}), Error);
  ChatTemplateOptions opt;
  opt.eos_token = "not one token";
  try {
    apply_chat_template(tiny(), "tulu", kConversation, opt);
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("end-of-turn token 'not one token' is not a single token"));
  }
}

}  // namespace
}  // namespace rlvr::core
