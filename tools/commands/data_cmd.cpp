// `rlvr data synth`: write the tiny task world (SFT, DPO, RLVR and eval JSONL + a corpus).
// `rlvr data pairs`: on-policy preference data. Samples n completions per prompt with a
// checkpoint (the engine of `rlvr generate`), scores them with the verifiers (as `rlvr eval`)
// and writes one DPO row per prompt whose samples hold a contrast: a correct, well-formed
// response (chosen) against a wrong or malformed one (rejected); actors/preference_pairs.h says
// how they are picked. Rows stream to <out>.partial in prompt order and are renamed to <out> at
// the end; <out>.summary.json and a stdout line count prompts, pairs and skips by reason.
#include <iostream>
#include <map>

#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>

#include "actors/preference_pairs.h"
#include "actors/sample_record.h"
#include "core/fs.h"
#include "tools/cli.h"
#include "tools/commands/sampling_flags.h"
#include "tools/data/synth.h"
#include "verifiers/reward.h"
#include "verifiers/thread_pool.h"

namespace rlvr::tools {
namespace {

// ---------------------------------------------------------------------------------------------
// data pairs

struct PairsParams {
  SamplingFlags flags;
  std::string prompts;
  std::string out;
  std::string rejected_pick = "wrong-first";
  int64_t verifier_threads = 0;
};

// Finished samples are scored in batches of this many (on the scorer's pool).
constexpr size_t kPairsScoreBatch = 256;

void run_pairs(const CLI::App& cmd, PairsParams& p) {
  resolve_sampling_flags(cmd, p.flags);
  auto& f = p.flags;
  check_distinct_paths(p.prompts, "--prompts", p.out, "--out");
  check_distinct_paths(p.prompts, "--prompts", p.out + ".summary.json", "--out (its .summary.json)");
  const actors::RejectedPick pick = actors::parse_rejected_pick(p.rejected_pick);
  RLVR_CHECK(f.sampling.n >= 2, "--n {}: a pair needs two samples of a prompt; expected --n (or generation."
             "num_samples_per_prompt) of at least 2", f.sampling.n);
  if (f.sampling.greedy() && f.sampling.n > 1) {
    RLVR_LOG_WARN("pairs: --n {} with greedy decoding gives {} identical samples per prompt: no contrast",
                  f.sampling.n, f.sampling.n);
  }
  core::Tokenizer tokenizer = core::Tokenizer::from_file(f.tokenizer);
  verifiers::RewardScorer scorer(f.resolved.verifiers, static_cast<int>(p.verifier_threads));
  SamplingRun run = prepare_sampling_run(f, tokenizer, p.prompts, /*require_ground_truth=*/true);
  for (size_t i : run.kept) {
    const auto& row = run.prompts.rows[i];
    if (!scorer.has_verifier(row.dataset)) {
      throw Error(fmt::format("{}:{}: no verifier named '{}' (field 'dataset')", p.prompts, row.line, row.dataset));
    }
  }
  const actors::SamplingParams& sp = run.sampling;
  RLVR_LOG_INFO("pairs: {} prompts x {} samples from {} (temperature {}, rejected pick {})", run.ids.size(), sp.n,
                p.prompts, sp.temperature, p.rejected_pick);
  actors::Sampler sampler(run.policy.model, &tokenizer, f.engine);
  // One slot per sampled prompt, in prompt order: the DPO row, or nothing for a skipped prompt.
  actors::OrderedLineWriter writer(p.out);

  std::map<int64_t, std::vector<actors::ScoredSample>> buckets;  // prompt index -> its scored samples
  std::vector<actors::Sample> pending;
  int64_t pairs = 0;
  std::map<std::string, int64_t> skipped;  // reason -> prompts
  int64_t sample_counts[6] = {0, 0, 0, 0, 0, 0};
  std::map<std::string, int64_t> rejected_classes;
  auto decide = [&](int64_t prompt_index, std::vector<actors::ScoredSample>& samples) {
    const size_t r = run.kept[static_cast<size_t>(prompt_index)];
    const actors::PairChoice c = actors::choose_pair(samples, sp.seed, static_cast<int64_t>(r), pick);
    for (int k = 0; k < 6; ++k) sample_counts[k] += c.counts[k];
    if (c.skip != actors::PairSkip::kNone) {
      ++skipped[actors::pair_skip_name(c.skip)];
      writer.add(prompt_index, std::string());
      return;
    }
    ++pairs;
    ++rejected_classes[actors::sample_class_name(c.rejected_class)];
    writer.add(prompt_index, actors::json_line(actors::preference_row(run.prompts.rows[r], samples, c)));
  };
  auto flush = [&] {
    std::vector<verifiers::RewardRequest> requests;
    requests.reserve(pending.size());
    for (const auto& s : pending) {
      const auto& row = run.prompts.rows[run.kept[static_cast<size_t>(s.prompt_index)]];
      requests.push_back({row.dataset, {row.text, s.text, row.ground_truth}});
    }
    std::vector<verifiers::Reward> rewards = scorer.score_batch(requests);
    for (size_t i = 0; i < pending.size(); ++i) {
      actors::Sample& s = pending[i];
      const auto& rw = rewards[i];
      auto& bucket = buckets[s.prompt_index];
      bucket.push_back({s.sample_index, std::move(s.text), s.finish_reason,
                        static_cast<int64_t>(s.token_ids.size()), rw.score, rw.answer_found, rw.error, rw.reason});
      if (static_cast<int64_t>(bucket.size()) == sp.n) {
        decide(s.prompt_index, bucket);
        buckets.erase(s.prompt_index);
      }
    }
    pending.clear();
  };
  actors::GenerateHooks hooks;
  hooks.on_progress = progress_logger("pairs");
  hooks.keep_results = false;
  hooks.on_sample = [&](const actors::Sample& s) {
    pending.push_back(s);
    if (pending.size() >= kPairsScoreBatch) flush();
  };
  sampler.generate(run.ids, sp, f.policy_version, hooks);
  flush();
  RLVR_ASSERT(buckets.empty());
  const int64_t sampled = static_cast<int64_t>(run.ids.size());
  const int64_t bad_rows = run.prompts.skipped;
  const int64_t total = static_cast<int64_t>(run.prompts.rows.size()) + bad_rows;
  const int64_t all_correct = skipped["all_correct"], none_correct = skipped["none_correct"];

  nlohmann::json sj;
  sj["model"] = f.model;
  sj["prompts_file"] = p.prompts;
  sj["out"] = p.out;
  sj["n"] = sp.n;
  sj["temperature"] = sp.temperature;
  sj["top_p"] = sp.top_p;
  sj["top_k"] = sp.top_k;
  sj["max_new_tokens"] = sp.max_new_tokens;
  sj["seed"] = sp.seed;
  sj["rejected_pick"] = p.rejected_pick;
  // prompts = pairs + every skipped count; sampled = pairs + all_correct + none_correct.
  sj["prompts"] = total;
  sj["sampled_prompts"] = sampled;
  sj["pairs"] = pairs;
  sj["skipped"] = {{"all_correct", all_correct}, {"none_correct", none_correct}, {"bad_row", bad_rows},
                   {"too_long", run.too_long}};
  nlohmann::json samples = {{"total", sampled * sp.n}};
  for (int k = 0; k < 6; ++k) samples[actors::sample_class_name(static_cast<actors::SampleClass>(k))] = sample_counts[k];
  sj["samples"] = samples;
  nlohmann::json rc = nlohmann::json::object();
  for (const char* name : {"wrong", "no_answer", "truncated"}) rc[name] = rejected_classes[name];
  sj["rejected_classes"] = rc;
  const std::string summary_path = p.out + ".summary.json";
  core::write_file_atomic(summary_path, sj.dump(2) + "\n");

  const int64_t unscored = sample_counts[static_cast<int>(actors::SampleClass::kUnscored)];
  if (unscored == sampled * sp.n) {
    throw Error(fmt::format("{}: no sample could be scored: all {} verifier calls failed (summary: {})", p.prompts,
                            unscored, summary_path),
                "check the verifiers (an external verifier's command, timeout_ms)");
  }
  if (pairs == 0) {
    throw Error(fmt::format("{}: no preference pair, nothing to train on: of {} sampled prompts, {} had every usable "
                            "sample correct (all_correct) and {} had no correct, well-formed sample (none_correct); "
                            "{} samples per prompt (summary: {})",
                            p.prompts, sampled, all_correct, none_correct, sp.n, summary_path),
                "sample more per prompt (--n), raise --temperature or --max-new-tokens, or use prompts the model "
                "solves some of the time");
  }
  writer.finish(sampled);
  const auto& st = sampler.last_stats();
  std::cout << fmt::format(
      "pairs: {} prompts, wrote {} pairs to {}; skipped {} all_correct, {} none_correct, {} bad_row, {} too_long; "
      "{} samples ({} correct) in {:.2f}s; summary: {}\n",
      total, pairs, p.out, all_correct, none_correct, bad_rows, run.too_long, sampled * sp.n,
      sample_counts[static_cast<int>(actors::SampleClass::kCorrect)], st.total_s, summary_path);
}

void setup_pairs(CLI::App* data) {
  auto p = std::make_shared<PairsParams>();
  auto* cmd = data->add_subcommand(
      "pairs",
      "On-policy DPO data: sample --n completions per prompt, score them with the verifiers, write one "
      "chosen (correct, well formed) / rejected (wrong or malformed) pair per prompt that has both");
  p->flags.sampling.n = 8;
  p->flags.sampling.temperature = 1.0;
  add_sampling_flags(cmd, p->flags);
  cmd->add_option("--prompts", p->prompts, "JSONL RLVR rows: messages, ground_truth, dataset")->required();
  cmd->add_option("--out", p->out,
                  "Output JSONL of DPO rows {chosen, rejected, provenance}; also writes <out>.summary.json")
      ->required();
  cmd->add_option("--rejected-pick", p->rejected_pick,
                  "wrong-first: the rejected sample is a wrong but well-formed one when there is one, else one "
                  "without an answer, else a truncated one; uniform: any of them alike")
      ->capture_default_str()
      ->check(CLI::IsMember({"wrong-first", "uniform"}));
  cmd->add_option("--verifier-threads", p->verifier_threads, "Verifier threads; 0 = all cores")
      ->capture_default_str()
      ->check(int_in(0, verifiers::ThreadPool::kMaxThreads));
  cmd->callback([cmd, p] {
    try {
      run_pairs(*cmd, *p);
    } catch (const c10::Error& e) {
      throw Error(fmt::format("rlvr data pairs: model {} on {}: {}", p->flags.model, p->prompts,
                              e.what_without_backtrace()));
    }
  });
}

// ---------------------------------------------------------------------------------------------
// data synth

struct SynthParams {
  std::string out;
  tools::SynthOptions options;
};

void setup(CLI::App& app) {
  auto* data = app.add_subcommand("data", "Build data sets: the synthetic tiny world, on-policy preference pairs");
  data->require_subcommand(1);
  auto p = std::make_shared<SynthParams>();
  auto* synth = data->add_subcommand(
      "synth", "Write the tiny task world: sft.jsonl, dpo.jsonl, rlvr.jsonl, eval.jsonl, corpus.txt");
  synth->add_option("--out", p->out, "Output directory")->required();
  synth->add_option("--seed", p->options.seed, "Random seed")->capture_default_str();
  synth->add_option("--train-rows", p->options.train_rows, "Training rows per file")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{10000000}));
  synth->add_option("--eval-rows", p->options.eval_rows, "Held-out evaluation rows")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  synth->add_option("--max-operand", p->options.max_operand, "Largest operand in a problem")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{2}, int64_t{1000000}));
  synth->add_option("--instruction-rows", p->options.instruction_rows,
                    "Instruction-following rows (ifeval) added to each training file: single instructions in sft, "
                    "the quotes + no-commas combination in dpo, combinations in rlvr (0 = none)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{10000000}));
  synth->add_option("--instruction-eval-rows", p->options.instruction_eval_rows,
                    "Held-out instruction-following rows (combinations never demonstrated)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{1000000}));
  synth->callback([p] {
    tools::synthesize_task_world(p->out, p->options);
    std::cout << "wrote " << p->out << "/{sft,dpo,rlvr,eval}.jsonl and corpus.txt\n";
  });
  setup_pairs(data);
}

}  // namespace

RLVR_REGISTER_COMMAND("data", 80, setup);

}  // namespace rlvr::tools
