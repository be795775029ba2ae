// Hand-written run directories for the report tests: a three-stage pipeline run (sft, dpo, rlvr
// with their metrics.jsonl and summary.json, state.json, results.json) and a single run.
#pragma once

#include <cmath>
#include <string>

#include <fmt/format.h>

#include "tests/test_util.h"

namespace rlvr::testing {

// The evil dataset name: every HTML-special character, and what would be markup if unescaped.
inline const std::string kEvilDataset = "<b>if&\"eval'</b>";

inline std::string sft_metrics(int steps) {
  std::string out;
  for (int s = 1; s <= steps; ++s) {
    out += fmt::format("{{\"step\":{},\"time\":{:.2f},\"loss\":{:.4f},\"lr\":0.001,\"tokens_per_second\":{:.1f}}}\n", s,
                       0.1 * s, 3.0 / (1 + 0.1 * s), 1000.0 + s);
    if (s % 10 == 0) out += fmt::format("{{\"step\":{},\"time\":{:.2f},\"eval/loss\":{:.4f}}}\n", s, 0.1 * s, 2.5 / (1 + 0.1 * s));
  }
  return out;
}

inline std::string dpo_metrics(int steps) {
  std::string out;
  for (int s = 1; s <= steps; ++s) {
    out += fmt::format(
        "{{\"step\":{},\"loss\":{:.4f},\"rewards/accuracies\":{:.3f},\"rewards/margins\":{:.3f},"
        "\"logps/chosen\":-12.5,\"tokens_per_second\":800}}\n",
        s, 0.69 - 0.01 * s, 0.5 + 0.01 * s, 0.1 * s);
  }
  return out;
}

// RL rows; the evil dataset is missing at step 5 (a gap in its reward and accuracy lines).
inline std::string rl_metrics(int steps) {
  std::string out;
  for (int s = 1; s <= steps; ++s) {
    std::string evil = s == 5 ? std::string()
                              : fmt::format(",\"reward/{0}\":{1:.2f},\"accuracy/{0}\":{1:.2f}", "<b>if&\\\"eval'</b>",
                                            0.2 + 0.02 * s);
    out += fmt::format(
        "{{\"step\":{0},\"time\":{1:.1f},\"loss/policy\":{2:.4f},\"reward/mean\":{3:.3f},\"reward/gsm8k\":{3:.3f},"
        "\"accuracy\":{3:.3f},\"accuracy/gsm8k\":{3:.3f}{4},\"kl/k1\":{5:.4f},\"kl/k3\":{5:.4f},\"entropy\":1.5,"
        "\"length/mean\":{6},\"staleness/mean\":0.5,\"staleness/max\":1,\"tokens_per_second\":300,"
        "\"rollouts/generated_tokens_per_s\":450,\"learner/busy_fraction\":0.7,"
        "\"actors/generating_fraction\":0.9,\"groups/zero_signal_fraction\":0.25}}\n",
        s, 2.0 * s, 0.1 - 0.001 * s, 0.3 + 0.01 * s, evil, 0.001 * s, 20 + s);
  }
  return out;
}

// A finished pipeline run directory with the three stages.
inline void write_pipeline_run(const TempDir& dir) {
  dir.write("state.json",
            R"({"stages": [{"name": "sft", "status": "done", "wall_s": 12.5}, {"name": "dpo", "status": "done", )"
            R"("wall_s": 8.25}, {"name": "rlvr", "status": "done", "wall_s": 30}]})");
  const std::string evil_json = "<b>if&\\\"eval'</b>";
  auto row = [&](const std::string& point, double wall, double acc) {
    return fmt::format(
        R"({{"point": "{0}", "model": "/runs/x/{0}/final", "wall_s": {1},
             "overall": {{"accuracy": {2}, "pass_at_k": {{"pass@1": {2}, "pass@4": {3}}}, "mean_length": 31.25,
                          "truncated_rate": 0.0625}},
             "datasets": {{"gsm8k": {{"accuracy": {4}}}, "{5}": {{"accuracy": {6}}}}}}})",
        point, wall, acc, acc + 0.1, acc - 0.05, evil_json, acc + 0.05);
  };
  dir.write("results.json", "{\"rows\": [" + row("init", 0, 0.0) + "," + row("sft", 12.5, 0.412) + "," +
                                row("dpo", 8.25, 0.5) + "," + row("rlvr", 30, 0.625) + "]}\n");
  dir.write("sft/metrics.jsonl", sft_metrics(30));
  dir.write("sft/summary.json",
            R"({"name": "tiny-sft", "mode": "sft", "steps": 30, "total_steps": 30, "last_loss": 1.25, "eval_loss": null})");
  dir.write("dpo/metrics.jsonl", dpo_metrics(20));
  dir.write("dpo/summary.json", R"({"name": "tiny-dpo", "mode": "dpo", "steps": 20})");
  dir.write("rlvr/metrics.jsonl", rl_metrics(12));
  dir.write("rlvr/summary.json",
            R"({"name": "tiny-rlvr", "mode": "rl", "steps": 12, "accounting": {"granted": 96, "trained": 96, )"
            R"("balanced": true}})");
}

}  // namespace rlvr::testing
