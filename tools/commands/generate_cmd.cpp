// `rlvr generate`: sample completions of a prompt file with a checkpoint (actors/sampler.h).
//
// Output: one JSON line per sample in (prompt, sample) order, streamed to <out>.partial as samples
// finish and renamed to <out> at the end (a crash keeps the finished lines in <out>.partial). Each
// line carries the prompt row's own fields plus `response`, so `rlvr verify --input <out>` scores
// it. Logs and progress go to stderr; the one-line result summary to stdout.
#include <iostream>

#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>

#include "actors/sample_record.h"
#include "tools/cli.h"
#include "tools/commands/sampling_flags.h"

namespace rlvr::tools {
namespace {

struct GenerateParams {
  SamplingFlags flags;
  std::string prompts;
  std::string out;
};

void run_generate(const CLI::App& cmd, GenerateParams& p) {
  resolve_sampling_flags(cmd, p.flags);
  check_distinct_paths(p.prompts, "--prompts", p.out, "--out");
  auto& f = p.flags;
  core::Tokenizer tokenizer = core::Tokenizer::from_file(f.tokenizer);
  SamplingRun run = prepare_sampling_run(f, tokenizer, p.prompts, /*require_ground_truth=*/false);
  const actors::SamplingParams& sp = run.sampling;
  RLVR_LOG_INFO("generate: {} prompts x {} samples from {} (batch {}, {} batching)", run.ids.size(), sp.n, p.prompts,
                f.engine.batch_size, f.engine.continuous_batching ? "continuous" : "static");
  actors::Sampler sampler(run.policy.model, &tokenizer, f.engine);
  actors::OrderedLineWriter writer(p.out);
  actors::GenerateHooks hooks;
  hooks.on_progress = progress_logger("generate");
  hooks.keep_results = false;
  hooks.on_sample = [&](const actors::Sample& s) {
    const size_t row = run.kept[static_cast<size_t>(s.prompt_index)];
    writer.add(s.prompt_index * sp.n + s.sample_index,
               actors::json_line(actors::sample_record(s, run.prompts.rows[row], static_cast<int64_t>(row))));
  };
  sampler.generate(run.ids, sp, f.policy_version, hooks);
  const int64_t samples = static_cast<int64_t>(run.ids.size()) * sp.n;
  writer.finish(samples);
  const auto& st = sampler.last_stats();
  std::cout << fmt::format("wrote {} samples to {}: {} tokens in {:.2f}s ({:.1f} tok/s, {:.2f} samples/s)", samples,
                           p.out, st.generated_tokens, st.total_s,
                           st.total_s > 0 ? st.generated_tokens / st.total_s : 0.0,
                           st.total_s > 0 ? samples / st.total_s : 0.0);
  if (run.too_long > 0 || run.prompts.skipped > 0) {
    std::cout << fmt::format("; skipped {} bad rows and {} prompts too long for the model", run.prompts.skipped,
                             run.too_long);
  }
  std::cout << "\n";
}

void setup(CLI::App& app) {
  auto* cmd = app.add_subcommand("generate", "Sample completions for a JSONL prompt file (one output line per sample)");
  auto p = std::make_shared<GenerateParams>();
  add_sampling_flags(cmd, p->flags);
  cmd->add_option("--prompts", p->prompts,
                  "JSONL rows with `messages` (RLVR or SFT rows) or a `prompt` string; .jsonl.gz, or - for stdin")
      ->required();
  cmd->add_option("--out", p->out, "Output JSONL: one line per sample (the row's fields + response)")->required();
  cmd->callback([cmd, p] {
    try {
      run_generate(*cmd, *p);
    } catch (const c10::Error& e) {
      throw Error(fmt::format("rlvr generate: model {} on {}: {}", p->flags.model, p->prompts,
                              e.what_without_backtrace()));
    }
  });
}

}  // namespace

RLVR_REGISTER_COMMAND("generate", 50, setup);

}  // namespace rlvr::tools
