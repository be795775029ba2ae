// A Jinja2 interpreter for Hugging Face chat templates.
//
// Covers the language real chat templates use (see docs/TOKENIZER.md, "Jinja chat templates"):
// `{{ }}`, `{% %}`, `{# #}`, whitespace control (`-`, `+`) with the settings transformers uses
// (trim_blocks = true, lstrip_blocks = true, keep_trailing_newline = false); if/elif/else,
// for (loop.*, `for x in y if cond`, else, tuple unpacking, break/continue), set (plain, tuple,
// namespace attribute, block set), macro and call blocks, filter blocks, generation blocks
// (transformers' AssistantTracker tag, rendered as their body); the usual filters, tests,
// operators, slicing, Python string/dict methods, and the globals transformers defines
// (raise_exception, strftime_now, namespace, range).
//
// Semantics follow Python Jinja2 as transformers configures it (ImmutableSandboxedEnvironment):
// values print as Python's str() does ("None", "True", "1.0", "['a', 1]"), `tojson` is
// transformers' json.dumps(ensure_ascii=False) version, an undefined value prints as "" and is
// an error once used (attribute, arithmetic, call).
//
// Errors: a template that does not parse throws rlvr::Error at parse time naming the source,
// line and what was expected; a failure while rendering (type errors, raise_exception(msg),
// use of an undefined value) throws rlvr::Error naming the source and line of the failing node.
// Nothing aborts. Parsing caps nesting and tag size; rendering runs under a budget
// (RenderOptions: steps, loop iterations, output bytes, nesting and call depth), so no template
// can hang, exhaust memory or overflow the stack.
#pragma once

#include <cstdint>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace rlvr::core::jinja {

class Value;

// An insertion-ordered map from string keys to values (Python dict order).
class Dict {
 public:
  // Inserts or replaces; a replaced key keeps its position.
  void set(const std::string& key, Value value);
  // nullptr when absent. The pointer is valid until the next set().
  const Value* find(const std::string& key) const;
  size_t size() const { return entries_.size(); }
  const std::vector<std::pair<std::string, Value>>& entries() const { return entries_; }

 private:
  std::vector<std::pair<std::string, Value>> entries_;
  std::map<std::string, size_t> index_;
};

// Arguments of a call: positional then keyword, as written.
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

// A callable value (a global function or a macro). Receives the arguments; throws
// rlvr::Error for bad arguments (the interpreter adds the template line).
using Function = std::function<Value(const CallArgs&)>;

// A Jinja value. Lists and dicts are shared by reference as in Python (copying a Value copies
// the reference); the interpreter never mutates a list or dict it did not create, and a
// namespace() object is the only thing a template can change after creating it. A Value is
// safe to read from several threads while nobody mutates it.
class Value {
 public:
  enum class Kind { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kFunction };
  using List = std::vector<Value>;

  Value() = default;  // undefined
  static Value undefined(std::string name = {});
  static Value none();
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value number(double d);
  static Value string(std::string s);
  static Value list(List items = {});
  static Value dict(Dict d = {});
  static Value function(Function f, std::string name);
  // A namespace() object: a dict whose attributes `set ns.x = ...` may assign.
  static Value namespace_object(Dict d = {});
  // JSON to Value: null -> none, objects -> dict (key order kept), arrays -> list.
  static Value from_json(const nlohmann::json& j);
  // The same from an ordered_json: dict keys keep the document's order (as Python's json.load),
  // which matters for tojson output.
  static Value from_json(const nlohmann::ordered_json& j);
  // Value to JSON: undefined -> error; functions -> error (rlvr::Error).
  nlohmann::json to_json() const;

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_number() const { return kind_ == Kind::kInt || kind_ == Kind::kFloat; }
  bool is_list() const { return kind_ == Kind::kList; }
  bool is_dict() const { return kind_ == Kind::kDict; }
  bool is_function() const { return kind_ == Kind::kFunction; }
  bool is_namespace() const { return kind_ == Kind::kDict && namespace_; }

  bool as_bool() const { return b_; }
  int64_t as_int() const { return i_; }
  double as_float() const { return kind_ == Kind::kInt ? static_cast<double>(i_) : d_; }
  // For strings the text; for undefined the variable name it came from (for messages).
  const std::string& as_string() const { return s_; }
  const List& as_list() const { return *list_; }
  const Dict& as_dict() const { return *dict_; }
  Dict& mutable_dict() const { return *dict_; }
  const Function& as_function() const { return *fn_; }

  // Python truthiness (undefined, none, false, 0, "", [], {} are false).
  bool truthy() const;
  // Python str() of the value as Jinja prints it ("" for undefined, "None" for none).
  std::string str() const;
  // Python repr() (strings quoted with '...'), used inside printed lists/dicts.
  std::string repr() const;
  // Jinja equality: numbers by value (1 == 1.0), lists/dicts element-wise.
  bool equals(const Value& other) const;
  // Kind name for error messages ("string", "list", "undefined" ...).
  std::string type_name() const;
  // Nesting of a list or dict as it was when created: 1 + the deepest item (0 for others). A
  // namespace's later attribute assignments are not counted (the renderer bounds them).
  int nesting() const { return nesting_; }
  // Whether this is, or (when created) held, a namespace() object: the renderer refuses to
  // store such a value in a namespace attribute, so no reference cycle can form.
  bool holds_namespace() const { return holds_namespace_; }

 private:
  Kind kind_ = Kind::kUndefined;
  bool b_ = false;
  bool namespace_ = false;
  bool holds_namespace_ = false;
  int nesting_ = 0;
  int64_t i_ = 0;
  double d_ = 0;
  std::string s_;
  std::shared_ptr<List> list_;
  std::shared_ptr<Dict> dict_;
  std::shared_ptr<Function> fn_;
};

// Options of Template construction. Plain struct; the defaults are transformers' settings.
struct TemplateOptions {
  bool trim_blocks = true;             // drop the first newline after a block or comment tag
  bool lstrip_blocks = true;           // strip spaces/tabs before a block or comment tag on its line
  bool keep_trailing_newline = false;  // keep a single trailing newline of the source
};

// Default maximum nesting of macro calls and recursive loops while rendering
// (RenderOptions::max_call_depth).
inline constexpr int kMaxDepth = 200;

// Options of one render() call. Plain struct.
struct RenderOptions {
  // The time strftime_now() formats (local time, as Python's datetime.now()). Unset (default):
  // the current time at the call. Set it for reproducible output.
  std::optional<std::time_t> now;
  // Whether the global strftime_now is defined (transformers defines it). Default true.
  bool define_strftime_now = true;

  // The render budget. A chat template is outside input (a checkpoint's tokenizer_config.json or
  // chat_template.jinja), so no template may run (nearly) forever, exhaust memory or overflow the
  // stack: a render that exceeds one of these stops with rlvr::Error "<source>:<line>: render
  // stopped ... (limit: <option> = <value>)". The defaults are far above what real templates
  // need: the 12 templates of tests/fixtures/chat_templates render all their test conversations
  // with 1/100 of each (the depths: 1/10; JinjaLimits.RealTemplatesRenderWithAHundredthOfThe-
  // DefaultBudget). At the defaults the worst template stops within about a second and 1 GB
  // (Release build, measured 2026-11-30: 10M steps ~0.5 s; 200k loop iterations ~0.5 s).
  //
  // Steps: one per statement or expression node executed, plus one per 256 bytes of every
  // string value and per 16 items of every list a node produces (copying is work), plus the
  // items a builtin walks (range, unique, ...).
  int64_t max_steps = 10'000'000;
  // For-loop iterations, all loops of the render together (`for x in y if c` counts each
  // candidate).
  int64_t max_loop_iterations = 200'000;
  // Bytes of the rendered text, of any block's captured output (set/filter blocks, macro
  // bodies) and of any single string value built while rendering.
  int64_t max_output_bytes = 32 << 20;
  // Statements and expressions being evaluated inside each other (a template alone nests at
  // most about 1300 deep, see the parser's limits; macros nest further).
  int max_depth = 3000;
  // Bytes of the calling thread's stack the render may use (measured from the render() call's
  // frame). A frame per nesting level is ~0.3 KB in a Release build but ~4 KB under ASan, so
  // max_depth alone cannot protect every build; the calling thread needs this much stack plus
  // a margin (the usual 8 MiB main and std::thread stacks do).
  int64_t max_stack_bytes = 4 << 20;
  // Macro calls (and recursive loop() calls) nested inside each other.
  int max_call_depth = kMaxDepth;
};

namespace detail {
struct Node;
}

// A parsed template. Immutable after construction: render() is const and may run on several
// threads at once (each call has its own variables and output). Copyable (shares the tree).
class Template {
 public:
  // Parses `source`. `source_name` names it in error messages (a file path, or e.g.
  // "tokenizer_config.json:chat_template"). Throws rlvr::Error "<name>:<line>: <what>,
  // expected <what>" on a syntax error.
  Template(const std::string& source, std::string source_name, const TemplateOptions& options = {});

  // Renders with the variables of `context` (a dict; others throw). Throws rlvr::Error
  // "<name>:<line>: <what>" on a render error; raise_exception(msg) gives
  // "<name>:<line>: raise_exception: <msg>".
  std::string render(const Value& context, const RenderOptions& options = {}) const;

  const std::string& source_name() const { return source_name_; }

 private:
  std::string source_name_;
  std::shared_ptr<const detail::Node> root_;
};

}  // namespace rlvr::core::jinja
