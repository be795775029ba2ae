// The sampling engine: greedy limits, continuous batching equivalence, log-prob parity with a
// full forward pass, EOS and stop strings, groups, reproducibility and input errors.
#include "actors/sampler.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/model/logprobs.h"
#include "core/model/weights_blob.h"
#include "tests/actors/actors_test_util.h"
#include "tests/test_util.h"

namespace rlvr::actors {
namespace {

using rlvr::testing::tiny_model;

// Prompts of varied lengths with ids in [4, vocab).
std::vector<std::vector<int32_t>> make_prompts(int count, uint64_t seed, int64_t vocab = 320) {
  std::vector<std::vector<int32_t>> out;
  uint64_t x = seed;
  for (int i = 0; i < count; ++i) {
    std::vector<int32_t> p;
    const int len = 3 + (i * 7) % 19;
    for (int j = 0; j < len; ++j) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      p.push_back(static_cast<int32_t>(4 + (x >> 33) % static_cast<uint64_t>(vocab - 4)));
    }
    out.push_back(p);
  }
  return out;
}

std::vector<Sample> run(core::CausalLM& model, const std::vector<std::vector<int32_t>>& prompts,
                        const SamplingParams& params, SamplerOptions opts = {}, const core::Tokenizer* tok = nullptr,
                        GenerateStats* stats = nullptr) {
  Sampler sampler(model.ptr(), tok, opts);
  auto out = sampler.generate(prompts, params, /*policy_version=*/3);
  if (stats) *stats = sampler.last_stats();
  return out;
}

void expect_same_tokens(const std::vector<Sample>& a, const std::vector<Sample>& b, double logprob_tol) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].prompt_index, b[i].prompt_index);
    EXPECT_EQ(a[i].sample_index, b[i].sample_index);
    ASSERT_EQ(a[i].token_ids, b[i].token_ids) << "sample " << i;
    EXPECT_EQ(a[i].finish_reason, b[i].finish_reason);
    for (size_t t = 0; t < a[i].logprobs.size(); ++t) {
      EXPECT_NEAR(a[i].logprobs[t], b[i].logprobs[t], logprob_tol) << "sample " << i << " token " << t;
    }
  }
}

TEST(Sampler, TemperatureToZeroEqualsGreedy) {
  auto model = tiny_model();
  auto prompts = make_prompts(5, 1);
  SamplingParams greedy;
  greedy.temperature = 0;
  greedy.max_new_tokens = 12;
  SamplingParams cold = greedy;
  cold.temperature = 1e-6;
  auto a = run(model, prompts, greedy);
  auto b = run(model, prompts, cold);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].token_ids, b[i].token_ids) << i;
}

TEST(Sampler, TopKOneEqualsGreedy) {
  auto model = tiny_model();
  auto prompts = make_prompts(5, 2);
  SamplingParams greedy;
  greedy.temperature = 0;
  greedy.max_new_tokens = 12;
  SamplingParams k1;
  k1.temperature = 1.3;
  k1.top_k = 1;
  k1.max_new_tokens = 12;
  k1.seed = 99;
  auto a = run(model, prompts, greedy);
  auto b = run(model, prompts, k1);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].token_ids, b[i].token_ids) << i;
}

TEST(Sampler, GreedyEqualsArgmaxOfFullForward) {
  auto model = tiny_model();
  auto prompts = make_prompts(3, 3);
  SamplingParams greedy;
  greedy.temperature = 0;
  greedy.max_new_tokens = 10;
  auto samples = run(model, prompts, greedy, {/*batch_size=*/3});
  torch::NoGradGuard ng;
  for (const auto& s : samples) {
    std::vector<int64_t> seq(prompts[s.prompt_index].begin(), prompts[s.prompt_index].end());
    for (size_t t = 0; t < s.token_ids.size(); ++t) {
      at::Tensor logits = model->forward(torch::tensor(seq).view({1, -1}));
      EXPECT_EQ(logits[0][-1].argmax().item<int64_t>(), s.token_ids[t]);
      seq.push_back(s.token_ids[t]);
    }
  }
}

// The recorded behaviour log-probs equal core::behaviour_logprobs over a full forward pass of
// the finished sequence (prompt + completion), for several sampling settings.
TEST(Sampler, LogprobsEqualFullForwardPass) {
  auto model = tiny_model();
  auto prompts = make_prompts(4, 4);
  for (double temperature : {0.0, 0.7, 1.0}) {
    for (double top_p : {1.0, 0.8}) {
      SamplingParams p;
      p.temperature = temperature;
      p.top_p = top_p;
      p.top_k = temperature == 1.0 ? 20 : 0;
      p.max_new_tokens = 9;
      p.n = 2;
      p.seed = 5;
      auto samples = run(model, prompts, p, {/*batch_size=*/3, true, /*compact_slack=*/3});
      torch::NoGradGuard ng;
      double max_diff = 0;
      for (const auto& s : samples) {
        const auto& prompt = prompts[s.prompt_index];
        std::vector<int64_t> seq(prompt.begin(), prompt.end());
        seq.insert(seq.end(), s.token_ids.begin(), s.token_ids.end());
        at::Tensor logits = model->forward(torch::tensor(seq).view({1, -1}))[0];
        const int64_t P = static_cast<int64_t>(prompt.size()), G = static_cast<int64_t>(s.token_ids.size());
        at::Tensor ref = core::behaviour_logprobs(logits.narrow(0, P - 1, G),
                                                  torch::tensor(seq).narrow(0, P, G), temperature);
        ASSERT_EQ(static_cast<int64_t>(s.logprobs.size()), G);
        for (int64_t t = 0; t < G; ++t) {
          max_diff = std::max(max_diff, std::abs(ref[t].item<double>() - s.logprobs[t]));
        }
      }
      EXPECT_LT(max_diff, 1e-4) << "temperature " << temperature << " top_p " << top_p;
    }
  }
}

TEST(Sampler, ContinuousBatchingEqualsOnePromptAtATime) {
  auto model = tiny_model();
  auto prompts = make_prompts(7, 5);
  SamplingParams p;
  p.temperature = 0.9;
  p.max_new_tokens = 14;
  p.n = 3;
  p.seed = 11;
  p.stop_token_ids = {7, 8, 9, 10, 11, 12};  // varied finish times, so rows are refilled
  auto alone = run(model, prompts, p, {/*batch_size=*/1, true});
  GenerateStats stats;
  auto cont = run(model, prompts, p, {/*batch_size=*/4, true, /*compact_slack=*/4}, nullptr, &stats);
  auto stat = run(model, prompts, p, {/*batch_size=*/5, false});
  expect_same_tokens(alone, cont, 1e-4);
  expect_same_tokens(alone, stat, 1e-4);
  EXPECT_GT(stats.compactions, 0);
  int eos = 0;
  for (const auto& s : cont) {
    eos += s.finish_reason == FinishReason::kEos;
    EXPECT_EQ(s.policy_version, 3);
  }
  EXPECT_GT(eos, 0);
  EXPECT_LT(eos, static_cast<int>(cont.size()));
}

// Two rounds of equal-length samples: every sample starts from its prefill's token and takes
// max_new - 1 decode steps, so the second round (the last samples started) is the tail, exactly.
TEST(Sampler, StatsCountTheStepsAfterTheLastSampleStartedAsTheTail) {
  auto model = tiny_model();
  constexpr int64_t kBatch = 3, kNew = 9;
  SamplingParams p;
  p.temperature = 0;
  p.max_new_tokens = kNew;
  for (bool continuous : {true, false}) {
    GenerateStats st;
    auto out = run(model, make_prompts(2 * kBatch, 3), p, {kBatch, continuous}, nullptr, &st);
    ASSERT_EQ(out.size(), static_cast<size_t>(2 * kBatch));
    for (const auto& s : out) ASSERT_EQ(static_cast<int64_t>(s.token_ids.size()), kNew);
    EXPECT_EQ(st.decode_steps, 2 * (kNew - 1)) << "continuous " << continuous;
    EXPECT_EQ(st.tail_steps, kNew - 1) << "continuous " << continuous;
    EXPECT_EQ(st.tail_row_steps, kBatch * (kNew - 1)) << "continuous " << continuous;
    EXPECT_GT(st.tail_s, 0);
    EXPECT_LE(st.tail_s, st.decode_s);
    EXPECT_GT(st.refill_s, 0);
    EXPECT_GE(st.compact_s, 0);
    EXPECT_LE(st.prefill_s + st.refill_s + st.compact_s + st.decode_s, st.total_s);
  }
}

TEST(Sampler, SamplesOfAGroupShareOnePrefillAndDiffer) {
  auto model = tiny_model();
  auto prompts = make_prompts(3, 6);
  SamplingParams p;
  p.max_new_tokens = 8;
  p.n = 5;
  GenerateStats stats;
  auto samples = run(model, prompts, p, {/*batch_size=*/4, true}, nullptr, &stats);
  ASSERT_EQ(samples.size(), 15u);
  int64_t prompt_tokens = 0;
  for (const auto& pr : prompts) prompt_tokens += static_cast<int64_t>(pr.size());
  EXPECT_EQ(stats.prefill_tokens, prompt_tokens);  // each prompt prefilled once for 5 samples
  for (int i = 0; i < 15; ++i) {
    EXPECT_EQ(samples[i].prompt_index, i / 5);
    EXPECT_EQ(samples[i].sample_index, i % 5);
  }
  int distinct = 0;
  for (int g = 0; g < 3; ++g) {
    for (int j = 1; j < 5; ++j) distinct += samples[g * 5 + j].token_ids != samples[g * 5].token_ids;
  }
  EXPECT_GT(distinct, 6);
}

TEST(Sampler, SeedsReproduceAndDiffer) {
  auto model = tiny_model();
  auto prompts = make_prompts(3, 7);
  SamplingParams p;
  p.max_new_tokens = 10;
  p.seed = 21;
  auto a = run(model, prompts, p);
  auto b = run(model, prompts, p);
  expect_same_tokens(a, b, 0);
  p.seed = 22;
  auto c = run(model, prompts, p);
  int differ = 0;
  for (size_t i = 0; i < a.size(); ++i) differ += a[i].token_ids != c[i].token_ids;
  EXPECT_GT(differ, 0);
}

TEST(Sampler, MaxNewTokensAndModelLengthLimit) {
  auto model = tiny_model();
  SamplingParams p;
  p.max_new_tokens = 6;
  auto s = run(model, make_prompts(2, 8), p);
  for (const auto& x : s) {
    EXPECT_EQ(x.token_ids.size(), 6u);
    EXPECT_EQ(x.finish_reason, FinishReason::kLength);
  }
  // A prompt 3 tokens short of max_position_embeddings (256) gets 3 new tokens at most.
  std::vector<int32_t> long_prompt(253, 5);
  p.max_new_tokens = 50;
  auto l = run(model, {long_prompt}, p);
  EXPECT_EQ(l[0].token_ids.size(), 3u);
  EXPECT_EQ(l[0].finish_reason, FinishReason::kLength);
}

TEST(Sampler, EosTokenStopsAndIsKeptInTokensButNotText) {
  auto model = tiny_model(7, 320);
  auto tok = core::Tokenizer::from_json(rlvr::testing::tiny_tokenizer_json(), "test");
  auto prompts = make_prompts(1, 9);
  SamplingParams p;
  p.temperature = 0;
  p.max_new_tokens = 12;
  auto free_run = run(model, prompts, p, {}, &tok)[0];
  ASSERT_EQ(free_run.token_ids.size(), 12u);
  // Make the 4th generated token an EOS id (first occurrence of it in the greedy run).
  const int32_t eos = free_run.token_ids[3];
  const size_t first = std::find(free_run.token_ids.begin(), free_run.token_ids.end(), eos) - free_run.token_ids.begin();
  p.stop_token_ids = {eos};
  auto stopped = run(model, prompts, p, {}, &tok)[0];
  EXPECT_EQ(stopped.finish_reason, FinishReason::kEos);
  ASSERT_EQ(stopped.token_ids.size(), first + 1);
  EXPECT_EQ(stopped.token_ids.back(), eos);
  std::vector<int32_t> before(free_run.token_ids.begin(), free_run.token_ids.begin() + first);
  EXPECT_EQ(stopped.text, tok.decode(before, /*skip_special=*/true));
}

// A Llama-2-style tokenizer (SentencePiece BPE; decoder Replace + ByteFallback + Fuse + Strip):
// a token's text depends on its position (the first token loses its leading space), so the
// completion text is built in context and equals decode(completion ids), as HF's batch_decode.
TEST(Sampler, TextEqualsTheDecodedIdsWhenTheDecoderStripsTheFirstSpace) {
  const std::string meta = "\xE2\x96\x81";
  nlohmann::json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
  for (int b = 0; b < 256; ++b) vocab[fmt::format("<0x{:02X}>", b)] = 3 + b;
  int32_t next = 259;
  for (const std::string w : {"a", "b", "c", "ab", "ca"}) {
    vocab[w] = next++;
    vocab[meta + w] = next++;
  }
  vocab[meta] = next++;
  auto added = [](int id, const std::string& c) {
    return nlohmann::json{{"id", id},          {"content", c},   {"single_word", false}, {"lstrip", false},
                          {"rstrip", false},   {"normalized", false}, {"special", true}};
  };
  nlohmann::json j;
  j["added_tokens"] = nlohmann::json::array({added(0, "<unk>"), added(1, "<s>"), added(2, "</s>")});
  j["normalizer"] = {{"type", "Sequence"},
                     {"normalizers", nlohmann::json::array({{{"type", "Prepend"}, {"prepend", meta}},
                                      {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", meta}}})}};
  j["pre_tokenizer"] = nullptr;
  j["decoder"] = {{"type", "Sequence"},
                  {"decoders", nlohmann::json::array({{{"type", "Replace"}, {"pattern", {{"String", meta}}}, {"content", " "}},
                                {{"type", "ByteFallback"}},
                                {{"type", "Fuse"}},
                                {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}})}};
  j["model"] = {{"type", "BPE"},  {"unk_token", "<unk>"}, {"fuse_unk", true},
                {"byte_fallback", true}, {"vocab", vocab},
                {"merges", nlohmann::json::array()}};
  for (const auto& [l, r] : std::vector<std::pair<std::string, std::string>>{
           {"a", "b"}, {"c", "a"}, {meta, "a"}, {meta, "b"}, {meta, "c"}, {meta, "ab"}, {meta, "ca"}}) {
    j["model"]["merges"].push_back(nlohmann::json::array({l, r}));
  }
  auto tok = core::Tokenizer::from_json(j.dump(), "llama2-style.json");
  ASSERT_FALSE(tok.decodes_token_by_token());
  ASSERT_TRUE(core::Tokenizer::from_json(rlvr::testing::tiny_tokenizer_json(), "test").decodes_token_by_token());
  ASSERT_EQ(tok.decode({vocab[meta + "ab"].get<int32_t>(), vocab[meta + "c"].get<int32_t>()}), "ab c");

  auto model = tiny_model(5, tok.vocab_size());
  SamplingParams p;
  p.temperature = 1.0;
  p.max_new_tokens = 12;
  p.n = 4;
  p.seed = 3;
  p.stop_token_ids = {2};
  auto samples = run(model, make_prompts(6, 21, tok.vocab_size()), p, {}, &tok);
  int spaced = 0;  // samples with a space-led token after the first
  for (const auto& s : samples) {
    std::vector<int32_t> ids = s.token_ids;
    if (s.finish_reason == FinishReason::kEos) ids.pop_back();
    EXPECT_EQ(s.text, tok.decode(ids, /*skip_special=*/true));
    for (size_t i = 1; i < ids.size(); ++i) {
      const auto t = tok.id_to_token(ids[i]);
      spaced += t && t->rfind(meta, 0) == 0 && tok.decode({ids[i - 1]}, true) != "";
    }
  }
  EXPECT_GT(spaced, 0) << "the samples must hold the case this test is about";
}

// A stop string made of the last byte of one token and the first byte of the next is found,
// the text is cut before it, and the tokens up to the one completing it are kept.
TEST(Sampler, StopStringSpanningTwoTokens) {
  auto model = tiny_model(7, 320);
  auto tok = core::Tokenizer::from_json(rlvr::testing::tiny_tokenizer_json(), "test");
  int checked = 0;
  for (int seed = 10; seed < 30 && checked < 3; ++seed) {
    auto prompts = make_prompts(1, static_cast<uint64_t>(seed));
    SamplingParams p;
    p.temperature = 0;
    p.max_new_tokens = 16;
    auto free_run = run(model, prompts, p, {}, &tok)[0];
    // Find tokens i, i+1 with non-empty pieces where piece_i.back() + piece_{i+1}.front()
    // first occurs in the text exactly at that boundary.
    std::string text;
    for (size_t i = 0; i + 1 < free_run.token_ids.size(); ++i) {
      std::string a = tok.decode({free_run.token_ids[i]}, true), b = tok.decode({free_run.token_ids[i + 1]}, true);
      text += a;
      if (a.empty() || b.empty()) continue;
      std::string stop = std::string(1, a.back()) + b.front();
      const size_t at = text.size() - 1;
      if ((text + b).find(stop) != at) continue;
      p.stop = {"never-seen-xyz", stop};
      auto s = run(model, prompts, p, {}, &tok)[0];
      EXPECT_EQ(s.finish_reason, FinishReason::kStop);
      EXPECT_EQ(s.stop_string, stop);
      EXPECT_EQ(s.text, text.substr(0, at));
      ASSERT_EQ(s.token_ids.size(), i + 2);
      EXPECT_TRUE(std::equal(s.token_ids.begin(), s.token_ids.end(), free_run.token_ids.begin()));
      ++checked;
      break;
    }
  }
  EXPECT_GE(checked, 1);
}

TEST(Sampler, BadInputThrowsClearErrors) {
  auto model = tiny_model();
  Sampler sampler(model.ptr(), nullptr, {});
  SamplingParams p;
  EXPECT_NE(rlvr::testing::error_message([&] { sampler.generate(std::vector<std::vector<int32_t>>{std::vector<int32_t>{}}, p); }).find("prompt 0 is empty"),
            std::string::npos);
  EXPECT_NE(rlvr::testing::error_message([&] { sampler.generate({{1, 2}, {5, 400}}, p); })
                .find("prompt 1: token id 400 outside the model vocabulary"),
            std::string::npos);
  p.temperature = -1;
  EXPECT_NE(rlvr::testing::error_message([&] { sampler.generate({{1}}, p); }).find("temperature"),
            std::string::npos);
  p = SamplingParams{};
  p.top_p = 0;
  EXPECT_NE(rlvr::testing::error_message([&] { sampler.generate({{1}}, p); }).find("top_p"), std::string::npos);
  p = SamplingParams{};
  p.stop = {"x"};
  EXPECT_NE(rlvr::testing::error_message([&] { sampler.generate({{1}}, p); }).find("tokenizer"),
            std::string::npos);
  EXPECT_NE(rlvr::testing::error_message([&] { sampler.generate({std::vector<int32_t>(256, 1)}, SamplingParams{}); })
                .find("the model's context (256 positions) leaves no room to generate"),
            std::string::npos);
  EXPECT_TRUE(sampler.generate({}, SamplingParams{}).empty());
}

}  // namespace
}  // namespace rlvr::actors

namespace rlvr::actors {
namespace {

// In-flight weight updates: the hook swaps the weights between model calls; running samples
// continue, every token records the version that produced it, and the tokens before the swap
// are exactly what the old weights give.
TEST(Sampler, InFlightUpdateRecordsTheVersionOfEveryToken) {
  auto model = rlvr::testing::tiny_model(7);
  auto other = rlvr::testing::tiny_model(8);
  const core::WeightsBlob next = core::pack_weights(*other);
  auto prompts = make_prompts(3, 5);
  SamplingParams p;
  p.temperature = 0;
  p.max_new_tokens = 12;
  p.n = 2;
  // The old weights alone, as the reference for the tokens before the swap.
  auto before = run(model, prompts, p);
  int calls = 0;
  GenerateHooks hooks;
  hooks.before_model_call = [&]() -> int64_t {
    ++calls;
    if (calls == 4) core::unpack_weights(*model, next.entries, next.data, "test");  // after a few steps
    return calls >= 4 ? 4 : 3;
  };
  Sampler sampler(model.ptr(), nullptr, {});
  auto out = sampler.generate(prompts, p, /*policy_version=*/3, hooks);
  int spanning = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    const auto& s = out[i];
    ASSERT_EQ(s.token_versions.size(), s.token_ids.size());
    EXPECT_EQ(s.policy_version, 3);
    EXPECT_TRUE(std::is_sorted(s.token_versions.begin(), s.token_versions.end()));
    const bool spans = s.token_versions.front() == 3 && s.token_versions.back() == 4;
    spanning += spans;
    for (size_t t = 0; t < s.token_ids.size() && s.token_versions[t] == 3; ++t) {
      EXPECT_EQ(s.token_ids[t], before[i].token_ids[t]) << "sample " << i << " token " << t;
    }
  }
  EXPECT_GT(spanning, 0) << "some samples ran across the update";
  // The model really holds the new weights.
  EXPECT_TRUE(torch::equal(model->model->norm->weight, other->model->norm->weight));
}

}  // namespace
}  // namespace rlvr::actors
