// Evaluation metrics of `rlvr eval` and the RL stage's periodic evaluation: accuracy per
// dataset, pass@k with the unbiased estimator of Chen et al. 2021 ("Evaluating Large Language
// Models Trained on Code", eq. 1), mean completion length and format-failure rate. Torch-free.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace rlvr::actors {

// Unbiased pass@k for one problem with n samples of which c are correct:
// 1 - C(n - c, k) / C(n, k), computed as 1 - prod_{i = n - c + 1}^{n} (1 - k / i) (numerically
// stable, as in the paper's code). Throws rlvr::Error unless 0 <= c <= n and 1 <= k <= n.
double pass_at_k(int64_t n, int64_t c, int64_t k);

// One scored sample.
struct EvalRecord {
  std::string dataset;
  int64_t prompt_index = 0;
  double score = 0;          // verifier score in [0, 1]
  bool answer_found = false; // false: format failure (no answer could be extracted)
  int64_t num_tokens = 0;    // generated tokens
  std::string finish_reason; // eos | stop | length
  bool error = false;        // the verifier could not score the sample (not a format failure)
};

struct DatasetSummary {
  std::string dataset;  // "all" for the overall row
  int64_t prompts = 0, samples = 0;
  double accuracy = 0;             // fraction of samples with score == 1
  double mean_score = 0;
  double mean_length = 0;          // generated tokens per sample
  double format_failure_rate = 0;  // fraction of samples without an answer (verifier errors excluded)
  int64_t verifier_errors = 0;     // samples the verifier could not score (timeouts, crashes, ...)
  double truncated_rate = 0;       // fraction that hit max_new_tokens
  std::map<int64_t, double> pass_at;  // k -> mean over prompts of pass@k (k = 1, 2, 4, ..., n)
};

struct EvalSummary {
  int64_t n = 1;                        // samples per prompt
  DatasetSummary overall;
  std::vector<DatasetSummary> datasets;  // sorted by name
};

// Aggregates records; every prompt must have exactly n records. A sample counts as correct
// when its score is 1 (within 1e-9). Throws rlvr::Error for n < 1 or a prompt with another
// number of records.
EvalSummary summarize_eval(const std::vector<EvalRecord>& records, int64_t n);

nlohmann::json eval_summary_to_json(const EvalSummary& summary);
// A human-readable table (one line per dataset plus "all").
std::string format_eval_summary(const EvalSummary& summary);

}  // namespace rlvr::actors
