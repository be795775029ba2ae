// `rlvr eval`: generate for a test set, score every sample with the verifier named by the
// row's `dataset` field, and report accuracy, pass@k, lengths, format failures and verifier
// errors. Per-sample records stream to <out>.partial while generation runs (renamed to <out> at
// the end); the summary table goes to stdout, logs and progress to stderr.
#include <iostream>
#include <limits>

#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>

#include "actors/eval_metrics.h"
#include "actors/sample_record.h"
#include "core/fs.h"
#include "tools/cli.h"
#include "tools/commands/sampling_flags.h"
#include "verifiers/reward.h"
#include "verifiers/thread_pool.h"

namespace rlvr::tools {
namespace {

struct EvalParams {
  SamplingFlags flags;
  std::string data;
  std::string out;
  std::string summary;
  int64_t verifier_threads = 0;
  int64_t limit = 0;
};

// Finished samples are scored in batches of this many (on the scorer's pool), then written.
constexpr size_t kScoreBatch = 256;

void run_eval(const CLI::App& cmd, EvalParams& p) {
  resolve_sampling_flags(cmd, p.flags);
  auto& f = p.flags;
  if (!p.out.empty()) check_distinct_paths(p.data, "--data", p.out, "--out");
  if (!p.summary.empty()) check_distinct_paths(p.data, "--data", p.summary, "--summary");
  if (f.sampling.n > 1 && f.sampling.temperature == 0) {
    RLVR_LOG_WARN("eval: --n {} with temperature 0 gives {} identical samples per prompt", f.sampling.n, f.sampling.n);
  }
  core::Tokenizer tokenizer = core::Tokenizer::from_file(f.tokenizer);
  verifiers::RewardScorer scorer(f.resolved.verifiers, static_cast<int>(p.verifier_threads));
  SamplingRun run = prepare_sampling_run(f, tokenizer, p.data, /*require_ground_truth=*/true);
  if (p.limit > 0) {
    // The first `limit` rows that loaded (bad rows skipped under --on-bad-row skip are not counted).
    size_t keep = 0;
    while (keep < run.kept.size() && run.kept[keep] < static_cast<size_t>(p.limit)) ++keep;
    run.kept.resize(keep);
    run.ids.resize(keep);
    RLVR_CHECK(keep > 0, "{}: --limit {}: none of the first {} prompts fits the model", p.data, p.limit, p.limit);
    RLVR_LOG_INFO("eval: --limit {}: {} of {} prompts", p.limit, keep, run.prompts.rows.size());
  }
  for (size_t i : run.kept) {
    const auto& row = run.prompts.rows[i];
    if (!scorer.has_verifier(row.dataset)) {
      throw Error(fmt::format("{}:{}: no verifier named '{}' (field 'dataset')", p.data, row.line, row.dataset));
    }
  }
  const actors::SamplingParams& sp = run.sampling;
  RLVR_LOG_INFO("eval: {} prompts x {} samples from {} (temperature {})", run.ids.size(), sp.n, p.data,
                sp.temperature);
  actors::Sampler sampler(run.policy.model, &tokenizer, f.engine);
  std::unique_ptr<actors::OrderedLineWriter> writer;
  if (!p.out.empty()) writer = std::make_unique<actors::OrderedLineWriter>(p.out);

  std::vector<actors::EvalRecord> records;
  std::vector<actors::Sample> pending;
  auto flush = [&] {
    std::vector<verifiers::RewardRequest> requests;
    requests.reserve(pending.size());
    for (const auto& s : pending) {
      const auto& row = run.prompts.rows[run.kept[static_cast<size_t>(s.prompt_index)]];
      requests.push_back({row.dataset, {row.text, s.text, row.ground_truth}});
    }
    std::vector<verifiers::Reward> rewards = scorer.score_batch(requests);
    for (size_t i = 0; i < pending.size(); ++i) {
      const auto& s = pending[i];
      const size_t r = run.kept[static_cast<size_t>(s.prompt_index)];
      const auto& row = run.prompts.rows[r];
      const auto& rw = rewards[i];
      records.push_back({row.dataset, s.prompt_index, rw.score, rw.answer_found,
                         static_cast<int64_t>(s.token_ids.size()), actors::finish_reason_name(s.finish_reason),
                         rw.error});
      if (writer) {
        nlohmann::json j = actors::sample_record(s, row, static_cast<int64_t>(r));
        j["score"] = rw.score;
        j["reward"] = rw.reward;
        j["answer_found"] = rw.answer_found;
        j["reason"] = rw.reason;
        if (rw.error) j["verifier_error"] = true;
        writer->add(s.prompt_index * sp.n + s.sample_index, actors::json_line(j));
      }
    }
    pending.clear();
  };
  actors::GenerateHooks hooks;
  hooks.on_progress = progress_logger("eval");
  hooks.keep_results = false;
  hooks.on_sample = [&](const actors::Sample& s) {
    pending.push_back(s);
    if (pending.size() >= kScoreBatch) flush();
  };
  sampler.generate(run.ids, sp, f.policy_version, hooks);
  flush();
  if (writer) writer->finish(static_cast<int64_t>(records.size()));

  actors::EvalSummary summary = actors::summarize_eval(records, sp.n);
  nlohmann::json sj = actors::eval_summary_to_json(summary);
  sj["model"] = f.model;
  sj["data"] = p.data;
  sj["temperature"] = sp.temperature;
  sj["top_p"] = sp.top_p;
  sj["max_new_tokens"] = sp.max_new_tokens;
  sj["seed"] = sp.seed;
  sj["skipped_bad_rows"] = run.prompts.skipped;
  sj["skipped_too_long"] = run.too_long;
  sj["limit"] = p.limit;
  std::string summary_path = p.summary;
  if (summary_path.empty() && !p.out.empty()) summary_path = p.out + ".summary.json";
  if (!summary_path.empty()) core::write_file_atomic(summary_path, sj.dump(2) + "\n");
  std::cout << actors::format_eval_summary(summary);
  if (run.prompts.skipped > 0 || run.too_long > 0) {
    std::cout << fmt::format("skipped: {} bad rows, {} prompts too long for the model\n", run.prompts.skipped,
                             run.too_long);
  }
  if (!p.out.empty()) std::cout << "per-sample results: " << p.out << "\n";
  if (!summary_path.empty()) std::cout << "summary: " << summary_path << "\n";
  if (summary.overall.samples > 0 && summary.overall.verifier_errors == summary.overall.samples) {
    throw Error(fmt::format("{}: no sample could be scored: all {} verifier calls failed", p.data,
                            summary.overall.samples),
                "check the verifiers (an external verifier's command, timeout_ms)");
  }
}

void setup(CLI::App& app) {
  auto* cmd = app.add_subcommand("eval", "Generate for a test set, score with verifiers, report accuracy and pass@k");
  auto p = std::make_shared<EvalParams>();
  p->flags.sampling.temperature = 0.0;  // eval default: greedy
  add_sampling_flags(cmd, p->flags);
  cmd->add_option("--data", p->data,
                  "JSONL RLVR rows: messages (or a prompt string), ground_truth, dataset; .jsonl.gz or - (stdin) too")
      ->required();
  cmd->add_option("--limit", p->limit, "Evaluate only the first N rows of --data; 0 = all")
      ->capture_default_str()
      ->check(int_in(0, std::numeric_limits<int64_t>::max()));
  cmd->add_option("--out", p->out, "Per-sample results JSONL (the row's fields, response, tokens, score, reason)");
  cmd->add_option("--summary", p->summary, "Summary JSON (default: <out>.summary.json when --out is given)");
  cmd->add_option("--verifier-threads", p->verifier_threads, "Verifier threads; 0 = all cores")
      ->capture_default_str()
      ->check(int_in(0, verifiers::ThreadPool::kMaxThreads));
  cmd->callback([cmd, p] {
    try {
      run_eval(*cmd, *p);
    } catch (const c10::Error& e) {
      throw Error(fmt::format("rlvr eval: model {} on {}: {}", p->flags.model, p->data, e.what_without_backtrace()));
    }
  });
}

}  // namespace

RLVR_REGISTER_COMMAND("eval", 55, setup);

}  // namespace rlvr::tools
