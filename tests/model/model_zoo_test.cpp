// The model zoo (configs/models/<name>/config.json, architectures only): each real Hugging Face
// config is read by rlvr's config reader; its parameter count, computed from the config alone, must
// equal the figure the publisher states (configs/models/README.md names the sources); and a copy
// shrunk in depth and width (same model_type, rope scaling, GQA ratio, head layout and vocabulary)
// is initialized, written with rlvr's writer and read back: config.json keys preserved, tensors and
// logits equal.
#include <cmath>
#include <filesystem>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/error.h"
#include "core/fs.h"
#include "core/model/checkpoint.h"
#include "core/model/model_config.h"
#include "core/model/safetensors.h"
#include "core/model/transformer.h"
#include "tests/test_util.h"

namespace rlvr::core {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::error_message;
using testing::TempDir;

std::string zoo_dir(const std::string& name) { return std::string(RLVR_SOURCE_DIR) + "/configs/models/" + name; }

// A figure from a model card, in billions, with the decimals the card gives ("7.61B": {7.61, 2}).
// Cards round some figures and truncate others (Qwen2.5-7B: 7,615,616,512 is "7.61B", its
// 6,525,621,760 non-embedding parameters "6.53B"), so a count matches when it is within one unit
// of the last stated digit.
struct CardFigure {
  double billions = 0;  // 0: not stated
  int decimals = 0;
};

// What the publisher states for one zoo model. `exact` is the Hugging Face safetensors "total" when
// it counts each parameter once (0: none such); `card` and `card_non_embedding` are the model
// card's "Number of Parameters" and "Number of Parameters (Non-Embedding)".
struct ZooModel {
  std::string name;
  std::string model_type;
  std::string rope_type;  // "" for plain RoPE
  bool tied;
  int64_t exact;
  CardFigure card, card_non_embedding;
};

void PrintTo(const ZooModel& m, std::ostream* os) { *os << m.name; }

const std::vector<ZooModel>& zoo() {
  static const std::vector<ZooModel> models = {
      {"Llama-3.1-8B", "llama", "llama3", false, 8030261248, {}, {}},
      {"Llama-3.2-1B", "llama", "llama3", true, 1235814400, {}, {}},
      {"Qwen2.5-1.5B", "qwen2", "", true, 1543714304, {1.54, 2}, {1.31, 2}},
      // Qwen2.5-Math-7B's card states no count; it has Qwen2.5-7B's architecture (the card's
      // base_model), whose card states 7.61B / 6.53B non-embedding.
      {"Qwen2.5-Math-7B", "qwen2", "", false, 7615616512, {7.61, 2}, {6.53, 2}},
      // The Hub's safetensors total for Qwen3-0.6B (751,632,384) also counts the lm_head.weight copy
      // the checkpoint stores although the embeddings are tied: see TiedCheckpointsStoringLmHead.
      {"Qwen3-0.6B", "qwen3", "", true, 0, {0.6, 1}, {0.44, 2}},
      {"Qwen3-8B", "qwen3", "", false, 8190735360, {8.2, 1}, {6.95, 2}},
  };
  return models;
}

// --- The zoo as a whole ---

TEST(ModelZoo, HoldsExactlyTheListedModels) {
  std::set<std::string> on_disk, listed;
  for (const auto& entry : fs::directory_iterator(std::string(RLVR_SOURCE_DIR) + "/configs/models")) {
    if (entry.is_directory()) on_disk.insert(entry.path().filename().string());
  }
  for (const auto& m : zoo()) listed.insert(m.name);
  EXPECT_EQ(on_disk, listed) << "every configs/models/<name> needs its stated parameter count here";
}

TEST(ModelZoo, TiedCheckpointsStoringLmHeadAreCountedOnce) {
  // Hugging Face reports 751,632,384 for Qwen/Qwen3-0.6B: the file stores lm_head.weight
  // (151936 x 1024) next to the tied embed_tokens.weight. Counted once it is 596,049,920 ("0.6B").
  const TransformerConfig c = load_transformer_config(zoo_dir("Qwen3-0.6B") + "/config.json");
  EXPECT_EQ(c.num_parameters(), 596049920);
  EXPECT_EQ(c.num_parameters() + c.vocab_size * c.hidden_size, 751632384);
}

// --- Each model ---

class ZooTest : public ::testing::TestWithParam<ZooModel> {};

TEST_P(ZooTest, ConfigIsReadAsPublished) {
  const ZooModel m = GetParam();
  const TransformerConfig c = load_transformer_config(zoo_dir(m.name) + "/config.json");
  EXPECT_EQ(c.model_type, m.model_type);
  EXPECT_EQ(c.rope_scaling.type, m.rope_type);
  EXPECT_EQ(c.tie_word_embeddings, m.tied);
  EXPECT_EQ(c.qk_norm(), m.model_type == "qwen3");
  EXPECT_EQ(c.qkv_bias(), m.model_type == "qwen2");
  EXPECT_FALSE(c.o_bias());
}

TEST_P(ZooTest, ParameterCountFromConfigEqualsTheStatedFigure) {
  const ZooModel m = GetParam();
  const TransformerConfig c = load_transformer_config(zoo_dir(m.name) + "/config.json");
  if (m.exact > 0) {
    EXPECT_EQ(c.num_parameters(), m.exact);
  }
  auto expect_card = [&](const char* what, int64_t count, const CardFigure& card) {
    if (card.billions <= 0) return;
    const double unit = std::pow(10.0, -card.decimals);
    EXPECT_LT(std::abs(static_cast<double>(count) / 1e9 - card.billions), unit)
        << m.name << ": " << what << " " << count << " vs the card's " << card.billions << "B";
  };
  expect_card("parameters", c.num_parameters(), m.card);
  expect_card("non-embedding parameters", c.num_non_embedding_parameters(), m.card_non_embedding);
}

TEST_P(ZooTest, InspectWithoutWeightsDescribesTheArchitecture) {
  const ZooModel m = GetParam();
  CheckpointInfo info = inspect_checkpoint(zoo_dir(m.name));
  EXPECT_FALSE(info.has_weights);
  EXPECT_EQ(info.dtype, "none");
  EXPECT_EQ(info.num_tensors, 0);
  EXPECT_TRUE(info.files.empty());
  EXPECT_EQ(info.size_bytes, static_cast<int64_t>(fs::file_size(zoo_dir(m.name) + "/config.json")));
  EXPECT_EQ(info.config.model_type, m.model_type);
}

TEST_P(ZooTest, WritingTheFullConfigKeepsEveryKey) {
  const ZooModel m = GetParam();
  const json source = json::parse(read_file(zoo_dir(m.name) + "/config.json"));
  const json written = transformer_config_to_json(transformer_config_from_json(source, m.name));
  for (const auto& [key, value] : source.items()) {
    ASSERT_TRUE(written.contains(key)) << m.name << ": '" << key << "' dropped";
    EXPECT_EQ(written.at(key), value) << m.name << ": '" << key << "'";
  }
}

// The zoo config reduced to 2 layers and a small width. The GQA ratio (query heads per kv head)
// is kept, and so is the head layout: the query projection's width relative to hidden_size (1 for
// most, 2 for Qwen3-0.6B whose head_dim 128 x 16 heads = 2 x 1024), and whether head_dim is named.
// Vocabulary, rope_theta, rope_scaling (type and values) and every other key stay as published.
json shrink(const json& full_json, const TransformerConfig& full) {
  json small = full_json;
  const int64_t group = full.num_attention_heads / full.num_key_value_heads;
  const int64_t kv = group >= 4 ? 1 : (4 + group - 1) / group;  // at least 4 query heads
  const int64_t heads = group * kv;
  const int64_t q_width_full = full.num_attention_heads * full.head_dim;
  int64_t head_dim = 16, hidden = 0;
  for (;; head_dim *= 2) {
    const int64_t q_width = heads * head_dim;
    RLVR_CHECK((q_width * full.hidden_size) % q_width_full == 0, "{}: cannot keep the head layout", full.model_type);
    hidden = q_width * full.hidden_size / q_width_full;
    if (hidden >= 64) break;
  }
  small["num_hidden_layers"] = 2;
  small["hidden_size"] = hidden;
  small["intermediate_size"] = 2 * hidden;
  small["num_attention_heads"] = heads;
  small["num_key_value_heads"] = kv;
  if (full_json.contains("head_dim")) small["head_dim"] = head_dim;
  if (full_json.contains("max_window_layers")) small["max_window_layers"] = 2;
  return small;
}

TEST_P(ZooTest, ShrunkModelRoundTripsThroughWriterAndReader) {
  const ZooModel m = GetParam();
  torch::NoGradGuard no_grad;
  const json full_json = json::parse(read_file(zoo_dir(m.name) + "/config.json"));
  const TransformerConfig full = transformer_config_from_json(full_json, m.name);
  const json small_json = shrink(full_json, full);
  const TransformerConfig small = transformer_config_from_json(small_json, m.name + " (shrunk)");

  // Same family traits as the published model.
  EXPECT_EQ(small.model_type, full.model_type);
  EXPECT_EQ(small.vocab_size, full.vocab_size);
  EXPECT_EQ(small.rope_scaling.json, full.rope_scaling.json);
  EXPECT_EQ(small.rope_theta, full.rope_theta);
  EXPECT_EQ(small.max_positions(), full.max_positions());
  EXPECT_EQ(small.num_attention_heads / small.num_key_value_heads, full.num_attention_heads / full.num_key_value_heads);
  EXPECT_EQ(small.num_attention_heads * small.head_dim * full.hidden_size,
            full.num_attention_heads * full.head_dim * small.hidden_size);
  EXPECT_EQ(small.tie_word_embeddings, full.tie_word_embeddings);
  EXPECT_EQ(small.num_hidden_layers, 2);

  CausalLM model(small);
  model->init_weights(/*seed=*/11);
  model->eval();
  EXPECT_EQ(model->parameters().size() > 0, true);
  int64_t elements = 0;
  for (const auto& p : model->parameters()) elements += p.numel();
  EXPECT_EQ(elements, small.num_parameters()) << "num_parameters() must count the module's parameters";

  TempDir dir;
  SaveOptions opts;
  opts.dtype = c10::kFloat;
  save_checkpoint(*model, small, dir.path(), opts);

  // config.json: every key of the (shrunk) published file is written back with its value; only
  // torch_dtype follows the dtype on disk.
  const json written = json::parse(read_file(dir.path() + "/config.json"));
  for (const auto& [key, value] : small_json.items()) {
    ASSERT_TRUE(written.contains(key)) << m.name << ": '" << key << "' dropped";
    if (key == "torch_dtype") {
      EXPECT_EQ(written.at(key), "float32");
    } else {
      EXPECT_EQ(written.at(key), value) << m.name << ": '" << key << "'";
    }
  }
  // Tied checkpoints leave lm_head.weight out, as transformers does.
  SafetensorsReader file(dir.path() + "/model.safetensors");
  EXPECT_EQ(file.find("lm_head.weight") != nullptr, !m.tied);
  EXPECT_EQ(file.find("model.layers.0.self_attn.q_norm.weight") != nullptr, m.model_type == "qwen3");
  EXPECT_EQ(file.find("model.layers.0.self_attn.q_proj.bias") != nullptr, m.model_type == "qwen2");

  CausalLM back = load_causal_lm(dir.path());
  back->eval();
  const TransformerConfig& read = back->config();
  EXPECT_EQ(read.rope_scaling.json, full.rope_scaling.json);
  EXPECT_EQ(read.head_dim, small.head_dim);
  EXPECT_EQ(read.vocab_size, full.vocab_size);

  auto params = model->named_parameters();
  auto params_back = back->named_parameters();
  ASSERT_EQ(params.size(), params_back.size());
  for (const auto& item : params) {
    const at::Tensor* other = params_back.find(item.key());
    ASSERT_NE(other, nullptr) << item.key();
    EXPECT_TRUE(torch::equal(item.value(), *other)) << m.name << ": tensor '" << item.key() << "' differs";
  }

  // A few tokens spread over the vocabulary, the last one included.
  const int64_t V = full.vocab_size;
  at::Tensor tokens = torch::tensor({int64_t{0}, V / 3, V / 2, V - 2, V - 1, int64_t{7}}, torch::kLong).unsqueeze(0);
  at::Tensor logits = model->forward(tokens);
  at::Tensor logits_back = back->forward(tokens);
  ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{1, 6, V}));
  EXPECT_TRUE(torch::isfinite(logits).all().item<bool>());
  EXPECT_GT(logits.std().item<double>(), 0.0);
  EXPECT_TRUE(torch::equal(logits, logits_back)) << m.name << ": logits differ after the round trip";
}

INSTANTIATE_TEST_SUITE_P(Zoo, ZooTest, ::testing::ValuesIn(zoo()),
                         [](const ::testing::TestParamInfo<ZooModel>& info) {
                           std::string name = info.param.name;
                           for (char& ch : name) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });

// --- Directories without weights, and stray weights ---

TEST(ModelZooInspect, StrayShardsWithoutIndexAreAnErrorNotAnArchitecture) {
  TempDir dir;
  write_file_atomic(dir.path() + "/config.json", read_file(zoo_dir("Qwen3-0.6B") + "/config.json"));
  write_file_atomic(dir.path() + "/model-00001-of-00002.safetensors", "x");
  const std::string message = error_message([&] { inspect_checkpoint(dir.path()); });
  EXPECT_NE(message.find("no model.safetensors or model.safetensors.index.json found"), std::string::npos) << message;
}

TEST(ModelZooInspect, MissingConfigIsStillAnError) {
  TempDir dir;
  const std::string message = error_message([&] { inspect_checkpoint(dir.path()); });
  EXPECT_NE(message.find(dir.path() + "/config.json"), std::string::npos) << message;
}

}  // namespace
}  // namespace rlvr::core
