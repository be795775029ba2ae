// The Jinja interpreter: every committed real chat template rendered byte for byte as the
// reference engine (@huggingface/jinja, tests/fixtures/chat_templates/expected.json) renders it,
// plus language features with hand-checked outputs and the exact error messages, and Jinja chat
// templates with the assistant mask found by rendering (chat_template.h).
#include "core/tokenizer/jinja.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/tokenizer/chat_template.h"
#include "tests/core/tokenizer_test_util.h"

namespace rlvr::core::jinja {
namespace {

using ::testing::HasSubstr;

const std::string kFixtures = std::string(RLVR_SOURCE_DIR) + "/tests/fixtures/chat_templates/";

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Renders `source` with variables given as JSON (and a fixed clock).
std::string render(const std::string& source, const nlohmann::json& vars = nlohmann::json::object()) {
  Template t(source, "test.jinja");
  RenderOptions opt;
  opt.now = 1741176000;  // 2025-03-05 12:00:00 UTC
  return t.render(Value::from_json(vars), opt);
}

// The message of the rlvr::Error that rendering (or parsing) `source` throws; "" if none.
std::string error_of(const std::string& source, const nlohmann::json& vars = nlohmann::json::object()) {
  try {
    render(source, vars);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// ---------------------------------------------------------------------------------------------
// Parity with @huggingface/jinja on the real templates.

TEST(JinjaParity, RealChatTemplatesRenderAsTheReference) {
  // ordered_json keeps the key order of the conversations (the tool schema's order shows in tojson).
  nlohmann::ordered_json expected = nlohmann::ordered_json::parse(read_file(kFixtures + "expected.json"));
  ASSERT_GE(expected["cases"].size(), 100u);
  std::map<std::string, Template> templates;
  std::set<std::string> seen;
  for (const auto& c : expected["cases"]) {
    const std::string name = c["template"];
    seen.insert(name);
    if (templates.count(name) == 0) {
      templates.emplace(name, Template(read_file(kFixtures + name + ".jinja"), name + ".jinja"));
    }
    const nlohmann::ordered_json& model = expected["models"][name];
    nlohmann::ordered_json vars = {
        {"messages", expected["conversations"][c["conversation"].get<std::string>()]},
        {"tools", c["conversation"] == "tool_call" ? expected["tools"] : nlohmann::ordered_json(nullptr)},
        {"documents", nullptr},
        {"add_generation_prompt", c["add_generation_prompt"]}};
    if (!model["bos"].is_null()) vars["bos_token"] = model["bos"];
    if (!model["eos"].is_null()) vars["eos_token"] = model["eos"];
    RenderOptions opt;
    opt.now = expected["now"].get<int64_t>();
    const std::string label = name + " / " + c["conversation"].get<std::string>() +
                              (c["add_generation_prompt"].get<bool>() ? " + generation prompt" : "");
    if (c.contains("error")) {
      try {
        templates.at(name).render(Value::from_json(vars), opt);
        ADD_FAILURE() << label << ": expected the template to raise " << c["error"];
      } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("raise_exception: " + c["error"].get<std::string>())) << label;
      }
      continue;
    }
    std::string got;
    try {
      got = templates.at(name).render(Value::from_json(vars), opt);
    } catch (const Error& e) {
      ADD_FAILURE() << label << ": " << e.what();
      continue;
    }
    std::string want = c["output"].get<std::string>();
    if (name == "qwen3" && c["conversation"] == "whitespace_unicode") {
      // The one known divergence: @huggingface/jinja 0.5.11 ignores the argument of
      // str.lstrip(chars) and strips all white space; Python (transformers) strips only the
      // given characters, so content.lstrip('\n') keeps the leading space of " Bonjour".
      const std::string from = "</think>\n\nBonjour", to = "</think>\n\n Bonjour";
      ASSERT_NE(want.find(from), std::string::npos) << label;
      want.replace(want.find(from), from.size(), to);
    }
    EXPECT_EQ(got, want) << label;
  }
  // Every family the issue names is covered.
  for (const char* name : {"llama3_1", "llama3_2", "qwen2_5", "qwen3", "tulu3", "mistral_nemo", "mixtral_v0_1",
                           "deepseek_r1_distill", "gemma2", "gemma3"}) {
    EXPECT_EQ(seen.count(name), 1u) << name;
  }
}

TEST(JinjaParity, ParsedTemplateRendersConcurrently) {
  Template t(read_file(kFixtures + "qwen3.jinja"), "qwen3.jinja");
  nlohmann::json vars = {{"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"add_generation_prompt", true}};
  const std::string want = t.render(Value::from_json(vars));
  std::vector<std::thread> threads;
  std::vector<std::string> got(8);
  for (size_t i = 0; i < got.size(); ++i) {
    threads.emplace_back([&, i] {
      for (int k = 0; k < 50; ++k) got[i] = t.render(Value::from_json(vars));
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& g : got) EXPECT_EQ(g, want);
  EXPECT_EQ(want, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
}

// ---------------------------------------------------------------------------------------------
// Language features (outputs checked by hand against Python Jinja2 semantics).

TEST(Jinja, WhitespaceControlAndTransformersSettings) {
  // trim_blocks drops the newline after a block tag; lstrip_blocks the indentation before it.
  EXPECT_EQ(render("{% if true %}\n    yes\n{% endif %}\n"), "    yes\n");
  EXPECT_EQ(render("a\n    {% if true %}\nb\n    {% endif %}\nc"), "a\nb\nc");
  // '-' strips all white space (newlines too) on its side; '+' keeps lstrip off.
  EXPECT_EQ(render("a  \n {{- 'b' -}} \n\n c"), "abc");
  EXPECT_EQ(render("x\n  {%+ if true %}y{% endif %}"), "x\n  y");
  // Expression tags are not lstripped or trimmed.
  EXPECT_EQ(render("  {{ 1 }}\nz"), "  1\nz");
  // Comments behave like blocks; a single trailing newline of the source is dropped.
  EXPECT_EQ(render("a{# note #}\nb\n"), "ab");
  EXPECT_EQ(render("a\n  {#- note -#}\n  b"), "ab");
}

TEST(Jinja, ForLoopVariablesFilterElseAndUnpacking) {
  EXPECT_EQ(render("{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}"
                   "{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}",
                   {{"xs", {"a", "b"}}}),
            "1021TrueFalse2;2110FalseTrue2;");
  EXPECT_EQ(render("{% for x in xs if x > 1 %}{{ x }}/{{ loop.length }} {% else %}none{% endfor %}", {{"xs", {1, 2, 3}}}),
            "2/2 3/2 ");
  EXPECT_EQ(render("{% for x in [] %}x{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(render("{% for k, v in d.items() %}{{ k }}={{ v }},{% endfor %}", {{"d", {{"b", 1}, {"a", 2}}}}),
            "a=2,b=1,");  // nlohmann::json sorts keys; Value keeps the order it was given
  EXPECT_EQ(render("{% for x in 'ab' %}{{ x }}{% endfor %}{% for k in {'z': 1, 'y': 2} %}{{ k }}{% endfor %}"), "abzy");
  EXPECT_EQ(render("{% for x in range(5) %}{% if x == 1 %}{% continue %}{% endif %}{% if x == 3 %}{% break %}"
                   "{% endif %}{{ x }}{% endfor %}"),
            "02");
  EXPECT_EQ(render("{% for x in xs %}{{ loop.cycle('o', 'e') }}{{ loop.previtem | default('-') }}{% endfor %}",
                   {{"xs", {1, 2, 3}}}),
            "o-e1o2");
}

TEST(Jinja, RecursiveLoopsAndSortKeys) {
  nlohmann::json tree = {{{"name", "a"}, {"children", {{{"name", "b"}}, {{"name", "c"}, {"children", {{{"name", "d"}}}}}}}}};
  EXPECT_EQ(render("{% for n in tree recursive %}{{ n.name }}{{ loop.depth }}{% if n.children %}({{ loop(n.children) }})"
                   "{% endif %}{% endfor %}",
                   {{"tree", tree}}),
            "a1(b2c2(d3))");
  EXPECT_EQ(render("{{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }}"), "{\"a\": 2, \"b\": 1}");
  EXPECT_EQ(error_of("{% with x = 1 %}{% endwith %}"),
            "test.jinja:1: syntax error: unknown tag 'with', expected one of if, for, set, macro, call, filter, "
            "generation, break, continue (or the end tag of an open block)");
}

TEST(Jinja, SetScopesAndNamespace) {
  // A set inside a loop does not leak out; a namespace attribute does.
  EXPECT_EQ(render("{% set x = 1 %}{% for i in [1, 2] %}{% set x = i %}{% endfor %}{{ x }}"), "1");
  EXPECT_EQ(render("{% set ns = namespace(x=1, y='a') %}{% for i in [5, 6] %}{% set ns.x = ns.x + i %}{% endfor %}"
                   "{{ ns.x }}{{ ns.y }}"),
            "12a");
  EXPECT_EQ(render("{% set a, b = 1, 2 %}{{ b }}{{ a }}"), "21");
  EXPECT_EQ(render("{% set block %}  Hi {{ 1 + 1 }} {% endset %}[{{ block | trim }}]"), "[Hi 2]");
  EXPECT_EQ(render("{% if true %}{% set y = 'in-if' %}{% endif %}{{ y }}"), "in-if");
}

TEST(Jinja, MacrosAndCallBlocks) {
  EXPECT_EQ(render("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}"
                   "{{ greet('Ann') }} {{ greet('Bo', punct='?') }}"),
            "Hi Ann! Hi Bo?");
  EXPECT_EQ(render("{% macro box() %}[{{ caller() }}]{% endmacro %}{% call box() %}inside{% endcall %}"), "[inside]");
  EXPECT_EQ(render("{% filter upper %}abc{% endfilter %}"), "ABC");
  EXPECT_EQ(render("{% generation %}kept{% endgeneration %}"), "kept");
}

TEST(Jinja, Filters) {
  EXPECT_EQ(render("{{ '  a b \n' | trim }}|{{ 'xxaxx' | trim('x') }}"), "a b|a");
  EXPECT_EQ(render("{{ [1, 2, 3] | length }}{{ 'héllo' | length }}{{ {'a': 1} | count }}"), "351");
  EXPECT_EQ(render("{{ 'aBc' | upper }}{{ 'aBc' | lower }}{{ 'hello wORLD-x' | title }}{{ 'hELLO' | capitalize }}"),
            "ABCabcHello World-XHello");
  EXPECT_EQ(render("{{ 'a-b-c' | replace('-', '+') }}{{ [1, 'x', none] | join(',') }}"), "a+b+c1,x,None");
  EXPECT_EQ(render("{{ missing | default('dflt') }}{{ '' | default('e', true) }}{{ 0 | default(5) }}"), "dflte0");
  EXPECT_EQ(render("{{ [3, 4] | first }}{{ [3, 4] | last }}{{ 'xyz' | first }}"), "34x");
  EXPECT_EQ(render("{{ xs | selectattr('role', 'equalto', 'user') | map(attribute='c') | join }}"
                   "{{ xs | rejectattr('role', 'eq', 'user') | list | length }}"
                   "{{ xs | selectattr('extra', 'undefined') | list | length }}",
                   {{"xs", {{{"role", "user"}, {"c", "U1"}}, {{"role", "bot"}, {"c", "B"}}, {{"role", "user"}, {"c", "U2"}, {"extra", 1}}}}}),
            "U1U212");
  EXPECT_EQ(render("{{ ['a', 'b'] | map('upper') | join }}{{ [1, 2, 3] | select('odd') | list }}"
                   "{{ [1, 2, 3] | reject('odd') | list }}"),
            "AB[1, 3][2]");
  EXPECT_EQ(render("{% for k, v in d | items %}{{ k }}{{ v }}{% endfor %}", {{"d", {{"a", 1}}}}), "a1");
  EXPECT_EQ(render("{{ 12 | string + '3' }}{{ '42' | int + 1 }}{{ 'x' | int }}{{ 2.7 | int }}{{ '1.5' | float }}"),
            "12343021.5");
  EXPECT_EQ(render("{{ 'ab' | list }}{{ '<b>' | safe }}{{ '<b>&' | e }}{{ -3 | abs }}{{ 2.567 | round(2) }}"),
            "['a', 'b']<b>&lt;b&gt;&amp;32.57");
  EXPECT_EQ(render("{{ [2, 1, 2] | unique | list }}{{ [1, 2] | reverse | list }}{{ 'abc' | reverse }}"
                   "{{ [3, 1, 2] | sort }}{{ [1, 2, 3] | sum }}{{ [4, 2, 8] | min }}{{ [4, 2, 8] | max }}"),
            "[2, 1][2, 1]cba[1, 2, 3]628");
  EXPECT_EQ(render("{{ 'a\nb' | indent(2) }}|{{ 'a\nb' | indent(2, true) }}"), "a\n  b|  a\n  b");
}

TEST(Jinja, TojsonMatchesPythonJsonDumps) {
  nlohmann::json v = nlohmann::json::parse(R"({"s": "é\"\\\n\t\u0001</s>", "n": null, "b": true, "i": -3,
      "f": 0.1, "g": 1e20, "h": 2.0, "l": [1, [], {}], "o": {"k": [1, 2]}})");
  EXPECT_EQ(render("{{ v | tojson }}", {{"v", v}}),
            R"({"b": true, "f": 0.1, "g": 1e+20, "h": 2.0, "i": -3, "l": [1, [], {}], "n": null, )"
            R"("o": {"k": [1, 2]}, "s": "é\"\\\n\t\u0001</s>"})");
  EXPECT_EQ(render("{{ v | tojson(indent=2) }}", {{"v", {{"a", {1, 2}}, {"b", nlohmann::json::object()}}}}),
            "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {}\n}");
  EXPECT_EQ(render("{{ 'x' | tojson }}{{ none | tojson }}"), "\"x\"null");
}

TEST(Jinja, TestsAndOperators) {
  EXPECT_EQ(render("{{ x is defined }}{{ y is undefined }}{{ none is none }}{{ 's' is string }}{{ {} is mapping }}"
                   "{{ 's' is iterable }}{{ [1] is sequence }}{{ 1.5 is number }}{{ true is true }}{{ 0 is false }}",
                   {{"x", 1}}),
            "TrueTrueTrueTrueTrueTrueTrueTrueTrueFalse");
  EXPECT_EQ(render("{{ 3 is equalto 3 }}{{ 3 is eq(4) }}{{ 'a' is in 'cat' }}{{ 4 is divisibleby 2 }}{{ x is not none }}",
                   {{"x", 1}}),
            "TrueFalseTrueTrueTrue");
  EXPECT_EQ(render("{{ 7 // 2 }}{{ -7 // 2 }}{{ 7 % 3 }}{{ -7 % 3 }}{{ 7 / 2 }}{{ 2 ** 10 }}{{ 1 + 2 * 3 }}{{ 4 / 2 }}"),
            "3-4123.5102472.0");
  EXPECT_EQ(render("{{ 'a' ~ 1 ~ none }}{{ 'ab' * 2 }}{{ [1] + [2] }}{{ -(3) }}"), "a1Noneabab[1, 2]-3");
  EXPECT_EQ(render("{{ 1 < 2 < 3 }}{{ 2 in [1, 2] }}{{ 3 not in [1] }}{{ 'k' in {'k': 1} }}{{ not 0 }}"
                   "{{ 0 or 'x' }}{{ 1 and 'y' }}{{ 'a' if false else 'b' }}{{ 'n' if false }}|"),
            "TrueTrueTrueTrueTruexyb|");
  EXPECT_EQ(render("{{ 1 == 1.0 }}{{ [1, 2] == [1, 2] }}{{ 'a' != 'b' }}{{ 'b' > 'a' }}"), "TrueTrueTrueTrue");
}

TEST(Jinja, IndexingSlicingAndMethods) {
  nlohmann::json xs = {0, 1, 2, 3, 4};
  EXPECT_EQ(render("{{ xs[::-1] }}{{ xs[1:3] }}{{ xs[-2:] }}{{ xs[::2] }}{{ xs[-1] }}{{ xs[9] is undefined }}",
                   {{"xs", xs}}),
            "[4, 3, 2, 1, 0][1, 2][3, 4][0, 2, 4]4True");
  EXPECT_EQ(render("{{ 'héllo'[1] }}{{ 'héllo'[::-1] }}{{ 'héllo'[1:3] }}"), "éolléhél");
  EXPECT_EQ(render("{{ m.content }}{{ m['role'] }}{{ m.get('x', 'dx') }}{{ m.get('x') }}{{ m.keys() | list }}",
                   {{"m", {{"content", "C"}, {"role", "R"}}}}),
            "CRdxNone['content', 'role']");
  EXPECT_EQ(render("{{ 'a</think>b'.split('</think>')[-1] }}{{ ' x '.strip() }}{{ '\nx'.lstrip('\n') }}"
                   "{{ 'x\n'.rstrip() }}{{ 'ab'.startswith('a') }}{{ 'ab'.endswith(('x', 'b')) }}"),
            "bxxxTrueTrue");
  EXPECT_EQ(render("{{ 'a b  c'.split() }}{{ 'a,b,c'.split(',', 1) }}{{ 'aXbX'.replace('X', '-') }}{{ 'ab'.upper() }}"
                   "{{ 'Hello World'.lower() }}{{ 'hello world'.title() }}{{ '{} and {name}'.format(1, name='n') }}"),
            "['a', 'b', 'c']['a', 'b,c']a-b-ABhello worldHello World1 and n");
  EXPECT_EQ(render("{{ {'a': 1, 'b': [1, 'x']} }}{{ none }}{{ true }}{{ 1.0 }}{{ 1e16 }}{{ 0.0001 }}{{ 1e-05 }}"),
            "{'a': 1, 'b': [1, 'x']}NoneTrue1.01e+160.00011e-05");
}

TEST(Jinja, StringLiteralsAndRaw) {
  EXPECT_EQ(render(R"({{ 'a\nb\t\'c\'' }}{{ "d\"e" }}{{ '\u00e9\x41' }}{{ 'x' 'y' }})"), "a\nb\t'c'd\"eéAxy");
}

TEST(Jinja, StrftimeNowUsesTheGivenClock) {
  EXPECT_EQ(render("{{ strftime_now('%Y-%m-%d') }}"), "2025-03-05");
  Template t("{{ strftime_now is defined }}", "t");
  RenderOptions opt;
  opt.define_strftime_now = false;
  EXPECT_EQ(t.render(Value::dict(), opt), "False");
}

// ---------------------------------------------------------------------------------------------
// Errors: rlvr::Error naming the source, the line and what was expected; never a crash.

TEST(JinjaErrors, SyntaxErrorsNameSourceLineAndExpectation) {
  EXPECT_EQ(error_of("line1\n{% if x %}\nno end"),
            "test.jinja:3: syntax error: unexpected end of template, expected 'endif' to close the 'if' on line 2");
  EXPECT_EQ(error_of("{{ 1 + }}"), "test.jinja:1: syntax error: unexpected '}}', expected an expression");
  EXPECT_EQ(error_of("a\n\n{% frobnicate %}"),
            "test.jinja:3: syntax error: unknown tag 'frobnicate', expected one of if, for, set, macro, call, filter, "
            "generation, break, continue (or the end tag of an open block)");
  EXPECT_EQ(error_of("{{ x "), "test.jinja:1: syntax error: '{{' is not closed, expected '}}'");
  EXPECT_EQ(error_of("{% for x in y %}{% endif %}"),
            "test.jinja:1: syntax error: unknown tag 'endif', expected one of if, for, set, macro, call, filter, "
            "generation, break, continue (or the end tag of an open block)");
  EXPECT_EQ(error_of("{{ 'abc }}"), "test.jinja:1: syntax error: string literal starting with ' is not closed");
  // A backslash as the template's last byte, inside a string: the lexer looped forever (found
  // by fuzz_jinja_template, tests/fuzz_regressions/jinja_template/timeout_trailing_backslash_in_string).
  EXPECT_EQ(error_of("{{ 'abc\\"), "test.jinja:1: syntax error: string literal starting with ' is not closed");
  EXPECT_EQ(error_of("x\n{{ \"\\"), "test.jinja:2: syntax error: string literal starting with \" is not closed");
  EXPECT_EQ(error_of("{# open"), "test.jinja:1: syntax error: comment '{#' is not closed, expected '#}'");
  EXPECT_EQ(error_of("{% break %}"), "test.jinja:1: syntax error: 'break' outside of a for loop");
  EXPECT_EQ(error_of("{{ a[1 }}"), "test.jinja:1: syntax error: unexpected '}', expected ']'");
  EXPECT_EQ(error_of("{{ x ) }}"), "test.jinja:1: syntax error: unbalanced ')'");
}

TEST(JinjaErrors, HugeOrDeeplyNestedInputIsRefusedNotACrash) {
  EXPECT_EQ(error_of("{{ " + std::string(100000, '(') + "1" + std::string(100000, ')') + " }}"),
            "test.jinja:1: syntax error: expression nested deeper than 200 levels");
  EXPECT_EQ(error_of("{{ " + std::string(100000, '[') + std::string(100000, ']') + " }}"),
            "test.jinja:1: syntax error: expression nested deeper than 200 levels");
  std::string chain = "{{ 1";
  for (int i = 0; i < 100000; ++i) chain += " + 1";
  EXPECT_EQ(error_of(chain + " }}"), "test.jinja:1: syntax error: expression too large (more than 1000 parts in one tag)");
  std::string attrs = "{{ x";
  for (int i = 0; i < 100000; ++i) attrs += ".a";
  EXPECT_EQ(error_of(attrs + " }}"), "test.jinja:1: syntax error: expression too large (more than 1000 parts in one tag)");
  std::string nots = "{{ ";
  for (int i = 0; i < 100000; ++i) nots += "not ";
  EXPECT_EQ(error_of(nots + "x }}"), "test.jinja:1: syntax error: expression nested deeper than 200 levels");
  std::string negs = "{{ ";
  for (int i = 0; i < 100000; ++i) negs += "- ";
  EXPECT_EQ(error_of(negs + "1 }}"), "test.jinja:1: syntax error: expression nested deeper than 200 levels");
  std::string ifs;
  for (int i = 0; i < 100000; ++i) ifs += "{% if true %}";
  EXPECT_EQ(error_of(ifs), "test.jinja:1: syntax error: blocks nested deeper than 100 levels");
  // A long but flat template is fine: the limits are per tag and per nesting level.
  std::string flat;
  for (int i = 0; i < 5000; ++i) flat += "{{ 1 + 1 }}";
  EXPECT_EQ(render(flat).size(), 5000u);
  nlohmann::json deep = 1;
  for (int i = 0; i < 600; ++i) deep = nlohmann::json::array({deep});
  try {
    Value::from_json(deep);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "jinja value: JSON nested deeper than 512 levels");
  }
}

TEST(JinjaErrors, RenderErrorsNameTheLine) {
  EXPECT_EQ(error_of("ok\n{{ raise_exception('roles must alternate') }}"),
            "test.jinja:2: raise_exception: roles must alternate");
  EXPECT_EQ(error_of("\n\n{{ messages[0]['role'] }}", {{"messages", nlohmann::json::array()}}),
            "test.jinja:3: 'messages[0]' is undefined");
  EXPECT_EQ(error_of("{{ 'a' + 1 }}"), "test.jinja:1: unsupported operand types for +: string and int");
  EXPECT_EQ(error_of("{{ x + 1 }}"), "test.jinja:1: 'x' is undefined");
  EXPECT_EQ(error_of("{{ 1 // 0 }}"), "test.jinja:1: integer division by zero");
  EXPECT_EQ(error_of("{{ x | frob }}", {{"x", 1}}), "test.jinja:1: unknown filter 'frob'");
  EXPECT_EQ(error_of("{{ x is frob }}", {{"x", 1}}), "test.jinja:1: unknown test 'frob'");
  EXPECT_EQ(error_of("{% set x = 1 %}{% set x.y = 2 %}"),
            "test.jinja:1: cannot assign attribute 'y' on 'x' (int): only a namespace() object takes attribute "
            "assignments");
  EXPECT_EQ(error_of("{{ xs.append(1) }}", {{"xs", {1}}}),
            "test.jinja:1: list.append() is not allowed: templates cannot modify a list (transformers' sandbox refuses "
            "it too)");
  EXPECT_EQ(error_of("{{ 5() }}"), "test.jinja:1: '5' (int) is not callable");
  EXPECT_EQ(error_of("{{ undefined_fn() }}"), "test.jinja:1: 'undefined_fn' is undefined");
  EXPECT_EQ(error_of("{{ {'a': x} | tojson }}", nlohmann::json::object()),
            "test.jinja:1: tojson: 'x' is undefined (not JSON serializable)");
  Template t("x", "t.jinja");
  try {
    t.render(Value::list());
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "t.jinja: render context must be a dict of variables, not list");
  }
}

// ---------------------------------------------------------------------------------------------
// The render budget (RenderOptions::max_*): a chat template is outside input, so none may run
// forever, exhaust memory or overflow the stack.

// The message of the rlvr::Error rendering `source` with `opt` throws; "" if none.
std::string budget_error(const std::string& source, const RenderOptions& opt,
                         const nlohmann::json& vars = nlohmann::json::object()) {
  try {
    Template(source, "tokenizer_config.json:chat_template").render(Value::from_json(vars), opt);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(JinjaLimits, LoopIterationsAreCountedAcrossAllLoops) {
  RenderOptions opt;
  opt.max_loop_iterations = 1000;
  // Nested loops: 10 + 10 x 99 iterations fit, 10 + 10 x 100 do not.
  EXPECT_EQ(budget_error("{% for i in range(10) %}{% for j in range(99) %}{% endfor %}{% endfor %}", opt), "");
  EXPECT_EQ(budget_error("line 1\n{% for i in range(10) %}{% for j in range(100) %}{% endfor %}{% endfor %}", opt),
            "tokenizer_config.json:chat_template:2: render stopped after 1001 loop iterations (limit: "
            "max_loop_iterations = 1000)");
  // `for x in y if cond` counts each candidate.
  EXPECT_EQ(budget_error("{% for i in range(5000) if i > 4990 %}{{ i }}{% endfor %}", opt),
            "tokenizer_config.json:chat_template:1: render stopped after 1001 loop iterations (limit: "
            "max_loop_iterations = 1000)");
  EXPECT_EQ(RenderOptions().max_loop_iterations, 200000);
  // range() itself refuses a billion items before any loop runs.
  EXPECT_EQ(error_of("{% for i in range(10**9) %}{% endfor %}"), "test.jinja:1: range() is limited to 1000000 items");
}

TEST(JinjaLimits, StepsBoundWorkThatLoopsDoNotCount) {
  RenderOptions opt;
  opt.max_steps = 1000;
  // A recursive macro that fans out (2**30 calls) without deep nesting or any loop.
  const std::string fan =
      "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(30) }}";
  EXPECT_EQ(budget_error(fan, opt),
            "tokenizer_config.json:chat_template:1: render stopped after 1001 steps (limit: max_steps = 1000)");
  // Built lists are charged per item before they exist.
  EXPECT_EQ(budget_error("{{ ([1] * 5000) | length }}", opt),
            "tokenizer_config.json:chat_template:1: render stopped after 5007 steps (limit: max_steps = 1000)");
  EXPECT_EQ(budget_error("{{ [1, 2] | length }}", opt), "");
  EXPECT_EQ(RenderOptions().max_steps, 10000000);
}

TEST(JinjaLimits, OutputAndStringsAreBounded) {
  RenderOptions opt;
  opt.max_output_bytes = 500;
  EXPECT_EQ(budget_error("{% for i in range(50) %}0123456789{% endfor %}", opt), "");
  EXPECT_EQ(budget_error("{% for i in range(51) %}0123456789{% endfor %}", opt),
            "tokenizer_config.json:chat_template:1: render stopped: output of 510 bytes (limit: max_output_bytes = 500)");
  // Captured output (set blocks, macro bodies) is bounded as well.
  EXPECT_EQ(budget_error("{% set x %}{% for i in range(51) %}0123456789{% endfor %}{% endset %}", opt),
            "tokenizer_config.json:chat_template:1: render stopped: output of 510 bytes (limit: max_output_bytes = 500)");
  // A string value is refused before it is built.
  EXPECT_EQ(error_of("{{ 'x' * 90000000 }}"),
            "test.jinja:1: render stopped: a string of 90000000 bytes (limit: max_output_bytes = 33554432)");
  EXPECT_EQ(error_of("{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}"),
            "test.jinja:1: render stopped: a string of 67108864 bytes (limit: max_output_bytes = 33554432)");
  EXPECT_EQ(budget_error("{{ 'ab'.replace('', 'xxxxxxxxxx' * 40) }}", opt),
            "tokenizer_config.json:chat_template:1: render stopped: a string of more than 500 bytes (limit: "
            "max_output_bytes = 500)");
  EXPECT_EQ(budget_error("{{ 'x' | center(1000) }}", opt),
            "tokenizer_config.json:chat_template:1: render stopped: a string of 1000 bytes (limit: max_output_bytes = 500)");
  EXPECT_EQ(budget_error("{{ 'a\\nb' | indent(100000) }}", opt),
            "tokenizer_config.json:chat_template:1: render stopped: a string of 100000 bytes (limit: max_output_bytes = "
            "500)");
  // A list shared inside itself grows exponentially while it is built cheaply; printing or
  // comparing it is refused after walking max_output_bytes items.
  EXPECT_EQ(budget_error("{% set ns = namespace(a=[1]) %}{% for i in range(60) %}{% set ns.a = [ns.a, ns.a] %}"
                         "{% endfor %}{{ ns.a }}",
                         opt),
            "tokenizer_config.json:chat_template:1: render stopped: a list too large to print or compare (more than "
            "500 items and string bytes; limit: max_output_bytes = 500)");
  EXPECT_EQ(RenderOptions().max_output_bytes, 32 << 20);
}

TEST(JinjaLimits, RecursionIsBoundedByCallAndNestingDepth) {
  EXPECT_EQ(error_of("{% macro r(n) %}{{ r(n) }}{% endmacro %}{{ r(1) }}"),
            "test.jinja:1: render stopped at call depth 201: macros or recursive loops nested too deep (limit: "
            "max_call_depth = 200)");
  EXPECT_EQ(error_of("{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}"),
            "test.jinja:1: render stopped at call depth 201: macros or recursive loops nested too deep (limit: "
            "max_call_depth = 200)");
  RenderOptions opt;
  opt.max_call_depth = 100000;
  opt.max_depth = 400;  // (at 3000 an ASan build's frames pass max_stack_bytes first)
  EXPECT_EQ(budget_error("{% macro r(n) %}{{ r(n) }}{% endmacro %}{{ r(1) }}", opt),
            "tokenizer_config.json:chat_template:1: render stopped at nesting depth 401 (limit: max_depth = 400)");
  // The stack guard: how deep 64 KiB reaches depends on the build's frame sizes.
  opt.max_depth = 100000;
  opt.max_stack_bytes = 64 << 10;
  EXPECT_THAT(budget_error("{% macro r(n) %}{{ r(n) }}{% endmacro %}{{ r(1) }}", opt),
              ::testing::MatchesRegex("tokenizer_config\\.json:chat_template:1: render stopped at nesting depth [0-9]+: "
                                      "more than 65536 bytes of stack \\(limit: max_stack_bytes = 65536\\)"));
  opt.max_stack_bytes = RenderOptions().max_stack_bytes;
  // A deep but legal expression is within max_depth and the stack budget in every build (an
  // ASan build's filter frames take ~5 KB per level: a 900-filter chain stops there with the
  // stack message; a Release build renders it).
  std::string chain = "{{ 'x'";
  for (int i = 0; i < 300; ++i) chain += " | trim";
  EXPECT_EQ(render(chain + " }}"), "x");
  opt.max_depth = 50;
  EXPECT_EQ(budget_error(chain + " }}", opt),
            "tokenizer_config.json:chat_template:1: render stopped at nesting depth 51 (limit: max_depth = 50)");
}

TEST(JinjaLimits, ValuesCannotNestWithoutBoundOrFormCycles) {
  EXPECT_EQ(error_of("{% set ns = namespace(l=[]) %}{% for i in range(2000) %}{% set ns.l = [ns.l] %}{% endfor %}"),
            "test.jinja:1: render stopped: a list nested 1001 levels deep (limit 1000)");
  EXPECT_EQ(error_of("{% set ns = namespace() %}{% set ns.me = ns %}"),
            "test.jinja:1: cannot assign a namespace (or a list or dict holding one) to 'ns.me'");
  EXPECT_EQ(error_of("{% set a = namespace() %}{% set b = namespace() %}{% set a.x = {'k': [b]} %}"),
            "test.jinja:1: cannot assign a namespace (or a list or dict holding one) to 'a.x'");
}

TEST(JinjaLimits, IntegerOverflowIsAnErrorNotUndefinedBehaviour) {
  EXPECT_EQ(render("{{ 10 ** 9 }} {{ 2 ** 62 }} {{ (-2) ** 63 }} {{ 7 ** 0 }}"),
            "1000000000 4611686018427387904 -9223372036854775808 1");
  const std::string msg = " (results beyond 64 bits are not supported)";
  EXPECT_EQ(error_of("{{ 2 ** 63 }}"), "test.jinja:1: integer overflow in **" + msg);
  EXPECT_EQ(error_of("{{ 3 ** 100000000000 }}"), "test.jinja:1: integer overflow in **" + msg);
  EXPECT_EQ(error_of("{{ 9223372036854775807 + 1 }}"), "test.jinja:1: integer overflow in +" + msg);
  EXPECT_EQ(error_of("{{ -9223372036854775807 - 2 }}"), "test.jinja:1: integer overflow in -" + msg);
  EXPECT_EQ(error_of("{{ 4294967296 * 4294967296 }}"), "test.jinja:1: integer overflow in *" + msg);
  EXPECT_EQ(error_of("{{ (-9223372036854775807 - 1) // -1 }}"), "test.jinja:1: integer overflow in //" + msg);
  EXPECT_EQ(error_of("{{ -(-9223372036854775807 - 1) }}"), "test.jinja:1: integer overflow in unary -" + msg);
  EXPECT_EQ(error_of("{{ (-9223372036854775807 - 1) | abs }}"), "test.jinja:1: integer overflow in abs" + msg);
  EXPECT_EQ(render("{{ (-9223372036854775807 - 1) % -1 }} {{ -7 % -1 }}"), "0 0");
  EXPECT_EQ(error_of("{{ 1e300 | int }}"),
            "test.jinja:1: cannot convert 1e+300 to an integer (NaN, infinite or beyond 64 bits)");
  EXPECT_EQ(render("{{ [1, 2, 3][::4611686018427387904] }} {{ [1, 2, 3][::-4611686018427387904] }}"), "[1] [3]");
}

TEST(JinjaLimits, ParserRefusesDeepNestingOfEveryBlockKind) {
  for (const std::string open : {"{% for x in y %}", "{% set x %}", "{% macro m() %}", "{% filter upper %}",
                                 "{% if true %}{% else %}"}) {
    std::string src;
    for (int i = 0; i < 100000; ++i) src += open;
    EXPECT_EQ(error_of(src), "test.jinja:1: syntax error: blocks nested deeper than 100 levels") << open;
  }
}

TEST(JinjaLimits, RealTemplatesRenderWithAHundredthOfTheDefaultBudget) {
  // Every committed real template renders every test conversation with 1/100 of each default
  // budget (the depths: 1/10), and gives the same text as with the defaults: the defaults leave
  // a wide margin.
  nlohmann::ordered_json expected = nlohmann::ordered_json::parse(read_file(kFixtures + "expected.json"));
  RenderOptions defaults;
  defaults.now = expected["now"].get<int64_t>();
  RenderOptions tight = defaults;
  tight.max_steps = defaults.max_steps / 100;
  tight.max_loop_iterations = defaults.max_loop_iterations / 100;
  tight.max_output_bytes = defaults.max_output_bytes / 100;
  tight.max_depth = defaults.max_depth / 10;
  tight.max_call_depth = defaults.max_call_depth / 10;
  int rendered = 0;
  for (const auto& c : expected["cases"]) {
    if (c.contains("error")) continue;
    const std::string name = c["template"];
    const nlohmann::ordered_json& model = expected["models"][name];
    nlohmann::ordered_json vars = {
        {"messages", expected["conversations"][c["conversation"].get<std::string>()]},
        {"tools", c["conversation"] == "tool_call" ? expected["tools"] : nlohmann::ordered_json(nullptr)},
        {"documents", nullptr},
        {"add_generation_prompt", c["add_generation_prompt"]}};
    if (!model["bos"].is_null()) vars["bos_token"] = model["bos"];
    if (!model["eos"].is_null()) vars["eos_token"] = model["eos"];
    Template t(read_file(kFixtures + name + ".jinja"), name + ".jinja");
    EXPECT_EQ(t.render(Value::from_json(vars), tight), t.render(Value::from_json(vars), defaults)) << name;
    ++rendered;
  }
  EXPECT_GE(rendered, 90);
}

// ---------------------------------------------------------------------------------------------
// Jinja chat templates with the assistant mask (core/tokenizer/chat_template.h), on the committed
// tiny tokenizer (which has <|im_start|>, <|im_end|>, <|user|>, <|assistant|>, <|endoftext|>).

const Tokenizer& tiny() {
  static const Tokenizer tok = Tokenizer::from_file(testing::tokenizer_fixture("tiny_tokenizer.json"));
  return tok;
}

Template fixture_template(const std::string& name) { return Template(read_file(kFixtures + name + ".jinja"), name + ".jinja"); }

const std::vector<ChatMessage> kChat = {
    {"system", "Be brief."},
    {"user", "What is 2+2?"},
    {"assistant", "4"},
    {"user", "And 3+3?"},
    {"assistant", "The answer is 6."},
};

// The text of each run of masked tokens.
std::vector<std::string> masked_text(const ChatEncoding& enc) {
  std::vector<std::string> spans;
  for (size_t i = 0; i < enc.ids.size(); ++i) {
    if (!enc.assistant_mask[i]) continue;
    if (i == 0 || !enc.assistant_mask[i - 1]) spans.emplace_back();
    spans.back() += tiny().decode({enc.ids[i]});
  }
  return spans;
}

TEST(JinjaChatTemplate, Tulu3TemplateGivesTheNamedTuluIdsAndMaskExactly) {
  Template tulu3 = fixture_template("tulu3");
  for (bool gen : {false, true}) {
    std::vector<ChatMessage> msgs = kChat;
    if (gen) msgs.push_back({"user", "And 4+4?"});
    JinjaChatOptions jo;
    jo.eos_token = "<|endoftext|>";
    jo.add_generation_prompt = gen;
    ChatEncoding got = apply_jinja_chat_template(tiny(), tulu3, msgs, jo);
    ChatTemplateOptions no;
    no.eos_token = "<|endoftext|>";
    no.add_generation_prompt = gen;
    ChatEncoding want = apply_chat_template(tiny(), "tulu", msgs, no);
    EXPECT_EQ(got.text, want.text);
    EXPECT_EQ(got.ids, want.ids);
    EXPECT_EQ(got.assistant_mask, want.assistant_mask);
    EXPECT_EQ(got.end_of_turn_id, want.end_of_turn_id);
    EXPECT_EQ(masked_text(got), (std::vector<std::string>{"4<|endoftext|>", "The answer is 6.<|endoftext|>"}));
  }
}

TEST(JinjaChatTemplate, Qwen25TemplateGivesTheNamedChatmlIdsAndMaskExactly) {
  Template qwen = fixture_template("qwen2_5");
  JinjaChatOptions jo;
  jo.eos_token = "<|im_end|>";
  ChatEncoding got = apply_jinja_chat_template(tiny(), qwen, kChat, jo);
  ChatEncoding want = apply_chat_template(tiny(), "chatml", kChat);
  EXPECT_EQ(got.text, want.text);
  EXPECT_EQ(got.ids, want.ids);
  EXPECT_EQ(got.assistant_mask, want.assistant_mask);
  EXPECT_EQ(got.end_of_turn_id, want.end_of_turn_id);
  EXPECT_EQ(masked_text(got), (std::vector<std::string>{"4<|im_end|>", "The answer is 6.<|im_end|>"}));
}

TEST(JinjaChatTemplate, Qwen3MaskFollowsTheTemplateRewritingThinking) {
  // Qwen3 drops <think> from assistant turns before the last user turn and keeps it in the
  // final one: the spans are what the template actually printed for each turn.
  Template qwen3 = fixture_template("qwen3");
  std::vector<ChatMessage> msgs = {{"user", "Is 91 prime?"},
                                   {"assistant", "<think>\n91 = 7 * 13.\n</think>\n\nNo."},
                                   {"user", "And 97?"},
                                   {"assistant", "<think>\nno divisor\n</think>\n\nYes."}};
  JinjaChatOptions jo;
  jo.eos_token = "<|im_end|>";
  std::string text = render_jinja_chat_template(qwen3, msgs, jo);
  EXPECT_EQ(text,
            "<|im_start|>user\nIs 91 prime?<|im_end|>\n<|im_start|>assistant\nNo.<|im_end|>\n"
            "<|im_start|>user\nAnd 97?<|im_end|>\n<|im_start|>assistant\n<think>\nno divisor\n</think>\n\nYes."
            "<|im_end|>\n");
  std::vector<std::string> spans;
  for (const auto& [b, e] : jinja_assistant_spans(qwen3, msgs, jo)) spans.push_back(text.substr(b, e - b));
  EXPECT_EQ(spans, (std::vector<std::string>{"No.<|im_end|>", "<think>\nno divisor\n</think>\n\nYes.<|im_end|>"}));
  ChatEncoding enc = apply_jinja_chat_template(tiny(), qwen3, msgs, jo);
  EXPECT_EQ(enc.ids, tiny().encode(text));
  EXPECT_EQ(masked_text(enc), spans);
}

TEST(JinjaChatTemplate, RendersWithTheModelsTokensAndClock) {
  JinjaChatOptions jo;
  jo.bos_token = "<|begin_of_text|>";
  jo.eos_token = "<|eot_id|>";
  jo.add_generation_prompt = true;
  jo.now = 1741176000;
  EXPECT_EQ(render_jinja_chat_template(fixture_template("llama3_2"), {{"user", "Hi"}}, jo),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
            "Today Date: 05 Mar 2025\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(render_jinja_chat_template("{{ bos_token }}{% for m in messages %}{{ m.role }}:{{ m.content }}{{ eos_token }}"
                                       "{% endfor %}{% if add_generation_prompt %}>{% endif %}",
                                       {{"user", "a"}}, true, "<s>", "</s>"),
            "<s>user:a</s>>");
}

TEST(JinjaChatTemplate, SpanStartFromTheContentWhereEarlierTurnsRenderDifferently) {
  // As Mistral Nemo's template prints the system message in the LAST user turn, this one prints
  // the message count first: the turns before the assistant message, rendered with the
  // generation prompt ("1q>"), are no prefix of the whole ("2qa"), but the text before the
  // content marker ("2q") is, so the span starts there and ends after the EOS.
  std::vector<ChatMessage> msgs = {{"user", "q"}, {"assistant", "a"}};
  JinjaChatOptions jo;
  jo.eos_token = "</s>";
  Template counting("{{ messages | length }}{% for m in messages %}{{ m.content }}"
                    "{% if m.role == 'assistant' %}{{ eos_token }}{% endif %}{% endfor %}"
                    "{% if add_generation_prompt %}>{% endif %}",
                    "counting.jinja");
  EXPECT_EQ(render_jinja_chat_template(counting, msgs, jo), "2qa</s>");
  const auto spans = jinja_assistant_spans(counting, msgs, jo);
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0], std::make_pair(size_t{2}, size_t{7}));
}

TEST(JinjaChatTemplate, ErrorsInsteadOfAWrongMask) {
  std::vector<ChatMessage> msgs = {{"user", "q"}, {"assistant", "a"}};
  JinjaChatOptions jo;
  jo.eos_token = "<|endoftext|>";
  // Each content's length printed before it: neither the prompt rendering nor the text before
  // the content marker (whose length differs) is a prefix of the whole.
  Template counting("{% for m in messages %}{{ m.content | length }}{{ m.content }}{% endfor %}"
                    "{% if add_generation_prompt %}>{% endif %}",
                    "counting.jinja");
  try {
    apply_jinja_chat_template(tiny(), counting, msgs, jo);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("counting.jinja: cannot find the assistant span of messages[1]: neither the "
                                    "conversation rendered up to it with the generation prompt nor the text before "
                                    "its content is a prefix of the whole rendering"));
  }
  Template twice("{% for m in messages %}{{ m.content }}{{ m.content }}{% endfor %}", "twice.jinja");
  try {
    jinja_assistant_spans(twice, msgs, jo);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "twice.jinja: cannot find the assistant span of messages[1]: the template prints its "
                           "content more than once");
  }
  // The template's own refusal comes through with its message.
  try {
    render_jinja_chat_template(fixture_template("gemma2"), {{"system", "s"}, {"user", "u"}}, jo);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "gemma2.jinja:1: raise_exception: System role not supported");
  }
}

// A fresh directory under the build tree for checkpoint files.
std::string fresh_dir(const std::string& name) {
  std::string dir = std::string(RLVR_TEST_CACHE_DIR) + "/jinja_test/" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

void write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

TEST(JinjaChatTemplate, ReadsTheCheckpointsOwnTemplate) {
  std::string dir = fresh_dir("string");
  EXPECT_FALSE(read_checkpoint_chat_template(dir).has_value());
  write(dir + "/tokenizer_config.json",
        R"({"bos_token": {"content": "<|begin_of_text|>", "lstrip": false}, "eos_token": "<|eot_id|>",
            "chat_template": "{{ bos_token }}{% for m in messages %}{{ m.content }}{{ eos_token }}{% endfor %}"})");
  auto t = read_checkpoint_chat_template(dir);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->source, dir + "/tokenizer_config.json:chat_template");
  EXPECT_EQ(t->bos_token, "<|begin_of_text|>");
  EXPECT_EQ(t->eos_token, "<|eot_id|>");
  EXPECT_EQ(render_jinja_chat_template(t->text, {{"user", "hi"}}, false, t->bos_token, t->eos_token),
            "<|begin_of_text|>hi<|eot_id|>");
  // chat_template.jinja wins over tokenizer_config.json, as in transformers.
  write(dir + "/chat_template.jinja", "J{{ messages | length }}");
  t = read_checkpoint_chat_template(dir);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->source, dir + "/chat_template.jinja");
  EXPECT_EQ(t->text, "J{{ messages | length }}");
  EXPECT_EQ(t->eos_token, "<|eot_id|>");

  dir = fresh_dir("list");
  write(dir + "/tokenizer_config.json",
        R"({"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]})");
  t = read_checkpoint_chat_template(dir);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->text, "D");
  EXPECT_EQ(t->source, dir + "/tokenizer_config.json:chat_template[1]");
  EXPECT_EQ(t->bos_token, "");
}

TEST(JinjaChatTemplate, BadTokenizerConfigIsAClearError) {
  auto error = [](const std::string& config) -> std::string {
    std::string dir = fresh_dir("bad");
    write(dir + "/tokenizer_config.json", config);
    try {
      read_checkpoint_chat_template(dir);
    } catch (const Error& e) {
      std::string msg = e.what();
      return msg.substr(0, dir.size()) == dir ? msg.substr(dir.size()) : msg;
    }
    return "";
  };
  EXPECT_THAT(error("{"), HasSubstr("/tokenizer_config.json: not valid JSON: "));
  EXPECT_EQ(error(R"({"chat_template": 3})"),
            "/tokenizer_config.json: chat_template must be a string or a list of {name, template}");
  EXPECT_EQ(error(R"({"chat_template": [{"name": "x", "template": "T"}]})"),
            "/tokenizer_config.json: chat_template is a list without a template named \"default\"");
  EXPECT_EQ(error(R"({"chat_template": [{"name": "default"}]})"),
            "/tokenizer_config.json: chat_template[0] must be an object with string \"name\" and \"template\"");
  EXPECT_EQ(error(R"({"eos_token": 5, "chat_template": "x"})"),
            "/tokenizer_config.json: eos_token must be a string or an object with a string \"content\"");
}

}  // namespace
}  // namespace rlvr::core::jinja
