// `rlvr eval`: generate for a test set, score every sample with the verifier named by the
// row's `dataset` field, and report accuracy, pass@k, lengths and format failures.
#include <iostream>

#include <CLI/CLI.hpp>

#include "actors/eval_metrics.h"
#include "actors/policy.h"
#include "actors/prompts.h"
#include "actors/sampler.h"
#include "core/fs.h"
#include "core/tokenizer/tokenizer.h"
#include "tools/cli.h"
#include "tools/commands/sampling_flags.h"
#include "verifiers/reward.h"

namespace rlvr::tools {
namespace {

struct EvalParams {
  SamplingFlags flags;
  std::string data;
  std::string out;
  std::string summary;
  int64_t verifier_threads = 0;
};

void run_eval(const CLI::App& cmd, EvalParams& p) {
  resolve_sampling_flags(cmd, p.flags);
  auto& f = p.flags;
  if (f.sampling.n > 1 && f.sampling.temperature == 0) {
    RLVR_LOG_WARN("eval: --n {} with temperature 0 gives {} identical samples per prompt", f.sampling.n, f.sampling.n);
  }
  core::Tokenizer tokenizer = core::Tokenizer::from_file(f.tokenizer);
  actors::PromptSet prompts = actors::load_prompts(p.data, tokenizer, f.chat_template, /*require_ground_truth=*/true);
  verifiers::RewardScorer scorer(f.resolved.verifiers, static_cast<int>(p.verifier_threads));
  for (const auto& row : prompts.rows) {
    if (!scorer.has_verifier(row.dataset)) {
      throw Error(fmt::format("{}:{}: no verifier named '{}' (field 'dataset')", p.data, row.line, row.dataset));
    }
  }
  actors::LoadedPolicy policy = actors::load_policy(f.model, f.device, f.dtype);
  actors::SamplingParams sp = f.sampling;
  if (prompts.end_of_turn_id >= 0) sp.stop_token_ids.push_back(prompts.end_of_turn_id);
  for (int64_t id : policy.config.eos_token_id) sp.stop_token_ids.push_back(static_cast<int32_t>(id));
  std::vector<std::vector<int32_t>> ids;
  for (const auto& row : prompts.rows) ids.push_back(row.ids);
  RLVR_LOG_INFO("eval: {} prompts x {} samples from {} (temperature {})", ids.size(), sp.n, p.data, sp.temperature);
  actors::Sampler sampler(policy.model, &tokenizer, f.engine);
  actors::GenerateHooks hooks;
  hooks.on_progress = progress_logger("eval");
  std::vector<actors::Sample> samples = sampler.generate(ids, sp, f.policy_version, hooks);

  std::vector<verifiers::RewardRequest> requests;
  requests.reserve(samples.size());
  for (const auto& s : samples) {
    const auto& row = prompts.rows[s.prompt_index];
    requests.push_back({row.dataset, {row.text, s.text, row.ground_truth}});
  }
  std::vector<verifiers::Reward> rewards = scorer.score_batch(requests);
  std::vector<actors::EvalRecord> records;
  std::string lines;
  for (size_t i = 0; i < samples.size(); ++i) {
    const auto& s = samples[i];
    const auto& row = prompts.rows[s.prompt_index];
    records.push_back({row.dataset, s.prompt_index, rewards[i].score, rewards[i].answer_found,
                       static_cast<int64_t>(s.token_ids.size()), actors::finish_reason_name(s.finish_reason)});
    if (!p.out.empty()) {
      nlohmann::json j = sample_to_json(s, row);
      j["ground_truth"] = row.ground_truth;
      j["score"] = rewards[i].score;
      j["reward"] = rewards[i].reward;
      j["answer_found"] = rewards[i].answer_found;
      j["reason"] = rewards[i].reason;
      lines += json_line(j);
    }
  }
  actors::EvalSummary summary = actors::summarize_eval(records, sp.n);
  nlohmann::json sj = actors::eval_summary_to_json(summary);
  sj["model"] = f.model;
  sj["data"] = p.data;
  sj["temperature"] = sp.temperature;
  sj["top_p"] = sp.top_p;
  sj["max_new_tokens"] = sp.max_new_tokens;
  sj["seed"] = sp.seed;
  if (!p.out.empty()) core::write_file_atomic(p.out, lines);
  std::string summary_path = p.summary;
  if (summary_path.empty() && !p.out.empty()) summary_path = p.out + ".summary.json";
  if (!summary_path.empty()) core::write_file_atomic(summary_path, sj.dump(2) + "\n");
  std::cout << actors::format_eval_summary(summary);
  if (!p.out.empty()) std::cout << "per-sample results: " << p.out << "\n";
  if (!summary_path.empty()) std::cout << "summary: " << summary_path << "\n";
}

void setup(CLI::App& app) {
  auto* cmd = app.add_subcommand("eval", "Generate for a test set, score with verifiers, report accuracy and pass@k");
  auto p = std::make_shared<EvalParams>();
  p->flags.sampling.temperature = 0.0;  // eval default: greedy
  add_sampling_flags(cmd, p->flags);
  cmd->add_option("--data", p->data, "JSONL RLVR rows: messages, ground_truth, dataset")->required();
  cmd->add_option("--out", p->out, "Per-sample results JSONL (text, tokens, score, reason)");
  cmd->add_option("--summary", p->summary, "Summary JSON (default: <out>.summary.json when --out is given)");
  cmd->add_option("--verifier-threads", p->verifier_threads, "Verifier threads; 0 = all cores")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{1024}));
  cmd->callback([cmd, p] { run_eval(*cmd, *p); });
}

}  // namespace

RLVR_REGISTER_COMMAND("eval", 55, setup);

}  // namespace rlvr::tools
