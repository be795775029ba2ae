// The actor <-> learner wire protocol: message types, their msgpack encoding and a strict decoder.
//
// Torch-free and socket-free: encode() turns a Message into the frames of one ZeroMQ multipart
// message, decode() turns received frames back into a Message or a DecodeError naming the field
// ("payload.samples[3].logprobs[7]") and what was expected. The learner binds a ROUTER, each actor
// connects a DEALER; the ROUTER's identity frame is added/stripped by the caller, so the functions
// here only see:
//
//   frame 0  the envelope: msgpack map {"magic": "RLVR", "v": 1, "type": <int>, "sender": "learner"
//            | "actor-<id>", "seq": <uint64, per sender>, "session": <uint64>}
//   frame 1  the payload: msgpack map, one struct below per type (field names = wire keys)
//   frame 2  raw bytes, only for WEIGHTS_CHUNK (the chunk's data)
//
// docs/PROTOCOL.md documents every field, range and limit and the conversation. Everything here is
// a pure function of its arguments: thread-safe, no global state. decode() never throws.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/data/rollout.h"

namespace rlvr::core::protocol {

// --- Constants ---

inline constexpr std::string_view kMagic = "RLVR";
inline constexpr int64_t kProtocolVersion = 1;  // bump on any incompatible change
inline constexpr std::string_view kLearnerSender = "learner";

// Fixed caps of short fields (not configurable: they bound identifiers and explanations).
inline constexpr size_t kMaxNameBytes = 256;       // fingerprints, host, dataset, sender, tensor names,
                                                   // stats keys, finish_reason
inline constexpr size_t kMaxReasonBytes = 4096;    // reason of WELCOME, UNIT_FAILED, SHUTDOWN, ERROR
inline constexpr size_t kMaxStats = 64;            // HEARTBEAT stats entries
inline constexpr size_t kMaxShapeDims = 8;         // dimensions of a manifest tensor
inline constexpr size_t kMaxEnvelopeBytes = 1024;  // frame 0

// The message types; the value is the envelope's "type". HELLO..ERROR are 1..12.
enum class MessageType : int64_t {
  kHello = 1,            // actor -> learner
  kWelcome = 2,          // learner -> actor
  kHeartbeat = 3,        // both
  kWorkRequest = 4,      // actor -> learner
  kWorkGrant = 5,        // learner -> actor
  kRollouts = 6,         // actor -> learner
  kUnitFailed = 7,       // actor -> learner
  kWeightsAnnounce = 8,  // learner -> actor
  kWeightsRequest = 9,   // actor -> learner
  kWeightsChunk = 10,    // learner -> actor (+ frame 2)
  kShutdown = 11,        // both
  kError = 12,           // learner -> actor
};

// "HELLO", "WEIGHTS_CHUNK", ...; "UNKNOWN" for a value outside the enum.
const char* message_type_name(MessageType type);

// The type with wire value `value`, or nullopt when no type has it.
std::optional<MessageType> message_type_from_int(int64_t value);

// --- Limits ---

// What a decoder accepts: every size a peer declares is checked against these before anything is
// allocated for it. Plain value type; the defaults suit one machine with models up to 128k
// context (the learner and actors set them from the config: learner.max_message_bytes,
// learner.weight_chunk_bytes).
struct ProtocolLimits {
  uint64_t max_frame_bytes = 256ull << 20;   // frames 0 and 1 (default 256 MiB)
  uint64_t max_samples = 4096;               // rollout records in one ROLLOUTS (also caps a unit's n)
  uint64_t max_tokens = 131072;              // entries of one id / logprob / version list
  uint64_t max_units = 4096;                 // units in one WORK_GRANT (also caps want, max_units)
  uint64_t max_chunk_bytes = 64ull << 20;    // frame 2 of WEIGHTS_CHUNK, announced chunk_bytes (64 MiB)
  uint64_t max_string_bytes = 1ull << 20;    // free text: prompt_text, ground_truth, rollout reason (1 MiB)
  uint64_t max_manifest_entries = 65536;     // tensors in WELCOME's manifest
};

// --- Envelope and payloads (plain value types; field names are the wire keys) ---

// Frame 0 without the constant magic and version. The wire's "type" is Message::type().
struct Envelope {
  std::string sender;    // "learner" or "actor-<id>" (see actor_sender)
  uint64_t seq = 0;      // per-sender counter: a gap means lost messages
  uint64_t session = 0;  // the learner's session id, or the actor's incarnation id
};

// An actor introduces itself (first message, and again after a reconnect).
struct Hello {
  int64_t actor_id = 0;             // >= 0
  uint64_t incarnation = 0;         // new on every actor start: tells a restart from a reconnect
  std::string model_fingerprint;    // <= kMaxNameBytes
  std::string config_fingerprint;   // <= kMaxNameBytes
  std::string update_mode;          // "between_samples" | "in_flight"
  int64_t max_units = 1;            // units it works on at once; in [1, limits.max_units]
  std::string host;                 // <= kMaxNameBytes
};

// One tensor of the weights buffer: bytes [offset, offset + bytes) of the whole buffer.
struct ManifestEntry {
  std::string name;            // HF parameter name, 1..kMaxNameBytes, unique in the manifest
  std::string dtype = "F32";   // only "F32"
  std::vector<int64_t> shape;  // each >= 0, at most kMaxShapeDims dims
  uint64_t offset = 0;         // consecutive: the previous entry's offset + bytes (first: 0)
  uint64_t bytes = 0;          // product(shape) * 4
};

// The learner's answer to HELLO.
struct Welcome {
  bool accepted = false;
  std::string reason;                   // why not accepted (<= kMaxReasonBytes); may be empty
  int64_t actor_id = 0;                 // >= 0
  uint64_t learner_session = 0;
  int64_t policy_version = 0;           // >= 0: the version the actor must fetch
  int64_t group_size = 1;               // >= 1
  std::vector<ManifestEntry> manifest;  // <= limits.max_manifest_entries
  uint64_t total_bytes = 0;             // sum of the entries' bytes
};

// Liveness, both directions; any message counts as liveness, this one is sent when idle.
struct Heartbeat {
  uint64_t time_ms = 0;                 // sender's clock (ms), for logs
  std::map<std::string, double> stats;  // optional (omitted when empty); <= kMaxStats finite values
};

// An actor asks for more work.
struct WorkRequest {
  int64_t want = 1;  // units; in [1, limits.max_units]
};

// One unit of work: `n` samples of one prompt (one group).
struct WorkUnit {
  uint64_t unit_id = 0;           // unique within a grant; echoed by ROLLOUTS / UNIT_FAILED
  int64_t prompt_index = 0;       // >= 0
  int64_t epoch = 0;              // >= 0
  std::vector<int32_t> prompt_ids;  // token ids >= 0, <= limits.max_tokens
  std::string prompt_text;        // <= limits.max_string_bytes
  std::string ground_truth;       // <= limits.max_string_bytes
  std::string dataset;            // verifier name, <= kMaxNameBytes
  int64_t n = 1;                  // samples; in [1, limits.max_samples]
  int64_t min_version = 0;        // >= 0: generate with weights at least this new
  uint64_t seed = 0;
};

struct WorkGrant {
  std::vector<WorkUnit> units;  // <= limits.max_units (may be empty: nothing to hand out now)
};

// The samples of one unit. Records are checked for wire types and sizes only; the learner checks
// them against the model with core::validate_rollout.
struct Rollouts {
  uint64_t unit_id = 0;
  std::vector<RolloutSample> samples;  // <= limits.max_samples
  double generate_s = 0;               // finite, >= 0
  double score_s = 0;                  // finite, >= 0
};

// An actor gives a unit back.
struct UnitFailed {
  uint64_t unit_id = 0;
  std::string reason;  // <= kMaxReasonBytes
  bool retry = true;   // the learner may hand the prompt out again
};

// A new policy version is available (sent after WELCOME and after every update).
struct WeightsAnnounce {
  int64_t version = 0;      // >= 0
  uint64_t total_bytes = 0;
  std::string checksum;     // 16 lowercase hex digits: core::content_hash of the whole buffer
  uint64_t chunk_bytes = 1; // in [1, limits.max_chunk_bytes]
  uint64_t num_chunks = 0;  // == ceil(total_bytes / chunk_bytes)
};

struct WeightsRequest {
  int64_t version = 0;  // >= 0
  uint64_t index = 0;   // chunk index
};

// One chunk; `data` travels as frame 2 (it is not a key of the payload map).
struct WeightsChunk {
  int64_t version = 0;     // >= 0
  uint64_t index = 0;
  uint64_t offset = 0;     // offset + data.size() does not overflow
  bool available = true;   // false: that version is no longer served (data is then empty)
  std::string data;        // <= limits.max_chunk_bytes; non-empty when available
};

struct Shutdown {
  std::string reason;  // <= kMaxReasonBytes
};

// The learner refuses a message ("unknown actor: send HELLO").
struct ErrorReport {
  std::string reason;  // <= kMaxReasonBytes
  bool fatal = false;  // true: the actor must stop
};

// The alternatives in MessageType order: index() + 1 is the wire type.
using Payload = std::variant<Hello, Welcome, Heartbeat, WorkRequest, WorkGrant, Rollouts, UnitFailed,
                             WeightsAnnounce, WeightsRequest, WeightsChunk, Shutdown, ErrorReport>;

// One message: envelope + payload. Plain value type.
struct Message {
  Envelope envelope;
  Payload payload;

  MessageType type() const { return static_cast<MessageType>(payload.index() + 1); }
};

bool operator==(const Envelope& a, const Envelope& b);
bool operator==(const ManifestEntry& a, const ManifestEntry& b);
bool operator==(const Hello& a, const Hello& b);
bool operator==(const Welcome& a, const Welcome& b);
bool operator==(const Heartbeat& a, const Heartbeat& b);
bool operator==(const WorkRequest& a, const WorkRequest& b);
bool operator==(const WorkUnit& a, const WorkUnit& b);
bool operator==(const WorkGrant& a, const WorkGrant& b);
bool operator==(const Rollouts& a, const Rollouts& b);  // compares every RolloutSample field
bool operator==(const UnitFailed& a, const UnitFailed& b);
bool operator==(const WeightsAnnounce& a, const WeightsAnnounce& b);
bool operator==(const WeightsRequest& a, const WeightsRequest& b);
bool operator==(const WeightsChunk& a, const WeightsChunk& b);
bool operator==(const Shutdown& a, const Shutdown& b);
bool operator==(const ErrorReport& a, const ErrorReport& b);
bool operator==(const Message& a, const Message& b);
inline bool operator!=(const Message& a, const Message& b) { return !(a == b); }

// --- Encoding ---

// The frames of `m`: envelope, payload and, for WEIGHTS_CHUNK, the chunk's data. Never throws
// (except std::bad_alloc); it does not check the message (see check_message): a peer's decoder
// rejects what breaks the rules above.
std::vector<std::string> encode(const Message& m);

// Frames 0 and 1 only: a WEIGHTS_CHUNK sender appends frame 2 itself (e.g. zero-copy from the
// weights buffer); WeightsChunk::data is ignored.
std::vector<std::string> encode_head(const Message& m);

// --- Decoding ---

// Why frames were rejected. `field` is a path: "frames", "frames[2]", "envelope.magic",
// "payload.samples[3].logprobs[7]"; `problem` says what was wrong and what was expected.
struct DecodeError {
  std::string field;
  std::string problem;
  std::string sender;                // the envelope's sender when the envelope decoded, else empty
  std::optional<MessageType> type;   // the envelope's type when it decoded
  std::optional<uint64_t> unit_id;   // ROLLOUTS / UNIT_FAILED whose unit_id was readable: the
                                     // learner can give that unit's prompts back at once

  std::string to_string() const;     // "<field>: <problem>"
};

// Exactly one of `message` and `error` is meaningful: ok() says which.
struct DecodeResult {
  std::optional<Message> message;
  DecodeError error;

  bool ok() const { return message.has_value(); }
};

// Decodes and checks one multipart message (without the ROUTER identity frame). Never throws,
// never aborts: malformed, truncated, oversized or out-of-range input is an error naming the first
// bad field. Frames 0/1 are parsed with msgpack limits derived from `limits`, so no size a peer
// declares is allocated before it is checked (peak memory: up to 24 bytes per msgpack value, at
// most 24x frame 1 for a frame of one-byte integers; docs/PROTOCOL.md "Errors"). The returned message owns its data (no references into `frames`).
DecodeResult decode(const std::vector<std::string_view>& frames, const ProtocolLimits& limits = {});

// The first rule `m` breaks (the checks decode() applies after parsing: ranges, sizes, formats,
// consistency), as the error decode() would report, or nullopt. For senders and tests.
std::optional<DecodeError> check_message(const Message& m, const ProtocolLimits& limits = {});

// --- Helpers ---

// "actor-<id>" (REQUIRES: id >= 0).
std::string actor_sender(int64_t id);
// The id of an "actor-<id>" sender, or nullopt for "learner" and anything else.
std::optional<int64_t> sender_actor_id(std::string_view sender);

// ceil(total_bytes / chunk_bytes) (REQUIRES: chunk_bytes > 0).
uint64_t chunk_count(uint64_t total_bytes, uint64_t chunk_bytes);

// The data size chunk `index` of `announce` must have (the last chunk may be short), or 0 when
// the index is out of range.
uint64_t expected_chunk_bytes(const WeightsAnnounce& announce, uint64_t index);

// Whether `chunk` is chunk `chunk.index` of `announce`: same version, index < num_chunks, offset
// == index * chunk_bytes, data size as expected_chunk_bytes. Returns the first problem
// ("offset: 100; expected 4096 (index 1 x chunk_bytes)") or nullopt. REQUIRES: chunk.available.
std::optional<std::string> chunk_problem(const WeightsAnnounce& announce, const WeightsChunk& chunk);

// A one-line summary for logs: "ROLLOUTS from actor-2 seq 17: unit 5, 8 samples, 912 tokens".
// Strings are quoted as excerpts, so a huge field never makes a huge line.
std::string to_string(const Message& m);

}  // namespace rlvr::core::protocol
