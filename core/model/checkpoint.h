// Hugging Face checkpoint directories: config.json + model.safetensors, or shards
// model-0000i-of-0000n.safetensors listed in model.safetensors.index.json. Loading is strict:
// every parameter of the module must be present exactly once with the shape config.json implies,
// and no unknown tensor may be present; violations throw rlvr::Error naming the file and tensor.
// Writing is atomic per file (temp file, fsync, rename) and loads in transformers unchanged.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include "core/model/model_config.h"
#include "core/model/transformer.h"

namespace rlvr::core {

// What is on disk, without building a model.
struct CheckpointInfo {
  std::string dir;
  TransformerConfig config;
  bool has_weights = true;                        // false: config.json only (no weight files at all)
  std::vector<std::string> files;                 // safetensors files, in order
  std::string dtype;                              // "F32", "F16", "BF16" or "mixed"; "none" without weights
  int64_t num_tensors = 0;
  int64_t num_parameters = 0;                     // elements over all tensors (0 without weights)
  int64_t size_bytes = 0;                         // sum of file sizes incl. config/index
  bool sharded = false;
};

// Reads config.json and validates every safetensors header (no tensor data is read). A directory
// with config.json but neither model.safetensors nor model.safetensors.index.json (an architecture
// only, e.g. configs/models/<name>) is described with has_weights = false; the parameter count then
// comes from config.num_parameters(). Throws rlvr::Error naming the file on any other problem.
CheckpointInfo inspect_checkpoint(const std::string& dir);

// Options for loading weights into a module.
struct LoadOptions {
  // Tensors in the checkpoint that are silently skipped (e.g. "lm_head.weight" when loading a
  // critic from a policy checkpoint). Default: none.
  std::vector<std::string> ignore;
  // Module parameters that may be absent from the checkpoint and keep their current values
  // (e.g. a critic's "score.weight"). Default: none.
  std::vector<std::string> allow_missing;
};

// Copies the checkpoint tensors in `dir` into `module`'s parameters by name (converting dtype and
// device as needed). `config` is the parsed config.json, used to name the expected shapes in
// messages. "lm_head.weight" is ignored when the module ties embeddings (transformers omits it,
// some checkpoints keep it). Throws rlvr::Error naming file and tensor for missing, extra or
// misshapen tensors; on error some parameters may already have been overwritten.
void load_weights(torch::nn::Module& module, const std::string& dir, const LoadOptions& options = {});

// Builds a CausalLM from `dir` (config.json + weights) on `device` with compute dtype `dtype`.
CausalLM load_causal_lm(const std::string& dir, c10::Device device = c10::kCPU,
                        c10::ScalarType dtype = c10::kFloat);

// Builds a critic from `dir`: either a critic checkpoint (with "score.weight") or a policy
// checkpoint (its lm_head is ignored and the value head is initialized to zero).
Critic load_critic(const std::string& dir, c10::Device device = c10::kCPU,
                   c10::ScalarType dtype = c10::kFloat);

// Options for writing a checkpoint.
struct SaveOptions {
  // Dtype on disk (float32, float16 or bfloat16). Default float32. config.json's torch_dtype
  // is set to match.
  c10::ScalarType dtype = c10::kFloat;
  // Largest shard in bytes; 0 writes one model.safetensors. transformers' default is 5 GB.
  int64_t max_shard_bytes = 0;
  // Extra "__metadata__" entries ("format": "pt" is always written, transformers requires it).
  std::map<std::string, std::string> metadata;
};

// Writes config.json and the module's parameters (HF names) to `dir`, creating it. Stale
// weight files of a previous save in another layout (sharded vs single) are removed after the
// new files are in place. Throws rlvr::Error on I/O failure or an unsupported dtype.
void save_checkpoint(torch::nn::Module& module, const TransformerConfig& config, const std::string& dir,
                     const SaveOptions& options = {});

// "float32" / "float16" / "bfloat16" <-> scalar type; throws rlvr::Error naming `what` otherwise.
c10::ScalarType dtype_from_name(const std::string& name, const std::string& what = "dtype");
std::string dtype_to_name(c10::ScalarType dtype);

}  // namespace rlvr::core
