// A module's parameters as one contiguous float32 byte buffer plus a manifest (name, shape,
// offset, bytes), the unit of weight sync between the learner and the actors (docs/PROTOCOL.md).
// The manifest order is named_parameters() order, so both sides agree by construction; the
// receiver checks every name, shape and size against its own model before copying anything.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace torch::nn {
class Module;
}  // namespace torch::nn

namespace rlvr::core {

struct WeightsEntry {
  std::string name;            // Hugging Face key ("model.layers.0.self_attn.q_proj.weight")
  std::string dtype = "F32";   // always F32 on the wire
  std::vector<int64_t> shape;
  uint64_t offset = 0;         // byte offset in the buffer
  uint64_t bytes = 0;          // product(shape) x 4
};

struct WeightsBlob {
  std::vector<WeightsEntry> entries;
  std::string data;  // the concatenated float32 values, entries in order, no padding
};

// The manifest of `module` (no data copied).
std::vector<WeightsEntry> weights_manifest(torch::nn::Module& module);

// Copies every parameter of `module` (converted to float32 on the CPU) into one buffer.
WeightsBlob pack_weights(torch::nn::Module& module);

// The first difference between `expected` (the receiver's manifest) and `got` as
// "entry 3: name 'x', expected 'y'" (names, dtypes, shapes, offsets, sizes, count), or "" when
// they match.
std::string manifest_mismatch(const std::vector<WeightsEntry>& expected, const std::vector<WeightsEntry>& got);

// Copies `data` (laid out as `entries`) into `module`'s parameters in place, without autograd,
// converting to each parameter's dtype and device. Checks first, changes nothing on error: the
// manifest must match the module's exactly and data.size() must equal the manifest's total.
// Throws rlvr::Error naming `source` and the first mismatch.
void unpack_weights(torch::nn::Module& module, const std::vector<WeightsEntry>& entries, const std::string& data,
                    const std::string& source);

}  // namespace rlvr::core
