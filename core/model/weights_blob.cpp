// Weights as one float32 buffer + manifest (see weights_blob.h).
#include "core/model/weights_blob.h"

#include <cstring>

#include <fmt/ranges.h>
#include <torch/torch.h>

#include "core/error.h"

namespace rlvr::core {

std::vector<WeightsEntry> weights_manifest(torch::nn::Module& module) {
  std::vector<WeightsEntry> out;
  uint64_t offset = 0;
  for (const auto& item : module.named_parameters()) {
    WeightsEntry e;
    e.name = item.key();
    e.shape = item.value().sizes().vec();
    e.offset = offset;
    e.bytes = static_cast<uint64_t>(item.value().numel()) * 4;
    offset += e.bytes;
    out.push_back(std::move(e));
  }
  return out;
}

WeightsBlob pack_weights(torch::nn::Module& module) {
  WeightsBlob blob;
  blob.entries = weights_manifest(module);
  uint64_t total = 0;
  for (const auto& e : blob.entries) total += e.bytes;
  blob.data.resize(total);
  torch::NoGradGuard no_grad;
  size_t i = 0;
  for (const auto& item : module.named_parameters()) {
    at::Tensor t = item.value().detach().to(at::kCPU, at::kFloat).contiguous();
    const auto& e = blob.entries[i++];
    std::memcpy(blob.data.data() + e.offset, t.data_ptr<float>(), e.bytes);
  }
  return blob;
}

std::string manifest_mismatch(const std::vector<WeightsEntry>& expected, const std::vector<WeightsEntry>& got) {
  if (expected.size() != got.size()) {
    return fmt::format("{} tensors, expected {}", got.size(), expected.size());
  }
  for (size_t i = 0; i < expected.size(); ++i) {
    const auto& a = expected[i];
    const auto& b = got[i];
    if (a.name != b.name) return fmt::format("entry {}: name '{}', expected '{}'", i, b.name, a.name);
    if (a.dtype != b.dtype) return fmt::format("entry {} ({}): dtype {}, expected {}", i, a.name, b.dtype, a.dtype);
    if (a.shape != b.shape) {
      return fmt::format("entry {} ({}): shape [{}], expected [{}]", i, a.name, fmt::join(b.shape, ", "),
                         fmt::join(a.shape, ", "));
    }
    if (a.offset != b.offset || a.bytes != b.bytes) {
      return fmt::format("entry {} ({}): bytes [{}, +{}), expected [{}, +{})", i, a.name, b.offset, b.bytes, a.offset,
                         a.bytes);
    }
  }
  return {};
}

void unpack_weights(torch::nn::Module& module, const std::vector<WeightsEntry>& entries, const std::string& data,
                    const std::string& source) {
  const std::vector<WeightsEntry> mine = weights_manifest(module);
  const std::string mismatch = manifest_mismatch(mine, entries);
  RLVR_CHECK(mismatch.empty(), "{}: the weights do not fit this model: {}", source, mismatch);
  uint64_t total = 0;
  for (const auto& e : mine) total += e.bytes;
  RLVR_CHECK(data.size() == total, "{}: {} bytes of weights, expected {}", source, data.size(), total);
  torch::NoGradGuard no_grad;
  size_t i = 0;
  for (auto& item : module.named_parameters()) {
    const auto& e = mine[i++];
    at::Tensor src = torch::from_blob(const_cast<char*>(data.data()) + e.offset, e.shape, at::kFloat);
    item.value().copy_(src);
  }
}

}  // namespace rlvr::core
