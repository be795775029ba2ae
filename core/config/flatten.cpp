// flatten_config (core/config/loader.h): every key of a config as "section.key" -> value text.
#include <map>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/config/loader.h"
#include "core/config/schema.h"

namespace rlvr::core {
namespace {

// Walks a config and records every field as "prefix.name" -> text.
class FlattenVisitor : public SchemaVisitor {
 public:
  explicit FlattenVisitor(std::map<std::string, std::string>& out) : out_(out) {}

  void field(const char* name, bool& value, const char*) override { put(name, value ? "true" : "false"); }
  void field(const char* name, int64_t& value, const char*, Range) override {
    put(name, std::to_string(value));
  }
  void field(const char* name, double& value, const char*, Range) override {
    put(name, fmt::format("{}", value));
  }
  void field(const char* name, std::string& value, const char*) override { put(name, value); }
  void field(const char* name, std::vector<std::string>& value, const char*) override {
    put(name, nlohmann::json(value).dump());
  }
  void choice(const char* name, std::string& value, const std::vector<std::string>&, const char*) override {
    put(name, value);
  }
  void section(const char* name, const char*, const std::function<void(SchemaVisitor&)>& body) override {
    std::string saved = prefix_;
    prefix_ += std::string(name) + ".";
    body(*this);
    prefix_ = saved;
  }
  void list(const char* name, const char*, const std::function<size_t()>& size, const std::function<void(size_t)>&,
            const std::function<void(size_t, SchemaVisitor&)>& element,
            const std::function<void(SchemaVisitor&)>&) override {
    std::string saved = prefix_;
    const size_t n = size();
    put(name, std::to_string(n) + " items");
    for (size_t i = 0; i < n; ++i) {
      prefix_ = saved + fmt::format("{}[{}].", name, i);
      element(i, *this);
    }
    prefix_ = saved;
  }

 private:
  void put(const char* name, std::string value) { out_[prefix_ + name] = std::move(value); }
  std::map<std::string, std::string>& out_;
  std::string prefix_;
};

}  // namespace

std::map<std::string, std::string> flatten_config(const Config& config) {
  Config copy = config;  // visit() takes non-const references
  std::map<std::string, std::string> out;
  FlattenVisitor v(out);
  copy.visit(v);
  return out;
}

}  // namespace rlvr::core
