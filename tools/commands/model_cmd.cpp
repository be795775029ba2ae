// `rlvr model init|info|logits`: create, describe and run Hugging Face-layout checkpoints.
#include <cstdio>
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include "core/error.h"
#include "core/model/checkpoint.h"
#include "core/model/model_config.h"
#include "core/model/transformer.h"
#include "tools/cli.h"

namespace rlvr::tools {
namespace {

struct ModelParams {
  std::string config;
  std::string out;
  int64_t seed = 1;
  std::string dtype = "float32";
  std::string dir;
  std::string model;
  std::string tokens;
  int64_t max_shard_mb = 0;
};

// Runs `fn`, turning LibTorch errors into rlvr::Error (one line, no C++ backtrace).
template <class Fn>
void guarded(Fn&& fn) {
  try {
    fn();
  } catch (const c10::Error& e) {
    throw Error(std::string("torch: ") + e.what_without_backtrace());
  }
}

std::string human_bytes(int64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", n) : fmt::format("{:.1f} {}", v, units[u]);
}

void run_init(const ModelParams& p) {
  core::TransformerConfig config = core::load_transformer_config(p.config);
  core::CausalLM model(config);
  model->init_weights(static_cast<uint64_t>(p.seed));
  core::SaveOptions opts;
  opts.dtype = core::dtype_from_name(p.dtype, "--dtype");
  opts.max_shard_bytes = p.max_shard_mb * 1024 * 1024;
  core::save_checkpoint(*model, config, p.out, opts);
  std::cout << fmt::format("{}: {} ({}) with {} parameters, {}, seed {}\n", p.out,
                           config.architectures.empty() ? config.model_type : config.architectures[0],
                           config.model_type, config.num_parameters(), p.dtype, p.seed);
}

// 8030261248 -> "8,030,261,248".
std::string with_commas(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

// 8030261248 -> "8.03B", 596049920 -> "596M": the rounding model cards use.
std::string short_count(int64_t n) {
  const double v = static_cast<double>(n);
  if (v >= 1e9) return fmt::format("{:.2f}B", v / 1e9);
  if (v >= 1e6) return fmt::format("{:.0f}M", v / 1e6);
  return std::to_string(n);
}

void run_info(const ModelParams& p) {
  core::CheckpointInfo info = core::inspect_checkpoint(p.dir);
  const auto& c = info.config;
  std::string arch = fmt::format("{}", fmt::join(c.architectures, ", "));
  std::string out = fmt::format(
      "directory:      {}\n"
      "architecture:   {} (model_type {})\n"
      "parameters:     {} ({}; from config.json, tied embeddings counted once; non-embedding {})\n",
      info.dir, arch, c.model_type, with_commas(c.num_parameters()), short_count(c.num_parameters()),
      with_commas(c.num_non_embedding_parameters()));
  if (info.has_weights) {
    out += fmt::format(
        "tensors:        {} tensors, {} elements on disk\n"
        "dtype:          {} (config torch_dtype {})\n"
        "size on disk:   {} ({} bytes, {} weight file{}{})\n",
        info.num_tensors, with_commas(info.num_parameters), info.dtype, c.torch_dtype, human_bytes(info.size_bytes),
        info.size_bytes, info.files.size(), info.files.size() == 1 ? "" : "s", info.sharded ? ", sharded" : "");
  } else {
    out += fmt::format("weights:        no weights (config.json only; config torch_dtype {})\n", c.torch_dtype);
  }
  std::string rope = "none";
  if (!c.rope_scaling.type.empty()) {
    rope = fmt::format("{} (factor {}", c.rope_scaling.type, c.rope_scaling.factor);
    if (c.rope_scaling.original_max_position_embeddings > 0) {
      rope += fmt::format(", original context {}", c.rope_scaling.original_max_position_embeddings);
    }
    rope += ")";
  }
  out += fmt::format(
      "layers:         {}\n"
      "hidden_size:    {} (intermediate {})\n"
      "heads:          {} query, {} key/value, head_dim {}\n"
      "vocab_size:     {}\n"
      "tied embeddings: {}\n"
      "q/k/v bias:     {}\n"
      "q/k norm:       {}\n"
      "rope_theta:     {}\n"
      "rope_scaling:   {}\n"
      "max positions:  {}\n",
      c.num_hidden_layers, c.hidden_size, c.intermediate_size, c.num_attention_heads, c.num_key_value_heads,
      c.head_dim, c.vocab_size, c.tie_word_embeddings ? "yes" : "no", c.qkv_bias() ? "yes" : "no",
      c.qk_norm() ? "yes" : "no", c.rope_theta, rope, c.max_positions());
  std::cout << out;
}

void run_logits(const ModelParams& p) {
  std::vector<int64_t> ids = parse_int_list(p.tokens, "--tokens");
  core::TransformerConfig config = core::load_transformer_config(p.model + "/config.json");
  for (int64_t id : ids) {
    RLVR_CHECK(id >= 0 && id < config.vocab_size, "--tokens: token id {} is outside the vocabulary [0, {})", id,
               config.vocab_size);
  }
  RLVR_CHECK(static_cast<int64_t>(ids.size()) <= config.max_positions(),
             "--tokens: {} tokens exceed the model's {} positions", ids.size(), config.max_positions());
  core::CausalLM model = core::load_causal_lm(p.model);
  model->eval();
  torch::NoGradGuard no_grad;
  at::Tensor logits = model->forward(torch::tensor(ids, torch::kLong).unsqueeze(0))[0].contiguous();
  const float* data = logits.data_ptr<float>();
  const int64_t T = logits.size(0), V = logits.size(1);
  std::string out = "{\"logits\": [";
  for (int64_t t = 0; t < T; ++t) {
    out += t ? ", [" : "[";
    for (int64_t v = 0; v < V; ++v) {
      if (v) out += ", ";
      out += fmt::format("{}", data[t * V + v]);
    }
    out += "]";
  }
  out += "]}\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
}

void setup(CLI::App& app) {
  auto* cmd = app.add_subcommand("model", "Create, inspect and run Hugging Face-layout model checkpoints");
  cmd->require_subcommand(1);
  auto p = std::make_shared<ModelParams>();

  auto* init = cmd->add_subcommand("init", "Write a randomly initialized checkpoint (config.json + model.safetensors)");
  init->add_option("--config", p->config, "Model config.json (LlamaConfig / Qwen2Config fields)")
      ->required()
      ->check(CLI::ExistingFile);
  init->add_option("--out", p->out, "Output checkpoint directory (created)")->required();
  init->add_option("--seed", p->seed, "Seed of the N(0, initializer_range) initialization")->capture_default_str();
  init->add_option("--dtype", p->dtype, "Dtype on disk: float32 | bfloat16 | float16")
      ->capture_default_str()
      ->check(CLI::IsMember({"float32", "bfloat16", "float16"}));
  init->add_option("--max-shard-mb", p->max_shard_mb,
                   "Split weights into shards of at most this many MiB with model.safetensors.index.json; 0: one file")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  init->callback([p] { guarded([&] { run_init(*p); }); });

  auto* info = cmd->add_subcommand("info",
                                   "Print architecture, parameter count (from config.json), dtype and size on disk "
                                   "of a checkpoint, or of a directory with only config.json");
  info->add_option("dir", p->dir, "Checkpoint directory, or a directory holding only config.json")->required();
  info->callback([p] { guarded([&] { run_info(*p); }); });

  auto* logits = cmd->add_subcommand("logits",
                                     "Print the logits of every position as JSON {\"logits\": [[...], ...]} (float32, CPU)");
  logits->add_option("--model", p->model, "Checkpoint directory")->required();
  logits->add_option("--tokens", p->tokens, "Comma-separated token ids, e.g. 1,2,3")->required();
  logits->callback([p] { guarded([&] { run_logits(*p); }); });
}

}  // namespace

RLVR_REGISTER_COMMAND("model", 60, setup);

}  // namespace rlvr::tools
