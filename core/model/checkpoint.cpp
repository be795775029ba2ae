// Hugging Face checkpoint directories: strict loading, atomic (optionally sharded) saving.
#include "core/model/checkpoint.h"

#include <filesystem>
#include <memory>
#include <set>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/error.h"
#include "core/fs.h"
#include "core/model/safetensors.h"

namespace rlvr::core {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kSingleFile = "model.safetensors";
constexpr const char* kIndexFile = "model.safetensors.index.json";

std::string shape_str(at::IntArrayRef s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

// The weight files of a checkpoint, opened and validated, with each tensor's home file.
struct WeightSources {
  std::vector<std::unique_ptr<SafetensorsReader>> readers;
  std::map<std::string, const SafetensorsReader*> owner;  // tensor name -> file
  bool sharded = false;
  std::string index_path;
};

WeightSources open_weights(const std::string& dir) {
  WeightSources w;
  const std::string index_path = (fs::path(dir) / kIndexFile).string();
  const std::string single_path = (fs::path(dir) / kSingleFile).string();
  std::error_code ec;
  if (fs::exists(index_path, ec)) {
    w.sharded = true;
    w.index_path = index_path;
    json index;
    try {
      index = json::parse(read_file(index_path));
    } catch (const json::exception& e) {
      throw Error(fmt::format("{}: invalid JSON: {}", index_path, e.what()));
    }
    RLVR_CHECK(index.is_object() && index.contains("weight_map") && index["weight_map"].is_object(),
               "{}: expected an object with a 'weight_map' object", index_path);
    std::map<std::string, const SafetensorsReader*> by_file;
    for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
      RLVR_CHECK(it.value().is_string(), "{}: weight_map entry '{}' must be a file name", index_path, it.key());
      std::string file = it.value().get<std::string>();
      fs::path rel(file);
      RLVR_CHECK(!file.empty() && rel.is_relative() && file.find("..") == std::string::npos,
                 "{}: weight_map entry '{}' names an unsafe path '{}'", index_path, it.key(), file);
      auto found = by_file.find(file);
      if (found == by_file.end()) {
        w.readers.push_back(std::make_unique<SafetensorsReader>((fs::path(dir) / rel).string()));
        found = by_file.emplace(file, w.readers.back().get()).first;
      }
      const SafetensorsReader* r = found->second;
      RLVR_CHECK(r->find(it.key()), "{}: tensor '{}' is listed in {} but missing from {}", r->path(), it.key(),
                 kIndexFile, file);
      w.owner[it.key()] = r;
    }
    for (const auto& r : w.readers) {
      for (const auto& e : r->entries()) {
        auto o = w.owner.find(e.name);
        RLVR_CHECK(o != w.owner.end() && o->second == r.get(),
                   "{}: tensor '{}' is not listed for this file in {}", r->path(), e.name, index_path);
      }
    }
    RLVR_CHECK(!w.readers.empty(), "{}: weight_map is empty", index_path);
  } else if (fs::exists(single_path, ec)) {
    w.readers.push_back(std::make_unique<SafetensorsReader>(single_path));
    for (const auto& e : w.readers.back()->entries()) w.owner[e.name] = w.readers.back().get();
  } else {
    throw Error(fmt::format("{}: no {} or {} found", dir, kSingleFile, kIndexFile),
                "a Hugging Face checkpoint directory holds config.json and model.safetensors");
  }
  return w;
}

std::string config_path(const std::string& dir) { return (fs::path(dir) / "config.json").string(); }

}  // namespace

c10::ScalarType dtype_from_name(const std::string& name, const std::string& what) {
  if (name == "float32" || name == "float") return c10::kFloat;
  if (name == "float16" || name == "half") return c10::kHalf;
  if (name == "bfloat16") return c10::kBFloat16;
  throw Error(fmt::format("{}: '{}' is not a supported dtype (float32, float16, bfloat16)", what, name));
}

std::string dtype_to_name(c10::ScalarType dtype) {
  switch (dtype) {
    case c10::kFloat: return "float32";
    case c10::kHalf: return "float16";
    case c10::kBFloat16: return "bfloat16";
    default: throw Error(fmt::format("unsupported dtype {}", c10::toString(dtype)));
  }
}

CheckpointInfo inspect_checkpoint(const std::string& dir) {
  CheckpointInfo info;
  info.dir = dir;
  info.config = load_transformer_config(config_path(dir));
  std::error_code ec;
  // Weightless only when no weight file of any layout is there: stray shards without their index
  // still go to open_weights, which names what is missing.
  bool any_weights = fs::exists(fs::path(dir) / kIndexFile, ec);
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".safetensors") any_weights = true;
  }
  if (!any_weights) {
    info.has_weights = false;  // an architecture without weights
    info.dtype = "none";
    info.size_bytes = static_cast<int64_t>(fs::file_size(config_path(dir), ec));
    return info;
  }
  WeightSources w = open_weights(dir);
  info.sharded = w.sharded;
  info.size_bytes = static_cast<int64_t>(fs::file_size(config_path(dir), ec));
  if (w.sharded) info.size_bytes += static_cast<int64_t>(fs::file_size(w.index_path, ec));
  std::set<std::string> dtypes;
  for (const auto& r : w.readers) {
    info.files.push_back(r->path());
    info.size_bytes += static_cast<int64_t>(fs::file_size(r->path(), ec));
    for (const auto& e : r->entries()) {
      ++info.num_tensors;
      int64_t n = 1;
      for (int64_t d : e.shape) n *= d;
      info.num_parameters += n;
      dtypes.insert(e.dtype);
    }
  }
  info.dtype = dtypes.size() == 1 ? *dtypes.begin() : dtypes.empty() ? "none" : "mixed";
  return info;
}

void load_weights(torch::nn::Module& module, const std::string& dir, const LoadOptions& options) {
  const TransformerConfig config = load_transformer_config(config_path(dir));
  WeightSources w = open_weights(dir);
  torch::NoGradGuard no_grad;
  auto params = module.named_parameters(/*recurse=*/true);
  std::set<std::string> ignore(options.ignore.begin(), options.ignore.end());
  std::set<std::string> loaded;
  for (const auto& [name, reader] : w.owner) {
    if (ignore.count(name)) continue;
    at::Tensor* p = params.find(name);
    const SafetensorsEntry* e = reader->find(name);
    if (!p && name == "lm_head.weight" && config.tie_word_embeddings) {
      // Tied: transformers omits lm_head.weight, but some checkpoints keep a copy. Check its shape.
      std::vector<int64_t> expect = {config.vocab_size, config.hidden_size};
      RLVR_CHECK(e->shape == expect, "{}: tensor '{}' has shape {} but config.json implies {}", reader->path(),
                 name, shape_str(e->shape), shape_str(expect));
      continue;
    }
    RLVR_CHECK(p, "{}: unexpected tensor '{}': not a parameter of a {} model with this config.json",
               reader->path(), name, config.model_type);
    RLVR_CHECK(at::IntArrayRef(e->shape) == p->sizes(), "{}: tensor '{}' has shape {} but config.json implies {}",
               reader->path(), name, shape_str(e->shape), shape_str(p->sizes()));
    p->copy_(reader->view(name));
    loaded.insert(name);
  }
  std::set<std::string> allow(options.allow_missing.begin(), options.allow_missing.end());
  std::vector<std::string> missing;
  for (const auto& item : params) {
    if (!loaded.count(item.key()) && !allow.count(item.key())) missing.push_back(item.key());
  }
  if (!missing.empty()) {
    const std::string where = w.sharded ? w.index_path : w.readers.front()->path();
    const size_t show = std::min<size_t>(missing.size(), 5);
    throw Error(fmt::format("{}: missing tensor{} '{}'{} (expected shape {})", where, missing.size() > 1 ? "s" : "",
                            fmt::join(missing.begin(), missing.begin() + show, "', '"),
                            missing.size() > show ? fmt::format(" and {} more", missing.size() - show) : "",
                            shape_str(params[missing.front()].sizes())));
  }
}

CausalLM load_causal_lm(const std::string& dir, c10::Device device, c10::ScalarType dtype) {
  TransformerConfig config = load_transformer_config(config_path(dir));
  CausalLM model(config);
  model->to(device, dtype);
  load_weights(*model, dir);
  return model;
}

Critic load_critic(const std::string& dir, c10::Device device, c10::ScalarType dtype) {
  TransformerConfig config = load_transformer_config(config_path(dir));
  Critic critic(config);
  {
    torch::NoGradGuard no_grad;
    critic->score->weight.zero_();
  }
  critic->to(device, dtype);
  LoadOptions opts;
  opts.ignore = {"lm_head.weight"};
  opts.allow_missing = {"score.weight"};
  load_weights(*critic, dir, opts);
  return critic;
}

void save_checkpoint(torch::nn::Module& module, const TransformerConfig& config_in, const std::string& dir,
                     const SaveOptions& options) {
  const std::string dtype_name = dtype_to_name(options.dtype);
  make_dirs(dir);
  std::map<std::string, std::string> metadata = options.metadata;
  metadata["format"] = "pt";
  auto params = module.named_parameters(/*recurse=*/true);
  // Group parameters into shards (in parameter order) by their size on disk.
  std::vector<std::vector<std::pair<std::string, at::Tensor>>> shards(1);
  int64_t shard_bytes = 0, total = 0;
  const int64_t elem = c10::elementSize(options.dtype);
  for (const auto& item : params) {
    int64_t bytes = item.value().numel() * elem;
    if (options.max_shard_bytes > 0 && shard_bytes > 0 && shard_bytes + bytes > options.max_shard_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().emplace_back(item.key(), item.value());
    shard_bytes += bytes;
    total += bytes;
  }
  auto convert = [&](const std::vector<std::pair<std::string, at::Tensor>>& in) {
    torch::NoGradGuard no_grad;
    std::vector<std::pair<std::string, at::Tensor>> out;
    for (const auto& [name, t] : in) out.emplace_back(name, t.detach().to(at::kCPU, options.dtype));
    return out;
  };
  const fs::path root(dir);
  std::error_code ec;
  std::set<std::string> written;
  if (options.max_shard_bytes <= 0 || shards.size() == 1) {
    write_safetensors((root / kSingleFile).string(), convert(shards[0]), metadata);
    written.insert(kSingleFile);
  } else {
    json weight_map = json::object();
    const size_t n = shards.size();
    for (size_t i = 0; i < n; ++i) {
      std::string file = fmt::format("model-{:05d}-of-{:05d}.safetensors", i + 1, n);
      write_safetensors((root / file).string(), convert(shards[i]), metadata);
      for (const auto& entry : shards[i]) weight_map[entry.first] = file;
      written.insert(file);
    }
    json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
    write_file_atomic((root / kIndexFile).string(), index.dump(2) + "\n");
    written.insert(kIndexFile);
  }
  TransformerConfig config = config_in;
  config.torch_dtype = dtype_name;
  save_transformer_config(config, (root / "config.json").string());
  // Remove weight files of an earlier save in another layout, so loaders see one layout only.
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const std::string name = entry.path().filename().string();
    bool weights = name == kSingleFile || name == kIndexFile ||
                   (name.rfind("model-", 0) == 0 && entry.path().extension() == ".safetensors");
    if (weights && !written.count(name)) fs::remove(entry.path(), ec);
  }
}

}  // namespace rlvr::core
