// Weights as one buffer + manifest: round trip, and every mismatch refused before anything changes.
#include "core/model/weights_blob.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/model/transformer.h"
#include "tests/test_util.h"

namespace rlvr::core {
namespace {

TransformerConfig cfg() {
  TransformerConfig c;
  c.vocab_size = 50;
  c.hidden_size = 16;
  c.intermediate_size = 24;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  c.head_dim = 8;
  c.max_position_embeddings = 32;
  return c;
}

TEST(WeightsBlob, RoundTripIsBitExact) {
  CausalLM a(cfg()), b(cfg());
  a->init_weights(1);
  b->init_weights(2);
  WeightsBlob blob = pack_weights(*a);
  ASSERT_FALSE(blob.entries.empty());
  EXPECT_EQ(blob.entries.front().name, "model.embed_tokens.weight");
  EXPECT_EQ(blob.entries.back().offset + blob.entries.back().bytes, blob.data.size());
  unpack_weights(*b, blob.entries, blob.data, "test");
  for (const auto& pa : a->named_parameters()) {
    EXPECT_TRUE(torch::equal(pa.value(), b->named_parameters()[pa.key()])) << pa.key();
  }
}

TEST(WeightsBlob, MismatchesAreRefusedBeforeAnythingChanges) {
  CausalLM a(cfg());
  a->init_weights(1);
  WeightsBlob blob = pack_weights(*a);
  CausalLM b(cfg());
  b->init_weights(2);
  const at::Tensor before = b->model->norm->weight.clone();
  auto expect_refused = [&](WeightsBlob bad, const std::string& message) {
    std::string msg = rlvr::testing::error_message([&] { unpack_weights(*b, bad.entries, bad.data, "peer"); });
    EXPECT_NE(msg.find(message), std::string::npos) << msg;
    EXPECT_TRUE(torch::equal(b->model->norm->weight, before)) << "nothing changed";
  };
  WeightsBlob renamed = blob;
  renamed.entries[1].name = "model.layers.0.evil";
  expect_refused(renamed, "peer: the weights do not fit this model: entry 1: name 'model.layers.0.evil'");
  WeightsBlob reshaped = blob;
  reshaped.entries[0].shape = {16, 50};
  expect_refused(reshaped, "entry 0 (model.embed_tokens.weight): shape [16, 50], expected [50, 16]");
  WeightsBlob short_data = blob;
  short_data.data.resize(short_data.data.size() - 4);
  expect_refused(short_data, "bytes of weights, expected");
  WeightsBlob fewer = blob;
  fewer.entries.pop_back();
  expect_refused(fewer, "tensors, expected");
  WeightsBlob half = blob;
  half.entries[2].dtype = "BF16";
  expect_refused(half, "dtype BF16, expected F32");
}

}  // namespace
}  // namespace rlvr::core
