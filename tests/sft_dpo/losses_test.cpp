// SFT and DPO losses against an independent float64 computation
// (tests/fixtures/sft_dpo/make_reference.py, run with /usr/bin/python3).
#include "sft_dpo/losses.h"

#include <cmath>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/model/checkpoint.h"
#include "sft_dpo/reference_cache.h"

namespace rlvr::sft_dpo {
namespace {

const std::string kFixtures = std::string(RLVR_SOURCE_DIR) + "/tests/fixtures/";

nlohmann::json reference() {
  std::ifstream in(kFixtures + "sft_dpo/reference.json");
  return nlohmann::json::parse(in);
}

std::vector<TrainRow> sft_rows(const nlohmann::json& ref) {
  std::vector<TrainRow> rows;
  for (const auto& r : ref["sft"]["rows"]) {
    TrainRow row;
    row.ids = r["ids"].get<std::vector<int32_t>>();
    row.loss_mask = r["mask"].get<std::vector<uint8_t>>();
    TokenizedSequence seq{row.ids, row.loss_mask};
    row.num_targets = seq.num_targets();
    row.lines = {static_cast<int64_t>(rows.size()) + 1};
    rows.push_back(row);
  }
  return rows;
}

std::vector<PreferencePair> pairs(const nlohmann::json& ref) {
  std::vector<PreferencePair> out;
  int64_t line = 1;
  for (const auto& p : ref["pairs"]) {
    PreferencePair pair;
    pair.line = line++;
    auto prompt = p["prompt"].get<std::vector<int32_t>>();
    for (int side = 0; side < 2; ++side) {
      auto resp = p[side == 0 ? "chosen" : "rejected"].get<std::vector<int32_t>>();
      TokenizedSequence& s = side == 0 ? pair.chosen : pair.rejected;
      s.ids = prompt;
      s.ids.insert(s.ids.end(), resp.begin(), resp.end());
      s.loss_mask.assign(prompt.size(), 0);
      s.loss_mask.insert(s.loss_mask.end(), resp.size(), 1);
    }
    out.push_back(pair);
  }
  return out;
}

// Sum-then-normalize loss of `rows` split into micro-batches of `micro`; gradients accumulate.
double accumulated_sft_loss(core::CausalLMImpl& model, const std::vector<TrainRow>& rows, size_t micro) {
  int64_t targets = 0;
  for (const auto& r : rows) targets += r.num_targets;
  double total = 0;
  for (size_t i = 0; i < rows.size(); i += micro) {
    std::vector<const TrainRow*> chunk;
    for (size_t j = i; j < std::min(rows.size(), i + micro); ++j) chunk.push_back(&rows[j]);
    at::Tensor loss = sft_loss_sum(model, collate_rows(chunk, torch::kCPU)) / static_cast<double>(targets);
    loss.backward();
    total += loss.item<double>();
  }
  return total;
}

TEST(SftLoss, MaskedLossMatchesIndependentComputation) {
  auto ref = reference();
  auto model = core::load_causal_lm(kFixtures + "model/llama-tiny");
  auto rows = sft_rows(ref);
  double loss = accumulated_sft_loss(*model, rows, rows.size());
  double expected = ref["sft"]["loss"].get<double>();
  std::printf("sft loss %.8f expected %.8f |diff| %.2e\n", loss, expected, std::abs(loss - expected));
  EXPECT_NEAR(loss, expected, 1e-5 * std::abs(expected));
  EXPECT_EQ(collate_rows({&rows[0], &rows[1], &rows[2], &rows[3]}, torch::kCPU).num_targets,
            ref["sft"]["targets"].get<int64_t>());
}

TEST(SftLoss, PackedRowsGiveTheSameLossAsSeparateRows) {
  auto ref = reference();
  auto model = core::load_causal_lm(kFixtures + "model/llama-tiny");
  auto rows = sft_rows(ref);
  auto packed = pack_rows(rows, 64);
  ASSERT_EQ(packed.size(), 1u);
  EXPECT_EQ(packed[0].segment_ids.front(), 0);
  EXPECT_EQ(packed[0].segment_ids.back(), 3);
  double loss = accumulated_sft_loss(*model, packed, 1);
  EXPECT_NEAR(loss, ref["sft"]["loss"].get<double>(), 1e-5 * ref["sft"]["loss"].get<double>());
  // Rows of at most 20 tokens: [11 + 7], [13 + 4]; every sequence stays whole.
  auto small = pack_rows(rows, 20);
  ASSERT_EQ(small.size(), 2u);
  EXPECT_EQ(small[0].ids.size(), 18u);
  EXPECT_EQ(small[1].lines.size(), 2u);
  EXPECT_NEAR(accumulated_sft_loss(*model, small, 2), ref["sft"]["loss"].get<double>(), 1e-4);
}

TEST(SftLoss, GradAccumulationFourByOneEqualsOneByFour) {
  auto ref = reference();
  auto rows = sft_rows(ref);
  auto a = core::load_causal_lm(kFixtures + "model/llama-tiny");
  auto b = core::load_causal_lm(kFixtures + "model/llama-tiny");
  double la = accumulated_sft_loss(*a, rows, 1);  // 4 micro-batches of 1
  double lb = accumulated_sft_loss(*b, rows, 4);  // 1 micro-batch of 4
  EXPECT_NEAR(la, lb, 1e-6 * std::abs(lb));
  auto pa = a->named_parameters(), pb = b->named_parameters();
  double max_diff = 0, max_grad = 0;
  for (const auto& item : pa) {
    const at::Tensor& ga = item.value().grad();
    const at::Tensor& gb = pb[item.key()].grad();
    ASSERT_TRUE(ga.defined()) << item.key();
    max_diff = std::max(max_diff, (ga - gb).abs().max().item<double>());
    max_grad = std::max(max_grad, gb.abs().max().item<double>());
  }
  std::printf("grad accumulation max |diff| %.3e (max |grad| %.3e)\n", max_diff, max_grad);
  EXPECT_LT(max_diff, 1e-5 * max_grad);
}

TEST(DpoLoss, ReferenceLogpsMatchIndependentComputation) {
  auto ref = reference();
  auto reference_model = core::load_causal_lm(kFixtures + "model/qwen2-tiny");
  auto ps = pairs(ref);
  ReferenceLogps r = compute_reference_logps(*reference_model, ps, 2, learner::Precision{});
  for (size_t i = 0; i < ps.size(); ++i) {
    EXPECT_NEAR(r.chosen[i], ref["reference_logps"]["chosen"][i].get<double>(), 2e-4) << i;
    EXPECT_NEAR(r.rejected[i], ref["reference_logps"]["rejected"][i].get<double>(), 2e-4) << i;
  }
}

TEST(DpoLoss, EveryLossTypeMatchesIndependentComputation) {
  auto ref = reference();
  auto model = core::load_causal_lm(kFixtures + "model/llama-tiny");
  auto ps = pairs(ref);
  std::vector<const PreferencePair*> ptrs;
  for (const auto& p : ps) ptrs.push_back(&p);
  Batch batch = collate_pairs(ptrs, torch::kCPU);
  SequenceLogps lp = sequence_logps(*model, batch);
  const int64_t B = static_cast<int64_t>(ps.size());
  at::Tensor ref_c = torch::tensor(ref["reference_logps"]["chosen"].get<std::vector<double>>()).to(torch::kFloat);
  at::Tensor ref_r = torch::tensor(ref["reference_logps"]["rejected"].get<std::vector<double>>()).to(torch::kFloat);
  int64_t chosen_tokens = 0;  // the step's chosen-response tokens (the rpo_alpha denominator)
  for (const auto& p : ps) chosen_tokens += p.chosen.num_targets();
  ASSERT_EQ(ref["dpo"].size(), 7u);
  for (const auto& [name, expected] : ref["dpo"].items()) {
    core::DpoConfig cfg;
    const auto& c = expected["config"];
    cfg.loss = c["loss"];
    cfg.beta = c["beta"];
    cfg.gamma = c.value("gamma", 0.5);
    cfg.label_smoothing = c.value("label_smoothing", 0.0);
    cfg.rpo_alpha = c.value("rpo_alpha", 0.0);
    at::Tensor pc = lp.sums.narrow(0, 0, B), pr = lp.sums.narrow(0, B, B);
    DpoTerms t = dpo_loss(cfg, pc, pr, lp.counts.narrow(0, 0, B), lp.counts.narrow(0, B, B), ref_c, ref_r);
    // The step loss (mean pair loss + the rpo_alpha term) as the trainer forms it from micro-batch shares.
    const double loss = dpo_step_loss_share(cfg, t, pc, B, chosen_tokens).item<double>();
    const double want = expected["loss"].get<double>();
    std::printf("%-12s loss %.8f expected %.8f |diff| %.2e\n", name.c_str(), loss, want, std::abs(loss - want));
    EXPECT_NEAR(loss, want, 1e-4 * std::max(1.0, std::abs(want))) << name;
    core::DpoConfig no_rpo = cfg;
    no_rpo.rpo_alpha = 0;
    EXPECT_NEAR(dpo_step_loss_share(no_rpo, t, pc, B, chosen_tokens).item<double>(),
                expected["mean_pair_loss"].get<double>(), 1e-4 * std::max(1.0, std::abs(want))) << name;
    EXPECT_NEAR(loss - dpo_step_loss_share(no_rpo, t, pc, B, chosen_tokens).item<double>(),
                expected["rpo_term"].get<double>(), 1e-4 * std::max(1.0, expected["rpo_term"].get<double>())) << name;
    EXPECT_NEAR(t.chosen_rewards.mean().item<double>(), expected["rewards/chosen"].get<double>(),
                1e-4 * std::max(1.0, std::abs(expected["rewards/chosen"].get<double>()))) << name;
    EXPECT_NEAR(t.rejected_rewards.mean().item<double>(), expected["rewards/rejected"].get<double>(),
                1e-4 * std::max(1.0, std::abs(expected["rewards/rejected"].get<double>()))) << name;
    EXPECT_DOUBLE_EQ(t.chosen_rewards.gt(t.rejected_rewards).to(torch::kDouble).mean().item<double>(),
                     expected["rewards/accuracies"].get<double>()) << name;
    EXPECT_NEAR(t.chosen_logps.mean().item<double>(), expected["logps/chosen"].get<double>(),
                1e-4 * std::max(1.0, std::abs(expected["logps/chosen"].get<double>()))) << name;
  }
}

// The trainer splits a step into micro-batches, each adding its share of the step loss; the sum
// must equal the Python reference's step loss for every case, rpo_alpha included.
TEST(DpoLoss, MicroBatchSharesAddUpToTheReferenceStepLoss) {
  auto ref = reference();
  auto model = core::load_causal_lm(kFixtures + "model/llama-tiny");
  auto ps = pairs(ref);
  int64_t chosen_tokens = 0;
  for (const auto& p : ps) chosen_tokens += p.chosen.num_targets();
  const auto ref_c_all = ref["reference_logps"]["chosen"].get<std::vector<double>>();
  const auto ref_r_all = ref["reference_logps"]["rejected"].get<std::vector<double>>();
  for (const char* name : {"sigmoid_rpo", "dpo_norm_rpo", "ipo"}) {
    const auto& expected = ref["dpo"][name];
    core::DpoConfig cfg;
    cfg.loss = expected["config"]["loss"];
    cfg.beta = expected["config"]["beta"];
    cfg.rpo_alpha = expected["config"].value("rpo_alpha", 0.0);
    double loss = 0;
    for (auto [start, len] : {std::pair<size_t, size_t>{0, 2}, {2, 1}}) {
      std::vector<const PreferencePair*> ptrs;
      std::vector<double> rc, rr;
      for (size_t i = start; i < start + len; ++i) {
        ptrs.push_back(&ps[i]);
        rc.push_back(ref_c_all[i]);
        rr.push_back(ref_r_all[i]);
      }
      SequenceLogps lp = sequence_logps(*model, collate_pairs(ptrs, torch::kCPU));
      const auto B = static_cast<int64_t>(len);
      at::Tensor pc = lp.sums.narrow(0, 0, B);
      DpoTerms t = dpo_loss(cfg, pc, lp.sums.narrow(0, B, B), lp.counts.narrow(0, 0, B), lp.counts.narrow(0, B, B),
                            torch::tensor(rc).to(torch::kFloat), torch::tensor(rr).to(torch::kFloat));
      loss += dpo_step_loss_share(cfg, t, pc, static_cast<int64_t>(ps.size()), chosen_tokens).item<double>();
    }
    const double want = expected["loss"].get<double>();
    std::printf("%-12s 2+1 micro-batches %.8f expected %.8f |diff| %.2e\n", name, loss, want, std::abs(loss - want));
    EXPECT_NEAR(loss, want, 1e-4 * std::max(1.0, std::abs(want))) << name;
  }
}

TEST(DpoLoss, GradientFlowsOnlyThroughThePolicy) {
  core::DpoConfig cfg;
  cfg.loss = "sigmoid";
  cfg.beta = 0.1;
  at::Tensor pc = torch::tensor({-3.0, -2.0}, torch::requires_grad());
  at::Tensor pr = torch::tensor({-4.0, -1.0}, torch::requires_grad());
  at::Tensor n = torch::tensor({2.0, 2.0});
  DpoTerms t = dpo_loss(cfg, pc, pr, n, n, torch::tensor({-3.0, -2.0}), torch::tensor({-4.0, -1.0}));
  // Policy == reference: d = 0, loss = log 2 and the gradient is -beta/2 on chosen, +beta/2 on rejected.
  EXPECT_NEAR(t.losses.mean().item<double>(), std::log(2.0), 1e-6);
  t.losses.mean().backward();
  EXPECT_NEAR(pc.grad()[0].item<double>(), -0.1 / 2 / 2, 1e-6);
  EXPECT_NEAR(pr.grad()[0].item<double>(), 0.1 / 2 / 2, 1e-6);
  EXPECT_FALSE(t.chosen_rewards.requires_grad());
}

}  // namespace
}  // namespace rlvr::sft_dpo
