// make_corpus DIR: writes the binary seed inputs of the fuzz corpora under DIR (fuzz/corpus):
//   protocol_decode/<type>.bin       one message of every type (encode(), frames joined as in
//                                    fuzz/frames.h), the fixtures of tests/core/protocol_test.cpp
//   safetensors_header/*.safetensors small files: every dtype, a scalar and an empty tensor,
//                                    __metadata__, and the llama-tiny fixture's header with its
//                                    shapes cut to at most 2 per dimension
// The text corpora (YAML, JSONL, tokenizer.json, verifier inputs) are committed files copied from
// tests and fixtures. Run by hand after a protocol change (docs/FUZZING.md); not part of ctest.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "core/protocol/protocol.h"
#include "fuzz/frames.h"

namespace {

using namespace rlvr::core::protocol;
using rlvr::core::RolloutSample;

constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();

void write(const std::filesystem::path& path, const std::string& bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "make_corpus: cannot write %s\n", path.c_str());
    std::exit(1);
  }
  std::printf("%s (%zu bytes)\n", path.c_str(), bytes.size());
}

// --- protocol_decode ---

Message make(Payload payload, std::string sender = "actor-3") {
  Message m;
  m.envelope.sender = std::move(sender);
  m.envelope.seq = 42;
  m.envelope.session = 0x1234567890abcdefull;
  m.payload = std::move(payload);
  return m;
}

RolloutSample sample(int64_t index) {
  RolloutSample s;
  s.prompt_index = 12;
  s.sample_index = index;
  s.actor_id = 3;
  s.dataset = "gsm8k";
  s.prompt_ids = {5, 6, 7};
  s.completion_ids = {8, 9, 2147483647};
  s.logprobs = {-0.5f, -1.25f, -1e-7f};
  s.versions = index == 0 ? std::vector<int64_t>{7} : std::vector<int64_t>{7, 7, 8};
  s.finish_reason = "eos";
  s.score = 1.0;
  s.answer_found = true;
  s.verifier_error = index % 2 == 1;
  s.reason = "correct: \xe2\x88\x9a" "2 \xe2\x89\x88 1.414";
  return s;
}

WorkUnit unit(uint64_t id) {
  WorkUnit u;
  u.unit_id = id;
  u.prompt_index = 17;
  u.epoch = 2;
  u.prompt_ids = {1, 2, 3, 0};
  u.prompt_text = "Combien font 2+2 ? \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e";
  u.ground_truth = "4";
  u.dataset = "math";
  u.n = 4;
  u.min_version = 3;
  u.seed = kU64Max;
  return u;
}

void write_protocol(const std::filesystem::path& dir) {
  Welcome w;
  w.accepted = true;
  w.actor_id = 3;
  w.learner_session = kU64Max;
  w.policy_version = 9;
  w.group_size = 8;
  w.manifest = {{"model.embed_tokens.weight", "F32", {10, 4}, 0, 160},
                {"model.norm.weight", "F32", {4}, 160, 16},
                {"scalar", "F32", {}, 176, 4},
                {"empty", "F32", {0, 4}, 180, 0}};
  w.total_bytes = 180;
  Welcome refused;
  refused.accepted = false;
  refused.reason = "model fingerprint differs";
  Heartbeat hb;
  hb.time_ms = 1700000000123ull;
  hb.stats = {{"tokens_per_s", 1234.5}, {"queue", 0.0}};
  Rollouts r;
  r.unit_id = 5;
  r.samples = {sample(0), sample(1)};
  r.generate_s = 1.5;
  r.score_s = 0.25;
  WeightsAnnounce ann{9, 180, rlvr::core::content_hash("weights"), 64, 3};
  WeightsChunk chunk{9, 2, 128, true, std::string("\0\x01\xff rest", 8)};
  WeightsChunk gone{9, 0, 0, false, ""};
  const std::vector<std::pair<std::string, Message>> messages = {
      {"hello", make(Hello{3, kU64Max, "model:0123abcd", "config:ffff", "in_flight", 2, "gpu-node-1"})},
      {"welcome", make(w, "learner")},
      {"welcome_refused", make(refused, "learner")},
      {"heartbeat", make(hb)},
      {"heartbeat_empty", make(Heartbeat{7, {}}, "learner")},
      {"work_request", make(WorkRequest{4})},
      {"work_grant", make(WorkGrant{{unit(1), unit(kU64Max)}}, "learner")},
      {"work_grant_empty", make(WorkGrant{}, "learner")},
      {"rollouts", make(r)},
      {"unit_failed", make(UnitFailed{77, "verifier pool stopped", true})},
      {"weights_announce", make(ann, "learner")},
      {"weights_request", make(WeightsRequest{9, 2})},
      {"weights_chunk", make(chunk, "learner")},
      {"weights_chunk_unavailable", make(gone, "learner")},
      {"shutdown", make(Shutdown{"run finished"}, "learner")},
      {"error", make(ErrorReport{"unknown actor: send HELLO", false}, "learner")},
  };
  for (const auto& [name, m] : messages) {
    if (auto problem = check_message(m)) {
      std::fprintf(stderr, "make_corpus: seed %s breaks a rule: %s\n", name.c_str(), problem->to_string().c_str());
      std::exit(1);
    }
    write(dir / (name + ".bin"), rlvr::fuzz::join_frames(encode(m)));
  }
}

// --- safetensors_header ---

// A safetensors file: 8-byte little-endian header length, the header, `data_bytes` bytes.
std::string safetensors(const nlohmann::json& header, size_t data_bytes) {
  std::string h = header.dump();
  while (h.size() % 8 != 0) h += ' ';
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((h.size() >> (8 * i)) & 0xff);
  out += h;
  for (size_t i = 0; i < data_bytes; ++i) out += static_cast<char>(i * 37 % 251);
  return out;
}

void write_safetensors(const std::filesystem::path& dir, const std::string& source_dir) {
  nlohmann::json small = {
      {"__metadata__", {{"format", "pt"}}},
      {"a", {{"dtype", "F32"}, {"shape", {2, 3}}, {"data_offsets", {0, 24}}}},
      {"b", {{"dtype", "F16"}, {"shape", {4}}, {"data_offsets", {24, 32}}}},
      {"c", {{"dtype", "BF16"}, {"shape", nlohmann::json::array()}, {"data_offsets", {32, 34}}}},
      {"d", {{"dtype", "F32"}, {"shape", {0, 5}}, {"data_offsets", {34, 34}}}},
  };
  write(dir / "small.safetensors", safetensors(small, 34));
  write(dir / "empty_header.safetensors", safetensors(nlohmann::json::object(), 0));

  // The llama-tiny fixture's header (real tensor names and layout), shapes cut to <= 2.
  std::ifstream in(source_dir + "/tests/fixtures/model/llama-tiny/model.safetensors", std::ios::binary);
  std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (file.size() < 8) {
    std::fprintf(stderr, "make_corpus: cannot read the llama-tiny fixture\n");
    std::exit(1);
  }
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(file[i]);
  nlohmann::json header = nlohmann::json::parse(file.substr(8, n));
  std::vector<std::string> names;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() != "__metadata__") names.push_back(it.key());
  }
  uint64_t offset = 0;
  for (const auto& name : names) {
    auto& e = header[name];
    uint64_t numel = 1;
    for (auto& d : e["shape"]) {
      d = std::min<uint64_t>(d.get<uint64_t>(), 2);
      numel *= d.get<uint64_t>();
    }
    uint64_t bytes = numel * (e["dtype"] == "F32" ? 4 : 2);
    e["data_offsets"] = {offset, offset + bytes};
    offset += bytes;
  }
  write(dir / "llama_tiny_cut.safetensors", safetensors(header, offset));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_corpus DIR (the fuzz/corpus folder)\n");
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  write_protocol(dir / "protocol_decode");
  write_safetensors(dir / "safetensors_header", RLVR_SOURCE_DIR);
  return 0;
}
