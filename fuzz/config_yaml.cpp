// Fuzz target: YAML run configs (core/config/loader.h load_config): YAML syntax, strict keys,
// types, ranges, `base:` chains.
//
// Input: the text of a config file. It is written to a scratch directory that also holds
// base.yaml (configs/tiny/sft.yaml), so `base: base.yaml` resolves. An accepted config must
// round-trip: config_to_yaml() gives YAML that loads again to the same flattened keys.
#include <cstdint>
#include <map>
#include <string>

#include "core/config/loader.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  rlvr::fuzz::quiet_logging();
  rlvr::fuzz::scratch().write("base.yaml", rlvr::fuzz::read_source_file("configs/tiny/sft.yaml"));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rlvr::core;
  const std::string path = rlvr::fuzz::scratch().write("config.yaml", rlvr::fuzz::as_view(data, size));
  rlvr::fuzz::expect_clean([&] {
    Config c = load_config(path);
    const std::map<std::string, std::string> flat = flatten_config(c);
    const std::string yaml = config_to_yaml(c);
    bool reloaded = rlvr::fuzz::expect_clean([&] {
      Config again = load_config_text(yaml, "round-trip.yaml", {}, rlvr::fuzz::scratch().path());
      const std::map<std::string, std::string> flat_again = flatten_config(again);
      for (const auto& [key, value] : flat) {
        auto it = flat_again.find(key);
        RLVR_FUZZ_EXPECT(it != flat_again.end() && it->second == value,
                         "config_to_yaml does not round-trip " + key + ": '" + value + "' became '" +
                             (it == flat_again.end() ? std::string("<missing>") : it->second) + "' in\n" + yaml);
      }
      RLVR_FUZZ_EXPECT(flat_again.size() == flat.size(), "config_to_yaml adds keys:\n" + yaml);
    });
    RLVR_FUZZ_EXPECT(reloaded, "config_to_yaml of an accepted config is rejected:\n" + yaml);
  });
  return 0;
}
