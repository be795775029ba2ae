#include "sft_dpo/reference_cache.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <torch/torch.h>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "sft_dpo/losses.h"

namespace rlvr::sft_dpo {
namespace {

constexpr char kMagic[8] = {'R', 'L', 'V', 'R', 'R', 'E', 'F', 'C'};
constexpr uint32_t kVersion = 1;

uint64_t fnv1a(const char* data, size_t n, uint64_t h = 0xcbf29ce484222325ULL) {
  for (size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(data[i]);
    h *= 0x100000001b3ULL;
  }
  return h;
}

template <class T>
void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof(T));
}

template <class T>
bool get(const std::string& in, size_t& off, T* v) {
  if (off + sizeof(T) > in.size()) return false;
  std::memcpy(v, in.data() + off, sizeof(T));
  off += sizeof(T);
  return true;
}

}  // namespace

std::string hash_file(const std::string& path) { return core::file_content_hash(path); }

std::string reference_cache_key(const std::string& data_path, const std::string& reference_dir,
                                const std::string& tokenizer_path, const TokenizeSettings& settings) {
  return reference_cache_key_for_data(hash_file(data_path), reference_dir, tokenizer_path, settings);
}

std::string reference_cache_key_for_data(const std::string& data_identity, const std::string& reference_dir,
                                         const std::string& tokenizer_path, const TokenizeSettings& settings) {
  namespace fs = std::filesystem;
  std::vector<std::string> files = {reference_dir + "/config.json"};
  std::error_code ec;
  std::vector<std::string> weights;
  for (const auto& e : fs::directory_iterator(reference_dir, ec)) {
    std::string name = e.path().filename().string();
    if (name.size() > 12 && name.compare(name.size() - 12, 12, ".safetensors") == 0) weights.push_back(e.path().string());
  }
  RLVR_CHECK(!ec && !weights.empty(), "{}: no *.safetensors in the reference checkpoint directory", reference_dir);
  std::sort(weights.begin(), weights.end());
  files.insert(files.end(), weights.begin(), weights.end());
  std::string ref;
  for (const auto& f : files) ref += hash_file(f);
  return fmt::format("data={};reference={};tokenizer={};chat_template={};max_seq_len={};on_bad_row={}",
                     data_identity, fmt::format("{:016x}", fnv1a(ref.data(), ref.size())),
                     hash_file(tokenizer_path), settings.chat_format ? settings.chat_format->identity() : settings.chat_template,
                     settings.max_seq_len,
                     settings.on_bad_row == core::BadRowPolicy::kStop ? "stop" : "skip");
}

std::string reference_cache_path(const std::string& cache_dir, const std::string& key) {
  return fmt::format("{}/reference_logps-{:016x}.bin", cache_dir, fnv1a(key.data(), key.size()));
}

std::optional<ReferenceLogps> read_reference_cache(const std::string& path, const std::string& key,
                                                   const std::vector<PreferencePair>& pairs) {
  if (!std::filesystem::exists(path)) return std::nullopt;
  std::string in = core::read_file(path);
  size_t off = 0;
  auto corrupt = [&](const char* what) -> std::optional<ReferenceLogps> {
    RLVR_LOG_WARN("{}: ignoring reference cache: {}", path, what);
    return std::nullopt;
  };
  if (in.size() < 8 || std::memcmp(in.data(), kMagic, 8) != 0) return corrupt("bad magic");
  off = 8;
  uint32_t version = 0, key_len = 0;
  if (!get(in, off, &version) || version != kVersion) return corrupt("unsupported version");
  if (!get(in, off, &key_len) || off + key_len > in.size()) return corrupt("truncated key");
  std::string stored(in.data() + off, key_len);
  off += key_len;
  if (stored != key) {
    RLVR_LOG_INFO("{}: reference cache is for other inputs; recomputing", path);
    return std::nullopt;
  }
  uint64_t n = 0;
  if (!get(in, off, &n) || n != pairs.size() || in.size() - off != n * 24) return corrupt("wrong size");
  ReferenceLogps out;
  out.chosen.resize(n);
  out.rejected.resize(n);
  for (uint64_t i = 0; i < n; ++i) {
    int64_t line = 0;
    get(in, off, &line);
    get(in, off, &out.chosen[i]);
    get(in, off, &out.rejected[i]);
    if (line != pairs[i].line) return corrupt("rows differ");
  }
  return out;
}

void write_reference_cache(const std::string& path, const std::string& key,
                           const std::vector<PreferencePair>& pairs, const ReferenceLogps& logps) {
  RLVR_ASSERT(logps.chosen.size() == pairs.size() && logps.rejected.size() == pairs.size());
  std::string out(kMagic, 8);
  put(out, kVersion);
  put(out, static_cast<uint32_t>(key.size()));
  out += key;
  put(out, static_cast<uint64_t>(pairs.size()));
  for (size_t i = 0; i < pairs.size(); ++i) {
    put(out, static_cast<int64_t>(pairs[i].line));
    put(out, logps.chosen[i]);
    put(out, logps.rejected[i]);
  }
  core::write_file_atomic(path, out);
}

ReferenceLogps compute_reference_logps(core::CausalLMImpl& model, const std::vector<PreferencePair>& pairs,
                                       int64_t batch_size, const learner::Precision& precision) {
  torch::NoGradGuard no_grad;
  model.eval();
  ReferenceLogps out;
  out.chosen.reserve(pairs.size());
  out.rejected.reserve(pairs.size());
  for (size_t start = 0; start < pairs.size(); start += static_cast<size_t>(batch_size)) {
    std::vector<const PreferencePair*> chunk;
    for (size_t i = start; i < std::min(pairs.size(), start + static_cast<size_t>(batch_size)); ++i) {
      chunk.push_back(&pairs[i]);
    }
    Batch batch = collate_pairs(chunk, precision.device);
    at::Tensor sums;
    {
      learner::AutocastGuard autocast(precision);
      sums = sequence_logps(model, batch).sums;
    }
    sums = sums.to(torch::kCPU, torch::kDouble).contiguous();
    const auto B = static_cast<int64_t>(chunk.size());
    for (int64_t b = 0; b < B; ++b) out.chosen.push_back(sums[b].item<double>());
    for (int64_t b = 0; b < B; ++b) out.rejected.push_back(sums[B + b].item<double>());
  }
  model.train();
  return out;
}

}  // namespace rlvr::sft_dpo
