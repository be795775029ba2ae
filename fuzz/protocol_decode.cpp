// Fuzz target: the actor <-> learner wire decoder (core/protocol/protocol.h decode()).
//
// Input: the frames of one multipart message, separated by kFrameSeparator (fuzz/frames.h), as
// fuzz/make_corpus writes them. decode() promises never to throw and never to abort; on top of
// that this checks, for every accepted message: check_message() agrees with decode(),
// to_string() works, and encode() round-trips (the re-encoded frames decode to a message that
// encodes to the same bytes). Each input is decoded under the default limits and under tight
// ones (so the limit checks themselves are reached with small inputs).
#include <cstdint>
#include <string>
#include <vector>

#include "core/protocol/protocol.h"
#include "fuzz/frames.h"
#include "fuzz/fuzz_util.h"

namespace {

using namespace rlvr::core::protocol;

void check(const std::vector<std::string_view>& frames, const ProtocolLimits& limits) {
  DecodeResult r = decode(frames, limits);
  if (!r.ok()) {
    RLVR_FUZZ_EXPECT(!r.error.field.empty(), "a rejection names the field: " + r.error.to_string());
    RLVR_FUZZ_EXPECT(!r.error.problem.empty(), "a rejection says the problem: " + r.error.to_string());
    (void)r.error.to_string();
    return;
  }
  const Message& m = *r.message;
  (void)to_string(m);
  auto problem = check_message(m, limits);
  RLVR_FUZZ_EXPECT(!problem, "check_message rejects what decode accepted: " + problem->to_string());
  std::vector<std::string> encoded = encode(m);
  std::vector<std::string_view> views(encoded.begin(), encoded.end());
  DecodeResult again = decode(views, limits);
  RLVR_FUZZ_EXPECT(again.ok(), "a re-encoded message is rejected: " + again.error.to_string());
  RLVR_FUZZ_EXPECT(encode(*again.message) == encoded, "encode(decode(encode(m))) != encode(m)");
  if (m.type() == MessageType::kWeightsChunk) {
    // encode_head() is encode() without the data frame.
    std::vector<std::string> head = encode_head(m);
    RLVR_FUZZ_EXPECT(head.size() == 2 && head[0] == encoded[0] && head[1] == encoded[1],
                     "encode_head differs from encode's first two frames");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string_view> frames = rlvr::fuzz::split_frames(rlvr::fuzz::as_view(data, size));
  check(frames, ProtocolLimits{});
  ProtocolLimits tight;
  tight.max_frame_bytes = 4096;
  tight.max_samples = 3;
  tight.max_tokens = 8;
  tight.max_units = 2;
  tight.max_chunk_bytes = 64;
  tight.max_string_bytes = 32;
  tight.max_manifest_entries = 3;
  check(frames, tight);
  return 0;
}
