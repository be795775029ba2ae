// The wire protocol: msgpack encoding, the strict decoder and the message checks (see protocol.h).
//
// Decoding a frame takes three passes, each of which can only reject:
//   1. scan:  a walk over the raw msgpack bytes that checks every declared length (str, list, map)
//             against the limits and that the bytes are really there, naming the path of the
//             first problem ("payload.samples[2].reason: string of 4294967295 bytes; ...");
//   2. parse: msgpack-c unpack under the same unpack_limit (defence in depth: it can no longer
//             fail), then a typed read of every field into the structs (types, presence, unknown
//             or duplicate keys, integer widths);
//   3. check: check_message() on the structs (ranges, sizes, formats, consistency).
// Failures inside this file are a private exception type, caught in decode()/check_message().
#include "core/protocol/protocol.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <limits>
#include <new>
#include <type_traits>
#include <utility>

// msgpack.hpp is included here only (2 s per include, STYLE 18). Without Boost it parses in
// 0.8 s instead of 1.2 s; we use none of its Boost adaptors.
#define MSGPACK_NO_BOOST
#include <fmt/format.h>
#include <msgpack.hpp>

#include "core/error.h"

namespace rlvr::core::protocol {

// --- Names ---

namespace {

constexpr const char* kTypeNames[] = {"HELLO",           "WELCOME",         "HEARTBEAT",
                                      "WORK_REQUEST",    "WORK_GRANT",      "ROLLOUTS",
                                      "UNIT_FAILED",     "WEIGHTS_ANNOUNCE", "WEIGHTS_REQUEST",
                                      "WEIGHTS_CHUNK",   "SHUTDOWN",        "ERROR"};
constexpr int64_t kNumTypes = sizeof(kTypeNames) / sizeof(kTypeNames[0]);
static_assert(kNumTypes == std::variant_size_v<Payload>, "one name per payload type");
static_assert(std::is_same_v<std::variant_alternative_t<9, Payload>, WeightsChunk>,
              "Payload alternatives follow MessageType order");

enum class Direction { kToLearner, kToActor, kBoth };

Direction direction(MessageType t) {
  switch (t) {
    case MessageType::kHeartbeat:
    case MessageType::kShutdown:
      return Direction::kBoth;
    case MessageType::kWelcome:
    case MessageType::kWorkGrant:
    case MessageType::kWeightsAnnounce:
    case MessageType::kWeightsChunk:
    case MessageType::kError:
      return Direction::kToActor;
    default:
      return Direction::kToLearner;
  }
}

}  // namespace

const char* message_type_name(MessageType type) {
  const auto v = static_cast<int64_t>(type);
  return v >= 1 && v <= kNumTypes ? kTypeNames[v - 1] : "UNKNOWN";
}

std::optional<MessageType> message_type_from_int(int64_t value) {
  if (value < 1 || value > kNumTypes) return std::nullopt;
  return static_cast<MessageType>(value);
}

std::string actor_sender(int64_t id) {
  RLVR_ASSERT(id >= 0);
  return fmt::format("actor-{}", id);
}

std::optional<int64_t> sender_actor_id(std::string_view sender) {
  constexpr std::string_view kPrefix = "actor-";
  if (sender.size() <= kPrefix.size() || sender.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  std::string_view digits = sender.substr(kPrefix.size());
  if (digits.size() > 19 || (digits.size() > 1 && digits[0] == '0')) return std::nullopt;
  uint64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
  return static_cast<int64_t>(v);
}

uint64_t chunk_count(uint64_t total_bytes, uint64_t chunk_bytes) {
  RLVR_ASSERT(chunk_bytes > 0);
  return total_bytes / chunk_bytes + (total_bytes % chunk_bytes != 0 ? 1 : 0);
}

uint64_t expected_chunk_bytes(const WeightsAnnounce& a, uint64_t index) {
  if (a.chunk_bytes == 0 || index >= chunk_count(a.total_bytes, a.chunk_bytes)) return 0;
  const uint64_t offset = index * a.chunk_bytes;  // < total_bytes, so no overflow
  return std::min(a.chunk_bytes, a.total_bytes - offset);
}

std::optional<std::string> chunk_problem(const WeightsAnnounce& a, const WeightsChunk& c) {
  if (c.version != a.version) {
    return fmt::format("version: {}; expected {} (the announced version)", c.version, a.version);
  }
  const uint64_t n = a.chunk_bytes == 0 ? 0 : chunk_count(a.total_bytes, a.chunk_bytes);
  if (c.index >= n) return fmt::format("index: {}; expected a chunk index below {}", c.index, n);
  if (c.offset != c.index * a.chunk_bytes) {
    return fmt::format("offset: {}; expected {} (index {} x chunk_bytes {})", c.offset, c.index * a.chunk_bytes,
                       c.index, a.chunk_bytes);
  }
  const uint64_t want = expected_chunk_bytes(a, c.index);
  if (c.data.size() != want) {
    return fmt::format("data: {} bytes; expected {} for chunk {} of {}", c.data.size(), want, c.index, n);
  }
  return std::nullopt;
}

std::string DecodeError::to_string() const { return field + ": " + problem; }

// --- Equality ---

namespace {

bool same_sample(const RolloutSample& a, const RolloutSample& b) {
  return a.prompt_index == b.prompt_index && a.sample_index == b.sample_index && a.actor_id == b.actor_id &&
         a.dataset == b.dataset && a.prompt_ids == b.prompt_ids && a.completion_ids == b.completion_ids &&
         a.logprobs == b.logprobs && a.versions == b.versions && a.finish_reason == b.finish_reason &&
         a.score == b.score && a.answer_found == b.answer_found && a.verifier_error == b.verifier_error &&
         a.reason == b.reason;
}

}  // namespace

bool operator==(const Envelope& a, const Envelope& b) {
  return a.sender == b.sender && a.seq == b.seq && a.session == b.session;
}
bool operator==(const ManifestEntry& a, const ManifestEntry& b) {
  return a.name == b.name && a.dtype == b.dtype && a.shape == b.shape && a.offset == b.offset &&
         a.bytes == b.bytes;
}
bool operator==(const Hello& a, const Hello& b) {
  return a.actor_id == b.actor_id && a.incarnation == b.incarnation &&
         a.model_fingerprint == b.model_fingerprint && a.config_fingerprint == b.config_fingerprint &&
         a.update_mode == b.update_mode && a.max_units == b.max_units && a.host == b.host;
}
bool operator==(const Welcome& a, const Welcome& b) {
  return a.accepted == b.accepted && a.reason == b.reason && a.actor_id == b.actor_id &&
         a.learner_session == b.learner_session && a.policy_version == b.policy_version &&
         a.group_size == b.group_size && a.manifest == b.manifest && a.total_bytes == b.total_bytes;
}
bool operator==(const Heartbeat& a, const Heartbeat& b) { return a.time_ms == b.time_ms && a.stats == b.stats; }
bool operator==(const WorkRequest& a, const WorkRequest& b) { return a.want == b.want; }
bool operator==(const WorkUnit& a, const WorkUnit& b) {
  return a.unit_id == b.unit_id && a.prompt_index == b.prompt_index && a.epoch == b.epoch &&
         a.prompt_ids == b.prompt_ids && a.prompt_text == b.prompt_text && a.ground_truth == b.ground_truth &&
         a.dataset == b.dataset && a.n == b.n && a.min_version == b.min_version && a.seed == b.seed;
}
bool operator==(const WorkGrant& a, const WorkGrant& b) { return a.units == b.units; }
bool operator==(const Rollouts& a, const Rollouts& b) {
  return a.unit_id == b.unit_id && a.generate_s == b.generate_s && a.score_s == b.score_s &&
         std::equal(a.samples.begin(), a.samples.end(), b.samples.begin(), b.samples.end(), same_sample);
}
bool operator==(const UnitFailed& a, const UnitFailed& b) {
  return a.unit_id == b.unit_id && a.reason == b.reason && a.retry == b.retry;
}
bool operator==(const WeightsAnnounce& a, const WeightsAnnounce& b) {
  return a.version == b.version && a.total_bytes == b.total_bytes && a.checksum == b.checksum &&
         a.chunk_bytes == b.chunk_bytes && a.num_chunks == b.num_chunks;
}
bool operator==(const WeightsRequest& a, const WeightsRequest& b) {
  return a.version == b.version && a.index == b.index;
}
bool operator==(const WeightsChunk& a, const WeightsChunk& b) {
  return a.version == b.version && a.index == b.index && a.offset == b.offset && a.available == b.available &&
         a.data == b.data;
}
bool operator==(const Shutdown& a, const Shutdown& b) { return a.reason == b.reason; }
bool operator==(const ErrorReport& a, const ErrorReport& b) { return a.reason == b.reason && a.fatal == b.fatal; }
bool operator==(const Message& a, const Message& b) {
  return a.envelope == b.envelope && a.payload == b.payload;
}

// --- Encoding ---

namespace {

// Packs msgpack values into one frame. REQUIRES: strings and lists shorter than 2^32.
class Writer {
 public:
  void map(size_t n) { pk_.pack_map(size32(n)); }
  void array(size_t n) { pk_.pack_array(size32(n)); }
  void str(std::string_view s) {
    pk_.pack_str(size32(s.size()));
    pk_.pack_str_body(s.data(), static_cast<uint32_t>(s.size()));
  }
  void u64(uint64_t v) { pk_.pack_uint64(v); }
  void i64(int64_t v) { pk_.pack_int64(v); }
  // Floats are written by hand: msgpack-c 4.1's pack_double/pack_float write an integral value
  // as an integer (1.0 -> 1, -0.0 -> 0), which breaks the wire types and loses the sign of zero.
  void f64(double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    raw(0xcb, bits, 8);
  }
  void f32(float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    raw(0xca, bits, 4);
  }
  void boolean(bool v) { v ? pk_.pack_true() : pk_.pack_false(); }

  template <class T>
  void ints(const std::vector<T>& v) {
    array(v.size());
    for (T x : v) i64(x);
  }
  void floats(const std::vector<float>& v) {
    array(v.size());
    for (float x : v) f32(x);
  }

  std::string take() { return std::string(buf_.data(), buf_.size()); }

 private:
  void raw(uint8_t marker, uint64_t bits, int bytes) {
    char b[9];
    b[0] = static_cast<char>(marker);
    for (int i = 0; i < bytes; ++i) b[1 + i] = static_cast<char>((bits >> (8 * (bytes - 1 - i))) & 0xff);
    buf_.write(b, static_cast<size_t>(1 + bytes));
  }
  static uint32_t size32(size_t n) {
    RLVR_ASSERT(n <= std::numeric_limits<uint32_t>::max());
    return static_cast<uint32_t>(n);
  }

  msgpack::sbuffer buf_;
  msgpack::packer<msgpack::sbuffer> pk_{buf_};
};

void write_sample(Writer& w, const RolloutSample& s) {
  w.map(13);
  w.str("prompt_index"), w.i64(s.prompt_index);
  w.str("sample_index"), w.i64(s.sample_index);
  w.str("actor_id"), w.i64(s.actor_id);
  w.str("dataset"), w.str(s.dataset);
  w.str("prompt_ids"), w.ints(s.prompt_ids);
  w.str("completion_ids"), w.ints(s.completion_ids);
  w.str("logprobs"), w.floats(s.logprobs);
  w.str("versions"), w.ints(s.versions);
  w.str("finish_reason"), w.str(s.finish_reason);
  w.str("score"), w.f64(s.score);
  w.str("answer_found"), w.boolean(s.answer_found);
  w.str("verifier_error"), w.boolean(s.verifier_error);
  w.str("reason"), w.str(s.reason);
}

// Writes the payload map of each type (the field order here is the documented one).
struct PayloadWriter {
  Writer& w;

  void operator()(const Hello& m) const {
    w.map(7);
    w.str("actor_id"), w.i64(m.actor_id);
    w.str("incarnation"), w.u64(m.incarnation);
    w.str("model_fingerprint"), w.str(m.model_fingerprint);
    w.str("config_fingerprint"), w.str(m.config_fingerprint);
    w.str("update_mode"), w.str(m.update_mode);
    w.str("max_units"), w.i64(m.max_units);
    w.str("host"), w.str(m.host);
  }
  void operator()(const Welcome& m) const {
    w.map(8);
    w.str("accepted"), w.boolean(m.accepted);
    w.str("reason"), w.str(m.reason);
    w.str("actor_id"), w.i64(m.actor_id);
    w.str("learner_session"), w.u64(m.learner_session);
    w.str("policy_version"), w.i64(m.policy_version);
    w.str("group_size"), w.i64(m.group_size);
    w.str("manifest"), w.array(m.manifest.size());
    for (const auto& e : m.manifest) {
      w.map(5);
      w.str("name"), w.str(e.name);
      w.str("dtype"), w.str(e.dtype);
      w.str("shape"), w.ints(e.shape);
      w.str("offset"), w.u64(e.offset);
      w.str("bytes"), w.u64(e.bytes);
    }
    w.str("total_bytes"), w.u64(m.total_bytes);
  }
  void operator()(const Heartbeat& m) const {
    w.map(m.stats.empty() ? 1 : 2);
    w.str("time_ms"), w.u64(m.time_ms);
    if (m.stats.empty()) return;
    w.str("stats"), w.map(m.stats.size());
    for (const auto& [k, v] : m.stats) w.str(k), w.f64(v);
  }
  void operator()(const WorkRequest& m) const {
    w.map(1);
    w.str("want"), w.i64(m.want);
  }
  void operator()(const WorkGrant& m) const {
    w.map(1);
    w.str("units"), w.array(m.units.size());
    for (const auto& u : m.units) {
      w.map(10);
      w.str("unit_id"), w.u64(u.unit_id);
      w.str("prompt_index"), w.i64(u.prompt_index);
      w.str("epoch"), w.i64(u.epoch);
      w.str("prompt_ids"), w.ints(u.prompt_ids);
      w.str("prompt_text"), w.str(u.prompt_text);
      w.str("ground_truth"), w.str(u.ground_truth);
      w.str("dataset"), w.str(u.dataset);
      w.str("n"), w.i64(u.n);
      w.str("min_version"), w.i64(u.min_version);
      w.str("seed"), w.u64(u.seed);
    }
  }
  void operator()(const Rollouts& m) const {
    w.map(4);
    w.str("unit_id"), w.u64(m.unit_id);
    w.str("samples"), w.array(m.samples.size());
    for (const auto& s : m.samples) write_sample(w, s);
    w.str("generate_s"), w.f64(m.generate_s);
    w.str("score_s"), w.f64(m.score_s);
  }
  void operator()(const UnitFailed& m) const {
    w.map(3);
    w.str("unit_id"), w.u64(m.unit_id);
    w.str("reason"), w.str(m.reason);
    w.str("retry"), w.boolean(m.retry);
  }
  void operator()(const WeightsAnnounce& m) const {
    w.map(5);
    w.str("version"), w.i64(m.version);
    w.str("total_bytes"), w.u64(m.total_bytes);
    w.str("checksum"), w.str(m.checksum);
    w.str("chunk_bytes"), w.u64(m.chunk_bytes);
    w.str("num_chunks"), w.u64(m.num_chunks);
  }
  void operator()(const WeightsRequest& m) const {
    w.map(2);
    w.str("version"), w.i64(m.version);
    w.str("index"), w.u64(m.index);
  }
  void operator()(const WeightsChunk& m) const {
    w.map(4);
    w.str("version"), w.i64(m.version);
    w.str("index"), w.u64(m.index);
    w.str("offset"), w.u64(m.offset);
    w.str("available"), w.boolean(m.available);
  }
  void operator()(const Shutdown& m) const {
    w.map(1);
    w.str("reason"), w.str(m.reason);
  }
  void operator()(const ErrorReport& m) const {
    w.map(2);
    w.str("reason"), w.str(m.reason);
    w.str("fatal"), w.boolean(m.fatal);
  }
};

}  // namespace

std::vector<std::string> encode_head(const Message& m) {
  std::vector<std::string> frames;
  frames.reserve(3);
  Writer env;
  env.map(6);
  env.str("magic"), env.str(kMagic);
  env.str("v"), env.i64(kProtocolVersion);
  env.str("type"), env.i64(static_cast<int64_t>(m.type()));
  env.str("sender"), env.str(m.envelope.sender);
  env.str("seq"), env.u64(m.envelope.seq);
  env.str("session"), env.u64(m.envelope.session);
  frames.push_back(env.take());
  Writer payload;
  std::visit(PayloadWriter{payload}, m.payload);
  frames.push_back(payload.take());
  return frames;
}

std::vector<std::string> encode(const Message& m) {
  std::vector<std::string> frames = encode_head(m);
  if (const auto* chunk = std::get_if<WeightsChunk>(&m.payload)) frames.push_back(chunk->data);
  return frames;
}

// --- Decoding: failures and field paths ---

namespace {

// A rejection inside this file; decode()/check_message() turn it into a DecodeError.
struct Failure {
  std::string field;
  std::string problem;
};

[[noreturn]] void fail(std::string field, std::string problem) {
  throw Failure{std::move(field), std::move(problem)};
}

// A field path, turned into text only when a failure is reported. Each Path points at its parent,
// so a Path must not outlive the one it was made from (make children as locals or arguments).
struct Path {
  const Path* parent = nullptr;
  std::string_view key;  // map key (or the root name); empty with is_index
  size_t index = 0;
  bool is_index = false;

  Path child(std::string_view k) const { return Path{this, k, 0, false}; }
  Path at(size_t i) const { return Path{this, {}, i, true}; }

  std::string str() const {
    std::string s = parent ? parent->str() : std::string();
    if (is_index) return s + fmt::format("[{}]", index);
    if (!s.empty()) s += '.';
    return s + excerpt(key, 60);
  }
};

// "a string ('abc')", "an integer (-5)", "a list of 3" ... for "expected X, got Y".
std::string describe(const msgpack::object& o) {
  switch (o.type) {
    case msgpack::type::NIL:
      return "nil";
    case msgpack::type::BOOLEAN:
      return o.via.boolean ? "true" : "false";
    case msgpack::type::POSITIVE_INTEGER:
      return fmt::format("an integer ({})", o.via.u64);
    case msgpack::type::NEGATIVE_INTEGER:
      return fmt::format("an integer ({})", o.via.i64);
    case msgpack::type::FLOAT32:
      return fmt::format("a float32 ({})", o.via.f64);
    case msgpack::type::FLOAT64:
      return fmt::format("a float64 ({})", o.via.f64);
    case msgpack::type::STR:
      return fmt::format("a string ('{}')", excerpt(std::string_view(o.via.str.ptr, o.via.str.size), 40));
    case msgpack::type::BIN:
      return fmt::format("binary data ({} bytes)", o.via.bin.size);
    case msgpack::type::ARRAY:
      return fmt::format("a list of {}", o.via.array.size);
    case msgpack::type::MAP:
      return fmt::format("a map of {} entries", o.via.map.size);
    default:
      return "an extension value";
  }
}

// --- Decoding: pass 1, the byte scan ---

// What the scan and msgpack-c's unpack_limit accept in one frame.
struct ScanLimits {
  uint32_t array = 0;  // entries of any list
  uint32_t map = 0;    // entries of any map
  uint32_t str = 0;    // bytes of any string
  int depth = 0;       // nested containers (the root map is 1)
  const char* array_limit_name = "";
  const char* str_limit_name = "";

  msgpack::unpack_limit unpack_limit() const {
    return msgpack::unpack_limit(array, map, str, /*bin=*/0, /*ext=*/0, static_cast<size_t>(depth));
  }
};

uint32_t clamp32(uint64_t v) {
  return static_cast<uint32_t>(std::min<uint64_t>(v, std::numeric_limits<uint32_t>::max()));
}

ScanLimits envelope_scan_limits() {
  ScanLimits s;
  s.array = 0;
  s.map = 16;
  s.str = kMaxNameBytes;
  s.depth = 1;
  s.array_limit_name = "the envelope has no lists";
  s.str_limit_name = "kMaxNameBytes";
  return s;
}

ScanLimits payload_scan_limits(const ProtocolLimits& L) {
  ScanLimits s;
  s.array = clamp32(std::max({L.max_samples, L.max_tokens, L.max_units, L.max_manifest_entries,
                              static_cast<uint64_t>(kMaxShapeDims)}));
  s.map = 256;  // > kMaxStats and any struct's field count, so check_message names the field
  s.str = clamp32(std::max({L.max_string_bytes, static_cast<uint64_t>(kMaxReasonBytes),
                            static_cast<uint64_t>(kMaxNameBytes)}));
  s.depth = 4;  // payload map > list > map > list (samples[i].prompt_ids, manifest[i].shape)
  s.array_limit_name = "the largest of limits.max_samples, max_tokens, max_units, max_manifest_entries";
  s.str_limit_name = "the longest any field allows: limits.max_string_bytes or kMaxReasonBytes";
  return s;
}

// Walks the msgpack bytes of one frame without building anything, checking that every value is
// complete and every declared length fits `limits`. Recursion is bounded by limits.depth.
class Scanner {
 public:
  Scanner(std::string_view bytes, const ScanLimits& limits) : b_(bytes), lim_(limits) {}

  // REQUIRES: the frame holds exactly one map.
  void frame(const Path& root) {
    if (b_.empty()) fail(root.str(), "empty frame; expected a msgpack map");
    const auto first = static_cast<uint8_t>(b_[0]);
    if (!((first >= 0x80 && first <= 0x8f) || first == 0xde || first == 0xdf)) {
      fail(root.str(), fmt::format("starts with byte 0x{:02x}, not a msgpack map; expected a map", first));
    }
    value(root, 1);
    if (pos_ != b_.size()) {
      fail(root.str(), fmt::format("{} bytes after the msgpack map; expected nothing", b_.size() - pos_));
    }
  }

 private:
  void need(size_t n, const Path& p) {
    if (b_.size() - pos_ < n) {
      fail(p.str(), fmt::format("truncated: the value needs {} more bytes, {} are left", n, b_.size() - pos_));
    }
  }
  uint64_t be(size_t n, const Path& p) {
    need(n, p);
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(b_[pos_ + i]);
    pos_ += n;
    return v;
  }
  void skip(uint64_t n, const Path& p) {
    need(n, p);
    pos_ += n;
  }
  // A map key: returns the key text when it is a string (for the value's path).
  std::string_view key(const Path& p, int depth) {
    need(1, p);
    const auto c = static_cast<uint8_t>(b_[pos_]);
    uint64_t n = 0;
    size_t header = 0;
    if (c >= 0xa0 && c <= 0xbf) {
      n = c & 0x1f, header = 1;
    } else if (c == 0xd9 || c == 0xda || c == 0xdb) {
      const size_t len_bytes = c == 0xd9 ? 1 : c == 0xda ? 2 : 4;
      need(1 + len_bytes, p);
      for (size_t i = 0; i < len_bytes; ++i) n = (n << 8) | static_cast<uint8_t>(b_[pos_ + 1 + i]);
      header = 1 + len_bytes;
    } else {
      value(p.child("(key)"), depth);  // not a string: parse rejects it with its type
      return "(non-string key)";
    }
    if (n > lim_.str) fail(p.str(), fmt::format("map key of {} bytes; expected at most {}", n, lim_.str));
    need(header + n, p);
    std::string_view k = b_.substr(pos_ + header, n);
    pos_ += header + n;
    return k;
  }

  void container_depth(const Path& p, int depth) {
    if (depth > lim_.depth) {
      fail(p.str(), fmt::format("nested {} levels deep; expected at most {} (no message nests deeper)", depth,
                                lim_.depth));
    }
  }
  void array_body(uint64_t n, const Path& p, int depth) {
    container_depth(p, depth);
    if (n > lim_.array) {
      fail(p.str(), fmt::format("list of {} entries; expected at most {} ({})", n, lim_.array, lim_.array_limit_name));
    }
    for (uint64_t i = 0; i < n; ++i) value(p.at(i), depth + 1);
  }
  void map_body(uint64_t n, const Path& p, int depth) {
    container_depth(p, depth);
    if (n > lim_.map) fail(p.str(), fmt::format("map of {} entries; expected at most {}", n, lim_.map));
    for (uint64_t i = 0; i < n; ++i) {
      std::string_view k = key(p, depth + 1);
      value(p.child(k), depth + 1);
    }
  }
  void str_body(uint64_t n, const Path& p) {
    if (n > lim_.str) {
      fail(p.str(), fmt::format("string of {} bytes; expected at most {} ({})", n, lim_.str, lim_.str_limit_name));
    }
    skip(n, p);
  }

  void value(const Path& p, int depth) {
    need(1, p);
    const auto c = static_cast<uint8_t>(b_[pos_++]);
    if (c <= 0x7f || c >= 0xe0) return;  // fixint
    if (c >= 0x80 && c <= 0x8f) return map_body(c & 0x0f, p, depth);
    if (c >= 0x90 && c <= 0x9f) return array_body(c & 0x0f, p, depth);
    if (c >= 0xa0 && c <= 0xbf) return str_body(c & 0x1f, p);
    switch (c) {
      case 0xc0:  // nil
      case 0xc2:  // false
      case 0xc3:  // true
        return;
      case 0xc4:
      case 0xc5:
      case 0xc6: {
        const uint64_t n = be(c == 0xc4 ? 1 : c == 0xc5 ? 2 : 4, p);
        fail(p.str(), fmt::format("binary data ({} bytes); expected a msgpack string or number (raw bytes "
                                  "travel only in frame 2)", n));
      }
      case 0xc7:
      case 0xc8:
      case 0xc9:
      case 0xd4:
      case 0xd5:
      case 0xd6:
      case 0xd7:
      case 0xd8:
        fail(p.str(), "a msgpack extension value; expected a string, number, list or map");
      case 0xca:
        return skip(4, p);
      case 0xcb:
        return skip(8, p);
      case 0xcc:
      case 0xd0:
        return skip(1, p);
      case 0xcd:
      case 0xd1:
        return skip(2, p);
      case 0xce:
      case 0xd2:
        return skip(4, p);
      case 0xcf:
      case 0xd3:
        return skip(8, p);
      case 0xd9:
        return str_body(be(1, p), p);
      case 0xda:
        return str_body(be(2, p), p);
      case 0xdb:
        return str_body(be(4, p), p);
      case 0xdc:
        return array_body(be(2, p), p, depth);
      case 0xdd:
        return array_body(be(4, p), p, depth);
      case 0xde:
        return map_body(be(2, p), p, depth);
      case 0xdf:
        return map_body(be(4, p), p, depth);
      default:  // 0xc1: never used
        fail(p.str(), fmt::format("byte 0x{:02x} is not a msgpack type; expected msgpack data", c));
    }
  }

  std::string_view b_;
  const ScanLimits& lim_;
  size_t pos_ = 0;
};

// --- Decoding: pass 2, unpack and typed reads ---

bool reference_input(msgpack::type::object_type, std::size_t, void*) { return true; }

// Scans and unpacks one frame. Strings in the result point into `bytes` (which must outlive it).
msgpack::object_handle unpack_frame(std::string_view bytes, const Path& root, const ScanLimits& limits) {
  Scanner(bytes, limits).frame(root);
  try {
    std::size_t off = 0;
    msgpack::object_handle h =
        msgpack::unpack(bytes.data(), bytes.size(), off, reference_input, nullptr, limits.unpack_limit());
    if (off != bytes.size() || h.get().type != msgpack::type::MAP) {
      fail(root.str(), "not one msgpack map (after the byte scan accepted it: a decoder bug)");
    }
    return h;
  } catch (const msgpack::unpack_error& e) {
    fail(root.str(), fmt::format("msgpack rejected it after the byte scan accepted it ({})", e.what()));
  }
}

uint64_t read_u64(const msgpack::object& o, const Path& p) {
  if (o.type != msgpack::type::POSITIVE_INTEGER) {
    fail(p.str(), fmt::format("expected an unsigned integer, got {}", describe(o)));
  }
  return o.via.u64;
}

int64_t read_i64(const msgpack::object& o, const Path& p) {
  if (o.type == msgpack::type::NEGATIVE_INTEGER) return o.via.i64;
  if (o.type != msgpack::type::POSITIVE_INTEGER) fail(p.str(), fmt::format("expected an integer, got {}", describe(o)));
  if (o.via.u64 > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    fail(p.str(), fmt::format("{} is out of range; expected a signed 64-bit integer", o.via.u64));
  }
  return static_cast<int64_t>(o.via.u64);
}

int32_t read_i32(const msgpack::object& o, const Path& p) {
  const int64_t v = read_i64(o, p);
  if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()) {
    fail(p.str(), fmt::format("{} is out of range; expected a 32-bit token id", v));
  }
  return static_cast<int32_t>(v);
}

double read_f64(const msgpack::object& o, const Path& p) {
  if (o.type != msgpack::type::FLOAT64 && o.type != msgpack::type::FLOAT32) {
    fail(p.str(), fmt::format("expected a float, got {}", describe(o)));
  }
  return o.via.f64;
}

float read_f32(const msgpack::object& o, const Path& p) {
  if (o.type != msgpack::type::FLOAT32) fail(p.str(), fmt::format("expected a float32, got {}", describe(o)));
  return static_cast<float>(o.via.f64);  // exact: msgpack-c widened a float32
}

bool read_bool(const msgpack::object& o, const Path& p) {
  if (o.type != msgpack::type::BOOLEAN) fail(p.str(), fmt::format("expected true or false, got {}", describe(o)));
  return o.via.boolean;
}

std::string read_str(const msgpack::object& o, const Path& p) {
  if (o.type != msgpack::type::STR) fail(p.str(), fmt::format("expected a string, got {}", describe(o)));
  return std::string(o.via.str.ptr, o.via.str.size);
}

const msgpack::object_array& read_list(const msgpack::object& o, const Path& p) {
  if (o.type != msgpack::type::ARRAY) fail(p.str(), fmt::format("expected a list, got {}", describe(o)));
  return o.via.array;
}

template <class T, class Read>
std::vector<T> read_numbers(const msgpack::object& o, const Path& p, Read read) {
  const auto& a = read_list(o, p);
  std::vector<T> out;
  out.reserve(a.size);  // a.size entries exist: the scan and unpack checked them
  for (uint32_t i = 0; i < a.size; ++i) out.push_back(read(a.ptr[i], p.at(i)));
  return out;
}

// The fields of one map, by name: unknown and duplicate keys and missing required fields are
// rejected here. `what` names the map in messages ("HELLO", "a rollout record").
class Fields {
 public:
  static constexpr size_t kMaxFields = 16;

  Fields(const msgpack::object& o, const Path& p, const char* what, std::initializer_list<const char*> required,
         std::initializer_list<const char*> optional = {})
      : path_(p) {
    if (o.type != msgpack::type::MAP) fail(p.str(), fmt::format("expected a map ({}), got {}", what, describe(o)));
    for (const char* n : required) add(n, true);
    for (const char* n : optional) add(n, false);
    for (uint32_t i = 0; i < o.via.map.size; ++i) {
      const msgpack::object_kv& kv = o.via.map.ptr[i];
      if (kv.key.type != msgpack::type::STR) {
        fail(p.str(), fmt::format("map key #{} is {}; expected field names (strings)", i, describe(kv.key)));
      }
      const std::string_view k(kv.key.via.str.ptr, kv.key.via.str.size);
      size_t f = 0;
      while (f < count_ && names_[f] != k) ++f;
      if (f == count_) fail(p.child(k).str(), fmt::format("unknown field in {}; expected only {}", what, list_names()));
      if (values_[f]) fail(p.child(k).str(), "appears twice; expected each field once");
      values_[f] = &kv.val;
    }
    for (size_t f = 0; f < count_; ++f) {
      if (required_[f] && !values_[f]) fail(p.child(names_[f]).str(), fmt::format("missing; {} requires it", what));
    }
  }

  // The value of a required field (or nullptr for an absent optional one) and its path.
  const msgpack::object* get(std::string_view name) const {
    for (size_t f = 0; f < count_; ++f) {
      if (names_[f] == name) return values_[f];
    }
    RLVR_ASSERT(false && "field not declared");
    return nullptr;
  }
  const msgpack::object& operator[](std::string_view name) const { return *get(name); }
  Path path(std::string_view name) const { return path_.child(name); }

  uint64_t u64(const char* n) const { return read_u64((*this)[n], path(n)); }
  int64_t i64(const char* n) const { return read_i64((*this)[n], path(n)); }
  double f64(const char* n) const { return read_f64((*this)[n], path(n)); }
  bool boolean(const char* n) const { return read_bool((*this)[n], path(n)); }
  std::string str(const char* n) const { return read_str((*this)[n], path(n)); }

 private:
  void add(const char* name, bool required) {
    RLVR_ASSERT(count_ < kMaxFields);
    names_[count_] = name;
    required_[count_] = required;
    ++count_;
  }
  std::string list_names() const {
    std::string s;
    for (size_t f = 0; f < count_; ++f) s += (f ? ", " : "") + std::string(names_[f]);
    return s;
  }

  const Path& path_;
  std::string_view names_[kMaxFields];
  bool required_[kMaxFields] = {};
  const msgpack::object* values_[kMaxFields] = {};
  size_t count_ = 0;
};

RolloutSample parse_sample(const msgpack::object& o, const Path& p) {
  Fields f(o, p, "a rollout record",
           {"prompt_index", "sample_index", "actor_id", "dataset", "prompt_ids", "completion_ids", "logprobs",
            "versions", "finish_reason", "score", "answer_found", "verifier_error", "reason"});
  RolloutSample s;
  s.prompt_index = f.i64("prompt_index");
  s.sample_index = f.i64("sample_index");
  s.actor_id = f.i64("actor_id");
  s.dataset = f.str("dataset");
  s.prompt_ids = read_numbers<int32_t>(f["prompt_ids"], f.path("prompt_ids"), read_i32);
  s.completion_ids = read_numbers<int32_t>(f["completion_ids"], f.path("completion_ids"), read_i32);
  s.logprobs = read_numbers<float>(f["logprobs"], f.path("logprobs"), read_f32);
  s.versions = read_numbers<int64_t>(f["versions"], f.path("versions"), read_i64);
  s.finish_reason = f.str("finish_reason");
  s.score = f.f64("score");
  s.answer_found = f.boolean("answer_found");
  s.verifier_error = f.boolean("verifier_error");
  s.reason = f.str("reason");
  return s;
}

Payload parse_payload(MessageType type, const msgpack::object& o, const Path& p) {
  const char* what = message_type_name(type);
  switch (type) {
    case MessageType::kHello: {
      Fields f(o, p, what, {"actor_id", "incarnation", "model_fingerprint", "config_fingerprint", "update_mode",
                            "max_units", "host"});
      Hello m;
      m.actor_id = f.i64("actor_id");
      m.incarnation = f.u64("incarnation");
      m.model_fingerprint = f.str("model_fingerprint");
      m.config_fingerprint = f.str("config_fingerprint");
      m.update_mode = f.str("update_mode");
      m.max_units = f.i64("max_units");
      m.host = f.str("host");
      return m;
    }
    case MessageType::kWelcome: {
      Fields f(o, p, what, {"accepted", "reason", "actor_id", "learner_session", "policy_version", "group_size",
                            "manifest", "total_bytes"});
      Welcome m;
      m.accepted = f.boolean("accepted");
      m.reason = f.str("reason");
      m.actor_id = f.i64("actor_id");
      m.learner_session = f.u64("learner_session");
      m.policy_version = f.i64("policy_version");
      m.group_size = f.i64("group_size");
      const Path mp = f.path("manifest");
      const auto& list = read_list(f["manifest"], mp);
      m.manifest.reserve(list.size);
      for (uint32_t i = 0; i < list.size; ++i) {
        const Path ep = mp.at(i);
        Fields e(list.ptr[i], ep, "a manifest entry", {"name", "dtype", "shape", "offset", "bytes"});
        ManifestEntry entry;
        entry.name = e.str("name");
        entry.dtype = e.str("dtype");
        entry.shape = read_numbers<int64_t>(e["shape"], e.path("shape"), read_i64);
        entry.offset = e.u64("offset");
        entry.bytes = e.u64("bytes");
        m.manifest.push_back(std::move(entry));
      }
      m.total_bytes = f.u64("total_bytes");
      return m;
    }
    case MessageType::kHeartbeat: {
      Fields f(o, p, what, {"time_ms"}, {"stats"});
      Heartbeat m;
      m.time_ms = f.u64("time_ms");
      if (const msgpack::object* stats = f.get("stats")) {
        const Path sp = f.path("stats");
        if (stats->type != msgpack::type::MAP) {
          fail(sp.str(), fmt::format("expected a map of name -> number, got {}", describe(*stats)));
        }
        for (uint32_t i = 0; i < stats->via.map.size; ++i) {
          const msgpack::object_kv& kv = stats->via.map.ptr[i];
          if (kv.key.type != msgpack::type::STR) {
            fail(sp.str(), fmt::format("key #{} is {}; expected stat names (strings)", i, describe(kv.key)));
          }
          std::string name(kv.key.via.str.ptr, kv.key.via.str.size);
          const double v = read_f64(kv.val, sp.child(name));
          if (!m.stats.emplace(std::move(name), v).second) {
            fail(sp.child(std::string_view(kv.key.via.str.ptr, kv.key.via.str.size)).str(),
                 "appears twice; expected each stat once");
          }
        }
      }
      return m;
    }
    case MessageType::kWorkRequest: {
      Fields f(o, p, what, {"want"});
      WorkRequest m;
      m.want = f.i64("want");
      return m;
    }
    case MessageType::kWorkGrant: {
      Fields f(o, p, what, {"units"});
      WorkGrant m;
      const Path up = f.path("units");
      const auto& list = read_list(f["units"], up);
      m.units.reserve(list.size);
      for (uint32_t i = 0; i < list.size; ++i) {
        const Path ip = up.at(i);
        Fields u(list.ptr[i], ip, "a work unit",
                 {"unit_id", "prompt_index", "epoch", "prompt_ids", "prompt_text", "ground_truth", "dataset", "n",
                  "min_version", "seed"});
        WorkUnit unit;
        unit.unit_id = u.u64("unit_id");
        unit.prompt_index = u.i64("prompt_index");
        unit.epoch = u.i64("epoch");
        unit.prompt_ids = read_numbers<int32_t>(u["prompt_ids"], u.path("prompt_ids"), read_i32);
        unit.prompt_text = u.str("prompt_text");
        unit.ground_truth = u.str("ground_truth");
        unit.dataset = u.str("dataset");
        unit.n = u.i64("n");
        unit.min_version = u.i64("min_version");
        unit.seed = u.u64("seed");
        m.units.push_back(std::move(unit));
      }
      return m;
    }
    case MessageType::kRollouts: {
      Fields f(o, p, what, {"unit_id", "samples", "generate_s", "score_s"});
      Rollouts m;
      m.unit_id = f.u64("unit_id");
      const Path sp = f.path("samples");
      const auto& list = read_list(f["samples"], sp);
      m.samples.reserve(list.size);
      for (uint32_t i = 0; i < list.size; ++i) m.samples.push_back(parse_sample(list.ptr[i], sp.at(i)));
      m.generate_s = f.f64("generate_s");
      m.score_s = f.f64("score_s");
      return m;
    }
    case MessageType::kUnitFailed: {
      Fields f(o, p, what, {"unit_id", "reason", "retry"});
      UnitFailed m;
      m.unit_id = f.u64("unit_id");
      m.reason = f.str("reason");
      m.retry = f.boolean("retry");
      return m;
    }
    case MessageType::kWeightsAnnounce: {
      Fields f(o, p, what, {"version", "total_bytes", "checksum", "chunk_bytes", "num_chunks"});
      WeightsAnnounce m;
      m.version = f.i64("version");
      m.total_bytes = f.u64("total_bytes");
      m.checksum = f.str("checksum");
      m.chunk_bytes = f.u64("chunk_bytes");
      m.num_chunks = f.u64("num_chunks");
      return m;
    }
    case MessageType::kWeightsRequest: {
      Fields f(o, p, what, {"version", "index"});
      WeightsRequest m;
      m.version = f.i64("version");
      m.index = f.u64("index");
      return m;
    }
    case MessageType::kWeightsChunk: {
      Fields f(o, p, what, {"version", "index", "offset", "available"});
      WeightsChunk m;
      m.version = f.i64("version");
      m.index = f.u64("index");
      m.offset = f.u64("offset");
      m.available = f.boolean("available");
      return m;
    }
    case MessageType::kShutdown: {
      Fields f(o, p, what, {"reason"});
      Shutdown m;
      m.reason = f.str("reason");
      return m;
    }
    case MessageType::kError: {
      Fields f(o, p, what, {"reason", "fatal"});
      ErrorReport m;
      m.reason = f.str("reason");
      m.fatal = f.boolean("fatal");
      return m;
    }
  }
  RLVR_ASSERT(false && "unhandled message type");
  return Shutdown{};
}

// --- Checks (pass 3): ranges, sizes, formats, consistency ---

void check_at_least(const std::string& field, int64_t v, int64_t lo, const char* what) {
  if (v < lo) fail(field, fmt::format("{}; expected {} >= {}", v, what, lo));
}

void check_between(const std::string& field, int64_t v, int64_t lo, uint64_t hi, const char* what,
                   const char* limit_name) {
  if (v < lo || static_cast<uint64_t>(v) > hi) {
    fail(field, fmt::format("{}; expected {} in [{}, {}]{}", v, what, lo, hi, limit_name));
  }
}

void check_bytes(const std::string& field, const std::string& s, uint64_t max, const char* limit_name) {
  if (s.size() > max) {
    fail(field, fmt::format("string of {} bytes ('{}'); expected at most {} ({})", s.size(), excerpt(s, 40), max,
                            limit_name));
  }
}

void check_name(const std::string& field, const std::string& s) {
  check_bytes(field, s, kMaxNameBytes, "kMaxNameBytes");
}

void check_reason(const std::string& field, const std::string& s) {
  check_bytes(field, s, kMaxReasonBytes, "kMaxReasonBytes; senders cut longer reasons with rlvr::excerpt");
}

void check_count(const std::string& field, size_t n, uint64_t max, const char* what, const char* limit_name) {
  if (n > max) fail(field, fmt::format("{} {}; expected at most {} ({})", n, what, max, limit_name));
}

void check_finite(const std::string& field, double v, bool non_negative) {
  if (!std::isfinite(v)) fail(field, fmt::format("{}; expected a finite number", v));
  if (non_negative && v < 0) fail(field, fmt::format("{}; expected a number >= 0", v));
}

template <class T>
void check_token_ids(const std::string& field, const std::vector<T>& ids, const ProtocolLimits& L, bool non_negative) {
  check_count(field, ids.size(), L.max_tokens, "entries", "limits.max_tokens");
  if (!non_negative) return;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0) fail(fmt::format("{}[{}]", field, i), fmt::format("{}; expected a token id >= 0", ids[i]));
  }
}

void check_envelope(const Envelope& e, MessageType type) {
  const bool learner = e.sender == kLearnerSender;
  if (!learner && !sender_actor_id(e.sender)) {
    fail("envelope.sender", fmt::format("'{}'; expected 'learner' or 'actor-<id>'", excerpt(e.sender, 40)));
  }
  const Direction d = direction(type);
  if (d == Direction::kToLearner && learner) {
    fail("envelope.sender", fmt::format("'learner' sent {}; expected an actor: {} goes actor -> learner",
                                        message_type_name(type), message_type_name(type)));
  }
  if (d == Direction::kToActor && !learner) {
    fail("envelope.sender", fmt::format("'{}' sent {}; expected 'learner': {} goes learner -> actor", e.sender,
                                        message_type_name(type), message_type_name(type)));
  }
}

void check_sample(const RolloutSample& s, const std::string& p, const ProtocolLimits& L) {
  check_name(p + ".dataset", s.dataset);
  check_token_ids(p + ".prompt_ids", s.prompt_ids, L, false);
  check_token_ids(p + ".completion_ids", s.completion_ids, L, false);
  check_count(p + ".logprobs", s.logprobs.size(), L.max_tokens, "entries", "limits.max_tokens");
  for (size_t i = 0; i < s.logprobs.size(); ++i) {
    if (!std::isfinite(s.logprobs[i])) {
      fail(fmt::format("{}.logprobs[{}]", p, i), fmt::format("{}; expected a finite log-probability", s.logprobs[i]));
    }
  }
  check_count(p + ".versions", s.versions.size(), L.max_tokens, "entries", "limits.max_tokens");
  check_name(p + ".finish_reason", s.finish_reason);
  check_finite(p + ".score", s.score, false);
  check_bytes(p + ".reason", s.reason, L.max_string_bytes, "limits.max_string_bytes");
}

void check_manifest(const Welcome& m, const ProtocolLimits& L) {
  check_count("payload.manifest", m.manifest.size(), L.max_manifest_entries, "entries",
              "limits.max_manifest_entries");
  std::vector<std::string_view> names;
  names.reserve(m.manifest.size());
  uint64_t offset = 0;
  for (size_t i = 0; i < m.manifest.size(); ++i) {
    const ManifestEntry& e = m.manifest[i];
    const std::string p = fmt::format("payload.manifest[{}]", i);
    if (e.name.empty()) fail(p + ".name", "empty; expected the tensor's name");
    check_name(p + ".name", e.name);
    if (e.dtype != "F32") fail(p + ".dtype", fmt::format("'{}'; expected F32", excerpt(e.dtype, 40)));
    check_count(p + ".shape", e.shape.size(), kMaxShapeDims, "dimensions", "kMaxShapeDims");
    uint64_t bytes = 4;
    bool overflow = false;
    for (size_t d = 0; d < e.shape.size(); ++d) {
      if (e.shape[d] < 0) fail(fmt::format("{}.shape[{}]", p, d), fmt::format("{}; expected a size >= 0", e.shape[d]));
      const auto dim = static_cast<uint64_t>(e.shape[d]);
      if (dim != 0 && bytes > std::numeric_limits<uint64_t>::max() / dim) overflow = true;
      bytes = overflow ? 0 : bytes * dim;
    }
    if (overflow) fail(p + ".shape", "more than 2^64 bytes; expected a tensor that fits in memory");
    if (e.bytes != bytes) {
      fail(p + ".bytes", fmt::format("{}; expected {} (product of shape x 4 bytes for F32)", e.bytes, bytes));
    }
    if (e.offset != offset) {
      fail(p + ".offset", fmt::format("{}; expected {} (entries are consecutive: the previous entry's offset + bytes)",
                                      e.offset, offset));
    }
    if (e.bytes > std::numeric_limits<uint64_t>::max() - offset) {
      fail(p + ".bytes", "the buffer would exceed 2^64 bytes; expected a smaller manifest");
    }
    offset += e.bytes;
    names.push_back(e.name);
  }
  if (m.total_bytes != offset) {
    fail("payload.total_bytes", fmt::format("{}; expected {} (the sum of the manifest's bytes)", m.total_bytes, offset));
  }
  std::vector<size_t> order(names.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return names[a] < names[b]; });
  for (size_t k = 1; k < order.size(); ++k) {
    if (names[order[k]] == names[order[k - 1]]) {
      fail(fmt::format("payload.manifest[{}].name", order[k]),
           fmt::format("'{}' also names entry {}; expected unique names", excerpt(names[order[k]], 60), order[k - 1]));
    }
  }
}

struct PayloadChecker {
  const ProtocolLimits& L;

  void operator()(const Hello& m) const {
    check_at_least("payload.actor_id", m.actor_id, 0, "an actor id");
    check_name("payload.model_fingerprint", m.model_fingerprint);
    check_name("payload.config_fingerprint", m.config_fingerprint);
    if (m.update_mode != "between_samples" && m.update_mode != "in_flight") {
      fail("payload.update_mode",
           fmt::format("'{}'; expected between_samples or in_flight", excerpt(m.update_mode, 40)));
    }
    check_between("payload.max_units", m.max_units, 1, L.max_units, "a unit count", " (limits.max_units)");
    check_name("payload.host", m.host);
  }
  void operator()(const Welcome& m) const {
    check_reason("payload.reason", m.reason);
    check_at_least("payload.actor_id", m.actor_id, 0, "an actor id");
    check_at_least("payload.policy_version", m.policy_version, 0, "a policy version");
    check_between("payload.group_size", m.group_size, 1, L.max_samples, "a group size", " (limits.max_samples)");
    check_manifest(m, L);
  }
  void operator()(const Heartbeat& m) const {
    check_count("payload.stats", m.stats.size(), kMaxStats, "entries", "kMaxStats");
    for (const auto& [k, v] : m.stats) {
      if (k.empty()) fail("payload.stats", "a stat with an empty name; expected names");
      check_name("payload.stats." + excerpt(k, 60), k);
      check_finite("payload.stats." + excerpt(k, 60), v, false);
    }
  }
  void operator()(const WorkRequest& m) const {
    check_between("payload.want", m.want, 1, L.max_units, "a unit count", " (limits.max_units)");
  }
  void operator()(const WorkGrant& m) const {
    check_count("payload.units", m.units.size(), L.max_units, "units", "limits.max_units");
    std::vector<std::pair<uint64_t, size_t>> ids;
    ids.reserve(m.units.size());
    for (size_t i = 0; i < m.units.size(); ++i) {
      const WorkUnit& u = m.units[i];
      const std::string p = fmt::format("payload.units[{}]", i);
      check_at_least(p + ".prompt_index", u.prompt_index, 0, "a prompt index");
      check_at_least(p + ".epoch", u.epoch, 0, "an epoch");
      check_token_ids(p + ".prompt_ids", u.prompt_ids, L, true);
      check_bytes(p + ".prompt_text", u.prompt_text, L.max_string_bytes, "limits.max_string_bytes");
      check_bytes(p + ".ground_truth", u.ground_truth, L.max_string_bytes, "limits.max_string_bytes");
      check_name(p + ".dataset", u.dataset);
      check_between(p + ".n", u.n, 1, L.max_samples, "a sample count", " (limits.max_samples)");
      check_at_least(p + ".min_version", u.min_version, 0, "a policy version");
      ids.emplace_back(u.unit_id, i);
    }
    std::sort(ids.begin(), ids.end());
    for (size_t k = 1; k < ids.size(); ++k) {
      if (ids[k].first == ids[k - 1].first) {
        const auto [first, second] = std::minmax(ids[k].second, ids[k - 1].second);
        fail(fmt::format("payload.units[{}].unit_id", second),
             fmt::format("{} is also unit {}'s id; expected unique unit ids", ids[k].first, first));
      }
    }
  }
  void operator()(const Rollouts& m) const {
    check_count("payload.samples", m.samples.size(), L.max_samples, "samples", "limits.max_samples");
    for (size_t i = 0; i < m.samples.size(); ++i) check_sample(m.samples[i], fmt::format("payload.samples[{}]", i), L);
    check_finite("payload.generate_s", m.generate_s, true);
    check_finite("payload.score_s", m.score_s, true);
  }
  void operator()(const UnitFailed& m) const { check_reason("payload.reason", m.reason); }
  void operator()(const WeightsAnnounce& m) const {
    check_at_least("payload.version", m.version, 0, "a policy version");
    bool hex = m.checksum.size() == 16;
    for (char c : m.checksum) hex = hex && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
    if (!hex) {
      fail("payload.checksum", fmt::format("'{}'; expected 16 lowercase hex digits (core::content_hash)",
                                           excerpt(m.checksum, 40)));
    }
    if (m.chunk_bytes == 0 || m.chunk_bytes > L.max_chunk_bytes) {
      fail("payload.chunk_bytes",
           fmt::format("{}; expected a chunk size in [1, {}] (limits.max_chunk_bytes)", m.chunk_bytes, L.max_chunk_bytes));
    }
    const uint64_t n = chunk_count(m.total_bytes, m.chunk_bytes);
    if (m.num_chunks != n) {
      fail("payload.num_chunks", fmt::format("{}; expected {} (ceil(total_bytes {} / chunk_bytes {}))", m.num_chunks,
                                             n, m.total_bytes, m.chunk_bytes));
    }
  }
  void operator()(const WeightsRequest& m) const {
    check_at_least("payload.version", m.version, 0, "a policy version");
  }
  void operator()(const WeightsChunk& m) const {
    check_at_least("payload.version", m.version, 0, "a policy version");
    if (m.data.size() > L.max_chunk_bytes) {
      fail("frames[2]", fmt::format("{} bytes of chunk data; expected at most {} (limits.max_chunk_bytes)",
                                    m.data.size(), L.max_chunk_bytes));
    }
    if (m.available && m.data.empty()) fail("frames[2]", "empty; expected the chunk's bytes (available is true)");
    if (!m.available && !m.data.empty()) {
      fail("frames[2]", fmt::format("{} bytes; expected none (available is false)", m.data.size()));
    }
    if (m.data.size() > std::numeric_limits<uint64_t>::max() - m.offset) {
      fail("payload.offset", fmt::format("{} + {} bytes overflows; expected a chunk inside the buffer", m.offset,
                                         m.data.size()));
    }
  }
  void operator()(const Shutdown& m) const { check_reason("payload.reason", m.reason); }
  void operator()(const ErrorReport& m) const { check_reason("payload.reason", m.reason); }
};

void check_or_fail(const Message& m, const ProtocolLimits& limits) {
  check_envelope(m.envelope, m.type());
  std::visit(PayloadChecker{limits}, m.payload);
}

// --- decode() ---

// Reads the envelope: magic first (is this our protocol at all?), then the version, then the rest.
MessageType read_envelope(const msgpack::object& o, const Path& root, Envelope* env) {
  // Look the magic and version up before the strict field check, so a foreign or newer peer gets
  // the message that says so rather than "unknown field".
  auto find = [&](std::string_view name) -> const msgpack::object* {
    for (uint32_t i = 0; i < o.via.map.size; ++i) {
      const msgpack::object_kv& kv = o.via.map.ptr[i];
      if (kv.key.type == msgpack::type::STR && std::string_view(kv.key.via.str.ptr, kv.key.via.str.size) == name) {
        return &kv.val;
      }
    }
    return nullptr;
  };
  const msgpack::object* magic = find("magic");
  if (!magic) fail("envelope.magic", fmt::format("missing; expected \"{}\" (not an rlvr message)", kMagic));
  if (magic->type != msgpack::type::STR || std::string_view(magic->via.str.ptr, magic->via.str.size) != kMagic) {
    fail("envelope.magic", fmt::format("{}; expected \"{}\" (not an rlvr message)", describe(*magic), kMagic));
  }
  const msgpack::object* v = find("v");
  if (!v) fail("envelope.v", fmt::format("missing; expected protocol version {}", kProtocolVersion));
  const int64_t version = read_i64(*v, root.child("v"));
  if (version != kProtocolVersion) {
    fail("envelope.v", fmt::format("protocol version {}; this build speaks version {} (run the same rlvr version "
                                   "on the learner and every actor)", version, kProtocolVersion));
  }
  Fields f(o, root, "the envelope", {"magic", "v", "type", "sender", "seq", "session"});
  const int64_t type_value = f.i64("type");
  const auto type = message_type_from_int(type_value);
  if (!type) {
    fail("envelope.type", fmt::format("{}; expected a message type in [1, {}] (HELLO .. ERROR)", type_value,
                                      kNumTypes));
  }
  env->sender = f.str("sender");
  env->seq = f.u64("seq");
  env->session = f.u64("session");
  return *type;
}

Message decode_or_fail(const std::vector<std::string_view>& frames, const ProtocolLimits& limits,
                       DecodeError* info) {
  if (frames.empty()) fail("frames", "no frames; expected envelope and payload");
  if (frames[0].size() > kMaxEnvelopeBytes) {
    fail("frames[0]", fmt::format("{} bytes; expected an envelope of at most {} bytes", frames[0].size(),
                                  kMaxEnvelopeBytes));
  }
  const Path env_root{nullptr, "envelope"};
  msgpack::object_handle env_handle = unpack_frame(frames[0], env_root, envelope_scan_limits());
  Message m;
  const MessageType type = read_envelope(env_handle.get(), env_root, &m.envelope);
  info->type = type;
  info->sender = m.envelope.sender;

  const size_t want_frames = type == MessageType::kWeightsChunk ? 3 : 2;
  if (frames.size() > want_frames) {
    fail(fmt::format("frames[{}]", want_frames),
         type == MessageType::kWeightsChunk
             ? fmt::format("{} frames; expected 3 (envelope, payload, chunk data)", frames.size())
             : fmt::format("unexpected frame after the payload of {}; only WEIGHTS_CHUNK carries a raw-data frame",
                           message_type_name(type)));
  }
  if (frames.size() < want_frames) {
    fail("frames", fmt::format("{} frame(s) for {}; expected {} ({})", frames.size(), message_type_name(type),
                               want_frames,
                               want_frames == 3 ? "envelope, payload, chunk data" : "envelope, payload"));
  }
  if (frames[1].size() > limits.max_frame_bytes) {
    fail("frames[1]", fmt::format("{} bytes; expected at most {} (limits.max_frame_bytes)", frames[1].size(),
                                  limits.max_frame_bytes));
  }
  if (want_frames == 3 && frames[2].size() > limits.max_chunk_bytes) {
    fail("frames[2]", fmt::format("{} bytes of chunk data; expected at most {} (limits.max_chunk_bytes)",
                                  frames[2].size(), limits.max_chunk_bytes));
  }

  const Path root{nullptr, "payload"};
  msgpack::object_handle payload_handle = unpack_frame(frames[1], root, payload_scan_limits(limits));
  const msgpack::object& payload = payload_handle.get();
  if (type == MessageType::kRollouts || type == MessageType::kUnitFailed) {
    // Remember the unit even if a later field is bad: the learner can give its prompts back.
    for (uint32_t i = 0; i < payload.via.map.size; ++i) {
      const msgpack::object_kv& kv = payload.via.map.ptr[i];
      if (kv.key.type == msgpack::type::STR && std::string_view(kv.key.via.str.ptr, kv.key.via.str.size) == "unit_id" &&
          kv.val.type == msgpack::type::POSITIVE_INTEGER) {
        info->unit_id = kv.val.via.u64;
      }
    }
  }
  m.payload = parse_payload(type, payload, root);
  if (auto* chunk = std::get_if<WeightsChunk>(&m.payload)) chunk->data = std::string(frames[2]);
  check_or_fail(m, limits);
  return m;
}

}  // namespace

DecodeResult decode(const std::vector<std::string_view>& frames, const ProtocolLimits& limits) {
  DecodeResult r;
  try {
    r.message = decode_or_fail(frames, limits, &r.error);
    r.error = DecodeError{};
  } catch (const Failure& f) {
    r.message.reset();
    r.error.field = f.field;
    r.error.problem = f.problem;
  } catch (const std::bad_alloc&) {
    r.message.reset();
    r.error.field = "frames";
    r.error.problem = "out of memory while decoding; expected a smaller message";
  } catch (const std::exception& e) {
    r.message.reset();
    r.error.field = "frames";
    r.error.problem = fmt::format("decoder error: {}", e.what());
  } catch (...) {
    r.message.reset();
    r.error.field = "frames";
    r.error.problem = "decoder error";
  }
  return r;
}

std::optional<DecodeError> check_message(const Message& m, const ProtocolLimits& limits) {
  try {
    check_or_fail(m, limits);
    return std::nullopt;
  } catch (const Failure& f) {
    DecodeError e;
    e.field = f.field;
    e.problem = f.problem;
    e.sender = m.envelope.sender;
    e.type = m.type();
    if (const auto* r = std::get_if<Rollouts>(&m.payload)) e.unit_id = r->unit_id;
    if (const auto* u = std::get_if<UnitFailed>(&m.payload)) e.unit_id = u->unit_id;
    return e;
  }
}

// --- Summaries ---

namespace {

std::string quote(const std::string& s) { return "'" + excerpt(s, 60) + "'"; }

struct Summary {
  std::string operator()(const Hello& m) const {
    return fmt::format("actor {}, incarnation {}, {}, max_units {}, host {}, model {}", m.actor_id, m.incarnation,
                       m.update_mode, m.max_units, quote(m.host), quote(m.model_fingerprint));
  }
  std::string operator()(const Welcome& m) const {
    if (!m.accepted) return fmt::format("refused actor {}: {}", m.actor_id, quote(m.reason));
    return fmt::format("accepted actor {}, learner session {}, policy version {}, group size {}, {} tensors, "
                       "{} bytes", m.actor_id, m.learner_session, m.policy_version, m.group_size, m.manifest.size(),
                       m.total_bytes);
  }
  std::string operator()(const Heartbeat& m) const {
    return fmt::format("time {} ms, {} stats", m.time_ms, m.stats.size());
  }
  std::string operator()(const WorkRequest& m) const { return fmt::format("want {}", m.want); }
  std::string operator()(const WorkGrant& m) const {
    if (m.units.empty()) return "no units";
    return fmt::format("{} units (first {}: prompt {}, n {})", m.units.size(), m.units[0].unit_id,
                       m.units[0].prompt_index, m.units[0].n);
  }
  std::string operator()(const Rollouts& m) const {
    size_t tokens = 0;
    for (const auto& s : m.samples) tokens += s.completion_ids.size();
    return fmt::format("unit {}, {} samples, {} completion tokens, generate {:.2f} s, score {:.2f} s", m.unit_id,
                       m.samples.size(), tokens, m.generate_s, m.score_s);
  }
  std::string operator()(const UnitFailed& m) const {
    return fmt::format("unit {}{}: {}", m.unit_id, m.retry ? " (retry)" : " (no retry)", quote(m.reason));
  }
  std::string operator()(const WeightsAnnounce& m) const {
    return fmt::format("version {}, {} bytes in {} chunks of {}, checksum {}", m.version, m.total_bytes,
                       m.num_chunks, m.chunk_bytes, quote(m.checksum));
  }
  std::string operator()(const WeightsRequest& m) const {
    return fmt::format("version {}, chunk {}", m.version, m.index);
  }
  std::string operator()(const WeightsChunk& m) const {
    if (!m.available) return fmt::format("version {} is no longer served (chunk {})", m.version, m.index);
    return fmt::format("version {}, chunk {} at {}, {} bytes", m.version, m.index, m.offset, m.data.size());
  }
  std::string operator()(const Shutdown& m) const { return quote(m.reason); }
  std::string operator()(const ErrorReport& m) const {
    return fmt::format("{}{}", m.fatal ? "fatal: " : "", quote(m.reason));
  }
};

}  // namespace

std::string to_string(const Message& m) {
  return fmt::format("{} from {} seq {}: {}", message_type_name(m.type()), excerpt(m.envelope.sender, 40),
                     m.envelope.seq, std::visit(Summary{}, m.payload));
}

}  // namespace rlvr::core::protocol
