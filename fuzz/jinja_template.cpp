// Fuzz target: the Jinja chat-template interpreter (core/tokenizer/jinja.h): a checkpoint's
// chat_template (tokenizer_config.json or chat_template.jinja) is outside bytes that rlvr parses
// and then runs.
//
// Input: the template source. It is parsed, then rendered with the conversations of
// tests/fixtures/chat_templates/expected.json (a multi-turn exchange, and a tool call with the
// tools list), with and without add_generation_prompt, under a tight render budget (so every
// input finishes far inside libFuzzer's -timeout and -rss_limit_mb even under ASan; the
// defaults of RenderOptions are the same code with larger numbers). Properties beyond "no crash,
// only rlvr::Error": the output stays within max_output_bytes; rendering is deterministic (a
// second render gives the same text or the same error); a budget stop names the template source.
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/tokenizer/jinja.h"
#include "fuzz/fuzz_util.h"

namespace {

namespace jinja = rlvr::core::jinja;

std::vector<jinja::Value>& contexts() {
  static std::vector<jinja::Value> c;
  return c;
}

jinja::RenderOptions budget() {
  jinja::RenderOptions o;
  o.now = 1741176000;  // fixed clock: strftime_now is deterministic
  o.max_steps = 200000;
  o.max_loop_iterations = 20000;
  o.max_output_bytes = 1 << 20;
  // max_depth and max_call_depth keep their defaults: the stack must hold them.
  return o;
}

// Renders; returns the output, or "error: <message>" for an rlvr::Error.
std::string render_or_error(const jinja::Template& t, const jinja::Value& ctx, const jinja::RenderOptions& o) {
  try {
    return t.render(ctx, o);
  } catch (const rlvr::Error& e) {
    RLVR_FUZZ_EXPECT(e.what()[0] != '\0', "rlvr::Error with an empty message");
    const std::string msg = e.what();
    RLVR_FUZZ_EXPECT(msg.rfind("fuzz/chat_template.jinja", 0) == 0, "render error without the source name: " + msg);
    return "error: " + msg;
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  rlvr::fuzz::quiet_logging();
  std::ifstream in(std::string(RLVR_SOURCE_DIR) + "/tests/fixtures/chat_templates/expected.json");
  std::stringstream ss;
  ss << in.rdbuf();
  const nlohmann::ordered_json fixtures = nlohmann::ordered_json::parse(ss.str());
  for (const char* conversation : {"multi_turn", "tool_call"}) {
    for (bool gen : {false, true}) {
      jinja::Dict vars;
      vars.set("messages", jinja::Value::from_json(fixtures["conversations"][conversation]));
      vars.set("tools", std::string(conversation) == "tool_call" ? jinja::Value::from_json(fixtures["tools"])
                                                                 : jinja::Value::none());
      vars.set("documents", jinja::Value::none());
      vars.set("add_generation_prompt", jinja::Value::boolean(gen));
      vars.set("bos_token", jinja::Value::string("<s>"));
      vars.set("eos_token", jinja::Value::string("</s>"));
      contexts().push_back(jinja::Value::dict(std::move(vars)));
    }
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string source(rlvr::fuzz::as_view(data, size));
  const jinja::RenderOptions options = budget();
  rlvr::fuzz::expect_clean([&] {
    jinja::Template t(source, "fuzz/chat_template.jinja");
    for (const jinja::Value& ctx : contexts()) {
      const std::string first = render_or_error(t, ctx, options);
      if (first.rfind("error: ", 0) != 0) {
        RLVR_FUZZ_EXPECT(static_cast<int64_t>(first.size()) <= options.max_output_bytes,
                         "output of " + std::to_string(first.size()) + " bytes");
      }
      // Deterministic: a template that hits a budget or an error does so again, at the same
      // place (the render is a pure function of template, context and options).
      const std::string second = render_or_error(t, ctx, options);
      RLVR_FUZZ_EXPECT(first == second, "a second render differs");
      if (first.rfind("error: ", 0) == 0 && first.find("render stopped") != std::string::npos) break;
    }
  });
  return 0;
}
