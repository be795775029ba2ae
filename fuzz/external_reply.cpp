// Fuzz target: the reply line of an external verifier process (verifiers/external.h
// detail::parse_external_reply), the only bytes a user-supplied child sends back.
//
// Input: the line (bytes after a '\n' are dropped: the reader splits lines there). Properties:
// never throws; an accepted reply has a finite score in [0, 1], answer_found set and a reason of
// at most 1024 bytes; a rejected one says why.
#include <cmath>
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_util.h"
#include "verifiers/external.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  rlvr::fuzz::quiet_logging();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line = rlvr::fuzz::as_view(data, size);
  line = line.substr(0, line.find('\n'));
  for (int64_t id : {int64_t{7}, int64_t{1}, int64_t{9223372036854775807}}) {
    auto reply = rlvr::verifiers::detail::parse_external_reply(line, id);
    if (reply.ok) {
      RLVR_FUZZ_EXPECT(std::isfinite(reply.result.score) && reply.result.score >= 0 && reply.result.score <= 1,
                       "accepted score outside [0, 1]");
      RLVR_FUZZ_EXPECT(reply.result.answer_found && !reply.result.error, "accepted reply flags");
      RLVR_FUZZ_EXPECT(reply.result.reason.size() <= 1024, "reason longer than 1024 bytes");
    } else {
      RLVR_FUZZ_EXPECT(!reply.problem.empty(), "a rejected reply without a problem");
    }
  }
  return 0;
}
