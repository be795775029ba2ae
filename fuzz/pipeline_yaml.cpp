// Fuzz target: pipeline files (core/config/pipeline.h load_pipeline): the `pipeline:` section,
// the `stages:` list, stage configs given as files or inline mappings, ${run} substitution.
//
// Input: the text of a pipeline file, written to a scratch directory that also holds the tiny
// pipeline's stage files (tiny/sft.yaml, tiny/dpo.yaml, tiny/rlvr.yaml, tiny/model.json) so the
// committed configs/tiny.yaml is a valid seed.
#include <cstdint>
#include <string>

#include "core/config/pipeline.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  rlvr::fuzz::quiet_logging();
  const auto& dir = rlvr::fuzz::scratch();
  std::string mkdir = "mkdir -p '" + dir.path() + "/tiny'";
  if (std::system(mkdir.c_str()) != 0) std::abort();
  for (const char* f : {"sft.yaml", "dpo.yaml", "rlvr.yaml", "model.json"}) {
    dir.write(std::string("tiny/") + f, rlvr::fuzz::read_source_file(std::string("configs/tiny/") + f));
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = rlvr::fuzz::scratch().write("pipeline.yaml", rlvr::fuzz::as_view(data, size));
  rlvr::fuzz::expect_clean([&] { (void)rlvr::core::load_pipeline(path); });
  return 0;
}
