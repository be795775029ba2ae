// The decoder's numerics: incremental decoding equals the full forward (also with left-padded
// rows of different lengths and chunked prefill), padding and packing equal separate sequences,
// the streaming linear kernel equals BLAS, the critic and reduced-precision paths run.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.h"
#include "core/model/ops.h"
#include "core/model/transformer.h"
#include "tests/test_util.h"

namespace rlvr::core {
namespace {

TransformerConfig tiny_config(const std::string& type = "llama") {
  TransformerConfig c;
  c.model_type = type;
  c.vocab_size = 61;
  c.hidden_size = 48;
  c.intermediate_size = 80;
  c.num_hidden_layers = 3;
  c.num_attention_heads = 6;
  c.num_key_value_heads = 2;
  c.head_dim = 8;
  c.max_position_embeddings = 64;
  c.rms_norm_eps = 1e-5;
  c.tie_word_embeddings = type == "qwen2";
  c.initializer_range = 0.2;  // large weights so attention patterns are far from uniform
  return c;
}

CausalLM make_model(const std::string& type = "llama", uint64_t seed = 7) {
  CausalLM m(tiny_config(type));
  m->init_weights(seed);
  m->eval();
  return m;
}

float max_diff(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().max().item<float>(); }

at::Tensor random_tokens(int64_t b, int64_t t, int64_t vocab, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  return at::randint(vocab, {b, t}, gen, at::kLong);
}

class DecodeTest : public ::testing::TestWithParam<std::string> {};

TEST_P(DecodeTest, IncrementalEqualsFullForward) {
  torch::NoGradGuard no_grad;
  CausalLM m = make_model(GetParam());
  at::Tensor tokens = random_tokens(2, 20, 61, 1);
  at::Tensor full = m->forward(tokens);  // [2, 20, V]
  KVCache cache = m->make_cache(2, 32);
  at::Tensor first = m->forward_cached(tokens.narrow(1, 0, 5), cache, {}, /*last_only=*/false);
  float diff = max_diff(first, full.narrow(1, 0, 5));
  for (int64_t t = 5; t < 20; ++t) {
    at::Tensor step = m->decode_step(tokens.select(1, t), cache);
    diff = std::max(diff, max_diff(step, full.select(1, t)));
  }
  std::printf("[ %s ] incremental vs full max |diff| = %.3g\n", GetParam().c_str(), diff);
  EXPECT_LT(diff, 1e-4);
  EXPECT_EQ(cache.length(), 20);
  EXPECT_EQ(cache.next_positions()[0].item<int64_t>(), 20);
}

TEST_P(DecodeTest, LeftPaddedRowsOfDifferentLengthsDecodeTogether) {
  torch::NoGradGuard no_grad;
  CausalLM m = make_model(GetParam());
  const std::vector<int64_t> lengths = {9, 4, 6};
  const int64_t P = 9, N = 7;  // padded prompt length, new tokens
  std::vector<at::Tensor> seqs;
  for (size_t i = 0; i < lengths.size(); ++i) seqs.push_back(random_tokens(1, lengths[i] + N, 61, 10 + i)[0]);
  at::Tensor prompt = at::zeros({3, P}, at::kLong), mask = at::zeros({3, P}, at::kLong);
  for (int64_t i = 0; i < 3; ++i) {
    prompt[i].narrow(0, P - lengths[i], lengths[i]).copy_(seqs[i].narrow(0, 0, lengths[i]));
    mask[i].narrow(0, P - lengths[i], lengths[i]).fill_(1);
  }
  KVCache cache = m->make_cache(3, P + N);
  at::Tensor last = m->forward_cached(prompt, cache, mask);
  float diff = 0;
  for (int64_t i = 0; i < 3; ++i) {
    at::Tensor ref = m->forward(seqs[i].unsqueeze(0))[0];  // unpadded, alone
    diff = std::max(diff, max_diff(last[i], ref[lengths[i] - 1]));
  }
  for (int64_t t = 0; t < N; ++t) {
    at::Tensor next = at::stack({seqs[0][lengths[0] + t], seqs[1][lengths[1] + t], seqs[2][lengths[2] + t]});
    at::Tensor step = m->decode_step(next, cache);
    for (int64_t i = 0; i < 3; ++i) {
      at::Tensor ref = m->forward(seqs[i].narrow(0, 0, lengths[i] + t + 1).unsqueeze(0))[0];
      diff = std::max(diff, max_diff(step[i], ref[lengths[i] + t]));
    }
  }
  std::printf("[ %s ] left-padded batch decode vs single-row forward max |diff| = %.3g\n", GetParam().c_str(),
              diff);
  EXPECT_LT(diff, 1e-4);
  EXPECT_EQ(cache.next_positions()[1].item<int64_t>(), lengths[1] + N);
}

INSTANTIATE_TEST_SUITE_P(Model, DecodeTest, ::testing::Values("llama", "qwen2"));

TEST(Transformer, PaddedForwardMatchesUnpadded) {
  torch::NoGradGuard no_grad;
  CausalLM m = make_model();
  at::Tensor a = random_tokens(1, 10, 61, 3), b = random_tokens(1, 6, 61, 4);
  at::Tensor batch = at::zeros({2, 10}, at::kLong), mask = at::ones({2, 10}, at::kLong);
  batch[0].copy_(a[0]);
  batch[1].narrow(0, 4, 6).copy_(b[0]);  // left padding
  mask[1].narrow(0, 0, 4).zero_();
  at::Tensor out = m->forward(batch, {mask, {}, {}});
  EXPECT_LT(max_diff(out[0], m->forward(a)[0]), 1e-5);
  EXPECT_LT(max_diff(out[1].narrow(0, 4, 6), m->forward(b)[0]), 1e-5);
  // Right padding too.
  batch[1].zero_();
  batch[1].narrow(0, 0, 6).copy_(b[0]);
  mask[1].zero_();
  mask[1].narrow(0, 0, 6).fill_(1);
  out = m->forward(batch, {mask, {}, {}});
  EXPECT_LT(max_diff(out[1].narrow(0, 0, 6), m->forward(b)[0]), 1e-5);
}

TEST(Transformer, PackedSequencesEqualSeparateSequences) {
  torch::NoGradGuard no_grad;
  CausalLM m = make_model("qwen2");
  at::Tensor a = random_tokens(1, 7, 61, 5), b = random_tokens(1, 5, 61, 6);
  at::Tensor packed = at::cat({a, b}, 1);
  at::Tensor seg = at::cat({at::full({1, 7}, 1, at::kLong), at::full({1, 5}, 2, at::kLong)}, 1);
  at::Tensor out = m->forward(packed, {{}, {}, seg});
  float diff = std::max(max_diff(out[0].narrow(0, 0, 7), m->forward(a)[0]),
                        max_diff(out[0].narrow(0, 7, 5), m->forward(b)[0]));
  std::printf("packed vs separate max |diff| = %.3g\n", diff);
  EXPECT_LT(diff, 1e-5);
  // Explicit position ids give the same result as the derived ones.
  at::Tensor pos = at::cat({at::arange(7, at::kLong), at::arange(5, at::kLong)}).unsqueeze(0);
  EXPECT_LT(max_diff(m->forward(packed, {{}, pos, seg}), out), 1e-6);
}

TEST(Transformer, TrainingForwardHasGradientsForEveryParameter) {
  CausalLM m = make_model();
  m->train();
  at::Tensor tokens = random_tokens(2, 8, 61, 8);
  at::Tensor logits = m->forward(tokens);
  at::Tensor loss = at::cross_entropy_loss(logits.reshape({-1, 61}), tokens.reshape({-1}));
  loss.backward();
  for (const auto& p : m->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<float>(), 0) << p.key();
  }
}

TEST(Transformer, ParameterNamesAreHuggingFaceKeys) {
  CausalLM untied = make_model("llama");
  auto names = untied->named_parameters().keys();
  EXPECT_EQ(names.front(), "model.embed_tokens.weight");
  EXPECT_EQ(names.back(), "lm_head.weight");
  EXPECT_TRUE(untied->named_parameters().contains("model.layers.2.self_attn.q_proj.weight"));
  EXPECT_TRUE(untied->named_parameters().contains("model.layers.0.mlp.down_proj.weight"));
  EXPECT_TRUE(untied->named_parameters().contains("model.layers.1.post_attention_layernorm.weight"));
  EXPECT_FALSE(untied->named_parameters().contains("model.layers.0.self_attn.q_proj.bias"));
  CausalLM qwen = make_model("qwen2");
  EXPECT_TRUE(qwen->named_parameters().contains("model.layers.0.self_attn.q_proj.bias"));
  EXPECT_FALSE(qwen->named_parameters().contains("model.layers.0.self_attn.o_proj.bias"));
  EXPECT_FALSE(qwen->named_parameters().contains("lm_head.weight"));
  int64_t count = 0;
  for (const auto& p : qwen->parameters()) count += p.numel();
  EXPECT_EQ(count, tiny_config("qwen2").num_parameters());
}

TEST(Transformer, CriticGivesOneValuePerPosition) {
  Critic critic(tiny_config());
  critic->init_weights(3);
  at::Tensor v = critic->forward(random_tokens(3, 5, 61, 9));
  EXPECT_EQ(v.sizes(), (std::vector<int64_t>{3, 5}));
  EXPECT_TRUE(critic->named_parameters().contains("score.weight"));
  EXPECT_TRUE(at::isfinite(v).all().item<bool>());
}

TEST(Transformer, StreamingLinearEqualsBlas) {
  torch::NoGradGuard no_grad;
  at::Generator gen = at::detail::createCPUGenerator(11);
  for (int64_t rows : {1, 2, 3, 4, 5, 7, 16}) {
    for (int64_t k : {8, 13, 512}) {
      at::Tensor x = at::randn({rows, k}, gen), w = at::randn({37, k}, gen), b = at::randn({37}, gen);
      detail::set_streaming_linear_enabled(true);
      at::Tensor fast = detail::linear(x, w, b);
      detail::set_streaming_linear_enabled(false);
      at::Tensor ref = detail::linear(x, w, b);
      detail::set_streaming_linear_enabled(true);
      EXPECT_LT(max_diff(fast, ref), 1e-3) << rows << "x" << k;
      EXPECT_LT(max_diff(detail::linear(x, w, {}), at::linear(x, w)), 1e-3);
    }
  }
}

TEST(Transformer, BFloat16ForwardAndDecodeRun) {
  torch::NoGradGuard no_grad;
  CausalLM m = make_model();
  at::Tensor tokens = random_tokens(2, 6, 61, 12);
  at::Tensor ref = m->forward(tokens);
  m->to(at::kBFloat16);
  at::Tensor out = m->forward(tokens);
  EXPECT_EQ(out.scalar_type(), at::kBFloat16);
  EXPECT_LT(max_diff(out.to(at::kFloat), ref), 0.5);
  KVCache cache = m->make_cache(2, 8);
  at::Tensor last = m->forward_cached(tokens, cache);
  EXPECT_LT(max_diff(last.to(at::kFloat), out.select(1, 5).to(at::kFloat)), 0.1);
}

TEST(Transformer, CacheRowSelectionKeepsRowsDecoding) {
  torch::NoGradGuard no_grad;
  CausalLM m = make_model();
  at::Tensor tokens = random_tokens(3, 6, 61, 13);
  KVCache cache = m->make_cache(3, 8);
  m->forward_cached(tokens.narrow(1, 0, 5), cache);
  cache.select_rows(at::tensor({2, 0}, at::kLong));
  at::Tensor step = m->decode_step(at::stack({tokens[2][5], tokens[0][5]}), cache);
  at::Tensor full = m->forward(tokens);
  EXPECT_LT(max_diff(step[0], full[2][5]), 1e-4);
  EXPECT_LT(max_diff(step[1], full[0][5]), 1e-4);
  EXPECT_EQ(cache.batch_size(), 2);
}

// Dropping rows in order (what the sampler does when samples finish) moves rows in place; the
// kept rows go on decoding, several steps and a second drop later, as a full forward pass says.
TEST(Transformer, DroppingCacheRowsInOrderKeepsRowsDecoding) {
  torch::NoGradGuard no_grad;
  CausalLM m = make_model();
  at::Tensor tokens = random_tokens(5, 9, 61, 14);
  at::Tensor full = m->forward(tokens);
  KVCache cache = m->make_cache(5, 10);
  m->forward_cached(tokens.narrow(1, 0, 5), cache);
  std::vector<int64_t> kept = {0, 1, 2, 3, 4};
  auto drop_to = [&](std::vector<int64_t> positions) {  // positions within the current rows
    std::vector<int64_t> next;
    for (int64_t p : positions) next.push_back(kept[static_cast<size_t>(p)]);
    cache.select_rows(at::tensor(positions, at::kLong));
    kept = next;
  };
  drop_to({1, 3, 4});
  for (int64_t t = 5; t < 9; ++t) {
    if (t == 7) drop_to({0, 2});
    std::vector<int64_t> feed;
    for (int64_t r : kept) feed.push_back(tokens[r][t].item<int64_t>());
    at::Tensor step = m->decode_step(at::tensor(feed, at::kLong), cache);
    ASSERT_EQ(step.size(0), static_cast<int64_t>(kept.size()));
    for (size_t i = 0; i < kept.size(); ++i) {
      EXPECT_LT(max_diff(step[static_cast<int64_t>(i)], full[kept[i]][t]), 1e-4) << "row " << kept[i] << " token " << t;
    }
  }
  EXPECT_EQ(kept, (std::vector<int64_t>{1, 4}));
  EXPECT_EQ(cache.batch_size(), 2);
  EXPECT_EQ(cache.keys.size(1), 2);
}

TEST(Transformer, BadInputsThrowRlvrError) {
  torch::NoGradGuard no_grad;
  CausalLM m = make_model();
  using testing::error_message;
  EXPECT_NE(error_message([&] { m->forward(at::tensor({1, 61}, at::kLong).unsqueeze(0)); }).find("token id out of range [0, 61): found 61"),
            std::string::npos);
  EXPECT_NE(error_message([&] { m->forward(at::zeros({1, 65}, at::kLong)); }).find("sequence length 65 exceeds the model's 64 positions"),
            std::string::npos);
  EXPECT_NE(error_message([&] { m->forward(at::zeros({2, 3}, at::kLong), {at::ones({2, 4}), {}, {}}); })
                .find("attention_mask must have shape [2, 3]"),
            std::string::npos);
  KVCache cache = m->make_cache(1, 4);
  EXPECT_NE(error_message([&] { m->forward_cached(at::zeros({1, 5}, at::kLong), cache); }).find("KV cache full"),
            std::string::npos);
  EXPECT_EQ(cache.length(), 0);
  EXPECT_EQ(error_message([&] { cache.select_rows(at::tensor({0, 3}, at::kLong)); }),
            "select_rows: row 3 out of range [0, 1)");
  EXPECT_EQ(error_message([&] { cache.select_rows(at::tensor({-2, 0}, at::kLong)); }),
            "select_rows: row -2 out of range [0, 1)");
  EXPECT_EQ(cache.batch_size(), 1);
  EXPECT_NE(error_message([&] { m->make_cache(1, 65); }).find("max_len must be in [1, the model's 64 positions]"),
            std::string::npos);
}

}  // namespace
}  // namespace rlvr::core
