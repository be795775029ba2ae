// The RL learner's math (learner/rl_losses.h) against an independent float64 computation
// (tests/fixtures/rl/make_reference.py, run with /usr/bin/python3). Each parity test runs the C++ in
// float32 (tolerance 1e-6 of the quantity's scale) and in float64 (1e-12), and prints max |diff|.
#include "learner/rl_losses.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "tests/test_util.h"

namespace rlvr::learner::rl {
namespace {

using nlohmann::json;

const std::string kFixtures = std::string(RLVR_SOURCE_DIR) + "/tests/fixtures/";

const json& reference() {
  static const json ref = [] {
    std::ifstream in(kFixtures + "rl/reference.json");
    return json::parse(in);
  }();
  return ref;
}

void flatten(const json& j, std::vector<double>& values, std::vector<int64_t>& shape, size_t depth) {
  if (!j.is_array()) {
    values.push_back(j.is_boolean() ? (j.get<bool>() ? 1.0 : 0.0) : j.get<double>());
    return;
  }
  if (shape.size() <= depth) shape.push_back(static_cast<int64_t>(j.size()));
  for (const auto& e : j) flatten(e, values, shape, depth + 1);
}

// A (nested) JSON list as a tensor of `dtype`; booleans become 0 / 1.
at::Tensor to_tensor(const json& j, at::ScalarType dtype = at::kDouble) {
  std::vector<double> values;
  std::vector<int64_t> shape;
  flatten(j, values, shape, 0);
  return torch::tensor(values, torch::kDouble).reshape(shape).to(dtype);
}

at::Tensor to_mask(const json& j) { return to_tensor(j).ne(0); }

// The float32 and float64 runs of every parity test, with their tolerances (relative to the
// larger of 1 and the reference's largest magnitude).
struct Precision {
  at::ScalarType dtype;
  double tol;
  const char* name;
};
const Precision kPrecisions[] = {{at::kFloat, 1e-6, "f32"}, {at::kDouble, 1e-12, "f64"}};

// Checks `got` against the reference `want` and prints max |diff|.
void expect_close(const std::string& what, const at::Tensor& got, const json& want, const Precision& p) {
  ASSERT_TRUE(got.defined()) << what;
  EXPECT_EQ(got.scalar_type(), p.dtype) << what;
  const at::Tensor w = to_tensor(want);
  ASSERT_EQ(got.sizes(), w.sizes()) << what;
  const at::Tensor g = got.detach().to(at::kDouble);
  EXPECT_FALSE(g.isnan().any().item<bool>()) << what << " has NaN";
  const double diff = (g - w).abs().max().item<double>();
  const double scale = std::max(1.0, w.abs().max().item<double>());
  std::printf("%-52s %s max |diff| %.2e (scale %.3g)\n", what.c_str(), p.name, diff, scale);
  EXPECT_LE(diff, p.tol * scale) << what << " (" << p.name << ")";
}

void expect_close(const std::string& what, double got, double want, const Precision& p) {
  const double diff = std::abs(got - want);
  std::printf("%-52s %s |diff| %.2e (value %.6g)\n", what.c_str(), p.name, diff, want);
  EXPECT_LE(diff, p.tol * std::max(1.0, std::abs(want))) << what << " (" << p.name << ")";
}

void expect_same_flags(const std::string& what, const at::Tensor& got, const json& want) {
  ASSERT_TRUE(got.defined()) << what;
  EXPECT_EQ(got.scalar_type(), at::kBool) << what;
  EXPECT_TRUE(torch::equal(got.cpu(), to_mask(want))) << what << ":\n" << got << "\nexpected\n" << to_mask(want);
}

int64_t count(const json& flags) { return to_mask(flags).sum().item<int64_t>(); }

// --- Advantages -------------------------------------------------------------------------------

TEST(RlGroupAdvantages, EveryModeMatchesIndependentComputation) {
  const json& ref = reference()["group_advantages"];
  const auto ids = ref["group_ids"].get<std::vector<int64_t>>();
  const at::Tensor include = to_mask(ref["include"]);
  ASSERT_EQ(ref["cases"].size(), 3u);
  for (const auto& p : kPrecisions) {
    const at::Tensor rewards = to_tensor(ref["rewards"], p.dtype);
    for (const auto& c : ref["cases"]) {
      const std::string mode = c["mode"].get<std::string>();
      const std::string name = "group_advantages " + mode +
                               (mode == "rloo" ? "" : c["std_normalize"].get<bool>() ? " std" : " no-std") + " (" +
                               p.name + " rewards)";
      GroupAdvantages got = group_advantages(rewards, ids, include, parse_group_mode(c["mode"]),
                                             c["std_normalize"].get<bool>(), c["eps"].get<double>());
      // Computed in float64 and returned as float32 whatever the input: compare at float32 precision.
      ASSERT_EQ(got.advantages.scalar_type(), at::kFloat) << name;
      expect_close(name, got.advantages, c["advantages"], kPrecisions[0]);
      expect_same_flags(name + " zero_signal", got.zero_signal, c["zero_signal"]);
      EXPECT_EQ(got.groups, c["groups"].get<int64_t>()) << name;
      EXPECT_EQ(got.zero_signal_groups, c["zero_signal_groups"].get<int64_t>()) << name;
      // Zero-signal groups and excluded samples carry exactly 0.
      const at::Tensor exact_zero = got.zero_signal.logical_or(include.logical_not());
      EXPECT_EQ(got.advantages.masked_select(exact_zero).abs().sum().item<double>(), 0.0) << name;
    }
  }
  // What the fixture covers: 7 groups counted (group 4 is all excluded), 4 of them zero-signal
  // (all-equal, size 1, size 1 after exclusion, all-equal after exclusion).
  EXPECT_EQ(ref["cases"][0]["groups"].get<int64_t>(), 7);
  EXPECT_EQ(ref["cases"][0]["zero_signal_groups"].get<int64_t>(), 4);
}

TEST(RlGroupAdvantages, RewardsWithin1e9AreAllEqualAndGroupsOfOneAreZeroSignal) {
  const at::Tensor rewards = torch::tensor({1.0, 1.0 + 1e-12, 1.0 - 1e-12, 5.0, 1.0, 1.0 + 1e-6}, torch::kDouble);
  const at::Tensor include = torch::ones({6}, torch::kBool);
  for (GroupMode mode : {GroupMode::kGrpo, GroupMode::kRloo}) {
    GroupAdvantages got = group_advantages(rewards, {0, 0, 0, 1, 2, 2}, include, mode, true, 1e-8);
    EXPECT_EQ(got.groups, 3);
    EXPECT_EQ(got.zero_signal_groups, 2);
    EXPECT_TRUE(torch::equal(got.zero_signal, torch::tensor({1, 1, 1, 1, 0, 0}).ne(0)));
    auto a = got.advantages.accessor<float, 1>();
    for (int i = 0; i < 4; ++i) EXPECT_EQ(a[i], 0.0f) << i;
    // A difference of 1e-6 is signal: grpo gives -+5e-7 / (5e-7 + eps), rloo -+1e-6.
    const double want = mode == GroupMode::kGrpo ? 5e-7 / (5e-7 + 1e-8) : 1e-6;
    EXPECT_NEAR(a[4], -want, 1e-6 * want);
    EXPECT_NEAR(a[5], want, 1e-6 * want);
  }
}

TEST(RlGroupAdvantages, BadInputThrowsNamingTheField) {
  const at::Tensor r = torch::tensor({1.0f, 2.0f, 3.0f});
  const at::Tensor inc = torch::ones({3}, torch::kBool);
  using rlvr::testing::error_message;
  EXPECT_EQ(error_message([&] { group_advantages(r, {0, 0}, inc, GroupMode::kGrpo, true); }),
            "group_advantages: 2 group ids for 3 rewards; expected one group id per sample");
  EXPECT_EQ(error_message([&] { group_advantages(r, {0, 0, 1}, torch::ones({2}, torch::kBool), GroupMode::kGrpo, true); }),
            "group_advantages: include has shape [2]; expected [3] (one flag per reward)");
  EXPECT_EQ(error_message([&] { group_advantages(r.view({3, 1}), {0, 0, 1}, inc, GroupMode::kGrpo, true); }),
            "group_advantages: rewards has shape [3, 1]; expected [B]");
  const at::Tensor nan = torch::tensor({1.0f, std::numeric_limits<float>::quiet_NaN(), 3.0f});
  EXPECT_EQ(error_message([&] { group_advantages(nan, {0, 7, 1}, inc, GroupMode::kRloo, true); }),
            "group_advantages: rewards[1] (group 7) is nan; expected a finite number");
  // An excluded sample's reward is never looked at.
  GroupAdvantages ok = group_advantages(nan, {0, 7, 0}, torch::tensor({1, 0, 1}).ne(0), GroupMode::kRloo, true);
  EXPECT_TRUE(torch::equal(ok.advantages, torch::tensor({-2.0f, 0.0f, 2.0f})));
  EXPECT_EQ(ok.groups, 1);
}

TEST(RlGae, EveryGammaLambdaMatchesIndependentComputationOnRaggedRows) {
  const json& ref = reference()["gae"];
  const at::Tensor mask = to_mask(ref["mask"]);
  ASSERT_EQ(ref["cases"].size(), 6u);
  for (const auto& p : kPrecisions) {
    const at::Tensor r = to_tensor(ref["token_rewards"], p.dtype);
    const at::Tensor v = to_tensor(ref["values"], p.dtype);
    for (const auto& c : ref["cases"]) {
      const std::string name = fmt::format("gae gamma {} lam {}", c["gamma"].get<double>(), c["lam"].get<double>());
      Gae got = gae(r, v, mask, c["gamma"].get<double>(), c["lam"].get<double>());
      expect_close(name + " advantages", got.advantages, c["advantages"], p);
      expect_close(name + " returns", got.returns, c["returns"], p);
    }
  }
}

TEST(RlGae, WhitenMatchesIndependentComputationOnRaggedRows) {
  const json& ref = reference()["gae"];
  const at::Tensor mask = to_mask(ref["mask"]);
  for (const auto& p : kPrecisions) {
    at::Tensor got = whiten(to_tensor(ref["whiten"]["x"], p.dtype), mask, ref["whiten"]["eps"].get<double>());
    expect_close("whiten", got, ref["whiten"]["out"], p);
    const at::Tensor valid = got.masked_select(mask).to(at::kDouble);
    EXPECT_NEAR(valid.mean().item<double>(), 0.0, 1e-6);
    EXPECT_NEAR(valid.var(/*unbiased=*/false).item<double>(), 1.0, 1e-6);
  }
  // An empty mask gives zeros, not NaN.
  EXPECT_TRUE(torch::equal(whiten(torch::ones({2, 3}), torch::zeros({2, 3})), torch::zeros({2, 3})));
}

// --- KL and entropy ---------------------------------------------------------------------------

TEST(RlKl, K1AndK3ValuesAndGradientsMatchIndependentComputation) {
  const json& ref = reference()["kl"];
  const at::Tensor mask = to_mask(ref["mask"]);
  for (const auto& p : kPrecisions) {
    const at::Tensor cot = to_tensor(ref["cotangent"], p.dtype);
    for (const char* name : {"k1", "k3"}) {
      at::Tensor logp = to_tensor(ref["logp"], p.dtype).requires_grad_(true);
      at::Tensor k = kl_estimate(logp, to_tensor(ref["ref_logp"], p.dtype), mask, parse_kl_estimator(name));
      (k * cot).sum().backward();
      expect_close(std::string("kl ") + name, k, ref[name]["values"], p);
      expect_close(std::string("kl ") + name + " d/dlogp", logp.grad(), ref[name]["grad_logp"], p);
    }
  }
}

TEST(RlEntropy, ValuesAndGradientsMatchForEveryTemperature) {
  const json& ref = reference()["entropy"];
  ASSERT_EQ(ref["cases"].size(), 3u);
  for (const auto& p : kPrecisions) {
    for (const auto& c : ref["cases"]) {
      at::Tensor logits = to_tensor(ref["logits"], p.dtype).requires_grad_(true);
      at::Tensor h = entropy_from_logits(logits, c["temperature"].get<double>());
      (h * to_tensor(ref["cotangent"], p.dtype)).sum().backward();
      const std::string name = fmt::format("entropy temperature {}", c["temperature"].get<double>());
      expect_close(name, h, c["values"], p);
      expect_close(name + " d/dlogits", logits.grad(), c["grad_logits"], p);
    }
  }
}

// --- Policy and value losses ------------------------------------------------------------------

LossAgg agg_of(const std::string& name) { return parse_loss_agg(name); }

TEST(RlPolicyLoss, EveryOffPolicyModeMatchesIndependentComputation) {
  const json& ref = reference()["policy_loss"];
  const at::Tensor mask = to_mask(ref["mask"]);
  ASSERT_EQ(ref["cases"].size(), 5u);
  for (const auto& p : kPrecisions) {
    for (const auto& c : ref["cases"]) {
      const std::string name =
          fmt::format("policy_loss {} cap {}", c["off_policy"].get<std::string>(), c["is_cap"].get<double>());
      at::Tensor logp = to_tensor(ref["logp"], p.dtype).requires_grad_(true);
      PolicyLoss got = policy_loss(logp, to_tensor(ref["behaviour_logp"], p.dtype),
                                   to_tensor(ref["proximal_logp"], p.dtype), to_tensor(ref["advantages"], p.dtype),
                                   mask, ref["clip_low"].get<double>(), ref["clip_high"].get<double>(),
                                   parse_off_policy(c["off_policy"]), c["is_cap"].get<double>());
      expect_close(name + " per_token", got.per_token, c["per_token"], p);
      expect_close(name + " ratio", got.ratio, c["ratio"], p);
      expect_close(name + " weight", got.weight, c["weight"], p);
      expect_same_flags(name + " mask", got.mask, c["mask"]);
      expect_same_flags(name + " clipped_low", got.clipped_low, c["clipped_low"]);
      expect_same_flags(name + " clipped_high", got.clipped_high, c["clipped_high"]);
      expect_same_flags(name + " truncated", got.truncated, c["truncated"]);
      EXPECT_FALSE(got.ratio.requires_grad() || got.weight.requires_grad()) << name;
      for (const auto& [mode, want] : c["aggregate"].items()) {
        if (logp.grad().defined()) logp.mutable_grad().zero_();
        at::Tensor loss = aggregate(got.per_token, got.mask, agg_of(mode), c["total_tokens"].get<double>(),
                                    c["total_seqs"].get<double>(), ref["horizon"].get<double>());
        loss.backward({}, /*retain_graph=*/true);
        expect_close(name + " " + mode, loss.item<double>(), want["value"].get<double>(), p);
        expect_close(name + " " + mode + " d/dlogp", logp.grad(), want["grad_logp"], p);
      }
    }
  }
  // What the fixture covers: both clip bounds active, some TIS weights capped and some not,
  // decoupled drops the capped tokens, positive and negative advantages.
  const json& none = ref["cases"][0];
  const json& tis = ref["cases"][1];
  const json& dec = ref["cases"][3];
  EXPECT_GT(count(none["clipped_low"]), 0);
  EXPECT_GT(count(none["clipped_high"]), 0);
  EXPECT_GT(count(tis["clipped_low"]), 0);
  EXPECT_GT(count(tis["truncated"]), 0);
  EXPECT_LT(count(tis["truncated"]), count(ref["mask"]));
  EXPECT_EQ(count(dec["mask"]) + count(dec["truncated"]), count(ref["mask"]));
  const at::Tensor adv = to_tensor(ref["advantages"]).masked_select(mask);
  EXPECT_GT(adv.gt(0).sum().item<int64_t>(), 0);
  EXPECT_GT(adv.lt(0).sum().item<int64_t>(), 0);
}

TEST(RlPolicyLoss, WithoutOffPolicyCorrectionTheProximalLogpsAreNotNeeded) {
  const at::Tensor logp = torch::tensor({{-1.0f, -2.0f}}, torch::requires_grad());
  const at::Tensor beh = torch::tensor({{-1.5f, -1.0f}});
  const at::Tensor adv = torch::tensor({{1.0f, 1.0f}});
  PolicyLoss got = policy_loss(logp, beh, at::Tensor(), adv, torch::ones({1, 2}), 0.2, 0.28, OffPolicy::kNone, 0);
  // rho = e^0.5 = 1.6487 > 1.28: clipped (-1.28, no gradient); rho = e^-1: -0.3679 with gradient -rho.
  EXPECT_NEAR(got.per_token[0][0].item<float>(), -1.28f, 1e-6);
  EXPECT_NEAR(got.per_token[0][1].item<float>(), -std::exp(-1.0f), 1e-6);
  got.per_token.sum().backward();
  EXPECT_EQ(logp.grad()[0][0].item<float>(), 0.0f);
  EXPECT_NEAR(logp.grad()[0][1].item<float>(), -std::exp(-1.0f), 1e-6);
  EXPECT_TRUE(got.clipped_high[0][0].item<bool>());
  EXPECT_TRUE(torch::equal(got.weight, torch::ones({1, 2})));
}

TEST(RlValueLoss, WithAndWithoutClipMatchesIndependentComputation) {
  const json& ref = reference()["value_loss"];
  const at::Tensor mask = to_mask(ref["mask"]);
  for (const auto& p : kPrecisions) {
    for (const auto& c : ref["cases"]) {
      at::Tensor values = to_tensor(ref["values"], p.dtype).requires_grad_(true);
      at::Tensor loss = value_loss(values, to_tensor(ref["old_values"], p.dtype), to_tensor(ref["returns"], p.dtype),
                                   mask, c["clip"].get<double>());
      (loss * to_tensor(ref["cotangent"], p.dtype)).sum().backward();
      const std::string name = fmt::format("value_loss clip {}", c["clip"].get<double>());
      expect_close(name, loss, c["values"], p);
      expect_close(name + " d/dvalues", values.grad(), c["grad_values"], p);
    }
  }
  // The clip matters on this fixture: some tokens have |V - V_old| > 0.2 and a larger clipped loss.
  EXPECT_GT((to_tensor(ref["cases"][0]["values"]) - to_tensor(ref["cases"][1]["values"])).abs().max().item<double>(),
            1e-3);
}

// --- Aggregation ------------------------------------------------------------------------------

TEST(RlAggregate, EveryModeMatchesAndMicroBatchesAddUpToTheMinibatch) {
  const json& ref = reference()["aggregate"];
  const at::Tensor mask = to_mask(ref["mask"]);
  const auto tokens = ref["total_tokens"].get<double>(), seqs = ref["total_seqs"].get<double>();
  const auto horizon = ref["horizon"].get<double>();
  const auto split = ref["split"].get<int64_t>();
  const int64_t B = mask.size(0);
  ASSERT_EQ(ref["modes"].size(), 3u);
  for (const auto& p : kPrecisions) {
    for (const auto& [mode, want] : ref["modes"].items()) {
      // The whole minibatch at once.
      at::Tensor x = to_tensor(ref["per_token"], p.dtype).requires_grad_(true);
      at::Tensor whole = aggregate(x, mask, agg_of(mode), tokens, seqs, horizon);
      whole.backward();
      expect_close("aggregate " + mode, whole.item<double>(), want["value"].get<double>(), p);
      expect_close("aggregate " + mode + " d/dper_token", x.grad(), want["grad"], p);
      // Two micro-batches with the minibatch's normalizers, gradients accumulated.
      at::Tensor y = to_tensor(ref["per_token"], p.dtype).requires_grad_(true);
      double sum = 0;
      for (int k = 0; k < 2; ++k) {
        const int64_t start = k == 0 ? 0 : split, len = k == 0 ? split : B - split;
        at::Tensor part = aggregate(y.narrow(0, start, len), mask.narrow(0, start, len), agg_of(mode), tokens, seqs,
                                    horizon);
        part.backward();
        expect_close(fmt::format("aggregate {} micro-batch {}", mode, k), part.item<double>(),
                     want["micro"][k].get<double>(), p);
        sum += part.item<double>();
      }
      expect_close("aggregate " + mode + " sum of micro-batches", sum, want["value"].get<double>(), p);
      expect_close("aggregate " + mode + " micro-batch d/dper_token", y.grad(), want["grad"], p);
    }
  }
}

TEST(RlAggregate, NormalizersOfZeroAreOnlyValidForAnEmptyMask) {
  at::Tensor x = torch::full({2, 3}, 7.0f, torch::requires_grad());
  const at::Tensor empty = torch::zeros({2, 3}, torch::kBool);
  for (LossAgg mode : {LossAgg::kTokenMean, LossAgg::kSeqMeanTokenMean, LossAgg::kSeqMeanTokenSumNorm}) {
    at::Tensor loss = aggregate(x, empty, mode, 0, 0, 16);
    EXPECT_EQ(loss.item<float>(), 0.0f);
    loss.backward();
    EXPECT_EQ(x.grad().abs().sum().item<float>(), 0.0f);
  }
  const at::Tensor one = torch::tensor({{1, 0, 0}, {0, 0, 0}}).ne(0);
  using rlvr::testing::error_message;
  EXPECT_EQ(error_message([&] { aggregate(x, one, LossAgg::kTokenMean, 0, 1, 16); }),
            "aggregate: total_tokens is 0 but the mask has 1 tokens; expected the minibatch's count (> 0, at least "
            "the micro-batch's)");
  EXPECT_EQ(error_message([&] { aggregate(x, one, LossAgg::kSeqMeanTokenMean, 1, -1, 16); }),
            "aggregate: total_seqs is -1 but the mask has 1 tokens; expected the minibatch's count (> 0, at least "
            "the micro-batch's)");
  EXPECT_EQ(error_message([&] { aggregate(x, one, LossAgg::kSeqMeanTokenSumNorm, 1, 1, 0); }),
            "aggregate: horizon is 0; expected generation.max_new_tokens (> 0) for seq-mean-token-sum-norm");
  EXPECT_EQ(error_message([&] { aggregate(x, one, LossAgg::kTokenMean, std::nan(""), 1, 16); }),
            "aggregate: total_tokens is nan; expected a finite number");
}

// --- Masking and shapes -----------------------------------------------------------------------

// The fixture's padding holds +-1e30 and 500 (exp overflows); here it is also NaN and inf. Masked
// positions must come out 0 with finite gradients, and the valid positions must not change.
TEST(RlMasking, NanAndInfInPaddingNeverLeakIntoValuesOrGradients) {
  const json& ref = reference()["policy_loss"];
  const at::Tensor mask = to_mask(ref["mask"]);
  const auto nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  auto poison = [&](const json& j, float fill) {
    return torch::where(mask, to_tensor(j, at::kFloat), torch::full_like(to_tensor(j, at::kFloat), fill));
  };
  auto finite = [](const at::Tensor& t) { return torch::isfinite(t).all().item<bool>(); };
  for (OffPolicy mode : {OffPolicy::kNone, OffPolicy::kTis, OffPolicy::kDecoupled}) {
    at::Tensor logp = poison(ref["logp"], inf).requires_grad_(true);
    PolicyLoss got = policy_loss(logp, poison(ref["behaviour_logp"], nan), poison(ref["proximal_logp"], -inf),
                                 poison(ref["advantages"], nan), mask, 0.2, 0.28, mode, 2.0);
    aggregate(got.per_token, got.mask, LossAgg::kTokenMean, 10, 4, 8).backward();
    EXPECT_TRUE(finite(got.per_token) && finite(got.ratio) && finite(got.weight) && finite(logp.grad()));
    EXPECT_EQ(got.per_token.masked_select(mask.logical_not()).abs().sum().item<float>(), 0.0f);
    EXPECT_EQ(logp.grad().masked_select(mask.logical_not()).abs().sum().item<float>(), 0.0f);
    const json& c = ref["cases"][mode == OffPolicy::kNone ? 0 : mode == OffPolicy::kTis ? 1 : 3];
    expect_close("policy_loss with NaN/inf padding", got.per_token, c["per_token"], kPrecisions[0]);
  }
  at::Tensor lp = poison(ref["logp"], -inf).requires_grad_(true);
  at::Tensor k3 = kl_estimate(lp, poison(ref["behaviour_logp"], nan), mask, KlEstimator::kK3);
  k3.sum().backward();
  EXPECT_TRUE(finite(k3) && finite(lp.grad()));
  at::Tensor v = poison(ref["logp"], nan).requires_grad_(true);
  at::Tensor vl = value_loss(v, poison(ref["behaviour_logp"], inf), poison(ref["advantages"], -inf), mask, 0.2);
  vl.sum().backward();
  EXPECT_TRUE(finite(vl) && finite(v.grad()));
  Gae g = gae(poison(ref["advantages"], nan), poison(ref["logp"], inf), mask, 1.0, 0.95);
  EXPECT_TRUE(finite(g.advantages) && finite(g.returns));
  EXPECT_TRUE(finite(whiten(poison(ref["logp"], nan), mask)));
  at::Tensor x = poison(ref["logp"], nan).requires_grad_(true);
  aggregate(x, mask, LossAgg::kSeqMeanTokenMean, 1, 1, 1).backward();
  EXPECT_TRUE(finite(x.grad()));
}

TEST(RlShapes, MismatchedShapesThrowNamingTheFunctionAndArgument) {
  using rlvr::testing::error_message;
  const at::Tensor a = torch::zeros({2, 3}), b = torch::zeros({2, 4}), m = torch::ones({2, 3});
  EXPECT_EQ(error_message([&] { policy_loss(a, a, a, b, m, 0.2, 0.28, OffPolicy::kTis, 2); }),
            "policy_loss: advantages has shape [2, 4]; expected [2, 3] (the shape of logp)");
  EXPECT_EQ(error_message([&] { policy_loss(a, a, at::Tensor(), a, m, 0.2, 0.28, OffPolicy::kDecoupled, 2); }),
            "policy_loss: proximal_logp is undefined; expected a tensor of shape [2, 3] like logp");
  EXPECT_EQ(error_message([&] { policy_loss(a, a, a, a, m, -0.1, 0.28, OffPolicy::kNone, 0); }),
            "policy_loss: clip_low -0.1 / clip_high 0.28; expected 0 <= clip_low <= 1 and clip_high >= 0");
  EXPECT_EQ(error_message([&] { gae(a, a, b, 1, 1); }),
            "gae: mask has shape [2, 4]; expected [2, 3] (the shape of token_rewards)");
  EXPECT_EQ(error_message([&] { gae(torch::zeros({6}), torch::zeros({6}), torch::ones({6}), 1, 1); }),
            "gae: token_rewards has shape [6]; expected [B, T] (2 dimensions)");
  EXPECT_EQ(error_message([&] { whiten(a, b); }), "whiten: mask has shape [2, 4]; expected [2, 3] (the shape of x)");
  EXPECT_EQ(error_message([&] { kl_estimate(a, b, m, KlEstimator::kK3); }),
            "kl_estimate: ref_logp has shape [2, 4]; expected [2, 3] (the shape of logp)");
  EXPECT_EQ(error_message([&] { value_loss(a, a, b, m, 0.2); }),
            "value_loss: returns has shape [2, 4]; expected [2, 3] (the shape of values)");
  EXPECT_EQ(error_message([&] { aggregate(a, b, LossAgg::kTokenMean, 1, 1, 1); }),
            "aggregate: mask has shape [2, 4]; expected [2, 3] (the shape of per_token)");
  EXPECT_EQ(error_message([&] { entropy_from_logits(a, 1.0); }),
            "entropy_from_logits: logits has shape [2, 3]; expected [B, T, V]");
  EXPECT_EQ(error_message([&] { kl_estimate(torch::zeros({2, 3}, torch::kLong), a, m, KlEstimator::kK1); }),
            "kl_estimate: logp has dtype Long; expected a floating-point tensor");
  // Empty batches and zero-length rows are valid shapes: no throw, empty or zero results.
  const at::Tensor e = torch::zeros({0, 5}), z = torch::zeros({3, 0});
  EXPECT_EQ(gae(e, e, e, 1, 1).advantages.numel(), 0);
  EXPECT_EQ(gae(z, z, z, 1, 1).returns.sizes(), z.sizes());
  EXPECT_EQ(policy_loss(z, z, z, z, z, 0.2, 0.28, OffPolicy::kDecoupled, 2).per_token.sizes(), z.sizes());
  EXPECT_EQ(aggregate(e, e, LossAgg::kSeqMeanTokenMean, 0, 0, 1).item<float>(), 0.0f);
  EXPECT_EQ(group_advantages(torch::zeros({0}), {}, torch::zeros({0}), GroupMode::kGrpo, true).groups, 0);
}

// --- Config names -----------------------------------------------------------------------------

TEST(RlParse, AcceptsTheConfigNamesAndRejectsOthersListingThem) {
  EXPECT_EQ(parse_group_mode("grpo"), GroupMode::kGrpo);
  EXPECT_EQ(parse_group_mode("rloo"), GroupMode::kRloo);
  EXPECT_EQ(parse_kl_estimator("k1"), KlEstimator::kK1);
  EXPECT_EQ(parse_kl_estimator("k3"), KlEstimator::kK3);
  EXPECT_EQ(parse_off_policy("none"), OffPolicy::kNone);
  EXPECT_EQ(parse_off_policy("tis"), OffPolicy::kTis);
  EXPECT_EQ(parse_off_policy("decoupled"), OffPolicy::kDecoupled);
  EXPECT_EQ(parse_loss_agg("token-mean"), LossAgg::kTokenMean);
  EXPECT_EQ(parse_loss_agg("seq-mean-token-mean"), LossAgg::kSeqMeanTokenMean);
  EXPECT_EQ(parse_loss_agg("seq-mean-token-sum-norm"), LossAgg::kSeqMeanTokenSumNorm);
  using rlvr::testing::error_message;
  EXPECT_EQ(error_message([] { parse_group_mode("GRPO"); }), "group advantage mode 'GRPO' is not one of: grpo, rloo");
  EXPECT_EQ(error_message([] { parse_kl_estimator("k2"); }), "KL estimator 'k2' is not one of: k1, k3");
  EXPECT_EQ(error_message([] { parse_off_policy(""); }),
            "off-policy correction '' is not one of: none, tis, decoupled");
  EXPECT_EQ(error_message([] { parse_loss_agg("token_mean"); }),
            "loss aggregation 'token_mean' is not one of: token-mean, seq-mean-token-mean, seq-mean-token-sum-norm");
}

}  // namespace
}  // namespace rlvr::learner::rl
