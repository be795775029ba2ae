// Fuzz target: rollout records (core/data/rollout.h): read_rollouts (rollouts.jsonl, the replay
// input of the learner), rollout_from_json, validate_rollout.
//
// Input: the file's bytes. Properties: a bad record is a clean rlvr::Error; every record that
// passes validate_rollout (limits of a small model) round-trips through rollout_to_json /
// rollout_from_json unchanged, and its version_of()/min_version() are in range.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "core/data/rollout.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  rlvr::fuzz::quiet_logging();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rlvr::core;
  const std::string path = rlvr::fuzz::scratch().write("rollouts.jsonl", rlvr::fuzz::as_view(data, size));
  rlvr::fuzz::expect_clean([&] {
    RolloutLimits limits;
    limits.vocab_size = 512;
    limits.max_positions = 256;
    limits.max_version = 100;
    for (const RolloutSample& s : read_rollouts(path)) {
      (void)s.describe();
      if (rollout_problem(s, limits)) {
        RLVR_FUZZ_EXPECT(!rlvr::fuzz::expect_clean([&] { validate_rollout(s, limits); }),
                         "validate_rollout accepts what rollout_problem rejects");
        continue;
      }
      validate_rollout(s, limits);
      for (size_t t = 0; t < s.completion_ids.size(); ++t) {
        int64_t v = s.version_of(t);
        RLVR_FUZZ_EXPECT(v >= s.min_version() && v <= limits.max_version, "version_of out of range");
      }
      const std::string once = rollout_to_json(s).dump();
      const std::string twice = rollout_to_json(rollout_from_json(nlohmann::json::parse(once))).dump();
      RLVR_FUZZ_EXPECT(once == twice, "a valid rollout does not round-trip: " + once);
    }
  });
  return 0;
}
