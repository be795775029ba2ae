// core::ChatFormat: model.chat_template resolution (auto / checkpoint / named), the named
// templates' Jinja equivalents, the end-of-turn probe of Jinja templates, and identities.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "core/tokenizer/chat_template.h"
#include "tests/core/tokenizer_test_util.h"
#include "tests/test_util.h"

namespace rlvr::core {
namespace {

using ::testing::HasSubstr;

const Tokenizer& tiny() {
  static const Tokenizer tok = Tokenizer::from_file(testing::tokenizer_fixture("tiny_tokenizer.json"));
  return tok;
}

std::string chat_fixture(const std::string& name) {
  return read_file(std::string(RLVR_SOURCE_DIR) + "/tests/fixtures/chat_templates/" + name);
}

const std::vector<std::vector<ChatMessage>> kConversations = {
    {{"user", "What is 2+2?"}},
    {{"system", "Be brief."}, {"user", "What is 2+2?"}},
    {{"user", "What is 2+2?"}, {"assistant", "4"}},
    {{"system", "Be brief."},
     {"user", "What is 2+2?"},
     {"assistant", "4"},
     {"user", "And 3+3?"},
     {"assistant", "The answer is 6."}},
    {{"user", "Say {{ x }} and {% if %}"}, {"assistant", "Déjà vu: 12 + 30 = 42.\nDone"}},
};

// The named templates and their Jinja texts render the same text and the same ids and masks.
TEST(ChatFormat, NamedTemplatesEqualTheirJinjaText) {
  for (const std::string name : {"tulu", "chatml"}) {
    const ChatFormat named = ChatFormat::named(tiny(), name);
    // tulu's eos is the tokenizer's <|endoftext|>; chatml's is <|im_end|>.
    const ChatFormat jinja =
        ChatFormat::jinja(tiny(), named_chat_template_jinja(name), name + ".jinja", "", named.eos_token());
    EXPECT_EQ(jinja.end_of_turn(), named.end_of_turn()) << name;
    EXPECT_EQ(jinja.end_of_turn_id(), named.end_of_turn_id()) << name;
    for (const auto& conv : kConversations) {
      for (bool gen : {false, true}) {
        const ChatEncoding a = named.encode(tiny(), conv, gen);
        const ChatEncoding b = jinja.encode(tiny(), conv, gen);
        EXPECT_EQ(a.text, b.text) << name << " gen=" << gen;
        EXPECT_EQ(a.ids, b.ids) << name << " gen=" << gen << "\n" << a.text;
        EXPECT_EQ(a.assistant_mask, b.assistant_mask) << name << " gen=" << gen << "\n" << a.text;
      }
    }
  }
}

// tulu's Jinja text is byte for byte the committed TÜLU 3 template (open-instruct's, with the
// bos_token prefix), so a final/ written by rlvr renders in transformers as it trained.
TEST(ChatFormat, TuluJinjaIsTheTulu3Template) {
  EXPECT_EQ(named_chat_template_jinja("tulu"), chat_fixture("tulu3.jinja"));
  EXPECT_THAT(rlvr::testing::error_message([] { named_chat_template_jinja("vicuna"); }), HasSubstr("unknown chat template"));
}

TEST(ChatFormat, AutoWithoutACheckpointTemplateIsTulu) {
  rlvr::testing::TempDir dir;
  for (const std::string& where : {std::string(), dir.path()}) {
    const ChatFormat f = ChatFormat::resolve(tiny(), "auto", where);
    EXPECT_TRUE(f.is_named());
    EXPECT_EQ(f.name(), "tulu");
    EXPECT_EQ(f.end_of_turn(), "<|endoftext|>");
    EXPECT_EQ(ChatFormat::resolved_identity("auto", where), "tulu");
  }
  EXPECT_EQ(ChatFormat::resolve(tiny(), "chatml", dir.path()).name(), "chatml");
  EXPECT_EQ(ChatFormat::resolved_identity("chatml", dir.path()), "chatml");
}

TEST(ChatFormat, CheckpointWithoutATemplateIsAClearError) {
  rlvr::testing::TempDir dir;
  const std::string msg = rlvr::testing::error_message([&] { ChatFormat::resolve(tiny(), "checkpoint", dir.path()); });
  EXPECT_THAT(msg, HasSubstr("model.chat_template is 'checkpoint' but " + dir.path() + " has no chat template"));
  EXPECT_THAT(rlvr::testing::error_message([&] { ChatFormat::resolve(tiny(), "llama", dir.path()); }),
              HasSubstr("model.chat_template: unknown value 'llama'; expected auto, checkpoint, tulu or chatml"));
}

// A checkpoint's own Jinja template (Qwen2.5's, on the tiny tokenizer that has <|im_start|> and
// <|im_end|>): rendered by the interpreter, with <|im_end|> found as the end of turn.
TEST(ChatFormat, AutoUsesTheCheckpointsJinjaTemplate) {
  rlvr::testing::TempDir dir;
  nlohmann::json tc = {{"chat_template", chat_fixture("qwen2_5.jinja")},
                       {"eos_token", "<|endoftext|>"},
                       {"bos_token", nullptr}};
  dir.write("tokenizer_config.json", tc.dump());
  for (const std::string setting : {"auto", "checkpoint"}) {
    const ChatFormat f = ChatFormat::resolve(tiny(), setting, dir.path());
    EXPECT_FALSE(f.is_named());
    EXPECT_EQ(f.name(), "jinja");
    EXPECT_EQ(f.source(), dir.path() + "/tokenizer_config.json:chat_template");
    EXPECT_EQ(f.eos_token(), "<|endoftext|>");
    EXPECT_EQ(f.end_of_turn(), "<|im_end|>");
    EXPECT_EQ(f.end_of_turn_id(), *tiny().single_token_id("<|im_end|>"));
    EXPECT_EQ(f.identity(), ChatFormat::resolved_identity(setting, dir.path()));
    EXPECT_THAT(f.identity(), ::testing::StartsWith("jinja:"));
  }
  const ChatFormat f = ChatFormat::resolve(tiny(), "auto", dir.path());
  const ChatEncoding enc = f.encode(tiny(), {{"user", "What is 2+2?"}, {"assistant", "4"}}, false);
  EXPECT_EQ(enc.text,
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
            "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n");
  EXPECT_EQ(enc.ids, tiny().encode(enc.text));
  // The mask is exactly "4<|im_end|>".
  std::string masked;
  for (size_t i = 0; i < enc.ids.size(); ++i) {
    if (enc.assistant_mask[i]) masked += tiny().decode({enc.ids[i]});
  }
  EXPECT_EQ(masked, "4<|im_end|>");
  EXPECT_EQ(enc.end_of_turn_id, f.end_of_turn_id());
  const ChatEncoding prompt = f.encode(tiny(), {{"user", "Hi"}}, true);
  EXPECT_THAT(prompt.text, ::testing::EndsWith("<|im_start|>assistant\n"));
  // chat_template.jinja wins over tokenizer_config.json, as in transformers.
  dir.write("chat_template.jinja", named_chat_template_jinja("chatml"));
  EXPECT_TRUE(ChatFormat::resolve(tiny(), "auto", dir.path()).is_named());
}

// What rlvr writes into final/ (the named template's Jinja text) reads back as the named
// template, so the next stage renders exactly as the last one trained.
TEST(ChatFormat, ANamedTemplateWrittenToACheckpointReadsBackAsItself) {
  rlvr::testing::TempDir dir;
  for (const std::string name : {"tulu", "chatml"}) {
    const ChatFormat written = ChatFormat::named(tiny(), name);
    nlohmann::json tc = {{"chat_template", written.jinja_text()}, {"eos_token", written.eos_token()}};
    dir.write("tokenizer_config.json", tc.dump());
    const ChatFormat back = ChatFormat::resolve(tiny(), "auto", dir.path());
    EXPECT_TRUE(back.is_named()) << name;
    EXPECT_EQ(back.name(), name);
    EXPECT_EQ(back.end_of_turn(), written.end_of_turn());
    EXPECT_EQ(back.identity(), name);
    EXPECT_EQ(ChatFormat::resolved_identity("auto", dir.path()), name);
  }
}

// The end-of-turn probe falls back to the eos_token when no added token follows the assistant
// content, and a template that cannot render a probe and has no eos_token is refused.
TEST(ChatFormat, EndOfTurnFallsBackToTheEosToken) {
  const std::string plain = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}";
  const ChatFormat f = ChatFormat::jinja(tiny(), plain, "plain.jinja", "", "<|endoftext|>");
  EXPECT_EQ(f.end_of_turn(), "<|endoftext|>");
  const ChatFormat none = ChatFormat::jinja(tiny(), plain, "plain.jinja", "", "");
  EXPECT_EQ(none.end_of_turn_id(), -1);
  const std::string raising = "{{ raise_exception('no probes here') }}";
  EXPECT_THAT(rlvr::testing::error_message([&] { ChatFormat::jinja(tiny(), raising, "r.jinja", "", ""); }),
              HasSubstr("r.jinja: cannot render a probe conversation to find the end-of-turn token"));
  EXPECT_THAT(rlvr::testing::error_message([&] { ChatFormat::jinja(tiny(), "{% if %}", "bad.jinja", "", ""); }),
              HasSubstr("bad.jinja"));
}

}  // namespace
}  // namespace rlvr::core
