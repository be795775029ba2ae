// The config schema: every config struct lists its fields once, through a SchemaVisitor.
//
// One `visit` per struct drives everything that needs the schema: the strict YAML reader,
// the YAML printer (`rlvr config show`), the docs generator (docs/CONFIG.md) and the --set
// key lookup, so the four can never disagree. Field names equal their YAML keys.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace rlvr::core {

// An inclusive numeric range; the defaults mean "unbounded".
struct Range {
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool contains(double v) const { return v >= min && v <= max; }
};
inline Range at_least(double min) { return Range{min, std::numeric_limits<double>::infinity()}; }

// Walks the fields of a config struct. Implementations read, print or document them.
// `doc` strings are one sentence and end with a period.
class SchemaVisitor {
 public:
  virtual ~SchemaVisitor() = default;
  virtual void field(const char* name, bool& value, const char* doc) = 0;
  virtual void field(const char* name, int64_t& value, const char* doc, Range range = {}) = 0;
  virtual void field(const char* name, double& value, const char* doc, Range range = {}) = 0;
  virtual void field(const char* name, std::string& value, const char* doc) = 0;
  virtual void field(const char* name, std::vector<std::string>& value, const char* doc) = 0;
  // A string restricted to `choices`.
  virtual void choice(const char* name, std::string& value, const std::vector<std::string>& choices,
                      const char* doc) = 0;
  // A nested mapping; `body` visits its fields.
  virtual void section(const char* name, const char* doc,
                       const std::function<void(SchemaVisitor&)>& body) = 0;
  // A list of mappings. `size` / `resize` access the vector, `element(i, v)` visits item i,
  // and `prototype(v)` visits a default-constructed item (used by docs and defaults).
  virtual void list(const char* name, const char* doc, const std::function<size_t()>& size,
                    const std::function<void(size_t)>& resize,
                    const std::function<void(size_t, SchemaVisitor&)>& element,
                    const std::function<void(SchemaVisitor&)>& prototype) = 0;

  template <class T>
  void section(const char* name, T& value, const char* doc) {
    section(name, doc, [&value](SchemaVisitor& v) { value.visit(v); });
  }
  template <class T>
  void list(const char* name, std::vector<T>& items, const char* doc) {
    list(
        name, doc, [&items] { return items.size(); }, [&items](size_t n) { items.resize(n); },
        [&items](size_t i, SchemaVisitor& v) { items[i].visit(v); },
        [](SchemaVisitor& v) {
          T proto;
          proto.visit(v);
        });
  }
};

}  // namespace rlvr::core
