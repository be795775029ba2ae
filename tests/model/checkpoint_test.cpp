// Hugging Face checkpoints: parity with the independent Python reference
// (tests/fixtures/model/make_reference.py), bit-exact save/load round trips for every dtype and
// for sharded checkpoints, and a clear rlvr::Error for every kind of bad checkpoint.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/error.h"
#include "core/fs.h"
#include "core/model/checkpoint.h"
#include "core/model/safetensors.h"
#include "tests/test_util.h"

namespace rlvr::core {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::error_message;
using testing::TempDir;

std::string fixture(const std::string& name) { return std::string(RLVR_SOURCE_DIR) + "/tests/fixtures/model/" + name; }

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }
#define EXPECT_CONTAINS(text, part) EXPECT_TRUE(contains(text, part)) << "message: " << (text) << "\nexpected: " << (part)

// --- Parity with the Python reference ---

class ParityTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ParityTest, LogitsMatchPythonReference) {
  torch::NoGradGuard no_grad;
  const std::string name = GetParam();
  json ref = json::parse(read_file(fixture("reference.json")))[name];
  CausalLM m = load_causal_lm(fixture(name));
  m->eval();
  float worst = 0;
  std::vector<at::Tensor> seqs, refs;
  for (size_t s = 0; s < ref["sequences"].size(); ++s) {
    auto ids = ref["sequences"][s].get<std::vector<int64_t>>();
    auto rows = ref["logits"][s].get<std::vector<std::vector<float>>>();
    at::Tensor expect = at::empty({static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows[0].size())});
    for (size_t i = 0; i < rows.size(); ++i) expect[i].copy_(at::tensor(rows[i]));
    at::Tensor tokens = at::tensor(ids, at::kLong).unsqueeze(0);
    at::Tensor got = m->forward(tokens)[0];
    worst = std::max(worst, (got - expect).abs().max().item<float>());
    // Incremental decoding reproduces the reference as well.
    KVCache cache = m->make_cache(1, static_cast<int64_t>(ids.size()));
    at::Tensor first = m->forward_cached(tokens.narrow(1, 0, 1), cache);
    worst = std::max(worst, (first[0] - expect[0]).abs().max().item<float>());
    for (size_t t = 1; t < ids.size(); ++t) {
      at::Tensor step = m->decode_step(tokens[0].narrow(0, t, 1), cache);
      worst = std::max(worst, (step[0] - expect[t]).abs().max().item<float>());
    }
    seqs.push_back(tokens[0]);
    refs.push_back(expect);
  }
  // The two sequences as one left-padded batch.
  const int64_t L = seqs[0].size(0), l = seqs[1].size(0);
  at::Tensor batch = at::zeros({2, L}, at::kLong), mask = at::zeros({2, L}, at::kLong);
  batch[0].copy_(seqs[0]);
  mask[0].fill_(1);
  batch[1].narrow(0, L - l, l).copy_(seqs[1]);
  mask[1].narrow(0, L - l, l).fill_(1);
  at::Tensor out = m->forward(batch, {mask, {}, {}});
  worst = std::max(worst, (out[0] - refs[0]).abs().max().item<float>());
  worst = std::max(worst, (out[1].narrow(0, L - l, l) - refs[1]).abs().max().item<float>());
  std::printf("[ %s ] logits vs Python reference (float64): max |diff| = %.3g\n", name.c_str(), worst);
  EXPECT_LT(worst, 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ParityTest, ::testing::Values("llama-tiny", "qwen2-tiny", "qwen3-tiny", "mistral-tiny",
                                                               "llama3-rope-tiny", "yarn-tiny", "yarn-original-tiny",
                                                               "yarn-mscale-tiny", "linear-tiny"));

// Dynamic NTK scaling depends on the length of the forward pass (its base grows once the sequence
// passes max_position_embeddings), so only whole-sequence forwards are compared: a 50-token one
// (scaled) and a 6-token one (plain), each alone, as transformers computes them.
TEST(DynamicRope, WholeSequenceLogitsMatchPythonReference) {
  torch::NoGradGuard no_grad;
  json ref = json::parse(read_file(fixture("reference.json")))["dynamic-tiny"];
  CausalLM m = load_causal_lm(fixture("dynamic-tiny"));
  m->eval();
  EXPECT_EQ(m->config().max_positions(), 64);
  for (size_t s = 0; s < ref["sequences"].size(); ++s) {
    auto ids = ref["sequences"][s].get<std::vector<int64_t>>();
    auto rows = ref["logits"][s].get<std::vector<std::vector<float>>>();
    at::Tensor expect = at::empty({static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows[0].size())});
    for (size_t i = 0; i < rows.size(); ++i) expect[i].copy_(at::tensor(rows[i]));
    at::Tensor got = m->forward(at::tensor(ids, at::kLong).unsqueeze(0))[0];
    EXPECT_LT((got - expect).abs().max().item<float>(), 1e-4) << "sequence " << s;
  }
  // The scaling is real: the first 32 positions of the 50-token forward differ from a 32-token
  // forward (within the trained context, so plain RoPE), which the reference also says.
  auto ids = ref["sequences"][0].get<std::vector<int64_t>>();
  at::Tensor tokens = at::tensor(ids, at::kLong).unsqueeze(0);
  at::Tensor scaled = m->forward(tokens)[0].narrow(0, 0, 32);
  at::Tensor plain = m->forward(tokens.narrow(1, 0, 32))[0];
  EXPECT_GT((scaled - plain).abs().max().item<float>(), 1e-3);
}

// --- Round trips ---

TransformerConfig small_config(bool tied) {
  TransformerConfig c;
  c.model_type = tied ? "qwen2" : "llama";
  c.architectures = {tied ? "Qwen2ForCausalLM" : "LlamaForCausalLM"};
  c.vocab_size = 40;
  c.hidden_size = 16;
  c.intermediate_size = 24;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 4;
  c.max_position_embeddings = 32;
  c.tie_word_embeddings = tied;
  c.eos_token_id = {2, 5};
  return c;
}

void expect_same_parameters(torch::nn::Module& a, torch::nn::Module& b) {
  auto pa = a.named_parameters(), pb = b.named_parameters();
  ASSERT_EQ(pa.keys(), pb.keys());
  for (const auto& item : pa) {
    const at::Tensor& x = item.value();
    const at::Tensor& y = pb[item.key()];
    ASSERT_EQ(x.scalar_type(), y.scalar_type()) << item.key();
    EXPECT_TRUE(at::equal(x, y)) << item.key() << " differs after the round trip";
  }
}

struct RoundTripCase {
  c10::ScalarType dtype;
  int64_t max_shard_bytes;
  bool tied;
};

class RoundTripTest : public ::testing::TestWithParam<RoundTripCase> {};

TEST_P(RoundTripTest, SaveThenLoadIsBitExact) {
  const auto p = GetParam();
  TempDir dir;
  TransformerConfig config = small_config(p.tied);
  CausalLM m(config);
  m->init_weights(5);
  m->to(p.dtype);
  SaveOptions opts;
  opts.dtype = p.dtype;
  opts.max_shard_bytes = p.max_shard_bytes;
  save_checkpoint(*m, config, dir.path(), opts);
  CausalLM back = load_causal_lm(dir.path(), c10::kCPU, p.dtype);
  expect_same_parameters(*m, *back);
  CheckpointInfo info = inspect_checkpoint(dir.path());
  EXPECT_EQ(info.dtype, safetensors_dtype_name(p.dtype));
  EXPECT_EQ(info.config.torch_dtype, dtype_to_name(p.dtype));
  EXPECT_EQ(info.num_parameters, config.num_parameters());
  EXPECT_EQ(info.config.eos_token_id, (std::vector<int64_t>{2, 5}));
  EXPECT_EQ(info.sharded, p.max_shard_bytes > 0);
  if (p.max_shard_bytes > 0) {
    EXPECT_GT(info.files.size(), 2u);
    EXPECT_TRUE(fs::exists(dir.path() + "/model.safetensors.index.json"));
    EXPECT_FALSE(fs::exists(dir.path() + "/model.safetensors"));
    json index = json::parse(read_file(dir.path() + "/model.safetensors.index.json"));
    EXPECT_EQ(index["weight_map"]["model.norm.weight"].get<std::string>().substr(0, 6), "model-");
  }
  SafetensorsReader first(info.files.front());
  EXPECT_EQ(first.metadata().at("format"), "pt");
  if (p.tied) {
    EXPECT_FALSE(first.find("lm_head.weight"));
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, RoundTripTest,
                         ::testing::Values(RoundTripCase{c10::kFloat, 0, false}, RoundTripCase{c10::kHalf, 0, true},
                                           RoundTripCase{c10::kBFloat16, 0, false},
                                           RoundTripCase{c10::kFloat, 4000, false},
                                           RoundTripCase{c10::kBFloat16, 3000, true}));

TEST(Checkpoint, ResavingInAnotherLayoutRemovesStaleFiles) {
  TempDir dir;
  TransformerConfig config = small_config(false);
  CausalLM m(config);
  m->init_weights(1);
  SaveOptions sharded;
  sharded.max_shard_bytes = 4000;
  save_checkpoint(*m, config, dir.path(), sharded);
  save_checkpoint(*m, config, dir.path());
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) files += e.path().extension() == ".safetensors";
  EXPECT_EQ(files, 1);
  EXPECT_FALSE(fs::exists(dir.path() + "/model.safetensors.index.json"));
  CausalLM back = load_causal_lm(dir.path());
  expect_same_parameters(*m, *back);
}

TEST(Checkpoint, TiedCheckpointWithRedundantLmHeadLoads) {
  TempDir dir;
  TransformerConfig config = small_config(true);
  CausalLM m(config);
  m->init_weights(2);
  save_checkpoint(*m, config, dir.path());
  // Rewrite the weights with a copy of the embeddings as lm_head.weight (older transformers did).
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& p : m->named_parameters()) tensors.emplace_back(p.key(), p.value());
  tensors.emplace_back("lm_head.weight", m->model->embed_tokens->weight);
  write_safetensors(dir.path() + "/model.safetensors", tensors, {{"format", "pt"}});
  CausalLM back = load_causal_lm(dir.path());
  expect_same_parameters(*m, *back);
}

TEST(Checkpoint, CriticLoadsFromPolicyCheckpoint) {
  TempDir dir;
  TransformerConfig config = small_config(false);
  CausalLM m(config);
  m->init_weights(3);
  save_checkpoint(*m, config, dir.path());
  Critic critic = load_critic(dir.path());
  EXPECT_TRUE(at::equal(critic->model->norm->weight, m->model->norm->weight));
  EXPECT_EQ(critic->score->weight.abs().sum().item<float>(), 0.f);
  save_checkpoint(*critic, config, dir.path() + "/critic");
  EXPECT_TRUE(SafetensorsReader(dir.path() + "/critic/model.safetensors").find("score.weight"));
}

// --- Bad checkpoints ---

// A safetensors file from a raw header and `data_bytes` zero bytes of data.
std::string raw_safetensors(const std::string& header, size_t data_bytes) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + std::string(data_bytes, '\0');
}

class BadCheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = small_config(false);
    model_ = CausalLM(config_);
    model_->init_weights(4);
    save_checkpoint(*model_, config_, dir_.path());
    weights_ = dir_.path() + "/model.safetensors";
  }
  // Rewrites the weights file with the model's tensors, edited by `edit`.
  void rewrite(const std::function<void(std::vector<std::pair<std::string, at::Tensor>>&)>& edit) {
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (const auto& p : model_->named_parameters()) tensors.emplace_back(p.key(), p.value());
    edit(tensors);
    write_safetensors(weights_, tensors, {{"format", "pt"}});
  }
  std::string load_error() {
    return error_message([&] { load_causal_lm(dir_.path()); });
  }
  TempDir dir_;
  TransformerConfig config_;
  CausalLM model_{nullptr};
  std::string weights_;
};

TEST_F(BadCheckpointTest, TruncatedFileNamesFileAndTensor) {
  std::string bytes = read_file(weights_);
  write_file_atomic(weights_, bytes.substr(0, bytes.size() - 100));
  std::string msg = load_error();
  EXPECT_CONTAINS(msg, weights_ + ": tensor '");
  EXPECT_CONTAINS(msg, "out of bounds: the data section has");
  EXPECT_CONTAINS(msg, "(file truncated?)");
  write_file_atomic(weights_, bytes.substr(0, 5));
  EXPECT_CONTAINS(load_error(), weights_ + ": truncated: file is 5 bytes, too short for the 8-byte header length");
}

TEST_F(BadCheckpointTest, HeaderLengthLargerThanFile) {
  std::string bytes = read_file(weights_);
  bytes[5] = 1;  // header length += 2^40
  write_file_atomic(weights_, bytes);
  EXPECT_CONTAINS(load_error(), weights_ + ": header length 1099511");
  EXPECT_CONTAINS(load_error(), "is larger than the file");
}

TEST_F(BadCheckpointTest, HeaderThatIsNotJson) {
  write_file_atomic(weights_, raw_safetensors("{\"a\": [1, 2", 0));
  EXPECT_CONTAINS(load_error(), weights_ + ": header is not valid JSON");
}

TEST_F(BadCheckpointTest, OffsetsOutOfBounds) {
  write_file_atomic(weights_, raw_safetensors(R"({"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8));
  EXPECT_CONTAINS(load_error(), weights_ + ": tensor 'x': data_offsets [0, 16] out of bounds: the data section has 8 bytes");
}

TEST_F(BadCheckpointTest, OffsetsNotMatchingShape) {
  write_file_atomic(weights_, raw_safetensors(R"({"x":{"dtype":"F16","shape":[3],"data_offsets":[0,8]}})", 8));
  EXPECT_CONTAINS(load_error(), weights_ + ": tensor 'x': data_offsets [0, 8] hold 8 bytes but shape [3] of F16 needs 6");
}

TEST_F(BadCheckpointTest, ByteSizeThatWrapsAroundIsRefused) {
  // 2^31 x 2^31 elements pass the element cap (2^62), but x 4 bytes wraps to 0 == [0, 0].
  write_file_atomic(weights_, raw_safetensors(
      R"({"x":{"dtype":"F32","shape":[2147483648,2147483648],"data_offsets":[0,0]}})", 8));
  EXPECT_CONTAINS(load_error(),
                  weights_ + ": tensor 'x': shape [2147483648,2147483648] of F32 needs more than 2^64 bytes");
  // The reader alone (no model config to compare against) refuses it too.
  EXPECT_CONTAINS(error_message([&] { SafetensorsReader r(weights_); }), "needs more than 2^64 bytes");
}

TEST_F(BadCheckpointTest, OverlappingTensors) {
  write_file_atomic(weights_, raw_safetensors(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                              R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                              16));
  EXPECT_CONTAINS(load_error(), weights_ + ": tensor 'b' (bytes [4, 12)) overlaps tensor 'a' (bytes [0, 8))");
}

TEST_F(BadCheckpointTest, UnknownDtype) {
  write_file_atomic(weights_, raw_safetensors(R"({"x":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}})", 8));
  EXPECT_CONTAINS(load_error(), weights_ + ": tensor 'x': unknown dtype 'F8_E4M3' (supported: F32, F16, BF16)");
}

TEST_F(BadCheckpointTest, MissingTensor) {
  rewrite([](auto& t) {
    t.erase(std::remove_if(t.begin(), t.end(), [](auto& e) { return e.first == "model.layers.1.mlp.up_proj.weight"; }),
            t.end());
  });
  EXPECT_CONTAINS(load_error(), weights_ + ": missing tensor 'model.layers.1.mlp.up_proj.weight' (expected shape [24, 16])");
}

TEST_F(BadCheckpointTest, ExtraTensor) {
  rewrite([](auto& t) { t.emplace_back("model.layers.2.mlp.up_proj.weight", at::zeros({24, 16})); });
  EXPECT_CONTAINS(load_error(), weights_ + ": unexpected tensor 'model.layers.2.mlp.up_proj.weight'");
}

TEST_F(BadCheckpointTest, ShapeMismatchWithConfig) {
  rewrite([](auto& t) {
    for (auto& e : t) {
      if (e.first == "model.layers.0.self_attn.k_proj.weight") e.second = at::zeros({16, 16});
    }
  });
  EXPECT_CONTAINS(load_error(),
                  weights_ + ": tensor 'model.layers.0.self_attn.k_proj.weight' has shape [16, 16] but config.json implies [8, 16]");
}

TEST_F(BadCheckpointTest, ShardMissingFromIndexedFile) {
  TempDir sharded;
  SaveOptions opts;
  opts.max_shard_bytes = 4000;
  save_checkpoint(*model_, config_, sharded.path(), opts);
  std::string index_path = sharded.path() + "/model.safetensors.index.json";
  json index = json::parse(read_file(index_path));
  std::string file = index["weight_map"]["model.norm.weight"];
  std::string other = index["weight_map"]["model.embed_tokens.weight"];
  ASSERT_NE(other, file);
  index["weight_map"]["model.norm.weight"] = other;
  write_file_atomic(index_path, index.dump());
  std::string msg = error_message([&] { load_causal_lm(sharded.path()); });
  EXPECT_CONTAINS(msg, sharded.path() + "/" + other + ": tensor 'model.norm.weight' is listed in model.safetensors.index.json but missing from " + other);
  fs::remove(sharded.path() + "/" + file);
  index["weight_map"]["model.norm.weight"] = file;
  write_file_atomic(index_path, index.dump());
  EXPECT_CONTAINS(error_message([&] { load_causal_lm(sharded.path()); }), sharded.path() + "/" + file + ": cannot open");
}

TEST_F(BadCheckpointTest, MissingWeightsAndBadConfig) {
  fs::remove(weights_);
  EXPECT_CONTAINS(load_error(), dir_.path() + ": no model.safetensors or model.safetensors.index.json found");
  const std::string cfg = dir_.path() + "/config.json";
  write_file_atomic(cfg, R"({"model_type": "llama", "vocab_size": 10, "hidden_size": 16})");
  EXPECT_CONTAINS(load_error(), cfg + ": missing required field 'intermediate_size'");
  write_file_atomic(cfg, R"({"model_type": "gpt2", "vocab_size": 10, "hidden_size": 16, "intermediate_size": 8,
                              "num_hidden_layers": 1, "num_attention_heads": 4})");
  EXPECT_CONTAINS(load_error(), cfg + ": field 'model_type' is 'gpt2'; supported: llama, qwen2, qwen3, mistral");
  write_file_atomic(cfg, R"({"vocab_size": 10, "hidden_size": 16, "intermediate_size": "8",
                              "num_hidden_layers": 1, "num_attention_heads": 4})");
  EXPECT_CONTAINS(load_error(), cfg + ": field 'intermediate_size' must be an integer, got string \"8\"");
  write_file_atomic(cfg, R"({"vocab_size": 10, "hidden_size": 16, "intermediate_size": 8,
                              "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 3})");
  EXPECT_CONTAINS(load_error(), cfg + ": field 'num_key_value_heads' (3) must divide num_attention_heads (4)");
  write_file_atomic(cfg, "{not json");
  EXPECT_CONTAINS(load_error(), cfg + ": invalid JSON");
}

TEST(ModelConfig, RotaryDimensionsAreBounded) {
  // The rotary tables (max_position_embeddings x head_dim) are built when the model is
  // constructed: absurd values must be refused before any allocation.
  auto with = [](const std::string& extra) {
    return json::parse(R"({"model_type":"llama","vocab_size":10,"hidden_size":16,"intermediate_size":8,
        "num_hidden_layers":1,"num_attention_heads":4)" + extra + "}");
  };
  EXPECT_EQ(error_message([&] { transformer_config_from_json(with(R"(,"head_dim":1073741824)"), "c.json"); }),
            "c.json: field 'head_dim' is 1073741824; expected an even number from 2 to 1024");
  EXPECT_EQ(error_message([&] {
              transformer_config_from_json(with(R"(,"max_position_embeddings":4000000000)"), "c.json");
            }),
            "c.json: field 'max_position_embeddings' is 4000000000; expected 1 to 4194304");
  EXPECT_EQ(error_message([&] {
              transformer_config_from_json(with(R"(,"head_dim":1024,"max_position_embeddings":4194304)"), "c.json");
            }),
            "c.json: rotary tables of 4194304 positions x head_dim 1024 are implausibly large (limit 2^22 "
            "positions, 2^29 entries)");
  // Real long-context configs still load (Llama 3.1: 131072 x 128; Qwen2.5-1M: 1010000 x 128).
  EXPECT_EQ(transformer_config_from_json(with(R"(,"max_position_embeddings":1010000)"), "c.json")
                .max_position_embeddings, 1010000);
}

TEST(ModelConfig, ParsesHuggingFaceFieldsAndKeepsUnknownKeys) {
  TransformerConfig c = load_transformer_config(fixture("qwen2-tiny/config.json"));
  EXPECT_EQ(c.model_type, "qwen2");
  EXPECT_TRUE(c.qkv_bias());
  EXPECT_FALSE(c.o_bias());
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.num_key_value_heads, 1);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.rope_theta, 1e6);
  EXPECT_EQ(c.torch_dtype, "bfloat16");
  json j = json::parse(R"({"model_type":"llama","vocab_size":10,"hidden_size":16,"intermediate_size":8,
      "num_hidden_layers":1,"num_attention_heads":4,"eos_token_id":[128001,128009],"pretraining_tp":1})");
  TransformerConfig d = transformer_config_from_json(j, "x.json");
  EXPECT_EQ(d.num_key_value_heads, 4);
  EXPECT_EQ(d.eos_token_id, (std::vector<int64_t>{128001, 128009}));
  json back = transformer_config_to_json(d);
  EXPECT_EQ(back["pretraining_tp"], 1);
  EXPECT_EQ(back["eos_token_id"], json::parse("[128001,128009]"));
  EXPECT_EQ(transformer_config_from_json(back, "y.json").num_parameters(), d.num_parameters());
}

TEST(ModelConfig, RopeScalingTypesParseRoundTripAndRefuseWhatIsNotSupported) {
  auto with = [](const std::string& extra) {
    return json::parse(R"({"model_type":"llama","vocab_size":10,"hidden_size":16,"intermediate_size":8,
        "num_hidden_layers":1,"num_attention_heads":4,"max_position_embeddings":1024)" + extra + "}");
  };
  // Llama 3.1's rope_scaling, written back as given.
  const json llama31 = json::parse(R"({"factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,
      "original_max_position_embeddings":8192,"rope_type":"llama3"})");
  TransformerConfig c = transformer_config_from_json(with(",\"rope_scaling\":" + llama31.dump()), "c.json");
  EXPECT_EQ(c.rope_scaling.type, "llama3");
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_EQ(c.max_positions(), 1024) << "llama3 configs give the extended context in max_position_embeddings";
  EXPECT_EQ(transformer_config_to_json(c)["rope_scaling"], llama31);
  // Qwen2.5's yarn (older "type" key): the context grows to factor x the original.
  c = transformer_config_from_json(
      with(R"(,"rope_scaling":{"factor":4.0,"original_max_position_embeddings":1024,"type":"yarn"})"), "c.json");
  EXPECT_EQ(c.rope_scaling.type, "yarn");
  EXPECT_EQ(c.max_positions(), 4096);
  c = transformer_config_from_json(with(R"(,"rope_scaling":{"type":"dynamic","factor":2.0})"), "c.json");
  EXPECT_EQ(c.max_positions(), 2048);
  c = transformer_config_from_json(with(R"(,"rope_scaling":{"rope_type":"default"})"), "c.json");
  EXPECT_TRUE(c.rope_scaling.type.empty());
  EXPECT_EQ(error_message([&] { transformer_config_from_json(with(R"(,"rope_scaling":{"rope_type":"longrope","factor":2})"), "c.json"); }),
            "c.json: rope_scaling type 'longrope' is not supported; supported: default, linear, dynamic, llama3, yarn");
  EXPECT_EQ(error_message([&] { transformer_config_from_json(with(R"(,"rope_scaling":{"rope_type":"llama3","factor":8})"), "c.json"); }),
            "c.json: rope_scaling (llama3) needs 'low_freq_factor'");
  EXPECT_EQ(error_message([&] { transformer_config_from_json(with(R"(,"rope_scaling":{"rope_type":"linear"})"), "c.json"); }),
            "c.json: rope_scaling (linear) needs 'factor'");
  EXPECT_EQ(error_message([&] { transformer_config_from_json(with(R"(,"rope_scaling":{"rope_type":"linear","factor":"2"})"), "c.json"); }),
            "c.json: rope_scaling.factor must be a finite number, got \"2\"");
  EXPECT_EQ(error_message([&] { transformer_config_from_json(with(R"(,"rope_scaling":{"factor":2})"), "c.json"); }),
            "c.json: field 'rope_scaling' = {\"factor\":2} has no 'rope_type' (or 'type') string");
  // DeepSeek-style yarn keys are read; a key no type reads is refused instead of ignored.
  c = transformer_config_from_json(
      with(R"(,"rope_scaling":{"rope_type":"yarn","factor":40,"mscale":0.707,"mscale_all_dim":1,"truncate":false,)"
           R"("beta_fast":16,"original_max_position_embeddings":64})"),
      "c.json");
  EXPECT_DOUBLE_EQ(c.rope_scaling.mscale, 0.707);
  EXPECT_DOUBLE_EQ(c.rope_scaling.mscale_all_dim, 1.0);
  EXPECT_FALSE(c.rope_scaling.truncate);
  EXPECT_EQ(error_message([&] { transformer_config_from_json(with(R"(,"rope_scaling":{"rope_type":"yarn","factor":4,"truncate":1})"), "c.json"); }),
            "c.json: rope_scaling.truncate must be true or false, got 1");
  EXPECT_EQ(error_message([&] { transformer_config_from_json(with(R"(,"rope_scaling":{"rope_type":"linear","factor":2,"mscale":1})"), "c.json"); }),
            "c.json: rope_scaling.mscale is not a setting of rope_scaling type 'linear' (expected: factor)");
  EXPECT_EQ(error_message([&] { transformer_config_from_json(with(R"(,"rope_scaling":{"rope_type":"yarn","factor":2,"short_factor":[1]})"), "c.json"); }),
            "c.json: rope_scaling.short_factor is not a setting of rope_scaling type 'yarn' (expected: attention_factor, "
            "beta_fast, beta_slow, factor, mscale, mscale_all_dim, original_max_position_embeddings, truncate)");
  // Mistral: a sliding window shorter than the context is refused; Qwen's unused one is kept.
  EXPECT_EQ(error_message([&] { transformer_config_from_json(with(R"(,"model_type":"mistral","sliding_window":256)"), "c.json"); }),
            "c.json: field 'sliding_window' is 256, shorter than max_position_embeddings 1024: sliding-window attention "
            "is not supported (set it to null or >= the context if the model was trained without it)");
  EXPECT_EQ(transformer_config_from_json(with(R"(,"model_type":"mistral","sliding_window":null)"), "c.json").architectures,
            std::vector<std::string>{"MistralForCausalLM"});
  c = transformer_config_from_json(with(R"(,"model_type":"qwen2","use_sliding_window":false,"sliding_window":131072)"), "c.json");
  EXPECT_EQ(transformer_config_to_json(c)["sliding_window"], 131072);
}

}  // namespace
}  // namespace rlvr::core
