#include "verifiers/verifier.h"

#include <algorithm>
#include <map>
#include <mutex>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"

namespace rlvr::verifiers {
namespace {

struct Registry {
  std::mutex mu;
  std::map<std::string, VerifierFactory> factories;
};

Registry& registry() {
  // Built-ins are added on first use by an explicit call (verifiers/builtin.cpp), not by
  // static registrars: objects of a static library that nothing references are dropped by
  // the linker, so self-registration inside the library would silently lose verifiers.
  static Registry* r = [] {
    auto* reg = new Registry;
    for (auto& [name, factory] : detail::builtin_verifiers()) reg->factories[name] = factory;
    return reg;
  }();
  return *r;
}

}  // namespace

void register_verifier(const std::string& name, VerifierFactory factory) {
  auto& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  r.factories[name] = std::move(factory);
}

std::unique_ptr<Verifier> make_verifier(const std::string& name, const VerifierOptions& options) {
  VerifierFactory factory;
  {
    auto& r = registry();
    std::lock_guard<std::mutex> lock(r.mu);
    auto it = r.factories.find(name);
    if (it == r.factories.end()) {
      std::vector<std::string> names;
      for (const auto& [n, f] : r.factories) names.push_back(n);
      throw Error(fmt::format("unknown verifier '{}'; known verifiers: {}", name, fmt::join(names, ", ")));
    }
    factory = it->second;
  }
  return factory(options);
}

std::vector<std::string> verifier_names() {
  auto& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  std::vector<std::string> names;
  for (const auto& [n, f] : r.factories) names.push_back(n);
  return names;
}

}  // namespace rlvr::verifiers
