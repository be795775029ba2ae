// AdamW + schedules + clipping against torch.optim.AdamW / LambdaLR / clip_grad_norm_
// (fixture made by tests/fixtures/learner/make_adamw_reference.py).
#include "learner/optimizer.h"

#include <cmath>
#include <limits>
#include <sstream>

#include <torch/torch.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "tests/test_util.h"

namespace rlvr::learner {
namespace {

nlohmann::json reference() {
  return nlohmann::json::parse(
      core::read_file(std::string(RLVR_SOURCE_DIR) + "/tests/fixtures/learner/adamw_reference.json"));
}

torch::Tensor from_json(const nlohmann::json& values, const std::vector<int64_t>& shape) {
  std::vector<double> v = values.get<std::vector<double>>();
  return torch::tensor(v, torch::kFloat64).reshape(shape);
}

core::OptimConfig config_of(const nlohmann::json& c) {
  core::OptimConfig cfg;
  cfg.learning_rate = c["learning_rate"];
  cfg.weight_decay = c["weight_decay"];
  cfg.adam_beta1 = c["betas"][0];
  cfg.adam_beta2 = c["betas"][1];
  cfg.adam_eps = c["eps"];
  cfg.lr_scheduler = c["scheduler"];
  cfg.warmup_ratio = c["warmup_ratio"];
  cfg.max_grad_norm = c["max_grad_norm"];
  return cfg;
}

TEST(Optimizer, MatchesTorchAdamWWithSchedulesAndClipping) {
  const nlohmann::json ref = reference();
  ASSERT_EQ(ref["cases"].size(), 3u);
  for (const auto& c : ref["cases"]) {
    SCOPED_TRACE(c["scheduler"].get<std::string>());
    core::OptimConfig cfg = config_of(c);
    int64_t total = c["total_steps"];
    std::vector<std::pair<std::string, at::Tensor>> params;
    for (auto& [name, shape] : c["shapes"].items()) {
      params.emplace_back(name, from_json(c["initial"][name], shape.get<std::vector<int64_t>>())
                                    .set_requires_grad(true));
    }
    Optimizer opt(params, cfg, total);
    for (int64_t s = 0; s < total; ++s) {
      for (auto& [name, t] : params) {
        t.mutable_grad() = from_json(c["grads"][s][name], t.sizes().vec());
      }
      auto stats = opt.step();
      EXPECT_NEAR(stats.lr, c["lrs"][s].get<double>(), 1e-15) << "step " << s;
      if (cfg.max_grad_norm > 0) {
        EXPECT_NEAR(stats.grad_norm, c["grad_norms"][s].get<double>(), 1e-12);
      }
    }
    EXPECT_EQ(opt.steps_taken(), total);
    double max_diff = 0;
    for (auto& [name, t] : params) {
      auto expected = from_json(c["final"][name], t.sizes().vec());
      max_diff = std::max(max_diff, (t.detach() - expected).abs().max().item<double>());
    }
    std::printf("max |diff| vs torch.optim.AdamW (%s): %.3g\n", c["scheduler"].get<std::string>().c_str(),
                max_diff);
    EXPECT_LT(max_diff, 1e-12);
  }
}

TEST(Optimizer, ScheduleShapes) {
  core::OptimConfig cfg;
  cfg.warmup_ratio = 0.1;
  cfg.lr_scheduler = "linear";
  EXPECT_EQ(warmup_steps(cfg, 100), 10);
  EXPECT_DOUBLE_EQ(lr_multiplier(cfg, 0, 100), 0.0);
  EXPECT_DOUBLE_EQ(lr_multiplier(cfg, 5, 100), 0.5);
  EXPECT_DOUBLE_EQ(lr_multiplier(cfg, 10, 100), 1.0);
  EXPECT_DOUBLE_EQ(lr_multiplier(cfg, 55, 100), 0.5);
  EXPECT_DOUBLE_EQ(lr_multiplier(cfg, 100, 100), 0.0);
  cfg.lr_scheduler = "cosine";
  EXPECT_NEAR(lr_multiplier(cfg, 55, 100), 0.5, 1e-12);
  cfg.lr_scheduler = "constant";
  EXPECT_DOUBLE_EQ(lr_multiplier(cfg, 99, 100), 1.0);
}

TEST(Optimizer, SaveLoadContinuesIdentically) {
  auto make = [] {
    torch::manual_seed(0);
    return std::vector<std::pair<std::string, at::Tensor>>{
        {"w", torch::randn({4, 3}, torch::kFloat64).set_requires_grad(true)},
        {"b.bias", torch::randn({3}, torch::kFloat64).set_requires_grad(true)}};
  };
  core::OptimConfig cfg;
  cfg.learning_rate = 0.1;
  cfg.weight_decay = 0.01;
  auto grads = [](int s, const at::Tensor& t) { return torch::full_like(t, 0.1 * (s + 1)) - t; };

  auto a = make();
  Optimizer full(a, cfg, 6);
  for (int s = 0; s < 6; ++s) {
    for (auto& [n, t] : a) t.mutable_grad() = grads(s, t.detach());
    full.step();
  }

  auto b = make();
  std::string state;
  {
    Optimizer first(b, cfg, 6);
    for (int s = 0; s < 3; ++s) {
      for (auto& [n, t] : b) t.mutable_grad() = grads(s, t.detach());
      first.step();
    }
    state = first.save();
  }
  Optimizer second(b, cfg, 6);
  second.load(state, "optimizer.pt");
  EXPECT_EQ(second.steps_taken(), 3);
  for (int s = 3; s < 6; ++s) {
    for (auto& [n, t] : b) t.mutable_grad() = grads(s, t.detach());
    second.step();
  }
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i].second, b[i].second)) << a[i].first;
}

// The fused float32 update against LibTorch's own torch::optim::AdamW on copies of the same
// parameters: weight decay on one group, a parameter large enough to be split across threads,
// one without a gradient at a step (skipped, as LibTorch skips it), and a state saved by one
// and loaded by the other (the checkpoint format is LibTorch's).
TEST(Optimizer, FusedFloat32MatchesLibTorchAdamWAndItsState) {
  torch::manual_seed(1);
  auto make = [] {
    torch::manual_seed(2);
    return std::vector<std::pair<std::string, at::Tensor>>{
        {"w", torch::randn({300, 257}).set_requires_grad(true)},
        {"layer.norm.weight", torch::randn({257}).set_requires_grad(true)}};
  };
  core::OptimConfig cfg;
  cfg.learning_rate = 0.01;
  cfg.weight_decay = 0.1;
  cfg.adam_beta1 = 0.8;
  cfg.adam_beta2 = 0.95;
  cfg.adam_eps = 1e-6;
  cfg.max_grad_norm = 0;
  cfg.lr_scheduler = "constant";
  std::vector<std::vector<at::Tensor>> grads;
  for (int s = 0; s < 6; ++s) grads.push_back({torch::randn({300, 257}) * 0.01, torch::randn({257}) * 0.01});

  auto ours = make();
  Optimizer opt(ours, cfg, 6);
  auto ref = make();
  std::vector<at::Tensor> w{ref[0].second}, n{ref[1].second};
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(w, std::make_unique<torch::optim::AdamWOptions>(
                             torch::optim::AdamWOptions(0.01).betas({0.8, 0.95}).eps(1e-6).weight_decay(0.1)));
  groups.emplace_back(n, std::make_unique<torch::optim::AdamWOptions>(
                             torch::optim::AdamWOptions(0.01).betas({0.8, 0.95}).eps(1e-6).weight_decay(0.0)));
  torch::optim::AdamW torch_opt(groups, torch::optim::AdamWOptions(0.01));
  for (int s = 0; s < 6; ++s) {
    for (size_t i = 0; i < 2; ++i) {
      if (s == 2 && i == 1) continue;  // no gradient for the norm at step 3
      ours[i].second.mutable_grad() = grads[s][i].clone();
      ref[i].second.mutable_grad() = grads[s][i].clone();
    }
    opt.step();
    torch_opt.step();
    for (auto& [name, t] : ref) t.mutable_grad() = at::Tensor();
  }
  for (size_t i = 0; i < 2; ++i) {
    const double diff = (ours[i].second - ref[i].second).abs().max().item<double>();
    const double moved = (ours[i].second - make()[i].second).abs().max().item<double>();
    EXPECT_LT(diff, 1e-6) << ours[i].first;
    EXPECT_GT(moved, 1e-3) << ours[i].first << " was trained";
  }
  // The fused state is LibTorch's: saved here, loaded into a LibTorch-driven copy and vice versa.
  Optimizer again(ref, cfg, 6);
  again.load(opt.save(), "optimizer.pt");
  EXPECT_EQ(again.steps_taken(), 6);
  torch::serialize::OutputArchive archive;
  torch_opt.save(archive);
  std::ostringstream raw;
  archive.save_to(raw);
  torch::serialize::InputArchive in;
  std::istringstream raw_in(raw.str());
  in.load_from(raw_in);
  torch::optim::AdamW reloaded(groups, torch::optim::AdamWOptions(0.01));
  EXPECT_NO_THROW(reloaded.load(in));
}

TEST(Optimizer, NonFiniteGradientIsRefusedBeforeAnythingChanges) {
  for (double max_grad_norm : {1.0, 0.0}) {  // with and without clipping
    for (double bad : {std::nan(""), std::numeric_limits<double>::infinity()}) {
      SCOPED_TRACE(fmt::format("max_grad_norm {} bad {}", max_grad_norm, bad));
      auto make = [] {
        return std::vector<std::pair<std::string, at::Tensor>>{
            {"w", torch::tensor({1.0, -2.0, 3.0}, torch::kFloat64).set_requires_grad(true)},
            {"b.bias", torch::tensor({0.5}, torch::kFloat64).set_requires_grad(true)}};
      };
      core::OptimConfig cfg;
      cfg.learning_rate = 0.1;
      cfg.warmup_ratio = 0;
      cfg.max_grad_norm = max_grad_norm;
      auto p = make();
      Optimizer opt(p, cfg, 4);
      p[0].second.mutable_grad() = torch::tensor({0.1, 0.2, 0.3}, torch::kFloat64);
      p[1].second.mutable_grad() = torch::tensor({0.4}, torch::kFloat64);
      opt.step();
      const at::Tensor w_before = p[0].second.detach().clone(), b_before = p[1].second.detach().clone();

      p[0].second.mutable_grad() = torch::tensor({0.1, bad, 0.3}, torch::kFloat64);
      p[1].second.mutable_grad() = torch::tensor({0.4}, torch::kFloat64);
      std::string msg = rlvr::testing::error_message([&] { opt.step(); });
      EXPECT_EQ(msg, fmt::format("optimizer step 2: the gradient norm is {}; expected finite gradients. The step was "
                                 "not applied (weights and optimizer state unchanged)",
                                 std::isnan(bad) ? "nan" : "inf"));
      EXPECT_TRUE(torch::equal(p[0].second, w_before));  // no NaN reached the weights,
      EXPECT_TRUE(torch::equal(p[1].second, b_before));  // not even in the parameter with a finite gradient
      EXPECT_EQ(opt.steps_taken(), 1);

      // The moments were untouched too: a finite step now matches a run that never saw the bad gradient.
      auto q = make();
      Optimizer ref(q, cfg, 4);
      for (int s = 0; s < 2; ++s) {
        q[0].second.mutable_grad() = torch::tensor({0.1, 0.2, 0.3}, torch::kFloat64);
        q[1].second.mutable_grad() = torch::tensor({0.4}, torch::kFloat64);
        ref.step();
      }
      p[0].second.mutable_grad() = torch::tensor({0.1, 0.2, 0.3}, torch::kFloat64);
      p[1].second.mutable_grad() = torch::tensor({0.4}, torch::kFloat64);
      opt.step();
      EXPECT_TRUE(torch::equal(p[0].second, q[0].second));
      EXPECT_TRUE(torch::equal(p[1].second, q[1].second));
    }
  }
}

TEST(Optimizer, CorruptStateIsAClearError) {
  auto p = std::vector<std::pair<std::string, at::Tensor>>{
      {"w", torch::zeros({2}).set_requires_grad(true)}};
  Optimizer opt(p, core::OptimConfig{}, 1);
  std::string msg = rlvr::testing::error_message([&] { opt.load("not a torch archive", "ckpt/optimizer.pt"); });
  EXPECT_EQ(msg.rfind("ckpt/optimizer.pt: corrupt optimizer state: ", 0), 0u) << msg;
}

}  // namespace
}  // namespace rlvr::learner
