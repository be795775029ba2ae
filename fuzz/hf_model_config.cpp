// Fuzz target: a Hugging Face checkpoint's config.json (core/model/model_config.h
// load_transformer_config), torch-free.
//
// Input: the file's bytes. Accepted configs must survive num_parameters() (no signed overflow:
// UBSan) and round-trip: to_json -> from_json -> to_json gives the same text.
#include <cstdint>

#include "core/model/model_config.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  rlvr::fuzz::quiet_logging();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rlvr::core;
  const std::string path = rlvr::fuzz::scratch().write("config.json", rlvr::fuzz::as_view(data, size));
  rlvr::fuzz::expect_clean([&] {
    TransformerConfig c = load_transformer_config(path);
    (void)c.num_parameters();
    const std::string once = transformer_config_to_json(c).dump();
    bool reloaded = rlvr::fuzz::expect_clean([&] {
      TransformerConfig again = transformer_config_from_json(nlohmann::json::parse(once), "round trip");
      RLVR_FUZZ_EXPECT(transformer_config_to_json(again).dump() == once, "config.json does not round-trip");
    });
    RLVR_FUZZ_EXPECT(reloaded, "the written config.json of an accepted config is rejected: " + once);
  });
  return 0;
}
