// Evaluation metrics (see eval_metrics.h).
#include "actors/eval_metrics.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace rlvr::actors {

double pass_at_k(int64_t n, int64_t c, int64_t k) {
  RLVR_CHECK(n >= 1 && c >= 0 && c <= n && k >= 1 && k <= n,
             "pass_at_k: need 0 <= c <= n and 1 <= k <= n, got n={} c={} k={}", n, c, k);
  if (n - c < k) return 1.0;
  double prod = 1.0;
  for (int64_t i = n - c + 1; i <= n; ++i) prod *= 1.0 - static_cast<double>(k) / static_cast<double>(i);
  return 1.0 - prod;
}

namespace {

bool is_correct(double score) { return score >= 1.0 - 1e-9; }

DatasetSummary summarize_group(const std::string& name, const std::vector<const EvalRecord*>& recs, int64_t n) {
  DatasetSummary s;
  s.dataset = name;
  std::map<int64_t, std::pair<int64_t, int64_t>> per_prompt;  // prompt -> (samples, correct)
  for (const EvalRecord* r : recs) {
    ++s.samples;
    s.accuracy += is_correct(r->score);
    s.mean_score += r->score;
    s.mean_length += static_cast<double>(r->num_tokens);
    s.format_failure_rate += !r->answer_found && !r->error;
    s.verifier_errors += r->error;
    s.truncated_rate += r->finish_reason == "length";
    auto& pc = per_prompt[r->prompt_index];
    ++pc.first;
    pc.second += is_correct(r->score);
  }
  s.prompts = static_cast<int64_t>(per_prompt.size());
  if (s.samples > 0) {
    const double inv = 1.0 / static_cast<double>(s.samples);
    s.accuracy *= inv;
    s.mean_score *= inv;
    s.mean_length *= inv;
    s.format_failure_rate *= inv;
    s.truncated_rate *= inv;
  }
  std::vector<int64_t> ks;
  for (int64_t k = 1; k < n; k *= 2) ks.push_back(k);
  ks.push_back(n);
  for (int64_t k : ks) {
    double sum = 0;
    for (const auto& [prompt, pc] : per_prompt) {
      RLVR_CHECK(pc.first == n, "prompt {} has {} scored samples, expected n={}", prompt, pc.first, n);
      sum += pass_at_k(n, pc.second, k);
    }
    s.pass_at[k] = per_prompt.empty() ? 0.0 : sum / static_cast<double>(per_prompt.size());
  }
  return s;
}

nlohmann::json dataset_json(const DatasetSummary& s) {
  nlohmann::json pass = nlohmann::json::object();
  for (const auto& [k, v] : s.pass_at) pass[fmt::format("pass@{}", k)] = v;
  return {{"dataset", s.dataset},
          {"prompts", s.prompts},
          {"samples", s.samples},
          {"accuracy", s.accuracy},
          {"mean_score", s.mean_score},
          {"mean_length", s.mean_length},
          {"format_failure_rate", s.format_failure_rate},
          {"verifier_errors", s.verifier_errors},
          {"truncated_rate", s.truncated_rate},
          {"pass_at_k", pass}};
}

}  // namespace

EvalSummary summarize_eval(const std::vector<EvalRecord>& records, int64_t n) {
  RLVR_CHECK(n >= 1, "summarize_eval: n must be >= 1, got {}", n);
  EvalSummary out;
  out.n = n;
  std::map<std::string, std::vector<const EvalRecord*>> by_dataset;
  std::vector<const EvalRecord*> all;
  for (const auto& r : records) {
    by_dataset[r.dataset].push_back(&r);
    all.push_back(&r);
  }
  out.overall = summarize_group("all", all, n);
  for (const auto& [name, recs] : by_dataset) out.datasets.push_back(summarize_group(name, recs, n));
  return out;
}

nlohmann::json eval_summary_to_json(const EvalSummary& summary) {
  nlohmann::json ds = nlohmann::json::array();
  for (const auto& d : summary.datasets) ds.push_back(dataset_json(d));
  return {{"n", summary.n}, {"overall", dataset_json(summary.overall)}, {"datasets", ds}};
}

std::string format_eval_summary(const EvalSummary& summary) {
  std::string out = fmt::format("{:<12} {:>7} {:>7} {:>9} {:>9} {:>9} {:>8} {:>8} {:>7}\n", "dataset", "prompts",
                                "samples", "accuracy", "pass@1", fmt::format("pass@{}", summary.n), "mean_len",
                                "fmt_fail", "errors");
  auto line = [&](const DatasetSummary& d) {
    out += fmt::format("{:<12} {:>7} {:>7} {:>9.4f} {:>9.4f} {:>9.4f} {:>8.1f} {:>8.4f} {:>7}\n", d.dataset, d.prompts,
                       d.samples, d.accuracy, d.pass_at.at(1), d.pass_at.at(summary.n), d.mean_length,
                       d.format_failure_rate, d.verifier_errors);
  };
  for (const auto& d : summary.datasets) line(d);
  line(summary.overall);
  return out;
}

}  // namespace rlvr::actors
