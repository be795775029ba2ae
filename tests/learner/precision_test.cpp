// learner/precision.h and core/model/bf16_support.h: what run.dtype picks (auto: bf16 only with
// native CPU bf16 and a probe that finds it faster; RLVR_CPU_BF16 overrides), that the detection
// agrees with the kernel's /proc/cpuinfo flags, and that CPU autocast runs the model's matmuls in
// bfloat16 with a loss and gradients close to float32's.
#include "learner/precision.h"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

#include <gtest/gtest.h>
#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include "core/log.h"
#include "core/model/bf16_support.h"
#include "tests/actors/actors_test_util.h"
#include "tests/test_util.h"

namespace rlvr::learner {
namespace {

using rlvr::testing::error_message;

// Sets (or with nullptr unsets) an environment variable for the scope, then restores it.
struct ScopedEnv {
  std::string name;
  std::optional<std::string> previous;
  ScopedEnv(const char* n, const char* v) : name(n) {
    if (const char* old = std::getenv(n)) previous = old;
    if (v) ::setenv(n, v, 1);
    else ::unsetenv(n);
  }
  ~ScopedEnv() {
    if (previous) ::setenv(name.c_str(), previous->c_str(), 1);
    else ::unsetenv(name.c_str());
  }
};

TEST(CpuPrecision, AutoPicksBf16OnlyWhereTheProbeFindsItFaster) {
  int probes = 0;
  auto probe = [&](double fp32, double bf16) {
    return [&probes, fp32, bf16] {
      ++probes;
      core::MatmulProbe p;
      p.fp32_gflops = fp32;
      p.bf16_gflops = bf16;
      return p;
    };
  };
  // No native bf16: float32, without running the probe.
  CpuPrecisionChoice c = choose_cpu_precision(false, probe(175, 60), "");
  EXPECT_FALSE(c.bf16);
  EXPECT_EQ(probes, 0);
  EXPECT_NE(c.why.find("no AVX512-BF16 or AMX-BF16"), std::string::npos) << c.why;
  // Native and 3.9x faster (the AMX machine of issue 17): bf16, with the figures.
  c = choose_cpu_precision(true, probe(175, 674), "");
  EXPECT_TRUE(c.bf16);
  EXPECT_EQ(probes, 1);
  EXPECT_NE(c.why.find("bf16 674 GFLOP/s, float32 175 GFLOP/s (3.85x)"), std::string::npos) << c.why;
  // Native but not faster enough: float32.
  c = choose_cpu_precision(true, probe(100, 110), "");
  EXPECT_FALSE(c.bf16);
  EXPECT_NE(c.why.find("below the 1.2x"), std::string::npos) << c.why;
  // The environment switch wins either way and skips the probe.
  probes = 0;
  EXPECT_FALSE(choose_cpu_precision(true, probe(1, 100), "off").bf16);
  EXPECT_FALSE(choose_cpu_precision(true, probe(1, 100), "0").bf16);
  EXPECT_TRUE(choose_cpu_precision(false, probe(100, 1), "on").bf16);
  EXPECT_TRUE(choose_cpu_precision(false, probe(100, 1), "1").bf16);
  EXPECT_EQ(probes, 0);
  EXPECT_NE(error_message([&] { choose_cpu_precision(true, probe(1, 1), "yes"); })
                .find("environment variable RLVR_CPU_BF16='yes': expected on, off, 1 or 0"),
            std::string::npos);
}

TEST(CpuPrecision, DetectionAgreesWithProcCpuinfo) {
#if defined(__x86_64__)
  std::ifstream in("/proc/cpuinfo");
  std::string line, flags;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) == 0) {
      flags = " " + line.substr(line.find(':') + 1) + " ";
      break;
    }
  }
  if (flags.empty()) GTEST_SKIP() << "no /proc/cpuinfo flags";
  auto has = [&](const std::string& f) { return flags.find(" " + f + " ") != std::string::npos; };
  const core::CpuBf16 caps = core::detect_cpu_bf16();
  EXPECT_EQ(caps.avx512_bf16, has("avx512_bf16")) << flags;
  EXPECT_EQ(caps.amx_bf16, has("amx_bf16") && has("amx_tile")) << flags;
  // The kernel lists AVX-512 flags only when it saves their state.
  if (has("avx512f")) EXPECT_TRUE(caps.os_avx512);
  std::cout << "[ bf16 ] this CPU: " << caps.describe() << "\n";
#else
  GTEST_SKIP() << "x86-64 only";
#endif
}

TEST(CpuPrecision, TheProbeMeasuresBothDtypes) {
  core::MatmulProbe p = core::probe_bf16_matmul(64, 64, 64, 2);
  EXPECT_GT(p.fp32_gflops, 0);
  EXPECT_GT(p.bf16_gflops, 0);
}

TEST(ResolvePrecision, WhatEachDtypeGivesOnTheCpu) {
  core::init_logging("warn");
  ASSERT_STREQ(std::getenv("RLVR_CPU_BF16"), "off") << "tests/test_env.cpp sets it for every test";
  core::RunConfig run;
  EXPECT_EQ(run.dtype, "auto") << "the default";
  run.dtype = "float32";
  EXPECT_FALSE(resolve_precision(run).autocast);
  run.dtype = "bfloat16";
  Precision p = resolve_precision(run);
  EXPECT_TRUE(p.autocast);
  EXPECT_EQ(p.autocast_dtype, c10::kBFloat16);
  EXPECT_EQ(p.describe(), "cpu BFloat16 autocast");
  run.dtype = "float16";
  EXPECT_FALSE(resolve_precision(run).autocast);
  run.dtype = "auto";
  {
    ScopedEnv env("RLVR_CPU_BF16", "off");
    p = resolve_precision(run);
    EXPECT_FALSE(p.autocast);
    EXPECT_NE(p.why.find("RLVR_CPU_BF16=off"), std::string::npos) << p.why;
  }
  {
    ScopedEnv env("RLVR_CPU_BF16", "on");
    p = resolve_precision(run);
    EXPECT_TRUE(p.autocast);
    EXPECT_EQ(p.autocast_dtype, c10::kBFloat16);
  }
  {
    ScopedEnv env("RLVR_CPU_BF16", nullptr);
    p = resolve_precision(run);  // this machine's own answer: float32 while CPU bf16 is held back
    EXPECT_FALSE(p.autocast) << p.why;
  }
}

TEST(AutocastGuard, CpuBf16RunsTheMatmulsInBf16AndTheLossStaysClose) {
  core::init_logging("warn");
  torch::manual_seed(3);
  auto model = rlvr::testing::tiny_model(5, 320);
  at::Tensor tokens = torch::randint(4, 320, {2, 24}, torch::kLong);
  auto loss_and_grad = [&](const Precision& prec) {
    model->zero_grad();
    at::Tensor logits;
    {
      AutocastGuard guard(prec);
      logits = model->forward(tokens);
    }
    at::Tensor loss = torch::nn::functional::cross_entropy(
        logits.narrow(1, 0, 23).reshape({-1, 320}).to(torch::kFloat), tokens.narrow(1, 1, 23).reshape({-1}));
    loss.backward();
    std::vector<at::Tensor> grads;
    for (auto& p : model->parameters()) grads.push_back(p.grad().clone());
    return std::make_pair(loss.item<double>(), std::make_pair(logits.scalar_type(), grads));
  };
  Precision fp32;
  Precision bf16;
  bf16.autocast = true;
  bf16.autocast_dtype = c10::kBFloat16;
  auto [l32, r32] = loss_and_grad(fp32);
  auto [l16, r16] = loss_and_grad(bf16);
  EXPECT_EQ(r32.first, c10::kFloat);
  EXPECT_EQ(r16.first, c10::kBFloat16) << "the LM head ran under autocast";
  EXPECT_FALSE(at::autocast::is_cpu_enabled()) << "the guard restored the state";
  EXPECT_NEAR(l16, l32, 0.02 * std::abs(l32));
  double num = 0, den = 0;
  for (size_t i = 0; i < r32.second.size(); ++i) {
    EXPECT_TRUE(torch::isfinite(r16.second[i]).all().item<bool>());
    num += (r16.second[i] - r32.second[i]).pow(2).sum().item<double>();
    den += r32.second[i].pow(2).sum().item<double>();
  }
  EXPECT_LT(std::sqrt(num / den), 0.05) << "relative gradient difference";
}

// A packed batch as SFT packing makes it: two segments, then right padding. A padding query sees
// no key at all; under bf16 autocast its row of scores used to become -inf everywhere (float32's
// lowest mask value added to bf16 scores) and the softmax NaN, so the loss was NaN at step 1.
TEST(AutocastGuard, CpuBf16PackedBatchWithPaddingStaysFinite) {
  core::init_logging("warn");
  torch::manual_seed(4);
  auto model = rlvr::testing::tiny_model(5, 320);
  const int64_t T = 20;
  at::Tensor tokens = torch::randint(4, 320, {2, T}, torch::kLong);
  core::ForwardOptions opts;
  opts.attention_mask = torch::ones({2, T}, torch::kLong);
  opts.attention_mask.narrow(1, 14, T - 14).zero_();  // 6 padding tokens per row
  opts.segment_ids = torch::zeros({2, T}, torch::kLong);
  opts.segment_ids.narrow(1, 7, 7).fill_(1);
  opts.segment_ids.narrow(1, 14, T - 14).fill_(2);
  auto run = [&](const Precision& prec) {
    model->zero_grad();
    at::Tensor logits;
    {
      AutocastGuard guard(prec);
      logits = model->forward(tokens, opts);
    }
    at::Tensor lf = logits.to(torch::kFloat);
    // Every position enters the sum (padding's weight 0), as a masked loss does.
    at::Tensor weight = opts.attention_mask.to(torch::kFloat).unsqueeze(2);
    at::Tensor loss = (torch::log_softmax(lf, -1) * weight).sum() / weight.sum();
    loss.backward();
    at::Tensor grad_norm = torch::zeros({});
    for (auto& p : model->parameters()) grad_norm = grad_norm + p.grad().pow(2).sum();
    return std::make_tuple(lf.detach(), loss.item<double>(), grad_norm.item<double>());
  };
  Precision fp32;
  Precision bf16;
  bf16.autocast = true;
  bf16.autocast_dtype = c10::kBFloat16;
  auto [logits32, loss32, g32] = run(fp32);
  auto [logits16, loss16, g16] = run(bf16);
  EXPECT_TRUE(torch::isfinite(logits16).all().item<bool>()) << "padding positions included";
  EXPECT_TRUE(std::isfinite(loss16));
  EXPECT_TRUE(std::isfinite(g16));
  at::Tensor real = opts.attention_mask.to(torch::kBool);
  const double diff = (logits16 - logits32).abs().index({real}).max().item<double>();
  const double scale = logits32.abs().index({real}).max().item<double>();
  EXPECT_LT(diff, 0.05 * scale) << "real positions close to float32";
  EXPECT_NEAR(loss16, loss32, 0.02 * std::abs(loss32));
  EXPECT_NEAR(g16, g32, 0.1 * g32);
}

// bf16 weights without autocast (the generation path): padding rows stay finite too.
TEST(AutocastGuard, Bf16WeightsPaddedBatchStaysFinite) {
  torch::manual_seed(5);
  auto model = rlvr::testing::tiny_model(5, 320);
  model->to(torch::kBFloat16);
  at::Tensor tokens = torch::randint(4, 320, {2, 12}, torch::kLong);
  core::ForwardOptions opts;
  opts.attention_mask = torch::ones({2, 12}, torch::kLong);
  opts.attention_mask.narrow(1, 0, 5).zero_();  // left padding
  opts.segment_ids = torch::zeros({2, 12}, torch::kLong);
  torch::NoGradGuard no_grad;
  at::Tensor logits = model->forward(tokens, opts);
  EXPECT_EQ(logits.scalar_type(), c10::kBFloat16);
  EXPECT_TRUE(torch::isfinite(logits.to(torch::kFloat)).all().item<bool>());
}

}  // namespace
}  // namespace rlvr::learner
