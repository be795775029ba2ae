// Strict YAML config reader, resolved-config printer and docs generator, all driven by the
// SchemaVisitor walk of core/config/config.h.
#include "core/config/loader.h"

#include <cstring>
#include <map>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <system_error>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "core/config/generation_defaults.h"
#include "core/config/pipeline.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/tokenizer/unicode.h"

namespace rlvr::core {
namespace {

// --- Messages ---

// Where a YAML node came from: a file (with line:col) or a --set override (no position).
struct Source {
  std::string name;
  bool has_positions = true;
};

std::string where(const Source& src, const YAML::Node& node) {
  if (!src.has_positions || !node.IsDefined() || node.Mark().is_null()) return src.name;
  return fmt::format("{}:{}:{}", src.name, node.Mark().line + 1, node.Mark().column + 1);
}

// `p` with symlinks and dot segments resolved, for telling a `base` cycle; `p` as written
// (normalized) when the file system cannot resolve it (a name too long, a parent that cannot be
// read): reading the file then reports why.
std::string canonical_name(const std::filesystem::path& p) {
  std::error_code ec;
  std::filesystem::path c = std::filesystem::weakly_canonical(p, ec);
  return ec ? p.lexically_normal().string() : c.string();
}

std::string join_path(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

std::string format_number(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt::format("{}", v);
}

std::string describe_range(const char* kind, Range r) {
  bool lo = std::isfinite(r.min), hi = std::isfinite(r.max);
  if (lo && hi) return fmt::format("{} in [{}, {}]", kind, format_number(r.min), format_number(r.max));
  if (lo) return fmt::format("{} >= {}", kind, format_number(r.min));
  if (hi) return fmt::format("{} <= {}", kind, format_number(r.max));
  return kind;
}

std::string node_kind(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Null: return "null";
    default: return "'" + n.Scalar() + "'";
  }
}

// --- Reading ---

// Reads one YAML mapping into the struct being visited, remembering which keys it knows so
// that finish() can reject the rest.
class Reader : public SchemaVisitor {
 public:
  Reader(YAML::Node node, std::string path, const Source& src)
      : node_(std::move(node)), path_(std::move(path)), src_(src) {}

  void allow_key(const std::string& key) { known_.push_back(key); }

  // Rejects duplicate and unknown keys of the mapping.
  void finish() const {
    if (!node_.IsMap()) return;
    std::set<std::string> seen;
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      // A copy: `it->first` is a member of a temporary (yaml-cpp's iterator_value), so a
      // reference to it dangles after this statement (ASan: stack-use-after-scope, found by
      // fuzz/config_yaml).
      const YAML::Node key = it->first;
      std::string name = key.IsScalar() ? key.Scalar() : std::string("<non-scalar key>");
      if (!seen.insert(name).second) {
        throw Error(fmt::format("{}: duplicate key '{}'", where(src_, key), join_path(path_, name)));
      }
      if (std::find(known_.begin(), known_.end(), name) != known_.end()) continue;
      std::string msg = path_.empty()
                            ? fmt::format("{}: unknown key '{}'", where(src_, key), name)
                            : fmt::format("{}: unknown key '{}' in '{}'", where(src_, key), name, path_);
      if (auto best = closest_match(name, known_)) msg += fmt::format("; did you mean '{}'?", *best);
      else msg += fmt::format("; known keys: {}", fmt::join(known_, ", "));
      throw Error(msg);
    }
  }

  void field(const char* name, bool& value, const char* /*doc*/) override {
    YAML::Node n = scalar(name, "true or false");
    if (!n) return;
    const std::string& s = n.Scalar();
    if (s == "true" || s == "True" || s == "TRUE") value = true;
    else if (s == "false" || s == "False" || s == "FALSE") value = false;
    else fail(n, name, "expected true or false");
  }

  void field(const char* name, int64_t& value, const char* /*doc*/, Range range) override {
    YAML::Node n = scalar(name, describe_range("an integer", range).c_str());
    if (!n) return;
    const std::string& s = n.Scalar();
    int64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size()) {
      fail(n, name, "expected " + describe_range("an integer", range));
    }
    if (!range.contains(static_cast<double>(v))) {
      fail(n, name, "out of range; expected " + describe_range("an integer", range));
    }
    value = v;
  }

  void field(const char* name, double& value, const char* /*doc*/, Range range) override {
    YAML::Node n = scalar(name, describe_range("a number", range).c_str());
    if (!n) return;
    const std::string& s = n.Scalar();
    char* end = nullptr;
    double v = s.empty() ? 0 : std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v) ||
        s.find_first_not_of(" \t") != 0) {
      fail(n, name, "expected " + describe_range("a number", range));
    }
    if (!range.contains(v)) fail(n, name, "out of range; expected " + describe_range("a number", range));
    value = v;
  }

  void field(const char* name, std::string& value, const char* /*doc*/) override {
    known_.push_back(name);
    YAML::Node n = child(name);
    if (!n) return;
    if (n.IsNull()) {
      value.clear();
      return;
    }
    if (!n.IsScalar()) fail(n, name, "expected a string");
    check_utf8(n, join_path(path_, name));
    value = n.Scalar();
  }

  void field(const char* name, std::vector<std::string>& value, const char* /*doc*/) override {
    known_.push_back(name);
    YAML::Node n = child(name);
    if (!n) return;
    if (n.IsNull()) {
      value.clear();
      return;
    }
    if (!n.IsSequence()) fail(n, name, "expected a list of strings");
    std::vector<std::string> out;
    for (const auto& item : n) {
      if (!item.IsScalar()) {
        throw Error(fmt::format("{}: {}: expected a list of strings, got {} as an item",
                                where(src_, item), join_path(path_, name), node_kind(item)));
      }
      check_utf8(item, fmt::format("{}[{}]", join_path(path_, name), out.size()));
      out.push_back(item.Scalar());
    }
    value = std::move(out);
  }

  void choice(const char* name, std::string& value, const std::vector<std::string>& choices,
              const char* /*doc*/) override {
    YAML::Node n = scalar(name, "a string");
    if (!n) return;
    const std::string& s = n.Scalar();
    if (std::find(choices.begin(), choices.end(), s) == choices.end()) {
      std::string msg = fmt::format("{}: {}: '{}' is not one of: {}", where(src_, n),
                                    join_path(path_, name), s, fmt::join(choices, ", "));
      if (auto best = closest_match(s, choices)) msg += fmt::format("; did you mean '{}'?", *best);
      throw Error(msg);
    }
    value = s;
  }

  void section(const char* name, const char* /*doc*/,
               const std::function<void(SchemaVisitor&)>& body) override {
    known_.push_back(name);
    YAML::Node n = child(name);
    if (!n || n.IsNull()) return;
    if (!n.IsMap()) fail(n, name, "expected a mapping of keys");
    Reader sub(n, join_path(path_, name), src_);
    body(sub);
    sub.finish();
  }

  void list(const char* name, const char* /*doc*/, const std::function<size_t()>& /*size*/,
            const std::function<void(size_t)>& resize,
            const std::function<void(size_t, SchemaVisitor&)>& element,
            const std::function<void(SchemaVisitor&)>& /*prototype*/) override {
    known_.push_back(name);
    YAML::Node n = child(name);
    if (!n) return;
    if (n.IsNull()) {
      resize(0);
      return;
    }
    if (!n.IsSequence()) fail(n, name, "expected a list of mappings");
    resize(n.size());
    for (size_t i = 0; i < n.size(); ++i) {
      YAML::Node item = n[i];
      std::string item_path = fmt::format("{}[{}]", join_path(path_, name), i);
      if (!item.IsMap()) {
        throw Error(fmt::format("{}: {}: expected a mapping, got {}", where(src_, item), item_path,
                                node_kind(item)));
      }
      Reader sub(item, item_path, src_);
      element(i, sub);
      sub.finish();
    }
  }

 private:
  // The value of `name`, or an empty node when the key is absent.
  YAML::Node child(const char* name) const {
    if (!node_.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      if (it->first.IsScalar() && it->first.Scalar() == name) return it->second;
    }
    return YAML::Node(YAML::NodeType::Undefined);
  }

  // The scalar value of `name` (empty node when absent); errors for null, lists and maps.
  YAML::Node scalar(const char* name, const char* expected) {
    known_.push_back(name);
    YAML::Node n = child(name);
    if (!n.IsDefined()) return YAML::Node(YAML::NodeType::Undefined);
    if (!n.IsScalar()) {
      throw Error(fmt::format("{}: {}: expected {}, got {}", where(src_, n), join_path(path_, name),
                              expected, node_kind(n)));
    }
    return n;
  }

  // Text values must be UTF-8 (as YAML requires): yaml-cpp reads other bytes as they are, but
  // writes them back as U+FFFD, so `rlvr config show` would print a different value than the one
  // used (found by fuzz/config_yaml).
  void check_utf8(const YAML::Node& n, const std::string& key) const {
    if (unicode::is_valid_utf8(n.Scalar())) return;
    throw Error(fmt::format("{}: {}: the value is not valid UTF-8; expected UTF-8 text (save the file as UTF-8)",
                            where(src_, n), key));
  }

  [[noreturn]] void fail(const YAML::Node& n, const char* name, const std::string& expected) const {
    std::string got = n.IsScalar() ? fmt::format("value '{}' is ", n.Scalar())
                                   : fmt::format("got {}; ", node_kind(n));
    if (n.IsScalar() && expected.rfind("out of range", 0) != 0) got = fmt::format("got '{}'; ", n.Scalar());
    throw Error(fmt::format("{}: {}: {}{}", where(src_, n), join_path(path_, name), got, expected));
  }

  YAML::Node node_;
  std::string path_;
  const Source& src_;
  std::vector<std::string> known_;
};

// Reads `node` strictly into `config`. `base` is allowed at the top level only.
void read_into(Config& config, const YAML::Node& node, const Source& src) {
  if (!node.IsDefined() || node.IsNull()) return;
  if (!node.IsMap()) {
    throw Error(fmt::format("{}: expected a mapping of config keys at the top level, got {}",
                            where(src, node), node_kind(node)));
  }
  Reader top(node, "", src);
  top.allow_key("base");
  config.visit(top);
  top.finish();
  // Record which keys the file set (the reader accepted them, so they are schema keys).
  std::function<void(const YAML::Node&, const std::string&)> collect = [&](const YAML::Node& n,
                                                                          const std::string& prefix) {
    for (auto it = n.begin(); it != n.end(); ++it) {
      if (!it->first.IsScalar()) continue;
      const std::string key = it->first.Scalar();
      if (prefix.empty() && key == "base") continue;
      const std::string path = prefix.empty() ? key : prefix + "." + key;
      if (it->second.IsMap()) {
        collect(it->second, path);
      } else {
        config.explicit_keys.insert(path);
      }
    }
  };
  collect(node, "");
}

// --- Merging and sources ---

// Deep-merges `over` onto `base`: mappings merge key by key, anything else replaces.
YAML::Node merge(const YAML::Node& base, const YAML::Node& over) {
  if (!base.IsMap() || !over.IsMap()) return YAML::Clone(over);
  YAML::Node out = YAML::Clone(base);
  for (auto it = over.begin(); it != over.end(); ++it) {
    std::string key = it->first.Scalar();
    YAML::Node existing = out[key];
    if (existing.IsDefined() && existing.IsMap() && it->second.IsMap()) {
      out[key] = merge(existing, it->second);
    } else {
      out[key] = YAML::Clone(it->second);
    }
  }
  return out;
}

YAML::Node parse_yaml(const std::string& text, const std::string& name) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw Error(fmt::format("{}:{}:{}: YAML syntax error: {}", name, e.mark.line + 1,
                            e.mark.column + 1, e.msg));
  }
}

// Loads `text` (named `name`) and, first, its `base:` chain. Each file is validated on its
// own so errors carry that file's name and positions. Returns the merged tree.
YAML::Node load_chain_node(const YAML::Node& node, const std::string& name, const std::string& dir,
                           std::vector<std::string>& stack);

YAML::Node load_chain(const std::string& text, const std::string& name, const std::string& dir,
                      std::vector<std::string>& stack) {
  return load_chain_node(parse_yaml(text, name), name, dir, stack);
}

// The same for a node already parsed (positions refer to the file `name`).
YAML::Node load_chain_node(const YAML::Node& node, const std::string& name, const std::string& dir,
                           std::vector<std::string>& stack) {
  Config scratch;
  read_into(scratch, node, Source{name});
  YAML::Node merged;
  if (node.IsMap() && node["base"]) {
    YAML::Node b = node["base"];
    if (!b.IsScalar() || b.Scalar().empty()) {
      throw Error(fmt::format("{}: base: expected a file name, got {}", where(Source{name}, b),
                              node_kind(b)));
    }
    namespace fs = std::filesystem;
    fs::path base_path = fs::path(b.Scalar()).is_absolute() ? fs::path(b.Scalar())
                                                             : fs::path(dir) / b.Scalar();
    std::string canon = canonical_name(base_path);
    if (std::find(stack.begin(), stack.end(), canon) != stack.end()) {
      throw Error(fmt::format("{}: base: '{}' includes itself (cycle: {} -> {})",
                              where(Source{name}, b), b.Scalar(), fmt::join(stack, " -> "), canon));
    }
    std::string base_text;
    try {
      base_text = read_file(base_path.string());
    } catch (const Error& e) {
      throw Error(fmt::format("{}: base: {}", where(Source{name}, b), e.what()));
    }
    stack.push_back(canon);
    merged = load_chain(base_text, base_path.string(), base_path.parent_path().string(), stack);
    stack.pop_back();
  }
  YAML::Node own = YAML::Clone(node);
  if (own.IsMap()) own.remove("base");
  return merged.IsDefined() && !merged.IsNull() ? merge(merged, own) : own;
}

YAML::Node spec_node(const std::string& spec, const Source& src);

// "a.b.c=value" -> {a: {b: {c: value}}}, validated on its own.
YAML::Node override_node(const std::string& spec) {
  Source src{"--set " + spec, /*has_positions=*/false};
  YAML::Node root = spec_node(spec, src);
  Config scratch;
  read_into(scratch, root, src);
  return root;
}

// "a.b.c=value" -> {a: {b: {c: value}}}, not validated; errors name `src`.
YAML::Node spec_node(const std::string& spec, const Source& src) {
  auto eq = spec.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw Error(fmt::format("{}: expected KEY=VALUE with a dotted key, e.g. run.seed=3", src.name));
  }
  std::string key = spec.substr(0, eq), value = spec.substr(eq + 1);
  std::vector<std::string> parts;
  std::stringstream ss(key);
  for (std::string p; std::getline(ss, p, '.');) {
    if (p.empty()) throw Error(fmt::format("{}: empty component in key '{}'", src.name, key));
    parts.push_back(p);
  }
  if (key.back() == '.') throw Error(fmt::format("{}: empty component in key '{}'", src.name, key));
  if (parts.size() == 1 && parts[0] == "base") {
    throw Error(fmt::format("{}: 'base' cannot be overridden; name the file directly", src.name));
  }
  YAML::Node leaf;
  try {
    leaf = value.empty() ? YAML::Node(YAML::NodeType::Null) : YAML::Load(value);
  } catch (const YAML::Exception&) {
    leaf = YAML::Node(value);
  }
  YAML::Node root = leaf;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    YAML::Node m(YAML::NodeType::Map);
    m[*it] = root;
    root = m;
  }
  return root;
}

Config finish_load(YAML::Node merged, const std::string& name,
                   const std::vector<std::string>& overrides) {
  for (const auto& spec : overrides) merged = merge(merged, override_node(spec));
  Config config;
  read_into(config, merged, Source{name});
  RLVR_CHECK(config.train.train_file.empty() || config.train.train_files.empty(),
             "{}: train.train_file and train.train_files are both set; expected one of them", name);
  apply_checkpoint_generation_defaults(config);
  return config;
}

// --- Printing ---

class Printer : public SchemaVisitor {
 public:
  explicit Printer(YAML::Emitter& out) : out_(out) {}
  void field(const char* name, bool& v, const char*) override { out_ << YAML::Key << name << YAML::Value << v; }
  void field(const char* name, int64_t& v, const char*, Range) override {
    out_ << YAML::Key << name << YAML::Value << v;
  }
  void field(const char* name, double& v, const char*, Range) override {
    out_ << YAML::Key << name << YAML::Value << fmt::format("{}", v);
  }
  void field(const char* name, std::string& v, const char*) override {
    out_ << YAML::Key << name << YAML::Value << YAML::DoubleQuoted << v;
  }
  void field(const char* name, std::vector<std::string>& v, const char*) override {
    out_ << YAML::Key << name << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (const auto& s : v) out_ << YAML::DoubleQuoted << s;
    out_ << YAML::EndSeq;
  }
  void choice(const char* name, std::string& v, const std::vector<std::string>&, const char*) override {
    out_ << YAML::Key << name << YAML::Value << v;
  }
  void section(const char* name, const char*, const std::function<void(SchemaVisitor&)>& body) override {
    out_ << YAML::Key << name << YAML::Value << YAML::BeginMap;
    body(*this);
    out_ << YAML::EndMap;
  }
  void list(const char* name, const char*, const std::function<size_t()>& size,
            const std::function<void(size_t)>&, const std::function<void(size_t, SchemaVisitor&)>& element,
            const std::function<void(SchemaVisitor&)>&) override {
    out_ << YAML::Key << name << YAML::Value;
    size_t n = size();
    if (n == 0) {
      out_ << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
      return;
    }
    out_ << YAML::BeginSeq;
    for (size_t i = 0; i < n; ++i) {
      out_ << YAML::BeginMap;
      element(i, *this);
      out_ << YAML::EndMap;
    }
    out_ << YAML::EndSeq;
  }

 private:
  YAML::Emitter& out_;
};

// --- Documentation ---

class DocWriter : public SchemaVisitor {
 public:
  DocWriter(std::string prefix, std::ostringstream& out, std::vector<std::string>* keys)
      : prefix_(std::move(prefix)), out_(out), keys_(keys) {}

  void field(const char* name, bool& v, const char* doc) override {
    row(name, "boolean", v ? "true" : "false", doc);
  }
  void field(const char* name, int64_t& v, const char* doc, Range r) override {
    row(name, describe_range("integer", r), std::to_string(v), doc);
  }
  void field(const char* name, double& v, const char* doc, Range r) override {
    row(name, describe_range("number", r), fmt::format("{}", v), doc);
  }
  void field(const char* name, std::string& v, const char* doc) override {
    row(name, "string", v.empty() ? "\"\"" : v, doc);
  }
  void field(const char* name, std::vector<std::string>& v, const char* doc) override {
    row(name, "list of strings", fmt::format("[{}]", fmt::join(v, ", ")), doc);
  }
  void choice(const char* name, std::string& v, const std::vector<std::string>& choices,
              const char* doc) override {
    row(name, fmt::format("one of {}", fmt::join(choices, ", ")), v, doc);
  }
  void section(const char* name, const char* doc, const std::function<void(SchemaVisitor&)>& body) override {
    std::string path = join_path(prefix_, name);
    out_ << "\n## `" << path << "`\n\n" << doc << "\n\n| key | type | default | description |\n|---|---|---|---|\n";
    DocWriter sub(path, out_, keys_);
    sub.deferred_ = true;
    body(sub);
    sub.flush_deferred();
  }
  void list(const char* name, const char* doc, const std::function<size_t()>&,
            const std::function<void(size_t)>&, const std::function<void(size_t, SchemaVisitor&)>&,
            const std::function<void(SchemaVisitor&)>& prototype) override {
    row(name, "list of mappings", "[]", std::string(doc) + " Item keys are listed below.");
    pending_lists_.push_back({join_path(prefix_, name) + "[]", doc, prototype});
  }

 private:
  struct PendingList {
    std::string path;
    std::string doc;
    std::function<void(SchemaVisitor&)> prototype;
  };

  void row(const char* name, const std::string& type, const std::string& def, const std::string& doc) {
    std::string path = join_path(prefix_, name);
    if (keys_) keys_->push_back(path);
    out_ << "| `" << path << "` | " << type << " | `" << def << "` | " << doc << " |\n";
  }

  void flush_deferred() {
    for (auto& p : pending_lists_) {
      out_ << "\n## `" << p.path << "`\n\nEach item of `" << p.path.substr(0, p.path.size() - 2)
           << "`.\n\n| key | type | default | description |\n|---|---|---|---|\n";
      DocWriter sub(p.path, out_, keys_);
      sub.deferred_ = true;
      p.prototype(sub);
      sub.flush_deferred();
    }
    pending_lists_.clear();
  }

  std::string prefix_;
  std::ostringstream& out_;
  std::vector<std::string>* keys_;
  bool deferred_ = false;
  std::vector<PendingList> pending_lists_;
};

}  // namespace

// --- Public API ---

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::string text = read_file(path);
  std::vector<std::string> stack{canonical_name(path)};
  YAML::Node merged =
      load_chain(text, path, std::filesystem::path(path).parent_path().string(), stack);
  return finish_load(merged, path, overrides);
}

Config load_config_text(const std::string& yaml, const std::string& source_name,
                        const std::vector<std::string>& overrides, const std::string& base_dir) {
  std::vector<std::string> stack{source_name};
  YAML::Node merged = load_chain(yaml, source_name, base_dir, stack);
  return finish_load(merged, source_name, overrides);
}

std::string config_to_yaml(Config config) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  Printer p(out);
  config.visit(p);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::string config_docs_markdown() {
  std::ostringstream out;
  out << "# Configuration reference\n\n"
         "Generated from the schema in core/config/config.h by `rlvr config docs`; a test checks\n"
         "that this file matches it, so edit the schema and regenerate rather than editing here.\n\n"
         "A config file is YAML. Every key is optional and keeps the default shown. Unknown keys,\n"
         "wrong types and out-of-range values are errors that name file:line:col.\n\n"
         "- `base: other.yaml` (top level) starts from another config, resolved relative to this\n"
         "  file; mappings merge key by key, lists and scalars replace.\n"
         "- `--set a.b.c=value` on the command line overrides one key after all files\n"
         "  (repeatable, applied in order). The value is YAML, so a list is `[a, b]`.\n"
         "- `rlvr config check FILE` validates, `rlvr config show FILE` prints the resolved config.\n"
         "- Paths inside a config (`model.path`, `train.train_file`, `train.train_files[].path`,\n"
         "  `rl.train_file`, `run.output_dir`, ...) are used as written: a relative path is relative to\n"
         "  the working directory of the command, not to the YAML file (only `base:` is resolved\n"
         "  relative to the file that names it). Run commands from the directory the paths assume, or\n"
         "  write absolute paths. Data formats: docs/DATA.md.\n";
  Config defaults;
  DocWriter w("", out, nullptr);
  defaults.visit(w);
  return out.str();
}

std::vector<std::string> config_keys() {
  std::ostringstream sink;
  std::vector<std::string> keys;
  Config defaults;
  DocWriter w("", sink, &keys);
  defaults.visit(w);
  return keys;
}

// --- Pipeline files (core/config/pipeline.h) ---

namespace {

const char* const kRunVariable = "${run}";

// Replaces `${run}` in every scalar under `node` (in place).
void substitute_run(YAML::Node node, const std::string& run) {
  if (node.IsScalar()) {
    std::string s = node.Scalar();
    bool changed = false;
    for (size_t at = s.find(kRunVariable); at != std::string::npos; at = s.find(kRunVariable, at + run.size())) {
      s.replace(at, std::strlen(kRunVariable), run);
      changed = true;
    }
    if (changed) node = s;
  } else if (node.IsMap()) {
    for (auto it = node.begin(); it != node.end(); ++it) substitute_run(it->second, run);
  } else if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) substitute_run(node[i], run);
  }
}

std::string substitute_run(std::string s, const std::string& run) {
  for (size_t at = s.find(kRunVariable); at != std::string::npos; at = s.find(kRunVariable, at + run.size())) {
    s.replace(at, std::strlen(kRunVariable), run);
  }
  return s;
}

// The value of key `name` in mapping `node` (undefined when absent), without inserting it.
YAML::Node map_get(const YAML::Node& node, const std::string& name) {
  if (!node.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == name) return it->second;
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

// Reads mapping `node` strictly into a schema struct (`path` prefixes messages).
template <class T>
void read_struct(T& value, const YAML::Node& node, const std::string& path, const Source& src) {
  if (!node.IsDefined() || node.IsNull()) return;
  if (!node.IsMap()) {
    throw Error(fmt::format("{}: {}: expected a mapping of keys, got {}", where(src, node), path, node_kind(node)));
  }
  Reader r(node, path, src);
  value.visit(r);
  r.finish();
}

std::string resolve_relative(const std::string& file, const std::string& dir) {
  if (file.empty() || std::filesystem::path(file).is_absolute()) return file;
  return (std::filesystem::path(dir.empty() ? "." : dir) / file).lexically_normal().string();
}

}  // namespace

const std::vector<std::string>& pipeline_stage_kinds() {
  static const std::vector<std::string> kinds{"sft", "dpo", "rlvr"};
  return kinds;
}

bool is_pipeline_file(const std::string& path) {
  YAML::Node root = parse_yaml(read_file(path), path);
  return root.IsMap() && map_get(root, "stages").IsDefined();
}

PipelineConfig load_pipeline(const std::string& path, const std::vector<std::string>& overrides) {
  namespace fs = std::filesystem;
  const Source src{path};
  YAML::Node root = parse_yaml(read_file(path), path);
  if (!root.IsMap()) {
    throw Error(fmt::format("{}: expected a mapping with 'pipeline' and 'stages' at the top level, got {}",
                            where(src, root), node_kind(root)));
  }
  for (auto it = root.begin(); it != root.end(); ++it) {
    const std::string key = it->first.IsScalar() ? it->first.Scalar() : std::string("<non-scalar key>");
    if (key == "pipeline" || key == "stages") continue;
    std::string msg = fmt::format("{}: unknown top-level key '{}' in a pipeline file", where(src, it->first), key);
    if (auto best = closest_match(key, {"pipeline", "stages"})) msg += fmt::format("; did you mean '{}'?", *best);
    else msg += "; expected 'pipeline' and 'stages' (a stage's keys go under its stage)";
    throw Error(msg);
  }
  const std::string dir = fs::path(path).parent_path().string();
  const auto& kinds = pipeline_stage_kinds();

  // --set: pipeline.KEY=V for the pipeline section, <stage>.KEY=V for a stage.
  std::vector<std::string> pipeline_sets;
  std::map<std::string, std::vector<std::string>> stage_sets;
  for (const auto& spec : overrides) {
    const auto dot = spec.find('.');
    const auto eq = spec.find('=');
    const std::string head = dot == std::string::npos || (eq != std::string::npos && eq < dot) ? "" : spec.substr(0, dot);
    if (head == "pipeline") {
      pipeline_sets.push_back(spec.substr(dot + 1));
    } else if (std::find(kinds.begin(), kinds.end(), head) != kinds.end()) {
      stage_sets[head].push_back(spec.substr(dot + 1));
    } else {
      throw Error(fmt::format("--set {}: a pipeline override starts with 'pipeline.' or a stage name ({}), e.g. "
                              "pipeline.seed=2 or sft.optim.learning_rate=1e-3",
                              spec, fmt::join(kinds, ", ")));
    }
  }

  PipelineConfig out;
  out.path = path;
  read_struct(out.pipeline, map_get(root, "pipeline"), "pipeline", src);
  for (const auto& spec : pipeline_sets) {
    const Source set_src{"--set pipeline." + spec, /*has_positions=*/false};
    read_struct(out.pipeline, spec_node(spec, set_src), "pipeline", set_src);
  }
  PipelineSettings& ps = out.pipeline;
  if (ps.output_dir.empty()) throw Error(fmt::format("{}: pipeline.output_dir: expected a directory, got ''", path));
  const std::string run = ps.output_dir;
  ps.model = substitute_run(ps.model, run);
  for (auto& d : ps.eval.data) d = substitute_run(d, run);
  ps.init.model_config = resolve_relative(substitute_run(ps.init.model_config, run), dir);
  if (ps.init.model_config.empty() && ps.model.empty()) {
    throw Error(fmt::format("{}: pipeline: set 'model' (a starting checkpoint) or 'init.model_config' (a model to "
                            "initialize from scratch)",
                            path));
  }
  if (!ps.init.model_config.empty() && !ps.model.empty()) {
    throw Error(fmt::format("{}: pipeline: 'model' and 'init.model_config' are both set; the first stage starts from "
                            "one of them",
                            path));
  }
  if (ps.eval.data.empty()) {
    throw Error(fmt::format("{}: pipeline.eval.data: expected at least one held-out JSONL file", path));
  }

  YAML::Node stages = map_get(root, "stages");
  if (!stages.IsSequence() || stages.size() == 0) {
    throw Error(fmt::format("{}: stages: expected a non-empty list like `- sft: FILE`, got {}", where(src, stages),
                            node_kind(stages)));
  }
  for (size_t i = 0; i < stages.size(); ++i) {
    YAML::Node item = stages[i];
    const std::string item_path = fmt::format("stages[{}]", i);
    if (!item.IsMap()) {
      throw Error(fmt::format("{}: {}: expected a mapping like `sft: FILE` or `rlvr: {{...}}`, got {}",
                              where(src, item), item_path, node_kind(item)));
    }
    PipelineStage stage;
    stage.source = where(src, item);
    YAML::Node body(YAML::NodeType::Undefined), pairs(YAML::NodeType::Undefined);
    for (auto it = item.begin(); it != item.end(); ++it) {
      const std::string key = it->first.IsScalar() ? it->first.Scalar() : std::string("<non-scalar key>");
      if (std::find(kinds.begin(), kinds.end(), key) != kinds.end()) {
        if (!stage.kind.empty()) {
          throw Error(fmt::format("{}: {}: two stages ('{}' and '{}') in one list item; give each its own `- `",
                                  where(src, it->first), item_path, stage.kind, key));
        }
        stage.kind = key;
        body = it->second;
      } else if (key == "pairs") {
        pairs = it->second;
      } else {
        std::vector<std::string> known = kinds;
        known.push_back("pairs");
        std::string msg = fmt::format("{}: {}: unknown key '{}'", where(src, it->first), item_path, key);
        if (auto best = closest_match(key, known)) msg += fmt::format("; did you mean '{}'?", *best);
        else msg += fmt::format("; expected a stage ({}) and, for dpo, 'pairs'", fmt::join(kinds, ", "));
        throw Error(msg);
      }
    }
    if (stage.kind.empty()) {
      throw Error(fmt::format("{}: {}: no stage; expected one of {} as the key", where(src, item), item_path,
                              fmt::join(kinds, ", ")));
    }
    for (const auto& earlier : out.stages) {
      if (earlier.kind == stage.kind) {
        throw Error(fmt::format("{}: {}: stage '{}' appears twice (first at {}); each stage runs once and owns "
                                "<output_dir>/{}",
                                where(src, item), item_path, stage.kind, earlier.source, stage.kind));
      }
    }
    if (pairs.IsDefined()) {
      if (stage.kind != "dpo") {
        throw Error(fmt::format("{}: {}.pairs: only a dpo stage builds preference pairs", where(src, pairs),
                                item_path));
      }
      read_struct(stage.pairs, pairs, item_path + ".pairs", src);
      stage.pairs.prompts = substitute_run(stage.pairs.prompts, run);
      if (stage.pairs.prompts.empty()) {
        throw Error(fmt::format("{}: {}.pairs.prompts: expected the RLVR prompt file to sample pairs for",
                                where(src, pairs), item_path));
      }
    }
    // The stage's config: a file (relative to the pipeline file), an inline mapping, or nothing.
    std::string name = path;
    YAML::Node merged;
    if (body.IsScalar() && !body.Scalar().empty()) {
      const std::string file = resolve_relative(body.Scalar(), dir);
      std::string text;
      try {
        text = read_file(file);
      } catch (const Error& e) {
        throw Error(fmt::format("{}: {}.{}: {}", where(src, body), item_path, stage.kind, e.what()));
      }
      std::vector<std::string> stack{canonical_name(file)};
      merged = load_chain(text, file, fs::path(file).parent_path().string(), stack);
      name = file;
    } else if (body.IsMap()) {
      std::vector<std::string> stack{canonical_name(path)};
      merged = load_chain_node(body, path, dir, stack);
    } else if (!body.IsNull()) {
      throw Error(fmt::format("{}: {}.{}: expected a stage config file name or a mapping of config keys, got {}",
                              where(src, body), item_path, stage.kind, node_kind(body)));
    }
    if (stage.kind != "rlvr") {
      // Merged trees are copies without positions: point at the stage's own text when it is there.
      YAML::Node mode = map_get(map_get(merged, "train"), "mode");
      if (mode.IsDefined() && mode.IsScalar() && mode.Scalar() != stage.kind) {
        YAML::Node own = map_get(map_get(body.IsMap() ? body : parse_yaml(read_file(name), name), "train"), "mode");
        throw Error(fmt::format("{}: train.mode: '{}' in the {} stage; leave it out (the stage sets it)",
                                where(Source{name}, own.IsDefined() ? own : mode), mode.Scalar(), stage.kind));
      }
    }
    for (const auto& spec : stage_sets[stage.kind]) {
      const Source set_src{"--set " + stage.kind + "." + spec, /*has_positions=*/false};
      YAML::Node over = spec_node(spec, set_src);
      Config scratch;
      read_into(scratch, over, set_src);
      merged = merge(merged, over);
    }
    if (stage.kind != "rlvr") merged = merge(merged, spec_node("train.mode=" + stage.kind, Source{"pipeline", false}));
    substitute_run(merged, run);
    read_into(stage.config, merged, Source{name});
    out.stages.push_back(std::move(stage));
  }
  for (const auto& [kind, sets] : stage_sets) {
    bool present = false;
    for (const auto& st : out.stages) present = present || st.kind == kind;
    if (!present && !sets.empty()) {
      throw Error(fmt::format("--set {}.{}: the pipeline has no '{}' stage", kind, sets.front(), kind));
    }
  }
  if (ps.baselines) {
    bool sft_before_another = false, seen_sft = false;
    for (const auto& st : out.stages) {
      if (seen_sft && st.kind != "sft") sft_before_another = true;
      seen_sft = seen_sft || st.kind == "sft";
    }
    if (!sft_before_another) {
      YAML::Node key = map_get(map_get(root, "pipeline"), "baselines");
      throw Error(fmt::format("{}: pipeline.baselines: true needs an sft stage followed by another stage (each "
                              "baseline continues the sft stage's training); set it to false or add the stages",
                              key.IsDefined() ? where(src, key) : path));
    }
  }
  return out;
}

std::optional<std::string> closest_match(const std::string& word,
                                         const std::vector<std::string>& candidates) {
  auto distance = [](const std::string& a, const std::string& b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      cur[0] = i;
      for (size_t j = 1; j <= b.size(); ++j) {
        size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
      }
      std::swap(prev, cur);
    }
    return prev[b.size()];
  };
  std::optional<std::string> best;
  size_t best_d = std::max<size_t>(2, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    size_t d = distance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

}  // namespace rlvr::core
